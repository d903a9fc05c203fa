package io.meshgate.gateway.front;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.MetadataUtils;
import io.meshgate.testing.TestCa;
import io.meshgate.gateway.testing.TestGateway;
import io.meshgate.samples.EchoServiceImpl;
import io.meshgate.samples.echo.v1.EchoRequest;
import io.meshgate.samples.echo.v1.EchoServiceGrpc;
import io.netty.handler.ssl.SslContextBuilder;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Client certificates at the front: the gateway asks for them, admits routes by the workload
 * identity they carry (SPIFFE IDs), keys rate limits on it, and tells the backend who called in
 * {@code x-forwarded-client-cert} — never trusting a header the client wrote itself unless told
 * to.
 */
class ClientCertIntegrationTest {
  private static final String WEB = "spiffe://corp.example/ns/web/sa/frontend";
  private static final String BATCH = "spiffe://corp.example/ns/batch/sa/report";
  private static final Metadata.Key<String> XFCC =
      Metadata.Key.of("x-forwarded-client-cert", Metadata.ASCII_STRING_MARSHALLER);

  @TempDir Path dir;
  private TestCa serverCa;
  private TestCa clientCa;
  private TestCa.Issued serverCert;
  private Server backend;
  private TestGateway gateway;
  private final List<ManagedChannel> channels = new ArrayList<>();
  private final List<String> xfcc = new CopyOnWriteArrayList<>();
  private final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();

