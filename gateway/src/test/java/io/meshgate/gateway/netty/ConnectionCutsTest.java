package io.meshgate.gateway.netty;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.meshgate.gateway.config.GatewayConfig;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Cut connections are all counted but logged at most once per reason per interval. */
class ConnectionCutsTest {
  private final AtomicLong nanos = new AtomicLong(TimeUnit.HOURS.toNanos(1));
  private final ConnectionCuts cuts = new ConnectionCuts(new AbuseMemory(
      new GatewayConfig.AbuseBan(3, Duration.ofMinutes(1), Duration.ofSeconds(10),
          Duration.ofMinutes(10), 100), nanos::get), nanos::get);
  private final Logger logger = Logger.getLogger(ConnectionCuts.class.getName());
  private final List<String> lines = new CopyOnWriteArrayList<>();
  private final Handler capture = new Handler() {
    @Override
    public void publish(LogRecord record) {
      lines.add(record.getMessage());
    }

    @Override
    public void flush() {}

    @Override
    public void close() {}
  };

  @BeforeEach
  void listen() {
    logger.addHandler(capture);
  }

  @AfterEach
  void stopListening() {
    logger.removeHandler(capture);
  }

  @Test
  void aFloodOfCutsIsOneLinePerIntervalWithTheCountOfTheRest() {
    for (int i = 0; i < 1000; i++) {
      int n = i;
      cuts.cut(ConnectionCuts.Reason.RAPID_RESET, "192.0.2.1", Level.WARNING, () -> "cut " + n);
      nanos.addAndGet(TimeUnit.MILLISECONDS.toNanos(5)); // 1,000 cuts over 5 s
    }
    assertEquals(List.of("cut 0"), lines);
    assertEquals(1000, cuts.count(ConnectionCuts.Reason.RAPID_RESET));
    nanos.addAndGet(TimeUnit.SECONDS.toNanos(5));
    cuts.cut(ConnectionCuts.Reason.RAPID_RESET, "192.0.2.1", Level.WARNING, () -> "cut later");
    assertEquals(2, lines.size());
    assertEquals("cut later (and 999 more cut for rapid_reset since the last line)",
        lines.get(1));
  }

  @Test
  void reasonsAreLimitedApart() {
    cuts.cut(ConnectionCuts.Reason.RAPID_RESET, "192.0.2.1", Level.WARNING, () -> "reset");
    cuts.cut(ConnectionCuts.Reason.ERROR, "192.0.2.1", Level.WARNING, () -> "error");
    cuts.cut(ConnectionCuts.Reason.ERROR, "192.0.2.1", Level.WARNING, () -> "error again");
    assertEquals(List.of("reset", "error"), lines);
    assertEquals(2, cuts.count(ConnectionCuts.Reason.ERROR));
  }

  @Test
  void aSuppressedLineIsNotEvenMade() {
    cuts.cut(ConnectionCuts.Reason.ERROR, "192.0.2.1", Level.WARNING, () -> "first");
    cuts.cut(ConnectionCuts.Reason.ERROR, "192.0.2.1", Level.WARNING, () -> {
      throw new AssertionError("the message of a suppressed line was built");
    });
    assertTrue(lines.contains("first"));
  }
}
