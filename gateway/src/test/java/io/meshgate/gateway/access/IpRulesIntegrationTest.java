package io.meshgate.gateway.access;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.MetadataUtils;
import io.meshgate.gateway.testing.Metrics;
import io.meshgate.gateway.testing.SampleFleet;
import io.meshgate.gateway.testing.TestGateway;
import io.meshgate.samples.EchoServiceImpl;
import io.meshgate.samples.echo.v1.EchoRequest;
import io.meshgate.samples.echo.v1.EchoServiceGrpc;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ipRules} globally and per route, on IPv4 and IPv6 addresses, with and without trusted
 * proxies: PERMISSION_DENIED / 403 before authentication, naming nothing internal, counted.
 */
class IpRulesIntegrationTest {
  @TempDir
  static Path dir;
  private static final ScheduledExecutorService scheduler =
      Executors.newSingleThreadScheduledExecutor();
  private static Server backend;
  private static final List<TestGateway> gateways = new ArrayList<>();
  private static final List<ManagedChannel> channels = new ArrayList<>();

  @BeforeAll
  static void start() throws Exception {
    backend = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(new EchoServiceImpl("ip", scheduler)).build().start();
  }

  @AfterAll
  static void stop() throws Exception {
    channels.forEach(ManagedChannel::shutdownNow);
    for (TestGateway gateway : gateways) {
      gateway.close();
    }
    backend.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    scheduler.shutdownNow();
  }

  private static TestGateway gateway(String yaml) throws Exception {
    TestGateway gateway = TestGateway.start(yaml.formatted(backend.getPort()));
    gateways.add(gateway);
    return gateway;
  }

  private static Status.Code call(TestGateway gateway, String forwardedFor) {
    ManagedChannel channel = ManagedChannelBuilder.forTarget(gateway.address()).usePlaintext()
        .build();
    channels.add(channel);
    var stub = EchoServiceGrpc.newBlockingStub(channel).withDeadlineAfter(5, TimeUnit.SECONDS);
    if (forwardedFor != null) {
      Metadata headers = new Metadata();
      headers.put(Metadata.Key.of("x-forwarded-for", Metadata.ASCII_STRING_MARSHALLER),
          forwardedFor);
      stub = stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
    }
    try {
      stub.echo(EchoRequest.newBuilder().setMessage("m").build());
      return Status.Code.OK;
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() == Status.Code.PERMISSION_DENIED) {
        assertEquals("the client's address may not call this", e.getStatus().getDescription(),
            "nothing internal is named");
      }
      return e.getStatus().getCode();
    }
  }

  @Test
  void behindATrustedProxyTheForwardedAddressDecidesFirstMatchWins() throws Exception {
    TestGateway gateway = gateway("""
        ipRules:
          trustedHops: 1
          rules:
            - allow: [10.1.0.0/16]
            - deny: [10.0.0.0/8, "2001:db8::/32"]
        clusters: [{name: echo, endpoints: ["127.0.0.1:%d"]}]
        routes: [{match: {servicePrefix: ""}, cluster: echo}]
        """);
    assertEquals(Status.Code.OK, call(gateway, "10.1.2.3"), "the allow rule comes first");
    assertEquals(Status.Code.PERMISSION_DENIED, call(gateway, "10.2.3.4"));
    assertEquals(Status.Code.OK, call(gateway, "192.168.1.1"), "no rule: let through");
    assertEquals(Status.Code.PERMISSION_DENIED, call(gateway, "2001:db8::1"));
    assertEquals(Status.Code.OK, call(gateway, "2001:db9::1"));
    assertEquals(Status.Code.PERMISSION_DENIED, call(gateway, "::ffff:10.9.9.9"),
        "an IPv4-mapped address is its IPv4 address");
    assertEquals(Status.Code.PERMISSION_DENIED, call(gateway, "203.0.113.7, 10.2.3.4"),
        "the entry the trusted proxy added (rightmost) decides, not what the client wrote");
    assertEquals(2 + 2, (int) Metrics.scrape(gateway.gateway().adminPort())
        .sum("meshgate_ip_denied_total", "route", ""));
  }

  @Test
  void withoutTrustedProxiesTheTcpPeerDecidesWhateverTheClientWrites() throws Exception {
    TestGateway gateway = gateway("""
        ipRules:
          rules: [{deny: [127.0.0.0/8]}]
        clusters: [{name: echo, endpoints: ["127.0.0.1:%d"]}]
        routes: [{match: {servicePrefix: ""}, cluster: echo}]
        """);
    assertEquals(Status.Code.PERMISSION_DENIED, call(gateway, "10.1.2.3"));
    assertEquals(Status.Code.PERMISSION_DENIED, call(gateway, null));
  }

  @Test
  void routesHaveRulesOfTheirOwnAndRestGets403() throws Exception {
    TestGateway gateway = gateway("""
        transcoding: {descriptors: ["%s"]}
        clusters: [{name: echo, endpoints: ["127.0.0.1:%%d"]}]
        routes:
          - name: internal
            match: {service: meshgate.samples.echo.v1.EchoService, method: Echo}
            cluster: echo
            ipRules: {rules: [{allow: ["10.0.0.0/8"]}], default: deny}
          - {name: public, match: {servicePrefix: ""}, cluster: echo}
        """.formatted(SampleFleet.descriptorSet(dir)));
    assertEquals(Status.Code.PERMISSION_DENIED, call(gateway, null), "Echo is internal");
    HttpResponse<String> rest = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
            URI.create("http://" + gateway.address() + "/v1/echo"))
        .POST(HttpRequest.BodyPublishers.ofString("{\"message\":\"x\"}")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(403, rest.statusCode());
    assertFalse(rest.body().contains("10.0.0.0"), "no internal detail: " + rest.body());
    HttpResponse<String> expand = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
            URI.create("http://" + gateway.address() + "/v1/echo:expand?message=ok")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(200, expand.statusCode(), "another route of the service is public");
    assertTrue(Metrics.scrape(gateway.gateway().adminPort()).sum("meshgate_ip_denied_total",
        "route", "internal") >= 2);
  }
}