  @BeforeEach
  void start() throws Exception {
    serverCa = TestCa.create("server-ca", dir);
    clientCa = TestCa.create("client-ca", dir);
    serverCert = serverCa.issue("meshgate", "127.0.0.1", "spiffe://corp.example/ns/edge/sa/gw");
    ServerInterceptor record = new ServerInterceptor() {
      @Override
      public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
          ServerCallHandler<Q, R> next) {
        Iterable<String> values = headers.getAll(XFCC);
        xfcc.add(values == null ? "none" : String.join(",", values));
        return next.startCall(call, headers);
      }
    };
    backend = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(ServerInterceptors.intercept(new EchoServiceImpl("b", scheduler), record))
        .build().start();
  }

  @AfterEach
  void stop() throws Exception {
    for (ManagedChannel channel : channels) {
      channel.shutdownNow();
    }
    if (gateway != null) {
      gateway.close();
    }
    backend.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    scheduler.shutdownNow();
  }

  private void gateway(String clientAuth, String forward) throws Exception {
    gateway(clientAuth, forward, "jdk");
  }

  private void gateway(String clientAuth, String forward, String provider) throws Exception {
    gateway = TestGateway.start("""
        listener:
          host: 127.0.0.1
          port: 0
          tls: {certFile: "%s", keyFile: "%s", clientAuth: %s, clientCaFile: "%s",
                forwardClientCert: %s, provider: %s}
        admin: {host: 127.0.0.1, port: 0}
        transcoding: {descriptors: ["%s"]}
        accessLog: {path: "%s"}
        clusters: [{name: echo, endpoints: ["127.0.0.1:%d"]}]
        routes:
          - name: web-only
            match: {service: meshgate.samples.echo.v1.EchoService, method: Echo}
            cluster: echo
            auth: {principals: ["spiffe://corp.example/ns/web/*"]}
          - name: per-workload
            match: {service: meshgate.samples.echo.v1.EchoService, method: Collect}
            cluster: echo
            rateLimits: [{key: clientCert, rate: 1/h, burst: 1}]
          - {name: public, match: {servicePrefix: ""}, cluster: echo}
        """.formatted(serverCert.certFile(), serverCert.keyFile(), clientAuth,
        clientCa.caFile(), forward, provider,
        io.meshgate.gateway.testing.SampleFleet.descriptorSet(dir), dir.resolve("access.log"),
        backend.getPort()));
  }

  /** A grpc-java TLS client with {@code cert} (or none). */
  private EchoServiceGrpc.EchoServiceBlockingStub client(TestCa.Issued cert) throws Exception {
    SslContextBuilder ssl = GrpcSslContexts.forClient().trustManager(serverCa.caFile().toFile());
    if (cert != null) {
      ssl.keyManager(cert.certFile().toFile(), cert.keyFile().toFile());
    }
    ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", gateway.port())
        .sslContext(ssl.build()).build();
    channels.add(channel);
    return EchoServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
  }

  private static EchoRequest request(String message) {
    return EchoRequest.newBuilder().setMessage(message).build();
  }

  private static Status.Code code(Runnable call) {
    return assertThrows(StatusRuntimeException.class, call::run).getStatus().getCode();
  }

  @org.junit.jupiter.params.ParameterizedTest(name = "provider {0}")
  @org.junit.jupiter.params.provider.ValueSource(strings = {"jdk", "openssl"})
  void routesAdmitTheWorkloadsTheyNameAndTheBackendLearnsWhoCalled(String provider)
      throws Exception {
    gateway("optional", "sanitize_set", provider);
    TestCa.Issued web = clientCa.issue("frontend", WEB);
    var fromWeb = client(web);
    assertEquals("hi", fromWeb.echo(request("hi")).getMessage());
    String element = xfcc.get(xfcc.size() - 1);
    io.meshgate.testing.Await.until("the call is in the access log with its principal",
        java.time.Duration.ofSeconds(10), () -> accessLogLines().stream()
            .anyMatch(l -> l.contains("\"principal\":\"" + WEB + "\"")));
    assertTrue(element.startsWith("By=spiffe://corp.example/ns/edge/sa/gw;Hash=")
        && element.contains(";Subject=\"CN=frontend\"") && element.endsWith(";URI=" + WEB),
        element);

    StatusRuntimeException batch = assertThrows(StatusRuntimeException.class,
        () -> client(clientCa.issue("report", BATCH)).echo(request("no")));
    assertEquals(Status.Code.PERMISSION_DENIED, batch.getStatus().getCode());
    assertTrue(batch.getStatus().getDescription().contains("route 'web-only' admits the"
        + " principals [spiffe://corp.example/ns/web/*]; the client's certificate names ["
        + BATCH + "]"), batch.getStatus().getDescription());

    var anonymous = client(null);
    StatusRuntimeException none = assertThrows(StatusRuntimeException.class,
        () -> anonymous.echo(request("no")));
    assertEquals(Status.Code.PERMISSION_DENIED, none.getStatus().getCode());
    assertTrue(none.getStatus().getDescription().contains("the client presented none"));
    // optional: a client without a certificate still reaches the routes that do not ask.
    assertEquals(1, countExpanded(anonymous));
    assertEquals("none", xfcc.get(xfcc.size() - 1), "no certificate, no header");
  }

  @Test
  void restCallsOverHttp1AndHttp2CarryTheIdentityToo() throws Exception {
    gateway("optional", "sanitize_set");
    TestCa.Issued web = clientCa.issue("frontend", WEB);
    for (java.net.http.HttpClient.Version version : List.of(
        java.net.http.HttpClient.Version.HTTP_2, java.net.http.HttpClient.Version.HTTP_1_1)) {
      java.net.http.HttpResponse<String> ok = rest(web, version);
      assertEquals(200, ok.statusCode(), version + ": " + ok.body());
      assertTrue(xfcc.get(xfcc.size() - 1).endsWith(";URI=" + WEB), version + ": "
          + xfcc.get(xfcc.size() - 1));
      java.net.http.HttpResponse<String> denied = rest(null, version);
      assertEquals(403, denied.statusCode(), version + ": " + denied.body());
      assertTrue(denied.body().contains("the client presented none"), denied.body());
    }
  }

  private java.net.http.HttpResponse<String> rest(TestCa.Issued cert,
      java.net.http.HttpClient.Version version) throws Exception {
    javax.net.ssl.SSLContext ssl = javax.net.ssl.SSLContext.getInstance("TLS");
    ssl.init(cert == null ? null : new javax.net.ssl.KeyManager[] {
        io.meshgate.resolver.tls.RotatingKeyManager.load(cert.certFile(), cert.keyFile())},
        new javax.net.ssl.TrustManager[] {
            io.meshgate.resolver.tls.RotatingTrustManager.load(serverCa.caFile())}, null);
    java.net.http.HttpClient client = java.net.http.HttpClient.newBuilder().sslContext(ssl)
        .version(version).build();
    return client.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(
            "https://127.0.0.1:" + gateway.port() + "/v1/echo"))
        .timeout(java.time.Duration.ofSeconds(10))
        .header("content-type", "application/json")
        .POST(java.net.http.HttpRequest.BodyPublishers.ofString("{\"message\":\"rest\"}"))
        .build(), java.net.http.HttpResponse.BodyHandlers.ofString());
  }

  private List<String> accessLogLines() {
    try {
      java.nio.file.Path log = dir.resolve("access.log");
      return java.nio.file.Files.exists(log) ? java.nio.file.Files.readAllLines(log) : List.of();
    } catch (java.io.IOException e) {
      return List.of();
    }
  }

  private static int countExpanded(EchoServiceGrpc.EchoServiceBlockingStub stub) {
    int[] count = {0};
    stub.expand(EchoRequest.newBuilder().setMessage("p").setResponseCount(1).build())
        .forEachRemaining(r -> count[0]++);
    return count[0];
  }

  @org.junit.jupiter.params.ParameterizedTest(name = "provider {0}")
  @org.junit.jupiter.params.provider.ValueSource(strings = {"jdk", "openssl"})
  void certificatesTheGatewayDoesNotTrustGetNoConnection(String provider) throws Exception {
    gateway("optional", "sanitize", provider);
    TestCa stranger = TestCa.create("stranger-ca", dir);
    // A TLS client offers only a certificate of the CAs the gateway names: one of another CA
    // is not sent, and the client counts as one without a certificate.
    var untrusted = client(stranger.issue("x", WEB));
    StatusRuntimeException denied = assertThrows(StatusRuntimeException.class,
        () -> untrusted.echo(request("no")));
    assertEquals(Status.Code.PERMISSION_DENIED, denied.getStatus().getCode());
    assertTrue(denied.getStatus().getDescription().contains("presented none"));
    // One of the right CA that does not verify (expired) ends the connection.
    var expired = client(clientCa.issueExpired("old", WEB));
    assertEquals(Status.Code.UNAVAILABLE, code(() -> expired.echo(request("no"))));
    assertEquals("ok", client(clientCa.issue("frontend", WEB)).echo(request("ok")).getMessage());
  }

  @org.junit.jupiter.params.ParameterizedTest(name = "provider {0}")
  @org.junit.jupiter.params.provider.ValueSource(strings = {"jdk", "openssl"})
  void requireTurnsAwayClientsWithoutACertificate(String provider) throws Exception {
    gateway("require", "sanitize", provider);
    var anonymous = client(null);
    assertEquals(Status.Code.UNAVAILABLE, code(() -> anonymous.echo(request("no"))));
    TestCa stranger = TestCa.create("stranger-ca", dir);
    var untrusted = client(stranger.issue("x", WEB));
    assertEquals(Status.Code.UNAVAILABLE, code(() -> untrusted.echo(request("no"))));
    assertEquals("ok", client(clientCa.issue("frontend", WEB)).echo(request("ok")).getMessage());
  }

  @Test
  void rateLimitsCountEachWorkloadByItsCertificate() throws Exception {
    gateway("optional", "sanitize");
    var web = client(clientCa.issue("frontend", WEB));
    var batch = client(clientCa.issue("report", BATCH));
    assertEquals("a", collect(web, "a"));
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, code(() -> collect(web, "again")));
    assertEquals("b", collect(batch, "b"), "another workload has a bucket of its own");
  }

  private String collect(EchoServiceGrpc.EchoServiceBlockingStub stub, String message) {
    // Collect is a client stream; a blocking stub cannot send one, so use the async stub.
    var done = new java.util.concurrent.CompletableFuture<String>();
    var requests = EchoServiceGrpc.newStub(stub.getChannel())
        .withDeadlineAfter(10, TimeUnit.SECONDS)
        .collect(new io.grpc.stub.StreamObserver<>() {
          @Override
          public void onNext(io.meshgate.samples.echo.v1.EchoResponse value) {
            done.complete(value.getMessage());
          }

          @Override
          public void onError(Throwable t) {
            done.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {
            done.complete(null);
          }
        });
    requests.onNext(request(message));
    requests.onCompleted();
    try {
      return done.get(10, TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException e) {
      throw (RuntimeException) e.getCause();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  @Test
  void aForgedHeaderIsHandledAsEachModeSays() throws Exception {
    String forged = "By=spiffe://evil;Hash=00;URI=spiffe://corp.example/ns/admin/sa/root";
    Metadata headers = new Metadata();
    headers.put(XFCC, forged);
    for (String mode : List.of("sanitize", "forward", "append_forward", "sanitize_set",
        "always_forward")) {
      gateway("optional", mode);
      TestCa.Issued web = clientCa.issue("frontend", WEB);
      client(web).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
          .expand(EchoRequest.newBuilder().setMessage("x").setResponseCount(1).build())
          .forEachRemaining(r -> { });
      String seen = xfcc.get(xfcc.size() - 1);
      switch (mode) {
        case "sanitize" -> assertEquals("none", seen, mode);
        case "forward", "always_forward" -> assertEquals(forged, seen, mode);
        case "append_forward" -> assertTrue(seen.startsWith(forged + ",By=")
            && seen.endsWith("URI=" + WEB), mode + ": " + seen);
        default -> assertTrue(seen.startsWith("By=spiffe://corp.example/ns/edge/sa/gw;")
            && !seen.contains("evil"), mode + ": " + seen);
      }
      // Without a client certificate only always_forward passes a forged header on.
      client(null).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
          .expand(EchoRequest.newBuilder().setMessage("x").setResponseCount(1).build())
          .forEachRemaining(r -> { });
      assertEquals(mode.equals("always_forward") ? forged : "none", xfcc.get(xfcc.size() - 1),
          mode + " without a client certificate");
      for (ManagedChannel channel : channels) {
        channel.shutdownNow();
      }
      channels.clear();
      gateway.close();
      gateway = null;
    }
  }
}
