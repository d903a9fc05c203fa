package io.meshgate.gateway;

import io.meshgate.gateway.admin.AdminServer;
import io.meshgate.gateway.auth.Authentication;
import io.meshgate.gateway.ratelimit.RateLimits;
import io.meshgate.gateway.resilience.RetryPolicy;
import io.meshgate.gateway.config.ConfigError;
import io.meshgate.gateway.config.ConfigException;
import io.meshgate.gateway.config.ConfigLoader;
import io.meshgate.gateway.config.GatewayConfig;
import io.meshgate.gateway.front.EventLoops;
import io.meshgate.gateway.front.FrontServer;
import io.meshgate.gateway.proxy.ProxyService;
import io.meshgate.gateway.rest.Descriptors;
import io.meshgate.gateway.rest.ReflectionServer;
import io.meshgate.gateway.rest.RestService;
import io.meshgate.transcoder.DescriptorException;
import com.google.protobuf.Descriptors.MethodDescriptor;
import com.google.protobuf.Descriptors.ServiceDescriptor;
import io.meshgate.gateway.route.Route;
import io.meshgate.gateway.route.RouteTable;
import io.meshgate.gateway.telemetry.Telemetry;
import io.meshgate.gateway.upstream.UpstreamCluster;
import io.netty.handler.codec.http2.Http2SecurityUtil;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SupportedCipherSuiteFilter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.logging.Logger;

/**
 * A running gateway: the front port, the admin port and the upstream clusters of one
 * configuration. {@link #start} binds the ports; {@link #shutdown} drains gracefully;
 * {@link #close} stops at once.
 */
public final class Gateway implements AutoCloseable {
  private static final Logger logger = Logger.getLogger(Gateway.class.getName());

  // Replaced by apply(); read by the admin port and tests.
  private volatile GatewayConfig config;
  private final EventLoops loops;
  private final ThreadPoolExecutor offload;
  // Replaced (never changed in place) by apply(), under its lock; read anywhere.
  private volatile Map<String, UpstreamCluster> clusters;
  private final AtomicReference<RouteTable> routes;
  private final Descriptors descriptors;
  private final ReflectionServer reflection;
  private final List<UpstreamCluster> retiring = new java.util.concurrent.CopyOnWriteArrayList<>();
  private static final java.time.Duration RETIRE_GRACE = java.time.Duration.ofSeconds(2);
  private final UpstreamCluster reflectionCluster;
  private final FrontServer front;
  private final AdminServer admin;
  private final Telemetry telemetry;
  // Replaced by apply() when the providers change; calls read it once.
  private final AtomicReference<Authentication> auth = new AtomicReference<>();
  private final RateLimits rateLimits;
  private final AtomicBoolean stopping = new AtomicBoolean();
  private final CompletableFuture<Void> terminated = new CompletableFuture<>();
  private volatile boolean ready;
  private final java.util.concurrent.atomic.AtomicLong version =
      new java.util.concurrent.atomic.AtomicLong(1);
  private volatile java.time.Instant appliedAt = java.time.Instant.now();
  private volatile io.meshgate.gateway.config.ConfigStore store;
  private volatile java.util.function.LongSupplier revision = () -> 0;

