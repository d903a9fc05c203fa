package io.meshgate.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The REST transcoding benchmark: the sample EchoService's unary Echo through one Meshgate, in
 * one run, three ways — gRPC through the proxy path (EchoLoad, grpc-java), REST over HTTP/1.1
 * ({@code wrk}) and REST over HTTP/2 ({@code h2load}, h2c) to {@code POST /v1/echo} — for a small
 * (100 B) and a larger (10 KiB) message. Same concurrency for each (40 calls in flight). Prints
 * QPS, p50/p99, the gateway's CPU time per request, and REST ÷ gRPC.
 *
 * <p>Every process runs on loopback and stops by itself at the end (or when this one dies).
 */
public final class RestBench {
  private final Path root;
  private final Path work;
  private final String javaCmd;
  private final int duration;
  private final int warmup;
  private final int workers;
  private final int rounds;
  private final List<Integer> sizes;
  private final BenchProcesses processes;
  private Process gateway;
  private final EchoRuns echo;


  private RestBench(Map<String, String> options) throws Exception {
    this.root = Path.of(options.getOrDefault("root", "..")).toAbsolutePath().normalize();
    this.work = Files.createTempDirectory("meshgate-rest-bench");
    this.processes = new BenchProcesses(work);
    this.javaCmd = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    this.duration = Integer.parseInt(options.getOrDefault("duration", "20"));
    this.warmup = Integer.parseInt(options.getOrDefault("warmup", "10"));
    this.workers = Integer.parseInt(options.getOrDefault("workers",
        Integer.toString(Runtime.getRuntime().availableProcessors())));
    this.rounds = Integer.parseInt(options.getOrDefault("rounds", "1"));
    this.sizes = Arrays.stream(options.getOrDefault("sizes", "100,10240").split(","))
        .map(String::strip).map(Integer::parseInt).toList();
    this.echo = new EchoRuns(warmup, duration);
  }

  public static void main(String[] args) throws Exception {
    Map<String, String> options = new LinkedHashMap<>();
    for (String arg : args) {
      if (!arg.startsWith("--") || !arg.contains("=")) {
        System.err.println("usage: RestBench [--root=DIR] [--duration=S] [--warmup=S]"
            + " [--workers=N] [--rounds=N] [--sizes=100,10240]");
        System.exit(2);
      }
      options.put(arg.substring(2, arg.indexOf('=')), arg.substring(arg.indexOf('=') + 1));
    }
    RestBench bench = new RestBench(options);
    try {
      bench.run();
    } finally {
      bench.processes.close();
    }
  }

