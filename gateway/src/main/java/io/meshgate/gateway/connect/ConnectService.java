package io.meshgate.gateway.connect;

import io.meshgate.gateway.config.GatewayConfig;
import io.meshgate.gateway.descriptors.Descriptors;
import io.meshgate.gateway.http.Cors;
import io.meshgate.gateway.http.HttpAdapter;
import io.meshgate.gateway.http.HttpCall;
import io.meshgate.gateway.http.HttpMetadata;
import io.meshgate.gateway.http.HttpRequest;
import io.meshgate.gateway.http.HttpResponder;
import io.meshgate.gateway.route.CallAdmission;
import io.netty.util.AsciiString;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The Connect protocol adapter (connectrpc.com): unary calls as plain HTTP ({@code POST} with
 * {@code application/proto} or {@code application/json}, or {@code GET} for methods without
 * side effects) and streams of enveloped messages ({@code application/connect+proto},
 * {@code +json}), over HTTP/1.1 and HTTP/2, to the same routes and through the same admission
 * chain as native gRPC. {@code proto} passes bytes through and needs no descriptors; JSON is
 * converted by the transcoder's codec with the loaded descriptors. Thread-safe.
 */
public final class ConnectService implements HttpAdapter {
  /** The headers of the Connect protocol and the browser's own, which are no metadata. */
  static final Set<AsciiString> PROTOCOL_HEADERS = HttpMetadata.browserHeadersAnd(
      "connect-protocol-version", "connect-timeout-ms", "connect-content-encoding",
      "connect-accept-encoding", "content-encoding");

  private final CallAdmission admission;
  private final Descriptors descriptors;
  private final GatewayConfig.Transcoding transcoding;
  private final GatewayConfig.Limits limits;
  private final Cors cors;

  /** @param descriptors the loaded descriptors (for JSON and GET), or null without any */
  public ConnectService(CallAdmission admission, Descriptors descriptors,
      GatewayConfig.Transcoding transcoding, GatewayConfig.Limits limits) {
    this.admission = admission;
    this.descriptors = descriptors;
    this.transcoding = transcoding;
    this.limits = limits;
    this.cors = transcoding.cors() == null ? null : new Cors(transcoding.cors())
        .withProtocolHeaders(List.of("connect-protocol-version", "connect-timeout-ms",
            "content-type", "connect-content-encoding", "connect-accept-encoding",
            "content-encoding", "accept-encoding"), List.of("content-encoding",
            "connect-content-encoding", "grpc-status", "grpc-message"));
  }

  /**
   * Whether a request is a Connect call: a streaming content type
   * ({@code application/connect+...}), the {@code Connect-Protocol-Version} header, a
   * {@code GET} with {@code connect=v1}, an {@code application/proto} body (which REST never
   * takes), or a CORS preflight asking for {@code connect-protocol-version}.
   */
  public static boolean isConnect(CharSequence method, CharSequence contentType,
      CharSequence protocolVersion, CharSequence rawQuery, CharSequence preflightHeaders) {
    if (protocolVersion != null) {
      return true;
    }
    if (contentType != null) {
      String type = contentType.toString().toLowerCase(Locale.ROOT);
      if (type.startsWith("application/connect+") || type.startsWith("application/proto")) {
        return true;
      }
    }
    if (method != null && "GET".contentEquals(method) && rawQuery != null) {
      for (String part : rawQuery.toString().split("&")) {
        if (part.equals("connect=v1")) {
          return true;
        }
      }
    }
    return method != null && "OPTIONS".contentEquals(method) && preflightHeaders != null
        && preflightHeaders.toString().toLowerCase(Locale.ROOT)
            .contains("connect-protocol-version");
  }

  @Override
  public HttpCall newCall(HttpRequest request, HttpResponder responder) {
    return new ConnectCall(this, request, responder, false);
  }

  /** Connect streams ({@code application/connect+...}) over HTTP/2 flow both ways at once. */
  @Override
  public boolean streamsRequest(HttpRequest.Headers headers) {
    String type = headers.get("content-type");
    return type != null && type.toLowerCase(Locale.ROOT).startsWith("application/connect+");
  }

  @Override
  public HttpCall newStreamingCall(HttpRequest request, HttpResponder responder) {
    return new ConnectCall(this, request, responder, true);
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

  /** The descriptors loaded now (empty without any). */
  Descriptors.Snapshot snapshot() {
    return descriptors == null ? Descriptors.Snapshot.empty() : descriptors.snapshot();
  }

  /** Whether descriptors are configured at all (they may still be loading). */
  boolean hasDescriptorSources() {
    return descriptors != null;
  }

  GatewayConfig.Transcoding transcoding() {
    return transcoding;
  }

  Cors cors() {
    return cors;
  }
}
