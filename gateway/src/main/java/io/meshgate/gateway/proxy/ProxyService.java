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
import io.netty.util.AsciiString;
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
  /** By {@code :path} (AsciiString hashes and compares as the decoder's AsciiStrings do). */
  private final Map<AsciiString, Method> methods = new ConcurrentHashMap<>();

  private static final int MAX_CACHED_METHODS = 10_000;

  public ProxyService(CallAdmission admission, GatewayConfig.Limits limits,
      ByteBufAllocator allocator) {
    this.admission = admission;
    this.limits = limits;
    this.allocator = allocator;
    this.marshaller = new RawMarshaller(allocator);
  }

  /**
   * A method called by its {@code :path}: its names and pass-through descriptor.
   *
   * @param fullMethod {@code package.Service/Method}
   * @param service {@code package.Service}
   * @param method {@code Method}
   */
  record Method(String fullMethod, String service, String method,
      MethodDescriptor<ByteBuf, ByteBuf> descriptor) {}

  /**
   * The method of a {@code :path} of the form {@code /package.Service/Method} (checked by the
   * caller; {@code slash} is the index of its second '/'), cached by path: made per call, its
   * three strings and descriptor would be built, and hashed by the lookups after, every time. A
   * client's repeated {@code :path} is one string of the HPACK table, whose hash is kept. The
   * cache stops growing at a bound, so clients inventing method names under a prefix route
   * cannot grow it without limit.
   */
  Method method(CharSequence path, int slash) {
    AsciiString key = path instanceof AsciiString ascii ? ascii : new AsciiString(path);
    Method method = methods.get(key);
    if (method != null) {
      return method;
    }
    String fullMethod = path.subSequence(1, path.length()).toString();
    method = new Method(fullMethod, fullMethod.substring(0, slash - 1),
        fullMethod.substring(slash), MethodDescriptor.<ByteBuf, ByteBuf>newBuilder()
            .setType(MethodDescriptor.MethodType.UNKNOWN)
            .setFullMethodName(fullMethod)
            .setRequestMarshaller(marshaller)
            .setResponseMarshaller(marshaller)
            .build());
    if (methods.size() < MAX_CACHED_METHODS) {
      // A key of its own: the request's string may be a view of the decoder's bytes.
      methods.putIfAbsent(new AsciiString(key.toByteArray(), false), method);
    }
    return method;
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
