package io.meshgate.gateway;

import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.meshgate.gateway.config.ConfigFileWatcher;
import io.meshgate.gateway.config.ConfigLoader;
import io.meshgate.gateway.config.GatewayConfig;
import io.meshgate.samples.echo.v1.EchoRequest;
import io.meshgate.samples.echo.v1.EchoResponse;
import io.meshgate.samples.echo.v1.EchoServiceGrpc;
import io.meshgate.samples.users.v1.GetUserRequest;
import io.meshgate.samples.users.v1.UserDirectoryGrpc;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The reload benchmark (bench/run-reload-bench): how long a saved change takes to serve, how
 * long building and swapping a large snapshot takes, and what continuous reloads cost in
 * throughput, all against one gateway in this JVM and a loopback echo backend.
 */
public final class ReloadBench {
  private final Path dir;
  private final int backendPort;

  private ReloadBench(Path dir, int backendPort) {
    this.dir = dir;
    this.backendPort = backendPort;
  }

  public static void main(String[] args) throws Exception {
    Path dir = Files.createTempDirectory("meshgate-reload-bench");
    Server backend = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(new EchoServiceGrpc.EchoServiceImplBase() {
          @Override
          public void echo(EchoRequest request, StreamObserver<EchoResponse> out) {
            out.onNext(EchoResponse.newBuilder().setMessage(request.getMessage()).build());
            out.onCompleted();
          }

          @Override
          public void expand(EchoRequest request, StreamObserver<EchoResponse> out) {
            out.onNext(EchoResponse.newBuilder().setMessage(request.getMessage()).build());
            out.onCompleted();
          }
        })
        // Routed by the route that comes and goes: answered after the whole request, so the
        // backend never resets a stream the gateway still sends on.
        .addService(new UserDirectoryGrpc.UserDirectoryImplBase() {
          @Override
          public void getUser(GetUserRequest request,
              StreamObserver<io.meshgate.samples.users.v1.User> out) {
            out.onError(Status.NOT_FOUND.withDescription("no users here").asException());
          }
        }).build().start();
    try {
      ReloadBench bench = new ReloadBench(dir, backend.getPort());
      System.out.println("Meshgate reload benchmark, " + Runtime.getRuntime()
          .availableProcessors() + " cores\n");
      bench.saveToServing(50);
      bench.etcdPutToServing(100);
      bench.bigSnapshot(20);
      bench.throughputUnderReloads(15);
    } finally {
      backend.shutdownNow();
    }
  }

  /** A config with {@code routes} routes over {@code clusters} clusters. */
  private String config(int routes, int clusters, String tag, boolean extraRoute) {
    StringBuilder yaml = new StringBuilder("""
        listener: {host: 127.0.0.1, port: 0}
        admin: {host: 127.0.0.1, port: 0}
        clusters:
        """);
    yaml.append("  - {name: echo, endpoints: [127.0.0.1:").append(backendPort).append("]}\n");
    for (int c = 0; c < clusters; c++) {
      yaml.append("  - {name: c").append(c).append(", endpoints: [127.0.0.1:")
          .append(backendPort).append("], connectTimeout: ").append(tag).append("}\n");
    }
    yaml.append("routes:\n");
    yaml.append("  - {name: echo, match: {service: meshgate.samples.echo.v1.EchoService,"
        + " method: Echo}, cluster: echo}\n");
    yaml.append("  - {name: expand, match: {service: meshgate.samples.echo.v1.EchoService,"
        + " method: Expand}, cluster: echo}\n");
    for (int r = 0; r < routes; r++) {
      yaml.append("  - {name: r").append(r).append(", match: {service: acme.s").append(r)
          .append(".Service}, cluster: ").append(clusters == 0 ? "echo" : "c" + (r % clusters))
          .append(", timeout: ").append(tag).append("}\n");
    }
    if (extraRoute) {
      yaml.append("  - {name: extra, match: {service: meshgate.samples.users.v1.UserDirectory},"
          + " cluster: echo}\n");
    }
    return yaml.toString();
  }

