package io.meshgate.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Runs grpc-java's AsyncClient against grpc-java's AsyncServer in one run — directly, through
 * Meshgate (and Meshgate on the newer JVM when {@code /usr/lib/jvm/temurin-25-jdk-amd64} is
 * there), through HAProxy, nghttpx, nginx {@code grpc_pass} and Caddy, each with a minimal h2c
 * configuration — for unary and streaming calls, and prints QPS, latency and each proxy's CPU
 * per call (from /proc) with the ratios to the direct path and to Meshgate.
 *
 * <p>With {@code --floors} (on unless {@code --floors=false}) two reference proxies run in the
 * same rounds: {@link GrpcJavaPassThrough} (grpc-java server and client passing bytes, nothing
 * else) and {@link NettyPassThrough} (two Netty HTTP/2 codecs passing frames, nothing else). They
 * show what the proxy's building blocks cost on the machine before a gateway does any work.
 *
 * <p>Every process runs on loopback and stops by itself at the end (or when this one dies).
 */
public final class ProxyBench {
  private static final Pattern QPS = Pattern.compile("QPS:\\s+(\\d+)");
  private static final Pattern P50 = Pattern.compile("50%ile Latency \\(in micros\\):\\s+(\\d+)");
  private static final Pattern P99 = Pattern.compile("99%ile Latency \\(in micros\\):\\s+(\\d+)");

  private final Path root;
  private final Path work;
  private final String javaCmd;
  private final String benchJar;
  private final int duration;
  private final int warmup;
  private final int channels;
  private final int outstanding;
  private final int workers;
  private final int rounds;
  private final boolean floors;
  private final BenchProcesses processes;

  private final String baselineJar;
  private final long ticksPerSecond;
  private final String jdk25;
  private final java.util.Set<String> peers;

  /**
   * One run; {@code cpuMicros} is the proxy's CPU per call (-1 for the direct path), and
   * {@code allocBytes} the heap bytes a Meshgate allocated per call (-1 for other proxies).
   */
  record Result(long qps, long p50, long p99, double cpuMicros, double allocBytes) {
    Result(long qps, long p50, long p99, double cpuMicros) {
      this(qps, p50, p99, cpuMicros, -1);
    }
  }

  /** Meshgate's admin ports by main port: where its allocation counter is read. */
  private final Map<Integer, Integer> adminPorts = new java.util.HashMap<>();

  Path work() {
    return work;
  }

  Path root() {
    return root;
  }

  BenchProcesses processes() {
    return processes;
  }

  String javaCmd() {
    return javaCmd;
  }

  String benchJar() {
    return benchJar;
  }

  int duration() {
    return duration;
  }

  int rounds() {
    return rounds;
  }

  int workers() {
    return workers;
  }

  ProxyBench(Map<String, String> options) throws IOException {
    this.root = Path.of(options.getOrDefault("root", "..")).toAbsolutePath().normalize();
    this.work = Files.createTempDirectory("meshgate-bench");
    this.processes = new BenchProcesses(work);
    this.javaCmd = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    this.benchJar = Path.of(ProxyBench.class.getProtectionDomain().getCodeSource().getLocation()
        .getPath()).toString();
    this.duration = Integer.parseInt(options.getOrDefault("duration", "20"));
    this.warmup = Integer.parseInt(options.getOrDefault("warmup", "10"));
    this.channels = Integer.parseInt(options.getOrDefault("channels", "4"));
    this.outstanding = Integer.parseInt(options.getOrDefault("outstanding", "10"));
    this.workers = Integer.parseInt(options.getOrDefault("workers",
        Integer.toString(Runtime.getRuntime().availableProcessors())));
    this.rounds = Integer.parseInt(options.getOrDefault("rounds", "1"));
    this.floors = Boolean.parseBoolean(options.getOrDefault("floors", "true"));
    this.baselineJar = options.get("baseline-jar");
    String newer = options.getOrDefault("jdk25", "/usr/lib/jvm/temurin-25-jdk-amd64");
    this.jdk25 = Files.isExecutable(Path.of(newer, "bin", "java")) ? newer : null;
    this.peers = new java.util.LinkedHashSet<>(List.of(options.getOrDefault("peers",
        "haproxy,nghttpx,nginx,caddy").split(",")));
    Process getconf = new ProcessBuilder("getconf", "CLK_TCK").start();
    this.ticksPerSecond = Long.parseLong(new String(getconf.getInputStream().readAllBytes(),
        StandardCharsets.US_ASCII).strip());
  }

