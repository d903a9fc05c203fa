package io.meshgate.gateway.upstream;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ConnectivityState;
import io.grpc.ForwardingClientCall;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.netty.NettyChannelBuilder;
import io.meshgate.gateway.config.GatewayConfig;
import io.meshgate.gateway.netty.EventLoops;
import io.meshgate.gateway.resilience.ClusterCircuitBreaker;
import io.meshgate.gateway.telemetry.GatewayMetrics;
import io.meshgate.gateway.telemetry.Tracing;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.EventExecutor;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;

/**
 * An upstream cluster: grpc-java channels to the cluster's target, created once and reused by
 * every call routed to it — one channel per worker event loop, bound to that loop, as Envoy keeps
 * a connection pool per worker. A call goes out on the channel of the loop its client stream runs
 * on, so the whole call (client stream, upstream transport, callbacks) stays on one thread with no
 * hand-off. Retries are off: the gateway decides what is safe to replay, not the channel.
 */
public final class UpstreamCluster {
  private final GatewayConfig.Cluster config;
  private final Map<EventExecutor, ManagedChannel> channels;
  /** Per worker loop, the balancer of calls streamed over our own connections; empty when the
   *  cluster's calls all go through grpc-java. */
  private final Map<EventExecutor, H2Balancer> streamed = new IdentityHashMap<>();
  private io.netty.channel.group.ChannelGroup connections;
  private boolean tls;
  private final ManagedChannel first;
  private final ClusterCircuitBreaker breaker;
  private final Tracing tracing;
  private final GatewayMetrics metrics;
  private final java.util.List<io.micrometer.core.instrument.Meter> meters =
      new java.util.concurrent.CopyOnWriteArrayList<>();

  private final List<io.meshgate.resolver.tls.CertificateWatcher.Watch> watches =
      new java.util.concurrent.CopyOnWriteArrayList<>();
  /** Where the cluster's balancers report their endpoints; null for grpc's own policies. */
  private String statesName;
  private static final java.util.concurrent.atomic.AtomicLong STATES =
      new java.util.concurrent.atomic.AtomicLong();

  private UpstreamCluster(GatewayConfig.Cluster config, Map<EventExecutor, ManagedChannel> channels,
      ManagedChannel first, ClusterCircuitBreaker breaker, Tracing tracing,
      GatewayMetrics metrics) {
    this.config = config;
    this.channels = channels;
    this.first = first;
    this.breaker = breaker;
    this.tracing = tracing;
    this.metrics = metrics;
    if (breaker != null) {
      meters.addAll(breaker.gauges());
    }
  }

  /**
   * Registers the gauges that read this cluster when scraped (endpoints, channels by state),
   * to be removed with {@link #releaseMeters}.
   */
  public void registerGauges() {
    if (metrics == null) {
      return;
    }
    if (endpointCount() >= 0 || target().startsWith("etcd:")) {
      meters.add(metrics.gauge("meshgate.upstream.endpoints", "Endpoints the cluster's target"
          + " resolves to (static and etcd targets)", this, UpstreamCluster::endpointCount,
          "cluster", name()));
    }
    for (ConnectivityState state : ConnectivityState.values()) {
      meters.add(metrics.gauge("meshgate.upstream.channels", "The cluster's channels (one per"
          + " event loop) by connectivity state: READY means some endpoint is connected", this,
          c -> c.channelsIn(state), "cluster", name(), "state", state.name()));
    }
  }

  /** Removes the meters that read this cluster (it is being replaced or removed). */
  public void releaseMeters() {
    if (metrics != null) {
      meters.forEach(metrics::remove);
    }
    meters.clear();
  }

  /**
   * Creates the cluster's channels. They connect lazily, on the first call.
   *
   * @param limits the largest response message and header list accepted from the cluster, and
   *     the flow-control window of each upstream stream (so that what the gateway holds for a
   *     client that stops reading is bounded by the same window it gives clients)
   * @param offloadExecutor runs blocking work of name resolution (DNS)
   * @param metrics where the circuit breaker reports its state
   * @param tracing makes a client span of every attempt (when on)
   */
  public static UpstreamCluster create(GatewayConfig.Cluster config, EventLoops loops,
      GatewayConfig.Limits limits, Executor offloadExecutor,
      GatewayMetrics metrics, Tracing tracing) {
    return create(config, loops, limits, offloadExecutor, metrics, tracing, null,
        io.meshgate.gateway.overload.BufferBudget.unlimited());
  }

