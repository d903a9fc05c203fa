package io.meshgate.gateway.route;

import io.grpc.Attributes;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.Status;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayDeque;
import java.util.function.Consumer;

/**
 * An upstream call whose start waits for a decision made elsewhere (a global rate limit asking
 * its store): until then it is not ready and keeps what the adapter does — messages, half-close,
 * requests — in order; then it either starts the real call and replays them, or closes the
 * listener with the refusal and drops them (releasing any buffers). The wait is bounded by the
 * decision's own timeout, and a message is only sent once the adapter saw the call ready, so
 * little is ever kept. Only on the call's event loop.
 */
final class DeferredCall<ReqT, RespT> extends ClientCall<ReqT, RespT> {
  private final ArrayDeque<Consumer<ClientCall<ReqT, RespT>>> pending = new ArrayDeque<>();
  private final ArrayDeque<ReqT> keptMessages = new ArrayDeque<>();
  private Listener<RespT> listener;
  private ClientCall<ReqT, RespT> real;
  private boolean done;

  @Override
  public void start(Listener<RespT> listener, Metadata headers) {
    this.listener = listener;
  }

  /** The decision admitted the call: {@code call} is the real one, started. */
  void proceed(ClientCall<ReqT, RespT> call) {
    if (done) {
      call.cancel("cancelled while its rate limit was decided", null);
      return;
    }
    real = call;
    keptMessages.clear(); // the replayed sends own them now
    while (!pending.isEmpty()) {
      pending.poll().accept(call);
    }
  }

  /** The decision refused the call. */
  void refuse(Status status, Metadata trailers) {
    if (done) {
      return;
    }
    done = true;
    drop();
    listener.onClose(status, trailers);
  }

  private void drop() {
    // Messages may be pooled buffers (the proxy's): nobody else will release them.
    keptMessages.forEach(ReferenceCountUtil::release);
    keptMessages.clear();
    pending.clear();
  }

  private void later(Consumer<ClientCall<ReqT, RespT>> action) {
    if (real != null) {
      action.accept(real);
    } else if (!done) {
      pending.add(action);
    }
  }

  @Override
  public void request(int numMessages) {
    later(call -> call.request(numMessages));
  }

  @Override
  public void cancel(String message, Throwable cause) {
    if (real != null) {
      real.cancel(message, cause);
      return;
    }
    if (!done) {
      done = true;
      drop();
      listener.onClose(Status.CANCELLED.withDescription(message).withCause(cause),
          new Metadata());
    }
  }

  @Override
  public void halfClose() {
    later(ClientCall::halfClose);
  }

  @Override
  public void sendMessage(ReqT message) {
    if (real != null) {
      real.sendMessage(message);
    } else if (!done) {
      pending.add(call -> call.sendMessage(message));
      keptMessages.add(message);
    } else {
      ReferenceCountUtil.release(message);
    }
  }

  @Override
  public boolean isReady() {
    return real != null && real.isReady();
  }

  @Override
  public void setMessageCompression(boolean enabled) {
    later(call -> call.setMessageCompression(enabled));
  }

  @Override
  public Attributes getAttributes() {
    return real == null ? Attributes.EMPTY : real.getAttributes();
  }
}
