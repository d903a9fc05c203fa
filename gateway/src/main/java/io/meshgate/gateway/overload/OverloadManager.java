package io.meshgate.gateway.overload;

import io.meshgate.gateway.config.GatewayConfig;
import io.netty.util.concurrent.EventExecutor;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Keeps the gateway out of {@link OutOfMemoryError}, in the spirit of Envoy's overload manager.
 * Every {@code checkInterval} it measures the heap (after the last collection) and the direct
 * memory in use against their watermarks ({@code limits.overload}):
 *
 * <ul>
 *   <li>past {@code refuseAt} of either it is {@link State#REFUSING}: the front closes new
 *       connections, refuses new HTTP/2 streams (gRPC: REFUSED_STREAM, which clients retry
 *       elsewhere; REST: 503 with Retry-After), answers HTTP/1.1 requests with 503, and
 *       {@code /readyz} reports unready, so that load balancers send traffic elsewhere;
 *   <li>past {@code resetAt} it is {@link State#RESETTING} as well: each check resets the tenth
 *       of every event loop's streams that hold the most buffered bytes, until memory falls back
 *       below the watermark.
 * </ul>
 *
 * Below both watermarks it is {@link State#NORMAL} again. The state is read on the data path
 * (one volatile read); the checks run on a thread of their own, so that they go on when the
 * event loops are busy.
 *
 * <p>Well before those watermarks, the {@linkplain #budget() budget of buffered bytes}
 * ({@code limits.overload.budget}) applies backpressure: the direct memory in buffers is
 * measured every {@value #BUDGET_INTERVAL_MILLIS} to {@value #BUDGET_MAX_INTERVAL_MILLIS} ms
 * (the closer to the budget, the more often: as if buffers could fill at
 * {@value #BUDGET_FILL_BYTES_PER_MILLI} bytes a millisecond), and past it HTTP/2 peers get no
 * more window until it falls back. Should it stay past the budget for {@code shedAfter} (peers
 * that never read hold it), each check resets the streams holding the most, as past
 * {@code resetAt}. Thread-safe.
 */
public final class OverloadManager implements AutoCloseable {
  private static final Logger logger = Logger.getLogger(OverloadManager.class.getName());
  /** Share of each loop's buffer-holding streams reset per check past {@code resetAt}. */
  private static final double SHED_SHARE = 0.1;
  private static final long LOG_INTERVAL_NANOS = 10_000_000_000L;
  /** How often the budget of buffered bytes is measured. */
  static final long BUDGET_INTERVAL_MILLIS = 10;
  /** How long the budget may go unmeasured while it has room. */
  static final long BUDGET_MAX_INTERVAL_MILLIS = 100;
  /** How fast buffers are assumed to fill at most (2 GiB/s): what the room is worth in time. */
  static final long BUDGET_FILL_BYTES_PER_MILLI = 2L << 20;

  /** How loaded the gateway is; the ordinal is the value of {@code meshgate_overload_state}. */
  public enum State { NORMAL, REFUSING, RESETTING }

  /** What a refusal refused. */
  public enum Refused {
    /** A new client connection, closed as it arrived. */
    CONNECTION("connection"),
    /** A new HTTP/2 stream (gRPC: REFUSED_STREAM; REST: 503). */
    STREAM("stream"),
    /** An HTTP/1.1 request (503). */
    REQUEST("request");

    private final String label;

    Refused(String label) {
      this.label = label;
    }

    /** The metrics label. */
    public String label() {
      return label;
    }
  }

  private final GatewayConfig.Overload config;
  private final Memory memory;
  private final LongSupplier nanoTime;
  private final ScheduledThreadPoolExecutor timer;
  private final Map<EventExecutor, StreamLedger> ledgers = new ConcurrentHashMap<>();
  private final Map<Refused, LongAdder> refused = new java.util.EnumMap<>(Refused.class);
  private final LongAdder shed = new LongAdder();
  private final AtomicBoolean shedding = new AtomicBoolean();
  private final BufferBudget budget;
  private final long budgetShedAfterNanos;
  private final long budgetIntervalMillis;
  private long nextBudgetShedNanos;
  private long nextBudgetLogNanos;
  private volatile State state = State.NORMAL;
  private volatile String reason;
  private volatile long heapUsed;
  private volatile long directUsed;
  private long nextLogNanos;

  /**
   * Checks every {@code checkInterval}, the first time one interval from now.
   *
   * @param memory what to measure ({@link Memory#jvm}); closed with this manager
   */
  public OverloadManager(GatewayConfig.Overload config, Memory memory, LongSupplier nanoTime) {
    this(config, memory, nanoTime, BUDGET_INTERVAL_MILLIS);
  }

  /** As the public constructor, measuring the budget every {@code budgetIntervalMillis}. */
  OverloadManager(GatewayConfig.Overload config, Memory memory, LongSupplier nanoTime,
      long budgetIntervalMillis) {
    this.config = config;
    this.memory = memory;
    this.nanoTime = nanoTime;
    for (Refused what : Refused.values()) {
      refused.put(what, new LongAdder());
    }
    this.nextLogNanos = nanoTime.getAsLong();
    this.nextBudgetLogNanos = nextLogNanos;
    GatewayConfig.Budget budgetConfig = config.budget();
    this.budget = budgetConfig.enabled()
        ? new BufferBudget(budgetConfig.bytes().of(memory.directMax()))
        : BufferBudget.unlimited();
    this.budgetShedAfterNanos = budgetConfig.shedAfter().toNanos();
    this.budgetIntervalMillis = budgetIntervalMillis;
    this.timer = new ScheduledThreadPoolExecutor(1, r -> {
      Thread t = new Thread(r, "meshgate-overload");
      t.setDaemon(true);
      return t;
    });
    long interval = config.checkInterval().toNanos();
    timer.scheduleWithFixedDelay(this::checkSafely, interval, interval, TimeUnit.NANOSECONDS);
    if (budget.bytes() > 0) {
      scheduleBudget(budgetIntervalMillis);
    }
  }

  /** The budget of buffered bytes, which window grants ask before they go. */
  public BufferBudget budget() {
    return budget;
  }

  /** The ledger of the streams served by {@code loop}. */
  public StreamLedger ledger(EventExecutor loop) {
    return ledgers.computeIfAbsent(loop, l -> new StreamLedger(l, this));
  }

  /** The state as of the last check. */
  public State state() {
    return state;
  }

  /** Whether new connections, streams and requests are refused now. */
  public boolean isRefusing() {
    return state != State.NORMAL;
  }

  /** Why the gateway is refusing, for people (logs, 503 bodies, {@code /readyz}), or null. */
  public String reason() {
    return reason;
  }

  /** Seconds a refused client should wait ({@code Retry-After}). */
  public long retryAfterSeconds() {
    return Math.max(1, (config.checkInterval().toMillis() * 4 + 999) / 1000);
  }

  /** Counts a refusal. */
  public void refused(Refused what) {
    refused.get(what).increment();
  }

  /** Refusals of {@code what} so far. */
  public long refusedCount(Refused what) {
    return refused.get(what).sum();
  }

  /** Streams reset to free memory so far. */
  public long shedCount() {
    return shed.sum();
  }

  void countShed(int count) {
    shed.add(count);
  }

  /** Heap in use after the last collection, as of the last check. */
  public long heapUsed() {
    return heapUsed;
  }

  /** Direct memory in use by buffers, as of the last check. */
  public long directUsed() {
    return directUsed;
  }

  private void checkSafely() {
    try {
      check();
    } catch (RuntimeException e) {
      logger.log(Level.WARNING, "overload check failed", e);
    }
  }

  /** Measures, updates the state and resets streams if need be. On the timer thread. */
  void check() {
    long heap = memory.heapUsed();
    long direct = memory.directUsed();
    heapUsed = heap;
    directUsed = direct;
    long heapMax = memory.heapMax();
    long directMax = memory.directMax();
    long heapRefuse = config.heap().refuseAt().of(heapMax);
    long heapReset = config.heap().resetAt().of(heapMax);
    long directRefuse = config.direct().refuseAt().of(directMax);
    long directReset = config.direct().resetAt().of(directMax);
    State next;
    String why;
    if (direct >= directReset || heap >= heapReset) {
      next = State.RESETTING;
      why = direct >= directReset
          ? describe("direct memory", direct, "direct.resetAt", directReset)
          : describe("heap after GC", heap, "heap.resetAt", heapReset);
    } else if (direct >= directRefuse || heap >= heapRefuse) {
      next = State.REFUSING;
      why = direct >= directRefuse
          ? describe("direct memory", direct, "direct.refuseAt", directRefuse)
          : describe("heap after GC", heap, "heap.refuseAt", heapRefuse);
    } else {
      next = State.NORMAL;
      why = null;
    }
    State previous = state;
    reason = why;
    state = next;
    if (next != previous) {
      long now = nanoTime.getAsLong();
      if (now - nextLogNanos >= 0) {
        nextLogNanos = now + LOG_INTERVAL_NANOS;
        if (next == State.NORMAL) {
          logger.info("overload over: memory back below the watermarks (heap after GC "
              + mib(heap) + ", direct " + mib(direct) + "); serving new streams again");
        } else {
          logger.warning("overloaded (" + next.name().toLowerCase(java.util.Locale.ROOT)
              + "): " + why + (next == State.RESETTING
                  ? "; refusing new streams and resetting the ones holding the most buffers"
                  : "; refusing new connections and streams"));
        }
      }
    }
    if (next == State.RESETTING) {
      shedBiggest("the gateway is out of memory (" + why + ") and reset this stream, one of"
          + " those holding the most buffered bytes");
    }
  }

  private void scheduleBudget(long delayMillis) {
    try {
      timer.schedule(this::checkBudgetSafely, delayMillis, TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      // closed
    }
  }

  private void checkBudgetSafely() {
    long used = 0;
    try {
      used = memory.directUsed();
      checkBudget(used);
    } catch (RuntimeException e) {
      logger.log(Level.WARNING, "buffer budget check failed", e);
    }
    scheduleBudget(budgetDelayMillis(budget.paused() ? 0 : budget.bytes() - used,
        budgetIntervalMillis));
  }

  /**
   * When to measure the budget next, with {@code room} bytes left before it: as soon as the
   * room could be filled, between {@code min} and {@value #BUDGET_MAX_INTERVAL_MILLIS} ms.
   */
  static long budgetDelayMillis(long room, long min) {
    return Math.max(min, Math.min(BUDGET_MAX_INTERVAL_MILLIS, room / BUDGET_FILL_BYTES_PER_MILLI));
  }

  /**
   * Holds window grants back past the budget, lets them go below it; resets the biggest
   * holders when it stays past it for {@code shedAfter}. On the timer thread.
   */
  void checkBudget(long buffered) {
    long now = nanoTime.getAsLong();
    if (budget.measured(buffered, now) && now - nextBudgetLogNanos >= 0) {
      nextBudgetLogNanos = now + LOG_INTERVAL_NANOS;
      if (budget.paused()) {
        logger.warning("buffer budget reached: buffers hold " + mib(buffered) + " of the "
            + mib(budget.bytes()) + " of limits.overload.budget; clients and backends get no"
            + " more HTTP/2 window until it falls below " + mib(budget.resumeBelow()));
      } else {
        logger.info("buffer budget: buffers hold " + mib(buffered) + ", below "
            + mib(budget.resumeBelow()) + " again; window grants go on");
      }
    }
    if (budget.paused() && budgetShedAfterNanos > 0
        && now - budget.pausedSinceNanos() >= budgetShedAfterNanos
        && now - nextBudgetShedNanos >= 0) {
      nextBudgetShedNanos = now + config.checkInterval().toNanos();
      shedBiggest("the gateway's buffers stayed past limits.overload.budget ("
          + mib(buffered) + " of " + mib(budget.bytes()) + ") for longer than its shedAfter, "
          + config.budget().shedAfter().toMillis() + " ms, as peers did not read; it reset"
          + " this stream, one of those holding the most buffered bytes");
    }
  }

  private void shedBiggest(String message) {
    if (!shedding.compareAndSet(false, true)) {
      return; // the last round has not run on every loop yet
    }
    java.util.concurrent.atomic.AtomicInteger pending =
        new java.util.concurrent.atomic.AtomicInteger(ledgers.size());
    if (pending.get() == 0) {
      shedding.set(false);
      return;
    }
    for (StreamLedger ledger : ledgers.values()) {
      Runnable round = () -> {
        try {
          ledger.shedBiggest(SHED_SHARE, message);
        } finally {
          if (pending.decrementAndGet() == 0) {
            shedding.set(false);
          }
        }
      };
      try {
        ledger.loop().execute(round);
      } catch (java.util.concurrent.RejectedExecutionException e) {
        if (pending.decrementAndGet() == 0) {
          shedding.set(false); // the loop is shutting down
        }
      }
    }
  }

  private static String describe(String what, long used, String key, long watermark) {
    return what + " " + mib(used) + " is past limits.overload." + key + " " + mib(watermark);
  }

  private static String mib(long bytes) {
    return String.format(java.util.Locale.ROOT, "%.1f MiB", bytes / 1048576.0);
  }

  @Override
  public void close() {
    timer.shutdownNow();
    memory.close();
  }
}
