package io.meshgate.gateway.grpcweb;

import io.meshgate.gateway.config.GatewayConfig;
import io.meshgate.gateway.http.Cors;
import io.meshgate.gateway.http.Http2Exchange;
import io.meshgate.gateway.http.HttpAdapter;
import io.meshgate.gateway.http.HttpCall;
import io.meshgate.gateway.http.HttpRequest;
import io.meshgate.gateway.http.HttpResponder;
import io.meshgate.gateway.netty.ConnectionGuard;
import io.meshgate.gateway.netty.Http2StreamHandler;
import io.meshgate.gateway.route.CallAdmission;
import io.netty.util.AsciiString;
import java.util.List;
import java.util.Locale;

/**
 * The gRPC-Web adapter: browsers' gRPC ({@code application/grpc-web}, {@code -text}, and their
 * {@code +proto} forms) over HTTP/1.1 and HTTP/2, to the same routes and through the same
 * admission chain as native gRPC. Messages pass as bytes; no descriptors are needed.
 * Thread-safe.
 */
public final class GrpcWebService implements HttpAdapter {
  private static final String CONTENT_TYPE = "application/grpc-web";
  /** The headers a gRPC-Web client sends that are its protocol's, not metadata. */
  static final java.util.Set<AsciiString> PROTOCOL_HEADERS =
      io.meshgate.gateway.http.HttpMetadata.browserHeadersAnd("x-grpc-web", "x-user-agent");

  private final CallAdmission admission;
  private final GatewayConfig.Limits limits;
  private final Cors cors;

  /** @param cors the configured CORS policy ({@code transcoding.cors}), or null */
  public GrpcWebService(CallAdmission admission, GatewayConfig.Limits limits,
      GatewayConfig.Cors cors) {
    this.admission = admission;
    this.limits = limits;
    this.cors = cors == null ? null : new Cors(cors).withProtocolHeaders(
        List.of("x-grpc-web", "x-user-agent", "grpc-timeout", "content-type"),
        List.of("grpc-status", "grpc-message", "grpc-status-details-bin"));
  }

  /** Whether {@code contentType} is one of gRPC-Web's. */
  public static boolean isGrpcWeb(CharSequence contentType) {
    if (contentType == null || contentType.length() < CONTENT_TYPE.length()) {
      return false;
    }
    if (!AsciiString.regionMatches(contentType, true, 0, CONTENT_TYPE, 0,
        CONTENT_TYPE.length())) {
      return false;
    }
    if (contentType.length() == CONTENT_TYPE.length()) {
      return true;
    }
    char next = contentType.charAt(CONTENT_TYPE.length());
    return next == '+' || next == ';' || next == '-';
  }

  /**
   * Whether a CORS preflight is for a gRPC-Web call: its {@code Access-Control-Request-Headers}
   * name {@code x-grpc-web}, which every gRPC-Web client sends.
   */
  public static boolean isPreflight(CharSequence method, CharSequence requestHeaders) {
    return method != null && "OPTIONS".contentEquals(method) && requestHeaders != null
        && requestHeaders.toString().toLowerCase(Locale.ROOT).contains("x-grpc-web");
  }

  /** A handler for an HTTP/2 stream that carries a gRPC-Web call. */
  public Http2StreamHandler newStreamHandler(ConnectionGuard guard, long openedNanos) {
    return new Http2Exchange(this, guard, openedNanos);
  }

  @Override
  public HttpCall newCall(HttpRequest request, HttpResponder responder) {
    return new GrpcWebCall(this, request, responder, false);
  }

  /** Binary gRPC-Web over HTTP/2 streams both ways at once; base64 text is read whole. */
  @Override
  public boolean streamsRequest(HttpRequest.Headers headers) {
    String type = headers.get("content-type");
    return isGrpcWeb(type) && !type.toLowerCase(Locale.ROOT).contains("grpc-web-text");
  }

  @Override
  public HttpCall newStreamingCall(HttpRequest request, HttpResponder responder) {
    return new GrpcWebCall(this, request, responder, true);
  }

  @Override
  public int maxRequestBodyBytes() {
    return limits.maxRequestBodyBytes();
  }

  CallAdmission admission() {
    return admission;
  }

  GatewayConfig.Limits limits() {
    return limits;
  }

  /** The CORS policy with gRPC-Web's headers, or null. */
  Cors cors() {
    return cors;
  }
}
