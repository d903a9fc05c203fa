package io.meshgate.gateway.resilience;

import io.grpc.Attributes;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * A call made of one or more attempts. Request messages are kept (as byte copies, up to the
 * policy's buffer) until the call commits; an attempt that fails with a retryable status before
 * any response header or message came back is replaced, after a jittered backoff, by a new
 * attempt that gets the same headers and messages again. The call commits — and never retries
 * again — on the first response header or message, when its requests outgrow the buffer, or when
 * it runs out of attempts, budget or deadline.
 *
 * <p>Only on the call's thread (the client stream's event loop): the caller's methods, the
 * attempts' callbacks and the scheduled retries all run there.
 */
final class RetryingCall<ReqT, RespT> extends ClientCall<ReqT, RespT> {
  private final RetryPolicy policy;
  private final Function<CallOptions, ClientCall<ReqT, RespT>> newAttempt;
  private final CallOptions options;
  private final RetryPolicy.Replay<ReqT> replay;
  private final RetryPolicy.Scheduler scheduler;

  // Only on the call's thread.
  private Listener<RespT> listener;
  private Metadata headers;
  private ClientCall<ReqT, RespT> current;
  private List<byte[]> buffer = new ArrayList<>();
  private long bufferedBytes;
  private boolean replayable = true;
  private boolean committed;
  private boolean halfClosed;
  private boolean cancelled;
  private boolean compression;
  private boolean compressionSet;
  private int requested;
  private int attempts;

  RetryingCall(RetryPolicy policy, Function<CallOptions, ClientCall<ReqT, RespT>> newAttempt,
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
  }

  private void startAttempt() {
    attempts++;
    CallOptions attemptOptions = policy.attemptOptions(options);
    boolean perTryDeadline = attemptOptions != options;
    ClientCall<ReqT, RespT> call = newAttempt.apply(attemptOptions);
    current = call;
    Attempts.start(call, new AttemptListener(call, perTryDeadline), headers, attempts,
        compressionSet ? compression : null, requested, buffer, replay, halfClosed);
    if (buffer != null && !replayable) {
      buffer = null; // sent to the last attempt there will be
    }
  }

  /** No more attempts after the current one: forget what was kept for them. */
  private void commit() {
    committed = true;
    buffer = null;
  }

  @Override
  public void request(int numMessages) {
    if (!committed) {
      requested += numMessages;
    }
    if (current != null) {
      current.request(numMessages);
    }
  }

  @Override
  public void sendMessage(ReqT message) {
    if (!committed && replayable) {
      byte[] saved = replay.save(message);
      bufferedBytes += saved.length;
      if (bufferedBytes > policy.config().bufferBytes()) {
        replayable = false;
        if (current != null) {
          buffer = null;
        } else {
          buffer.add(saved); // between attempts: the next one still needs every message
        }
      } else {
        buffer.add(saved);
      }
    }
    if (current != null) {
      current.sendMessage(message);
    }
  }

  @Override
  public void halfClose() {
    halfClosed = true;
    if (current != null) {
      current.halfClose();
    }
  }

  @Override
  public void cancel(String message, Throwable cause) {
    if (cancelled) {
      return;
    }
    cancelled = true;
    if (current != null) {
      current.cancel(message, cause);
    } else if (listener != null) {
      // Waiting to retry: there is no attempt to tell the listener, so this call does.
      Status status = Status.CANCELLED.withDescription(message).withCause(cause);
      scheduler.schedule(() -> listener.onClose(status, new Metadata()), 0);
    }
  }

  @Override
  public boolean isReady() {
    return current != null && current.isReady();
  }

  @Override
  public void setMessageCompression(boolean enabled) {
    compressionSet = true;
    compression = enabled;
    if (current != null) {
      current.setMessageCompression(enabled);
    }
  }

  @Override
  public Attributes getAttributes() {
    return current != null ? current.getAttributes() : Attributes.EMPTY;
  }

  private final class AttemptListener extends Listener<RespT> {
    private final ClientCall<ReqT, RespT> call;
    private final boolean perTryDeadline;

    AttemptListener(ClientCall<ReqT, RespT> call, boolean perTryDeadline) {
      this.call = call;
      this.perTryDeadline = perTryDeadline;
    }

    @Override
    public void onHeaders(Metadata responseHeaders) {
      commit();
      listener.onHeaders(responseHeaders);
    }

    @Override
    public void onMessage(RespT message) {
      commit();
      listener.onMessage(message);
    }

    @Override
    public void onReady() {
      if (call == current) {
        listener.onReady();
      }
    }

    @Override
    public void onClose(Status closed, Metadata trailers) {
      if (call != current) {
        return;
      }
      Status status = io.meshgate.gateway.call.TransportFailures.normalize(closed);
      boolean callDeadlinePassed = options.getDeadline() != null
          && options.getDeadline().isExpired();
      boolean perTryTimedOut = perTryDeadline && !callDeadlinePassed
          && status.getCode() == Status.Code.DEADLINE_EXCEEDED;
      if (!committed && !cancelled && buffer != null && replayable
          && attempts < policy.config().maxAttempts() && !callDeadlinePassed) {
        long delay = policy.backoffNanos(attempts);
        boolean timeLeft = options.getDeadline() == null
            || options.getDeadline().timeRemaining(java.util.concurrent.TimeUnit.NANOSECONDS)
                > delay;
        if (timeLeft && policy.retryable(status, perTryTimedOut)) {
          current = null;
          scheduler.schedule(() -> {
            if (!cancelled) {
              startAttempt();
            }
          }, delay);
          return;
        }
      }
      commit();
      current = call; // stays, for getAttributes()
      listener.onClose(status, trailers);
    }
  }
}
