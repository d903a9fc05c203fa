package io.meshgate.gateway.front;

import io.meshgate.gateway.connect.ConnectService;
import io.meshgate.gateway.grpcweb.GrpcWebService;
import io.meshgate.gateway.http.HttpAdapter;
import io.meshgate.gateway.proxy.ProxyService;
import io.meshgate.gateway.rest.RestService;
import io.meshgate.gateway.websocket.WebSocketService;
import io.netty.handler.codec.http.HttpHeaderNames;
import java.util.function.Function;

/**
 * The protocol adapters of the one port, and which of them a request is for: native gRPC by its
 * {@code application/grpc} content type; gRPC-Web by {@code application/grpc-web*}; Connect by
 * its headers, content types or {@code GET ?connect=v1} ({@link ConnectService#isConnect});
 * REST/JSON for anything else; an HTTP/1.1 {@code Upgrade: websocket} on a REST route is a
 * WebSocket stream. CORS preflights go where the headers they ask for point.
 */
public record Adapters(ProxyService proxy, RestService rest, GrpcWebService grpcWeb,
    ConnectService connect, WebSocketService webSocket) {
  /**
   * The adapter for a whole-request call (never the native proxy).
   *
   * @param header a request header by name, or null
   * @param target the request target (path and query)
   */
  HttpAdapter forHttp(CharSequence method, CharSequence target,
      Function<CharSequence, CharSequence> header) {
    CharSequence contentType = header.apply(HttpHeaderNames.CONTENT_TYPE);
    CharSequence preflight = header.apply(HttpHeaderNames.ACCESS_CONTROL_REQUEST_HEADERS);
    if (GrpcWebService.isGrpcWeb(contentType) || GrpcWebService.isPreflight(method, preflight)) {
      return grpcWeb;
    }
    String text = target == null ? "" : target.toString();
    int question = text.indexOf('?');
    if (ConnectService.isConnect(method, contentType, header.apply("connect-protocol-version"),
        question < 0 ? null : text.substring(question + 1), preflight)) {
      return connect;
    }
    return rest;
  }

  /** As {@link #forHttp(CharSequence, CharSequence, Function)}, from HTTP/2 headers. */
  HttpAdapter forHttp(io.netty.handler.codec.http2.Http2Headers headers) {
    return forHttp(headers.method(), headers.path(), headers::get);
  }
}
