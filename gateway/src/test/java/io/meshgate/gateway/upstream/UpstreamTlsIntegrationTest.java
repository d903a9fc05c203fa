package io.meshgate.gateway.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.meshgate.gateway.testing.Metrics;
import io.meshgate.testing.TestCa;
import io.meshgate.gateway.testing.TestGateway;
import io.meshgate.samples.EchoServiceImpl;
import io.meshgate.samples.echo.v1.EchoRequest;
import io.meshgate.samples.echo.v1.EchoResponse;
import io.meshgate.samples.echo.v1.EchoServiceGrpc;
import io.netty.handler.ssl.ClientAuth;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLSession;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The gateway speaks TLS and mTLS to a grpc-java backend that requires client certificates:
 * every kind of call works, the backend sees the gateway's certificate, and each way a
 * backend's certificate can be wrong fails the call with UNAVAILABLE saying which, counted.
 */
class UpstreamTlsIntegrationTest {
  @TempDir Path dir;
  private TestCa backendCa;
  private TestCa gatewayCa;
  private TestCa.Issued gatewayCert;
  private final List<Server> servers = new ArrayList<>();
  private final List<TestGateway> gateways = new ArrayList<>();
  private final List<String> clientSubjects = new CopyOnWriteArrayList<>();
  private final List<String> forwardedHosts = new CopyOnWriteArrayList<>();
  private final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();

  @BeforeEach
  void cas() throws Exception {
    backendCa = TestCa.create("backend-ca", dir);
    gatewayCa = TestCa.create("gateway-ca", dir);
    gatewayCert = gatewayCa.issue("meshgate", "spiffe://corp.example/ns/edge/sa/meshgate");
  }