  private Gateway(GatewayConfig config, SslContext ssl, Telemetry telemetry, Authentication auth)
      throws ConfigException {
    this.config = config;
    this.telemetry = telemetry;
    this.auth.set(auth);
    this.rateLimits = new RateLimits(telemetry.metrics(), System::nanoTime);
    this.loops = new EventLoops(config.listener().workerThreads());
    this.offload = new ThreadPoolExecutor(2, 2, 60, TimeUnit.SECONDS,
        new ArrayBlockingQueue<>(1024), r -> {
          Thread t = new Thread(r, "meshgate-offload");
          t.setDaemon(true);
          return t;
        });
    offload.allowCoreThreadTimeOut(true);
    Map<String, UpstreamCluster> initial = new LinkedHashMap<>();
    for (GatewayConfig.Cluster cluster : config.clusters()) {
      initial.put(cluster.name(), newCluster(cluster));
    }
    this.clusters = initial;
    GatewayConfig.Transcoding transcoding = config.transcoding();
    try {
      this.descriptors = transcoding.enabled()
          ? Descriptors.load(transcoding, name -> this.clusters.get(name).channel()) : null;
    } catch (DescriptorException e) {
      closeClusters();
      throw new ConfigException(List.of(new ConfigError(config.source(), 0, 0,
          "transcoding.descriptors", e.getMessage())));
    }
    if (descriptors != null && transcoding.serveReflection()) {
      // The gateway answers reflection for what it routes: ahead of the configured routes.
      this.reflection = new ReflectionServer(offload);
      this.reflectionCluster = UpstreamCluster.inProcess("gateway-reflection",
          reflection.channel());
    } else {
      this.reflection = null;
      this.reflectionCluster = null;
    }
    this.routes = new AtomicReference<>(compile(config, initial, auth));
    if (reflection != null) {
      descriptors.addListener(snapshot -> reflection.update(snapshot, this::routes));
    }
    registerGauges(telemetry.metrics());
    ProxyService proxy = new ProxyService(routes::get, config.limits(), loops, telemetry,
        this.auth::get);
    RestService rest = new RestService(routes::get, descriptors, transcoding, config.limits(),
        loops, telemetry, this.auth::get);
    this.front = new FrontServer(config, loops, proxy, rest, ssl);
    this.admin = new AdminServer(config.admin(), loops, () -> ready, telemetry.metrics(),
        new Api());
  }

  private UpstreamCluster newCluster(GatewayConfig.Cluster cluster) {
    return UpstreamCluster.create(cluster, loops, config.limits().maxMessageBytes(),
        config.limits().maxHeaderListBytes(), offload, telemetry.metrics(), telemetry.tracing());
  }

  /** The route table of {@code config} over {@code clusters}, with the route policies. */
  private RouteTable compile(GatewayConfig config, Map<String, UpstreamCluster> clusters,
      Authentication auth) {
    List<Route> compiled = new ArrayList<>();
    List<GatewayConfig.Match> matches = new ArrayList<>();
    if (reflectionCluster != null) {
      for (String service : ReflectionServer.SERVICES) {
        compiled.add(new Route("gateway-reflection", reflectionCluster, 0, 0, null, null, null,
            null, null));
        matches.add(new GatewayConfig.Match(service, null, null, List.of()));
      }
    }
    for (GatewayConfig.Route route : config.routes()) {
      compiled.add(Route.of(route, clusters,
          auth.forRoute(route.name(), route.auth()),
          rateLimits.forRoute(route.name(), route.rateLimits()),
          route.retry() == null ? null : new RetryPolicy(route.name(), route.retry(),
              System::nanoTime, telemetry.metrics())));
      matches.add(route.match());
    }
    return RouteTable.of(compiled, matches);
  }