  /**
   * As {@link #create(GatewayConfig.Cluster, EventLoops, GatewayConfig.Limits, Executor,
   * GatewayMetrics, Tracing)}, reloading the cluster's TLS files with {@code certificates}
   * (null: never) until the cluster shuts down, and giving streamed calls' response window back
   * only while {@code budget} has room.
   */
  public static UpstreamCluster create(GatewayConfig.Cluster config, EventLoops loops,
      GatewayConfig.Limits limits, Executor offloadExecutor,
      GatewayMetrics metrics, Tracing tracing,
      io.meshgate.resolver.tls.CertificateWatcher certificates,
      io.meshgate.gateway.overload.BufferBudget budget) {
    Map<EventExecutor, ManagedChannel> channels = new IdentityHashMap<>();
    ManagedChannel first = null;
    io.netty.handler.ssl.SslContext tls = null;
    List<io.meshgate.resolver.tls.CertificateWatcher.Watch> watches = new java.util.ArrayList<>();
    if (config.tls() != null) {
      try {
        UpstreamTls.Material material = UpstreamTls.context(config.name(), config.tls(), reason -> {
          if (metrics != null) {
            metrics.counter("meshgate.upstream.tls.failures", "Endpoint certificates the"
                + " gateway refused, by cluster and reason", "cluster", config.name(),
                "reason", reason).increment();
          }
        });
        tls = material.context();
        if (certificates != null) {
          if (material.keys() != null) {
            watches.add(certificates.watch("cluster " + config.name(), List.of(
                material.keys().certFile(), material.keys().keyFile()),
                material.keys()::reload, material.keys()::certificate));
          }
          if (material.cas().caFile() != null) {
            watches.add(certificates.watch("cluster " + config.name() + " CAs",
                List.of(material.cas().caFile()), material.cas()::reload, null));
          }
        }
      } catch (javax.net.ssl.SSLException e) {
        throw new IllegalArgumentException("clusters[" + config.name() + "].tls: "
            + e.getMessage(), e);
      }
    }
    // Meshgate's policies report their endpoints (for the console and /api/clusters) under a
    // name of this cluster object: a reload's next cluster of the same name reports apart.
    String statesName = config.lbPolicy().startsWith("meshgate_")
        ? config.name() + "#" + STATES.incrementAndGet() : null;
    for (EventLoop loop : loops.workerLoops()) {
      ManagedChannel channel = newChannel(config, loop, loops, limits,
          offloadExecutor, tls, statesName);
      channels.put(loop, channel);
      if (first == null) {
        first = channel;
      }
    }
    ClusterCircuitBreaker breaker = config.circuitBreaker() == null ? null
        : new ClusterCircuitBreaker(config.name(), config.circuitBreaker(),
            java.time.Clock.systemUTC(), System::nanoTime, metrics);
    UpstreamCluster cluster = new UpstreamCluster(config, channels, first, breaker, tracing,
        metrics);
    cluster.watches.addAll(watches);
    cluster.statesName = statesName;
    if (config.streaming()) {
      cluster.tls = tls != null;
      cluster.connections = new io.netty.channel.group.DefaultChannelGroup("cluster "
          + config.name(), io.netty.util.concurrent.GlobalEventExecutor.INSTANCE);
      H2Connection.Settings settings = new H2Connection.Settings(loops.socketChannelType(),
          loops.allocator(), (int) Math.min(Integer.MAX_VALUE, config.connectTimeout().toMillis()),
          limits.streamWindowBytes(), limits.maxHeaderListBytes(),
          tls, config.tls() == null ? null : config.tls().serverName(), cluster.connections,
          budget, config.healthCheckService());
      io.grpc.NameResolver.Factory resolvers = !config.etcdEndpoints().isEmpty()
          ? new io.meshgate.resolver.EtcdNameResolverProvider(config.etcdEndpoints(),
              config.etcdTls())
          : io.grpc.NameResolverRegistry.getDefaultRegistry().asFactory();
      Map<String, Object> policy = new java.util.LinkedHashMap<>(config.lbConfig());
      if (statesName != null) {
        policy.put("statesName", statesName);
      }
      for (EventLoop loop : loops.workerLoops()) {
        cluster.streamed.put(loop, new H2Balancer(config.name(), config.target(), loop,
            settings, resolvers, config.lbPolicy(), policy,
            config.tls() == null ? null : config.tls().serverName(), offloadExecutor));
      }
    }
    return cluster;
  }

