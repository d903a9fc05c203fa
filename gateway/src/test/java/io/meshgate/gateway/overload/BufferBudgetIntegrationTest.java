package io.meshgate.gateway.overload;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.meshgate.gateway.testing.HeldUploads;
import io.meshgate.gateway.testing.StallingClient;
import io.meshgate.gateway.testing.TestGateway;
import io.meshgate.samples.SampleServer;
import io.meshgate.samples.echo.v1.EchoRequest;
import io.meshgate.samples.echo.v1.EchoServiceGrpc;
import io.meshgate.testing.Await;
import io.netty.buffer.PooledByteBufAllocator;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The budget of buffered bytes ({@code limits.overload.budget}) against clients that stop
 * reading: the gateway holds about the budget, not every stream's window, and nothing fails —
 * once the clients read, every message arrives; a budget that stays reached for
 * {@code shedAfter} resets the streams holding the most.
 */
@Timeout(120)
class BufferBudgetIntegrationTest {
  private static final int WAVES = 20;
  private static final int STREAMS_PER_WAVE = 6;
  private static final int STREAMS = WAVES * STREAMS_PER_WAVE;
  private static final int MESSAGE_BYTES = 64 * 1024;
  private static final int MESSAGES = 24;
  private static final long BUDGET = 24L << 20;

  private SampleServer echo;

  @BeforeEach
  void start() throws Exception {
    echo = SampleServer.start(SampleServer.Kind.ECHO, "127.0.0.1", 0);
    // What earlier tests in this JVM left pinned is freed first: the budget counts it all.
    Await.until("buffers of earlier tests are released", Duration.ofSeconds(30),
        () -> PooledByteBufAllocator.DEFAULT.pinnedDirectMemory() < 8L << 20);
  }

  @AfterEach
  void stop() {
    echo.close();
  }

  /**
   * Opens the stalled streams in waves, each on a connection of its own, the next once the
   * backend has sent what the last one let it: streams of a real gateway open over time, and
   * a stream's first window is granted as it opens, before the budget can say anything.
   */
  private List<StallingClient> stallInWaves(TestGateway gateway) throws InterruptedException {
    List<StallingClient> waves = new ArrayList<>();
    try {
      for (int i = 0; i < WAVES; i++) {
        waves.add(StallingClient.open("127.0.0.1", gateway.port(), 1, STREAMS_PER_WAVE,
            MESSAGE_BYTES, MESSAGES));
        Await.settled("messages the backend streamed", Duration.ofMillis(200),
            Duration.ofSeconds(30), () -> echo.echo().messagesStreamed());
      }
    } catch (InterruptedException | RuntimeException e) {
      waves.forEach(StallingClient::close);
      throw e;
    }
    return waves;
  }

  private String config(String shedAfter) {
    // Windows of 1 MiB per stream: 120 stalled streams pin 140 MiB without the budget.
    return """
        limits:
          streamWindowBytes: 1MiB
          connectionWindowBytes: 2MiB
          overload: {budget: {bytes: 24MiB, shedAfter: %s}}
        clusters: [{name: echo, endpoints: ["127.0.0.1:%d"]}]
        routes: [{match: {servicePrefix: ""}, cluster: echo}]
        """.formatted(shedAfter, echo.port());
  }

  @Test
  void clientsThatStopReadingPauseTheBackendsAtTheBudgetAndGetEverythingOnceTheyRead()
      throws Exception {
    try (TestGateway gateway = TestGateway.start(config("0s"))) {
      BufferBudget budget = gateway.gateway().overload().budget();
      long messagesBefore = echo.echo().messagesStreamed();
      List<StallingClient> waves = stallInWaves(gateway);
      try {
        long settled = echo.echo().messagesStreamed();
        long sent = (settled - messagesBefore) * MESSAGE_BYTES;
        long held = PooledByteBufAllocator.DEFAULT.pinnedDirectMemory();
        System.out.printf("budget %d MiB: %d stalled streams, backend sent %d MiB, gateway"
            + " buffers hold %d MiB, budget paused %s%n", BUDGET >> 20, STREAMS, sent >> 20,
            held >> 20, budget.paused());
        assertTrue(budget.paused(), "the stalled streams' buffers reached the budget");
        // The budget, what the windows of the wave that reached it let in before it was
        // measured (two waves' worth, for the 10 ms between measurements), and per stream the
        // small window and the message waiting for the client. The streams' windows are 1 MiB
        // each: without the budget the backend sends 110 MiB and the buffers hold 140.
        long bound = BUDGET + 2L * STREAMS_PER_WAVE * (1 << 20)
            + (long) STREAMS * (BufferBudget.PAUSED_WINDOW + MESSAGE_BYTES);
        assertTrue(sent < bound, "the backend could send " + (sent >> 20) + " MiB with a "
            + (BUDGET >> 20) + " MiB budget (bound " + (bound >> 20) + " MiB)");
        // Half again for the allocator's rounding of buffers to its size classes.
        assertTrue(held < bound * 3 / 2, "the gateway's buffers hold " + (held >> 20)
            + " MiB (bound " + (bound * 3 / 2 >> 20) + " MiB)");

        // A small call still goes through while the budget is reached.
        assertEquals("still served", EchoServiceGrpc.newBlockingStub(gateway.channel())
            .withDeadlineAfter(10, TimeUnit.SECONDS)
            .echo(EchoRequest.newBuilder().setMessage("still served").build()).getMessage());

        for (StallingClient wave : waves) {
          wave.resume();
        }
        Await.until("every stalled stream ends", Duration.ofSeconds(60),
            () -> sum(waves, StallingClient::ends) == STREAMS);
        assertEquals(STREAMS, sum(waves, StallingClient::okEnds),
            "every stream ends with grpc-status 0");
        assertEquals((long) STREAMS * MESSAGES, sum(waves, StallingClient::messages),
            "every message arrives");
        assertEquals(0, sum(waves, StallingClient::resets), "nothing was reset");
        Await.until("the budget has room again", Duration.ofSeconds(30), () -> !budget.paused());
        assertTrue(budget.pauses() >= 1);
        assertEquals(0, gateway.gateway().overload().shedCount());
      } finally {
        waves.forEach(StallingClient::close);
      }
    }
  }

