package io.meshgate.gateway.connect;

import com.google.gson.JsonObject;
import com.google.protobuf.Descriptors.MethodDescriptor;
import com.google.protobuf.Descriptors.ServiceDescriptor;
import com.google.protobuf.InvalidProtocolBufferException;
import io.grpc.Metadata;
import io.grpc.Status;
import io.meshgate.gateway.call.GrpcMetadata;
import io.meshgate.gateway.descriptors.Descriptors;
import io.meshgate.gateway.http.HttpRequest;
import io.meshgate.gateway.http.HttpResponder;
import io.meshgate.gateway.http.UpstreamHttpCall;
import io.meshgate.gateway.resilience.RetryPolicy;
import io.meshgate.gateway.route.Admission;
import io.meshgate.transcoder.JsonOptions;
import io.meshgate.transcoder.TranscodingException;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * One Connect call. Unary: the body (or the {@code message} query parameter of a GET) is the
 * request message; the answer is the response message with HTTP 200, or Connect's JSON error
 * with the HTTP status of its code, trailers as {@code trailer-} headers. Streaming: enveloped
 * messages both ways, each response message written as the backend sends it (and the next asked
 * for only while the client keeps up), then the end-of-stream envelope with the error, if any,
 * and the trailers. Only on the client connection's event loop.
 */
final class ConnectCall extends UpstreamHttpCall {
  private static final int GZIP_MIN_BYTES = 1024;
  private static final Metadata.Key<byte[]> STATUS_DETAILS =
      Metadata.Key.of("grpc-status-details-bin", Metadata.BINARY_BYTE_MARSHALLER);
  private static final String ACCEPT_POST = "application/proto, application/json,"
      + " application/connect+proto, application/connect+json";

  private final ConnectService service;
  private final boolean streamed;

  // Only on the event loop.
  private boolean streaming;
  private boolean json;
  private boolean gzipResponse;
  private Descriptors.Snapshot snapshot;
  private MethodDescriptor method;
  private Admission admission;
  private byte[] unaryResponse;
  private boolean started;

  /** @param streamed whether the body streams in ({@link #onRequestData}) after start */
  ConnectCall(ConnectService service, HttpRequest request, HttpResponder out, boolean streamed) {
    super(service.admission().record("connect", request), request, out);
    this.service = service;
    this.streamed = streamed;
  }

  @Override
  public void tooLarge(int limit) {
    corsOrigin(service.cors());
    fail(Status.RESOURCE_EXHAUSTED.withDescription("the request body is larger than the"
        + " gateway accepts (limits.maxRequestBodyBytes: " + limit + " bytes)"), null, null);
  }

  @Override
  public void start() {
    String origin = corsOrigin(service.cors());
    if (request.method().equals("OPTIONS")) {
      preflight(origin);
      return;
    }
    try {
      run();
    } catch (ConnectWire.Malformed e) {
      fail(e.status(), null, null);
    }
  }

