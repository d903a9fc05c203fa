package io.meshgate.gateway.rest;

import io.grpc.CallOptions;
import io.grpc.MethodDescriptor;
import io.meshgate.gateway.auth.Authentication;
import io.meshgate.gateway.config.GatewayConfig;
import io.meshgate.gateway.front.EventLoops;
import io.meshgate.gateway.route.RouteTable;
import io.meshgate.gateway.telemetry.Telemetry;
import io.meshgate.transcoder.DescriptorException;
import io.meshgate.transcoder.DescriptorPool;
import io.meshgate.transcoder.HttpRoute;
import io.netty.channel.ChannelHandler;
import io.netty.util.concurrent.EventExecutor;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * What every REST exchange shares: the current descriptors and gRPC route table, the transcoding
 * settings and the limits. Thread-safe; each exchange reads the descriptors and routes once, so a
 * reload never changes an exchange in flight.
 */
public final class RestService {
  private static final Descriptors.Snapshot EMPTY = empty();
  private static final int MAX_CACHED_DESCRIPTORS = 10_000;

  private final Supplier<RouteTable> routes;
  private final Telemetry telemetry;
  private final Supplier<Authentication> auth;
  private final Descriptors descriptors;
  private final GatewayConfig.Transcoding config;
  private final GatewayConfig.Limits limits;
  private final EventLoops loops;
  private final Cors cors;
  private final Set<String> forwardHeaders;
  private final Map<String, MethodDescriptor<byte[], byte[]>> methods = new ConcurrentHashMap<>();

  /**
   * @param descriptors the descriptors, or null when transcoding is not configured
   */
  public RestService(Supplier<RouteTable> routes, Descriptors descriptors,
      GatewayConfig.Transcoding config, GatewayConfig.Limits limits, EventLoops loops,
      Telemetry telemetry, Supplier<Authentication> auth) {
    this.routes = routes;
    this.telemetry = telemetry;
    this.auth = auth;
    this.descriptors = descriptors;
    this.config = config;
    this.limits = limits;
    this.loops = loops;
    this.cors = config.cors() == null ? null : new Cors(config.cors());
    this.forwardHeaders = Set.copyOf(config.forwardHeaders());
  }

  private static Descriptors.Snapshot empty() {
    try {
      return Descriptors.Snapshot.of(DescriptorPool.empty());
    } catch (DescriptorException e) {
      throw new IllegalStateException(e);
    }
  }

  /** A handler for an HTTP/2 stream that carries a REST request. */
  public ChannelHandler newStreamHandler() {
    return new Http2RestStream(this);
  }

  /**
   * An exchange for a complete HTTP/1.1 request; the caller starts it.
   *
   * @param clientAddress the client's IP address, or null
   */
  public Http1Exchange newHttp1Exchange(io.netty.handler.codec.http.FullHttpRequest request,
      io.netty.channel.ChannelHandlerContext ctx, String clientAddress, boolean keepAlive,
      Runnable onDone) {
    return new Http1Exchange(this, request, ctx, clientAddress, keepAlive, onDone);
  }

  Descriptors.Snapshot snapshot() {
    return descriptors == null ? EMPTY : descriptors.snapshot();
  }

  /** Sources whose descriptors failed to load, for hints in 404 answers. */
  Map<String, String> descriptorErrors() {
    return descriptors == null ? Map.of() : descriptors.errors();
  }

  Telemetry telemetry() {
    return telemetry;
  }

  Authentication auth() {
    return auth.get();
  }

  RouteTable routes() {
    return routes.get();
  }

  GatewayConfig.Transcoding config() {
    return config;
  }

  GatewayConfig.Limits limits() {
    return limits;
  }

  Cors cors() {
    return cors;
  }

  Set<String> forwardHeaders() {
    return forwardHeaders;
  }

  /** See {@link io.meshgate.gateway.front.EventLoops#upstreamCallOptions}. */
  CallOptions baseCallOptions(EventExecutor loop) {
    return loops.upstreamCallOptions(loop);
  }

  /** The call descriptor of a route's method, cached (route methods are a bounded set). */
  MethodDescriptor<byte[], byte[]> methodDescriptor(HttpRoute route) {
    MethodDescriptor<byte[], byte[]> descriptor = methods.get(route.grpcPath());
    if (descriptor == null) {
      MethodDescriptor.MethodType type = route.clientStreaming()
          ? (route.serverStreaming() ? MethodDescriptor.MethodType.BIDI_STREAMING
              : MethodDescriptor.MethodType.CLIENT_STREAMING)
          : (route.serverStreaming() ? MethodDescriptor.MethodType.SERVER_STREAMING
              : MethodDescriptor.MethodType.UNARY);
      descriptor = MethodDescriptor.<byte[], byte[]>newBuilder()
          .setType(type)
          .setFullMethodName(route.grpcPath().substring(1))
          .setRequestMarshaller(BytesMarshaller.INSTANCE)
          .setResponseMarshaller(BytesMarshaller.INSTANCE)
          .build();
      if (methods.size() < MAX_CACHED_DESCRIPTORS) {
        methods.put(route.grpcPath(), descriptor);
      }
    }
    return descriptor;
  }
}
