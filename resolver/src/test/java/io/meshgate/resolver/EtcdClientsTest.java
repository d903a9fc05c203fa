package io.meshgate.resolver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class EtcdClientsTest {
  @Test
  void oneClientPerClusterClosedWithItsLastUser() {
    int before = EtcdClients.openClients();
    EtcdClients.Handle a = EtcdClients.acquire(List.of("http://127.0.0.1:1", "http://127.0.0.1:2"));
    EtcdClients.Handle b = EtcdClients.acquire(List.of("http://127.0.0.1:2", "http://127.0.0.1:1"));
    EtcdClients.Handle other = EtcdClients.acquire(List.of("http://127.0.0.1:3"));
    assertSame(a.client(), b.client(), "the same cluster got two clients");
    assertEquals(before + 2, EtcdClients.openClients());
    a.close();
    a.close(); // idempotent: must not release b's share
    assertEquals(before + 2, EtcdClients.openClients());
    b.close();
    assertEquals(before + 1, EtcdClients.openClients());
    other.close();
    assertEquals(before, EtcdClients.openClients());
  }

  @Test
  void endpointsParseWithOrWithoutScheme() {
    assertEquals(List.of("http://10.0.0.1:2379", "https://etcd.internal:2379"),
        EtcdClients.parseEndpoints("10.0.0.1:2379, https://etcd.internal:2379/"));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> EtcdClients.parseEndpoints("etcd"));
    assertTrue(e.getMessage().contains("expected: host:port"), e.getMessage());
  }
}
