package io.meshgate.resolver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.grpc.EquivalentAddressGroup;
import io.grpc.Status;
import io.grpc.StatusOr;
import io.meshgate.resolver.internal.DiscoveryMetrics;
import io.meshgate.testing.Await;
import io.meshgate.testing.EtcdCluster;
import io.meshgate.testing.FreePorts;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/** The etcd resolver against a real etcd: what it publishes as the registry changes. */
class EtcdNameResolverIntegrationTest {
  private static EtcdCluster etcd;
  private static Client client;
  private final EtcdNameResolverProvider provider = new EtcdNameResolverProvider();

  @BeforeAll
  static void startEtcd() {
    etcd = EtcdCluster.start(1);
    client = etcd.client();
  }

  @AfterAll
  static void stopEtcd() {
    etcd.close();
  }

  private static String service(TestInfo info) {
    return info.getTestMethod().orElseThrow().getName();
  }

  private static void put(String key, String value) throws Exception {
    client.getKVClient().put(bytes(key), bytes(value)).get(10, TimeUnit.SECONDS);
  }

  private static void delete(String key) throws Exception {
    client.getKVClient().delete(bytes(key)).get(10, TimeUnit.SECONDS);
  }

  private static ByteSequence bytes(String text) {
    return ByteSequence.from(text, StandardCharsets.UTF_8);
  }

  private RecordingResolver resolve(String service) {
    return new RecordingResolver(provider, "etcd://" + etcd.authority() + "/" + service);
  }

  @Test
  void discoversInstancesWrittenByEtcdsGoManager(TestInfo info) throws Exception {
    String service = service(info);
    // Exactly what go.etcd.io/etcd/client/v3/naming/endpoints writes.
    put(service + "/127.0.0.1:7001", "{\"Op\":0,\"Addr\":\"127.0.0.1:7001\",\"Metadata\":null}");
    put(service + "/anything", "{\"Op\":0,\"Addr\":\"127.0.0.1:7002\",\"Metadata\":\"blue\"}");
    try (RecordingResolver resolver = resolve(service)) {
      List<EquivalentAddressGroup> groups = resolver.await("two instances", g -> g.size() == 2);
      assertEquals(List.of(7001, 7002), resolver.latestPorts());
      for (EquivalentAddressGroup group : groups) {
        assertEquals(InstanceMetadata.DEFAULT, InstanceMetadata.of(group));
      }
    }
  }

  @Test
  void metadataTravelsOnTheAddressAndNamesMatchCaseInsensitively(TestInfo info)
      throws Exception {
    String service = service(info);
    put(service + "/a", "{\"op\":0,\"ADDR\":\"127.0.0.1:7101\",\"metadata\":{\"Weight\":7,"
        + "\"zone\":\"eu-1\",\"version\":\"1.4.2\",\"tags\":[\"canary\",\"blue\"]}}");
    try (RecordingResolver resolver = resolve(service)) {
      EquivalentAddressGroup group = resolver.await("one instance", g -> g.size() == 1).get(0);
      assertEquals(InstanceMetadata.of(7, "eu-1", "1.4.2", Set.of("canary", "blue")),
          InstanceMetadata.of(group));
      assertEquals(service + "/a", group.getAttributes().get(EtcdNameResolver.ATTR_KEY));
    }
  }

  @Test
  void serviceNeverSeesAnotherServiceWithALongerName(TestInfo info) throws Exception {
    String a = service(info);
    put(a + "/1", value(7201));
    put(a + "_other/1", value(7202));
    put(a + "x", value(7203));
    try (RecordingResolver resolver = resolve(a)) {
      resolver.awaitPorts(7201);
      put(a + "_other/2", value(7204));
      put(a + "/2", value(7205));
      resolver.awaitPorts(7201, 7205);
    }
  }

  @Test
  void followsAdditionsChangesAndRemovals(TestInfo info) throws Exception {
    String service = service(info);
    try (RecordingResolver resolver = resolve(service)) {
      resolver.await("an empty list", List::isEmpty);
      put(service + "/1", value(7301));
      resolver.awaitPorts(7301);
      put(service + "/2", value(7302));
      resolver.awaitPorts(7301, 7302);
      put(service + "/2", "{\"Op\":0,\"Addr\":\"127.0.0.1:7302\",\"Metadata\":{\"weight\":5}}");
      resolver.await("weight 5", g -> g.size() == 2
          && InstanceMetadata.of(g.get(1)).weight() == 5);
      delete(service + "/1");
      resolver.awaitPorts(7302);
      put(service + "/2", "{\"Op\":1,\"Addr\":\"127.0.0.1:7302\"}");
      resolver.awaitPorts();
    }
  }