  private void run() throws Exception {
    int backendPort = BenchProcesses.freePort();
    int gatewayPort = BenchProcesses.freePort();
    int adminPort = BenchProcesses.freePort();
    processes.start("backend", List.of(javaCmd, "-cp",
        root.resolve("samples/target/meshgate-samples.jar").toString(),
        "io.meshgate.samples.SampleServer", "--serve", "echo=" + backendPort));
    processes.awaitPort(backendPort);
    Path config = work.resolve("meshgate.yaml");
    Files.writeString(config, String.format(Locale.ROOT, """
        listener: {host: 127.0.0.1, port: %d, workerThreads: %d}
        admin: {host: 127.0.0.1, port: %d}
        limits: {maxConcurrentStreams: 1000}
        clusters: [{name: echo, endpoints: ["127.0.0.1:%d"]}]
        routes: [{match: {service: meshgate.samples.echo.v1.EchoService}, cluster: echo}]
        transcoding:
          descriptors: [%s]
        """, gatewayPort, workers, adminPort, backendPort,
        root.resolve("proto/target/classes/descriptors/meshgate-samples.pb")));
    gateway = processes.start("meshgate", List.of(root.resolve("bin/meshgate").toString(),
        "--config", config.toString()));
    processes.awaitPort(gatewayPort);
    Files.writeString(work.resolve("post.lua"), """
        wrk.method = "POST"
        wrk.headers["Content-Type"] = "application/json"
        local f = io.open(os.getenv("BODY"), "r")
        wrk.body = f:read("*a")
        f:close()
        """);

    System.out.printf(Locale.ROOT, "Meshgate REST transcoding benchmark: POST /v1/echo (REST)"
            + " vs EchoService/Echo (gRPC via the proxy), 40 calls in flight each, %ds warmup +"
            + " %ds per run, %d round(s), gateway workers: %d, %d cores%n%n", warmup, duration,
        rounds, workers, Runtime.getRuntime().availableProcessors());
    StringBuilder table = new StringBuilder(String.format(Locale.ROOT,
        "%-8s %-22s %10s %9s %9s %16s%n", "message", "client", "QPS", "p50 us", "p99 us",
        "gateway CPU/req"));
    StringBuilder ratios = new StringBuilder();
    String url = "http://127.0.0.1:" + gatewayPort + "/v1/echo";
    for (int size : sizes) {
      Files.writeString(work.resolve("body-" + size + ".json"),
          "{\"message\":\"" + "x".repeat(size) + "\"}");
    }
    // One unrecorded pass over every client and size: the gateway's JIT compiles the paths all
    // of them use before anything is measured.
    System.out.println("warming up the gateway...");
    for (int size : sizes) {
      Path body = work.resolve("body-" + size + ".json");
      grpc(gatewayPort, size);
      wrk(url, body);
      h2load(url, body);
    }
    for (int size : sizes) {
      Path body = work.resolve("body-" + size + ".json");
      Map<String, List<EchoRuns.Result>> results = new LinkedHashMap<>();
      for (int round = 0; round < rounds; round++) {
        // Interleaved, so that drift (JIT, noise) hits every client alike.
        record(results, size, round, "gRPC (proxy)", grpc(gatewayPort, size));
        record(results, size, round, "REST HTTP/1.1 (wrk)", wrk(url, body));
        record(results, size, round, "REST HTTP/2 (h2load)", h2load(url, body));
      }
      Map<String, EchoRuns.Result> median = new LinkedHashMap<>();
      results.forEach((client, list) -> median.put(client, EchoRuns.median(list)));
      String label = size >= 1024 ? (size / 1024) + " KiB" : size + " B";
      median.forEach((client, r) -> table.append(String.format(Locale.ROOT,
          "%-8s %-22s %10d %9d %9d %13.1f us%n", label, client, r.qps(), r.p50(), r.p99(),
          r.gatewayMicrosPerRequest())));
      EchoRuns.Result grpc = median.get("gRPC (proxy)");
      ratios.append(String.format(Locale.ROOT,
          "%-8s REST/gRPC QPS: HTTP/1.1 %.2f, HTTP/2 %.2f   gateway CPU per request, REST/gRPC:"
              + " HTTP/1.1 %.2f, HTTP/2 %.2f%n", label,
          (double) median.get("REST HTTP/1.1 (wrk)").qps() / grpc.qps(),
          (double) median.get("REST HTTP/2 (h2load)").qps() / grpc.qps(),
          median.get("REST HTTP/1.1 (wrk)").gatewayMicrosPerRequest()
              / grpc.gatewayMicrosPerRequest(),
          median.get("REST HTTP/2 (h2load)").gatewayMicrosPerRequest()
              / grpc.gatewayMicrosPerRequest()));
    }
    System.out.println();
    System.out.print(table);
    System.out.println();
    System.out.print(ratios);
  }

  private static void record(Map<String, List<EchoRuns.Result>> results, int size, int round,
      String client, EchoRuns.Result result) {
    results.computeIfAbsent(client, k -> new ArrayList<>()).add(result);
    System.out.printf(Locale.ROOT, "  %d B %s round %d: %d QPS, p50 %d us, p99 %d us,"
            + " gateway %.1f us CPU/request%n", size, client, round + 1, result.qps(),
        result.p50(), result.p99(), result.gatewayMicrosPerRequest());
  }


  // ---- Clients -----------------------------------------------------------------------------

  private EchoRuns.Result grpc(int port, int size) throws Exception {
    return echo.run(port, size, gateway, List.of());
  }

