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
 * The HTTP dialects benchmark: the sample EchoService's unary Echo through one Meshgate, in one
 * run — gRPC through the proxy path (EchoLoad, grpc-java) and, over HTTP/1.1 ({@code wrk}) and
 * HTTP/2 ({@code h2load}, h2c), the dialects asked for with {@code --dialects}: REST/JSON to
 * {@code POST /v1/echo} (the default), and gRPC-Web, Connect with binary messages and Connect
 * with JSON to {@code /meshgate.samples.echo.v1.EchoService/Echo} ({@code --dialects=all}) —
 * for a small (100 B) and a larger (10 KiB) message. Same concurrency for each (40 calls in
 * flight). Prints QPS, p50/p99, the gateway's CPU time per request, and each ÷ gRPC.
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
  private final List<Dialect> dialects;
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
    String asked = options.getOrDefault("dialects", "rest");
    this.dialects = asked.equals("all") ? Dialect.ALL : Dialect.ALL.stream()
        .filter(d -> List.of(asked.split(",")).contains(d.name())).toList();
    if (dialects.isEmpty()) {
      throw new IllegalArgumentException("--dialects=" + asked + " names none of "
          + Dialect.ALL.stream().map(Dialect::name).toList() + " (or all)");
    }
  }

  /**
   * One way of calling Echo over HTTP: its path, headers, and the body for a message of n bytes.
   */
  record Dialect(String name, String label, String path, List<String> headers,
      java.util.function.IntFunction<byte[]> body) {
    static final List<Dialect> ALL = List.of(
        new Dialect("rest", "REST", "/v1/echo", List.of("content-type: application/json"),
            Dialect::json),
        new Dialect("grpc-web", "gRPC-Web", "/meshgate.samples.echo.v1.EchoService/Echo",
            List.of("content-type: application/grpc-web+proto", "x-grpc-web: 1"),
            n -> frame(proto(n))),
        new Dialect("connect-proto", "Connect proto", "/meshgate.samples.echo.v1.EchoService/Echo",
            List.of("content-type: application/proto", "connect-protocol-version: 1"),
            Dialect::proto),
        new Dialect("connect-json", "Connect JSON", "/meshgate.samples.echo.v1.EchoService/Echo",
            List.of("content-type: application/json", "connect-protocol-version: 1"),
            Dialect::json));

    static byte[] json(int n) {
      return ("{\"message\":\"" + "x".repeat(n) + "\"}").getBytes(StandardCharsets.UTF_8);
    }

    /** EchoRequest{message: n × 'x'}: field 1, length-delimited. */
    static byte[] proto(int n) {
      java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
      out.write(0x0a);
      int length = n;
      while (length >= 0x80) {
        out.write((length & 0x7f) | 0x80);
        length >>>= 7;
      }
      out.write(length);
      out.writeBytes("x".repeat(n).getBytes(StandardCharsets.US_ASCII));
      return out.toByteArray();
    }

    static byte[] frame(byte[] message) {
      byte[] out = new byte[5 + message.length];
      out[1] = (byte) (message.length >>> 24);
      out[2] = (byte) (message.length >>> 16);
      out[3] = (byte) (message.length >>> 8);
      out[4] = (byte) message.length;
      System.arraycopy(message, 0, out, 5, message.length);
      return out;
    }
  }

  public static void main(String[] args) throws Exception {
    Map<String, String> options = new LinkedHashMap<>();
    for (String arg : args) {
      if (!arg.startsWith("--") || !arg.contains("=")) {
        System.err.println("usage: RestBench [--root=DIR] [--duration=S] [--warmup=S]"
            + " [--workers=N] [--rounds=N] [--sizes=100,10240]"
            + " [--dialects=rest|grpc-web|connect-proto|connect-json|all]");
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
    for (Dialect dialect : dialects) {
      StringBuilder lua = new StringBuilder("wrk.method = \"POST\"\n");
      for (String header : dialect.headers()) {
        int colon = header.indexOf(':');
        lua.append("wrk.headers[\"").append(header, 0, colon).append("\"] = \"")
            .append(header.substring(colon + 1).strip()).append("\"\n");
      }
      lua.append("""
          local f = io.open(os.getenv("BODY"), "rb")
          wrk.body = f:read("*a")
          f:close()
          """);
      Files.writeString(work.resolve(dialect.name() + ".lua"), lua);
    }

    System.out.printf(Locale.ROOT, "Meshgate HTTP dialects benchmark: EchoService/Echo as %s"
            + " vs gRPC via the proxy, 40 calls in flight each, %ds warmup + %ds per run, %d"
            + " round(s), gateway workers: %d, %d cores%n%n",
        dialects.stream().map(Dialect::label).toList(), warmup, duration,
        rounds, workers, Runtime.getRuntime().availableProcessors());
    StringBuilder table = new StringBuilder(String.format(Locale.ROOT,
        "%-8s %-30s %10s %9s %9s %16s%n", "message", "client", "QPS", "p50 us", "p99 us",
        "gateway CPU/req"));
    StringBuilder ratios = new StringBuilder();
    String base = "http://127.0.0.1:" + gatewayPort;
    for (int size : sizes) {
      for (Dialect dialect : dialects) {
        Path body = work.resolve(dialect.name() + "-" + size + ".body");
        Files.write(body, dialect.body().apply(size));
        check(base + dialect.path(), dialect, body);
      }
    }
    // One unrecorded pass over every client and size: the gateway's JIT compiles the paths all
    // of them use before anything is measured.
    System.out.println("warming up the gateway...");
    for (int size : sizes) {
      grpc(gatewayPort, size);
      for (Dialect dialect : dialects) {
        Path body = work.resolve(dialect.name() + "-" + size + ".body");
        wrk(base + dialect.path(), dialect, body);
        h2load(base + dialect.path(), dialect, body);
      }
    }
    for (int size : sizes) {
      Map<String, List<EchoRuns.Result>> results = new LinkedHashMap<>();
      for (int round = 0; round < rounds; round++) {
        // Interleaved, so that drift (JIT, noise) hits every client alike.
        record(results, size, round, "gRPC (proxy)", grpc(gatewayPort, size));
        for (Dialect dialect : dialects) {
          Path body = work.resolve(dialect.name() + "-" + size + ".body");
          record(results, size, round, dialect.label() + " HTTP/1.1 (wrk)",
              wrk(base + dialect.path(), dialect, body));
          record(results, size, round, dialect.label() + " HTTP/2 (h2load)",
              h2load(base + dialect.path(), dialect, body));
        }
      }
      Map<String, EchoRuns.Result> median = new LinkedHashMap<>();
      results.forEach((client, list) -> median.put(client, EchoRuns.median(list)));
      String label = size >= 1024 ? (size / 1024) + " KiB" : size + " B";
      median.forEach((client, r) -> table.append(String.format(Locale.ROOT,
          "%-8s %-30s %10d %9d %9d %13.1f us%n", label, client, r.qps(), r.p50(), r.p99(),
          r.gatewayMicrosPerRequest())));
      EchoRuns.Result grpc = median.get("gRPC (proxy)");
      for (Dialect dialect : dialects) {
        EchoRuns.Result h1 = median.get(dialect.label() + " HTTP/1.1 (wrk)");
        EchoRuns.Result h2 = median.get(dialect.label() + " HTTP/2 (h2load)");
        ratios.append(String.format(Locale.ROOT,
            "%-8s %s/gRPC QPS: HTTP/1.1 %.2f, HTTP/2 %.2f   gateway CPU per request, %s/gRPC:"
                + " HTTP/1.1 %.2f, HTTP/2 %.2f%n", label, dialect.label(),
            (double) h1.qps() / grpc.qps(), (double) h2.qps() / grpc.qps(), dialect.label(),
            h1.gatewayMicrosPerRequest() / grpc.gatewayMicrosPerRequest(),
            h2.gatewayMicrosPerRequest() / grpc.gatewayMicrosPerRequest()));
      }
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

  /** One request of {@code dialect}, checked to succeed before any load. */
  private static void check(String url, Dialect dialect, Path body) throws Exception {
    java.net.http.HttpRequest.Builder request = java.net.http.HttpRequest.newBuilder(
        java.net.URI.create(url)).POST(java.net.http.HttpRequest.BodyPublishers.ofFile(body));
    for (String header : dialect.headers()) {
      int colon = header.indexOf(':');
      request.header(header.substring(0, colon), header.substring(colon + 1).strip());
    }
    java.net.http.HttpResponse<byte[]> response = java.net.http.HttpClient.newBuilder()
        .version(java.net.http.HttpClient.Version.HTTP_1_1).build()
        .send(request.build(), java.net.http.HttpResponse.BodyHandlers.ofByteArray());
    String status = response.headers().firstValue("grpc-status").orElse("0");
    if (response.statusCode() != 200 || !status.equals("0")) {
      throw new IllegalStateException(dialect.label() + " " + url + " answered "
          + response.statusCode() + " grpc-status " + status + ": "
          + new String(response.body(), StandardCharsets.UTF_8));
    }
  }

  private EchoRuns.Result wrk(String url, Dialect dialect, Path body) throws Exception {
    List<String> command = List.of("wrk", "-t2", "-c40", "--latency", "-s",
        work.resolve(dialect.name() + ".lua").toString());
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

  private EchoRuns.Result h2load(String url, Dialect dialect, Path body) throws Exception {
    List<String> command = new ArrayList<>(List.of("h2load", "-t2", "-c4", "-m10", "-d",
        body.toString()));
    for (String header : dialect.headers()) {
      command.add("-H");
      command.add(header);
    }
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