  /**
   * Whether native gRPC calls on {@code loop} can be streamed through: the cluster streams
   * ({@code streaming: true}, no health check) and {@code loop} is one of the worker loops.
   */
  public boolean streams(EventExecutor loop) {
    return streamed.containsKey(loop);
  }

  /**
   * Starts a call streamed through on the gateway's own connections of {@code loop} (see
   * {@link #streams}): its messages are DATA chunks, gRPC prefixes included (see
   * {@link StreamedCall}); the cluster's breaker and tracing apply as to {@link #newCall}.
   */
  public ClientCall<ByteBuf, ByteBuf> newStreamedCall(MethodDescriptor<ByteBuf, ByteBuf> method,
      StreamedCall.Request request, CallOptions options, EventExecutor loop) {
    H2Balancer balancer = streamed.get(loop);
    if (balancer == null) {
      throw new IllegalStateException("cluster '" + name() + "' streams no calls on " + loop);
    }
    ClientCall<ByteBuf, ByteBuf> call = new StreamedCall(balancer, method, request, options,
        (EventLoop) loop, tls);
    if (breaker != null) {
      call = breaker.wrap(call, loop);
    }
    return tracing.clientCall(call, method, options, config.name());
  }

  private static ManagedChannel newChannel(GatewayConfig.Cluster config, EventLoop loop,
      EventLoops loops, GatewayConfig.Limits limits, Executor offloadExecutor,
      io.netty.handler.ssl.SslContext tls, String statesName) {
    NettyChannelBuilder builder = NettyChannelBuilder.forTarget(config.target());
    if (tls == null) {
      builder.usePlaintext();
    } else {
      builder.sslContext(tls);
      if (config.tls().serverName() != null) {
        builder.overrideAuthority(config.tls().serverName());
      }
    }
    if (!config.etcdEndpoints().isEmpty()) {
      // discovery.etcd.endpoints, for this cluster's etcd:///service target. (The builder
      // takes no registry of its own; a factory is the way grpc-java 1.83 leaves open.)
      setResolver(builder, new io.meshgate.resolver.EtcdNameResolverProvider(
          config.etcdEndpoints(), config.etcdTls()));
    }
    return builder
        .eventLoopGroup(loop)
        .channelType(loops.socketChannelType())
        .withOption(ChannelOption.CONNECT_TIMEOUT_MILLIS,
            (int) Math.min(Integer.MAX_VALUE, config.connectTimeout().toMillis()))
        .withOption(ChannelOption.ALLOCATOR, loops.allocator())
        .defaultServiceConfig(serviceConfig(config, statesName))
        .disableRetry()
        .maxInboundMessageSize(limits.maxMessageBytes())
        .maxInboundMetadataSize(limits.maxHeaderListBytes())
        // A fixed window, the one clients get: grpc-java would otherwise grow it by BDP
        // estimation, and a backend on a fast link then fills megabytes a stream for a client
        // that stopped reading.
        .flowControlWindow(limits.streamWindowBytes())
        .offloadExecutor(offloadExecutor)
        .directExecutor()
        .userAgent("meshgate")
        .build();
  }