  /**
   * Applies a new configuration without a restart: clusters whose settings did not change keep
   * their channels (no reconnect), changed and removed ones are replaced and shut down
   * gracefully (calls in flight finish), the route table with its policies is rebuilt and
   * swapped atomically (calls in flight finish on the table they started with), rate-limit
   * buckets of unchanged rules are kept. Sections that need a restart (listener, admin,
   * limits, shutdown, discovery, transcoding, metrics, access log, tracing) keep their running
   * settings and are listed in the result.
   *
   * @return the sections whose changes wait for a restart (empty when all of it applied)
   * @throws ConfigException when the new JWT providers' key material cannot be used; nothing
   *     changed then
   */
  public synchronized List<String> apply(GatewayConfig next) throws ConfigException {
    GatewayConfig running = config;
    List<String> restart = new ArrayList<>();
    if (!next.listener().equals(running.listener())) {
      restart.add("listener");
    }
    if (!next.admin().equals(running.admin())) {
      restart.add("admin");
    }
    if (!next.limits().equals(running.limits())) {
      restart.add("limits");
    }
    if (!next.shutdown().equals(running.shutdown())) {
      restart.add("shutdown");
    }
    if (!next.discovery().equals(running.discovery())) {
      restart.add("discovery");
    }
    if (!next.transcoding().equals(running.transcoding())) {
      restart.add("transcoding");
    }
    if (!next.metrics().equals(running.metrics())) {
      restart.add("metrics");
    }
    if (!java.util.Objects.equals(next.accessLog(), running.accessLog())) {
      restart.add("accessLog");
    }
    if (!java.util.Objects.equals(next.tracing(), running.tracing())) {
      restart.add("tracing");
    }
    Authentication runningAuth = auth.get();
    Authentication nextAuth = runningAuth;
    if (!next.jwtProviders().equals(running.jwtProviders())) {
      try {
        nextAuth = Authentication.start(next.jwtProviders(), telemetry.metrics(),
            java.time.Clock.systemUTC());
        nextAuth.awaitFirstKeys(java.time.Duration.ofSeconds(5));
      } catch (java.io.IOException e) {
        throw new ConfigException(List.of(new ConfigError(next.source(), 0, 0,
            "auth.providers", e.getMessage())));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        nextAuth.close();
        throw new ConfigException(List.of(new ConfigError(next.source(), 0, 0, "",
            "interrupted while loading JWT keys")));
      }
    }
    Map<String, UpstreamCluster> current = clusters;
    Map<String, UpstreamCluster> updated = new LinkedHashMap<>();
    List<UpstreamCluster> retired = new ArrayList<>();
    for (GatewayConfig.Cluster cluster : next.clusters()) {
      UpstreamCluster old = current.get(cluster.name());
      if (old != null && old.config().equals(cluster)) {
        updated.put(cluster.name(), old);
      } else {
        if (old != null) {
          old.releaseMeters(); // the new cluster of the same name registers its own
        }
        updated.put(cluster.name(), newCluster(cluster));
      }
    }
    for (UpstreamCluster old : current.values()) {
      if (updated.get(old.name()) != old) {
        retired.add(old);
        old.releaseMeters();
      }
    }
    RouteTable table = compile(next, updated, nextAuth);
    // The swap: from here on new calls see the new table; calls in flight keep the old one.
    clusters = updated;
    routes.set(table);
    auth.set(nextAuth);
    config = next;
    version.incrementAndGet();
    appliedAt = java.time.Instant.now();
    Map<String, List<GatewayConfig.RateLimit>> limits = new LinkedHashMap<>();
    next.routes().forEach(r -> limits.put(r.name(), r.rateLimits()));
    rateLimits.retainOnly(limits);
    registerClusterGauges(telemetry.metrics(), updated.values().stream()
        .filter(c -> !current.containsValue(c)).toList());
    if (nextAuth != runningAuth) {
      runningAuth.close();
    }
    // Graceful: a call that matched the old table a moment ago may still be about to start on
    // a retired cluster, so its channels are shut down (existing calls continue, then they
    // close) only after a grace period.
    retiring.addAll(retired);
    CompletableFuture.delayedExecutor(RETIRE_GRACE.toMillis(), TimeUnit.MILLISECONDS)
        .execute(() -> retired.forEach(c -> {
          c.shutdown();
          retiring.remove(c);
        }));
    logger.info("configuration from " + next.source() + " applied: " + next.routes().size()
        + " routes, " + updated.size() + " clusters (" + retired.size() + " replaced or"
        + " removed)" + (restart.isEmpty() ? "" : "; needs a restart to change: "
        + String.join(", ", restart)));
    return restart;
  }

