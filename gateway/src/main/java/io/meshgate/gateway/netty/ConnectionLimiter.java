package io.meshgate.gateway.netty;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * How many client connections may be open: in all, and from one client address. Thread-safe;
 * the table holds an entry per client address with a connection open, so it is bounded by the
 * total.
 */
public final class ConnectionLimiter {
  private final int max;
  private final int maxPerClient;
  private final AtomicInteger open = new AtomicInteger();
  private final ConcurrentHashMap<String, Integer> perClient = new ConcurrentHashMap<>();

  /**
   * @param max connections at most
   * @param maxPerClient connections at most from one client address
   */
  public ConnectionLimiter(int max, int maxPerClient) {
    if (max < 1 || maxPerClient < 1) {
      throw new IllegalArgumentException("max: " + max + ", maxPerClient: " + maxPerClient
          + " (expected: >= 1)");
    }
    this.max = max;
    this.maxPerClient = maxPerClient;
  }

  /**
   * Takes a place for a new connection from {@code client} (null: unknown address, counted in
   * the total only).
   *
   * @return why the connection is refused, or null when it may stay (then {@link #release}
   *     it when it closes)
   */
  public String tryAcquire(String client) {
    if (open.incrementAndGet() > max) {
      open.decrementAndGet();
      return "the gateway has " + max + " connections open (limits.maxConnections)";
    }
    if (client == null) {
      return null;
    }
    boolean[] admitted = {false};
    perClient.compute(client, (address, n) -> {
      int now = n == null ? 0 : n;
      if (now >= maxPerClient) {
        return n;
      }
      admitted[0] = true;
      return now + 1;
    });
    if (!admitted[0]) {
      open.decrementAndGet();
      return client + " has " + maxPerClient + " connections open"
          + " (limits.maxConnectionsPerClient)";
    }
    return null;
  }

  /** Gives back the place of a connection {@link #tryAcquire} admitted. */
  public void release(String client) {
    open.decrementAndGet();
    if (client != null) {
      perClient.computeIfPresent(client, (address, n) -> n <= 1 ? null : n - 1);
    }
  }

  /** Connections open now. */
  public int open() {
    return open.get();
  }
}
