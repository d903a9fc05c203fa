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
  void changedTlsFilesAreUsedForTheNextConnectionWithoutARestart(
      @org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
    // The resolver starts with a CA and a client certificate etcd has nothing to do with.
    io.meshgate.testing.TestCa stranger = io.meshgate.testing.TestCa.create("stranger", dir);
    io.meshgate.testing.TestCa.Issued strangerCert = stranger.issue("meshgate-client");
    Path ca = dir.resolve("etcd-ca.pem");
    Path cert = dir.resolve("client.pem");
    Path key = dir.resolve("client.key");
    replace(stranger.caFile(), ca);
    replace(strangerCert.certFile(), cert);
    replace(strangerCert.keyFile(), key);
    try (EtcdRegistrar registrar = EtcdRegistrar.builder()
        .etcdEndpoints(etcd.endpoints()).tls(etcd.tls())
        .service("rotated").address("127.0.0.1:7302").ttl(Duration.ofSeconds(5)).build()) {
      registrar.start();
      EtcdNameResolverProvider provider =
          new EtcdNameResolverProvider(etcd.endpoints(), EtcdTls.of(ca, cert, key));
      try (RecordingResolver resolver = new RecordingResolver(provider, "etcd:///rotated")) {
        Await.until("the resolver reports that it cannot reach etcd", Duration.ofSeconds(30),
            () -> resolver.latest() != null && !resolver.latest().hasValue());
        // The files are put right, the key first (a half-done pair is refused until both are).
        replace(etcd.ca().caFile(), ca);
        Path goodCert = etcd.tls().certFile();
        Path goodKey = etcd.tls().keyFile();
        replace(goodKey, key);
        replace(goodCert, cert);
        // Within the file check (2 s) and grpc's reconnect backoff after the failed handshakes.
        Await.until("the resolver reaches etcd with the new files", Duration.ofSeconds(60),
            resolver::latestPorts, p -> p.equals(java.util.List.of(7302)));
      }
    }
  }

  /** Replaces {@code target} with {@code source}'s content in one step, as a deploy would. */
  private static void replace(Path source, Path target) throws java.io.IOException {
    Path staged = target.resolveSibling(target.getFileName() + ".new");
    java.nio.file.Files.copy(source, staged, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    java.nio.file.Files.move(staged, target, java.nio.file.StandardCopyOption.ATOMIC_MOVE,
        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
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