  private EchoRuns.Result wrk(String url, Path body) throws Exception {
    List<String> command = List.of("wrk", "-t2", "-c40", "--latency", "-s",
        work.resolve("post.lua").toString());
    runWithBody(concat(command, List.of("-d" + warmup + "s", url)), body);
    long before = gatewayCpuTicks();
    String output = runWithBody(concat(command, List.of("-d" + duration + "s", url)), body);
    long after = gatewayCpuTicks();
    if (output.contains("Non-2xx") || output.contains("Socket errors")) {
      throw new IllegalStateException("wrk saw errors:\n" + output);
    }
    long qps = Math.round(Double.parseDouble(findText(
        Pattern.compile("Requests/sec:\\s+([0-9.]+)"), output)));
    return new EchoRuns.Result(qps, wrkMicros(findText(Pattern.compile("\\s50%\\s+(\\S+)"), output)),
        wrkMicros(findText(Pattern.compile("\\s99%\\s+(\\S+)"), output)),
        cpuMicros(after - before, qps));
  }

  private static long wrkMicros(String value) {
    Matcher m = Pattern.compile("([0-9.]+)(us|ms|s)").matcher(value);
    if (!m.matches()) {
      throw new IllegalStateException("unexpected wrk latency " + value);
    }
    double amount = Double.parseDouble(m.group(1));
    return Math.round(switch (m.group(2)) {
      case "us" -> amount;
      case "ms" -> amount * 1_000;
      default -> amount * 1_000_000;
    });
  }

  private EchoRuns.Result h2load(String url, Path body) throws Exception {
    List<String> command = List.of("h2load", "-t2", "-c4", "-m10", "-d", body.toString(),
        "-H", "content-type: application/json");
    run(concat(command, List.of("-D", Integer.toString(warmup), url)));
    Path log = work.resolve("h2load.log");
    long before = gatewayCpuTicks();
    String output = run(concat(command, List.of("-D", Integer.toString(duration),
        "--log-file=" + log, url)));
    long after = gatewayCpuTicks();
    Matcher outcome = Pattern.compile("(\\d+) succeeded, (\\d+) failed, (\\d+) errored")
        .matcher(output);
    Matcher codes = Pattern.compile("(\\d+) 4xx, (\\d+) 5xx").matcher(output);
    if (!outcome.find() || !codes.find() || Long.parseLong(outcome.group(1)) == 0
        || !outcome.group(2).equals("0") || !outcome.group(3).equals("0")
        || !codes.group(1).equals("0") || !codes.group(2).equals("0")) {
      throw new IllegalStateException("h2load saw errors:\n" + output);
    }
    long qps = Math.round(Double.parseDouble(findText(
        Pattern.compile("finished in [0-9.]+s, ([0-9.]+) req/s"), output)));
    long[] latencies = Files.readAllLines(log).stream()
        .map(line -> line.split("\t"))
        .filter(fields -> fields.length >= 3)
        .mapToLong(fields -> Long.parseLong(fields[2].strip())).sorted().toArray();
    Files.delete(log);
    return new EchoRuns.Result(qps, percentile(latencies, 50), percentile(latencies, 99),
        cpuMicros(after - before, qps));
  }

  private static long percentile(long[] sorted, int p) {
    return sorted.length == 0 ? 0 : sorted[Math.min(sorted.length - 1,
        (int) Math.ceil(sorted.length * p / 100.0) - 1)];
  }

  private double cpuMicros(long ticks, long qps) {
    return echo.cpuMicros(ticks, qps);
  }

  private long gatewayCpuTicks() throws IOException {
    return EchoRuns.cpuTicks(gateway);
  }

  // ---- Processes ---------------------------------------------------------------------------

  private static List<String> concat(List<String> a, List<String> b) {
    List<String> all = new ArrayList<>(a);
    all.addAll(b);
    return all;
  }

  private String runWithBody(List<String> command, Path body) throws Exception {
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
    builder.environment().put("BODY", body.toString());
    return waitFor(builder.start(), command);
  }

  private String run(List<String> command) throws Exception {
    return waitFor(new ProcessBuilder(command).redirectErrorStream(true).start(), command);
  }

  private String waitFor(Process p, List<String> command) throws Exception {
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(duration + warmup + 60L, TimeUnit.SECONDS) || p.exitValue() != 0) {
      p.destroyForcibly();
      throw new IllegalStateException(String.join(" ", command) + " failed:\n" + output);
    }
    return output;
  }

  private static String findText(Pattern pattern, CharSequence output) {
    return EchoRuns.findText(pattern, output);
  }
}
