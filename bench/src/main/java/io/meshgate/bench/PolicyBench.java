package io.meshgate.bench;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.Signature;
import java.security.interfaces.RSAPublicKey;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What the whole policy chain costs: the same echo backend behind two gateways, one bare (routes
 * only) and one with every policy on (JWT with an RS256 key set, a rate limit per client address
 * set high enough never to refuse, a circuit breaker, metrics, tracing with spans made and
 * exported nowhere, the access log to a file), driven by the same gRPC load in interleaved rounds.
 * Prints QPS, p50/p99 and the gateway's CPU per call for each, and policies / bare.
 *
 * <pre>
 * PolicyBench [--root=DIR] [--duration=S] [--warmup=S] [--workers=N] [--rounds=N] [--size=B]
 *             [--baseline-jar=meshgate.jar] [--mode=limits]
 * </pre>
 *
 * <p>With {@code --baseline-jar}, an earlier build runs the same two configurations in the same
 * interleaved rounds, and the figures of this build are given relative to it.
 */
public final class PolicyBench {
  private final Path root;
  private final Path work;
  private final BenchProcesses processes;
  private final EchoRuns echo;
  private final int duration;
  private final int warmup;
  private final int workers;
  private final int rounds;
  private final int size;
  private final String baselineJar;
  private final boolean limits;
  private final boolean resilience;

  private PolicyBench(Map<String, String> options) throws Exception {
    this.root = Path.of(options.getOrDefault("root", "..")).toAbsolutePath().normalize();
    this.work = Files.createTempDirectory("meshgate-policy-bench");
    this.processes = new BenchProcesses(work);
    this.duration = Integer.parseInt(options.getOrDefault("duration", "20"));
    this.warmup = Integer.parseInt(options.getOrDefault("warmup", "10"));
    this.workers = Integer.parseInt(options.getOrDefault("workers",
        Integer.toString(Runtime.getRuntime().availableProcessors())));
    this.rounds = Integer.parseInt(options.getOrDefault("rounds", "1"));
    this.size = Integer.parseInt(options.getOrDefault("size", "100"));
    this.echo = new EchoRuns(warmup, duration);
    this.baselineJar = options.get("baseline-jar");
    this.limits = "limits".equals(options.get("mode"));
    this.resilience = "resilience".equals(options.get("mode"));
  }

  public static void main(String[] args) throws Exception {
    Map<String, String> options = new LinkedHashMap<>();
    for (String arg : args) {
      if (!arg.startsWith("--") || !arg.contains("=")) {
        System.err.println("usage: PolicyBench [--root=DIR] [--duration=S] [--warmup=S]"
            + " [--workers=N] [--rounds=N] [--size=B] [--baseline-jar=meshgate.jar]"
            + " [--mode=limits|resilience]");
        System.exit(2);
      }
      options.put(arg.substring(2, arg.indexOf('=')), arg.substring(arg.indexOf('=') + 1));
    }
    PolicyBench bench = new PolicyBench(options);
    try {
      bench.run();
    } finally {
      bench.processes.close();
    }
  }

