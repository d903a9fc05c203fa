package io.meshgate.gateway.proxy;

import io.meshgate.gateway.config.GatewayConfig;
import io.meshgate.gateway.front.ConnectionGuard;
import io.meshgate.gateway.route.RouteTable;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.ChannelHandler;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http2.Http2Headers;
import java.util.function.Supplier;

/**
 * What every proxied gRPC stream shares: the current route table, the limits and the pass-through
 * marshaller. Thread-safe; the route table is read once per call, so a swap never affects a call
 * in flight.
 */
public final class ProxyService {
  private final Supplier<RouteTable> routes;
  private final GatewayConfig.Limits limits;
  private final RawMarshaller marshaller;
  private final ByteBufAllocator allocator;

  public ProxyService(Supplier<RouteTable> routes, GatewayConfig.Limits limits,
      ByteBufAllocator allocator) {
    this.routes = routes;
    this.limits = limits;
    this.allocator = allocator;
    this.marshaller = new RawMarshaller(allocator);
  }

  /** Whether request headers are a gRPC call (content-type {@code application/grpc*}). */
  public static boolean isGrpc(Http2Headers headers) {
    return GrpcWire.isGrpcContentType(headers.get(HttpHeaderNames.CONTENT_TYPE));
  }

  /** Whether an HTTP/1.1 content-type names gRPC. */
  public static boolean isGrpcContentType(CharSequence contentType) {
    return GrpcWire.isGrpcContentType(contentType);
  }

  /**
   * A handler for one HTTP/2 stream that carries a gRPC call.
   *
   * @param guard the connection's rapid-reset guard
   * @param openedNanos {@link System#nanoTime()} when the stream opened
   */
  public ChannelHandler newStreamHandler(ConnectionGuard guard, long openedNanos) {
    return new GrpcProxyStream(this, guard, openedNanos);
  }

  RouteTable routes() {
    return routes.get();
  }

  GatewayConfig.Limits limits() {
    return limits;
  }

  RawMarshaller marshaller() {
    return marshaller;
  }

  ByteBufAllocator allocator() {
    return allocator;
  }
}
