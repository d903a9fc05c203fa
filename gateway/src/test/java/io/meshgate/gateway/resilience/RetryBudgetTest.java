package io.meshgate.gateway.resilience;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The retry budget's window on a clock the test moves. */
class RetryBudgetTest {
  private final AtomicLong nanos = new AtomicLong(TimeUnit.SECONDS.toNanos(1_000));

  private void advanceSeconds(double seconds) {
    nanos.addAndGet((long) (seconds * 1e9));
  }

  private static int retriesAllowed(RetryBudget budget) {
    int n = 0;
    while (budget.tryRetry()) {
      n++;
    }
    return n;
  }

  @Test
  void withoutCallsAllowsTheFloorForTheWholeWindow() {
    RetryBudget budget = new RetryBudget(0.2, 3, nanos::get);
    assertEquals(30, retriesAllowed(budget), "3 a second over a 10 s window");
    assertFalse(budget.tryRetry());
  }

  @Test
  void allowsTheRatioOfCallsOnTopOfTheFloor() {
    RetryBudget budget = new RetryBudget(0.2, 0, nanos::get);
    for (int i = 0; i < 50; i++) {
      budget.onCall();
    }
    assertEquals(10, retriesAllowed(budget), "20% of 50 calls");
    budget.onCall();
    budget.onCall();
    budget.onCall();
    budget.onCall();
    budget.onCall();
    assertTrue(budget.tryRetry(), "5 more calls earn one more retry");
    assertFalse(budget.tryRetry());
  }

  @Test
  void spentRetriesCountUntilTheyLeaveTheTenSecondWindow() {
    RetryBudget budget = new RetryBudget(0, 1, nanos::get);
    assertEquals(10, retriesAllowed(budget));
    advanceSeconds(9);
    assertFalse(budget.tryRetry(), "the retries of 9 s ago are still in the window");
    advanceSeconds(1);
    assertEquals(10, retriesAllowed(budget), "after 10 s they are out of it");
  }

  @Test
  void callsAlsoLeaveTheWindow() {
    RetryBudget budget = new RetryBudget(1, 0, nanos::get);
    for (int i = 0; i < 4; i++) {
      budget.onCall();
    }
    advanceSeconds(10);
    assertFalse(budget.tryRetry(), "calls of 10 s ago no longer earn retries");
    budget.onCall();
    assertTrue(budget.tryRetry());
  }

  @Test
  void aLongPauseClearsEverySlot() {
    RetryBudget budget = new RetryBudget(0, 2, nanos::get);
    assertEquals(20, retriesAllowed(budget));
    advanceSeconds(3_600);
    assertEquals(20, retriesAllowed(budget));
  }
}
