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
 * </pre>
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
  }

  public static void main(String[] args) throws Exception {
    Map<String, String> options = new LinkedHashMap<>();
    for (String arg : args) {
      if (!arg.startsWith("--") || !arg.contains("=")) {
        System.err.println("usage: PolicyBench [--root=DIR] [--duration=S] [--warmup=S]"
            + " [--workers=N] [--rounds=N] [--size=B]");
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

    int barePort = BenchProcesses.freePort();
    Process bare = gateway("bare", barePort, backendPort, "", "");
    int policiesPort = BenchProcesses.freePort();
    Process policies = gateway("policies", policiesPort, backendPort, """
        auth:
          providers:
            - {name: bench, issuer: bench, audiences: [meshgate], jwks: {file: jwks.json}}
        tracing: {exporter: none}
        accessLog: {path: access.log}
        """, """
            auth: {providers: [bench]}
            rateLimits: [{key: clientIp, rate: 1000000000/s}]
        """);

    System.out.printf(Locale.ROOT, "Meshgate policy chain benchmark: EchoService/Echo, %d B"
            + " messages, 40 calls in flight, %ds warmup + %ds per run, %d round(s), gateway"
            + " workers: %d, %d cores%n"
            + "policies: JWT (RS256, JWKS file), rate limit per client address, circuit breaker,"
            + " metrics, tracing (spans made, exported nowhere), access log%n%n",
        size, warmup, duration, rounds, workers, Runtime.getRuntime().availableProcessors());
    List<String> auth = List.of("authorization:Bearer " + token);
    // One unrecorded pass: both gateways' JIT compile their paths before anything is measured.
    echo.run(barePort, size, bare, List.of());
    echo.run(policiesPort, size, policies, auth);
    List<EchoRuns.Result> bareRuns = new ArrayList<>();
    List<EchoRuns.Result> policyRuns = new ArrayList<>();
    for (int round = 1; round <= rounds; round++) {
      bareRuns.add(print("bare proxy", round, echo.run(barePort, size, bare, List.of())));
      policyRuns.add(print("all policies", round, echo.run(policiesPort, size, policies, auth)));
    }
    EchoRuns.Result b = EchoRuns.median(bareRuns);
    EchoRuns.Result p = EchoRuns.median(policyRuns);
    System.out.println();
    System.out.printf(Locale.ROOT, "%-14s %10s %9s %9s %16s%n", "gateway", "QPS", "p50 us",
        "p99 us", "gateway CPU/req");
    for (var row : List.of(Map.entry("bare proxy", b), Map.entry("all policies", p))) {
      System.out.printf(Locale.ROOT, "%-14s %10d %9d %9d %13.1f us%n", row.getKey(),
          row.getValue().qps(), row.getValue().p50(), row.getValue().p99(),
          row.getValue().gatewayMicrosPerRequest());
    }
    System.out.printf(Locale.ROOT, "%npolicies / bare: QPS %.2f (cost %.0f%%), gateway CPU per"
            + " call %.2f%n", (double) p.qps() / b.qps(), 100.0 * (1 - (double) p.qps() / b.qps()),
        p.gatewayMicrosPerRequest() / b.gatewayMicrosPerRequest());
  }

  private static EchoRuns.Result print(String what, int round, EchoRuns.Result r) {
    System.out.printf(Locale.ROOT, "  %s round %d: %d QPS, p50 %d us, p99 %d us, gateway %.1f us"
        + " CPU/request%n", what, round, r.qps(), r.p50(), r.p99(), r.gatewayMicrosPerRequest());
    return r;
  }

  /** Starts a gateway in front of the backend; {@code top} and {@code route} add policies. */
  private Process gateway(String name, int port, int backendPort, String top, String route)
      throws Exception {
    Path config = work.resolve(name + ".yaml");
    Files.writeString(config, String.format(Locale.ROOT, """
        listener: {host: 127.0.0.1, port: %d, workerThreads: %d}
        admin: {host: 127.0.0.1, port: %d}
        clusters:
          - name: echo
            endpoints: ["127.0.0.1:%d"]
        %s
        routes:
          - match: {service: meshgate.samples.echo.v1.EchoService}
            cluster: echo
        %s
        %s""", port, workers, BenchProcesses.freePort(), backendPort,
        route.isEmpty() ? "" : "    circuitBreaker: {}", route, top));
    Process p = processes.start(name, List.of(root.resolve("bin/meshgate").toString(),
        "--config", config.toString()));
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
