package io.meshgate.resolver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class HostAndPortTest {
  @Test
  void parsesHostsAndIpv6Literals() {
    HostAndPort v4 = HostAndPort.parse("10.0.0.1:50051");
    assertEquals("10.0.0.1", v4.host());
    assertEquals(50051, v4.port());
    HostAndPort v6 = HostAndPort.parse("[::1]:8080");
    assertEquals("::1", v6.host());
    assertEquals("[::1]:8080", v6.toString());
    assertEquals("orders.internal:443", HostAndPort.parse(" orders.internal:443 ").toString());
  }

  @Test
  void parsesLists() {
    assertEquals(List.of(HostAndPort.parse("a:1"), HostAndPort.parse("[::1]:2")),
        HostAndPort.parseList("a:1,[::1]:2,"));
  }

  @Test
  void rejectsWhatIsNotAnEndpointSayingWhatWasExpected() {
    for (String bad : new String[] {"host", "host:", ":80", "host:0", "host:65536", "::1:80",
        "[::1]80", "host:http"}) {
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> HostAndPort.parse(bad), bad);
      assertTrue(e.getMessage().contains("expected: host:port"), e.getMessage());
    }
    assertThrows(IllegalArgumentException.class, () -> HostAndPort.parseList(" , "));
  }
}
