package io.meshgate.bench;

import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

/**
 * TLS cost, side by side in one run: grpc-benchmarks AsyncClient through Meshgate in h2c and with
 * TLS on both sides (client to gateway, gateway to backend), and the same through HAProxy with
 * the same certificates (grpc's test CA: {@code server1.pem} for every server, the name
 * {@code foo.test.google.fr}), unary and streaming; Meshgate's TLS once with the JDK's provider
 * and once with {@code provider: openssl} (BoringSSL); then how many new TLS handshakes a
 * second each front accepts. Prints QPS and the proxy's CPU per call, and the ratios TLS / h2c.
 */
public final class TlsBench {
  private static final String NAME = "foo.test.google.fr";

  public static void main(String[] args) throws Exception {
    Map<String, String> options = new LinkedHashMap<>();
    for (String arg : args) {
      if (!arg.startsWith("--") || !arg.contains("=")) {
        System.err.println("usage: TlsBench [--root=DIR] [--duration=S] [--warmup=S]"
            + " [--rounds=N] [--workers=N] [--handshake-seconds=S]");
        System.exit(2);
      }
      options.put(arg.substring(2, arg.indexOf('=')), arg.substring(arg.indexOf('=') + 1));
    }
    ProxyBench bench = new ProxyBench(options);
    try {
      run(bench, Integer.parseInt(options.getOrDefault("handshake-seconds", "10")));
    } finally {
      bench.processes().close();
    }
  }

  private static Path extract(Path dir, String name) throws Exception {
    Path file = dir.resolve(name);
    try (InputStream in = TlsBench.class.getResourceAsStream("/certs/" + name)) {
      Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
    }
    return file;
  }

