package io.meshgate.gateway.route;

import io.grpc.Attributes;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.Status;
import io.meshgate.gateway.resilience.RetryPolicy;
import io.netty.util.ReferenceCountUtil;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A call whose requests also go, copied, to a mirror cluster ({@code mirror}): the mirror's
 * answers are read and dropped, its failures are nobody's business, and it can never slow the
 * primary call: while the mirror is not ready (still connecting, or slow) it takes at most
 * {@link #MAX_UNREADY} messages and {@link #MAX_UNREADY_BYTES} bytes (the first such message
 * whatever its size), then it is cancelled and counted as dropped, rather than buffering
 * without bound. Everything else is the primary's. Only on the call's event loop.
 */
final class MirroredCall<ReqT, RespT> extends ClientCall<ReqT, RespT> {
  private final ClientCall<ReqT, RespT> primary;
  private final RetryPolicy.Replay<ReqT> copies;
  private final Runnable onDropped;
  /** Messages a mirror that is not ready may be given before it is dropped. */
  static final int MAX_UNREADY = 16;
  /** Bytes a mirror that is not ready may be given before it is dropped. */
  static final long MAX_UNREADY_BYTES = 1 << 20;

  private ClientCall<ReqT, RespT> mirror; // null once dropped or done
  private int unready;
  private long unreadyBytes;

  /**
   * @param mirror the mirror's call, not started
   * @param inFlight released when the mirror's call ends
   */
  MirroredCall(ClientCall<ReqT, RespT> primary, ClientCall<ReqT, RespT> mirror,
      Metadata headers, RetryPolicy.Replay<ReqT> copies, AtomicInteger inFlight,
      Runnable onDropped) {
    this.primary = primary;
    this.copies = copies;
    this.onDropped = onDropped;
    this.mirror = mirror;
    ClientCall<ReqT, RespT> started = mirror;
    mirror.start(new Listener<>() {
      @Override
      public void onMessage(RespT message) {
        ReferenceCountUtil.release(message); // discarded, but pooled buffers go back
        started.request(1);
      }

      @Override
      public void onClose(Status status, Metadata trailers) {
        inFlight.decrementAndGet();
        if (MirroredCall.this.mirror == started) {
          MirroredCall.this.mirror = null;
        }
      }
    }, headers);
    mirror.request(1);
  }

  @Override
  public void start(Listener<RespT> listener, Metadata headers) {
    throw new IllegalStateException("started by Admission.open");
  }

  @Override
  public void sendMessage(ReqT message) {
    ClientCall<ReqT, RespT> copy = mirror;
    if (copy != null) {
      byte[] saved = copies.save(message);
      boolean take = copy.isReady();
      if (!take) {
        // Messages (DATA chunks on the streamed path) and bytes, the first whatever its size.
        unreadyBytes += saved.length;
        take = ++unready == 1 || (unready <= MAX_UNREADY && unreadyBytes <= MAX_UNREADY_BYTES);
      }
      if (take) {
        copy.sendMessage(copies.restore(saved));
      } else {
        mirror = null;
        copy.cancel("the mirror does not keep up: dropped", null);
        onDropped.run();
      }
    }
    primary.sendMessage(message);
  }

  @Override
  public void halfClose() {
    if (mirror != null) {
      mirror.halfClose();
    }
    primary.halfClose();
  }

  @Override
  public void cancel(String message, Throwable cause) {
    if (mirror != null) {
      mirror.cancel(message, cause);
      mirror = null;
    }
    primary.cancel(message, cause);
  }

  @Override
  public void request(int numMessages) {
    primary.request(numMessages);
  }

  @Override
  public boolean isReady() {
    return primary.isReady();
  }

  @Override
  public void setMessageCompression(boolean enabled) {
    primary.setMessageCompression(enabled);
  }

  @Override
  public Attributes getAttributes() {
    return primary.getAttributes();
  }
}