  public static void main(String[] args) throws Exception {
    Map<String, String> options = new LinkedHashMap<>();
    for (String arg : args) {
      if (!arg.startsWith("--") || !arg.contains("=")) {
        System.err.println("usage: ProxyBench [--root=DIR] [--duration=S] [--warmup=S]"
            + " [--channels=N] [--outstanding=N] [--workers=N] [--rounds=N]"
            + " [--floors=true|false] [--baseline-jar=meshgate.jar]"
            + " [--peers=haproxy,nghttpx,nginx,caddy] [--jdk25=DIR|none]");
        System.exit(2);
      }
      options.put(arg.substring(2, arg.indexOf('=')), arg.substring(arg.indexOf('=') + 1));
    }
    ProxyBench bench = new ProxyBench(options);
    try {
      bench.run();
    } finally {
      bench.processes.close();
    }
  }

  private void run() throws Exception {
    int serverPort = BenchProcesses.freePort();
    int gatewayPort = BenchProcesses.freePort();
    int adminPort = BenchProcesses.freePort();

    processes.start("backend", List.of(javaCmd, "-cp", benchJar,
        "io.grpc.benchmarks.qps.AsyncServer",
        "--address=127.0.0.1:" + serverPort, "--directexecutor"));
    processes.awaitPort(serverPort);

    Path config = work.resolve("meshgate.yaml");
    Files.writeString(config, String.format(Locale.ROOT, """
        listener: {host: 127.0.0.1, port: %d, workerThreads: %d}
        admin: {host: 127.0.0.1, port: %d}
        clusters: [{name: bench, endpoints: ["127.0.0.1:%d"]}]
        routes: [{match: {servicePrefix: ""}, cluster: bench}]
        """, gatewayPort, workers, adminPort, serverPort));
    Map<String, Process> proxies = new LinkedHashMap<>();
    proxies.put("meshgate", processes.start("meshgate", List.of(
        root.resolve("bin/meshgate").toString(), "--config", config.toString())));
    processes.awaitPort(gatewayPort);
    adminPorts.put(gatewayPort, adminPort);
    int baselinePort = BenchProcesses.freePort();
    if (baselineJar != null) {
      // The same configuration on other ports, run by an earlier build: before and after in
      // the same interleaved rounds.
      Path baselineConfig = work.resolve("meshgate-baseline.yaml");
      int baselineAdmin = BenchProcesses.freePort();
      Files.writeString(baselineConfig, Files.readString(config)
          .replace("port: " + gatewayPort + ",", "port: " + baselinePort + ",")
          .replace("port: " + adminPort + "}", "port: " + baselineAdmin + "}"));
      adminPorts.put(baselinePort, baselineAdmin);
      proxies.put("baseline", processes.start("meshgate-baseline", List.of(javaCmd,
          "-Dio.netty.leakDetection.level=disabled", "-jar", baselineJar, "--config",
          baselineConfig.toString())));
      processes.awaitPort(baselinePort);
    }

    Map<String, Integer> peerPorts = startPeers(serverPort, proxies);
    int jdk25Port = BenchProcesses.freePort();
    if (jdk25 != null) {
      Path newerConfig = work.resolve("meshgate-jdk25.yaml");
      int newerAdmin = BenchProcesses.freePort();
      Files.writeString(newerConfig, Files.readString(config)
          .replace("port: " + gatewayPort + ",", "port: " + jdk25Port + ",")
          .replace("port: " + adminPort + "}", "port: " + newerAdmin + "}"));
      adminPorts.put(jdk25Port, newerAdmin);
      proxies.put("meshgate-jdk25", processes.start("meshgate-jdk25", List.of(
          Path.of(jdk25, "bin", "java").toString(), "-Dio.netty.leakDetection.level=disabled",
          "-jar", root.resolve("gateway/target/meshgate.jar").toString(), "--config",
          newerConfig.toString())));
      processes.awaitPort(jdk25Port);
    }

    int grpcFloorPort = BenchProcesses.freePort();
    int nettyFloorPort = BenchProcesses.freePort();
    if (floors) {
      proxies.put("grpc-floor", processes.start("grpc-java-floor", List.of(javaCmd, "-cp",
          benchJar, GrpcJavaPassThrough.class.getName(), Integer.toString(grpcFloorPort),
          "127.0.0.1:" + serverPort, Integer.toString(workers))));
      proxies.put("netty-floor", processes.start("netty-floor", List.of(javaCmd, "-cp",
          benchJar, NettyPassThrough.class.getName(), Integer.toString(nettyFloorPort),
          Integer.toString(serverPort), Integer.toString(workers))));
      processes.awaitPort(grpcFloorPort);
      processes.awaitPort(nettyFloorPort);
    }

    System.out.printf(Locale.ROOT, "Meshgate proxy benchmark: grpc-benchmarks AsyncClient -> "
            + "AsyncServer, %d channels x %d outstanding RPCs, %ds warmup + %ds per run, "
            + "%d round(s), proxy workers/threads: %d, %d cores%n%n", channels, outstanding,
        warmup, duration, rounds, workers, Runtime.getRuntime().availableProcessors());
    Map<String, Integer> targets = new LinkedHashMap<>();
    targets.put("direct", serverPort);
    targets.put("meshgate", gatewayPort);
    if (jdk25 != null) {
      targets.put("meshgate-jdk25", jdk25Port);
    }
    if (baselineJar != null) {
      targets.put("baseline", baselinePort);
    }
    targets.putAll(peerPorts);
    if (floors) {
      targets.put("grpc-floor", grpcFloorPort);
      targets.put("netty-floor", nettyFloorPort);
    }
    StringBuilder table = new StringBuilder();
    table.append(String.format(Locale.ROOT, "%-10s %-15s %10s %10s %10s %14s %12s %11s%n",
        "mode", "path", "QPS", "p50 us", "p99 us", "proxy CPU/call", "QPS/direct",
        "alloc/call"));
    StringBuilder ratios = new StringBuilder();
    for (boolean streaming : new boolean[] {false, true}) {
      String mode = streaming ? "streaming" : "unary";
      Map<String, List<Result>> results = new LinkedHashMap<>();
      // An unrecorded pass first: every process on every path (the shared backend above all)
      // has compiled its hot code before round 1, so that rounds differ by noise, not by JIT.
      for (Map.Entry<String, Integer> target : targets.entrySet()) {
        Result result = client(target.getValue(), streaming, 5, null);
        System.out.printf(Locale.ROOT, "  %s %s warm-up (not counted): %d QPS%n", mode,
            target.getKey(), result.qps());
      }
      for (int round = 0; round < rounds; round++) {
        // Interleaved, so that drift (JIT, thermal, noise) hits every path alike; every other
        // round in the opposite order, so that no path always runs right after another.
        List<Map.Entry<String, Integer>> order = new ArrayList<>(targets.entrySet());
        if (round % 2 == 1) {
          java.util.Collections.reverse(order);
        }
        for (Map.Entry<String, Integer> target : order) {
          Result result = client(target.getValue(), streaming, duration,
              proxies.get(target.getKey()));
          results.computeIfAbsent(target.getKey(), k -> new ArrayList<>()).add(result);
          System.out.printf(Locale.ROOT, "  %s %s round %d: %d QPS, p50 %d us, p99 %d us,"
                  + " proxy CPU %s/call%s%n", mode, target.getKey(), round + 1, result.qps(),
              result.p50(), result.p99(), cpu(result.cpuMicros()),
              result.allocBytes() < 0 ? "" : ", " + alloc(result.allocBytes()) + " allocated");
        }
      }
      Map<String, Result> median = new LinkedHashMap<>();
      results.forEach((k, v) -> median.put(k, new Result(median(v).qps(),
          median(v).p50(), median(v).p99(), medianCpu(v), medianAlloc(v))));
      median.forEach((path, r) -> table.append(String.format(Locale.ROOT,
          "%-10s %-15s %10d %10d %10d %14s %12.2f %11s%n", mode, path, r.qps(), r.p50(),
          r.p99(), cpu(r.cpuMicros()), ratio(r, median.get("direct")),
          alloc(r.allocBytes()))));
      for (String peer : peerPorts.keySet()) {
        Result m = median.get("meshgate");
        Result other = median.get(peer);
        ratios.append(String.format(Locale.ROOT, "%-10s meshgate/%s: QPS %.2f, CPU per call"
                + " %.2f, p99 %.2f%n", mode, peer, ratio(m, other),
            m.cpuMicros() / other.cpuMicros(), (double) m.p99() / Math.max(1, other.p99())));
      }
      if (jdk25 != null) {
        ratios.append(String.format(Locale.ROOT, "%-10s meshgate on JDK 25 / JDK 17: QPS %.2f,"
                + " CPU per call %.3f%n", mode, ratio(median.get("meshgate-jdk25"),
                median.get("meshgate")), median.get("meshgate-jdk25").cpuMicros()
                / median.get("meshgate").cpuMicros()));
      }
      if (baselineJar != null) {
        ratios.append(String.format(Locale.ROOT,
            "%-10s meshgate/baseline QPS = %.2f   meshgate/baseline CPU per call = %.3f%n",
            mode, ratio(median.get("meshgate"), median.get("baseline")),
            median.get("meshgate").cpuMicros() / median.get("baseline").cpuMicros()));
      }
      if (floors) {
        ratios.append(String.format(Locale.ROOT,
            "%-10s floors: grpc-java pass-through/direct QPS = %.2f"
                + "   netty pass-through/direct QPS = %.2f%n",
            mode, ratio(median.get("grpc-floor"), median.get("direct")),
            ratio(median.get("netty-floor"), median.get("direct"))));
      }
    }
    System.out.println();
    System.out.print(table);
    System.out.println();
    System.out.print(ratios);
  }

