package io.meshgate.gateway.telemetry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.meshgate.testing.Await;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.StringWriter;
import java.io.Writer;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
class AccessLogTest {
  private static AccessLog.Entry entry(String path) {
    return new AccessLog.Entry(1_700_000_000_123L, 1_500_000, "rest", "users",
        "acme.Users", "GetUser", "OK", 200, "GET", path, 10, 20, "10.0.0.1", "10.0.0.2:50051",
        "4bf92f3577b34da6a3ce929d0e0e4736", "alice", null);
  }

  @Test
  void aStalledDiskDropsEntriesInsteadOfBlockingCallers() throws Exception {
    CountDownLatch disk = new CountDownLatch(1);
    StringWriter written = new StringWriter();
    Writer stalling = new Writer() {
      @Override
      public void write(char[] buf, int off, int len) {
        try {
          disk.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        written.write(buf, off, len);
      }

      @Override
      public void flush() {}

      @Override
      public void close() {}
    };
    Counter dropped = new SimpleMeterRegistry().counter("dropped");
    AccessLog log = AccessLog.toWriter(stalling, 16, dropped);
    // 5,000 calls finish while the disk does not move: none of them may wait for it.
    for (int i = 0; i < 5_000; i++) {
      log.log(entry("/v1/users/" + i));
    }
    assertTrue(dropped.count() >= 5_000 - 16 - 256,
        "what does not fit the buffer is dropped: " + dropped.count());
    long kept = 5_000 - (long) dropped.count();
    disk.countDown();
    log.close();
    long lines = written.toString().lines().count();
    assertEquals(kept, lines, "everything accepted is written once the disk moves");
  }

  @Test
  void linesAreJsonEvenWithQuotesAndControlCharacters() {
    StringBuilder line = new StringBuilder();
    AccessLog.format(entry("/v1/\"odd\"\n\tpath\u0001"), line);
    assertTrue(line.toString().endsWith("}\n"));
    JsonObject json = JsonParser.parseString(line.toString()).getAsJsonObject();
    assertEquals("/v1/\"odd\"\n\tpath\u0001", json.get("path").getAsString());
    assertEquals("2023-11-14T22:13:20.123Z", json.get("time").getAsString());
    assertEquals(1.5, json.get("durationMs").getAsDouble());
    assertEquals("alice", json.get("subject").getAsString());
    assertEquals(200, json.get("httpStatus").getAsInt());
  }

  @Test
  void writesEveryEntryWhenTheDiskKeepsUp() throws Exception {
    StringWriter written = new StringWriter();
    Counter dropped = new SimpleMeterRegistry().counter("dropped");
    AccessLog log = AccessLog.toWriter(written, 1024, dropped);
    for (int i = 0; i < 500; i++) {
      log.log(entry("/v1/users/" + i));
    }
    Await.until("every line is written", Duration.ofSeconds(10),
        () -> written.toString().lines().count() == 500);
    log.close();
    assertEquals(0, dropped.count());
  }
}