  /**
   * Reports the revision of the stored configuration this gateway serves (etcd's mod revision
   * of the document), on the admin API and as {@code meshgate_config_revision}.
   */
  public void useRevision(java.util.function.LongSupplier revision) {
    this.revision = revision;
    telemetry.metrics().gauge("meshgate.config.revision", "Revision of the stored"
        + " configuration this gateway serves (etcd mod revision)", this,
        g -> g.revision.getAsLong());
  }

  /** Makes admin API changes go to {@code store} (the file given with --config). */
  public void useStore(io.meshgate.gateway.config.ConfigStore store) {
    this.store = store;
  }

  /** The version of the running configuration: 1 at start, one more per applied change. */
  public long configVersion() {
    return version.get();
  }

  /** The admin API's view of this gateway. */
  private final class Api implements io.meshgate.gateway.admin.AdminApi {
    @Override
    public String config() {
      GatewayConfig running = config;
      com.google.gson.JsonObject o = new com.google.gson.JsonObject();
      o.addProperty("version", version.get());
      o.addProperty("source", running.source());
      if (revision.getAsLong() > 0) {
        o.addProperty("revision", revision.getAsLong());
      }
      o.addProperty("appliedAt", appliedAt.toString());
      com.google.gson.JsonArray routeNames = new com.google.gson.JsonArray();
      running.routes().forEach(r -> routeNames.add(r.name()));
      o.add("routes", routeNames);
      com.google.gson.JsonArray clusterNames = new com.google.gson.JsonArray();
      running.clusters().forEach(c -> clusterNames.add(c.name()));
      o.add("clusters", clusterNames);
      return o.toString();
    }

    @Override
    public String clusters() {
      com.google.gson.JsonArray list = new com.google.gson.JsonArray();
      for (UpstreamCluster cluster : clusters.values()) {
        com.google.gson.JsonObject c = new com.google.gson.JsonObject();
        c.addProperty("name", cluster.name());
        c.addProperty("target", cluster.target());
        c.addProperty("lbPolicy", cluster.config().lbPolicy());
        int endpoints = cluster.endpointCount();
        if (endpoints >= 0) {
          c.addProperty("endpoints", endpoints);
        }
        com.google.gson.JsonObject states = new com.google.gson.JsonObject();
        for (io.grpc.ConnectivityState state : io.grpc.ConnectivityState.values()) {
          int n = cluster.channelsIn(state);
          if (n > 0) {
            states.addProperty(state.name(), n);
          }
        }
        c.add("channels", states);
        if (cluster.circuitBreaker() != null) {
          c.addProperty("circuitBreaker", cluster.circuitBreaker().state());
        }
        list.add(c);
      }
      return list.toString();
    }

    @Override
    public String routes() {
      com.google.gson.JsonArray list = new com.google.gson.JsonArray();
      for (GatewayConfig.Route route : config.routes()) {
        com.google.gson.JsonObject r = new com.google.gson.JsonObject();
        r.addProperty("name", route.name());
        com.google.gson.JsonObject match = new com.google.gson.JsonObject();
        if (route.match().service() != null) {
          match.addProperty("service", route.match().service());
        }
        if (route.match().servicePrefix() != null) {
          match.addProperty("servicePrefix", route.match().servicePrefix());
        }
        if (route.match().method() != null) {
          match.addProperty("method", route.match().method());
        }
        r.add("match", match);
        if (route.split().isEmpty()) {
          r.addProperty("cluster", route.cluster());
        } else {
          com.google.gson.JsonArray split = new com.google.gson.JsonArray();
          for (GatewayConfig.WeightedCluster w : route.split()) {
            com.google.gson.JsonObject e = new com.google.gson.JsonObject();
            e.addProperty("cluster", w.cluster());
            e.addProperty("weight", w.weight());
            split.add(e);
          }
          r.add("split", split);
        }
        com.google.gson.JsonArray policies = new com.google.gson.JsonArray();
        if (route.auth() != null) {
          policies.add("auth");
        }
        if (!route.rateLimits().isEmpty()) {
          policies.add("rateLimits");
        }
        if (route.retry() != null) {
          policies.add("retry");
        }
        if (!route.canary().isEmpty()) {
          policies.add("canary");
        }
        r.add("policies", policies);
        list.add(r);
      }
      return list.toString();
    }

