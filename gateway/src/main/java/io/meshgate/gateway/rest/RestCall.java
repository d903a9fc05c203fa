package io.meshgate.gateway.rest;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.RetryInfo;
import io.grpc.Metadata;
import io.grpc.Status;
import io.meshgate.gateway.call.GrpcTimeout;
import io.meshgate.gateway.config.GatewayConfig;
import io.meshgate.gateway.descriptors.Descriptors;
import io.meshgate.gateway.http.Cors;
import io.meshgate.gateway.http.HttpMetadata;
import io.meshgate.gateway.http.HttpRequest;
import io.meshgate.gateway.http.HttpResponder;
import io.meshgate.gateway.http.UpstreamHttpCall;
import io.meshgate.gateway.ratelimit.RateLimitPolicy;
import io.meshgate.gateway.resilience.RetryPolicy;
import io.meshgate.gateway.route.Admission;
import io.meshgate.transcoder.HttpRoute;
import io.meshgate.transcoder.JsonOptions;
import io.meshgate.transcoder.JsonTranscoder;
import io.meshgate.transcoder.RouteMatch;
import io.meshgate.transcoder.StatusJson;
import io.meshgate.transcoder.TranscodingException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * One REST request transcoded to a gRPC call and its answer transcoded back: matches the HTTP
 * rule, builds the request message(s), calls the route's cluster, and writes JSON (or the raw
 * bytes of a {@code google.api.HttpBody}) through a {@link HttpResponder}. Server-streaming
 * answers are newline-delimited JSON, or Server-Sent Events for {@code Accept:
 * text/event-stream}; the next message is asked of the backend only while the client keeps up.
 *
 * <p>Errors are {@code google.rpc.Status} JSON, with the HTTP status that gRPC-to-HTTP mapping
 * gives (grpc-gateway's and Envoy's table; {@link StatusJson#httpStatus}). Only on the client
 * connection's event loop (upstream callbacks are delivered there).
 */
final class RestCall extends UpstreamHttpCall {
  private static final Logger logger = Logger.getLogger(RestCall.class.getName());
  private static final Metadata.Key<byte[]> STATUS_DETAILS =
      Metadata.Key.of("grpc-status-details-bin", Metadata.BINARY_BYTE_MARSHALLER);
  private static final Metadata.Key<String> CONTENT_TYPE =
      Metadata.Key.of("content-type", Metadata.ASCII_STRING_MARSHALLER);
  private static final String NDJSON = "application/x-ndjson";
  private static final String EVENT_STREAM = "text/event-stream";
  private static final String RATELIMIT_LIMIT = "ratelimit-limit";
  private static final String RATELIMIT_REMAINING = "ratelimit-remaining";
  private static final String RATELIMIT_RESET = "ratelimit-reset";

  private final RestService service;

  // Only on the event loop.
  private Descriptors.Snapshot snapshot;
  private HttpRoute httpRoute;
  private Admission admission;
  private JsonOptions json;
  private byte[] unaryResponse;
  private boolean sse;
  private boolean streamStarted;
  private boolean rawStream;
  private HttpHeaders rateLimitHeaders;

  RestCall(RestService service, HttpRequest request, HttpResponder out) {
    super(service.admission().record("rest", request), request, out);
    this.service = service;
  }

  // ---- Request -----------------------------------------------------------------------------

  /** Answers 413: the request body is larger than {@code limit} bytes. */
  @Override
  public void tooLarge(int limit) {
    corsOrigin(service.cors());
    error(HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, Status.Code.RESOURCE_EXHAUSTED,
        "the request body is larger than the gateway accepts (limits.maxRequestBodyBytes: "
            + limit + " bytes)", null, null);
  }

  @Override
  public void start() {
    String origin = corsOrigin(service.cors());
    if (service.cors() != null && origin != null && request.method().equals("OPTIONS")
        && request.headers().get(HttpHeaderNames.ACCESS_CONTROL_REQUEST_METHOD) != null) {
      preflight(service.cors(), origin);
      return;
    }
    if (service.config().serveOpenApi() && (request.method().equals("GET")
        || request.method().equals("HEAD")) && (request.rawPath().equals("/openapi.json")
        || request.rawPath().equals("/openapi.yaml"))) {
      openApi(request.rawPath().endsWith(".yaml"));
      return;
    }
    snapshot = service.snapshot();
    RouteMatch match = snapshot.table().match(request.method(), request.rawPath());
    if (match.kind() != RouteMatch.Kind.FOUND && request.method().equals("HEAD")) {
      // HEAD is GET without the body.
      RouteMatch get = snapshot.table().match("GET", request.rawPath());
      match = get.kind() == RouteMatch.Kind.FOUND ? get : match;
    }
    if (match.kind() == RouteMatch.Kind.NOT_FOUND) {
      error(HttpResponseStatus.NOT_FOUND, Status.Code.NOT_FOUND, "no REST route for "
          + request.method() + " " + request.rawPath() + notFoundHint(), null, null);
      return;
    }
    if (match.kind() == RouteMatch.Kind.METHOD_NOT_ALLOWED) {
      HttpHeaders headers = new DefaultHttpHeaders();
      headers.set(HttpHeaderNames.ALLOW, String.join(", ", match.allowedMethods()));
      error(HttpResponseStatus.METHOD_NOT_ALLOWED, Status.Code.UNIMPLEMENTED, request.method()
          + " is not allowed on " + request.rawPath() + " (allowed: "
          + String.join(", ", match.allowedMethods()) + ")", null, headers);
      return;
    }
    httpRoute = match.route();
    String fullName = httpRoute.method().getFullName();
    if (httpRoute.clientStreaming() && httpRoute.serverStreaming()) {
      error(HttpResponseStatus.NOT_IMPLEMENTED, Status.Code.UNIMPLEMENTED, fullName
          + " is a bidirectional streaming method, which REST cannot call (an HTTP/1.1 request"
          + " cannot stream both ways): open " + request.rawPath() + " as a WebSocket, or call it"
          + " with a gRPC client", null, null);
      return;
    }
    String serviceName = httpRoute.method().getService().getFullName();
    // Authentication comes before the body is read: an anonymous client learns nothing of the
    // request format.
    admission = service.admission().admit(record, request, serviceName,
        httpRoute.method().getName());
    RateLimitPolicy.Result limit = admission.rateLimit();
    if (limit != null && limit.limit() > 0) {
      rateLimitHeaders = new DefaultHttpHeaders()
          .set(RATELIMIT_LIMIT, limit.limit())
          .set(RATELIMIT_REMAINING, limit.remaining())
          .set(RATELIMIT_RESET, limit.resetSeconds());
    }
    if (admission.refusal() != null) {
      refuse(admission.refusal(), fullName, serviceName);
      return;
    }
    String query = admission.forwardedQuery(request.rawQuery());
    GatewayConfig.RestOptions options = admission.route().rest() != null
        ? admission.route().rest() : service.config().rest();
    json = options.json();
    sse = accepts(request.headers().get(HttpHeaderNames.ACCEPT), EVENT_STREAM);

    JsonTranscoder transcoder = snapshot.transcoder();
    String contentType = request.headers().get(HttpHeaderNames.CONTENT_TYPE);
    List<byte[]> messages;
    try {
      messages = httpRoute.clientStreaming()
          ? transcoder.requests(match, query, request.body(), contentType,
              options.ignoreUnknownQueryParameters())
          : List.of(transcoder.request(match, query, request.body(), contentType,
              options.ignoreUnknownQueryParameters()));
    } catch (TranscodingException e) {
      error(HttpResponseStatus.valueOf(e.httpStatus()), e.httpStatus() == 413
          ? Status.Code.RESOURCE_EXHAUSTED : Status.Code.INVALID_ARGUMENT, e.getMessage(), null,
          null);
      return;
    }

    Metadata metadata;
    try {
      metadata = HttpMetadata.toMetadata(request.headers(), service.forwardHeaders(),
          request.clientAddress());
    } catch (IllegalArgumentException e) {
      error(HttpResponseStatus.BAD_REQUEST, Status.Code.INVALID_ARGUMENT, e.getMessage(), null,
          null);
      return;
    }
    String timeoutHeader = request.headers().get(GrpcTimeout.HEADER);
    long clientTimeout = GrpcTimeout.parseNanos(timeoutHeader);
    if (clientTimeout == GrpcTimeout.MALFORMED) {
      error(HttpResponseStatus.BAD_REQUEST, Status.Code.INVALID_ARGUMENT, "grpc-timeout '"
          + timeoutHeader + "' is malformed (expected: " + GrpcTimeout.FORMAT + ")", null, null);
      return;
    }
    call = admission.open(service.methodDescriptor(httpRoute), metadata, clientTimeout, null,
        null, out.executor(), RetryPolicy.Replay.BYTE_ARRAYS,
        RetryPolicy.Replay.BYTE_ARRAYS, new Listener());
    sendAll(messages);
  }

  /** The REST API's OpenAPI document ({@code transcoding.openApi}). */
  private void openApi(boolean yaml) {
    String json = service.openApi();
    byte[] body = (yaml ? io.meshgate.gateway.config.JsonYaml.of(json) : json)
        .getBytes(java.nio.charset.StandardCharsets.UTF_8);
    HttpHeaders headers = new DefaultHttpHeaders()
        .set(HttpHeaderNames.CONTENT_TYPE, yaml ? "application/yaml" : "application/json")
        .setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
    if (corsOrigin != null) {
      service.cors().addResponseHeaders(corsOrigin, headers);
    }
    record.finish(Status.Code.OK, HttpResponseStatus.OK.code());
    out.respond(HttpResponseStatus.OK, headers, request.method().equals("HEAD")
        ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(body));
  }

  /** Answers a call the admission chain refused, in REST's terms. */
  private void refuse(Admission.Refusal refusal, String fullName, String serviceName) {
    Status status = refusal.status();
    switch (refusal.reason()) {
      case NO_ROUTE -> error(HttpResponseStatus.NOT_FOUND, Status.Code.NOT_FOUND,
          request.method() + " " + request.rawPath() + " maps to " + fullName
              + ", but no gateway route sends " + serviceName + " to a cluster", null, null);
      case AUTHENTICATION -> {
        HttpHeaders extra = new DefaultHttpHeaders();
        if (refusal.challenge() != null) {
          extra.set(HttpHeaderNames.WWW_AUTHENTICATE, refusal.challenge());
        }
        error(HttpResponseStatus.valueOf(StatusJson.httpStatus(status.getCode().value())),
            status.getCode(), status.getDescription(), null, extra);
      }
      case RATE_LIMIT -> error(HttpResponseStatus.TOO_MANY_REQUESTS,
          Status.Code.RESOURCE_EXHAUSTED, status.getDescription(), refusal.statusDetails(),
          new DefaultHttpHeaders().set(HttpHeaderNames.RETRY_AFTER,
              admission.rateLimit().retryAfterSeconds()));
      // Any other refusal (the client certificate's principal, ...): its status, mapped. A
      // refusal must always be answered: a case missing here would leave the client hanging.
      default -> error(HttpResponseStatus.valueOf(StatusJson.httpStatus(
          status.getCode().value())), status.getCode(), status.getDescription(), null, null);
    }
  }

  private String notFoundHint() {
    Map<String, String> errors = service.descriptorErrors();
    if (errors.isEmpty()) {
      return "";
    }
    return " (descriptors not loaded: " + String.join("; ", errors.values()) + ")";
  }

  private void preflight(Cors cors, String origin) {
    if (!cors.allows(origin)) {
      error(HttpResponseStatus.FORBIDDEN, Status.Code.PERMISSION_DENIED, "origin '" + origin
          + "' is not allowed (transcoding.cors.allowOrigins)", null, null);
      return;
    }
    String method = request.headers().get(HttpHeaderNames.ACCESS_CONTROL_REQUEST_METHOD)
        .strip().toUpperCase(Locale.ROOT);
    Descriptors.Snapshot current = service.snapshot();
    RouteMatch match = current.table().match(method, request.rawPath());
    java.util.Set<String> methods = match.kind() == RouteMatch.Kind.FOUND
        ? java.util.Set.of(method) : match.allowedMethods();
    if (match.kind() == RouteMatch.Kind.NOT_FOUND) {
      error(HttpResponseStatus.NOT_FOUND, Status.Code.NOT_FOUND, "no REST route for "
          + request.rawPath(), null, null);
      return;
    }
    if (match.kind() != RouteMatch.Kind.FOUND || !cors.allowsMethod(method)) {
      error(HttpResponseStatus.FORBIDDEN, Status.Code.PERMISSION_DENIED, "method " + method
          + " is not allowed on " + request.rawPath() + " for cross-origin requests", null,
          null);
      return;
    }
    answerPreflight(cors, origin, methods);
  }

  private static boolean accepts(String accept, String type) {
    return accept != null && accept.toLowerCase(Locale.ROOT).contains(type);
  }

  // ---- Client side events ------------------------------------------------------------------

  // ---- Response ----------------------------------------------------------------------------

  private final class Listener extends UpstreamListener {
    @Override
    public void onMessage(byte[] message) {
      if (finished) {
        return;
      }
      if (!httpRoute.serverStreaming()) {
        unaryResponse = message;
        call.request(1);
        return;
      }
      JsonTranscoder.Body body;
      try {
        body = snapshot.transcoder().response(httpRoute, message, json);
      } catch (InvalidProtocolBufferException e) {
        call.cancel("the gateway cannot read the response", e);
        return;
      }
      if (!streamStarted) {
        startStream(body);
      }
      record.responseMessage(body.bytes().length);
      out.sendChunk(frame(body));
      askForMore();
    }

    @Override
    public void onClose(Status status, Metadata trailers) {
      if (finished) {
        return;
      }
      finished = true;
      status = admission.upstreamClosed(status, responseHeaders != null, trailers);
      if (logger.isLoggable(Level.FINE)) {
        logger.fine(request.method() + " " + request.rawPath() + " -> "
            + httpRoute.grpcPath() + " (" + admission.route().name() + "): " + status);
      }
      if (streamStarted) {
        if (!status.isOk()) {
          out.sendChunk(errorFrame(status, trailers));
        }
        HttpHeaders trailerHeaders = new DefaultHttpHeaders();
        HttpMetadata.addTo(trailers, trailerHeaders);
        record.finish(status.getCode(), HttpResponseStatus.OK.code());
        out.endStream(trailerHeaders);
        return;
      }
      if (!status.isOk()) {
        failed(status, trailers);
        return;
      }
      if (httpRoute.serverStreaming()) {
        // A stream without messages: an empty body of the stream's type.
        HttpHeaders headers = responseHeaders(sse ? EVENT_STREAM : NDJSON);
        HttpMetadata.addTo(trailers, headers);
        record.finish(Status.Code.OK, HttpResponseStatus.OK.code());
        out.respond(HttpResponseStatus.OK, headers, Unpooled.EMPTY_BUFFER);
        return;
      }
      if (unaryResponse == null) {
        error(HttpResponseStatus.INTERNAL_SERVER_ERROR, Status.Code.INTERNAL, "the backend"
            + " ended " + httpRoute.method().getFullName() + " without a response", null, null);
        return;
      }
      JsonTranscoder.Body body;
      try {
        body = snapshot.transcoder().response(httpRoute, unaryResponse, json);
      } catch (InvalidProtocolBufferException e) {
        error(HttpResponseStatus.INTERNAL_SERVER_ERROR, Status.Code.INTERNAL, "the backend's"
            + " response is not a valid " + httpRoute.responseType().getFullName() + ": "
            + e.getMessage(), null, null);
        return;
      }
      HttpHeaders headers = responseHeaders(body.contentType());
      HttpMetadata.addTo(trailers, headers);
      headers.setInt(HttpHeaderNames.CONTENT_LENGTH, body.bytes().length);
      record.responseMessage(body.bytes().length);
      record.finish(Status.Code.OK, HttpResponseStatus.OK.code());
      out.respond(HttpResponseStatus.OK, headers, Unpooled.wrappedBuffer(body.bytes()));
    }
  }

  private void startStream(JsonTranscoder.Body first) {
    streamStarted = true;
    rawStream = !first.contentType().equals("application/json");
    HttpHeaders headers = responseHeaders(rawStream ? first.contentType()
        : sse ? EVENT_STREAM : NDJSON);
    if (sse) {
      headers.set(HttpHeaderNames.CACHE_CONTROL, "no-cache");
    }
    out.startStream(HttpResponseStatus.OK, headers);
  }

  /** One streamed message: a JSON line, an SSE event, or raw bytes of an HttpBody. */
  private ByteBuf frame(JsonTranscoder.Body body) {
    if (rawStream) {
      return Unpooled.wrappedBuffer(body.bytes());
    }
    if (sse) {
      return Unpooled.wrappedBuffer(DATA_PREFIX, body.bytes(), EVENT_END);
    }
    return Unpooled.wrappedBuffer(body.bytes(), NEWLINE);
  }

  private static final byte[] DATA_PREFIX = "data: ".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] EVENT_END = "\n\n".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] NEWLINE = "\n".getBytes(StandardCharsets.US_ASCII);

  /** The final object of a stream that failed after its first message. */
  private ByteBuf errorFrame(Status status, Metadata trailers) {
    String error = statusJson(status, trailers);
    String text = sse ? "event: error\ndata: " + error + "\n\n"
        : rawStream ? "" : "{\"error\":" + error + "}\n";
    return Unpooled.wrappedBuffer(text.getBytes(StandardCharsets.UTF_8));
  }

  private HttpHeaders responseHeaders(String contentType) {
    HttpHeaders headers = new DefaultHttpHeaders();
    headers.set(HttpHeaderNames.CONTENT_TYPE, contentType);
    HttpMetadata.addTo(responseHeaders, headers);
    if (rateLimitHeaders != null) {
      headers.add(rateLimitHeaders);
    }
    if (corsOrigin != null) {
      service.cors().addResponseHeaders(corsOrigin, headers);
    }
    return headers;
  }

  private String statusJson(Status status, Metadata trailers) {
    return StatusJson.render(status.getCode().value(), status.getDescription(),
        trailers == null ? null : trailers.get(STATUS_DETAILS),
        snapshot == null ? service.snapshot().pool().typeRegistry()
            : snapshot.pool().typeRegistry());
  }

  /** A failed call: the status as HTTP status and {@code google.rpc.Status} JSON. */
  private void failed(Status status, Metadata trailers) {
    HttpHeaders headers = new DefaultHttpHeaders();
    HttpMetadata.addTo(responseHeaders, headers);
    HttpMetadata.addTo(trailers, headers);
    byte[] details = trailers.get(STATUS_DETAILS);
    if (status.getCode() == Status.Code.RESOURCE_EXHAUSTED) {
      long retryAfter = retryAfterSeconds(details);
      if (retryAfter >= 0) {
        headers.set(HttpHeaderNames.RETRY_AFTER, retryAfter);
      }
    }
    error(HttpResponseStatus.valueOf(StatusJson.httpStatus(status.getCode().value())),
        status.getCode(), status.getDescription(), details, headers);
  }

  /** The delay of a {@code google.rpc.RetryInfo} detail, rounded up; -1 without one. */
  private static long retryAfterSeconds(byte[] details) {
    if (details == null) {
      return -1;
    }
    try {
      for (Any detail : com.google.rpc.Status.parseFrom(details).getDetailsList()) {
        if (detail.is(RetryInfo.class)) {
          com.google.protobuf.Duration delay = detail.unpack(RetryInfo.class).getRetryDelay();
          return delay.getSeconds() + (delay.getNanos() > 0 ? 1 : 0);
        }
      }
    } catch (InvalidProtocolBufferException e) {
      // No usable detail.
    }
    return -1;
  }

  /** Answers with an error; {@code extra} headers (or null) are added. */
  private void error(HttpResponseStatus status, Status.Code code, String message,
      byte[] details, HttpHeaders extra) {
    finished = true;
    HttpHeaders headers = new DefaultHttpHeaders();
    if (extra != null) {
      headers.add(extra);
    }
    headers.set(HttpHeaderNames.CONTENT_TYPE, "application/json");
    if (rateLimitHeaders != null) {
      headers.add(rateLimitHeaders);
    }
    if (code == Status.Code.UNAUTHENTICATED && !headers.contains(HttpHeaderNames.WWW_AUTHENTICATE)) {
      headers.set(HttpHeaderNames.WWW_AUTHENTICATE, "Bearer");
    }
    if (corsOrigin != null) {
      service.cors().addResponseHeaders(corsOrigin, headers);
    }
    byte[] body = StatusJson.render(code.value(), message, details,
        (snapshot == null ? service.snapshot() : snapshot).pool().typeRegistry())
        .getBytes(StandardCharsets.UTF_8);
    headers.setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
    record.finish(code, status.code());
    out.respond(status, headers, Unpooled.wrappedBuffer(body));
  }
}
