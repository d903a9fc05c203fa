package io.meshgate.gateway.websocket;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import io.meshgate.gateway.testing.SampleFleet;
import io.meshgate.gateway.testing.TestGateway;
import io.meshgate.samples.EchoServiceImpl;
import io.meshgate.testing.Await;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * WebSocket streams on REST routes, with Java's own WebSocket client: bidirectional, client and
 * server streams, the final status frame and Close code, errors, a unary route refused at the
 * handshake, an oversized message, policies before the handshake, a slow reader that holds the
 * backend back, and a client that vanishes mid-stream.
 */
class WebSocketIntegrationTest {
  @TempDir
  static Path dir;
  private static final ScheduledExecutorService scheduler =
      Executors.newSingleThreadScheduledExecutor();
  private static EchoServiceImpl echo;
  private static Server backend;
  private static TestGateway gateway;
  private static final HttpClient http = HttpClient.newHttpClient();

  @BeforeAll
  static void start() throws Exception {
    echo = new EchoServiceImpl("ws-backend", scheduler);
    backend = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(echo).build().start();
    gateway = TestGateway.start("""
        transcoding: {descriptors: ["%s"]}
        limits: {maxMessageBytes: 65536}
        clusters: [{name: echo, endpoints: ["127.0.0.1:%d"]}]
        routes:
          - match: {service: meshgate.samples.echo.v1.EchoService, method: Collect}
            cluster: echo
            rateLimits: [{key: route, rate: 1/h, burst: 1}]
          - {match: {servicePrefix: ""}, cluster: echo}
        """.formatted(SampleFleet.descriptorSet(dir), backend.getPort()));
  }

  @AfterAll
  static void stop() throws Exception {
    gateway.close();
    backend.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    scheduler.shutdownNow();
  }

  /** Collects text frames and the Close; reads {@code demand} frames at a time. */
  private static class Recorder implements WebSocket.Listener {
    final List<String> frames = new CopyOnWriteArrayList<>();
    final CompletableFuture<Integer> closed = new CompletableFuture<>();
    final boolean autoRequest;
    private final StringBuilder partial = new StringBuilder();

    Recorder(boolean autoRequest) {
      this.autoRequest = autoRequest;
    }

    @Override
    public void onOpen(WebSocket webSocket) {
      webSocket.request(1);
    }

    @Override
    public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
      partial.append(data);
      if (last) {
        frames.add(partial.toString());
        partial.setLength(0);
      }
      if (autoRequest || !last) {
        webSocket.request(1); // a slow reader still reads the rest of the frame it started
      }
      return null;
    }

