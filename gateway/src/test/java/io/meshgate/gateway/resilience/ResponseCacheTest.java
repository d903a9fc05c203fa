package io.meshgate.gateway.resilience;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Metadata;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The cache's bound, its LRU order, freshness and the stale window, on a clock of its own. */
class ResponseCacheTest {
  private final AtomicLong now = new AtomicLong(1_000_000_000L);

  private static ResponseCache.Key key(String request) {
    return new ResponseCache.Key("pkg.S/M", request.getBytes(StandardCharsets.UTF_8));
  }

  private static byte[] answer(int size) {
    return new byte[size];
  }

  @Test
  void theLeastRecentlyUsedAnswerGoesFirstAndTheBoundHolds() {
    ResponseCache cache = new ResponseCache(4_000, 2_000, 0, now::get);
    for (int i = 0; i < 6; i++) {
      assertTrue(cache.put(key("r" + i), new Metadata(), answer(500), new Metadata(), 10_000));
      assertNotNull(cache.get(key("r0")), "r0 is used after every put: it stays");
    }
    assertTrue(cache.bytes() <= 4_000, cache.bytes() + " bytes held");
    assertNotNull(cache.get(key("r0")));
    assertNull(cache.get(key("r1")), "the least recently used went first");
    assertNotNull(cache.get(key("r5")));
    assertFalse(cache.put(key("big"), new Metadata(), answer(2_500), new Metadata(), 10_000),
        "larger than maxEntryBytes");
    assertNull(cache.get(key("big")));
  }

  @Test
  void anAnswerIsFreshForItsTtlAndKeptForTheStaleWindow() {
    ResponseCache cache = new ResponseCache(1 << 20, 1 << 16, 5_000, now::get);
    cache.put(key("a"), new Metadata(), answer(10), new Metadata(), 1_000);
    ResponseCache.Entry entry = cache.get(key("a"));
    assertTrue(entry.fresh(now.get(), -1));
    assertFalse(entry.fresh(now.get() + 1, 0), "older than the client's max-age=0");
    now.addAndGet(1_000);
    entry = cache.get(key("a"));
    assertNotNull(entry, "stale, but kept for staleIfError");
    assertFalse(entry.fresh(now.get(), -1));
    now.addAndGet(5_000);
    assertNull(cache.get(key("a")), "past its TTL and the stale window: gone");
    assertEquals(0, cache.bytes());
    assertEquals(0, cache.size());
  }

  @Test
  void keysDifferByRequestBytesAndBase() {
    ResponseCache cache = new ResponseCache(1 << 20, 1 << 16, 0, now::get);
    cache.put(key("a"), new Metadata(), answer(1), new Metadata(), 1_000);
    assertNotNull(cache.get(key("a")));
    assertNull(cache.get(key("b")));
    assertNull(cache.get(new ResponseCache.Key("pkg.S/Other", "a".getBytes(
        StandardCharsets.UTF_8))));
  }
}
