package io.meshgate.gateway.http;

import io.grpc.ClientCall;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.meshgate.gateway.call.ByteArrayMarshaller;
import io.meshgate.gateway.telemetry.CallRecord;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What every whole-request adapter's call shares once it has an upstream call: the CORS origin
 * it may answer, sending the request's messages, asking the backend for the next response
 * message only while the client keeps up, and stopping when the client goes away. Only on the
 * client connection's event loop.
 */
public abstract class UpstreamHttpCall implements HttpCall {
  /** What nginx logs for a client that went away before its answer. */
  protected static final int CLIENT_CLOSED_REQUEST = 499;
  private static final int MAX_CACHED_METHODS = 10_000;
  private static final Map<String, MethodDescriptor<byte[], byte[]>> METHODS =
      new ConcurrentHashMap<>();

  protected final HttpRequest request;
  protected final HttpResponder out;
  protected final CallRecord record;

  // Only on the event loop.
  /** The upstream call, once open. */
  protected ClientCall<byte[], byte[]> call;
  /** Whether the call is answered (or cancelled): nothing more is written. */
  protected boolean finished;
  /** The allowed origin of a cross-origin request, or null. */
  protected String corsOrigin;
  private boolean responseWanted;
  private PrefixedMessages streamed; // set when the request body streams in (HTTP/2)

  protected UpstreamHttpCall(CallRecord record, HttpRequest request, HttpResponder out) {
    this.record = record;
    this.request = request;
    this.out = out;
    record.http(request.method(), request.rawPath());
  }

  /**
   * Remembers the request's {@code Origin} if {@code cors} (or null) allows it.
   *
   * @return the origin, allowed or not; null without one
   */
  protected String corsOrigin(Cors cors) {
    String origin = request.headers().get(HttpHeaderNames.ORIGIN);
    if (origin != null && cors != null && cors.allows(origin)) {
      corsOrigin = origin;
    }
    return origin;
  }

  /** Answers a CORS preflight of an origin {@code cors} allows: 204 with its headers. */
  protected void answerPreflight(Cors cors, String origin, Set<String> methods) {
    HttpHeaders headers = new DefaultHttpHeaders();
    cors.addPreflightHeaders(origin, methods,
        request.headers().get(HttpHeaderNames.ACCESS_CONTROL_REQUEST_HEADERS), headers);
    headers.setInt(HttpHeaderNames.CONTENT_LENGTH, 0);
    finished = true;
    record.finish(Status.Code.OK, HttpResponseStatus.NO_CONTENT.code());
    out.respond(HttpResponseStatus.NO_CONTENT, headers, Unpooled.EMPTY_BUFFER);
  }

  /**
   * The request body will come piece by piece ({@link #onRequestData}); asks for the first
   * response message. Call once the upstream call is open.
   */
  protected void streamRequest(int maxMessageBytes) {
    streamed = new PrefixedMessages(maxMessageBytes);
    call.request(1);
  }

  /**
   * A message of a streamed request as the protocol passes it upstream (flags checked,
   * decompressed, converted).
   *
   * @throws io.grpc.StatusException with the status to end the call with when it cannot pass
   */
  protected byte[] streamedMessage(int flags, byte[] data) throws io.grpc.StatusException {
    return data;
  }

  /**
   * Ends a streamed call with {@code status} in the protocol's terms (its answer may have
   * begun); adapters that stream requests override it.
   */
  protected void rejectStream(Status status) {
    throw new IllegalStateException("not a streamed call: " + status);
  }

  @Override
  public boolean onRequestData(io.netty.buffer.ByteBuf piece, boolean last) {
    if (finished || call == null || streamed == null) {
      return true; // answered already: the rest of the body is drained
    }
    try {
      for (PrefixedMessages.Message message : streamed.feed(piece)) {
        byte[] data = streamedMessage(message.flags(), message.data());
        record.requestMessage(data.length);
        call.sendMessage(data);
      }
      if (last) {
        if (streamed.midMessage()) {
          rejectStream(Status.INVALID_ARGUMENT.withDescription("the request body ends inside a"
              + " message (" + streamed.buffered() + " bytes of it)"));
          return true;
        }
        call.halfClose();
      }
    } catch (PrefixedMessages.TooLargeException e) {
      rejectStream(Status.RESOURCE_EXHAUSTED.withDescription(e.getMessage()));
      return true;
    } catch (io.grpc.StatusException e) {
      rejectStream(e.getStatus());
      return true;
    }
    return call.isReady();
  }

  /** The upstream call can take more: read on in a streamed request. */
  protected void upstreamReady() {
    if (streamed != null && !finished) {
      out.readMore();
    }
  }

  /** The backend's response headers, once they came (null before). */
  protected io.grpc.Metadata responseHeaders;

  /**
   * The listener every adapter's upstream call starts with: it keeps the response headers and
   * reads on in a streamed request when the call can take more; the adapter adds the messages
   * and the close.
   */
  protected abstract class UpstreamListener extends ClientCall.Listener<byte[]> {
    @Override
    public void onHeaders(io.grpc.Metadata headers) {
      responseHeaders = headers;
    }

    @Override
    public void onReady() {
      upstreamReady();
    }
  }

  /** Sends {@code messages}, half-closes, and asks for the first response message. */
  protected void sendAll(List<byte[]> messages) {
    for (byte[] message : messages) {
      record.requestMessage(message.length);
      call.sendMessage(message);
    }
    call.halfClose();
    call.request(1);
  }

  /** After a response message is written: the next one now, or once the client can take it. */
  protected void askForMore() {
    if (out.isWritable()) {
      call.request(1);
    } else {
      responseWanted = true;
    }
  }

  @Override
  public void onWritable() {
    if (responseWanted && !finished && call != null && out.isWritable()) {
      responseWanted = false;
      call.request(1);
    }
  }

  @Override
  public void cancel(String reason) {
    if (!finished) {
      finished = true;
      record.finish(Status.Code.CANCELLED, CLIENT_CLOSED_REQUEST);
      if (call != null) {
        call.cancel(reason, null);
      }
    }
  }

  /**
   * The call descriptor of {@code fullMethod} ({@code pkg.Service/Method}) with byte-array
   * messages and no type (the backend's method says), cached for a bounded set of methods.
   */
  protected static MethodDescriptor<byte[], byte[]> bytesMethod(String fullMethod) {
    MethodDescriptor<byte[], byte[]> descriptor = METHODS.get(fullMethod);
    if (descriptor == null) {
      descriptor = MethodDescriptor.<byte[], byte[]>newBuilder()
          .setType(MethodDescriptor.MethodType.UNKNOWN)
          .setFullMethodName(fullMethod)
          .setRequestMarshaller(ByteArrayMarshaller.INSTANCE)
          .setResponseMarshaller(ByteArrayMarshaller.INSTANCE)
          .build();
      if (METHODS.size() < MAX_CACHED_METHODS) {
        METHODS.put(fullMethod, descriptor);
      }
    }
    return descriptor;
  }
}