  @Test
  void valuesThatAreNotEndpointsAreSkipped(TestInfo info) throws Exception {
    String service = service(info);
    long skipped = DiscoveryMetrics.skippedValues();
    put(service + "/bad-json", "{not json");
    put(service + "/no-addr", "{\"Op\":0}");
    put(service + "/bad-port", "{\"Addr\":\"127.0.0.1:99999\"}");
    put(service + "/good", value(7401));
    try (RecordingResolver resolver = resolve(service)) {
      resolver.awaitPorts(7401);
      assertTrue(DiscoveryMetrics.skippedValues() >= skipped + 3);
    }
  }

  @Test
  void targetParametersFilterInstances(TestInfo info) throws Exception {
    String service = service(info);
    put(service + "/1", "{\"Addr\":\"127.0.0.1:7501\",\"Metadata\":{\"tags\":[\"canary\"],"
        + "\"version\":\"2\"}}");
    put(service + "/2", "{\"Addr\":\"127.0.0.1:7502\",\"Metadata\":{\"tags\":[\"canary\"],"
        + "\"version\":\"1\"}}");
    put(service + "/3", "{\"Addr\":\"127.0.0.1:7503\",\"Metadata\":{\"zone\":\"eu-1\"}}");
    try (RecordingResolver canary = new RecordingResolver(provider,
            "etcd://" + etcd.authority() + "/" + service + "?tag=canary&version=2");
        RecordingResolver zoned = new RecordingResolver(provider,
            "etcd://" + etcd.authority() + "/" + service + "?zone=eu-1")) {
      canary.awaitPorts(7501);
      zoned.awaitPorts(7503);
    }
  }

  @Test
  void badTargetsAreRejectedWithTheReason() {
    IllegalArgumentException noService = assertThrows(IllegalArgumentException.class,
        () -> provider.newNameResolver(URI.create("etcd:///"), null));
    assertTrue(noService.getMessage().contains("names no service"), noService.getMessage());
    IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class,
        () -> provider.newNameResolver(URI.create("etcd:///orders?color=red"), null));
    assertTrue(unknown.getMessage().contains("unknown etcd target parameter 'color'"),
        unknown.getMessage());
  }

  @Test
  void compactionBetweenListingAndWatchLeadsToAFreshListing(TestInfo info) throws Exception {
    String service = service(info);
    put(service + "/1", value(7601));
    AtomicBoolean compacted = new AtomicBoolean();
    // After the first listing, before its watch starts: change the service and compact the
    // history, so that the watch's start revision is gone.
    provider.beforeWatch(revision -> {
      if (compacted.compareAndSet(false, true)) {
        try {
          put(service + "/2", value(7602));
          delete(service + "/1");
          long latest = client.getKVClient().put(bytes("compaction-marker"), bytes("x"))
              .get(10, TimeUnit.SECONDS).getHeader().getRevision();
          client.getKVClient().compact(latest).get(10, TimeUnit.SECONDS);
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      }
    });
    long relists = DiscoveryMetrics.relists();
    try (RecordingResolver resolver = resolve(service)) {
      resolver.awaitPorts(7602);
      assertTrue(DiscoveryMetrics.relists() > relists);
      // ...and the new watch works.
      put(service + "/3", value(7603));
      resolver.awaitPorts(7602, 7603);
    }
  }

  @Test
  void refreshListsAgainWithoutChangingAnything(TestInfo info) throws Exception {
    String service = service(info);
    put(service + "/1", value(7701));
    try (RecordingResolver resolver = resolve(service)) {
      resolver.awaitPorts(7701);
      long relists = DiscoveryMetrics.relists();
      int results = resolver.results().size();
      resolver.refresh();
      resolver.refresh();
      Await.until("a relist", Duration.ofSeconds(10), () -> DiscoveryMetrics.relists() > relists);
      put(service + "/2", value(7702));
      resolver.awaitPorts(7701, 7702);
      // The refreshes published nothing new: only the real change did.
      assertEquals(results + 1, resolver.results().size());
    }
  }

  @Test
  void unreachableEtcdAtStartFailsWithTheReason() {
    try (RecordingResolver resolver = new RecordingResolver(provider,
        "etcd://127.0.0.1:" + FreePorts.next() + "/nowhere")) {
      StatusOr<List<EquivalentAddressGroup>> result = Await.until("an error result",
          Duration.ofSeconds(20), resolver::latest, r -> r != null);
      assertFalse(result.hasValue());
      assertEquals(Status.Code.UNAVAILABLE, result.getStatus().getCode());
      assertTrue(result.getStatus().getDescription().contains("cannot list service 'nowhere'"),
          result.getStatus().toString());
    }
  }

  static String value(int port) {
    return "{\"Op\":0,\"Addr\":\"127.0.0.1:" + port + "\",\"Metadata\":{\"weight\":1}}";
  }
}
