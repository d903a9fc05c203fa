package io.meshgate.gateway.proxy;

import io.grpc.MethodDescriptor;
import io.meshgate.gateway.config.GatewayConfig;
import io.meshgate.gateway.netty.ConnectionGuard;
import io.meshgate.gateway.netty.Http2StreamHandler;
import io.meshgate.gateway.route.CallAdmission;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http2.Http2Headers;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The native gRPC adapter: what every proxied gRPC stream shares — the admission chain, the
 * limits and the pass-through marshaller. Thread-safe.
 */
public final class ProxyService {
  private final CallAdmission admission;
  private final GatewayConfig.Limits limits;
  private final RawMarshaller marshaller;
  private final ByteBufAllocator allocator;
  private final Map<String, MethodDescriptor<ByteBuf, ByteBuf>> descriptors =
      new ConcurrentHashMap<>();

  private static final int MAX_CACHED_DESCRIPTORS = 10_000;

  public ProxyService(CallAdmission admission, GatewayConfig.Limits limits,
      ByteBufAllocator allocator) {
    this.admission = admission;
    this.limits = limits;
    this.allocator = allocator;
    this.marshaller = new RawMarshaller(allocator);
  }

  /**
   * The pass-through descriptor of a method, cached: building one per call would parse the name
   * each time. The cache stops growing at a bound, so clients inventing method names under a
   * prefix route cannot grow it without limit.
   */
  MethodDescriptor<ByteBuf, ByteBuf> methodDescriptor(String fullMethod) {
    MethodDescriptor<ByteBuf, ByteBuf> descriptor = descriptors.get(fullMethod);
    if (descriptor == null) {
      descriptor = MethodDescriptor.<ByteBuf, ByteBuf>newBuilder()
          .setType(MethodDescriptor.MethodType.UNKNOWN)
          .setFullMethodName(fullMethod)
          .setRequestMarshaller(marshaller)
          .setResponseMarshaller(marshaller)
          .build();
      if (descriptors.size() < MAX_CACHED_DESCRIPTORS) {
        descriptors.put(fullMethod, descriptor);
      }
    }
    return descriptor;
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
  public Http2StreamHandler newStreamHandler(ConnectionGuard guard, long openedNanos) {
    return new GrpcProxyStream(this, guard, openedNanos);
  }

  CallAdmission admission() {
    return admission;
  }

  GatewayConfig.Limits limits() {
    return limits;
  }

  ByteBufAllocator allocator() {
    return allocator;
  }
}
