package io.meshgate.gateway.overload;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.meshgate.gateway.config.GatewayConfig;
import io.netty.channel.embedded.EmbeddedChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class OverloadManagerTest {
  private static final long MIB = 1 << 20;

  /** Memory whose figures the test sets. */
  private static final class FixedMemory implements Memory {
    volatile long heap;
    volatile long direct;

    @Override
    public long heapUsed() {
      return heap;
    }

    @Override
    public long heapMax() {
      return 1000 * MIB;
    }

    @Override
    public long directUsed() {
      return direct;
    }

    @Override
    public long directMax() {
      return 100 * MIB;
    }
  }

  private static GatewayConfig.Overload config() {
    // Heap as shares of its maximum, direct memory in bytes; checks only when the test asks.
    return new GatewayConfig.Overload(
        new GatewayConfig.Watermarks(new GatewayConfig.Threshold(0.9, 0),
            new GatewayConfig.Threshold(0.95, 0)),
        new GatewayConfig.Watermarks(new GatewayConfig.Threshold(0, 40 * MIB),
            new GatewayConfig.Threshold(0, 60 * MIB)),
        Duration.ofHours(1));
  }

  @Test
  void theStateFollowsTheWorseOfHeapAndDirectMemory() {
    FixedMemory memory = new FixedMemory();
    try (OverloadManager manager = new OverloadManager(config(), memory, System::nanoTime)) {
      manager.check();
      assertEquals(OverloadManager.State.NORMAL, manager.state());
      assertNull(manager.reason());

      memory.heap = 901 * MIB;
      manager.check();
      assertEquals(OverloadManager.State.REFUSING, manager.state());
      assertTrue(manager.reason().contains("heap after GC 901.0 MiB")
          && manager.reason().contains("heap.refuseAt 900.0 MiB"), manager.reason());

      memory.direct = 61 * MIB;
      manager.check();
      assertEquals(OverloadManager.State.RESETTING, manager.state());
      assertTrue(manager.reason().contains("direct.resetAt"), manager.reason());

      memory.heap = 0;
      memory.direct = 39 * MIB;
      manager.check();
      assertEquals(OverloadManager.State.NORMAL, manager.state());
      assertEquals(0, manager.shedCount(), "no stream was there to shed");
    }
  }

  private record Holder(long bytes, List<String> shed) implements BufferHolder {
    @Override
    public long bufferedBytes() {
      return bytes;
    }

    @Override
    public void shed(String reason) {
      shed.add(bytes + ": " + reason);
    }
  }

  @Test
  void aLedgerShedsTheTenthThatHoldsTheMostAndForgetsRemovedHolders() {
    EmbeddedChannel loop = new EmbeddedChannel();
    try (OverloadManager manager = new OverloadManager(config(), new FixedMemory(),
        System::nanoTime)) {
      StreamLedger ledger = manager.ledger(loop.eventLoop());
      List<String> shed = new ArrayList<>();
      List<StreamLedger.Entry> entries = new ArrayList<>();
      for (int i = 1; i <= 20; i++) {
        entries.add(ledger.add(new Holder(i * 1000L, shed)));
      }
      ledger.add(new Holder(0, shed)); // holds nothing: never shed
      entries.get(19).remove(); // the biggest closed meanwhile
      entries.get(19).remove(); // twice is harmless
      assertEquals(20, ledger.size());

      assertEquals(2, ledger.shedBiggest(0.1, "out of memory"));
      assertEquals(List.of("19000: out of memory", "18000: out of memory"), shed);
      assertEquals(18, ledger.size(), "shed holders leave the ledger");
      assertEquals(2, manager.shedCount());

      shed.clear();
      for (int i = 0; i < 18; i++) {
        entries.get(i).remove();
      }
      assertEquals(0, ledger.shedBiggest(0.1, "out of memory"), "none left holding bytes");
      assertEquals(List.of(), shed);
    } finally {
      loop.finishAndReleaseAll();
    }
  }

  @Test
  void aBudgetReachedForLongerThanShedAfterResetsTheBiggestHolders() {
    EmbeddedChannel loop = new EmbeddedChannel();
    long[] now = {0};
    GatewayConfig.Overload withBudget = new GatewayConfig.Overload(config().heap(),
        config().direct(), config().checkInterval(), new GatewayConfig.Budget(
            new GatewayConfig.Threshold(0, 20 * MIB), Duration.ofSeconds(5)));
    // Measured only when the test asks.
    try (OverloadManager manager = new OverloadManager(withBudget, new FixedMemory(),
        () -> now[0], Duration.ofHours(1).toMillis())) {
      StreamLedger ledger = manager.ledger(loop.eventLoop());
      List<String> shed = new ArrayList<>();
      for (int i = 1; i <= 10; i++) {
        ledger.add(new Holder(i * MIB, shed));
      }
      manager.checkBudget(25 * MIB);
      assertTrue(manager.budget().paused(), "past the budget: grants held back");
      assertEquals(OverloadManager.State.NORMAL, manager.state(),
          "the budget refuses nothing: it holds peers back");
      now[0] = Duration.ofSeconds(4).toNanos();
      manager.checkBudget(25 * MIB);
      loop.runPendingTasks();
      assertEquals(List.of(), shed, "reached for less than shedAfter: nobody is reset");

      now[0] = Duration.ofSeconds(5).toNanos();
      manager.checkBudget(25 * MIB);
      loop.runPendingTasks();
      assertEquals(1, shed.size(), shed.toString());
      assertTrue(shed.get(0).startsWith(10 * MIB + ": ")
          && shed.get(0).contains("limits.overload.budget")
          && shed.get(0).contains("shedAfter"), shed.get(0));

      now[0] += 1; // the next 10 ms measurement: not again before checkInterval has passed
      manager.checkBudget(25 * MIB);
      loop.runPendingTasks();
      assertEquals(1, shed.size());

      manager.checkBudget(17 * MIB); // below nine tenths
      assertTrue(!manager.budget().paused());
      now[0] += Duration.ofHours(2).toNanos();
      manager.checkBudget(19 * MIB);
      loop.runPendingTasks();
      assertEquals(1, shed.size(), "not reached again: nothing more is reset");
    } finally {
      loop.finishAndReleaseAll();
    }
  }

  @Test
  void theBudgetIsMeasuredTheMoreOftenTheCloserItIs() {
    long min = OverloadManager.BUDGET_INTERVAL_MILLIS;
    assertEquals(OverloadManager.BUDGET_MAX_INTERVAL_MILLIS,
        OverloadManager.budgetDelayMillis(256 * MIB, min), "far from it: every 100 ms");
    assertEquals(25, OverloadManager.budgetDelayMillis(50 * MIB, min),
        "50 MiB of room fill in 25 ms at 2 GiB/s");
    assertEquals(min, OverloadManager.budgetDelayMillis(MIB, min), "close: every 10 ms");
    assertEquals(min, OverloadManager.budgetDelayMillis(0, min), "reached: every 10 ms");
  }
}
