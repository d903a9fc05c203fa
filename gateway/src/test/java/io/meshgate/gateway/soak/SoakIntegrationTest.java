package io.meshgate.gateway.soak;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The soak ({@link Soak}) for {@code meshgate.soak} (2 minutes in the suite; {@code
 * bench/run-soak} runs it for 30): a gateway process under mixed load, reloads and hostile
 * clients, with Netty's paranoid leak detection, stays flat and fails no call.
 */
class SoakIntegrationTest {
  @Test
  @Timeout(value = 3, unit = TimeUnit.HOURS) // the soak's own bound: its duration + 3 minutes
  void theGatewayStaysFlatUnderMixedLoadReloadsAndHostileClients() {
    Duration duration = Soak.parse(System.getProperty("meshgate.soak", "2m"));
    // Eight samples at least, so that the warm-up leaves six to judge.
    Duration interval = duration.compareTo(Duration.ofMinutes(8)) >= 0 ? Duration.ofMinutes(1)
        : duration.dividedBy(8);
    Soak.Report report = assertTimeoutPreemptively(duration.plusMinutes(3), () -> Soak.run(
        new Soak.Options(duration, interval, Duration.ofSeconds(10), true), System.out));
    assertEquals(List.of(), report.failures(), "legitimate calls failed");
    assertEquals(List.of(), report.hostileSurprises(), "hostile cases answered wrongly");
    assertEquals(List.of(), report.leaks(), "Netty reported leaked buffers");
    assertEquals(List.of(), report.growth(), "the gateway grew");
    long minimumReloads = duration.toSeconds() / 10 - 2;
    assertTrue(report.reloads() >= minimumReloads, report.reloads() + " reloads applied"
        + " (expected at least " + minimumReloads + ")");
    assertTrue(report.calls() > duration.toSeconds() * 100, report.calls() + " calls");
  }
}