  /**
   * Starts the peer proxies named by {@code --peers}, each with a minimal h2c configuration in
   * front of the backend, and returns their ports.
   */
  Map<String, Integer> startPeers(int serverPort, Map<String, Process> proxies)
      throws Exception {
    Map<String, Integer> ports = new LinkedHashMap<>();
    if (peers.contains("haproxy")) {
      int port = BenchProcesses.freePort();
      Path cfg = work.resolve("haproxy.cfg");
      Files.writeString(cfg, String.format(Locale.ROOT, """
          global
            nbthread %d
          defaults
            mode http
            timeout connect 5s
            timeout client 60s
            timeout server 60s
          frontend grpc
            bind 127.0.0.1:%d proto h2
            default_backend backend
          backend backend
            server s1 127.0.0.1:%d proto h2
          """, workers, port, serverPort));
      proxies.put("haproxy", processes.start("haproxy", List.of("haproxy", "-db", "-f",
          cfg.toString())));
      processes.awaitPort(port);
      ports.put("haproxy", port);
    }
    if (peers.contains("nghttpx")) {
      int port = BenchProcesses.freePort();
      proxies.put("nghttpx", processes.start("nghttpx", List.of("nghttpx", "--conf=/dev/null",
          "--frontend=127.0.0.1," + port + ";no-tls",
          "--backend=127.0.0.1," + serverPort + ";;proto=h2", "--workers=" + workers,
          "--accesslog-file=/dev/null", "--errorlog-file=" + work.resolve("nghttpx-error.log"),
          "--frontend-http2-max-concurrent-streams=1000", "--no-via", "--no-ocsp")));
      processes.awaitPort(port);
      ports.put("nghttpx", port);
    }
    if (peers.contains("nginx")) {
      int port = BenchProcesses.freePort();
      Files.createDirectories(work.resolve("nginx/logs"));
      Files.writeString(work.resolve("nginx/nginx.conf"), String.format(Locale.ROOT, """
          worker_processes %d;
          daemon off;
          pid %s/nginx.pid;
          error_log %s/logs/error.log warn;
          events { worker_connections 4096; }
          http {
            access_log off;
            client_body_temp_path %s/tmp;
            proxy_temp_path %s/tmp;
            upstream backend { server 127.0.0.1:%d; keepalive 64; }
            server {
              listen 127.0.0.1:%d http2;
              http2_max_concurrent_streams 1000;
              client_max_body_size 0;
              location / { grpc_pass grpc://backend; }
            }
          }
          """, workers, work.resolve("nginx"), work.resolve("nginx"), work.resolve("nginx"),
          work.resolve("nginx"), serverPort, port));
      proxies.put("nginx", processes.start("nginx", List.of("nginx", "-p",
          work.resolve("nginx").toString(), "-c", work.resolve("nginx/nginx.conf").toString())));
      processes.awaitPort(port);
      ports.put("nginx", port);
    }
    if (peers.contains("caddy")) {
      int port = BenchProcesses.freePort();
      Path caddyfile = work.resolve("Caddyfile");
      Files.writeString(caddyfile, String.format(Locale.ROOT, """
          {
            admin off
            auto_https off
            servers {
              protocols h1 h2c
            }
          }
          :%d {
            bind 127.0.0.1
            reverse_proxy h2c://127.0.0.1:%d
          }
          """, port, serverPort));
      proxies.put("caddy", processes.start("caddy", List.of("caddy", "run", "--config",
          caddyfile.toString(), "--adapter", "caddyfile")));
      processes.awaitPort(port);
      ports.put("caddy", port);
    }
    return ports;
  }

