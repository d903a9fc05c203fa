package io.meshgate.gateway.netty;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.meshgate.gateway.config.GatewayConfig;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** Bans of abusive addresses, on a clock the test moves. */
class AbuseMemoryTest {
  private static final long SECOND = TimeUnit.SECONDS.toNanos(1);
  private final AtomicLong nanos = new AtomicLong(TimeUnit.HOURS.toNanos(5));
  private final AbuseMemory memory = new AbuseMemory(new GatewayConfig.AbuseBan(3,
      Duration.ofMinutes(1), Duration.ofSeconds(10), Duration.ofSeconds(80), 2), nanos::get);

  @Test
  void threeCutsWithinTheWindowBanForTheInitialTime() {
    memory.cut("192.0.2.1");
    memory.cut("192.0.2.1");
    assertEquals(0, memory.bannedNanos("192.0.2.1"), "two cuts are not enough");
    memory.cut("192.0.2.1");
    assertEquals(10 * SECOND, memory.bannedNanos("192.0.2.1"));
    nanos.addAndGet(4 * SECOND);
    assertEquals(6 * SECOND, memory.bannedNanos("192.0.2.1"));
    nanos.addAndGet(6 * SECOND);
    assertEquals(0, memory.bannedNanos("192.0.2.1"), "the ban ends");
    assertEquals(0, memory.bannedNanos("192.0.2.2"), "other addresses are not banned");
  }

  @Test
  void cutsSpreadWiderThanTheWindowDoNotBan() {
    for (int i = 0; i < 10; i++) {
      memory.cut("192.0.2.1");
      memory.cut("192.0.2.1");
      nanos.addAndGet(61 * SECOND);
    }
    assertEquals(0, memory.bannedNanos("192.0.2.1"));
  }

  @Test
  void eachBanInARowDoublesUpToTheMaximumThenAQuietTimeForgives() {
    long[] expected = {10, 20, 40, 80, 80};
    for (long seconds : expected) {
      for (int i = 0; i < 3; i++) {
        memory.cut("192.0.2.1");
      }
      assertEquals(seconds * SECOND, memory.bannedNanos("192.0.2.1"));
      nanos.addAndGet(seconds * SECOND); // the ban ends; the client comes straight back
    }
    nanos.addAndGet(81 * SECOND); // quiet for longer than the longest ban
    for (int i = 0; i < 3; i++) {
      memory.cut("192.0.2.1");
    }
    assertEquals(10 * SECOND, memory.bannedNanos("192.0.2.1"), "forgiven: the first ban again");
  }

  @Test
  void rememberedAddressesAreBounded() {
    for (String address : new String[] {"192.0.2.1", "192.0.2.2", "192.0.2.3"}) {
      for (int i = 0; i < 3; i++) {
        memory.cut(address);
      }
    }
    assertEquals(0, memory.bannedNanos("192.0.2.1"), "the least recent of three was forgotten");
    assertEquals(10 * SECOND, memory.bannedNanos("192.0.2.3"));
  }
}