    @Override
    public Change put(String section, String name, String body) {
      return change(section, name, body);
    }

    @Override
    public Change delete(String section, String name) {
      return change(section, name, null);
    }

    private Change change(String section, String name, String body) {
      io.meshgate.gateway.config.ConfigStore target = store;
      if (target == null) {
        return new Change(409, error(9, "this gateway has no configuration store to change"
            + " (it was not started with --config FILE)"));
      }
      io.meshgate.gateway.config.ConfigStore.Section which = section.equals("routes")
          ? io.meshgate.gateway.config.ConfigStore.Section.ROUTES
          : io.meshgate.gateway.config.ConfigStore.Section.CLUSTERS;
      long before = version.get();
      try {
        if (body == null) {
          if (!target.delete(which, name)) {
            return new Change(404, error(5, "no " + section + " entry named '" + name + "'"));
          }
        } else {
          target.put(which, name, body);
        }
      } catch (ConfigException e) {
        com.google.gson.JsonObject o = new com.google.gson.JsonObject();
        o.addProperty("applied", false);
        com.google.gson.JsonArray errors = new com.google.gson.JsonArray();
        e.errors().forEach(err -> errors.add(err.toString()));
        o.add("errors", errors);
        return new Change(422, o.toString());
      } catch (java.io.IOException e) {
        return new Change(500, error(13, "cannot use the configuration store: "
            + e.getMessage()));
      } catch (RuntimeException e) {
        return new Change(500, error(13, "the stored configuration cannot be changed: "
            + e.getMessage()));
      }
      com.google.gson.JsonObject o = new com.google.gson.JsonObject();
      o.addProperty("applied", version.get() > before);
      o.addProperty("version", version.get());
      return new Change(200, o.toString());
    }

    private String error(int code, String message) {
      com.google.gson.JsonObject o = new com.google.gson.JsonObject();
      o.addProperty("code", code);
      o.addProperty("message", message);
      return o.toString();
    }

    @Override
    public List<String> validate(String yaml) {
      try {
        // Relative paths in the document mean what they would in the running file.
        java.nio.file.Path base = java.nio.file.Path.of(config.source()).toAbsolutePath()
            .getParent();
        ConfigLoader.parse("(request body)", yaml, base);
        return List.of();
      } catch (ConfigException e) {
        return e.errors().stream().map(ConfigError::toString).toList();
      }
    }
  }

  /** The running cluster of that name, or null. */
  public UpstreamCluster cluster(String name) {
    return clusters.get(name);
  }

  private static void registerClusterGauges(
      io.meshgate.gateway.telemetry.GatewayMetrics metrics, Iterable<UpstreamCluster> list) {
    for (UpstreamCluster cluster : list) {
      if (cluster.endpointCount() >= 0 || cluster.target().startsWith("etcd:")) {
        cluster.trackMeter(metrics.gauge("meshgate.upstream.endpoints", "Endpoints the"
            + " cluster's target resolves to (static and etcd targets)", cluster,
            UpstreamCluster::endpointCount, "cluster", cluster.name()));
      }
      for (io.grpc.ConnectivityState state : io.grpc.ConnectivityState.values()) {
        cluster.trackMeter(metrics.gauge("meshgate.upstream.channels", "The cluster's channels"
            + " (one per event loop) by connectivity state: READY means some endpoint is"
            + " connected", cluster, c -> c.channelsIn(state), "cluster", cluster.name(),
            "state", state.name()));
      }
    }
  }

