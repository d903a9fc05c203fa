package io.meshgate.gateway.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import io.meshgate.gateway.testing.GatewayProcess;
import io.meshgate.samples.EchoServiceImpl;
import io.meshgate.samples.echo.v1.EchoRequest;
import io.meshgate.samples.echo.v1.EchoServiceGrpc;
import io.meshgate.testing.Await;
import io.meshgate.testing.DebianPackages;
import io.meshgate.testing.FreePorts;
import io.meshgate.testing.TestCa;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.yaml.snakeyaml.Yaml;

/**
 * The Grafana dashboard and the Prometheus alerts name only metrics and labels a real gateway
 * exports (checked against the {@code /metrics} of {@code bin/meshgate} running with TLS, a
 * breaker, a global rate limit and a reloaded configuration), and {@code promtool check rules}
 * (Debian's {@code prometheus}, installed when missing) accepts the alert rules.
 */
class DashboardsIntegrationTest {
  private static final Path DEPLOY = Path.of("..", "deploy").toAbsolutePath().normalize();
  private static final Pattern METRIC =
      Pattern.compile("\\b(?:meshgate|jvm|process)_[a-z_0-9]+\\b");
  private static final Pattern MATCHER = Pattern.compile("(\\w+)\\s*(?:=~|!~|!=|=)\\s*\"");
  private static final Pattern GROUPING = Pattern.compile("\\b(?:by|without)\\s*\\(([^)]*)\\)");
  private static final Pattern SAMPLE = Pattern.compile("^(\\w+)(?:\\{(.*)})?\\s");

  @TempDir
  Path dir;

  /** Every PromQL expression of the dashboard and the alerts, with where it is. */
  @SuppressWarnings("unchecked")
  private static Map<String, String> expressions() throws Exception {
    Map<String, String> exprs = new java.util.LinkedHashMap<>();
    JsonObject dashboard = JsonParser.parseString(Files.readString(
        DEPLOY.resolve("grafana/meshgate.json"))).getAsJsonObject();
    for (JsonElement panel : dashboard.getAsJsonArray("panels")) {
      for (JsonElement target : panel.getAsJsonObject().getAsJsonArray("targets")) {
        exprs.put("panel '" + panel.getAsJsonObject().get("title").getAsString() + "' "
            + target.getAsJsonObject().get("refId").getAsString(),
            target.getAsJsonObject().get("expr").getAsString());
      }
    }
    Map<String, Object> rules = new Yaml().load(Files.readString(
        DEPLOY.resolve("prometheus/alerts.yaml")));
    for (Map<String, Object> group : (List<Map<String, Object>>) rules.get("groups")) {
      for (Map<String, Object> rule : (List<Map<String, Object>>) group.get("rules")) {
        exprs.put("alert " + rule.get("alert"), (String) rule.get("expr"));
      }
    }
    return exprs;
  }

  @Test
  void everyExpressionNamesMetricsAndLabelsTheGatewayExports() throws Exception {
    ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
    Server backend = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(new EchoServiceImpl("dashboards", scheduler)).build().start();
    TestCa ca = TestCa.create("dash-ca", dir);
    TestCa.Issued cert = ca.issue("meshgate", "127.0.0.1");
    int port = FreePorts.next();
    int admin = FreePorts.next();
    String yaml = """
        listener:
          host: 127.0.0.1
          port: %d
          tls: {certFile: "%s", keyFile: "%s", allowPlaintext: true}
        admin: {host: 127.0.0.1, port: %d}
        ratelimit: {redis: {addresses: ["127.0.0.1:1"]}}
        clusters:
          - {name: echo, endpoints: ["127.0.0.1:%d"], circuitBreaker: {}}
        routes:
          - name: echo
            match: {servicePrefix: ""}
            cluster: echo
            rateLimits: [{key: route, rate: 1000/s, scope: global, onStoreFailure: allow}]
        """.formatted(port, cert.certFile(), cert.keyFile(), admin, backend.getPort());
    Path config = Files.writeString(dir.resolve("gateway.yaml"), yaml);
    GatewayProcess gateway = GatewayProcess.start(config, admin);
    ManagedChannel channel = ManagedChannelBuilder.forAddress("127.0.0.1", port).usePlaintext()
        .build();
    try {
      var stub = EchoServiceGrpc.newBlockingStub(channel);
      for (int i = 0; i < 3; i++) {
        stub.withDeadlineAfter(5, TimeUnit.SECONDS).echo(EchoRequest.newBuilder()
            .setMessage("m").build());
      }
      // A rejected change, so that the reload counter exists.
      Files.writeString(config, yaml.replace("routes:", "routes: [broken"));
      HttpClient http = HttpClient.newHttpClient();
      String[] scrape = new String[1];
      Await.until("the reload counters", Duration.ofSeconds(30), () -> {
        try {
          scrape[0] = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin
              + "/metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
        } catch (Exception e) {
          return false;
        }
        return scrape[0].contains("meshgate_config_reloads_total");
      });
      Map<String, Set<String>> exported = new HashMap<>();
      for (String line : scrape[0].split("\n")) {
        Matcher m = SAMPLE.matcher(line);
        if (line.startsWith("#") || !m.find()) {
          continue;
        }
        Set<String> labels = exported.computeIfAbsent(m.group(1), k -> new HashSet<>());
        if (m.group(2) != null) {
          for (String pair : m.group(2).split(",(?=\\w+=\")")) {
            labels.add(pair.substring(0, pair.indexOf('=')));
          }
        }
      }
      List<String> problems = new ArrayList<>();
      for (Map.Entry<String, String> expr : expressions().entrySet()) {
        Set<String> labels = new HashSet<>(Set.of("le"));
        Matcher metrics = METRIC.matcher(expr.getValue());
        while (metrics.find()) {
          Set<String> found = exported.get(metrics.group());
          if (found == null) {
            problems.add(expr.getKey() + ": the gateway exports no " + metrics.group());
          } else {
            labels.addAll(found);
          }
        }
        List<String> used = new ArrayList<>();
        Matcher matchers = MATCHER.matcher(expr.getValue());
        while (matchers.find()) {
          used.add(matchers.group(1));
        }
        Matcher groupings = GROUPING.matcher(expr.getValue());
        while (groupings.find()) {
          for (String label : groupings.group(1).split(",")) {
            if (!label.isBlank()) {
              used.add(label.strip());
            }
          }
        }
        for (String label : used) {
          if (!labels.contains(label)) {
            problems.add(expr.getKey() + ": no metric it names has the label " + label);
          }
        }
      }
      assertEquals(List.of(), problems, "exported: " + exported.keySet());
      assertTrue(expressions().size() >= 15, "the dashboard and the alerts have expressions");
    } finally {
      channel.shutdownNow();
      gateway.terminate();
      gateway.process().waitFor(30, TimeUnit.SECONDS);
      backend.shutdownNow();
      scheduler.shutdownNow();
    }
  }

  @Test
  void promtoolAcceptsTheAlertRules() throws Exception {
    DebianPackages.ensure("prometheus", List.of("promtool", "--version"));
    Process check = new ProcessBuilder("promtool", "check", "rules",
        DEPLOY.resolve("prometheus/alerts.yaml").toString()).redirectErrorStream(true).start();
    String output = new String(check.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(check.waitFor(60, TimeUnit.SECONDS));
    assertEquals(0, check.exitValue(), output);
    assertTrue(output.contains("SUCCESS"), output);
  }
}