  private void run() throws ConnectWire.Malformed {
    String version = request.headers().get("connect-protocol-version");
    if (version != null && !version.strip().equals("1")) {
      throw new ConnectWire.Malformed(Status.Code.INVALID_ARGUMENT, "Connect-Protocol-Version '"
          + version + "' is not supported (supported: 1)");
    }
    boolean get = request.method().equals("GET");
    if (!get && !request.method().equals("POST")) {
      throw new ConnectWire.Malformed(Status.Code.UNIMPLEMENTED, "Connect calls are POST (or GET"
          + " for methods without side effects), this was " + request.method());
    }
    String path = request.rawPath();
    int slash = path.indexOf('/', 1);
    if (!path.startsWith("/") || slash < 2 || slash == path.length() - 1
        || path.indexOf('/', slash + 1) >= 0) {
      throw new ConnectWire.Malformed(Status.Code.UNIMPLEMENTED, "malformed method name '" + path
          + "' (expected: /package.Service/Method)");
    }
    String fullMethod = path.substring(1);
    String serviceName = fullMethod.substring(0, slash - 1);
    String methodName = fullMethod.substring(slash);
    Map<String, String> query = get ? query(request.rawQuery()) : Map.of();
    String encoding;
    if (get) {
      encoding = query.getOrDefault("encoding", "");
      if (!encoding.equals("proto") && !encoding.equals("json")) {
        throw new ConnectWire.Malformed(Status.Code.INVALID_ARGUMENT, "a Connect GET names its"
            + " encoding=proto or encoding=json, this one '" + encoding + "'");
      }
    } else {
      String type = contentType();
      streaming = type.startsWith("application/connect+");
      encoding = type.substring(type.indexOf(streaming ? '+' : '/') + 1);
      if (!encoding.equals("proto") && !encoding.equals("json")) {
        unsupportedMediaType(type);
        return;
      }
    }
    json = encoding.equals("json");
    snapshot = service.snapshot();
    ServiceDescriptor descriptor = snapshot.pool().services().get(serviceName);
    method = descriptor == null ? null : descriptor.findMethodByName(methodName);
    if ((json || get) && method == null) {
      throw new ConnectWire.Malformed(Status.Code.UNIMPLEMENTED, (json ? "JSON" : "GET")
          + " for " + fullMethod + " needs its descriptor, and none is loaded: "
          + (service.hasDescriptorSources() ? "add the file that defines " + serviceName
              + " to transcoding.descriptors (or its server to transcoding.reflection)"
              : "configure transcoding.descriptors or transcoding.reflection")
          + (json ? ", or call with application/proto" : ", or call with POST"));
    }
    if (get && method.getOptions().getIdempotencyLevel()
        != com.google.protobuf.DescriptorProtos.MethodOptions.IdempotencyLevel.NO_SIDE_EFFECTS) {
      throw new ConnectWire.Malformed(Status.Code.UNIMPLEMENTED, fullMethod + " may have side"
          + " effects (its idempotency_level is not NO_SIDE_EFFECTS): call it with POST");
    }

    admission = service.admission().admit(record, request, serviceName, methodName);
    if (admission.refusal() != null) {
      Admission.Refusal refusal = admission.refusal();
      HttpHeaders extra = new DefaultHttpHeaders();
      if (refusal.challenge() != null) {
        extra.set(HttpHeaderNames.WWW_AUTHENTICATE, refusal.challenge());
      }
      if (refusal.reason() == Admission.Reason.RATE_LIMIT && admission.rateLimit() != null) {
        extra.set(HttpHeaderNames.RETRY_AFTER, admission.rateLimit().retryAfterSeconds());
      }
      fail(refusal.status(), refusal.statusDetails(), extra);
      return;
    }
    int limit = service.limits().maxMessageBytes();
    List<byte[]> messages;
    if (get) {
      messages = List.of(getMessage(query, limit));
    } else if (streamed) {
      messages = List.of(); // they come with the body, after the call is open
    } else if (streaming) {
      messages = ConnectWire.envelopes(request.body(),
          request.headers().get("connect-content-encoding"), limit);
    } else {
      byte[] body = ConnectWire.decompress(request.headers().get(HttpHeaderNames.CONTENT_ENCODING),
          request.body(), limit);
      if (body.length > limit) {
        throw new ConnectWire.Malformed(Status.Code.RESOURCE_EXHAUSTED, "the request message of "
            + body.length + " bytes is larger than the gateway accepts (limits.maxMessageBytes: "
            + limit + ")");
      }
      messages = List.of(body);
    }
    if (json) {
      List<byte[]> binary = new ArrayList<>(messages.size());
      for (byte[] message : messages) {
        try {
          binary.add(snapshot.transcoder().message(method.getInputType(), message));
        } catch (TranscodingException e) {
          throw new ConnectWire.Malformed(Status.Code.INVALID_ARGUMENT, "the request is not a "
              + method.getInputType().getFullName() + " in JSON: " + e.getMessage());
        }
      }
      messages = binary;
    }
    gzipResponse = !streaming && ConnectWire.acceptsGzip(
        request.headers().get(HttpHeaderNames.ACCEPT_ENCODING));
    long timeout = ConnectWire.timeoutNanos(request.headers().get("connect-timeout-ms"));
    Metadata metadata = GrpcMetadata.toMetadata(request.headers(), request.clientAddress(),
        ConnectService.PROTOCOL_HEADERS);
    if (metadata == null) {
      throw new ConnectWire.Malformed(Status.Code.INVALID_ARGUMENT, "a binary (-bin) header is"
          + " not valid base64");
    }
    call = admission.open(bytesMethod(fullMethod), metadata, timeout, null,
        request.authority(), out.executor(), RetryPolicy.Replay.BYTE_ARRAYS,
        RetryPolicy.Replay.BYTE_ARRAYS, new Listener());
    if (streamed) {
      streamRequest(limit);
    } else {
      sendAll(messages);
    }
  }

  @Override
  protected byte[] streamedMessage(int flags, byte[] data) throws io.grpc.StatusException {
    try {
      byte[] message = ConnectWire.envelopeData(flags, data,
          request.headers().get("connect-content-encoding"), service.limits().maxMessageBytes());
      return json ? snapshot.transcoder().message(method.getInputType(), message) : message;
    } catch (ConnectWire.Malformed e) {
      throw e.status().asException();
    } catch (TranscodingException e) {
      throw Status.INVALID_ARGUMENT.withDescription("the request is not a "
          + method.getInputType().getFullName() + " in JSON: " + e.getMessage()).asException();
    }
  }