  /** Meters that read the state of clusters, discovery and descriptors when scraped. */
  private void registerGauges(io.meshgate.gateway.telemetry.GatewayMetrics metrics) {
    registerClusterGauges(metrics, clusters.values());
    metrics.functionCounter("meshgate.discovery.list.failures", "etcd listings that failed",
        io.meshgate.resolver.DiscoveryMetrics::listFailures);
    metrics.functionCounter("meshgate.discovery.watch.failures", "etcd watches that broke",
        io.meshgate.resolver.DiscoveryMetrics::watchFailures);
    metrics.functionCounter("meshgate.discovery.relists", "etcd listings redone after a"
        + " broken watch", io.meshgate.resolver.DiscoveryMetrics::relists);
    metrics.gauge("meshgate.discovery.unreachable.resolvers", "etcd resolvers serving their last"
        + " known endpoints because etcd cannot be reached", this,
        g -> io.meshgate.resolver.DiscoveryMetrics.unreachableResolvers());
    if (descriptors != null) {
      descriptors.onOutcome((source, ok) -> metrics.counter("meshgate.config.reloads",
          "Configuration changes applied or rejected, by source (file, descriptors)", "source",
          "descriptors", "result", ok ? "applied" : "rejected").increment());
    }
  }

  /** Whether some route sends a method of {@code service} to a cluster. */
  private boolean routes(ServiceDescriptor service) {
    RouteTable table = routes.get();
    for (MethodDescriptor method : service.getMethods()) {
      if (table.match(service.getFullName(), method.getName(), null) != null) {
        return true;
      }
    }
    return false;
  }

  /** The descriptors REST requests are transcoded with, or null without transcoding. */
  public Descriptors descriptors() {
    return descriptors;
  }

  private void closeClusters() {
    clusters.values().forEach(UpstreamCluster::shutdown);
    offload.shutdownNow();
    loops.close();
  }

  /**
   * Starts a gateway for a validated configuration.
   *
   * @throws ConfigException when the TLS certificate or key cannot be loaded
   * @throws java.io.IOException when a port cannot be bound
   * @throws InterruptedException if interrupted while binding
   */
  public static Gateway start(GatewayConfig config)
      throws ConfigException, java.io.IOException, InterruptedException {
    Telemetry telemetry;
    try {
      telemetry = Telemetry.create(config);
    } catch (java.io.IOException e) {
      throw new ConfigException(List.of(new ConfigError(config.source(), 0, 0, "accessLog.path",
          "cannot open the access log: " + e.getMessage())));
    }
    Authentication auth;
    try {
      auth = Authentication.start(config.jwtProviders(), telemetry.metrics(),
          java.time.Clock.systemUTC());
    } catch (java.io.IOException e) {
      telemetry.close();
      throw new ConfigException(List.of(new ConfigError(config.source(), 0, 0, "auth.providers",
          e.getMessage())));
    }
    Gateway gateway;
    try {
      gateway = new Gateway(config, sslContext(config), telemetry, auth);
    } catch (ConfigException | RuntimeException e) {
      auth.close();
      telemetry.close();
      throw e;
    }
    try {
      if (gateway.descriptors != null) {
        gateway.descriptors.start();
      }
      gateway.admin.start();
      // Calls to authenticated routes need the providers' keys: give the first reads (bounded by
      // their fetch timeouts) a chance before taking calls; routes of a provider whose keys are
      // still missing answer 503 until they arrive.
      java.time.Duration wait = config.jwtProviders().stream()
          .map(GatewayConfig.JwtProvider::fetchTimeout)
          .max(java.util.Comparator.naturalOrder()).orElse(java.time.Duration.ZERO);
      for (String missing : gateway.auth.get().awaitFirstKeys(wait)) {
        logger.warning("JWT provider keys not loaded yet; its routes answer 503 until they are: "
            + missing);
      }
      gateway.front.start();
    } catch (RuntimeException | java.io.IOException | InterruptedException e) {
      gateway.close();
      throw e;
    }
    gateway.ready = true;
    return gateway;
  }

