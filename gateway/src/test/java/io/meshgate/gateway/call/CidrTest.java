package io.meshgate.gateway.call;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class CidrTest {
  @Test
  void networksHoldTheirAddressesAndNoOthers() {
    Cidr ten = Cidr.parse("10.0.0.0/8");
    assertTrue(ten.contains("10.255.1.2"));
    assertFalse(ten.contains("11.0.0.1"));
    assertTrue(ten.contains("::ffff:10.1.2.3"), "IPv4-mapped IPv6 is its IPv4 address");
    Cidr odd = Cidr.parse("192.168.4.0/22");
    assertTrue(odd.contains("192.168.7.255"));
    assertFalse(odd.contains("192.168.8.0"));
    Cidr v6 = Cidr.parse("2001:db8::/32");
    assertTrue(v6.contains("2001:db8:ffff::1"));
    assertTrue(v6.contains("[2001:db8::1]"));
    assertFalse(v6.contains("2001:db9::1"));
    assertFalse(v6.contains("10.0.0.1"), "families do not mix");
    assertTrue(Cidr.parse("0.0.0.0/0").contains("203.0.113.9"));
    assertTrue(Cidr.parse("127.0.0.1").contains("127.0.0.1"));
    assertFalse(Cidr.parse("127.0.0.1").contains("127.0.0.2"));
    assertFalse(ten.contains("not an address"));
    assertFalse(ten.contains((String) null));
  }

  @Test
  void badNetworksSayWhatIsWrongAndNeverLookNamesUp() {
    assertEquals("'10.0.0.0/33': the prefix length must be 0 to 32", Cidr.problem("10.0.0.0/33"));
    assertTrue(Cidr.problem("localhost").contains("is not an IP address or CIDR"));
    assertTrue(Cidr.problem("::/129").contains("0 to 128"));
    assertNull(Cidr.problem("::/0"));
    assertNull(Cidr.address("example.com"), "no DNS lookups");
    assertEquals(4, Cidr.address("1.2.3.4").length);
    assertNull(Cidr.address("1.2.3.256"));
  }
}