  private void run() throws Exception {
    KeyPair key = KeyPairGenerator.getInstance("RSA").generateKeyPair();
    Files.writeString(work.resolve("jwks.json"), jwks((RSAPublicKey) key.getPublic()));
    String token = token(key);

    int backendPort = BenchProcesses.freePort();
    processes.start("backend", List.of(echo.javaCmd(), "-cp",
        root.resolve("samples/target/meshgate-samples.jar").toString(),
        "io.meshgate.samples.SampleServer", "--serve", "echo=" + backendPort));
    processes.awaitPort(backendPort);

    String policyTop = """
        auth:
          providers:
            - {name: bench, issuer: bench, audiences: [meshgate], jwks: {file: jwks.json}}
        tracing: {exporter: none}
        accessLog: {path: access.log}
        """;
    String policyRoute = """
            auth: {providers: [bench]}
            rateLimits: [{key: clientIp, rate: 1000000000/s}]
        """;
    // name -> {port, process}; this build first, then the baseline's.
    Map<String, Map.Entry<Integer, Process>> gateways = new LinkedHashMap<>();
    if (limits) {
      runLimits(gateways, backendPort);
      return;
    }
    if (resilience) {
      runResilience(gateways, backendPort);
      return;
    }
    List<String> builds = baselineJar == null ? List.of("") : List.of("", " (baseline)");
    for (String build : builds) {
      String jar = build.isEmpty() ? null : baselineJar;
      int barePort = BenchProcesses.freePort();
      gateways.put("bare proxy" + build, Map.entry(barePort,
          gateway("bare" + build.replaceAll("\\W", ""), barePort, backendPort, "", "", jar)));
      int policiesPort = BenchProcesses.freePort();
      gateways.put("all policies" + build, Map.entry(policiesPort, gateway("policies"
          + build.replaceAll("\\W", ""), policiesPort, backendPort, policyTop, policyRoute,
          jar)));
    }

    System.out.printf(Locale.ROOT, "Meshgate policy chain benchmark: EchoService/Echo, %d B"
            + " messages, 40 calls in flight, %ds warmup + %ds per run, %d round(s), gateway"
            + " workers: %d, %d cores%n"
            + "policies: JWT (RS256, JWKS file), rate limit per client address, circuit breaker,"
            + " metrics, tracing (spans made, exported nowhere), access log%n%n",
        size, warmup, duration, rounds, workers, Runtime.getRuntime().availableProcessors());
    List<String> auth = List.of("authorization:Bearer " + token);
    Map<String, List<EchoRuns.Result>> runs = interleaved(gateways,
        name -> name.startsWith("all") ? auth : List.of());
    Map<String, EchoRuns.Result> median = medians(runs);
    for (String build : builds) {
      EchoRuns.Result b = median.get("bare proxy" + build);
      EchoRuns.Result p = median.get("all policies" + build);
      System.out.printf(Locale.ROOT, "%npolicies / bare%s: QPS %.2f (cost %.0f%%), gateway CPU"
              + " per call %.2f", build, (double) p.qps() / b.qps(),
          100.0 * (1 - (double) p.qps() / b.qps()),
          p.gatewayMicrosPerRequest() / b.gatewayMicrosPerRequest());
    }
    System.out.println();
    if (baselineJar != null) {
      for (String name : List.of("bare proxy", "all policies")) {
        EchoRuns.Result now = median.get(name);
        EchoRuns.Result before = median.get(name + " (baseline)");
        System.out.printf(Locale.ROOT, "%s this build / baseline: QPS %.2f, gateway CPU per"
                + " call %.3f (median CPU of the rounds: %.3f)%n", name,
            (double) now.qps() / before.qps(),
            now.gatewayMicrosPerRequest() / before.gatewayMicrosPerRequest(),
            EchoRuns.medianCpu(runs.get(name)) / EchoRuns.medianCpu(runs.get(name + " (baseline)")));
      }
    }
  }

  /**
   * {@code --mode=limits}: what a rate limit costs, local and global (in a real redis-server,
   * with and without batching), and what IP rules cost, against the bare proxy; every limit is
   * set too high to refuse, every client address allowed.
   */
  private void runLimits(Map<String, Map.Entry<Integer, Process>> gateways, int backendPort)
      throws Exception {
    String store = startRedis();
    Map<String, String[]> variants = limitVariants("", store);
    runVariants(gateways, backendPort, variants, String.format(Locale.ROOT, "Meshgate rate-limit"
        + " cost: EchoService/Echo, %d B messages, 40 calls in flight, %ds warmup + %ds per run,"
        + " %d round(s), gateway workers: %d, %d cores; limits never refuse; global ones count"
        + " in a local redis-server%n%n", size, warmup, duration, rounds, workers,
        Runtime.getRuntime().availableProcessors()));
  }

  /**
   * {@code --mode=resilience}: every fleet and resilience policy in one run — local and global
   * limits (with and without batching) and IP rules as in {@code --mode=limits}, and what the
   * degradation and chaos policies cost when they are configured but not set off: faults that
   * inject nothing (0%, and header control without the headers), a fallback that is never
   * needed,
   * hedging whose delay never passes, a 10% mirror — and a cache that answers every call,
   * against the bare proxy.
   */
  private void runResilience(Map<String, Map.Entry<Integer, Process>> gateways, int backendPort)
      throws Exception {
    String descriptors = "transcoding: {descriptors: [\""
        + root.resolve("proto/target/classes/descriptors/meshgate-samples.pb") + "\"]}\n";
    int mirrorPort = BenchProcesses.freePort();
    processes.start("mirror-backend", List.of(echo.javaCmd(), "-cp",
        root.resolve("samples/target/meshgate-samples.jar").toString(),
        "io.meshgate.samples.SampleServer", "--serve", "echo=" + mirrorPort));
    processes.awaitPort(mirrorPort);
    String store = startRedis();
    Map<String, String[]> variants = limitVariants(descriptors, store);
    variants.put("faults off", new String[] {descriptors,
        "    faults: {abort: {percent: 0}, delay: {percent: 0}}\n"});
    variants.put("faults header control", new String[] {descriptors,
        "    faults: {headerControl: true}\n"});
    variants.put("fallback unused", new String[] {descriptors,
        "    fallback: {response: {message: {message: \"fallback\"}}}\n"});
    variants.put("hedging unused", new String[] {descriptors,
        "    hedging: {maxAttempts: 2, hedgingDelay: 1s}\n"});
    variants.put("mirror 10%", new String[] {descriptors,
        "    mirror: {cluster: echo-mirror, percent: 10}\n"});
    variants.put("cache, all hits", new String[] {descriptors, "    cache: {ttl: 1h}\n"});
    mirrorEndpoint = "127.0.0.1:" + mirrorPort;
    runVariants(gateways, backendPort, variants, String.format(Locale.ROOT, "Meshgate fleet"
        + " and resilience policy cost: EchoService/Echo, %d B messages, 40 calls in flight,"
        + " %ds warmup + %ds per run, %d round(s), gateway workers: %d, %d cores; limits never"
        + " refuse (global ones count in a local redis-server), every address is allowed,"
        + " faults inject nothing, the fallback and the hedge are never needed, every cached"
        + " call is a hit%n%n", size, warmup, duration, rounds, workers,
        Runtime.getRuntime().availableProcessors()));
  }