  static double ratio(Result a, Result b) {
    return (double) a.qps() / Math.max(1, b.qps());
  }

  static String cpu(double micros) {
    return micros < 0 ? "-" : String.format(Locale.ROOT, "%.1f us", micros);
  }

  static String alloc(double bytes) {
    return bytes < 0 ? "-" : String.format(Locale.ROOT, "%.0f B", bytes);
  }

  /** The median of the runs' heap bytes allocated per call (-1 when not read). */
  static double medianAlloc(List<Result> results) {
    double[] values = results.stream().mapToDouble(Result::allocBytes).sorted().toArray();
    return values[values.length / 2];
  }

  /** The median of the runs' CPU per call (taken on its own: steadier than QPS). */
  static double medianCpu(List<Result> results) {
    double[] values = results.stream().mapToDouble(Result::cpuMicros).sorted().toArray();
    return values[values.length / 2];
  }

  static Result median(List<Result> results) {
    List<Result> sorted = new ArrayList<>(results);
    sorted.sort((a, b) -> Long.compare(a.qps(), b.qps()));
    return sorted.get(sorted.size() / 2);
  }

  /**
   * One AsyncClient run against {@code port}. With {@code proxy}, its CPU (and its child
   * processes', for nginx's workers) is read from /proc over the measured interval, less a
   * second at each end (the client's JVM start shifts the interval a little), and divided by
   * the calls made in that time at the run's QPS.
   */
  private Result client(int port, boolean streaming, int seconds, Process proxy)
      throws Exception {
    return client(port, streaming, seconds, proxy, false);
  }