  private static long sum(List<StallingClient> waves,
      java.util.function.ToLongFunction<StallingClient> count) {
    return waves.stream().mapToLong(count).sum();
  }

  @Test
  void aBudgetReachedForLongerThanShedAfterResetsTheStreamsHoldingTheMost() throws Exception {
    try (TestGateway gateway = TestGateway.start(config("1s"))) {
      BufferBudget budget = gateway.gateway().overload().budget();
      List<StallingClient> waves = stallInWaves(gateway);
      try {
        Await.until("the gateway resets stalled streams", Duration.ofSeconds(60),
            () -> sum(waves, StallingClient::resets) > 0);
        Await.until("the budget has room again", Duration.ofSeconds(60),
            () -> !budget.paused());
        long shed = gateway.gateway().overload().shedCount();
        System.out.printf("budget %d MiB, shedAfter 1 s: %d streams reset, %d MiB held after%n",
            BUDGET >> 20, shed, PooledByteBufAllocator.DEFAULT.pinnedDirectMemory() >> 20);
        assertTrue(shed > 0 && shed < STREAMS, shed + " streams reset: only the biggest holders"
            + " until the budget has room");
        assertEquals("after shedding", EchoServiceGrpc.newBlockingStub(gateway.channel())
            .withDeadlineAfter(10, TimeUnit.SECONDS)
            .echo(EchoRequest.newBuilder().setMessage("after shedding").build()).getMessage());
      } finally {
        waves.forEach(StallingClient::close);
      }
    }
  }

  @Test
  void clientsUploadingIntoABackendThatDoesNotReadArePausedAtTheBudget() throws Exception {
    int calls = 40;
    int messages = 64; // 4 MiB a call
    // One client connection with a window large enough for every call: without the budget
    // each call would park its stream's 1 MiB window in the gateway.
    try (HeldUploads backend = HeldUploads.start();
        TestGateway gateway = TestGateway.start("""
            limits:
              streamWindowBytes: 1MiB
              connectionWindowBytes: 256MiB
              overload: {budget: {bytes: 16MiB, shedAfter: 0s}}
            clusters: [{name: echo, endpoints: ["127.0.0.1:%d"]}]
            routes: [{match: {servicePrefix: ""}, cluster: echo}]
            """.formatted(backend.port()))) {
      BufferBudget budget = gateway.gateway().overload().budget();
      java.util.concurrent.atomic.AtomicLong sent = new java.util.concurrent.atomic.AtomicLong();
      List<java.util.concurrent.CompletableFuture<String>> answers = new ArrayList<>();
      for (int c = 0; c < calls; c++) {
        answers.add(HeldUploads.upload(gateway.channel(), messages, MESSAGE_BYTES, sent, 90));
        if (c % 5 == 4) { // in waves, as calls open over time
          Await.settled("messages the clients could send", Duration.ofMillis(300),
              Duration.ofSeconds(30), sent::get);
        }
      }
      long held = PooledByteBufAllocator.DEFAULT.pinnedDirectMemory();
      System.out.printf("budget 16 MiB: %d uploads into a backend that reads nothing, clients"
          + " sent %d MiB, gateway buffers hold %d MiB, budget paused %s%n", calls,
          (sent.get() * MESSAGE_BYTES) >> 20, held >> 20, budget.paused());
      assertEquals(0, backend.received(), "the backend has read nothing yet");
      assertTrue(budget.paused(), "the uploads' buffers reached the budget");
      assertTrue(held < 32L << 20, "the gateway's buffers hold " + (held >> 20) + " MiB under a"
          + " 16 MiB budget (each upload's stream window is 1 MiB: " + calls + " MiB without)");

      backend.readAll();
      for (java.util.concurrent.CompletableFuture<String> answer : answers) {
        assertEquals(Integer.toString(messages), answer.get(60, TimeUnit.SECONDS),
            "every message of every upload arrives once the backend reads");
      }
      Await.until("the budget has room again", Duration.ofSeconds(30), () -> !budget.paused());
    }
  }
}
