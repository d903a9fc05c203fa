package io.meshgate.gateway.grpcweb;

import io.grpc.Metadata;
import io.grpc.Status;
import io.meshgate.gateway.call.GrpcMetadata;
import io.meshgate.gateway.call.GrpcTimeout;
import io.meshgate.gateway.http.HttpRequest;
import io.meshgate.gateway.http.HttpResponder;
import io.meshgate.gateway.http.UpstreamHttpCall;
import io.meshgate.gateway.resilience.RetryPolicy;
import io.meshgate.gateway.route.Admission;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * One gRPC-Web call: the request's messages (decoded from base64 for {@code -text}) go to the
 * route's cluster through the admission chain; each response message is written as the backend
 * sends it, and asked for only while the client keeps up; the status ends the body as the
 * trailer frame, or, when the call failed before any message, stands in the headers
 * (trailers-only). Every answer is HTTP 200 with the status in {@code grpc-status}, as the
 * protocol says; a CORS preflight is answered here too. Only on the client connection's event
 * loop (upstream callbacks are delivered there).
 */
final class GrpcWebCall extends UpstreamHttpCall {
  private static final Metadata.Key<byte[]> STATUS_DETAILS =
      Metadata.Key.of("grpc-status-details-bin", Metadata.BINARY_BYTE_MARSHALLER);

  private final GrpcWebService service;
  private final boolean streamed;
  private final boolean text;
  private final String contentType;

  // Only on the event loop.
  private Admission admission;
  private boolean started;

  /** @param streamed whether the body streams in ({@link #onRequestData}) after start */
  GrpcWebCall(GrpcWebService service, HttpRequest request, HttpResponder out,
      boolean streamed) {
    super(service.admission().record("grpc-web", request), request, out);
    this.service = service;
    this.streamed = streamed;
    String type = request.headers().get(HttpHeaderNames.CONTENT_TYPE);
    type = type == null ? "" : type.toLowerCase(Locale.ROOT);
    int semicolon = type.indexOf(';');
    type = (semicolon < 0 ? type : type.substring(0, semicolon)).strip();
    this.text = type.startsWith("application/grpc-web-text");
    this.contentType = type.isEmpty() ? "application/grpc-web+proto" : type;
  }

  @Override
  public void tooLarge(int limit) {
    corsOrigin(service.cors());
    fail(Status.RESOURCE_EXHAUSTED.withDescription("the request body is larger than the"
        + " gateway accepts (limits.maxRequestBodyBytes: " + limit + " bytes)"), null);
  }

  @Override
  public void start() {
    String origin = corsOrigin(service.cors());
    if (request.method().equals("OPTIONS")) {
      preflight(origin);
      return;
    }
    if (!request.method().equals("POST")) {
      HttpHeaders allow = new DefaultHttpHeaders().set(HttpHeaderNames.ALLOW, "POST");
      plain(HttpResponseStatus.METHOD_NOT_ALLOWED, "gRPC-Web calls are POST requests, this was "
          + request.method(), allow);
      return;
    }
    String path = request.rawPath();
    int slash = path.indexOf('/', 1);
    if (!path.startsWith("/") || slash < 2 || slash == path.length() - 1
        || path.indexOf('/', slash + 1) >= 0) {
      fail(Status.UNIMPLEMENTED.withDescription("malformed method name '" + path
          + "' (expected: /package.Service/Method)"), null);
      return;
    }
    String subtype = contentType.substring(contentType.indexOf("grpc-web") + 8)
        .replace("-text", "");
    if (!subtype.isEmpty() && !subtype.equals("+proto")) {
      plain(HttpResponseStatus.UNSUPPORTED_MEDIA_TYPE, "content-type " + contentType
          + " is not supported (supported: application/grpc-web, application/grpc-web+proto,"
          + " application/grpc-web-text, application/grpc-web-text+proto)", null);
      return;
    }
    String fullMethod = path.substring(1);
    admission = service.admission().admit(record, request, fullMethod.substring(0, slash - 1),
        fullMethod.substring(slash));
    if (admission.refusal() != null) {
      Admission.Refusal refusal = admission.refusal();
      Metadata trailers = new Metadata();
      if (refusal.statusDetails() != null) {
        trailers.put(STATUS_DETAILS, refusal.statusDetails());
      }
      HttpHeaders extra = new DefaultHttpHeaders();
      if (refusal.challenge() != null) {
        extra.set(HttpHeaderNames.WWW_AUTHENTICATE, refusal.challenge());
      }
      if (refusal.reason() == Admission.Reason.RATE_LIMIT && admission.rateLimit() != null) {
        extra.set(HttpHeaderNames.RETRY_AFTER, admission.rateLimit().retryAfterSeconds());
      }
      trailersOnly(refusal.status(), trailers, extra);
      return;
    }
    List<byte[]> messages = List.of();
    if (!streamed) {
      try {
        byte[] body = text ? GrpcWebFrames.decodeText(request.body()) : request.body();
        messages = GrpcWebFrames.messages(body, service.limits().maxMessageBytes());
      } catch (GrpcWebFrames.MalformedException e) {
        fail(e.status(), null);
        return;
      }
    }
    String timeoutHeader = request.headers().get(GrpcTimeout.HEADER);
    long clientTimeout = GrpcTimeout.parseNanos(timeoutHeader);
    if (clientTimeout == GrpcTimeout.MALFORMED) {
      fail(Status.INVALID_ARGUMENT.withDescription("grpc-timeout '" + timeoutHeader
          + "' is malformed (expected: " + GrpcTimeout.FORMAT + ")"), null);
      return;
    }
    Metadata metadata = GrpcMetadata.toMetadata(request.headers(), request.clientAddress(),
        GrpcWebService.PROTOCOL_HEADERS);
    if (metadata == null) {
      fail(Status.INTERNAL.withDescription("a binary (-bin) header is not valid base64"), null);
      return;
    }
    call = admission.open(bytesMethod(fullMethod), metadata, clientTimeout, null,
        request.authority(), out.executor(), RetryPolicy.Replay.BYTE_ARRAYS,
        RetryPolicy.Replay.BYTE_ARRAYS, new Listener());
    if (streamed) {
      streamRequest(service.limits().maxMessageBytes());
    } else {
      sendAll(messages);
    }
  }