  @AfterEach
  void stop() throws Exception {
    for (TestGateway gateway : gateways) {
      gateway.close();
    }
    for (Server server : servers) {
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    scheduler.shutdownNow();
  }

  /** An echo backend with {@code cert}, requiring a client certificate from the gateway's CA. */
  private int backend(TestCa.Issued cert) throws Exception {
    ServerInterceptor recordPeer = new ServerInterceptor() {
      @Override
      public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
          ServerCallHandler<Q, R> next) {
        SSLSession session = call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION);
        try {
          clientSubjects.add(((X509Certificate) session.getPeerCertificates()[0])
              .getSubjectX500Principal().getName());
        } catch (javax.net.ssl.SSLPeerUnverifiedException e) {
          clientSubjects.add("none");
        }
        forwardedHosts.add(String.valueOf(headers.get(
            Metadata.Key.of("x-forwarded-host", Metadata.ASCII_STRING_MARSHALLER))));
        return next.startCall(call, headers);
      }
    };
    Server server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .sslContext(GrpcSslContexts.forServer(cert.certFile().toFile(), cert.keyFile().toFile())
            .trustManager(gatewayCa.caFile().toFile()).clientAuth(ClientAuth.REQUIRE).build())
        .addService(ServerInterceptors.intercept(new EchoServiceImpl("tls", scheduler),
            recordPeer))
        .build().start();
    servers.add(server);
    return server.getPort();
  }

  private TestGateway gateway(int port, String tls) throws Exception {
    TestGateway gateway = TestGateway.start("""
        clusters: [{name: payments, endpoints: ["127.0.0.1:%d"], tls: %s}]
        routes: [{match: {servicePrefix: ""}, cluster: payments}]
        """.formatted(port, tls));
    gateways.add(gateway);
    return gateway;
  }

  private String mtls() {
    return mtls("jdk");
  }

  private String mtls(String provider) {
    return "{caFile: \"%s\", certFile: \"%s\", keyFile: \"%s\", provider: %s}".formatted(
        backendCa.caFile(), gatewayCert.certFile(), gatewayCert.keyFile(), provider);
  }

  private static EchoRequest request(String message) {
    return EchoRequest.newBuilder().setMessage(message).setResponseCount(3).build();
  }

  @org.junit.jupiter.params.ParameterizedTest(name = "provider {0}")
  @org.junit.jupiter.params.provider.ValueSource(strings = {"jdk", "openssl"})
  void everyKindOfCallGoesThroughMutualTls(String provider) throws Exception {
    TestGateway gateway = gateway(backend(backendCa.issue("payments", "127.0.0.1")),
        mtls(provider));
    var blocking = EchoServiceGrpc.newBlockingStub(gateway.channel())
        .withDeadlineAfter(10, TimeUnit.SECONDS);
    assertEquals("unary", blocking.echo(request("unary")).getMessage());
    List<String> expanded = new ArrayList<>();
    blocking.expand(request("server")).forEachRemaining(r -> expanded.add(r.getMessage()));
    assertEquals(3, expanded.size());

    var async = EchoServiceGrpc.newStub(gateway.channel()).withDeadlineAfter(10, TimeUnit.SECONDS);
    Collected collected = new Collected();
    StreamObserver<EchoRequest> collect = async.collect(collected);
    collect.onNext(request("a"));
    collect.onNext(request("b"));
    collect.onCompleted();
    assertTrue(collected.awaitDone(), "client stream completed");
    Collected chatted = new Collected();
    StreamObserver<EchoRequest> chat = async.chat(chatted);
    chat.onNext(request("x"));
    chat.onNext(request("y"));
    chat.onCompleted();
    assertTrue(chatted.awaitDone(), "bidi stream completed");
    assertEquals(null, collected.error);
    assertEquals(null, chatted.error);
    assertTrue(chatted.messages.size() >= 2, "bidi answers: " + chatted.messages);
    assertTrue(clientSubjects.stream().allMatch("CN=meshgate"::equals),
        "the backend saw the gateway's certificate: " + clientSubjects);
    assertEquals(List.of(gateway.address()), forwardedHosts.stream().distinct().toList(),
        "the authority the client called goes along as x-forwarded-host");
  }

  private static final class Collected implements StreamObserver<EchoResponse> {
    final List<String> messages = new CopyOnWriteArrayList<>();
    final java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(1);
    volatile Throwable error;

    @Override
    public void onNext(EchoResponse value) {
      messages.add(value.getMessage());
    }

    @Override
    public void onError(Throwable t) {
      error = t;
      done.countDown();
    }

    @Override
    public void onCompleted() {
      done.countDown();
    }

    boolean awaitDone() throws InterruptedException {
      return done.await(10, TimeUnit.SECONDS);
    }
  }

  @org.junit.jupiter.params.ParameterizedTest(name = "provider {0}")
  @org.junit.jupiter.params.provider.ValueSource(strings = {"jdk", "openssl"})
  void aWorkloadIdentityIsCheckedInsteadOfAHostName(String provider) throws Exception {
    int port = backend(backendCa.issue("payments-api", "spiffe://corp.example/ns/payments/sa/api"));
    String allowed = mtls(provider).replace("}", ", subjectAltNames: [\"spiffe://corp.example/ns/payments/*\"]}");
    assertEquals("spiffe", EchoServiceGrpc.newBlockingStub(gateway(port, allowed).channel())
        .withDeadlineAfter(10, TimeUnit.SECONDS).echo(request("spiffe")).getMessage());

    String other = mtls(provider).replace("}", ", subjectAltNames: [\"spiffe://corp.example/ns/web/*\"]}");
    TestGateway refusing = gateway(port, other);
    String message = failure(refusing);
    assertTrue(message.contains("carries the SANs [spiffe://corp.example/ns/payments/sa/api],"
        + " none of them in clusters[payments].tls.subjectAltNames"), message);
    assertTrue(tlsFailures(refusing, "subject_alt_name") >= 1);
  }

  @org.junit.jupiter.params.ParameterizedTest(name = "provider {0}")
  @org.junit.jupiter.params.provider.ValueSource(strings = {"jdk", "openssl"})
  void anUntrustedBackendIsRefusedNamingTheTrustFile(String provider) throws Exception {
    TestCa stranger = TestCa.create("stranger-ca", dir);
    TestGateway gateway = gateway(backend(stranger.issue("payments", "127.0.0.1")),
        mtls(provider));
    String message = failure(gateway);
    assertTrue(message.contains("cluster 'payments'") && message.contains("127.0.0.1:")
        && message.contains("is not trusted by backend-ca.pem"), message);
    assertTrue(tlsFailures(gateway, "untrusted") >= 1);
  }

  @Test
  void anExpiredBackendCertificateIsRefusedSayingWhen() throws Exception {
    TestGateway gateway = gateway(backend(backendCa.issueExpired("payments", "127.0.0.1")),
        mtls());
    String message = failure(gateway);
    assertTrue(message.contains("expired on"), message);
    assertTrue(tlsFailures(gateway, "expired") >= 1);
  }

  @Test
  void aCertificateForAnotherNameIsRefused() throws Exception {
    TestGateway gateway = gateway(backend(backendCa.issue("payments", "payments.internal")),
        mtls());
    String message = failure(gateway);
    assertTrue(message.contains("is not for the name the gateway asked for"), message);
    assertTrue(tlsFailures(gateway, "hostname") >= 1);
    // With the name it is for, it is trusted.
    String named = mtls().replace("}", ", serverName: payments.internal}");
    int port = Integer.parseInt(gateway.gateway().config().clusters().get(0).target()
        .replaceAll(".*:", ""));
    assertEquals("named", EchoServiceGrpc.newBlockingStub(gateway(port, named).channel())
        .withDeadlineAfter(10, TimeUnit.SECONDS).echo(request("named")).getMessage());
  }

  @Test
  void withoutAClientCertificateTheBackendRefusesTheGateway() throws Exception {
    TestGateway gateway = gateway(backend(backendCa.issue("payments", "127.0.0.1")),
        "{caFile: \"" + backendCa.caFile() + "\"}");
    String message = failure(gateway);
    assertTrue(message.contains("cluster 'payments'")
        && message.contains("the endpoint wants a client certificate"), message);
  }

  @Test
  void aClusterDiscoveredInEtcdSpeaksTlsToItsEndpointsToo() throws Exception {
    // The name checked for an etcd:/// cluster is its service name.
    int port = backend(backendCa.issue("payments", "payments"));
    try (io.meshgate.testing.EtcdCluster etcd = io.meshgate.testing.EtcdCluster.start(1);
        io.meshgate.resolver.EtcdRegistrar registrar = io.meshgate.resolver.EtcdRegistrar
            .builder().etcdEndpoints(etcd.endpoints()).service("payments")
            .address("127.0.0.1:" + port).build()) {
      registrar.start();
      assertTrue(registrar.awaitRegistered(java.time.Duration.ofSeconds(20)));
      TestGateway gateway = TestGateway.start("""
          discovery: {etcd: {endpoints: ["%s"]}}
          clusters: [{name: payments, target: "etcd:///payments", tls: %s}]
          routes: [{match: {servicePrefix: ""}, cluster: payments}]
          """.formatted(etcd.endpoints().get(0), mtls()));
      gateways.add(gateway);
      assertEquals("discovered", EchoServiceGrpc.newBlockingStub(gateway.channel())
          .withDeadlineAfter(20, TimeUnit.SECONDS).withWaitForReady()
          .echo(request("discovered")).getMessage());
      assertEquals("CN=meshgate", clientSubjects.get(clientSubjects.size() - 1));
    }
  }

  @Test
  void aDnsTargetChecksItsHostName() throws Exception {
    // The name checked for a dns:/// cluster is the target's host; the LB policy is another.
    int port = backend(backendCa.issue("payments", "localhost"));
    TestGateway gateway = TestGateway.start("""
        clusters:
          - {name: payments, target: "dns:///localhost:%d", lbPolicy: meshgate_least_request,
             tls: %s}
        routes: [{match: {servicePrefix: ""}, cluster: payments}]
        """.formatted(port, mtls("openssl")));
    gateways.add(gateway);
    for (int i = 0; i < 3; i++) {
      assertEquals("dns", EchoServiceGrpc.newBlockingStub(gateway.channel())
          .withDeadlineAfter(10, TimeUnit.SECONDS).echo(request("dns")).getMessage());
    }
    assertEquals("CN=meshgate", clientSubjects.get(clientSubjects.size() - 1));
  }

  private static String failure(TestGateway gateway) {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
        () -> EchoServiceGrpc.newBlockingStub(gateway.channel())
            .withDeadlineAfter(10, TimeUnit.SECONDS).echo(request("refused")));
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.getStatus().toString());
    System.out.println("refused: " + e.getStatus().getDescription());
    return e.getStatus().getDescription();
  }

  private static double tlsFailures(TestGateway gateway, String reason) throws Exception {
    return Metrics.scrape(gateway.gateway().adminPort()).sum(
        "meshgate_upstream_tls_failures_total", "cluster", "payments", "reason", reason);
  }
}