  /**
   * As {@link #client(int, boolean, int, Process)}; with {@code tls} the client speaks TLS and
   * trusts grpc's test CA (checking the name foo.test.google.fr).
   */
  Result client(int port, boolean streaming, int seconds, Process proxy, boolean tls)
      throws Exception {
    try {
      return clientOnce(port, streaming, seconds, proxy, tls);
    } catch (IllegalStateException e) {
      // grpc's AsyncClient itself sometimes fails as its run ends ("null frame before EOS" in
      // its streaming observer, seen directly against the backend): run it once more.
      String first = e.getMessage().lines().filter(l -> l.contains("Exception")).findFirst()
          .orElse(e.getMessage());
      System.out.println("  (the client failed, run again: " + first.strip() + ")");
      return clientOnce(port, streaming, seconds, proxy, tls);
    }
  }

  private Result clientOnce(int port, boolean streaming, int seconds, Process proxy,
      boolean tls) throws Exception {
    List<String> command = new ArrayList<>(List.of(javaCmd, "-cp", benchJar,
        "io.grpc.benchmarks.qps.AsyncClient", "--address=127.0.0.1:" + port,
        "--channels=" + channels, "--outstanding_rpcs=" + outstanding,
        "--duration=" + seconds, "--warmup_duration=" + warmup, "--directexecutor"));
    if (tls) {
      command.add("--tls");
      command.add("--testca");
    }
    if (streaming) {
      command.add("--streaming_rpcs");
    }
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    java.util.concurrent.CompletableFuture<String> read =
        java.util.concurrent.CompletableFuture.supplyAsync(() -> {
          try {
            return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
          } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
          }
        });
    double cpuMicros = -1;
    double allocPerSecond = -1;
    long sampledMillis = Math.max(1, seconds - 2) * 1000L;
    Integer admin = adminPorts.get(port);
    if (proxy != null) {
      TimeUnit.MILLISECONDS.sleep(warmup * 1000L + 1500); // the measured interval starts
      // Read outside the CPU interval, so that the scrapes' own work is not counted.
      double allocBefore = admin == null ? Double.NaN : allocatedBytes(admin);
      long allocStart = System.nanoTime();
      long before = cpuTicks(proxy.toHandle());
      long start = System.nanoTime();
      TimeUnit.MILLISECONDS.sleep(sampledMillis);
      long ticks = cpuTicks(proxy.toHandle()) - before;
      double elapsed = (System.nanoTime() - start) / 1e9;
      if (!Double.isNaN(allocBefore)) {
        double allocAfter = allocatedBytes(admin);
        if (!Double.isNaN(allocAfter)) {
          allocPerSecond = (allocAfter - allocBefore) / ((System.nanoTime() - allocStart) / 1e9);
        }
      }
      cpuMicros = ticks * 1e6 / ticksPerSecond;
      // Divided below by the calls at the run's QPS over the same elapsed time.
      cpuMicros /= elapsed;
    }
    String output = read.get(seconds + warmup + 60L, TimeUnit.SECONDS);
    if (!p.waitFor(seconds + warmup + 60L, TimeUnit.SECONDS) || p.exitValue() != 0) {
      p.destroyForcibly();
      throw new IllegalStateException("AsyncClient against port " + port + " failed:\n"
          + output);
    }
    long qps = find(QPS, output);
    return new Result(qps, find(P50, output), find(P99, output),
        cpuMicros < 0 ? -1 : cpuMicros / Math.max(1, qps),
        allocPerSecond < 0 ? -1 : allocPerSecond / Math.max(1, qps));
  }

  private static final Pattern ALLOCATED =
      Pattern.compile("(?m)^meshgate_jvm_allocated_bytes_total(?:\\{[^}]*\\})? (\\S+)$");

  /**
   * The heap bytes a Meshgate's JVM has allocated, from its {@code /metrics}; NaN for a build
   * without that counter.
   */
  private static double allocatedBytes(int adminPort) throws Exception {
    java.net.http.HttpResponse<String> response = ADMIN.send(java.net.http.HttpRequest
        .newBuilder(java.net.URI.create("http://127.0.0.1:" + adminPort + "/metrics")).build(),
        java.net.http.HttpResponse.BodyHandlers.ofString());
    Matcher m = ALLOCATED.matcher(response.body());
    return m.find() ? Double.parseDouble(m.group(1)) : Double.NaN;
  }

  private static final java.net.http.HttpClient ADMIN = java.net.http.HttpClient.newHttpClient();

  /** User + system CPU of a process and its descendants, in clock ticks. */
  private static long cpuTicks(ProcessHandle process) throws IOException {
    long ticks = EchoRuns.cpuTicks(process.pid());
    for (ProcessHandle child : (Iterable<ProcessHandle>) process.descendants()::iterator) {
      try {
        ticks += EchoRuns.cpuTicks(child.pid());
      } catch (IOException gone) {
        // A child that exited meanwhile.
      }
    }
    return ticks;
  }

  private static long find(Pattern pattern, String output) {
    Matcher m = pattern.matcher(output);
    if (!m.find()) {
      throw new IllegalStateException("no " + pattern + " in AsyncClient output:\n" + output);
    }
    return Long.parseLong(m.group(1));
  }

}
