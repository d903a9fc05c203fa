package io.meshgate.gateway.resilience;

import io.grpc.Attributes;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.Status;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * A call sent as several attempts in parallel: the first starts at once, another every
 * {@code hedgingDelay} while none has answered (at once when one ends with a non-fatal status),
 * up to {@code maxAttempts}. The first attempt to answer (response headers, or a successful
 * end) wins: the others are cancelled and the client sees only the winner. A fatal status ends
 * the call with it; when every attempt ended non-fatally and no more may start, the last status
 * is the call's. Request messages go to every live attempt and are kept (as byte copies, up to
 * {@code bufferBytes}) for the ones that start later; once they outgrow the buffer no more start.
 *
 * <p>Only on the call's thread (the client stream's event loop).
 */
final class HedgingCall<ReqT, RespT> extends ClientCall<ReqT, RespT> {
  private final HedgingPolicy policy;
  private final Function<CallOptions, ClientCall<ReqT, RespT>> newAttempt;
  private final CallOptions options;
  private final RetryPolicy.Replay<ReqT> replay;
  private final RetryPolicy.Scheduler scheduler;

  // Only on the call's thread.
  private Listener<RespT> listener;
  private Metadata headers;
  private final List<ClientCall<ReqT, RespT>> live = new ArrayList<>();
  private ClientCall<ReqT, RespT> winner;
  private int winnerNumber;
  private List<byte[]> buffer = new ArrayList<>();
  private long bufferedBytes;
  private boolean halfClosed;
  private boolean cancelled;
  private boolean closed;
  private Boolean compression;
  private int requested;
  private int attempts;
  private int timer; // the generation of the pending hedging timer
  private java.util.concurrent.Future<?> pending; // that timer, cancelled once it is not needed

  HedgingCall(HedgingPolicy policy, Function<CallOptions, ClientCall<ReqT, RespT>> newAttempt,
      CallOptions options, RetryPolicy.Replay<ReqT> replay, RetryPolicy.Scheduler scheduler) {
    this.policy = policy;
    this.newAttempt = newAttempt;
    this.options = options;
    this.replay = replay;
    this.scheduler = scheduler;
  }

  @Override
  public void start(Listener<RespT> listener, Metadata headers) {
    this.listener = listener;
    this.headers = headers;
    startAttempt();
    if (policy.config().delay().isZero()) {
      while (attempts < policy.config().maxAttempts() && policy.mayHedge()) {
        startAttempt();
      }
    } else {
      scheduleNext();
    }
  }

  private void startAttempt() {
    attempts++;
    int number = attempts;
    ClientCall<ReqT, RespT> call = newAttempt.apply(options);
    live.add(call);
    Attempts.start(call, new AttemptListener(call, number), headers, number, compression,
        requested, buffer, replay, halfClosed);
  }

  /** Whether another attempt may start now. */
  private boolean canHedge() {
    return winner == null && !cancelled && !closed && buffer != null
        && attempts < policy.config().maxAttempts()
        && (options.getDeadline() == null || !options.getDeadline().isExpired());
  }

  private void scheduleNext() {
    if (!canHedge()) {
      return;
    }
    int generation = ++timer;
    pending = scheduler.schedule(() -> {
      if (generation == timer && canHedge() && policy.mayHedge()) {
        startAttempt();
        scheduleNext();
      }
    }, policy.config().delay().toNanos());
  }

  /** No more attempts will start: the timer goes, not to linger in the loop's queue. */
  private void stopTimer() {
    timer++;
    if (pending != null) {
      pending.cancel(false);
      pending = null;
    }
  }

  private void commit(ClientCall<ReqT, RespT> call, int number) {
    winner = call;
    winnerNumber = number;
    buffer = null;
    stopTimer(); // no more attempts
    if (live.size() > 1) {
      for (ClientCall<ReqT, RespT> other : List.copyOf(live)) {
        if (other != call) {
          other.cancel("another hedged attempt answered first", null);
        }
      }
    }
    if (number > 1) {
      policy.wonByLater();
    }
  }

  @Override
  public void request(int numMessages) {
    if (winner != null) {
      winner.request(numMessages);
      return;
    }
    requested += numMessages;
    if (live.size() == 1) {
      live.get(0).request(numMessages);
      return;
    }
    for (ClientCall<ReqT, RespT> call : List.copyOf(live)) {
      call.request(numMessages);
    }
  }

