package io.meshgate.gateway;

import io.meshgate.gateway.admin.AdminServer;
import io.meshgate.gateway.admin.GatewayAdminApi;
import io.meshgate.gateway.auth.Authentication;
import io.meshgate.gateway.config.ConfigError;
import io.meshgate.gateway.config.ConfigException;
import io.meshgate.gateway.config.ConfigStore;
import io.meshgate.gateway.config.GatewayConfig;
import io.meshgate.gateway.descriptors.Descriptors;
import io.meshgate.gateway.descriptors.ReflectionServer;
import io.meshgate.gateway.front.FrontServer;
import io.meshgate.gateway.front.ServerTls;
import io.meshgate.gateway.netty.AbuseMemory;
import io.meshgate.resolver.tls.CertificateWatcher;
import io.meshgate.gateway.netty.ConnectionCuts;
import io.meshgate.gateway.overload.Memory;
import io.meshgate.gateway.overload.OverloadManager;
import io.meshgate.gateway.netty.EventLoops;
import io.meshgate.gateway.proxy.ProxyService;
import io.meshgate.gateway.ratelimit.RateLimits;
import io.meshgate.gateway.rest.RestService;
import io.meshgate.gateway.route.CallAdmission;
import io.meshgate.gateway.route.RouteCompiler;
import io.meshgate.gateway.route.RouteTable;
import io.meshgate.gateway.route.Running;
import io.meshgate.gateway.telemetry.DiscoveryMeters;
import io.meshgate.gateway.telemetry.GatewayMetrics;
import io.meshgate.gateway.telemetry.Telemetry;
import io.meshgate.gateway.upstream.UpstreamCluster;
import io.meshgate.transcoder.DescriptorException;
import io.netty.handler.ssl.SslContext;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * A running gateway, its lifecycle: {@link #start} builds the parts of one configuration and
 * binds the main and admin ports; {@link #apply} hands a new configuration to the reload;
 * {@link #shutdown} drains gracefully; {@link #close} stops at once.
 */
public final class Gateway implements AutoCloseable {
  private static final Logger logger = Logger.getLogger(Gateway.class.getName());

  private final Telemetry telemetry;
  private final EventLoops loops;
  private final ThreadPoolExecutor offload;
  private final Descriptors descriptors;
  private final ReflectionServer reflection;
  private final GatewayReload reload;
  private final FrontServer front;
  private final AdminServer admin;
  private final OverloadManager overload;
  private final CertificateWatcher certificates;
  private final RateLimits rateLimits;
  /** How often certificate, key and CA files are checked for changes. */
  private static final java.time.Duration CERTIFICATE_POLL = java.time.Duration.ofSeconds(2);
  private final AtomicBoolean stopping = new AtomicBoolean();
  private final CompletableFuture<Void> terminated = new CompletableFuture<>();
  private volatile boolean ready;
  // Set once by the launcher, before the admin API is used.
  private volatile ConfigStore store;
  private volatile LongSupplier revision = () -> 0;
  private final io.meshgate.gateway.config.ReloadHistory reloads =
      new io.meshgate.gateway.config.ReloadHistory();
  private final GatewayAdminApi adminApi;
  private AutoCloseable trafficSampler;

  private Gateway(GatewayConfig config, ServerTls tls, ServerTls adminTls, Telemetry telemetry,
      Authentication auth) throws ConfigException {
    this.telemetry = telemetry;
    this.certificates = new CertificateWatcher(CERTIFICATE_POLL,
        certificateListener(telemetry.metrics()));
    this.loops = new EventLoops(config.listener().workerThreads());
    this.offload = new ThreadPoolExecutor(2, 2, 60, TimeUnit.SECONDS,
        new ArrayBlockingQueue<>(1024), r -> {
          Thread t = new Thread(r, "meshgate-offload");
          t.setDaemon(true);
          return t;
        });
    offload.allowCoreThreadTimeOut(true);
    GatewayConfig.Transcoding transcoding = config.transcoding();
    try {
      // Reflection sources reach their clusters in the running configuration, when they fetch.
      this.descriptors = transcoding.enabled()
          ? Descriptors.load(transcoding, this::clusterChannel) : null;
    } catch (DescriptorException e) {
      stopThreads();
      throw new ConfigException(List.of(new ConfigError(config.source(), 0, 0,
          "transcoding.descriptors", e.getMessage())));
    }
    Map<String, UpstreamCluster> builtIn = new LinkedHashMap<>();
    if (descriptors != null && transcoding.serveReflection()) {
      // The gateway answers reflection for what it routes: ahead of the configured routes.
      this.reflection = new ReflectionServer(offload);
      UpstreamCluster cluster = UpstreamCluster.inProcess("gateway-reflection",
          reflection.channel());
      ReflectionServer.SERVICES.forEach(service -> builtIn.put(service, cluster));
    } else {
      this.reflection = null;
    }
    GatewayMetrics metrics = telemetry.metrics();
    this.rateLimits = new RateLimits(metrics, System::nanoTime);
    RouteCompiler compiler = new RouteCompiler(rateLimits, metrics, System::nanoTime, builtIn);
    this.overload = new OverloadManager(config.limits().overload(),
        Memory.jvm((io.netty.buffer.PooledByteBufAllocator) loops.allocator()), System::nanoTime);
    try {
      this.reload = new GatewayReload(config, auth, cluster -> UpstreamCluster.create(cluster,
          loops, config.limits(), offload, metrics, telemetry.tracing(), certificates,
          overload.budget()), compiler, metrics);
    } catch (RuntimeException e) {
      overload.close();
      if (descriptors != null) {
        descriptors.close();
      }
      if (reflection != null) {
        reflection.close();
      }
      stopThreads();
      throw e;
    }
    if (reflection != null) {
      descriptors.addListener(snapshot -> reflection.update(snapshot,
          service -> routes(running().routes(), service)));
    }
    DiscoveryMeters.register(metrics);
    if (descriptors != null) {
      descriptors.onOutcome((source, ok) -> reloaded("descriptors", ok, ok
          ? "descriptors from " + source + " loaded"
          : "descriptors from " + source + " refused: " + descriptors.errors().get(source)));
    }
    CallAdmission admission = new CallAdmission(reload::current, telemetry, loops,
        io.meshgate.gateway.route.ClientCertForwarding.of(config,
            tls == null ? null : tls.ownUri()),
        () -> descriptors == null ? Descriptors.Snapshot.empty() : descriptors.snapshot());
    ConnectionCuts cuts = new ConnectionCuts(new AbuseMemory(
        config.limits().connections().abuseBan(), System::nanoTime), System::nanoTime);
    for (ConnectionCuts.Reason reason : ConnectionCuts.Reason.values()) {
      metrics.functionCounter("meshgate.connections.cut", "Client connections the gateway"
          + " closed, by reason", cuts, c -> c.count(reason), "reason",
          reason.label());
    }
    registerOverloadMeters(metrics, overload);
    this.front = new FrontServer(config, loops, new io.meshgate.gateway.front.Adapters(
        new ProxyService(admission, config.limits(), loops.allocator()),
        new RestService(admission, descriptors, transcoding, config.limits()),
        new io.meshgate.gateway.grpcweb.GrpcWebService(admission, config.limits(),
            transcoding.cors()),
        new io.meshgate.gateway.connect.ConnectService(admission, descriptors, transcoding,
            config.limits()),
        new io.meshgate.gateway.websocket.WebSocketService(admission, descriptors, transcoding,
            config.limits())),
        tls == null ? null : tls.context(), cuts, overload);
    if (tls != null) {
      tls.watch(certificates);
    }
    if (adminTls != null) {
      adminTls.watch(certificates);
    }
    watchEtcdCertificate(config.discovery().etcdTls());
    this.adminApi = new GatewayAdminApi(reload::current, () -> store, () -> revision.getAsLong(),
        () -> descriptors == null ? Descriptors.Snapshot.empty() : descriptors.snapshot())
        .withConsole(reloads, metrics.history(), () -> front.port(),
            config.listener().tls() != null && !config.listener().tls().allowPlaintext());
    this.admin = new AdminServer(config.admin(), adminTls, loops, this::unreadyReason, metrics,
        adminApi);
  }

  /**
   * Shows the expiry of the etcd client certificate and counts its changes. The resolver
   * library reloads the files for its connections by the same check, so what is shown here is
   * what etcd connections present.
   */
  private void watchEtcdCertificate(io.meshgate.resolver.EtcdTls etcd) {
    if (etcd == null || etcd.certFile() == null) {
      return;
    }
    java.util.concurrent.atomic.AtomicReference<java.security.cert.X509Certificate> leaf =
        new java.util.concurrent.atomic.AtomicReference<>();
    CertificateWatcher.Reload check = () -> leaf.set(
        io.meshgate.resolver.tls.PemFiles.read(etcd.certFile(), etcd.keyFile()).leaf());
    try {
      check.reload();
    } catch (Exception e) {
      return; // the etcd connections fail with the reason, and say it
    }
    certificates.watch("etcd", List.of(etcd.certFile(), etcd.keyFile()), check, leaf::get);
  }

  private static void registerOverloadMeters(GatewayMetrics metrics, OverloadManager overload) {
    metrics.gauge("meshgate.overload.state", "The overload manager's state: 0 normal, 1 refusing"
        + " new connections and streams, 2 also resetting the streams holding the most buffers",
        overload, o -> o.state().ordinal());
    metrics.gauge("meshgate.overload.memory.bytes", "Memory the overload manager measured:"
        + " heap after the last GC, direct memory in use by buffers", overload,
        OverloadManager::heapUsed, "resource", "heap");
    metrics.gauge("meshgate.overload.memory.bytes", "Memory the overload manager measured:"
        + " heap after the last GC, direct memory in use by buffers", overload,
        OverloadManager::directUsed, "resource", "direct");
    for (OverloadManager.Refused what : OverloadManager.Refused.values()) {
      metrics.functionCounter("meshgate.overload.refused", "Connections, streams and requests"
          + " refused while overloaded", overload, o -> o.refusedCount(what), "what",
          what.label());
    }
    metrics.functionCounter("meshgate.overload.streams.reset", "Streams reset while overloaded,"
        + " those holding the most buffered bytes first", overload, OverloadManager::shedCount);
    io.meshgate.gateway.overload.BufferBudget budget = overload.budget();
    if (budget.bytes() > 0) {
      metrics.gauge("meshgate.buffer.budget.bytes", "The budget of buffered bytes"
          + " (limits.overload.budget)", budget, b -> b.bytes());
      metrics.gauge("meshgate.buffer.budget.paused", "1 while buffers are past the budget and"
          + " HTTP/2 peers get no more window", budget, b -> b.paused() ? 1 : 0);
      metrics.functionCounter("meshgate.buffer.budget.pauses", "Times buffers reached the"
          + " budget and window grants were held back", budget,
          io.meshgate.gateway.overload.BufferBudget::pauses);
    }
  }

  /** Counts certificate reloads and shows how long each certificate in use has left. */
  private static CertificateWatcher.Listener certificateListener(GatewayMetrics metrics) {
    Map<CertificateWatcher.Watch, io.micrometer.core.instrument.Meter> gauges =
        new java.util.concurrent.ConcurrentHashMap<>();
    return new CertificateWatcher.Listener() {
      @Override
      public void reloaded(String role) {
        metrics.counter("meshgate.tls.reloads", "Changed certificate, key and CA files, loaded"
            + " or refused", "role", role, "result", "loaded").increment();
      }

      @Override
      public void refused(String role) {
        metrics.counter("meshgate.tls.reloads", "Changed certificate, key and CA files, loaded"
            + " or refused", "role", role, "result", "refused").increment();
      }

      @Override
      public void added(CertificateWatcher.Watch watch) {
        gauges.put(watch, metrics.gauge("meshgate.tls.certificate.expiry.seconds", "Seconds"
            + " until the certificate in use expires", watch,
            CertificateWatcher.Watch::expirySeconds, "role", watch.role(), "file",
            watch.file().toString()));
      }

      @Override
      public void removed(CertificateWatcher.Watch watch) {
        io.micrometer.core.instrument.Meter gauge = gauges.remove(watch);
        if (gauge != null) {
          metrics.remove(gauge);
        }
      }
    };
  }

  /** Why {@code /readyz} is unready now, or null. */
  private String unreadyReason() {
    if (!ready) {
      return stopping.get() ? "draining" : "starting";
    }
    return overload.isRefusing() ? "overloaded: " + overload.reason() : null;
  }

  /** The channel of a running cluster, for the gateway's own calls (reflection). */
  private io.grpc.Channel clusterChannel(String name) {
    return reload.current().clusters().get(name).channel();
  }

  /** Whether some route of {@code table} sends a method of {@code service} to a cluster. */
  private static boolean routes(RouteTable table,
      com.google.protobuf.Descriptors.ServiceDescriptor service) {
    for (com.google.protobuf.Descriptors.MethodDescriptor method : service.getMethods()) {
      if (table.match(service.getFullName(), method.getName(), null) != null) {
        return true;
      }
    }
    return false;
  }

  /**
   * Starts a gateway for a validated configuration.
   *
   * @throws ConfigException when the TLS certificate or key, the access log or the JWT key
   *     material cannot be used
   * @throws IOException when a port cannot be bound
   * @throws InterruptedException if interrupted while binding
   */
  public static Gateway start(GatewayConfig config)
      throws ConfigException, IOException, InterruptedException {
    Telemetry telemetry;
    try {
      telemetry = Telemetry.create(config);
    } catch (IOException e) {
      throw new ConfigException(List.of(new ConfigError(config.source(), 0, 0, "accessLog.path",
          "cannot open the access log: " + e.getMessage())));
    }
    Authentication auth;
    try {
      auth = Authentication.start(config.jwtProviders(), telemetry.metrics(), Clock.systemUTC());
    } catch (IOException e) {
      telemetry.close();
      throw new ConfigException(List.of(new ConfigError(config.source(), 0, 0, "auth.providers",
          e.getMessage())));
    }
    Gateway gateway;
    try {
      gateway = new Gateway(config, ServerTls.forListener(config), ServerTls.forAdmin(config),
          telemetry, auth);
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
      Duration wait = config.jwtProviders().stream().map(GatewayConfig.JwtProvider::fetchTimeout)
          .max(Comparator.naturalOrder()).orElse(Duration.ZERO);
      for (String missing : auth.awaitFirstKeys(wait)) {
        logger.warning("JWT provider keys not loaded yet; its routes answer 503 until they are: "
            + missing);
      }
      gateway.front.start();
    } catch (RuntimeException | IOException | InterruptedException e) {
      gateway.close();
      throw e;
    }
    gateway.trafficSampler = gateway.metrics().history().startSampling();
    gateway.reloads.add(new io.meshgate.gateway.config.ReloadHistory.Entry(
        java.time.Instant.now(), "start", true, "started with " + config.source(), 1));
    gateway.ready = true;
    return gateway;
  }

  /**
   * Applies a new configuration without a restart (see {@link GatewayReload#apply}).
   *
   * @return the sections whose changes wait for a restart (empty when all of it applied)
   * @throws ConfigException when the new JWT providers' key material cannot be used; nothing
   *     changed then
   */
  public List<String> apply(GatewayConfig next) throws ConfigException {
    return reload.apply(next);
  }

  /**
   * Reports the revision of the stored configuration this gateway serves (etcd's mod revision
   * of the document), on the admin API and as {@code meshgate_config_revision}.
   */
  public void useRevision(LongSupplier revision) {
    this.revision = revision;
    telemetry.metrics().gauge("meshgate.config.revision", "Revision of the stored"
        + " configuration this gateway serves (etcd mod revision)", this,
        g -> g.revision.getAsLong());
  }

  /**
   * Records a configuration change the gateway saw — applied, or refused with its errors — in
   * the reload history (the console, {@code GET /api/reloads}) and in
   * {@code meshgate_config_reloads_total}.
   *
   * @param source {@code file}, {@code etcd}, {@code descriptors}
   */
  public void reloaded(String source, boolean applied, String message) {
    reloads.add(new io.meshgate.gateway.config.ReloadHistory.Entry(java.time.Instant.now(),
        source, applied, message, reload.current().version()));
    metrics().counter("meshgate.config.reloads", "Configuration changes applied or rejected,"
        + " by source (file, etcd, descriptors)", "source", source, "result",
        applied ? "applied" : "rejected").increment();
  }

  /** Makes admin API changes go to {@code store} (the file given with --config, or etcd). */
  public void useStore(ConfigStore store) {
    this.store = store;
  }

  /** The version of the running configuration: 1 at start, one more per applied change. */
  public long configVersion() {
    return reload.current().version();
  }

  /** The configuration this gateway runs. */
  public GatewayConfig config() {
    return reload.current().config();
  }

  /** The running configuration with its clusters and routes. */
  public Running running() {
    return reload.current();
  }

  /** The running cluster of that name, or null. */
  public UpstreamCluster cluster(String name) {
    return reload.current().clusters().get(name);
  }

  /** The descriptors REST requests are transcoded with, or null without transcoding. */
  public Descriptors descriptors() {
    return descriptors;
  }

  /** The gateway's meters (what {@code /metrics} shows). */
  public GatewayMetrics metrics() {
    return telemetry.metrics();
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
    return unreadyReason() == null;
  }

  /** The overload manager. */
  public OverloadManager overload() {
    return overload;
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
    GatewayConfig.Shutdown config = config().shutdown();
    logger.info("draining: /readyz is unready; GOAWAY in " + config.readinessGrace().toMillis()
        + " ms, then up to " + config.drainTimeout().toMillis() + " ms for calls in flight");
    CompletableFuture
        .runAsync(() -> { }, CompletableFuture.delayedExecutor(
            config.readinessGrace().toNanos(), TimeUnit.NANOSECONDS))
        .thenCompose(ignored -> front.drain())
        // Whatever happens while draining, the process must still stop.
        .completeOnTimeout(null, config.readinessGrace().toMillis()
            + config.drainTimeout().toMillis() + 5_000, TimeUnit.MILLISECONDS)
        .whenComplete((ignored, error) -> {
          if (error != null) {
            logger.log(Level.WARNING, "draining failed; stopping anyway", error);
          }
          Thread stopper = new Thread(() -> {
            stopEverything();
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
      stopEverything();
      terminated.complete(null);
    } else {
      terminated.join();
    }
  }

  private void stopEverything() {
    if (trafficSampler != null) {
      try {
        trafficSampler.close();
      } catch (Exception e) {
        logger.fine("stopping the traffic history: " + e);
      }
    }
    adminApi.close();
    front.close();
    if (descriptors != null) {
      descriptors.close();
    }
    if (reflection != null) {
      reflection.close();
    }
    reload.close();
    admin.close();
    overload.close();
    telemetry.close();
    stopThreads();
  }

  private void stopThreads() {
    certificates.close();
    rateLimits.close();
    offload.shutdownNow();
    loops.close();
  }
}
