package io.meshgate.gateway.upstream;

import io.grpc.Status;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufInputStream;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import java.io.IOException;

/**
 * A {@code grpc.health.v1.Health/Watch} stream on one of the gateway's own upstream connections:
 * what grpc-java's client-side health checking does on a subchannel, for clusters streamed
 * through our connections. The endpoint answers with its serving status, then again at each
 * change; the listener hears each status and the stream's end. Only on the connection's loop.
 */
final class H2HealthCheck implements H2Connection.Sink {
  /** Watch responses are a status enum: anything longer is not a health service. */
  private static final int MAX_RESPONSE_BYTES = 64 * 1024;

  /** What the subchannel hears. On the loop. */
  interface Listener {
    /** The endpoint's serving status for the service, the first time and at each change. */
    void onStatus(H2HealthCheck check, HealthCheckResponse.ServingStatus status);

    /**
     * The stream ended (not after {@link #cancel}).
     *
     * @param status the gRPC status it ended with (UNIMPLEMENTED: the endpoint has no health
     *     service); UNAVAILABLE when it was reset or its connection went
     * @param responded whether any status arrived before
     */
    void onEnded(H2HealthCheck check, Status status, boolean responded);
  }

  private final H2Connection connection;
  private final Listener listener;
  private final String what;
  private int id;
  private ByteBuf pending = Unpooled.EMPTY_BUFFER;
  private boolean responded;
  private boolean ended;

  private H2HealthCheck(H2Connection connection, Listener listener, String what) {
    this.connection = connection;
    this.listener = listener;
    this.what = what;
  }

  /**
   * Opens the Watch stream for {@code service} ("" for the endpoint as a whole) on a ready
   * connection, and flushes.
   */
  static H2HealthCheck start(H2Connection connection, String service, String authority,
      boolean tls, Listener listener) {
    H2HealthCheck check = new H2HealthCheck(connection, listener,
        "the health check of service '" + service + "' on " + connection.address());
    Http2Headers headers = new DefaultHttp2Headers(false)
        .method("POST")
        .scheme(tls ? "https" : "http")
        .path("/grpc.health.v1.Health/Watch")
        .authority(authority)
        .set("content-type", "application/grpc")
        .set("te", "trailers")
        .set("user-agent", "meshgate-health-check");
    byte[] request = HealthCheckRequest.newBuilder().setService(service).build().toByteArray();
    check.id = connection.open(check, headers, false);
    connection.writeData(check.id, Unpooled.buffer(5 + request.length)
        .writeByte(0).writeInt(request.length).writeBytes(request), true);
    connection.flush();
    return check;
  }

  /** Ends the stream (RST_STREAM CANCEL); the listener hears nothing more. */
  void cancel() {
    if (!ended) {
      ended = true;
      release();
      connection.reset(id);
    }
  }

  @Override
  public void onHeaders(Http2Headers headers, boolean endStream) {
    if (ended) {
      return;
    }
    CharSequence grpcStatus = headers.get("grpc-status");
    if (grpcStatus == null && !endStream) {
      CharSequence httpStatus = headers.status();
      if (httpStatus != null && !"200".contentEquals(httpStatus)) {
        end(Status.UNAVAILABLE.withDescription(what + " was answered with HTTP status "
            + httpStatus));
      }
      return; // the response's headers
    }
    Status status;
    try {
      status = grpcStatus == null
          ? Status.UNAVAILABLE.withDescription(what + " ended without a grpc-status")
          : Status.fromCodeValue(Integer.parseInt(grpcStatus.toString()));
    } catch (NumberFormatException e) {
      status = Status.UNAVAILABLE.withDescription(what + " ended with grpc-status '"
          + grpcStatus + "'");
    }
    CharSequence message = headers.get("grpc-message");
    if (message != null && status.getDescription() == null) {
      status = status.withDescription(message.toString());
    }
    end(status);
  }

  @Override
  public void onData(ByteBuf data, int flowControlled, boolean endStream) {
    try {
      if (ended) {
        return;
      }
      if (pending.readableBytes() + data.readableBytes() > MAX_RESPONSE_BYTES + 5) {
        end(Status.UNAVAILABLE.withDescription(what + " sent a response over "
            + MAX_RESPONSE_BYTES + " bytes: not a grpc.health.v1 service"));
        connection.reset(id);
        return;
      }
      if (pending == Unpooled.EMPTY_BUFFER) {
        pending = Unpooled.buffer(data.readableBytes());
      }
      pending.writeBytes(data);
    } finally {
      data.release();
      connection.consume(id, flowControlled);
    }
    while (!ended && pending.readableBytes() >= 5) {
      int length = pending.getInt(pending.readerIndex() + 1);
      if (pending.getByte(pending.readerIndex()) != 0 || length < 0
          || length > MAX_RESPONSE_BYTES) {
        end(Status.UNAVAILABLE.withDescription(what + " sent a compressed or oversized"
            + " message, which a health service does not"));
        connection.reset(id);
        return;
      }
      if (pending.readableBytes() < 5 + length) {
        return;
      }
      pending.skipBytes(5);
      HealthCheckResponse response;
      try (ByteBufInputStream in = new ByteBufInputStream(pending.readSlice(length))) {
        response = HealthCheckResponse.parseFrom(in);
      } catch (IOException e) {
        end(Status.UNAVAILABLE.withDescription(what + " sent a response that is not a"
            + " HealthCheckResponse: " + e.getMessage()));
        connection.reset(id);
        return;
      }
      responded = true;
      listener.onStatus(this, response.getStatus());
    }
    if (!ended) {
      pending.discardReadBytes();
    }
  }

  @Override
  public void onReset(long errorCode) {
    end(Status.UNAVAILABLE.withDescription(what + " was reset by the endpoint (HTTP/2 error "
        + errorCode + ")"));
  }

  @Override
  public void onWritabilityChanged() {}

  @Override
  public void onClosed(boolean unprocessed) {
    end(Status.UNAVAILABLE.withDescription(what + " ended with its connection"));
  }

  private void end(Status status) {
    if (!ended) {
      ended = true;
      release();
      listener.onEnded(this, status, responded);
    }
  }

  private void release() {
    if (pending != Unpooled.EMPTY_BUFFER) {
      pending.release();
      pending = Unpooled.EMPTY_BUFFER;
    }
  }
}
