package io.meshgate.gateway.resilience;

import io.grpc.Metadata;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * The answers of one route's read-only calls, by request: bounded by the bytes it holds (keys,
 * messages and an estimate of the metadata), the least recently used answer evicted first. An
 * answer is fresh for its TTL and kept a while longer for fallbacks that may give it stale
 * ({@code staleIfError}). Thread-safe: the event loops share it; every operation is a short
 * critical section on a map.
 */
public final class ResponseCache {
  /** What a metadata object costs besides its bytes: an estimate for the bound. */
  private static final int OVERHEAD = 200;

  private final long maxBytes;
  private final long maxEntryBytes;
  private final long keepNanos;
  private final LongSupplier nanoTime;
  private final LinkedHashMap<Key, Entry> entries = new LinkedHashMap<>(64, 0.75f, true);
  private long bytes;

  /**
   * @param maxBytes the bound of what is held
   * @param maxEntryBytes a larger answer is not kept
   * @param staleNanos how long past its TTL an answer stays for stale use (0: not at all)
   */
  public ResponseCache(long maxBytes, long maxEntryBytes, long staleNanos, LongSupplier nanoTime) {
    this.maxBytes = maxBytes;
    this.maxEntryBytes = maxEntryBytes;
    this.keepNanos = staleNanos;
    this.nanoTime = nanoTime;
  }

  /** A request: its method and key parts, and its message bytes. Immutable. */
  public static final class Key {
    private final String base;
    private final byte[] request;
    private final int hash;

    /**
     * @param base the method and the values of the key's headers and claims, already joined
     * @param request the request message as sent (not copied: nobody may change it)
     */
    public Key(String base, byte[] request) {
      this.base = base;
      this.request = request;
      this.hash = 31 * base.hashCode() + Arrays.hashCode(request);
    }

    int size() {
      return base.length() * 2 + request.length;
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Key k && k.hash == hash && k.base.equals(base)
          && Arrays.equals(k.request, request);
    }

    @Override
    public int hashCode() {
      return hash;
    }
  }

  /**
   * A kept answer: never changed once made; {@link #headers()} and {@link #trailers()} are
   * copied for each use.
   *
   * @param freshNanos how long after {@code storedAt} it is fresh
   */
  public record Entry(Metadata headers, byte[] message, Metadata trailers, long storedAt,
      long freshNanos) {
    /** Its age in whole seconds (the {@code Age} header). */
    public long ageSeconds(long now) {
      return Math.max(0, (now - storedAt) / 1_000_000_000L);
    }

    /** Whether it is still fresh, and at most {@code maxAgeNanos} old (-1: any age). */
    public boolean fresh(long now, long maxAgeNanos) {
      long age = now - storedAt;
      return age < freshNanos && (maxAgeNanos < 0 || age <= maxAgeNanos);
    }

    int size() {
      return message.length + 2 * OVERHEAD;
    }
  }

  /** The answer kept for {@code key}, fresh or stale (see {@link Entry#fresh}); null if none. */
  public Entry get(Key key) {
    long now = nanoTime.getAsLong();
    synchronized (entries) {
      Entry entry = entries.get(key);
      if (entry != null && now - entry.storedAt() >= entry.freshNanos() + keepNanos) {
        entries.remove(key);
        bytes -= key.size() + entry.size();
        return null;
      }
      return entry;
    }
  }

  /**
   * Keeps an answer (unless it is larger than an entry may be), evicting the least recently
   * used ones beyond the bound.
   *
   * @return whether it was kept
   */
  public boolean put(Key key, Metadata headers, byte[] message, Metadata trailers,
      long freshNanos) {
    Entry entry = new Entry(headers, message, trailers, nanoTime.getAsLong(), freshNanos);
    long size = key.size() + entry.size();
    if (size > maxEntryBytes || size > maxBytes) {
      return false;
    }
    synchronized (entries) {
      Entry old = entries.put(key, entry);
      if (old != null) {
        bytes -= key.size() + old.size();
      }
      bytes += size;
      Iterator<Map.Entry<Key, Entry>> eldest = entries.entrySet().iterator();
      while (bytes > maxBytes && eldest.hasNext()) {
        Map.Entry<Key, Entry> e = eldest.next();
        bytes -= e.getKey().size() + e.getValue().size();
        eldest.remove();
      }
    }
    return true;
  }

  /** Bytes held now (keys, messages and the metadata estimate). */
  public long bytes() {
    synchronized (entries) {
      return bytes;
    }
  }

  /** Answers held now. */
  public int size() {
    synchronized (entries) {
      return entries.size();
    }
  }
}