  /** The cluster's service config, its policy told where to report its endpoints. */
  private static Map<String, ?> serviceConfig(GatewayConfig.Cluster config, String statesName) {
    Map<String, ?> serviceConfig = config.serviceConfig();
    if (statesName == null) {
      return serviceConfig;
    }
    Map<String, Object> policy = new java.util.LinkedHashMap<>(config.lbConfig());
    policy.put("statesName", statesName);
    Map<String, Object> withStates = new java.util.LinkedHashMap<>(serviceConfig);
    withStates.put("loadBalancingConfig", List.of(Map.of(config.lbPolicy(), policy)));
    return withStates;
  }

  /**
   * The cluster's endpoints as its balancers see them (merged over the per-loop channels), or
   * null when its policy is one of grpc's own, which report none.
   */
  public List<io.meshgate.resolver.EndpointStates.EndpointState> endpoints() {
    return statesName == null ? null
        : io.meshgate.resolver.EndpointStates.named(statesName).endpoints();
  }

  @SuppressWarnings("deprecation")
  private static void setResolver(NettyChannelBuilder builder, io.grpc.NameResolverProvider p) {
    builder.nameResolverFactory(p);
  }

  /** The cluster's name. */
  public String name() {
    return config.name();
  }

  /** The cluster's target URI. */
  public String target() {
    return config.target();
  }

  /** The configuration it was built from. */
  public GatewayConfig.Cluster config() {
    return config;
  }

  /**
   * Starts a call on the channel of {@code loop} (any channel when {@code loop} is not a worker
   * loop); see {@link io.grpc.Channel#newCall}.
   */
  public <ReqT, RespT> ClientCall<ReqT, RespT> newCall(
      MethodDescriptor<ReqT, RespT> method, CallOptions options, EventExecutor loop) {
    ClientCall<ReqT, RespT> call = channels.getOrDefault(loop, first).newCall(method, options);
    if (breaker != null) {
      call = breaker.wrap(call, options.getExecutor() != null ? options.getExecutor() : loop);
    }
    return tracing.clientCall(call, method, options, config.name());
  }

  /** The cluster's circuit breaker, or null without one. */
  public ClusterCircuitBreaker circuitBreaker() {
    return breaker;
  }

  /** A channel of the cluster, for the gateway's own calls (such as server reflection). */
  public io.grpc.Channel channel() {
    return first;
  }

  /**
   * A status grpc-java made itself (no response from any backend) explained in the cluster's
   * terms: UNAVAILABLE names the cluster and its target. Other statuses are returned as they are.
   */
  public Status explainLocalFailure(Status status) {
    if (status.getCode() == Status.Code.UNAVAILABLE && !ClusterCircuitBreaker.isOpenCircuit(status)) {
      String tls = tlsFailure(status.getCause());
      if (tls != null && (tls.contains("bad_certificate") || tls.contains("certificate_required")
          || tls.contains("unknown_ca")) && config.tls() != null) {
        // The endpoint refused us: say which certificate it refused.
        tls += config.tls().certFile() == null
            ? " (the endpoint wants a client certificate: set clusters[" + name()
                + "].tls.certFile and keyFile)"
            : " (the endpoint refused the gateway's certificate " + config.tls().certFile()
                + ")";
      }
      return Status.UNAVAILABLE.withCause(status.getCause()).withDescription(
          "no endpoint of cluster '" + name() + "' (" + target() + ") is reachable: "
              + (tls != null ? "TLS handshake failed: " + tls : status.getDescription()));
    }
    return status;
  }

  /**
   * What a failed TLS handshake says, from the certificate check's own message (which names the
   * endpoint and the reason) when it has one; null when {@code cause} is no TLS failure.
   */
  private static String tlsFailure(Throwable cause) {
    String ssl = null;
    for (Throwable t = cause; t != null; t = t.getCause()) {
      if (t instanceof java.security.cert.CertificateException) {
        return t.getMessage();
      }
      if (t instanceof javax.net.ssl.SSLException && ssl == null) {
        ssl = t.getMessage();
      }
    }
    return ssl;
  }