    @Override
    public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
      closed.complete(statusCode);
      return null;
    }

    @Override
    public void onError(WebSocket webSocket, Throwable error) {
      closed.completeExceptionally(error);
    }

    int awaitClose() throws Exception {
      return closed.get(10, TimeUnit.SECONDS);
    }

    JsonObject frame(int i) {
      return JsonParser.parseString(frames.get(i)).getAsJsonObject();
    }
  }

  private static WebSocket open(String pathAndQuery, Recorder recorder, String... headers)
      throws Exception {
    WebSocket.Builder builder = http.newWebSocketBuilder();
    for (int i = 0; i < headers.length; i += 2) {
      builder.header(headers[i], headers[i + 1]);
    }
    return builder.buildAsync(URI.create("ws://" + gateway.address() + pathAndQuery), recorder)
        .get(10, TimeUnit.SECONDS);
  }

  @Test
  void aBidirectionalMethodStreamsBothWaysOverOneSocket() throws Exception {
    Recorder recorder = new Recorder(true);
    WebSocket socket = open("/v1/echo:chat", recorder);
    socket.sendText("{\"message\": \"a\"}", true).get(5, TimeUnit.SECONDS);
    Await.until("the first answer before the second request", Duration.ofSeconds(10),
        () -> recorder.frames.size() == 1);
    assertEquals("a", recorder.frame(0).get("message").getAsString());
    socket.sendText("{\"message\": \"b\"}", true).get(5, TimeUnit.SECONDS);
    socket.sendText("", true).get(5, TimeUnit.SECONDS); // no more requests
    assertEquals(1000, recorder.awaitClose());
    assertEquals(3, recorder.frames.size(), recorder.frames.toString());
    assertEquals("b", recorder.frame(1).get("message").getAsString());
    assertEquals(1, recorder.frame(1).get("sequence").getAsInt());
    assertEquals("{\"status\":\"OK\"}", recorder.frames.get(2));
  }

  @Test
  void aServerStreamTakesItsRequestFromThePathAndQuery() throws Exception {
    Recorder recorder = new Recorder(true);
    open("/v1/echo:expand?message=hi&responseCount=3", recorder);
    assertEquals(1000, recorder.awaitClose());
    assertEquals(List.of("hi", "hi", "hi"), recorder.frames.subList(0, 3).stream()
        .map(f -> JsonParser.parseString(f).getAsJsonObject().get("message").getAsString())
        .toList());
    assertEquals("{\"status\":\"OK\"}", recorder.frames.get(3));
  }

  @Test
  void aClientStreamEndsWithTheClientsClose() throws Exception {
    Recorder recorder = new Recorder(true);
    WebSocket socket = open("/v1/echo:collect", recorder);
    for (String message : List.of("x", "y", "z")) {
      socket.sendText("{\"message\": \"" + message + "\"}", true).get(5, TimeUnit.SECONDS);
    }
    socket.sendClose(WebSocket.NORMAL_CLOSURE, "done").get(5, TimeUnit.SECONDS);
    assertEquals(1000, recorder.awaitClose());
    assertEquals(3, recorder.frame(0).get("receivedCount").getAsInt(), recorder.frames.toString());

    // The route allows one Collect an hour: the second is refused before the handshake.
    ExecutionException refused = assertThrows(ExecutionException.class,
        () -> open("/v1/echo:collect", new Recorder(true)));
    assertEquals(429, ((WebSocketHandshakeException) refused.getCause()).getResponse()
        .statusCode());
  }

  @Test
  void aFailureIsTheLastFrameAndTheCloseCode() throws Exception {
    Recorder recorder = new Recorder(true);
    WebSocket socket = open("/v1/echo:chat", recorder);
    socket.sendText("{\"message\": \"m\", \"failCode\": 9, \"failMessage\": \"not now\"}", true)
        .get(5, TimeUnit.SECONDS);
    assertEquals(1011, recorder.awaitClose());
    JsonObject error = recorder.frame(recorder.frames.size() - 1).getAsJsonObject("error");
    assertEquals(9, error.get("code").getAsInt());
    assertEquals("not now", error.get("message").getAsString());

    Recorder bad = new Recorder(true);
    open("/v1/echo:chat", bad).sendText("{\"mesage\": 1}", true).get(5, TimeUnit.SECONDS);
    assertEquals(1007, bad.awaitClose());
    assertTrue(bad.frames.get(bad.frames.size() - 1).contains("mesage"), bad.frames.toString());
  }

  @Test
  void unaryRoutesAndUnknownPathsAreRefusedAtTheHandshake() {
    ExecutionException unary = assertThrows(ExecutionException.class,
        () -> open("/v1/echo", new Recorder(true)));
    assertEquals(400, ((WebSocketHandshakeException) unary.getCause()).getResponse()
        .statusCode());
    ExecutionException unknown = assertThrows(ExecutionException.class,
        () -> open("/v1/nothing:here", new Recorder(true)));
    assertEquals(404, ((WebSocketHandshakeException) unknown.getCause()).getResponse()
        .statusCode());
  }

  @Test
  void aMessageOverTheLimitClosesWith1009() throws Exception {
    Recorder recorder = new Recorder(true);
    WebSocket socket = open("/v1/echo:chat", recorder);
    socket.sendText("{\"message\": \"" + "x".repeat(70_000) + "\"}", true);
    assertEquals(1009, recorder.awaitClose());
  }

  @Test
  void aSlowReaderHoldsTheBackendBack() throws Exception {
    long before = echo.messagesStreamed();
    Recorder slow = new Recorder(false); // reads one frame, then no more until asked
    WebSocket socket = open("/v1/echo:expand?message=big&responseCount=2000"
        + "&responseSize=20000", slow);
    Await.until("the first message", Duration.ofSeconds(10), () -> !slow.frames.isEmpty());
    // 2000 messages of 20 kB are 40 MB; what the windows and socket buffers hold is a few.
    long streamed = Await.settled("the backend to be held back by flow control",
        Duration.ofMillis(500), Duration.ofSeconds(20), echo::messagesStreamed) - before;
    System.out.println("slow reader: the backend sent " + streamed + " of 2000 messages");
    assertTrue(streamed < 1000, "the backend sent " + streamed
        + " of 2000 messages to a client that read one");
    socket.abort();
  }

  @Test
  void aClientThatVanishesCancelsTheCall() throws Exception {
    long cancelled = echo.callsCancelled();
    Recorder recorder = new Recorder(true);
    WebSocket socket = open("/v1/echo:chat", recorder);
    socket.sendText("{\"message\": \"then gone\"}", true).get(5, TimeUnit.SECONDS);
    Await.until("an answer", Duration.ofSeconds(10), () -> !recorder.frames.isEmpty());
    socket.abort();
    Await.until("the backend's call to be cancelled", Duration.ofSeconds(10),
        () -> echo.callsCancelled() > cancelled);
  }

  @Test
  void quietSocketsArePingedAndThoseThatNeverAnswerAreClosed() throws Exception {
    try (TestGateway pinging = TestGateway.start("""
        transcoding: {descriptors: ["%s"]}
        limits: {webSocketPingInterval: 200ms}
        clusters: [{name: echo, endpoints: ["127.0.0.1:%d"]}]
        routes: [{match: {servicePrefix: ""}, cluster: echo}]
        """.formatted(SampleFleet.descriptorSet(dir), backend.getPort()))) {
      // Java's client answers pings by itself: three intervals later the socket still works.
      java.util.concurrent.atomic.AtomicInteger pings =
          new java.util.concurrent.atomic.AtomicInteger();
      Recorder recorder = new Recorder(true) {
        @Override
        public CompletionStage<?> onPing(WebSocket webSocket, java.nio.ByteBuffer message) {
          pings.incrementAndGet();
          webSocket.request(1);
          return null;
        }
      };
      WebSocket socket = http.newWebSocketBuilder().buildAsync(URI.create("ws://"
          + pinging.address() + "/v1/echo:chat"), recorder).get(10, TimeUnit.SECONDS);
      Await.until("three pings", Duration.ofSeconds(10), () -> pings.get() >= 3);
      socket.sendText("{\"message\": \"still here\"}", true).get(5, TimeUnit.SECONDS);
      Await.until("the answer", Duration.ofSeconds(10), () -> !recorder.frames.isEmpty());
      assertEquals("still here", recorder.frame(0).get("message").getAsString());
      socket.abort();

      // A client that never answers is closed with 1001 after a ping and as long again.
      try (java.net.Socket raw = new java.net.Socket("127.0.0.1", pinging.port())) {
        raw.setSoTimeout(10_000);
        raw.getOutputStream().write(("GET /v1/echo:chat HTTP/1.1\r\nHost: x\r\n"
            + "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
            .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        java.io.DataInputStream in = new java.io.DataInputStream(raw.getInputStream());
        StringBuilder head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) {
          head.append((char) in.readUnsignedByte());
        }
        assertTrue(head.toString().startsWith("HTTP/1.1 101"), head.toString());
        List<Integer> opcodes = new java.util.ArrayList<>();
        int closeCode = -1;
        while (closeCode < 0) {
          int opcode = in.readUnsignedByte() & 0x0f;
          int length = in.readUnsignedByte() & 0x7f; // server frames are not masked
          byte[] payload = in.readNBytes(length);
          opcodes.add(opcode);
          if (opcode == 0x8) {
            closeCode = ((payload[0] & 0xff) << 8) | (payload[1] & 0xff);
          }
        }
        assertEquals(0x9, opcodes.get(0), "a ping first: " + opcodes);
        assertEquals(1001, closeCode, "then the close, after the status frame: " + opcodes);
      }
    }
  }
}
