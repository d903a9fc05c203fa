package io.meshgate.gateway.front;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import io.meshgate.gateway.testing.CallLoad;
import io.meshgate.gateway.testing.Metrics;
import io.meshgate.testing.TestCa;
import io.meshgate.gateway.testing.TestGateway;
import io.meshgate.samples.EchoServiceImpl;
import io.meshgate.samples.echo.v1.EchoRequest;
import io.meshgate.samples.echo.v1.EchoServiceGrpc;
import io.meshgate.testing.Await;
import io.netty.handler.ssl.ClientAuth;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Certificates rotate while the gateway serves: the front's certificate and the gateway's
 * client certificate towards a backend are replaced under load without a failed call, and a
 * broken CA bundle is refused while the one before keeps serving.
 */
class CertificateRotationIntegrationTest {
  @TempDir Path dir;

  /** Copies {@code from} over {@code to} atomically, as a deployment would. */
  private static void replace(Path from, Path to) throws Exception {
    Path next = to.resolveSibling(to.getFileName() + ".next");
    Files.copy(from, next, StandardCopyOption.REPLACE_EXISTING);
    Files.move(next, to, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  @Test
  void certificatesAreReplacedUnderLoadWithoutAFailedCall() throws Exception {
    TestCa ca = TestCa.create("corp-ca", dir);
    Path frontCert = dir.resolve("front.pem");
    Path frontKey = dir.resolve("front.key");
    Path clientCert = dir.resolve("gateway-client.pem");
    Path clientKey = dir.resolve("gateway-client.key");
    Path backendCas = dir.resolve("backend-cas.pem");
    TestCa.Issued front1 = ca.issue("front-1", "127.0.0.1");
    TestCa.Issued client1 = ca.issue("gateway-1", "spiffe://corp.example/ns/edge/sa/gw");
    replace(front1.certFile(), frontCert);
    replace(front1.keyFile(), frontKey);
    replace(client1.certFile(), clientCert);
    replace(client1.keyFile(), clientKey);
    replace(ca.caFile(), backendCas);

    // The backend requires the gateway's certificate and drops connections after a second, so
    // that the gateway's new client certificate is used soon after it changes.
    List<String> seenByBackend = new CopyOnWriteArrayList<>();
    ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
    TestCa.Issued backendCert = ca.issue("payments", "127.0.0.1");
    Server backend = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .sslContext(GrpcSslContexts.forServer(backendCert.certFile().toFile(),
            backendCert.keyFile().toFile()).trustManager(ca.caFile().toFile())
            .clientAuth(ClientAuth.REQUIRE).build())
        .maxConnectionAge(1, TimeUnit.SECONDS)
        .maxConnectionAgeGrace(5, TimeUnit.SECONDS)
        .addService(ServerInterceptors.intercept(new EchoServiceImpl("b", scheduler),
            new ServerInterceptor() {
              @Override
              public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call,
                  Metadata headers, ServerCallHandler<Q, R> next) {
                try {
                  seenByBackend.add(((X509Certificate) call.getAttributes()
                      .get(Grpc.TRANSPORT_ATTR_SSL_SESSION).getPeerCertificates()[0])
                      .getSubjectX500Principal().getName());
                } catch (javax.net.ssl.SSLPeerUnverifiedException e) {
                  seenByBackend.add("none");
                }
                return next.startCall(call, headers);
              }
            }))
        .build().start();
    try (TestGateway gateway = TestGateway.start("""
        listener: {host: 127.0.0.1, port: 0, tls: {certFile: "%s", keyFile: "%s"}}
        admin: {host: 127.0.0.1, port: 0}
        clusters:
          - name: payments
            endpoints: ["127.0.0.1:%d"]
            tls: {caFile: "%s", certFile: "%s", keyFile: "%s"}
        routes: [{match: {servicePrefix: ""}, cluster: payments}]
        """.formatted(frontCert, frontKey, backend.getPort(), backendCas, clientCert,
        clientKey))) {
      AtomicReference<String> frontSeen = new AtomicReference<>();
      ManagedChannel client = tlsClient(gateway, ca, frontSeen);
      CallLoad load = CallLoad.start(2, 50_000, () -> EchoServiceGrpc.newBlockingStub(client)
          .withDeadlineAfter(10, TimeUnit.SECONDS)
          .echo(EchoRequest.newBuilder().setMessage("r").build()));
      try {
        load.awaitSucceeded(100, Duration.ofSeconds(30));
        assertEquals("CN=gateway-1", seenByBackend.get(seenByBackend.size() - 1));

        // The gateway's client certificate towards the backend.
        TestCa.Issued client2 = ca.issue("gateway-2", "spiffe://corp.example/ns/edge/sa/gw");
        replace(client2.keyFile(), clientKey);
        replace(client2.certFile(), clientCert);
        Await.until("the backend sees the gateway's new certificate", Duration.ofSeconds(30),
            () -> seenByBackend.get(seenByBackend.size() - 1).equals("CN=gateway-2"));

        // The front's certificate: new connections get it, the one open keeps working.
        TestCa.Issued front2 = ca.issue("front-2", "127.0.0.1");
        replace(front2.keyFile(), frontKey);
        replace(front2.certFile(), frontCert);
        Await.until("the front serves its new certificate", Duration.ofSeconds(30), () -> {
          AtomicReference<String> seen = new AtomicReference<>();
          ManagedChannel fresh;
          try {
            fresh = tlsClient(gateway, ca, seen);
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
          try {
            EchoServiceGrpc.newBlockingStub(fresh).withDeadlineAfter(10, TimeUnit.SECONDS)
                .echo(EchoRequest.newBuilder().setMessage("new").build());
            return "CN=front-2".equals(seen.get());
          } finally {
            fresh.shutdownNow();
          }
        });
        long atRotation = load.succeeded();
        load.awaitSucceeded(atRotation + 100, Duration.ofSeconds(30));

        // A broken CA bundle is refused: the CAs before keep verifying the backend.
        Files.writeString(backendCas.resolveSibling("broken.pem"), "-----BEGIN CERTIFICATE-----\nnot base64\n");
        replace(backendCas.resolveSibling("broken.pem"), backendCas);
        Await.until("the broken bundle is refused", Duration.ofSeconds(30),
            () -> refused(gateway, "cluster payments CAs") >= 1);
        long atBreak = load.succeeded();
        load.awaitSucceeded(atBreak + 100, Duration.ofSeconds(30));
      } finally {
        load.close();
        client.shutdownNow();
      }
      assertEquals(List.of(), load.failures(), "no call failed while certificates rotated");
      Metrics metrics = Metrics.scrape(gateway.gateway().adminPort());
      assertTrue(metrics.sum("meshgate_tls_reloads_total", "role", "listener", "result",
          "loaded") >= 1);
      assertTrue(metrics.sum("meshgate_tls_reloads_total", "role", "cluster payments",
          "result", "loaded") >= 1);
      double expiry = metrics.sum("meshgate_tls_certificate_expiry_seconds", "role", "listener");
      assertTrue(expiry > 29 * 86_400 && expiry <= 30 * 86_400, "the listener's certificate"
          + " expires in " + expiry + " s");
    } finally {
      backend.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      scheduler.shutdownNow();
    }
  }

  private static double refused(TestGateway gateway, String role) {
    try {
      return Metrics.scrape(gateway.gateway().adminPort()).sum("meshgate_tls_reloads_total",
          "role", role, "result", "refused");
    } catch (Exception e) {
      return -1;
    }
  }

  /** A TLS client of the gateway that records the subject of the certificate it was shown. */
  private static ManagedChannel tlsClient(TestGateway gateway, TestCa ca,
      AtomicReference<String> serverSubject) throws Exception {
    ClientInterceptor record = new ClientInterceptor() {
      @Override
      public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method,
          CallOptions options, Channel next) {
        return new ForwardingClientCall.SimpleForwardingClientCall<>(
            next.newCall(method, options)) {
          @Override
          public void start(Listener<R> listener, Metadata headers) {
            ClientCall<Q, R> call = this;
            super.start(new ForwardingClientCallListener.SimpleForwardingClientCallListener<>(
                listener) {
              @Override
              public void onHeaders(Metadata metadata) {
                try {
                  serverSubject.set(((X509Certificate) call.getAttributes()
                      .get(Grpc.TRANSPORT_ATTR_SSL_SESSION).getPeerCertificates()[0])
                      .getSubjectX500Principal().getName());
                } catch (javax.net.ssl.SSLPeerUnverifiedException e) {
                  serverSubject.set("none");
                }
                super.onHeaders(metadata);
              }
            }, headers);
          }
        };
      }
    };
    return NettyChannelBuilder.forAddress("127.0.0.1", gateway.port())
        .sslContext(GrpcSslContexts.forClient().trustManager(ca.caFile().toFile()).build())
        .intercept(record)
        .build();
  }
}
