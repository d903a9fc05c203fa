package io.meshgate.gateway.overload;

import io.netty.util.concurrent.EventExecutor;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;

/**
 * The process's budget of buffered bytes ({@code limits.overload.budget}): while the buffers
 * the gateway holds are past it, HTTP/2 peers get no more flow-control window — clients for
 * request data, backends for response data — so they pause instead of the gateway growing, and
 * they go on when enough is written out to fall below {@link #resumeBelow}. Nothing fails at the
 * budget; what was granted before it was reached still arrives, so memory may pass it by at most
 * the windows already open.
 *
 * <p>Window given back for data passed on is not all: a new stream gets its initial window
 * from SETTINGS, which cannot be held back. So each HTTP/2 connection also shrinks its
 * {@code SETTINGS_INITIAL_WINDOW_SIZE} to {@value #PAUSED_WINDOW} bytes while the budget is
 * reached ({@link ShrinkingWindow}): streams already open have their windows cut by as much (a
 * peer stops sending until they are positive again), new ones may send a small request or
 * response but no bulk, and memory stays near the budget however many streams open.
 *
 * <p>Window grants ask {@link #mayGrant}: one volatile read while there is room. A grant held
 * back waits as a {@link Waiter}, run on its event loop once there is room again; a waiter is
 * registered at most once, and cancelled when its stream closes, so the waiters are bounded by
 * the open streams. The overload manager measures and calls {@link #measured}. Thread-safe.
 */
public final class BufferBudget {
  private static final BufferBudget UNLIMITED = new BufferBudget(0);
  /** The initial stream window connections announce while the budget is reached. */
  public static final int PAUSED_WINDOW = 16_384;

  private final long bytes;
  private final long resumeBelow;
  private final Map<EventExecutor, LoopWaiters> waiters = new ConcurrentHashMap<>();
  private volatile boolean paused;
  private volatile long pausedSinceNanos;
  private long pauses;

  /**
   * A budget of {@code bytes} (0: none). Grants go on again below nine tenths of it, so that a
   * gateway at its budget does not flap between paused and not at every measurement.
   */
  public BufferBudget(long bytes) {
    if (bytes < 0) {
      throw new IllegalArgumentException("a budget of " + bytes + " bytes");
    }
    this.bytes = bytes;
    this.resumeBelow = bytes - bytes / 10;
  }

  /** A budget never reached: every grant goes at once. */
  public static BufferBudget unlimited() {
    return UNLIMITED;
  }

  /** The budget in bytes, 0 for none. */
  public long bytes() {
    return bytes;
  }

  /** Below this many buffered bytes a paused budget lets grants go again. */
  public long resumeBelow() {
    return resumeBelow;
  }

  /** Whether grants are held back now. */
  public boolean paused() {
    return paused;
  }

  /** Since when grants are held back, by {@link System#nanoTime()}; meaningless if not paused. */
  long pausedSinceNanos() {
    return pausedSinceNanos;
  }

  /** Times the budget was reached so far. */
  public synchronized long pauses() {
    return pauses;
  }

  /**
   * Whether a grant of window may go now. If not, {@code waiter} is registered (unless it is
   * already) and run on its loop once there is room. Call on the waiter's loop.
   */
  public boolean mayGrant(Waiter waiter) {
    if (!paused) {
      return true;
    }
    if (waiter.home != null) {
      return false; // already waiting
    }
    LoopWaiters home = waiters.computeIfAbsent(waiter.loop, LoopWaiters::new);
    waiter.home = home;
    home.set.add(waiter);
    home.waiting = true;
    // Room may have come between the read above and the registration, after the manager looked
    // for loops with waiters: the volatile write of `waiting` before this read of `paused`
    // (and the manager's write of `paused` before its read of `waiting`) leaves no gap.
    if (!paused) {
      waiter.cancel();
      return true;
    }
    return false;
  }

  /**
   * The buffered bytes measured now: pauses grants at the budget, lets them go below
   * {@link #resumeBelow}.
   *
   * @return whether this measurement paused or resumed the budget
   */
  boolean measured(long buffered, long nowNanos) {
    if (bytes == 0) {
      return false;
    }
    if (!paused && buffered >= bytes) {
      synchronized (this) {
        pauses++;
      }
      pausedSinceNanos = nowNanos;
      paused = true;
      return true;
    }
    if (paused && buffered < resumeBelow) {
      paused = false;
      for (LoopWaiters home : waiters.values()) {
        if (home.waiting) {
          try {
            home.loop.execute(home::resume);
          } catch (RejectedExecutionException e) {
            // the loop is shutting down, its streams with it
          }
        }
      }
      return true;
    }
    return false;
  }

  /** Grants waiting on one loop. Confined to it, but for the {@code waiting} flag. */
  private static final class LoopWaiters {
    final EventExecutor loop;
    final LinkedHashSet<Waiter> set = new LinkedHashSet<>();
    volatile boolean waiting;

    LoopWaiters(EventExecutor loop) {
      this.loop = loop;
    }

    void resume() {
      waiting = false;
      if (set.isEmpty()) {
        return;
      }
      ArrayList<Waiter> ready = new ArrayList<>(set);
      set.clear();
      for (Waiter waiter : ready) {
        waiter.home = null;
        waiter.resumed(); // may wait again if the budget is reached again
      }
    }
  }

  /**
   * A grant held back by the budget: what holds it (a stream, a connection) subclasses this
   * and gives the window in {@link #resumed}. Only on its loop.
   */
  public abstract static class Waiter {
    private final EventExecutor loop;
    private LoopWaiters home;

    /** A waiter run on {@code loop}. */
    protected Waiter(EventExecutor loop) {
      this.loop = loop;
    }

    /** There is room again: give the window held back (asking {@link #mayGrant} again). */
    protected abstract void resumed();

    /** Whether it waits for room now. */
    public final boolean isWaiting() {
      return home != null;
    }

    /** Stops waiting (its stream closed); idempotent. */
    public final void cancel() {
      if (home != null) {
        home.set.remove(this);
        home = null;
      }
    }
  }

  /**
   * A connection's initial stream window ({@code SETTINGS_INITIAL_WINDOW_SIZE}), announced as
   * {@link #PAUSED_WINDOW} while the budget is reached and as its normal size again once there
   * is room. The connection calls {@link #check} after each read, announces what it is told in
   * {@link #announce}, and {@link #cancel}s it when it closes. Only on its loop.
   */
  public abstract static class ShrinkingWindow extends Waiter {
    private final BufferBudget budget;
    private final int normalWindow;
    private boolean shrunk;

    /** The window of a connection on {@code loop} whose normal initial window is that size. */
    protected ShrinkingWindow(BufferBudget budget, EventExecutor loop, int normalWindow) {
      super(loop);
      this.budget = budget;
      this.normalWindow = normalWindow;
    }

    /** Shrinks the window if the budget is reached. One volatile read when it is not. */
    public final void check() {
      if (!shrunk && budget.paused() && normalWindow > PAUSED_WINDOW
          && !budget.mayGrant(this)) {
        shrunk = true;
        announce(PAUSED_WINDOW);
      }
    }

    /** Whether the small window is announced now. */
    public final boolean isShrunk() {
      return shrunk;
    }

    @Override
    protected final void resumed() {
      if (shrunk && budget.mayGrant(this)) {
        shrunk = false;
        announce(normalWindow);
      }
    }

    /** Sends SETTINGS with this initial stream window, and flushes. */
    protected abstract void announce(int initialWindow);
  }
}
