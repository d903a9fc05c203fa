package io.meshgate.gateway.front;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.meshgate.gateway.testing.SampleFleet;
import io.meshgate.gateway.testing.TestGateway;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Malformed HTTP/1.1 on the admin port and the main port: every request gets a 4xx (never a
 * 5xx, never silence) or a closed connection, and the ports keep serving. A seeded corpus of
 * random and mutated requests drives both parsers; a failing seed is printed so it can be
 * replayed.
 */
@Timeout(120)
class MalformedHttpIntegrationTest {
  private static final String TOKEN = "a-token-for-malformed-requests";
  /** Long enough for any answer on loopback; a connection silent this long counts as hung. */
  private static final int ANSWER_MILLIS = 5_000;
  @TempDir
  static Path dir;
  private static SampleFleet fleet;
  private static TestGateway gateway;

  @BeforeAll
  static void start() throws Exception {
    fleet = SampleFleet.start();
    gateway = TestGateway.start("listener: {host: 127.0.0.1, port: 0, workerThreads: 2}\n"
        + "admin: {host: 127.0.0.1, port: 0, token: " + TOKEN + "}\n"
        + "transcoding: {descriptors: [" + SampleFleet.descriptorSet(dir) + "]}\n"
        + fleet.clustersAndRoutes());
  }

  @AfterAll
  static void stop() {
    if (gateway != null) {
      gateway.close();
    }
    if (fleet != null) {
      fleet.close();
    }
  }

  /** What came back on one connection: the status line (or null), and whether it closed. */
  private record Answer(String statusLine, boolean closed, String text) {
    int status() {
      return statusLine == null ? 0 : Integer.parseInt(statusLine.split(" ")[1]);
    }
  }

