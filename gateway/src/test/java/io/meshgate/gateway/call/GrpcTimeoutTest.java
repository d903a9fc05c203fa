package io.meshgate.gateway.call;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class GrpcTimeoutTest {
  @Test
  void parsesEveryTimeoutUnit() {
    assertEquals(5L, GrpcTimeout.parseNanos("5n"));
    assertEquals(5_000L, GrpcTimeout.parseNanos("5u"));
    assertEquals(250_000_000L, GrpcTimeout.parseNanos("250m"));
    assertEquals(3_000_000_000L, GrpcTimeout.parseNanos("3S"));
    assertEquals(120_000_000_000L, GrpcTimeout.parseNanos("2M"));
    assertEquals(3_600_000_000_000L, GrpcTimeout.parseNanos("1H"));
    assertEquals(99_999_999L * 3_600_000_000_000L, GrpcTimeout.parseNanos("99999999H"));
  }

  @Test
  void rejectsMalformedTimeouts() {
    assertEquals(-1, GrpcTimeout.parseNanos(null));
    for (String bad : new String[] {"", "S", "10", "10s", "-1S", "123456789S", "1.5S", "1 S"}) {
      assertEquals(-2, GrpcTimeout.parseNanos(bad), bad);
    }
  }
}