  @Override
  public void sendMessage(ReqT message) {
    if (winner != null) {
      winner.sendMessage(message);
      return;
    }
    byte[] saved = null;
    if (buffer != null || live.size() > 1) {
      saved = replay.save(message);
    }
    if (buffer != null) {
      bufferedBytes += saved.length;
      if (bufferedBytes > policy.config().bufferBytes()) {
        buffer = null; // too much to replay: the attempts started so far are all there will be
        stopTimer();
      } else {
        buffer.add(saved);
      }
    }
    if (live.size() == 1) {
      live.get(0).sendMessage(message);
      return;
    }
    List<ClientCall<ReqT, RespT>> targets = List.copyOf(live);
    for (int i = 0; i < targets.size(); i++) {
      targets.get(i).sendMessage(i == 0 ? message : replay.restore(saved));
    }
    if (targets.isEmpty()) {
      ReferenceCountUtil.release(message);
    }
  }

  @Override
  public void halfClose() {
    halfClosed = true;
    if (winner != null) {
      winner.halfClose();
      return;
    }
    if (live.size() == 1) {
      live.get(0).halfClose();
      return;
    }
    for (ClientCall<ReqT, RespT> call : List.copyOf(live)) {
      call.halfClose();
    }
  }

  @Override
  public void cancel(String message, Throwable cause) {
    if (cancelled) {
      return;
    }
    cancelled = true;
    stopTimer();
    if (winner != null) {
      winner.cancel(message, cause);
      return;
    }
    for (ClientCall<ReqT, RespT> call : List.copyOf(live)) {
      call.cancel(message, cause);
    }
  }

  @Override
  public boolean isReady() {
    if (winner != null) {
      return winner.isReady();
    }
    return !live.isEmpty() && live.get(0).isReady();
  }

  @Override
  public void setMessageCompression(boolean enabled) {
    compression = enabled;
    for (ClientCall<ReqT, RespT> call : live) {
      call.setMessageCompression(enabled);
    }
  }

  @Override
  public Attributes getAttributes() {
    ClientCall<ReqT, RespT> call = winner != null ? winner : live.isEmpty() ? null : live.get(0);
    return call == null ? Attributes.EMPTY : call.getAttributes();
  }

  private void close(Status status, Metadata trailers) {
    closed = true;
    stopTimer();
    listener.onClose(status, trailers);
  }

  private final class AttemptListener extends Listener<RespT> {
    private final ClientCall<ReqT, RespT> call;
    private final int number;

    AttemptListener(ClientCall<ReqT, RespT> call, int number) {
      this.call = call;
      this.number = number;
    }

    @Override
    public void onHeaders(Metadata responseHeaders) {
      if (winner == null && !closed) {
        commit(call, number);
      }
      if (winner == call) {
        listener.onHeaders(responseHeaders);
      }
    }

    @Override
    public void onMessage(RespT message) {
      if (winner == null && !closed) {
        commit(call, number);
      }
      if (winner == call) {
        listener.onMessage(message);
      } else {
        ReferenceCountUtil.release(message); // a loser's: pooled buffers go back
      }
    }

    @Override
    public void onReady() {
      if (winner == call || (winner == null && !live.isEmpty() && live.get(0) == call)) {
        listener.onReady();
      }
    }

    @Override
    public void onClose(Status closedWith, Metadata trailers) {
      live.remove(call);
      if (closed) {
        return;
      }
      if (winner == call) {
        close(closedWith, trailers);
        return;
      }
      if (winner != null) {
        return; // a loser, cancelled
      }
      Status status = io.meshgate.gateway.call.TransportFailures.normalize(closedWith);
      if (!status.isOk() && !cancelled && policy.nonFatal(status)) {
        if (canHedge() && policy.mayHedge()) {
          startAttempt(); // a non-fatal end lets the next attempt start at once
          scheduleNext();
          return;
        }
        if (!live.isEmpty()) {
          return; // the others may still answer
        }
      } else if (!live.isEmpty()) {
        commit(call, number); // a fatal status (or a success without headers) ends the call
      }
      close(status, trailers);
    }
  }
}