  /**
   * A cluster on an in-process channel, for services the gateway answers itself. Messages are
   * handed over as heap copies: an in-process server reads them after {@code sendMessage}
   * returns, when the proxy has already released its buffer.
   */
  public static UpstreamCluster inProcess(String name, ManagedChannel channel) {
    ManagedChannel copying = new CopyingChannel(channel);
    Map<EventExecutor, ManagedChannel> channels = new IdentityHashMap<>();
    return new UpstreamCluster(new GatewayConfig.Cluster(name, "in-process:" + name, "pick_first",
        Map.of(), null, java.time.Duration.ofSeconds(1), null, java.util.List.of(), null, null),
        channels, copying, null, Tracing.OFF, null);
  }

  /** Copies pooled request buffers before they reach an in-process channel. */
  private static final class CopyingChannel extends ManagedChannel {
    private final ManagedChannel delegate;

    CopyingChannel(ManagedChannel delegate) {
      this.delegate = delegate;
    }

    @Override
    public <ReqT, RespT> ClientCall<ReqT, RespT> newCall(MethodDescriptor<ReqT, RespT> method,
        CallOptions options) {
      return new ForwardingClientCall.SimpleForwardingClientCall<>(
          delegate.newCall(method, options)) {
        @Override
        @SuppressWarnings("unchecked")
        public void sendMessage(ReqT message) {
          super.sendMessage(message instanceof ByteBuf buf
              ? (ReqT) Unpooled.copiedBuffer(buf) : message);
        }
      };
    }

    @Override
    public String authority() {
      return delegate.authority();
    }

    @Override
    public ManagedChannel shutdown() {
      delegate.shutdown();
      return this;
    }

    @Override
    public boolean isShutdown() {
      return delegate.isShutdown();
    }

    @Override
    public boolean isTerminated() {
      return delegate.isTerminated();
    }

    @Override
    public ManagedChannel shutdownNow() {
      delegate.shutdownNow();
      return this;
    }

    @Override
    public boolean awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
      return delegate.awaitTermination(timeout, unit);
    }

    @Override
    public ConnectivityState getState(boolean requestConnection) {
      return ConnectivityState.READY;
    }
  }

  /** How many of the cluster's channels (one per event loop) are in {@code state}. */
  public int channelsIn(ConnectivityState state) {
    int n = 0;
    if (!streamed.isEmpty()) {
      // Native calls go over the gateway's own connections: their balancers' states say.
      for (H2Balancer balancer : streamed.values()) {
        if (balancer.state() == state) {
          n++;
        }
      }
      return n;
    }
    for (ManagedChannel channel : channels.values()) {
      if (channel.getState(false) == state) {
        n++;
      }
    }
    return n;
  }

  /**
   * The endpoints the cluster's target resolves to: counted in a static target, the etcd
   * resolver's latest result for an etcd target; -1 when unknown (other schemes).
   */
  public int endpointCount() {
    String target = config.target();
    if (target.startsWith("static:")) {
      String list = target.substring(target.lastIndexOf('/') + 1);
      return list.isBlank() ? 0 : list.split(",").length;
    }
    if (target.startsWith("etcd:")) {
      return io.meshgate.resolver.internal.DiscoveryMetrics.endpointsByTarget().getOrDefault(target, 0);
    }
    return -1;
  }

  /** Stops new calls; calls in flight continue until they finish. */
  public void shutdown() {
    watches.forEach(io.meshgate.resolver.tls.CertificateWatcher.Watch::close);
    channels.values().forEach(ManagedChannel::shutdown);
    streamed.values().forEach(H2Balancer::shutdown);
    if (statesName != null) {
      io.meshgate.resolver.EndpointStates.remove(statesName);
    }
  }

  /** Waits for calls in flight to finish, then cancels those left. */
  public void awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
    long deadline = System.nanoTime() + unit.toNanos(timeout);
    for (ManagedChannel channel : channels.values()) {
      if (!channel.awaitTermination(Math.max(0, deadline - System.nanoTime()),
          TimeUnit.NANOSECONDS)) {
        channel.shutdownNow();
        channel.awaitTermination(5, TimeUnit.SECONDS);
      }
    }
    if (connections != null && !connections.newCloseFuture().await(
        Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
      connections.close().await(5, TimeUnit.SECONDS);
    }
  }
}
