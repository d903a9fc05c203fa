package io.meshgate.gateway.testing;

import io.meshgate.testing.Await;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Closed-loop load for chaos tests: a few threads make one blocking call after another until
 * stopped, counting successes and keeping every failure (its message) for the assertion.
 * Bounded: it stops by itself after {@code maxCalls} calls in all.
 */
public final class CallLoad implements AutoCloseable {
  /** One call; throws on failure. */
  @FunctionalInterface
  public interface Call {
    void run() throws Exception;
  }

  private final AtomicBoolean stopped = new AtomicBoolean();
  private final AtomicLong started = new AtomicLong();
  private final AtomicLong succeeded = new AtomicLong();
  private final ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
  private final List<Thread> threads = new ArrayList<>();

  private CallLoad() {}

  /** Starts {@code threads} callers making at most {@code maxCalls} calls in all. */
  public static CallLoad start(int threads, long maxCalls, Call call) {
    CallLoad load = new CallLoad();
    for (int i = 0; i < threads; i++) {
      Thread thread = new Thread(() -> {
        while (!load.stopped.get() && load.started.incrementAndGet() <= maxCalls) {
          try {
            call.run();
            load.succeeded.incrementAndGet();
          } catch (Exception e) {
            load.failures.add(e.toString());
          }
        }
      }, "call-load-" + i);
      thread.setDaemon(true);
      thread.start();
      load.threads.add(thread);
    }
    return load;
  }

  /** Calls that succeeded so far. */
  public long succeeded() {
    return succeeded.get();
  }

  /** The failures so far. */
  public List<String> failures() {
    return List.copyOf(failures);
  }

  /** Waits until {@code count} calls succeeded in all (failing fast if the load ended). */
  public void awaitSucceeded(long count, Duration timeout) {
    Await.until(count + " successful calls (" + failures.size() + " failed so far)", timeout,
        () -> succeeded.get() >= count || threads.stream().noneMatch(Thread::isAlive));
    if (succeeded.get() < count) {
      throw new AssertionError("the load ended after " + succeeded.get() + " successful calls;"
          + " failures: " + failures());
    }
  }

  /** Stops the callers and waits for their calls in flight. */
  @Override
  public void close() throws InterruptedException {
    stopped.set(true);
    for (Thread thread : threads) {
      thread.join(30_000);
    }
  }
}
