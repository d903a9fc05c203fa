package io.meshgate.gateway.rest;

import io.grpc.MethodDescriptor;
import io.meshgate.gateway.call.ByteArrayMarshaller;
import io.meshgate.gateway.config.GatewayConfig;
import io.meshgate.gateway.netty.ConnectionGuard;
import io.meshgate.gateway.netty.Http2StreamHandler;
import io.meshgate.gateway.descriptors.Descriptors;
import io.meshgate.gateway.http.Http2Exchange;
import io.meshgate.gateway.http.Cors;
import io.meshgate.gateway.http.HttpAdapter;
import io.meshgate.gateway.http.HttpCall;
import io.meshgate.gateway.http.HttpRequest;
import io.meshgate.gateway.http.HttpResponder;
import io.meshgate.gateway.route.CallAdmission;
import io.meshgate.transcoder.HttpRoute;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The REST/JSON adapter: what every REST exchange shares — the admission chain, the current
 * descriptors, the transcoding settings and the limits. Thread-safe; each exchange reads the
 * descriptors once (and the chain the configuration once), so a reload never changes an
 * exchange in flight.
 */
public final class RestService implements HttpAdapter {
  private static final int MAX_CACHED_DESCRIPTORS = 10_000;

  private final CallAdmission admission;
  private final Descriptors descriptors;
  private final GatewayConfig.Transcoding config;
  private final GatewayConfig.Limits limits;
  private final Cors cors;
  private final Set<String> forwardHeaders;
  private final Map<String, MethodDescriptor<byte[], byte[]>> methods = new ConcurrentHashMap<>();

  /**
   * @param descriptors the descriptors, or null when transcoding is not configured
   */
  public RestService(CallAdmission admission, Descriptors descriptors,
      GatewayConfig.Transcoding config, GatewayConfig.Limits limits) {
    this.admission = admission;
    this.descriptors = descriptors;
    this.config = config;
    this.limits = limits;
    this.cors = config.cors() == null ? null : new Cors(config.cors());
    this.forwardHeaders = Set.copyOf(config.forwardHeaders());
  }

  /**
   * A handler for an HTTP/2 stream that carries a REST request.
   *
   * @param guard the connection's abuse guard
   * @param openedNanos {@link System#nanoTime()} when the stream opened
   */
  public Http2StreamHandler newStreamHandler(ConnectionGuard guard, long openedNanos) {
    return new Http2Exchange(this, guard, openedNanos);
  }

  @Override
  public HttpCall newCall(HttpRequest request, HttpResponder responder) {
    return new RestCall(this, request, responder);
  }

  @Override
  public int maxRequestBodyBytes() {
    return limits.maxRequestBodyBytes();
  }

  Descriptors.Snapshot snapshot() {
    return descriptors == null ? Descriptors.Snapshot.empty() : descriptors.snapshot();
  }

  /** Sources whose descriptors failed to load, for hints in 404 answers. */
  Map<String, String> descriptorErrors() {
    return descriptors == null ? Map.of() : descriptors.errors();
  }

  CallAdmission admission() {
    return admission;
  }

  /**
   * The OpenAPI document of the REST operations whose methods a route takes, with the bearer
   * scheme on those whose route requires a token ({@code transcoding.openApi}).
   */
  String openApi() {
    return io.meshgate.transcoder.OpenApi.document(snapshot().table(), "Meshgate REST API",
        "the gateway's routes", method -> {
          io.meshgate.gateway.route.Route route = admission.routeOf(
              method.getService().getFullName(), method.getName());
          return route != null && route.auth() != null;
        }, method -> admission.routeOf(method.getService().getFullName(), method.getName())
            != null);
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
          .setRequestMarshaller(ByteArrayMarshaller.INSTANCE)
          .setResponseMarshaller(ByteArrayMarshaller.INSTANCE)
          .build();
      if (methods.size() < MAX_CACHED_DESCRIPTORS) {
        methods.put(route.grpcPath(), descriptor);
      }
    }
    return descriptor;
  }
}
