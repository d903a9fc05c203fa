package io.meshgate.gateway.telemetry;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.meshgate.gateway.config.GatewayConfig;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.TextMapGetter;
import io.opentelemetry.context.propagation.TextMapSetter;
import io.opentelemetry.exporter.otlp.http.trace.OtlpHttpSpanExporter;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.export.BatchSpanProcessor;
import io.opentelemetry.sdk.trace.samplers.Sampler;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * OpenTelemetry tracing of calls: a server span per incoming call (its parent taken from the
 * caller's W3C {@code traceparent}/{@code tracestate}), a client span per upstream attempt (its
 * context injected into the upstream metadata, replacing the caller's), attributes per the
 * OpenTelemetry RPC semantic conventions. Spans go to an OTLP/HTTP endpoint in batches from a
 * bounded queue. When tracing is not configured this is {@link #OFF}: no span is made and the
 * caller's trace headers pass through untouched. Thread-safe.
 */
public final class Tracing implements AutoCloseable {
  /** No tracing. */
  public static final Tracing OFF = new Tracing(null, null);

  /** The server span's context, carried to the upstream attempts of the call. */
  public static final CallOptions.Key<Context> PARENT = CallOptions.Key.create("meshgate.trace");

  static final AttributeKey<String> RPC_SYSTEM = AttributeKey.stringKey("rpc.system");
  static final AttributeKey<String> RPC_SERVICE = AttributeKey.stringKey("rpc.service");
  static final AttributeKey<String> RPC_METHOD = AttributeKey.stringKey("rpc.method");
  static final AttributeKey<Long> RPC_GRPC_STATUS = AttributeKey.longKey("rpc.grpc.status_code");
  static final AttributeKey<String> HTTP_METHOD = AttributeKey.stringKey("http.request.method");
  static final AttributeKey<Long> HTTP_STATUS =
      AttributeKey.longKey("http.response.status_code");
  static final AttributeKey<String> URL_PATH = AttributeKey.stringKey("url.path");
  static final AttributeKey<String> CLIENT_ADDRESS = AttributeKey.stringKey("client.address");
  static final AttributeKey<String> PEER_ADDRESS =
      AttributeKey.stringKey("network.peer.address");
  static final AttributeKey<Long> PEER_PORT = AttributeKey.longKey("network.peer.port");
  static final AttributeKey<String> ROUTE = AttributeKey.stringKey("meshgate.route");
  static final AttributeKey<String> CLUSTER = AttributeKey.stringKey("meshgate.cluster");

  /** Codes that mark a server span as failed (OpenTelemetry gRPC conventions). */
  private static final Set<Status.Code> SERVER_ERRORS = Set.of(Status.Code.UNKNOWN,
      Status.Code.DEADLINE_EXCEEDED, Status.Code.UNIMPLEMENTED, Status.Code.INTERNAL,
      Status.Code.UNAVAILABLE, Status.Code.DATA_LOSS);

  private static final W3CTraceContextPropagator W3C = W3CTraceContextPropagator.getInstance();
  private static final Metadata.Key<String> TRACEPARENT =
      Metadata.Key.of("traceparent", Metadata.ASCII_STRING_MARSHALLER);
  private static final Metadata.Key<String> TRACESTATE =
      Metadata.Key.of("tracestate", Metadata.ASCII_STRING_MARSHALLER);

  private final SdkTracerProvider provider;
  private final Tracer tracer;

  private Tracing(SdkTracerProvider provider, Tracer tracer) {
    this.provider = provider;
    this.tracer = tracer;
  }

  /** Tracing per the config's {@code tracing:} section; {@link #OFF} when it has none. */
  public static Tracing create(GatewayConfig.Tracing config) {
    if (config == null) {
      return OFF;
    }
    io.opentelemetry.sdk.trace.export.SpanExporter exporter = config.endpoint() == null
        ? io.opentelemetry.sdk.trace.export.SpanExporter.composite()
        : OtlpHttpSpanExporter.builder().setEndpoint(config.endpoint().toString()).build();
    SdkTracerProvider provider = SdkTracerProvider.builder()
        .setResource(Resource.getDefault().merge(Resource.create(Attributes.of(
            AttributeKey.stringKey("service.name"), config.serviceName()))))
        .setSampler(Sampler.parentBased(Sampler.traceIdRatioBased(config.sampleRatio())))
        .addSpanProcessor(BatchSpanProcessor.builder(exporter)
            .setScheduleDelay(config.exportInterval())
            .setMaxQueueSize(config.maxQueuedSpans())
            .build())
        .build();
    return new Tracing(provider, provider.get("io.meshgate.gateway"));
  }

  /** Whether spans are made. */
  public boolean enabled() {
    return tracer != null;
  }

  /**
   * Starts the server span of a call, a child of the caller's trace context when the request
   * headers carry one.
   *
   * @param headers a request header by lower-case name, or null
   */
  Span startServerSpan(String protocol, Function<String, String> headers, String client) {
    Context parent = W3C.extract(Context.root(), headers, HEADERS);
    return tracer.spanBuilder(protocol.equals("rest") ? "HTTP" : "grpc")
        .setParent(parent)
        .setSpanKind(SpanKind.SERVER)
        .setAttribute(RPC_SYSTEM, "grpc")
        .setAttribute(CLIENT_ADDRESS, client == null ? "" : client)
        .startSpan();
  }

  /** Ends a server span with the call's outcome. */
  static void endServerSpan(Span span, Status.Code code, int httpStatus) {
    span.setAttribute(RPC_GRPC_STATUS, code.value());
    if (httpStatus != 0) {
      span.setAttribute(HTTP_STATUS, httpStatus);
    }
    if (SERVER_ERRORS.contains(code)) {
      span.setStatus(StatusCode.ERROR, code.name());
    }
    span.end();
  }

  /**
   * Wraps an upstream attempt in a client span, a child of the server span in
   * {@code options}' {@link #PARENT}; returns {@code call} itself when tracing is off.
   */
  public <ReqT, RespT> ClientCall<ReqT, RespT> clientCall(ClientCall<ReqT, RespT> call,
      MethodDescriptor<ReqT, RespT> method, CallOptions options, String cluster) {
    if (tracer == null) {
      return call;
    }
    Context parent = options.getOption(PARENT);
    return new TracedCall<>(call, method, parent == null ? Context.root() : parent, cluster);
  }

  private final class TracedCall<ReqT, RespT>
      extends ForwardingClientCall.SimpleForwardingClientCall<ReqT, RespT> {
    private final MethodDescriptor<ReqT, RespT> method;
    private final Context parent;
    private final String cluster;

    TracedCall(ClientCall<ReqT, RespT> delegate, MethodDescriptor<ReqT, RespT> method,
        Context parent, String cluster) {
      super(delegate);
      this.method = method;
      this.parent = parent;
      this.cluster = cluster;
    }

    @Override
    public void start(Listener<RespT> listener, Metadata headers) {
      String service = method.getServiceName();
      String name = method.getBareMethodName();
      Span span = tracer.spanBuilder(service + "/" + name)
          .setParent(parent)
          .setSpanKind(SpanKind.CLIENT)
          .setAttribute(RPC_SYSTEM, "grpc")
          .setAttribute(RPC_SERVICE, service == null ? "" : service)
          .setAttribute(RPC_METHOD, name == null ? "" : name)
          .setAttribute(CLUSTER, cluster)
          .startSpan();
      headers.removeAll(TRACEPARENT);
      headers.removeAll(TRACESTATE);
      W3C.inject(parent.with(span), headers, METADATA);
      super.start(new ForwardingClientCallListener.SimpleForwardingClientCallListener<>(
          listener) {
        @Override
        public void onClose(Status status, Metadata trailers) {
          SocketAddress peer = getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
          if (peer instanceof InetSocketAddress inet && inet.getAddress() != null) {
            span.setAttribute(PEER_ADDRESS, inet.getAddress().getHostAddress());
            span.setAttribute(PEER_PORT, inet.getPort());
          }
          span.setAttribute(RPC_GRPC_STATUS, status.getCode().value());
          if (!status.isOk()) {
            span.setStatus(StatusCode.ERROR, status.getCode() + ": "
                + (status.getDescription() == null ? "" : status.getDescription()));
          }
          span.end();
          super.onClose(status, trailers);
        }
      }, headers);
    }
  }

  private static final TextMapGetter<Function<String, String>> HEADERS = new TextMapGetter<>() {
    @Override
    public Iterable<String> keys(Function<String, String> carrier) {
      return List.of("traceparent", "tracestate");
    }

    @Override
    public String get(Function<String, String> carrier, String key) {
      return carrier == null ? null : carrier.apply(key);
    }
  };

  private static final TextMapSetter<Metadata> METADATA = (metadata, key, value) -> metadata.put(
      Metadata.Key.of(key, Metadata.ASCII_STRING_MARSHALLER), value);

  /** Sends the spans still queued, then stops. */
  @Override
  public void close() {
    if (provider != null) {
      provider.shutdown().join(10, TimeUnit.SECONDS);
    }
  }
}