  private static void run(ProxyBench bench, int handshakeSeconds) throws Exception {
    Path work = bench.work();
    BenchProcesses processes = bench.processes();
    Path cert = extract(work, "server1.pem");
    Path key = extract(work, "server1.key");
    Path ca = extract(work, "ca.pem");
    Path combined = work.resolve("server1-combined.pem");
    Files.writeString(combined, Files.readString(cert) + Files.readString(key));

    int backend = BenchProcesses.freePort();
    int backendTls = BenchProcesses.freePort();
    processes.start("backend", List.of(bench.javaCmd(), "-cp", bench.benchJar(),
        "io.grpc.benchmarks.qps.AsyncServer", "--address=127.0.0.1:" + backend,
        "--directexecutor"));
    processes.start("backend-tls", List.of(bench.javaCmd(), "-cp", bench.benchJar(),
        "io.grpc.benchmarks.qps.AsyncServer", "--address=127.0.0.1:" + backendTls,
        "--directexecutor", "--tls"));
    processes.awaitPort(backend);
    processes.awaitPort(backendTls);

    Map<String, Process> proxies = new LinkedHashMap<>();
    Map<String, Integer> ports = new LinkedHashMap<>();
    int workers = bench.workers();
    for (String variant : List.of("meshgate", "meshgate-tls", "meshgate-tls-openssl")) {
      boolean tls = !variant.equals("meshgate");
      String provider = variant.endsWith("openssl") ? "openssl" : "jdk";
      int port = BenchProcesses.freePort();
      Path config = work.resolve(variant + ".yaml");
      Files.writeString(config, String.format(Locale.ROOT, """
          listener:
            host: 127.0.0.1
            port: %d
            workerThreads: %d
          %s
          admin: {host: 127.0.0.1, port: %d}
          clusters:
            - name: bench
              endpoints: ["127.0.0.1:%d"]
          %s
          routes: [{match: {servicePrefix: ""}, cluster: bench}]
          """, port, workers,
          tls ? "  tls: {certFile: \"" + cert + "\", keyFile: \"" + key + "\", provider: "
              + provider + "}" : "",
          BenchProcesses.freePort(), tls ? backendTls : backend,
          tls ? "    tls: {caFile: \"" + ca + "\", serverName: " + NAME + ", provider: "
              + provider + "}" : ""));
      String name = variant;
      proxies.put(name, processes.start(name, List.of(
          bench.root().resolve("bin/meshgate").toString(), "--config", config.toString())));
      ports.put(name, port);
    }
    int haproxy = BenchProcesses.freePort();
    int haproxyTls = BenchProcesses.freePort();
    Path haproxyConfig = work.resolve("haproxy.cfg");
    Files.writeString(haproxyConfig, String.format(Locale.ROOT, """
        global
          nbthread %d
          tune.ssl.default-dh-param 2048
        defaults
          mode http
          timeout connect 5s
          timeout client 60s
          timeout server 60s
        frontend h2c
          bind 127.0.0.1:%d proto h2
          default_backend plain
        backend plain
          server s1 127.0.0.1:%d proto h2
        frontend tls
          bind 127.0.0.1:%d ssl crt %s alpn h2
          default_backend tls
        backend tls
          server s1 127.0.0.1:%d ssl verify required ca-file %s sni str(%s) verifyhost %s alpn h2
        """, workers, haproxy, backend, haproxyTls, combined, backendTls, ca, NAME, NAME));
    proxies.put("haproxy", processes.start("haproxy", List.of("haproxy", "-db", "-f",
        haproxyConfig.toString())));
    // One process serves both of HAProxy's frontends: its CPU is read for each run alike.
    proxies.put("haproxy-tls", proxies.get("haproxy"));
    ports.put("haproxy", haproxy);
    ports.put("haproxy-tls", haproxyTls);
    for (int port : ports.values()) {
      processes.awaitPort(port);
    }

    System.out.printf(Locale.ROOT, "Meshgate TLS benchmark: AsyncClient, %ds per run, %d"
        + " round(s), proxy workers %d, %d cores; TLS: client -> proxy -> backend, grpc's test"
        + " CA%n%n", bench.duration(), bench.rounds(), workers,
        Runtime.getRuntime().availableProcessors());
    StringBuilder table = new StringBuilder(String.format(Locale.ROOT,
        "%-10s %-20s %10s %10s %10s %14s%n", "mode", "path", "QPS", "p50 us", "p99 us",
        "proxy CPU/call"));
    StringBuilder ratios = new StringBuilder();
    for (boolean streaming : new boolean[] {false, true}) {
      String mode = streaming ? "streaming" : "unary";
      for (Map.Entry<String, Integer> target : ports.entrySet()) {
        bench.client(target.getValue(), streaming, 5, null, target.getKey().contains("-tls"));
      }
      Map<String, List<ProxyBench.Result>> results = new LinkedHashMap<>();
      for (int round = 0; round < bench.rounds(); round++) {
        List<Map.Entry<String, Integer>> order = new ArrayList<>(ports.entrySet());
        if (round % 2 == 1) {
          java.util.Collections.reverse(order);
        }
        for (Map.Entry<String, Integer> target : order) {
          ProxyBench.Result result = bench.client(target.getValue(), streaming, bench.duration(),
              proxies.get(target.getKey()), target.getKey().contains("-tls"));
          results.computeIfAbsent(target.getKey(), k -> new ArrayList<>()).add(result);
          System.out.printf(Locale.ROOT, "  %s %s round %d: %d QPS, p50 %d us, p99 %d us, proxy"
                  + " CPU %s/call%n", mode, target.getKey(), round + 1, result.qps(),
              result.p50(), result.p99(), ProxyBench.cpu(result.cpuMicros()));
        }
      }
      Map<String, ProxyBench.Result> median = new LinkedHashMap<>();
      results.forEach((k, v) -> median.put(k, new ProxyBench.Result(ProxyBench.median(v).qps(),
          ProxyBench.median(v).p50(), ProxyBench.median(v).p99(), ProxyBench.medianCpu(v))));
      median.forEach((path, r) -> table.append(String.format(Locale.ROOT,
          "%-10s %-20s %10d %10d %10d %14s%n", mode, path, r.qps(), r.p50(), r.p99(),
          ProxyBench.cpu(r.cpuMicros()))));
      double meshgateCpu = median.get("meshgate-tls").cpuMicros()
          / median.get("meshgate").cpuMicros();
      double haproxyCpu = median.get("haproxy-tls").cpuMicros()
          / median.get("haproxy").cpuMicros();
      double opensslCpu = median.get("meshgate-tls-openssl").cpuMicros()
          / median.get("meshgate").cpuMicros();
      ratios.append(String.format(Locale.ROOT, "%-10s meshgate TLS/h2c: QPS %.2f, CPU per call"
              + " %.2f   with openssl: QPS %.2f, CPU per call %.2f   haproxy TLS/h2c: QPS %.2f,"
              + " CPU per call %.2f   (bars: QPS >= 0.80, CPU ratio <= haproxy's)%n", mode,
          ProxyBench.ratio(median.get("meshgate-tls"), median.get("meshgate")), meshgateCpu,
          ProxyBench.ratio(median.get("meshgate-tls-openssl"), median.get("meshgate")),
          opensslCpu,
          ProxyBench.ratio(median.get("haproxy-tls"), median.get("haproxy")), haproxyCpu));
    }
    System.out.println();
    System.out.print(table);
    System.out.println();
    System.out.print(ratios);
    System.out.println();
    for (String front : List.of("meshgate-tls", "meshgate-tls-openssl", "haproxy-tls")) {
      System.out.printf(Locale.ROOT, "new TLS handshakes per second, %s: %d%n", front,
          handshakesPerSecond(ports.get(front), ca, handshakeSeconds));
    }
  }

  /**
   * Full TLS handshakes a second that the front completes for two client threads that
   * connect, handshake (no session resumption) and close, for {@code seconds}.
   */
  private static long handshakesPerSecond(int port, Path ca, int seconds) throws Exception {
    java.security.KeyStore store = java.security.KeyStore.getInstance("PKCS12");
    store.load(null, null);
    try (InputStream in = Files.newInputStream(ca)) {
      store.setCertificateEntry("ca", java.security.cert.CertificateFactory
          .getInstance("X.509").generateCertificate(in));
    }
    TrustManagerFactory trust = TrustManagerFactory.getInstance(
        TrustManagerFactory.getDefaultAlgorithm());
    trust.init(store);
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(null, trust.getTrustManagers(), null);
    context.getClientSessionContext().setSessionCacheSize(1);
    AtomicLong done = new AtomicLong();
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    List<Thread> threads = new ArrayList<>();
    for (int t = 0; t < 2; t++) {
      Thread thread = new Thread(() -> {
        while (System.nanoTime() < end) {
          try (SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
            SSLParameters parameters = socket.getSSLParameters();
            parameters.setServerNames(List.of(new SNIHostName(NAME)));
            parameters.setApplicationProtocols(new String[] {"h2"});
            socket.setSSLParameters(parameters);
            socket.startHandshake();
            socket.getSession().invalidate(); // no resumption: every handshake is a full one
            done.incrementAndGet();
          } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
          }
        }
      });
      thread.start();
      threads.add(thread);
    }
    for (Thread thread : threads) {
      thread.join();
    }
    return done.get() / seconds;
  }
}