  /** Starts a local redis-server; returns the {@code ratelimit:} section that counts in it. */
  private String startRedis() throws Exception {
    int redisPort = BenchProcesses.freePort();
    processes.start("redis", List.of("redis-server", "--port", Integer.toString(redisPort),
        "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"));
    processes.awaitPort(redisPort);
    return "ratelimit: {redis: {addresses: [\"127.0.0.1:" + redisPort + "\"]}}\n";
  }

  /**
   * The bare route, a local limit, a global one (batch 1 and 20) and four IP rules (the
   * loopback client matched by the last), each {top-level yaml, route yaml}; every limit too
   * high to refuse.
   *
   * @param top what every variant's top level starts with
   * @param store the {@code ratelimit:} section of the global ones
   */
  private static Map<String, String[]> limitVariants(String top, String store) {
    Map<String, String[]> variants = new LinkedHashMap<>();
    variants.put("bare proxy", new String[] {top, ""});
    variants.put("local limit", new String[] {top,
        "    rateLimits: [{key: route, rate: 1000000000/s}]\n"});
    variants.put("global limit", new String[] {top + store,
        "    rateLimits: [{key: route, rate: 1000000000/s, scope: global}]\n"});
    variants.put("global limit, batch 20", new String[] {top + store,
        "    rateLimits: [{key: route, rate: 1000000000/s, scope: global, batch: 20}]\n"});
    variants.put("ip rules", new String[] {top + "ipRules: {rules: [{deny: [10.0.0.0/8]},"
        + " {deny: [\"2001:db8::/32\"]}, {deny: [192.168.0.0/16]}, {allow: [127.0.0.0/8]}],"
        + " default: deny}\n", ""});
    return variants;
  }

  /** A second cluster's endpoint (the mirror's), or null. */
  private String mirrorEndpoint;

  /** Starts one gateway per variant ({top-level yaml, route yaml}), runs them interleaved. */
  private void runVariants(Map<String, Map.Entry<Integer, Process>> gateways, int backendPort,
      Map<String, String[]> variants, String title) throws Exception {
    for (Map.Entry<String, String[]> variant : variants.entrySet()) {
      int port = BenchProcesses.freePort();
      gateways.put(variant.getKey(), Map.entry(port, gateway(variant.getKey()
          .replaceAll("\\W", ""), port, backendPort, variant.getValue()[0],
          variant.getValue()[1], null, false)));
    }
    System.out.print(title);
    Map<String, EchoRuns.Result> median = medians(interleaved(gateways, name -> List.of()));
    EchoRuns.Result bare = median.get("bare proxy");
    System.out.println();
    for (String name : variants.keySet()) {
      if (!name.equals("bare proxy")) {
        EchoRuns.Result r = median.get(name);
        System.out.printf(Locale.ROOT, "%s / bare: QPS %.2f (cost %.0f%%), gateway CPU per call"
                + " %.2f%n", name, (double) r.qps() / bare.qps(),
            100.0 * (1 - (double) r.qps() / bare.qps()),
            r.gatewayMicrosPerRequest() / bare.gatewayMicrosPerRequest());
      }
    }
  }

  /**
   * One unrecorded pass (every gateway's JIT compiles its paths first), then the rounds, every
   * other one in the opposite order so that no gateway always runs after another.
   *
   * @param headers the request headers each gateway's load sends
   */
  private Map<String, List<EchoRuns.Result>> interleaved(
      Map<String, Map.Entry<Integer, Process>> gateways,
      java.util.function.Function<String, List<String>> headers) throws Exception {
    for (var g : gateways.entrySet()) {
      echo.run(g.getValue().getKey(), size, g.getValue().getValue(), headers.apply(g.getKey()));
    }
    Map<String, List<EchoRuns.Result>> runs = new LinkedHashMap<>();
    for (int round = 1; round <= rounds; round++) {
      List<Map.Entry<String, Map.Entry<Integer, Process>>> order =
          new ArrayList<>(gateways.entrySet());
      if (round % 2 == 0) {
        java.util.Collections.reverse(order);
      }
      for (var g : order) {
        runs.computeIfAbsent(g.getKey(), k -> new ArrayList<>()).add(print(g.getKey(), round,
            echo.run(g.getValue().getKey(), size, g.getValue().getValue(),
                headers.apply(g.getKey()))));
      }
    }
    return runs;
  }