  private static SslContext sslContext(GatewayConfig config) throws ConfigException {
    GatewayConfig.Tls tls = config.listener().tls();
    if (tls == null) {
      return null;
    }
    try {
      return SslContextBuilder.forServer(tls.certFile().toFile(), tls.keyFile().toFile())
          .ciphers(Http2SecurityUtil.CIPHERS, SupportedCipherSuiteFilter.INSTANCE)
          .applicationProtocolConfig(new ApplicationProtocolConfig(
              ApplicationProtocolConfig.Protocol.ALPN,
              ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
              ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
              ApplicationProtocolNames.HTTP_2, ApplicationProtocolNames.HTTP_1_1))
          .build();
    } catch (Exception e) {
      throw new ConfigException(List.of(new ConfigError(config.source(), 0, 0, "listener.tls",
          "cannot load certificate " + tls.certFile() + " with key " + tls.keyFile()
              + " (expected: PEM certificate chain and PEM PKCS#8 private key): "
              + e.getMessage())));
    }
  }

  /** The configuration this gateway runs. */
  public GatewayConfig config() {
    return config;
  }

  /** The main port. */
  public int port() {
    return front.port();
  }

  /** The admin port. */
  public int adminPort() {
    return admin.port();
  }

  /** Whether {@code /readyz} reports ready. */
  public boolean isReady() {
    return ready;
  }

  /** Client connections currently open on the main port. */
  public int openConnections() {
    return front.openConnections();
  }

  /**
   * Drains and stops: {@code /readyz} turns unready, and after the readiness grace the main port
   * stops accepting, HTTP/2 clients get GOAWAY and calls in flight get the drain timeout to
   * finish. Then upstream channels and the admin port close. Idempotent.
   */
  public CompletableFuture<Void> shutdown() {
    if (!stopping.compareAndSet(false, true)) {
      return terminated;
    }
    ready = false;
    logger.info("draining: /readyz is unready; GOAWAY in "
        + config.shutdown().readinessGrace().toMillis() + " ms, then up to "
        + config.shutdown().drainTimeout().toMillis() + " ms for calls in flight");
    CompletableFuture
        .runAsync(() -> { }, CompletableFuture.delayedExecutor(
            config.shutdown().readinessGrace().toNanos(), TimeUnit.NANOSECONDS))
        .thenCompose(ignored -> front.drain())
        // Whatever happens while draining, the process must still stop.
        .completeOnTimeout(null, config.shutdown().readinessGrace().toMillis()
            + config.shutdown().drainTimeout().toMillis() + 5_000, TimeUnit.MILLISECONDS)
        .whenComplete((ignored, error) -> {
          if (error != null) {
            logger.log(java.util.logging.Level.WARNING, "draining failed; stopping anyway", error);
          }
          Thread stopper = new Thread(() -> {
            stopUpstreamsAndLoops();
            logger.info("stopped");
            terminated.complete(null);
          }, "meshgate-shutdown");
          stopper.start();
        });
    return terminated;
  }

  /** Stops at once: open calls are cut. */
  @Override
  public void close() {
    ready = false;
    if (stopping.compareAndSet(false, true)) {
      front.close();
      stopUpstreamsAndLoops();
      terminated.complete(null);
    } else {
      terminated.join();
    }
  }

  private void stopUpstreamsAndLoops() {
    front.close();
    if (descriptors != null) {
      descriptors.close();
    }
    if (reflection != null) {
      reflection.close();
    }
    clusters.values().forEach(UpstreamCluster::shutdown);
    retiring.forEach(UpstreamCluster::shutdown);
    for (UpstreamCluster cluster : clusters.values()) {
      try {
        cluster.awaitTermination(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    admin.close();
    auth.get().close();
    telemetry.close();
    offload.shutdownNow();
    loops.close();
  }

  /** The gateway's meters (what {@code /metrics} shows). */
  public io.meshgate.gateway.telemetry.GatewayMetrics metrics() {
    return telemetry.metrics();
  }
}
