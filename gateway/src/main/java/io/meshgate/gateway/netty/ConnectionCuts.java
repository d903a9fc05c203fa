package io.meshgate.gateway.netty;

import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The connections the gateway cut, by reason: counted for {@code /metrics}, and logged at most
 * once per reason every {@link #LOG_INTERVAL_NANOS} — the first cut of an interval gets its own
 * line, the rest are summed into the next line — so that a client that gets itself cut over and
 * over cannot fill the disk with log lines. Thread-safe; time comes from an injected clock.
 */
public final class ConnectionCuts {
  /** Why a connection was cut. */
  public enum Reason {
    /** Too many streams that ended in resets right after opening (rapid reset, MadeYouReset). */
    RAPID_RESET("rapid_reset", true),
    /** An error nothing else handled (logged as a warning). */
    ERROR("error", false),
    /** No complete request headers (or HTTP/2 preface) within limits.requestHeadersTimeout. */
    REQUEST_TIMEOUT("request_timeout", true),
    /** Nothing in flight for limits.idleTimeout. */
    IDLE("idle_timeout", false),
    /** Over limits.maxConnections or maxConnectionsPerClient. */
    CONNECTION_LIMIT("connection_limit", false),
    /** A new connection from an address banned for abuse (limits.abuseBan). */
    BANNED("banned", false),
    /** A new connection while the gateway is out of memory (limits.overload). */
    OVERLOAD("overload", false),
    /** The client's TLS certificate did not verify (listener.tls.clientCaFile). */
    CLIENT_CERTIFICATE("client_certificate", false),
    /** The client did not acknowledge the gateway's HTTP/2 SETTINGS in time. */
    SETTINGS_TIMEOUT("settings_timeout", true);

    private final String label;
    private final boolean abuse;

    Reason(String label, boolean abuse) {
      this.label = label;
      this.abuse = abuse;
    }

    /** Whether a cut for this reason counts against the client's address. */
    public boolean isAbuse() {
      return abuse;
    }

    /** The metrics label. */
    public String label() {
      return label;
    }
  }

  /** At most one log line per reason this often. */
  static final long LOG_INTERVAL_NANOS = 10_000_000_000L;

  private static final Logger logger = Logger.getLogger(ConnectionCuts.class.getName());

  private final LongSupplier nanoTime;
  private final AbuseMemory abuse;
  private final Map<Reason, Counts> counts = new EnumMap<>(Reason.class);

  private static final class Counts {
    final LongAdder total = new LongAdder();
    final AtomicLong unlogged = new AtomicLong();
    final AtomicLong nextLogNanos;

    Counts(long now) {
      this.nextLogNanos = new AtomicLong(now);
    }
  }

  /** @param abuse remembers the addresses cut for abuse */
  public ConnectionCuts(AbuseMemory abuse, LongSupplier nanoTime) {
    this.abuse = abuse;
    this.nanoTime = nanoTime;
    long now = nanoTime.getAsLong();
    for (Reason reason : Reason.values()) {
      counts.put(reason, new Counts(now));
    }
  }

  /**
   * Counts a cut of a connection from {@code client} (its address, or null), holds it against
   * the address when the reason is abuse, and logs it at {@code level} unless a line for the
   * same reason went out less than the interval ago ({@code detail} is then not even made).
   */
  public void cut(Reason reason, String client, Level level, Supplier<String> detail) {
    cut(reason, client, level, detail, null);
  }

  /** As {@link #cut(Reason, String, Level, Supplier)}, with the error that caused the cut. */
  public void cut(Reason reason, String client, Level level, Supplier<String> detail,
      Throwable cause) {
    if (reason.isAbuse()) {
      abuse.cut(client);
    }
    Counts c = counts.get(reason);
    c.total.increment();
    long now = nanoTime.getAsLong();
    long due = c.nextLogNanos.get();
    if (now - due < 0 || !c.nextLogNanos.compareAndSet(due, now + LOG_INTERVAL_NANOS)) {
      c.unlogged.incrementAndGet();
      return;
    }
    long more = c.unlogged.getAndSet(0);
    if (logger.isLoggable(level)) {
      logger.log(level, detail.get() + (more == 0 ? "" : " (and " + more + " more cut for "
          + reason.label() + " since the last line)"), cause);
    }
  }

  /**
   * Why a new connection from {@code client} is refused because the address is banned for
   * abuse, or null when it is not.
   */
  public String banned(String client) {
    long nanos = abuse.bannedNanos(client);
    return nanos == 0 ? null : client + " was cut for abuse too often and is refused for "
        + (nanos + 999_999_999L) / 1_000_000_000L + " s more (limits.abuseBan)";
  }

  /** Cuts counted for {@code reason} so far. */
  public long count(Reason reason) {
    return counts.get(reason).total.sum();
  }
}