  @Override
  protected void rejectStream(Status status) {
    if (!finished) {
      fail(status, null, null);
      call.cancel(status.getDescription(), null);
    }
  }

  private String contentType() {
    String type = request.headers().get(HttpHeaderNames.CONTENT_TYPE);
    type = type == null ? "" : type.toLowerCase(Locale.ROOT);
    int semicolon = type.indexOf(';');
    return (semicolon < 0 ? type : type.substring(0, semicolon)).strip();
  }

  /** The message of a GET: {@code message}, maybe base64url ({@code base64=1}) and gzip. */
  private static byte[] getMessage(Map<String, String> query, int limit)
      throws ConnectWire.Malformed {
    String message = query.get("message");
    if (message == null) {
      throw new ConnectWire.Malformed(Status.Code.INVALID_ARGUMENT, "a Connect GET carries its"
          + " request in the message query parameter");
    }
    byte[] bytes;
    if ("1".equals(query.get("base64"))) {
      try {
        bytes = Base64.getUrlDecoder().decode(message.replace('+', '-').replace('/', '_')
            .replace("=", ""));
      } catch (IllegalArgumentException e) {
        throw new ConnectWire.Malformed(Status.Code.INVALID_ARGUMENT, "message is not base64url:"
            + " " + e.getMessage());
      }
    } else {
      bytes = message.getBytes(StandardCharsets.UTF_8);
    }
    return ConnectWire.decompress(query.get("compression"), bytes, limit);
  }

  private static Map<String, String> query(String raw) throws ConnectWire.Malformed {
    Map<String, String> query = new HashMap<>();
    if (raw == null) {
      return query;
    }
    try {
      for (String part : raw.split("&")) {
        int equals = part.indexOf('=');
        String name = URLDecoder.decode(equals < 0 ? part : part.substring(0, equals),
            StandardCharsets.UTF_8);
        String value = equals < 0 ? "" : URLDecoder.decode(part.substring(equals + 1),
            StandardCharsets.UTF_8);
        query.putIfAbsent(name, value);
      }
    } catch (IllegalArgumentException e) {
      throw new ConnectWire.Malformed(Status.Code.INVALID_ARGUMENT, "the query string is not"
          + " percent-encoded: " + e.getMessage());
    }
    return query;
  }

  private void preflight(String origin) {
    if (service.cors() == null || origin == null || !service.cors().allows(origin)) {
      plain(HttpResponseStatus.FORBIDDEN, service.cors() == null
          ? "cross-origin Connect calls need transcoding.cors in the gateway's configuration"
          : "origin '" + origin + "' is not allowed (transcoding.cors.allowOrigins)");
      return;
    }
    answerPreflight(service.cors(), origin, java.util.Set.of("POST", "GET"));
  }

  private final class Listener extends UpstreamListener {
    @Override
    public void onMessage(byte[] message) {
      if (finished) {
        return;
      }
      byte[] encoded;
      try {
        encoded = json ? snapshot.transcoder().json(method.getOutputType(), message,
            jsonOptions()) : message;
      } catch (InvalidProtocolBufferException e) {
        call.cancel("the gateway cannot read the response", e);
        return;
      }
      record.responseMessage(message.length);
      if (!streaming) {
        if (unaryResponse != null) {
          call.cancel("a unary method answered with more than one message", null);
          return;
        }
        unaryResponse = encoded;
        call.request(1);
        return;
      }
      startStream();
      out.sendChunk(Unpooled.wrappedBuffer(ConnectWire.envelope(0, encoded)));
      askForMore();
    }

