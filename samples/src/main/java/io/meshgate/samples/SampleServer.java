package io.meshgate.samples;

import io.grpc.BindableService;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import io.meshgate.resolver.EtcdRegistrar;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Runs the sample microservices. Each service listens on its own port and also serves
 * {@code grpc.health.v1} and server reflection.
 *
 * <pre>
 * java -cp samples/target/meshgate-samples.jar io.meshgate.samples.SampleServer \
 *     --serve users=50051 --serve orders=50052 --serve echo=50053 --serve docs=50054 \
 *     [--host 127.0.0.1] \
 *     [--etcd http://127.0.0.1:2379 [--ttl 10] [--weight N] [--zone Z] [--version V] [--tag T]]
 * </pre>
 *
 * <p>With {@code --etcd}, each service registers itself in etcd as {@code users}, {@code orders},
 * {@code echo} or {@code docs} (so clients resolve {@code etcd:///echo}) and deregisters when it
 * stops.
 */
public final class SampleServer implements AutoCloseable {

  /** The sample services. */
  public enum Kind { USERS, ORDERS, ECHO, DOCS }

  private final Server server;
  private final Kind kind;
  private final EchoServiceImpl echo;
  private final ScheduledExecutorService scheduler;
  private final HealthStatusManager health;
  private EtcdRegistrar registrar;
  private final java.util.concurrent.atomic.AtomicBoolean closed =
      new java.util.concurrent.atomic.AtomicBoolean();

  private SampleServer(Server server, Kind kind, EchoServiceImpl echo,
      ScheduledExecutorService scheduler, HealthStatusManager health) {
    this.server = server;
    this.kind = kind;
    this.echo = echo;
    this.scheduler = scheduler;
    this.health = health;
  }

  /**
   * Starts one sample service on {@code host:port} (port 0 picks a free one).
   *
   * @throws IOException if the port cannot be bound
   */
  public static SampleServer start(Kind kind, String host, int port) throws IOException {
    ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "sample-" + kind.name().toLowerCase(Locale.ROOT) + "-scheduler");
      t.setDaemon(true);
      return t;
    });
    HealthStatusManager health = new HealthStatusManager();
    NettyServerBuilder builder = NettyServerBuilder.forAddress(new InetSocketAddress(host, port));
    EchoServiceImpl echo = null;
    BindableService service;
    String serviceName;
    Clock clock = Clock.systemUTC();
    switch (kind) {
      case USERS -> {
        service = new UserDirectoryService(clock);
        serviceName = io.meshgate.samples.users.v1.UserDirectoryGrpc.SERVICE_NAME;
      }
      case ORDERS -> {
        service = new OrderService(clock);
        serviceName = io.meshgate.samples.orders.v1.OrderServiceGrpc.SERVICE_NAME;
      }
      case DOCS -> {
        service = new DocumentStoreService(clock);
        serviceName = io.meshgate.samples.docs.v1.DocumentStoreGrpc.SERVICE_NAME;
      }
      default -> {
        echo = new EchoServiceImpl(host, scheduler);
        service = echo;
        serviceName = io.meshgate.samples.echo.v1.EchoServiceGrpc.SERVICE_NAME;
      }
    }
    Server server = builder
        .addService(ServerInterceptors.intercept(service, new EchoMetadataInterceptor()))
        .addService(health.getHealthService())
        .addService(ProtoReflectionServiceV1.newInstance())
        .maxInboundMessageSize(64 * 1024 * 1024)
        .build()
        .start();
    if (echo != null) {
      echo.servedBy(host + ":" + server.getPort());
    }
    health.setStatus(serviceName, ServingStatus.SERVING);
    health.setStatus("", ServingStatus.SERVING);
    return new SampleServer(server, kind, echo, scheduler, health);
  }

  /** Which service this is. */
  public Kind kind() {
    return kind;
  }

  /** The port it listens on. */
  public int port() {
    return server.getPort();
  }

  /**
   * Its grpc.health.v1 service: {@code ""} and the sample's service are SERVING from the start;
   * set them to see health-checking clients move away.
   */
  public HealthStatusManager health() {
    return health;
  }

    /** The echo service's counters; only for {@link Kind#ECHO}. */
  public EchoServiceImpl echo() {
    if (echo == null) {
      throw new IllegalStateException(kind + " is not the echo service");
    }
    return echo;
  }

  /**
   * The name this service registers under in etcd: {@code users}, {@code orders}, {@code echo},
   * {@code docs}.
   */
  public String registryName() {
    return kind.name().toLowerCase(Locale.ROOT);
  }

  /**
   * Registers this service in etcd until {@link #close()}, under {@link #registryName()}.
   *
   * @param customize sets weight, zone, version, tags, TTL on the registrar
   */
  public EtcdRegistrar register(List<String> etcdEndpoints, String advertisedHost,
      java.util.function.UnaryOperator<EtcdRegistrar.Builder> customize) {
    registrar = customize.apply(EtcdRegistrar.builder()
        .etcdEndpoints(etcdEndpoints)
        .service(registryName())
        .server(server, advertisedHost)).build();
    registrar.start();
    return registrar;
  }

  /**
   * Deregisters (when registered), stops accepting calls, lets calls in flight finish for up to
   * 5 s, then stops.
   */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    if (registrar != null) {
      // Deregister first: clients stop picking this instance before it drains.
      registrar.close();
    }
    health.enterTerminalState();
    server.shutdown();
    try {
      if (!server.awaitTermination(5, TimeUnit.SECONDS)) {
        server.shutdownNow();
        server.awaitTermination(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      server.shutdownNow();
      Thread.currentThread().interrupt();
    } finally {
      scheduler.shutdownNow();
    }
  }

  /** Stops at once, cancelling calls in flight, as a crashed backend would (no deregistration). */
  public void kill() {
    closed.set(true);
    server.shutdownNow();
    scheduler.shutdownNow();
  }

  public static void main(String[] args) throws Exception {
    String host = "127.0.0.1";
    List<String> serves = new ArrayList<>();
    List<String> etcd = null;
    Duration ttl = Duration.ofSeconds(10);
    int weight = 1;
    String zone = null;
    String version = null;
    List<String> tags = new ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--host" -> host = args[++i];
        case "--serve" -> serves.add(args[++i]);
        case "--etcd" -> etcd = List.of(args[++i].split(","));
        case "--ttl" -> ttl = Duration.ofSeconds(Long.parseLong(args[++i]));
        case "--weight" -> weight = Integer.parseInt(args[++i]);
        case "--zone" -> zone = args[++i];
        case "--version" -> version = args[++i];
        case "--tag" -> tags.add(args[++i]);
        case "-h", "--help" -> {
          System.out.println("usage: SampleServer --serve users|orders|echo|docs=PORT ... [--host HOST]"
              + " [--etcd ENDPOINTS [--ttl SECONDS] [--weight N] [--zone Z] [--version V]"
              + " [--tag T]...]");
          return;
        }
        default -> {
          System.err.println("unknown option '" + args[i] + "' (try --help)");
          System.exit(2);
        }
      }
    }
    if (serves.isEmpty()) {
      serves = List.of("users=50051", "orders=50052", "echo=50053", "docs=50054");
    }
    List<SampleServer> servers = new ArrayList<>();
    for (String serve : serves) {
      String[] parts = serve.split("=", 2);
      Kind kind = Kind.valueOf(parts[0].toUpperCase(Locale.ROOT));
      SampleServer server = start(kind, host, Integer.parseInt(parts[1]));
      servers.add(server);
      System.out.printf("sample %s service listening on %s:%d%n",
          kind.name().toLowerCase(Locale.ROOT), host, server.port());
      if (etcd != null) {
        Duration leaseTtl = ttl;
        int w = weight;
        String z = zone;
        String v = version;
        String[] t = tags.toArray(new String[0]);
        EtcdRegistrar registrar = server.register(etcd, host,
            b -> b.ttl(leaseTtl).weight(w).zone(z).version(v).tags(t));
        System.out.printf("registering %s in etcd at %s%n", registrar.key(), etcd);
      }
    }
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      servers.forEach(SampleServer::close);
      stopped.countDown();
    }));
    stopped.await();
  }
}