  @Override
  protected byte[] streamedMessage(int flags, byte[] data) throws io.grpc.StatusException {
    try {
      GrpcWebFrames.checkFlags(flags);
    } catch (GrpcWebFrames.MalformedException e) {
      throw e.status().asException();
    }
    return data;
  }

  @Override
  protected void rejectStream(Status status) {
    if (finished) {
      return;
    }
    if (started) {
      finished = true;
      out.sendChunk(GrpcWebFrames.trailers(status, new Metadata(), text));
      record.finish(status.getCode(), HttpResponseStatus.OK.code());
      out.endStream(new DefaultHttpHeaders());
    } else {
      trailersOnly(status, new Metadata(), null);
    }
    call.cancel(status.getDescription(), null);
  }

  /** A CORS preflight: allowed origins may POST with gRPC-Web's headers. */
  private void preflight(String origin) {
    if (service.cors() == null || origin == null) {
      plain(HttpResponseStatus.FORBIDDEN, "cross-origin gRPC-Web calls need transcoding.cors"
          + " in the gateway's configuration", null);
      return;
    }
    if (!service.cors().allows(origin)) {
      plain(HttpResponseStatus.FORBIDDEN, "origin '" + origin + "' is not allowed"
          + " (transcoding.cors.allowOrigins)", null);
      return;
    }
    answerPreflight(service.cors(), origin, java.util.Set.of("POST"));
  }

  private final class Listener extends UpstreamListener {
    @Override
    public void onMessage(byte[] message) {
      if (finished) {
        return;
      }
      if (!started) {
        started = true;
        out.startStream(HttpResponseStatus.OK, headers(null));
      }
      record.responseMessage(message.length);
      out.sendChunk(GrpcWebFrames.message(message, text));
      askForMore();
    }

    @Override
    public void onClose(Status status, Metadata trailers) {
      if (finished) {
        return;
      }
      status = admission.upstreamClosed(status, responseHeaders != null, trailers);
      if (!started) {
        trailersOnly(status, trailers, null);
        return;
      }
      finished = true;
      out.sendChunk(GrpcWebFrames.trailers(status, trailers, text));
      record.finish(status.getCode(), HttpResponseStatus.OK.code());
      out.endStream(new DefaultHttpHeaders());
    }
  }

  /** The response headers: content type, the backend's metadata, CORS. */
  private HttpHeaders headers(Http2Headers statusHeaders) {
    Http2Headers metadata = new DefaultHttp2Headers(false);
    if (responseHeaders != null) {
      GrpcMetadata.addTo(responseHeaders, metadata);
    }
    HttpHeaders headers = new DefaultHttpHeaders();
    headers.set(HttpHeaderNames.CONTENT_TYPE, contentType);
    for (Map.Entry<CharSequence, CharSequence> header : metadata) {
      headers.add(header.getKey(), header.getValue());
    }
    if (statusHeaders != null) {
      for (Map.Entry<CharSequence, CharSequence> header : statusHeaders) {
        headers.add(header.getKey(), header.getValue());
      }
    }
    if (corsOrigin != null) {
      service.cors().addResponseHeaders(corsOrigin, headers);
    }
    return headers;
  }

  /** A call that ends without a message: HTTP 200 with the status among the headers. */
  private void trailersOnly(Status status, Metadata trailers, HttpHeaders extra) {
    finished = true;
    HttpHeaders headers = headers(GrpcWebFrames.statusHeaders(status, trailers));
    if (extra != null) {
      headers.add(extra);
    }
    headers.setInt(HttpHeaderNames.CONTENT_LENGTH, 0);
    record.finish(status.getCode(), HttpResponseStatus.OK.code());
    out.respond(HttpResponseStatus.OK, headers, Unpooled.EMPTY_BUFFER);
  }

  private void fail(Status status, Metadata trailers) {
    trailersOnly(status, trailers == null ? new Metadata() : trailers, null);
  }

  /** An answer outside gRPC (wrong method, media type, CORS): a plain-text HTTP error. */
  private void plain(HttpResponseStatus status, String message, HttpHeaders extra) {
    finished = true;
    byte[] body = (message + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8);
    HttpHeaders headers = new DefaultHttpHeaders();
    if (extra != null) {
      headers.add(extra);
    }
    headers.set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8");
    headers.setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
    if (corsOrigin != null) {
      service.cors().addResponseHeaders(corsOrigin, headers);
    }
    record.finish(Status.Code.INVALID_ARGUMENT, status.code());
    out.respond(status, headers, Unpooled.wrappedBuffer(body));
  }
}
