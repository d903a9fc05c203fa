package io.meshgate.gateway.config;

import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * The last configuration changes the gateway saw, applied or refused, with the full errors of
 * refused ones: what the console's routes page and {@code GET /api/reloads} show. Bounded to
 * {@link #KEPT} entries. Thread-safe.
 */
public final class ReloadHistory {
  /** Entries kept. */
  public static final int KEPT = 50;

  /**
   * One change.
   *
   * @param source where it came from: {@code file}, {@code etcd}, {@code admin},
   *     {@code descriptors}
   * @param applied whether it runs now
   * @param message what was applied, or every error of a refused change
   * @param version the running configuration's version after it
   */
  public record Entry(Instant at, String source, boolean applied, String message,
      long version) {}

  private final ArrayDeque<Entry> entries = new ArrayDeque<>();

  /** Records a change. */
  public synchronized void add(Entry entry) {
    if (entries.size() == KEPT) {
      entries.removeFirst();
    }
    entries.addLast(entry);
  }

  /** The changes kept, newest first. */
  public synchronized List<Entry> entries() {
    List<Entry> newestFirst = new ArrayList<>(entries);
    java.util.Collections.reverse(newestFirst);
    return newestFirst;
  }
}
