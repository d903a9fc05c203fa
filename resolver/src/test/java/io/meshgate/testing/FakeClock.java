package io.meshgate.testing;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.Callable;
import java.util.concurrent.Delayed;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/** A clock that moves only when a test says so, and a scheduler that runs on it. */
public final class FakeClock extends AbstractExecutorService implements ScheduledExecutorService {
  private long nanos = 1_000_000_000L;
  private final List<Task> tasks = new ArrayList<>();

  public long nanoTime() {
    return nanos;
  }

  /** Moves time forward, running every task that comes due, in order. */
  public void forward(Duration duration) {
    long target = nanos + duration.toNanos();
    while (true) {
      Task next = tasks.stream().filter(t -> !t.cancelled && t.due <= target)
          .min(Comparator.comparingLong(t -> t.due)).orElse(null);
      if (next == null) {
        break;
      }
      tasks.remove(next);
      nanos = next.due;
      next.done = true;
      next.runnable.run();
    }
    nanos = target;
  }

  public int pendingTasks() {
    return (int) tasks.stream().filter(t -> !t.cancelled).count();
  }

  private final class Task implements ScheduledFuture<Object> {
    final long due;
    final Runnable runnable;
    boolean cancelled;
    boolean done;

    Task(long due, Runnable runnable) {
      this.due = due;
      this.runnable = runnable;
    }

    @Override
    public long getDelay(TimeUnit unit) {
      return unit.convert(due - nanos, TimeUnit.NANOSECONDS);
    }

    @Override
    public int compareTo(Delayed o) {
      return Long.compare(getDelay(TimeUnit.NANOSECONDS), o.getDelay(TimeUnit.NANOSECONDS));
    }

    @Override
    public boolean cancel(boolean mayInterruptIfRunning) {
      boolean was = !cancelled && !done;
      cancelled = true;
      tasks.remove(this);
      return was;
    }

    @Override
    public boolean isCancelled() {
      return cancelled;
    }

    @Override
    public boolean isDone() {
      return done || cancelled;
    }

    @Override
    public Object get() {
      return null;
    }

    @Override
    public Object get(long timeout, TimeUnit unit) {
      return null;
    }
  }

  @Override
  public ScheduledFuture<?> schedule(Runnable command, long delay, TimeUnit unit) {
    Task task = new Task(nanos + unit.toNanos(delay), command);
    tasks.add(task);
    return task;
  }

  @Override
  public <V> ScheduledFuture<V> schedule(Callable<V> callable, long delay, TimeUnit unit) {
    throw new UnsupportedOperationException();
  }

  @Override
  public ScheduledFuture<?> scheduleAtFixedRate(Runnable command, long initialDelay, long period,
      TimeUnit unit) {
    throw new UnsupportedOperationException();
  }

  @Override
  public ScheduledFuture<?> scheduleWithFixedDelay(Runnable command, long initialDelay,
      long delay, TimeUnit unit) {
    throw new UnsupportedOperationException();
  }

  @Override
  public void execute(Runnable command) {
    command.run();
  }

  @Override
  public void shutdown() {}

  @Override
  public List<Runnable> shutdownNow() {
    return List.of();
  }

  @Override
  public boolean isShutdown() {
    return false;
  }

  @Override
  public boolean isTerminated() {
    return false;
  }

  @Override
  public boolean awaitTermination(long timeout, TimeUnit unit) {
    return true;
  }
}
