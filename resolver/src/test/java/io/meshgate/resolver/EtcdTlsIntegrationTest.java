package io.meshgate.resolver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.meshgate.testing.Await;
import io.meshgate.testing.EtcdCluster;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Discovery through an etcd that speaks only TLS and requires client certificates
 * ({@code --client-cert-auth}): the registrar and the resolver reach it with an
 * {@link EtcdTls}; a resolver without a client certificate is refused and says it cannot reach
 * etcd.
 */
class EtcdTlsIntegrationTest {
  private static EtcdCluster etcd;

  @BeforeAll
  static void start() {
    etcd = EtcdCluster.startTls(1);
  }

  @AfterAll
  static void stop() {
    etcd.close();
  }

  @Test
  void theRegistrarAndTheResolverSpeakTlsWithClientCertificates() throws Exception {
    assertTrue(etcd.endpoints().get(0).startsWith("https://"));
    try (EtcdRegistrar registrar = EtcdRegistrar.builder()
        .etcdEndpoints(etcd.endpoints()).tls(etcd.tls())
        .service("payments").address("127.0.0.1:7301").ttl(Duration.ofSeconds(5)).build()) {
      registrar.start();
      assertTrue(registrar.awaitRegistered(Duration.ofSeconds(20)), "registered over TLS");
      EtcdNameResolverProvider provider =
          new EtcdNameResolverProvider(etcd.endpoints(), etcd.tls());
      try (RecordingResolver resolver = new RecordingResolver(provider, "etcd:///payments")) {
        resolver.awaitPorts(7301);
      }
    }
  }

  @Test
  void withoutAClientCertificateTheResolverCannotReachEtcd() {
    EtcdTls trustOnly = EtcdTls.of(etcd.ca().caFile(), null, null);
    EtcdNameResolverProvider provider = new EtcdNameResolverProvider(etcd.endpoints(), trustOnly);
    try (RecordingResolver resolver = new RecordingResolver(provider, "etcd:///payments")) {
      Await.until("the resolver reports an error", Duration.ofSeconds(30),
          () -> resolver.latest() != null && !resolver.latest().hasValue());
      Status status = resolver.latest().getStatus();
      assertEquals(Status.Code.UNAVAILABLE, status.getCode(), status.toString());
      assertTrue(status.getDescription().contains("etcd"), status.toString());
    }
  }

  @Test
  void tlsFilesAreCheckedAsTheyAreGiven() {
    IllegalArgumentException half = org.junit.jupiter.api.Assertions.assertThrows(
        IllegalArgumentException.class, () -> EtcdTls.of(null, etcd.ca().caFile(), null));
    assertTrue(half.getMessage().contains("together"));
    IllegalArgumentException missing = org.junit.jupiter.api.Assertions.assertThrows(
        IllegalArgumentException.class, () -> EtcdTls.of(Path.of("/no/such/ca.pem"), null,
            null));
    assertTrue(missing.getMessage().contains("/no/such/ca.pem"));
    assertFalse(EtcdTls.of(null, null, null).equals(etcd.tls()));
    assertEquals(etcd.tls(), etcd.tls());
  }
}