  /**
   * Sends {@code request}, then reads until the server closes or goes quiet. With
   * {@code halfClose} the client ends its side first, so that the server also sees the end of
   * an unfinished request (a server that closes on it may drop an answer still being made).
   */
  private static Answer send(int port, byte[] request, boolean halfClose) throws IOException {
    try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), port)) {
      socket.setSoTimeout(ANSWER_MILLIS);
      socket.getOutputStream().write(request);
      socket.getOutputStream().flush();
      if (halfClose) {
        socket.shutdownOutput();
      }
      InputStream in = socket.getInputStream();
      ByteArrayOutputStream read = new ByteArrayOutputStream();
      byte[] buffer = new byte[4096];
      boolean closed = false;
      try {
        int n;
        while ((n = in.read(buffer)) >= 0) {
          read.write(buffer, 0, n);
        }
        closed = true;
      } catch (SocketTimeoutException silent) {
        closed = false;
      } catch (IOException reset) {
        closed = true; // a reset closes too
      }
      String text = read.toString(StandardCharsets.ISO_8859_1);
      String statusLine = text.startsWith("HTTP/1.") ? text.substring(0, text.indexOf('\r'))
          : null;
      return new Answer(statusLine, closed, text);
    }
  }

  private static Answer send(int port, String request) throws IOException {
    return send(port, request.getBytes(StandardCharsets.ISO_8859_1), false);
  }

  @Test
  void adminPortAnswersAMalformedPercentEscapeWith400() throws Exception {
    int admin = gateway.gateway().adminPort();
    Answer answer = send(admin, "GET /%ZZ HTTP/1.1\r\nHost: x\r\n\r\n");
    assertEquals(400, answer.status(), answer.text());
    assertTrue(answer.text().contains("malformed path"), answer.text());
    assertTrue(answer.closed(), "the connection is closed after a malformed request");
    Answer api = send(admin, "GET /api/routes/%ZZ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        + TOKEN + "\r\n\r\n");
    assertEquals(400, api.status(), api.text());
  }

  @Test
  void adminEntryNamesAreDecodedOnce() throws Exception {
    Answer answer = send(gateway.gateway().adminPort(), "GET /api/routes/no%2520such HTTP/1.1\r\n"
        + "Host: x\r\nAuthorization: Bearer " + TOKEN + "\r\nConnection: close\r\n\r\n");
    assertEquals(404, answer.status(), answer.text());
    assertTrue(answer.text().contains("'no%20such'"), answer.text());
  }

  @Test
  void adminPortAnswersGarbageWith400() throws Exception {
    Answer answer = send(gateway.gateway().adminPort(), "\u0001\u0002 nonsense\r\n\r\n");
    assertEquals(400, answer.status(), answer.text());
  }

  private static final String SPECIAL = "%:\r\n \u0000{}\"";

  /** Requests made by mutating valid ones, and plain random bytes, from one seed. */
  private static byte[] malformed(Random random, List<String> valid) {
    if (random.nextInt(4) == 0) {
      byte[] noise = new byte[1 + random.nextInt(300)];
      random.nextBytes(noise);
      return noise;
    }
    byte[] bytes = valid.get(random.nextInt(valid.size())).getBytes(StandardCharsets.ISO_8859_1);
    int edits = 1 + random.nextInt(6);
    for (int i = 0; i < edits; i++) {
      int at = random.nextInt(bytes.length);
      switch (random.nextInt(4)) {
        case 0 -> bytes[at] = (byte) random.nextInt(256);
        case 1 -> bytes[at] = (byte) SPECIAL.charAt(random.nextInt(SPECIAL.length()));
        case 2 -> bytes = java.util.Arrays.copyOf(bytes, at); // truncated
        default -> {
          byte[] longer = new byte[bytes.length + 16];
          System.arraycopy(bytes, 0, longer, 0, at);
          for (int j = 0; j < 16; j++) {
            longer[at + j] = (byte) "%ZZ%".charAt(j % 4);
          }
          System.arraycopy(bytes, at, longer, at + 16, bytes.length - at);
          bytes = longer;
        }
      }
      if (bytes.length == 0) {
        bytes = new byte[] {'G'};
      }
    }
    return bytes;
  }

  /**
   * Drives {@code port} with the seeded corpus. A request may be answered (never with a 5xx)
   * or cut, but no exception may escape a pipeline unhandled: Netty logs those as having
   * "reached the tail of the pipeline", which is how the admin port's hang on a bad escape
   * showed.
   */
  private static void fuzz(int port, List<String> valid, String healthRequest, int expectedHealth)
      throws IOException {
    List<String> failures = new ArrayList<>();
    List<String> unhandled = new java.util.concurrent.CopyOnWriteArrayList<>();
    java.util.logging.Logger netty = java.util.logging.Logger.getLogger("io.netty");
    java.util.logging.Handler watch = new java.util.logging.Handler() {
      @Override
      public void publish(java.util.logging.LogRecord record) {
        if (String.valueOf(record.getMessage()).contains("reached at the tail of the pipeline")) {
          unhandled.add(String.valueOf(record.getThrown()));
        }
      }

      @Override
      public void flush() {}

      @Override
      public void close() {}
    };
    netty.addHandler(watch);
    try {
      for (long seed = 1; seed <= 150; seed++) {
        byte[] request = malformed(new Random(seed), valid);
        Answer answer = send(port, request, true);
        if (answer.status() >= 500 || (answer.statusLine() == null && !answer.closed())) {
          failures.add("seed " + seed + ": " + (answer.statusLine() == null ? "no answer"
              : answer.statusLine()));
        }
      }
    } finally {
      netty.removeHandler(watch);
    }
    assertTrue(failures.isEmpty(), "malformed requests answered with 5xx or silence: "
        + failures);
    assertTrue(unhandled.isEmpty(), "exceptions no handler took: " + unhandled);
    assertEquals(expectedHealth, send(port, healthRequest).status(), "still serving");
  }

  @Test
  void adminParserSurvivesASeededCorpusOfMalformedRequests() throws Exception {
    String auth = "Authorization: Bearer " + TOKEN + "\r\n";
    fuzz(gateway.gateway().adminPort(), List.of(
        "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET /api/routes/users HTTP/1.1\r\nHost: a\r\n" + auth + "\r\n",
        "POST /api/validate HTTP/1.1\r\nHost: a\r\n" + auth
            + "Content-Length: 12\r\n\r\nlistener: {}",
        "PUT /api/routes/x HTTP/1.1\r\nHost: a\r\n" + auth + "Content-Length: 2\r\n\r\n{}"),
        "GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 200);
  }

  @Test
  void mainPortParserSurvivesASeededCorpusOfMalformedRequests() throws Exception {
    fuzz(gateway.port(), List.of(
        "GET /v1/users/u-1 HTTP/1.1\r\nHost: a\r\n\r\n",
        "POST /v1/echo HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
            + "Content-Length: 17\r\n\r\n{\"message\":\"hi\"}",
        "GET /v1/users?name_prefix=G%20 HTTP/1.1\r\nHost: a\r\n\r\n",
        "POST /v1/orders:import HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "5\r\n[{}]\n\r\n0\r\n\r\n"),
        "GET /v1/users/u-1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 200);
    assertFalse(gateway.gateway().openConnections() > 5, "the fuzzed connections are closed");
  }
}
