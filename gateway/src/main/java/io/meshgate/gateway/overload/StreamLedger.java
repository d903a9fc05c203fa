package io.meshgate.gateway.overload;

import io.netty.channel.Channel;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.EventExecutor;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The streams of one event loop that hold buffers, so that the overload manager can find the
 * biggest. Adding and removing cost O(1) (an entry knows its index). Confined to its loop: the
 * manager reaches it through {@link #shedBiggest} run on that loop.
 */
public final class StreamLedger {
  private static final AttributeKey<StreamLedger> KEY = AttributeKey.valueOf("meshgate.ledger");

  private final EventExecutor loop;
  private final OverloadManager manager;
  // Only on the loop.
  private final ArrayList<Entry> entries = new ArrayList<>();

  StreamLedger(EventExecutor loop, OverloadManager manager) {
    this.loop = loop;
    this.manager = manager;
  }

  /** A holder's place in its ledger; {@link #remove()} it when the stream closes. */
  public static final class Entry {
    private final StreamLedger ledger;
    private final BufferHolder holder;
    private int index;

    private Entry(StreamLedger ledger, BufferHolder holder, int index) {
      this.ledger = ledger;
      this.holder = holder;
      this.index = index;
    }

    /** Takes the holder out of its ledger; idempotent. Call on the loop. */
    public void remove() {
      if (index >= 0) {
        ledger.removeAt(index);
        index = -1;
      }
    }
  }

  /** Marks {@code connection} as served by this ledger's loop (done as it is accepted). */
  public void attachTo(Channel connection) {
    connection.attr(KEY).set(this);
  }

  /** The ledger of the connection {@code connection}, or null when it has none (tests). */
  public static StreamLedger of(Channel connection) {
    return connection == null ? null : connection.attr(KEY).get();
  }

  /** Adds a holder. Call on the loop. */
  public Entry add(BufferHolder holder) {
    Entry entry = new Entry(this, holder, entries.size());
    entries.add(entry);
    return entry;
  }

  private void removeAt(int index) {
    Entry last = entries.remove(entries.size() - 1);
    if (index < entries.size()) {
      entries.set(index, last);
      last.index = index;
    }
  }

  EventExecutor loop() {
    return loop;
  }

  /** Holders in the ledger. Call on the loop. */
  int size() {
    return entries.size();
  }

  /**
   * Sheds the {@code share} of this loop's holders that hold the most bytes (at least one, and
   * only holders that hold any), biggest first. Call on the loop.
   *
   * @return the number of holders shed
   */
  int shedBiggest(double share, String reason) {
    List<Entry> holding = new ArrayList<>();
    List<Long> sizes = new ArrayList<>();
    for (Entry entry : entries) {
      long bytes = entry.holder.bufferedBytes();
      if (bytes > 0) {
        holding.add(entry);
        sizes.add(bytes);
      }
    }
    if (holding.isEmpty()) {
      return 0;
    }
    Integer[] order = new Integer[holding.size()];
    for (int i = 0; i < order.length; i++) {
      order[i] = i;
    }
    java.util.Arrays.sort(order, Comparator.comparingLong(i -> -sizes.get(i)));
    int count = Math.max(1, (int) Math.ceil(holding.size() * share));
    for (int i = 0; i < count; i++) {
      Entry entry = holding.get(order[i]);
      entry.remove();
      entry.holder.shed(reason);
    }
    manager.countShed(count);
    return count;
  }
}
