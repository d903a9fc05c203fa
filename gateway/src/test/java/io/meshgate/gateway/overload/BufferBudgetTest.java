package io.meshgate.gateway.overload;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.embedded.EmbeddedChannel;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class BufferBudgetTest {
  private static final long MIB = 1 << 20;

  /** A grant held back: counts how often it was let go. */
  private static final class Grant extends BufferBudget.Waiter {
    final List<String> log;
    final String name;

    Grant(EmbeddedChannel loop, List<String> log, String name) {
      super(loop.eventLoop());
      this.log = log;
      this.name = name;
    }

    @Override
    protected void resumed() {
      log.add(name);
    }
  }

  @Test
  void grantsPauseAtTheBudgetAndGoOnBelowNineTenthsOfIt() {
    EmbeddedChannel loop = new EmbeddedChannel();
    try {
      BufferBudget budget = new BufferBudget(100 * MIB);
      List<String> log = new ArrayList<>();
      Grant a = new Grant(loop, log, "a");
      Grant b = new Grant(loop, log, "b");
      Grant closed = new Grant(loop, log, "closed");
      assertTrue(budget.mayGrant(a), "room: grants go at once");

      assertTrue(budget.measured(100 * MIB, 0), "the budget is reached");
      assertTrue(budget.paused());
      assertFalse(budget.mayGrant(a));
      assertFalse(budget.mayGrant(a), "asked twice, registered once");
      assertFalse(budget.mayGrant(b));
      assertFalse(budget.mayGrant(closed));
      closed.cancel(); // its stream closed while it waited
      assertTrue(a.isWaiting() && b.isWaiting() && !closed.isWaiting());

      assertFalse(budget.measured(95 * MIB, 1), "below the budget, above nine tenths: paused");
      loop.runPendingTasks();
      assertEquals(List.of(), log);

      assertTrue(budget.measured(89 * MIB, 2), "below nine tenths: resumed");
      assertFalse(budget.paused());
      assertEquals(List.of(), log, "the grants go on their loop, not on the measuring thread");
      loop.runPendingTasks();
      assertEquals(List.of("a", "b"), log, "each waiting grant once, in order; none closed");
      assertFalse(a.isWaiting() || b.isWaiting());
      assertEquals(1, budget.pauses());
    } finally {
      loop.finishAndReleaseAll();
    }
  }

  @Test
  void aGrantThatWaitsAgainAfterResumingIsRunAtTheNextResume() {
    EmbeddedChannel loop = new EmbeddedChannel();
    try {
      BufferBudget budget = new BufferBudget(10 * MIB);
      List<String> log = new ArrayList<>();
      Grant a = new Grant(loop, log, "a");
      budget.measured(20 * MIB, 0);
      assertFalse(budget.mayGrant(a));
      budget.measured(0, 1);
      budget.measured(20 * MIB, 2); // reached again before the loop ran the resume
      loop.runPendingTasks();
      assertEquals(List.of("a"), log, "resumed, it finds the budget reached and may wait again");
      assertFalse(budget.mayGrant(a));
      budget.measured(0, 3);
      loop.runPendingTasks();
      assertEquals(List.of("a", "a"), log);
      assertEquals(2, budget.pauses());
    } finally {
      loop.finishAndReleaseAll();
    }
  }

  @Test
  void anUnlimitedBudgetIsNeverReached() {
    BufferBudget budget = BufferBudget.unlimited();
    assertFalse(budget.measured(Long.MAX_VALUE, 0));
    assertFalse(budget.paused());
    assertEquals(0, budget.bytes());
  }
}