    @Override
    public void onClose(Status status, Metadata trailers) {
      if (finished) {
        return;
      }
      status = admission.upstreamClosed(status, responseHeaders != null, trailers);
      if (streaming) {
        startStream();
        finished = true;
        JsonObject end = new JsonObject();
        if (!status.isOk()) {
          end.add("error", ConnectWire.error(status, trailers.get(STATUS_DETAILS),
              snapshot.pool().typeRegistry()));
        }
        JsonObject metadata = ConnectWire.metadataJson(trailers);
        if (metadata.size() > 0) {
          end.add("metadata", metadata);
        }
        out.sendChunk(Unpooled.wrappedBuffer(ConnectWire.envelope(ConnectWire.END_STREAM,
            ConnectWire.utf8(end))));
        record.finish(status.getCode(), HttpResponseStatus.OK.code());
        out.endStream(new DefaultHttpHeaders());
        return;
      }
      if (!status.isOk()) {
        fail(status, trailers.get(STATUS_DETAILS), trailerHeaders(trailers));
        return;
      }
      if (unaryResponse == null) {
        fail(Status.INTERNAL.withDescription("the backend ended a unary call without a"
            + " response"), null, trailerHeaders(trailers));
        return;
      }
      finished = true;
      HttpHeaders headers = headers(json ? "application/json" : "application/proto");
      headers.add(trailerHeaders(trailers));
      byte[] body = unaryResponse;
      if (gzipResponse && body.length >= GZIP_MIN_BYTES) {
        body = ConnectWire.gzip(body);
        headers.set(HttpHeaderNames.CONTENT_ENCODING, "gzip");
      }
      headers.setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
      record.finish(Status.Code.OK, HttpResponseStatus.OK.code());
      out.respond(HttpResponseStatus.OK, headers, Unpooled.wrappedBuffer(body));
    }
  }

  private JsonOptions jsonOptions() {
    return service.transcoding().rest().json();
  }

  private void startStream() {
    if (!started) {
      started = true;
      out.startStream(HttpResponseStatus.OK,
          headers(json ? "application/connect+json" : "application/connect+proto"));
    }
  }

  /** Response headers: content type, the backend's metadata, CORS. */
  private HttpHeaders headers(String contentType) {
    HttpHeaders headers = new DefaultHttpHeaders();
    headers.set(HttpHeaderNames.CONTENT_TYPE, contentType);
    for (Map.Entry<CharSequence, CharSequence> header : ConnectWire.headers(responseHeaders)) {
      headers.add(header.getKey(), header.getValue());
    }
    if (corsOrigin != null) {
      service.cors().addResponseHeaders(corsOrigin, headers);
    }
    return headers;
  }

  /** A unary call's trailers, as {@code trailer-} headers. */
  private static HttpHeaders trailerHeaders(Metadata trailers) {
    HttpHeaders headers = new DefaultHttpHeaders();
    for (Map.Entry<CharSequence, CharSequence> header : ConnectWire.headers(trailers)) {
      headers.add("trailer-" + header.getKey(), header.getValue());
    }
    return headers;
  }

  /**
   * A failed call: for unary calls Connect's JSON error with its HTTP status, for streams HTTP
   * 200 and the error in the end-of-stream envelope.
   */
  private void fail(Status status, byte[] details, HttpHeaders extra) {
    finished = true;
    JsonObject error = ConnectWire.error(status, details,
        (snapshot == null ? service.snapshot() : snapshot).pool().typeRegistry());
    if (streaming) {
      if (!started) {
        started = true;
        HttpHeaders headers = headers(json ? "application/connect+json"
            : "application/connect+proto");
        if (extra != null) {
          headers.add(extra);
        }
        out.startStream(HttpResponseStatus.OK, headers);
      }
      JsonObject end = new JsonObject();
      end.add("error", error);
      out.sendChunk(Unpooled.wrappedBuffer(ConnectWire.envelope(ConnectWire.END_STREAM,
          ConnectWire.utf8(end))));
      record.finish(status.getCode(), HttpResponseStatus.OK.code());
      out.endStream(new DefaultHttpHeaders());
      return;
    }
    HttpHeaders headers = headers("application/json");
    if (extra != null) {
      headers.add(extra);
    }
    byte[] body = ConnectWire.utf8(error);
    headers.setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
    int http = ConnectWire.httpStatus(status.getCode());
    record.finish(status.getCode(), http);
    out.respond(HttpResponseStatus.valueOf(http), headers, Unpooled.wrappedBuffer(body));
  }

  private void unsupportedMediaType(String type) {
    finished = true;
    HttpHeaders headers = new DefaultHttpHeaders().set("accept-post", ACCEPT_POST);
    plainWith(HttpResponseStatus.UNSUPPORTED_MEDIA_TYPE, "content-type '" + type
        + "' is not a Connect content type (supported: " + ACCEPT_POST + ")", headers);
  }

  private void plain(HttpResponseStatus status, String message) {
    plainWith(status, message, new DefaultHttpHeaders());
  }

  private void plainWith(HttpResponseStatus status, String message, HttpHeaders headers) {
    finished = true;
    byte[] body = (message + "\n").getBytes(StandardCharsets.UTF_8);
    headers.set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8");
    headers.setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
    if (corsOrigin != null) {
      service.cors().addResponseHeaders(corsOrigin, headers);
    }
    record.finish(Status.Code.INVALID_ARGUMENT, status.code());
    out.respond(status, headers, Unpooled.wrappedBuffer(body));
  }
}