  private static void save(Path file, String text) throws Exception {
    Path aside = file.resolveSibling(file.getFileName() + ".tmp");
    Files.writeString(aside, text);
    Files.move(aside, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  /** File save → the new route answering, through the file watcher as bin/meshgate runs it. */
  private void saveToServing(int changes) throws Exception {
    Path file = dir.resolve("gateway.yaml");
    Files.writeString(file, config(10, 0, "5s", false));
    try (Gateway gateway = Gateway.start(ConfigLoader.load(file));
        ConfigFileWatcher watcher = ConfigFileWatcher.start(file, Duration.ofMillis(250),
            gateway::apply, (ok, message) -> { })) {
      long[] nanos = toggles(gateway, changes, add -> save(file, config(10, 0, "5s", add)));
      System.out.printf(Locale.ROOT, "file save -> route serving (%d changes, watcher polls every"
          + " 250 ms): p50 %.0f ms, p99 %.0f ms, max %.0f ms%n", changes,
          nanos[changes / 2] / 1e6, nanos[(int) Math.ceil(changes * 0.99) - 1] / 1e6,
          nanos[changes - 1] / 1e6);
    }
  }

  /** Writes a configuration: with the extra route or without. */
  private interface Change {
    void write(boolean withExtraRoute) throws Exception;
  }

  /**
   * Adds and removes the extra route {@code changes} times through {@code change}; returns the
   * sorted times from each write to the gateway answering the new way. UserDirectory is routed
   * only by the extra route: a routed call comes back NOT_FOUND from the backend, an unrouted
   * one UNIMPLEMENTED from the gateway.
   */
  private static long[] toggles(Gateway gateway, int changes, Change change) throws Exception {
    ManagedChannel channel = NettyChannelBuilder.forTarget("127.0.0.1:" + gateway.port())
        .usePlaintext().build();
    UserDirectoryGrpc.UserDirectoryBlockingStub users = UserDirectoryGrpc.newBlockingStub(channel);
    long[] nanos = new long[changes];
    try {
      for (int i = 0; i < changes; i++) {
        boolean add = i % 2 == 0;
        long start = System.nanoTime();
        change.write(add);
        while (true) {
          boolean routed;
          try {
            users.getUser(GetUserRequest.newBuilder().setUserId("u").build());
            routed = true;
          } catch (StatusRuntimeException e) {
            routed = e.getStatus().getCode() != Status.Code.UNIMPLEMENTED;
          }
          if (routed == add) {
            break;
          }
        }
        nanos[i] = System.nanoTime() - start;
      }
    } finally {
      channel.shutdownNow();
    }
    Arrays.sort(nanos);
    return nanos;
  }

  /** etcd put -> the new route answering, through the etcd watch as bin/meshgate runs it. */
  private void etcdPutToServing(int changes) throws Exception {
    try (io.meshgate.testing.EtcdCluster etcd = io.meshgate.testing.EtcdCluster.start(1)) {
      io.etcd.jetcd.ByteSequence key = io.etcd.jetcd.ByteSequence.from(
          "/meshgate/bench/gateway.yaml", java.nio.charset.StandardCharsets.UTF_8);
      etcd.client().getKVClient().put(key, io.etcd.jetcd.ByteSequence.from(
          config(10, 0, "5s", false), java.nio.charset.StandardCharsets.UTF_8)).get();
      io.meshgate.gateway.config.EtcdConfigSource source =
          io.meshgate.gateway.config.EtcdConfigSource.connect(etcd.endpoints(),
              "/meshgate/bench/");
      io.meshgate.gateway.config.EtcdConfigSource.Loaded loaded = source.load();
      try (Gateway gateway = Gateway.start(loaded.config())) {
        source.watch(loaded, gateway::apply, (ok, message) -> { });
        long[] nanos = toggles(gateway, changes, add -> etcd.client().getKVClient().put(key,
            io.etcd.jetcd.ByteSequence.from(config(10, 0, "5s", add),
                java.nio.charset.StandardCharsets.UTF_8)).get());
        System.out.printf(Locale.ROOT, "etcd put -> route serving (%d changes, watched): p50"
                + " %.1f ms, p99 %.1f ms, max %.1f ms%n", changes, nanos[changes / 2] / 1e6,
            nanos[(int) Math.ceil(changes * 0.99) - 1] / 1e6, nanos[changes - 1] / 1e6);
      } finally {
        source.close();
      }
    }
  }

  /** Building and swapping a snapshot of 1,000 routes over 200 clusters. */
  private void bigSnapshot(int runs) throws Exception {
    try (Gateway gateway = Gateway.start(ConfigLoader.parse("big.yaml",
        config(1000, 200, "5s", false), dir))) {
      long[] parse = new long[runs];
      long[] routesOnly = new long[runs];
      long[] everything = new long[runs];
      for (int i = 0; i < runs; i++) {
        String tag = (6 + i) + "s";
        long t0 = System.nanoTime();
        GatewayConfig clustersChanged = ConfigLoader.parse("big.yaml",
            config(1000, 200, tag, false), dir);
        long t1 = System.nanoTime();
        gateway.apply(clustersChanged);
        long t2 = System.nanoTime();
        // Same clusters, every route's timeout changed: channels are reused.
        String text = config(1000, 200, tag, false).replace("timeout: " + tag,
            "timeout: " + (100 + i) + "s");
        GatewayConfig routesChanged = ConfigLoader.parse("big.yaml", text, dir);
        long t3 = System.nanoTime();
        gateway.apply(routesChanged);
        long t4 = System.nanoTime();
        parse[i] = t1 - t0;
        everything[i] = t2 - t1;
        routesOnly[i] = t4 - t3;
      }
      Arrays.sort(parse);
      Arrays.sort(everything);
      Arrays.sort(routesOnly);
      System.out.printf(Locale.ROOT, "snapshot of 1,000 routes and 200 clusters (%d runs, p50 /"
              + " max): parse and validate %.1f / %.1f ms; build and swap with all 200 clusters"
              + " replaced %.1f / %.1f ms; with clusters reused %.1f / %.1f ms%n", runs,
          parse[runs / 2] / 1e6, parse[runs - 1] / 1e6, everything[runs / 2] / 1e6,
          everything[runs - 1] / 1e6, routesOnly[runs / 2] / 1e6, routesOnly[runs - 1] / 1e6);
    }
  }

  /** Closed-loop unary load for {@code seconds} without reloads, then with one a second. */
  private void throughputUnderReloads(int seconds) throws Exception {
    try (Gateway gateway = Gateway.start(ConfigLoader.parse("load.yaml",
        config(100, 20, "5s", false), dir))) {
      ManagedChannel channel = NettyChannelBuilder.forTarget("127.0.0.1:" + gateway.port())
          .usePlaintext().build();
      run(channel, 3, false, gateway); // warm-up
      double quiet = run(channel, seconds, false, gateway);
      double reloading = run(channel, seconds, true, gateway);
      double quiet2 = run(channel, seconds, false, gateway);
      channel.shutdownNow();
      double base = (quiet + quiet2) / 2;
      System.out.printf(Locale.ROOT, "throughput, 40 unary calls in flight: without reloads %.0f"
              + " QPS (two runs: %.0f, %.0f); with a reload every second (routes and clusters"
              + " changed) %.0f QPS -> ratio %.3f (cost %.1f%%)%n", base, quiet, quiet2,
          reloading, reloading / base, 100 * (1 - reloading / base));
    }
  }

  private double run(ManagedChannel channel, int seconds, boolean reload, Gateway gateway)
      throws Exception {
    AtomicBoolean running = new AtomicBoolean(true);
    AtomicLong done = new AtomicLong();
    AtomicLong failed = new AtomicLong();
    CountDownLatch stopped = new CountDownLatch(40);
    EchoServiceGrpc.EchoServiceStub stub = EchoServiceGrpc.newStub(channel);
    EchoRequest request = EchoRequest.newBuilder().setMessage("load").build();
    for (int i = 0; i < 40; i++) {
      next(stub, request, running, done, failed, stopped);
    }
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    int version = 0;
    while (System.nanoTime() < end) {
      long second = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
      if (reload) {
        version++;
        // Alternate cluster settings (channels replaced) and route timeouts.
        gateway.apply(ConfigLoader.parse("load.yaml", config(100, 20, (5 + version % 2) + "s",
            false), dir));
      }
      TimeUnit.NANOSECONDS.sleep(Math.max(0, second - System.nanoTime())); // pacing, not waiting
    }
    running.set(false);
    stopped.await(30, TimeUnit.SECONDS);
    if (failed.get() > 0) {
      throw new IllegalStateException(failed.get() + " calls failed during the run");
    }
    return done.get() / (double) seconds;
  }

  private static void next(EchoServiceGrpc.EchoServiceStub stub, EchoRequest request,
      AtomicBoolean running, AtomicLong done, AtomicLong failed, CountDownLatch stopped) {
    if (!running.get()) {
      stopped.countDown();
      return;
    }
    stub.echo(request, new StreamObserver<>() {
      @Override
      public void onNext(EchoResponse value) {}

      @Override
      public void onError(Throwable t) {
        failed.incrementAndGet();
        next(stub, request, running, done, failed, stopped);
      }

      @Override
      public void onCompleted() {
        done.incrementAndGet();
        next(stub, request, running, done, failed, stopped);
      }
    });
  }
}