  /** The median of each gateway's rounds, printed as a table. */
  private static Map<String, EchoRuns.Result> medians(Map<String, List<EchoRuns.Result>> runs) {
    Map<String, EchoRuns.Result> median = new LinkedHashMap<>();
    runs.forEach((name, list) -> median.put(name, EchoRuns.median(list)));
    System.out.println();
    System.out.printf(Locale.ROOT, "%-25s %10s %9s %9s %16s%n", "gateway", "QPS", "p50 us",
        "p99 us", "gateway CPU/req");
    median.forEach((name, r) -> System.out.printf(Locale.ROOT, "%-25s %10d %9d %9d %13.1f us%n",
        name, r.qps(), r.p50(), r.p99(), r.gatewayMicrosPerRequest()));
    return median;
  }

  private static EchoRuns.Result print(String what, int round, EchoRuns.Result r) {
    System.out.printf(Locale.ROOT, "  %s round %d: %d QPS, p50 %d us, p99 %d us, gateway %.1f us"
        + " CPU/request%n", what, round, r.qps(), r.p50(), r.p99(), r.gatewayMicrosPerRequest());
    return r;
  }

  /**
   * Starts a gateway in front of the backend; {@code top} and {@code route} add policies.
   *
   * @param jar the gateway jar of another build, or null for this one ({@code bin/meshgate})
   */
  private Process gateway(String name, int port, int backendPort, String top, String route,
      String jar) throws Exception {
    return gateway(name, port, backendPort, top, route, jar, !route.isEmpty());
  }

  private Process gateway(String name, int port, int backendPort, String top, String route,
      String jar, boolean breaker) throws Exception {
    Path config = work.resolve(name + ".yaml");
    Files.writeString(config, String.format(Locale.ROOT, """
        listener: {host: 127.0.0.1, port: %d, workerThreads: %d}
        admin: {host: 127.0.0.1, port: %d}
        clusters:
          - name: echo
            endpoints: ["127.0.0.1:%d"]
        %s%s
        routes:
          - match: {service: meshgate.samples.echo.v1.EchoService}
            cluster: echo
        %s
        %s""", port, workers, BenchProcesses.freePort(), backendPort,
        breaker ? "    circuitBreaker: {}" : "", mirrorEndpoint == null ? ""
            : "\n  - {name: echo-mirror, endpoints: [\"" + mirrorEndpoint + "\"]}", route, top));
    List<String> command = jar == null
        ? List.of(root.resolve("bin/meshgate").toString(), "--config", config.toString())
        : List.of(echo.javaCmd(), "-Dio.netty.leakDetection.level=disabled", "-jar", jar,
            "--config", config.toString());
    Process p = processes.start(name, command);
    processes.awaitPort(port);
    return p;
  }

  private static String jwks(RSAPublicKey key) {
    return "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"bench\",\"alg\":\"RS256\",\"n\":\""
        + b64(unsigned(key.getModulus())) + "\",\"e\":\""
        + b64(unsigned(key.getPublicExponent())) + "\"}]}";
  }

  /** An RS256 token valid for a day, signed with the JDK (no JOSE library needed here). */
  private static String token(KeyPair key) throws Exception {
    long now = System.currentTimeMillis() / 1000;
    String input = b64("{\"alg\":\"RS256\",\"kid\":\"bench\"}".getBytes(StandardCharsets.UTF_8))
        + "." + b64(("{\"iss\":\"bench\",\"aud\":\"meshgate\",\"sub\":\"load\",\"iat\":" + now
            + ",\"exp\":" + (now + 86_400) + "}").getBytes(StandardCharsets.UTF_8));
    Signature signature = Signature.getInstance("SHA256withRSA");
    signature.initSign(key.getPrivate());
    signature.update(input.getBytes(StandardCharsets.US_ASCII));
    return input + "." + b64(signature.sign());
  }

  private static byte[] unsigned(BigInteger value) {
    byte[] bytes = value.toByteArray();
    return bytes[0] == 0 ? java.util.Arrays.copyOfRange(bytes, 1, bytes.length) : bytes;
  }

  private static String b64(byte[] bytes) {
    return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
  }
}
