package io.meshgate.gateway.overload;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.meshgate.gateway.testing.Metrics;
import io.meshgate.gateway.testing.StallingClient;
import io.meshgate.gateway.testing.TestGateway;
import io.meshgate.samples.SampleServer;
import io.meshgate.samples.echo.v1.EchoRequest;
import io.meshgate.samples.echo.v1.EchoServiceGrpc;
import io.meshgate.testing.Await;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Memory runs out (here: low direct-memory watermarks, reached by streams a hostile client
 * stalls): the gateway refuses new connections, streams and requests with answers clients act
 * on, reports unready, resets the streams holding the most buffers — and serves again once the
 * memory is back.
 */
@Timeout(120)
class OverloadIntegrationTest {
  private static final int MESSAGE_BYTES = 64 * 1024;

  private static TestGateway start(SampleServer echo, String direct) throws Exception {
    return TestGateway.start("""
        limits:
          streamWindowBytes: 256KiB
          connectionWindowBytes: 1MiB
          overload: {direct: %s, checkInterval: 50ms}
        clusters: [{name: echo, endpoints: ["127.0.0.1:%d"]}]
        routes: [{match: {servicePrefix: ""}, cluster: echo}]
        """.formatted(direct, echo.port()));
  }

  @Test
  void pastTheRefuseWatermarkNewWorkIsRefusedUntilMemoryIsBack() throws Exception {
    SampleServer echo = SampleServer.start(SampleServer.Kind.ECHO, "127.0.0.1", 0);
    // No resets here (resetAt is the whole of direct memory): what the stalled streams hold
    // stays held, and so the gateway stays past refuseAt while they live.
    try (TestGateway gateway = start(echo, "{refuseAt: 24MiB, resetAt: 100%}");
        Socket http1 = new Socket(InetAddress.getLoopbackAddress(), gateway.port())) {
      http1.setSoTimeout(10_000);
      var stub = EchoServiceGrpc.newBlockingStub(gateway.channel());
      assertEquals("before", echo(stub, "before"));
      assertTrue(get(http1).startsWith("HTTP/1.1 404"), "the HTTP/1.1 connection is kept alive");
      assertEquals(200, readyz(gateway).statusCode());

      StallingClient stalling = StallingClient.open(gateway.port(), 3, 300, MESSAGE_BYTES);
      try {
        // Each stalled stream holds a parked message and the upstream window: some tens of
        // streams take the gateway past refuseAt, and it refuses the rest of them too.
        Await.until("the gateway refuses new work", Duration.ofSeconds(60),
            () -> gateway.gateway().overload().state() == OverloadManager.State.REFUSING);

        StatusRuntimeException refused = assertThrows(StatusRuntimeException.class,
            () -> echo(stub, "during"));
        assertEquals(Status.Code.UNAVAILABLE, refused.getStatus().getCode());
        assertTrue(refused.getStatus().getDescription().contains("REFUSED_STREAM"),
            refused.getStatus().toString());

        String answer = get(http1);
        assertTrue(answer.startsWith("HTTP/1.1 503"), answer);
        assertTrue(answer.toLowerCase().contains("retry-after: "), answer);
        assertTrue(answer.contains("overloaded") && answer.contains("direct memory"), answer);

        HttpResponse<String> ready = readyz(gateway);
        assertEquals(503, ready.statusCode());
        assertTrue(ready.body().contains("overloaded") && ready.body().contains("direct.refuseAt"),
            ready.body());

        try (Socket fresh = new Socket(InetAddress.getLoopbackAddress(), gateway.port())) {
          fresh.setSoTimeout(10_000);
          assertEquals(-1, fresh.getInputStream().read(), "a new connection is closed");
        }
        Metrics metrics = Metrics.scrape(gateway.gateway().adminPort());
        assertEquals(1.0, metrics.sum("meshgate_overload_state"));
        assertTrue(metrics.sum("meshgate_overload_refused_total", "what", "stream") >= 1);
        assertTrue(metrics.sum("meshgate_overload_refused_total", "what", "request") >= 1);
        assertTrue(metrics.sum("meshgate_overload_refused_total", "what", "connection") >= 1);
        assertEquals(0, stalling.resets(), "no stream was reset");
      } finally {
        stalling.close();
      }
      Await.until("the gateway serves again once the memory is free", Duration.ofSeconds(30),
          () -> readyStatus(gateway) == 200);
      assertEquals("after", echo(stub, "after"));
      try (Socket fresh = new Socket(InetAddress.getLoopbackAddress(), gateway.port())) {
        fresh.setSoTimeout(10_000);
        assertTrue(get(fresh).startsWith("HTTP/1.1 404"), "new connections are taken again");
      }
    } finally {
      echo.close();
    }
  }

  @Test
  void pastTheResetWatermarkTheBiggestStreamsAreResetAndTheGatewayRecoversByItself()
      throws Exception {
    SampleServer echo = SampleServer.start(SampleServer.Kind.ECHO, "127.0.0.1", 0);
    try (TestGateway gateway = start(echo, "{refuseAt: 24MiB, resetAt: 24MiB}")) {
      var stub = EchoServiceGrpc.newBlockingStub(gateway.channel());
      assertEquals("before", echo(stub, "before"));
      StallingClient stalling = StallingClient.open(gateway.port(), 3, 300, MESSAGE_BYTES);
      try {
        Await.until("the gateway resets stalled streams", Duration.ofSeconds(60),
            () -> stalling.resets() > 0);
        // With the hostile client still connected, the streams it holds are cut until memory is
        // below the watermark, and the gateway serves again without anyone's help.
        Await.until("the gateway is out of overload", Duration.ofSeconds(60),
            () -> gateway.gateway().overload().state() == OverloadManager.State.NORMAL
                && readyStatus(gateway) == 200);
        assertEquals("meanwhile", echo(stub, "meanwhile"));
        long shed = gateway.gateway().overload().shedCount();
        assertTrue(shed >= stalling.resets() && shed < 300, "shed " + shed + " streams of 300;"
            + " the client saw " + stalling.resets() + " resets");
        assertEquals((double) shed, Metrics.scrape(gateway.gateway().adminPort())
            .sum("meshgate_overload_streams_reset_total"));
        System.out.printf("overload: %d of 300 stalled streams reset; direct memory in use now"
            + " %d MiB%n", shed, gateway.gateway().overload().directUsed() >> 20);
      } finally {
        stalling.close();
      }
    } finally {
      echo.close();
    }
  }

  private static String echo(EchoServiceGrpc.EchoServiceBlockingStub stub, String message) {
    return stub.withDeadlineAfter(10, TimeUnit.SECONDS)
        .echo(EchoRequest.newBuilder().setMessage(message).build()).getMessage();
  }

  private static HttpResponse<String> readyz(TestGateway gateway) throws Exception {
    return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(
        "http://127.0.0.1:" + gateway.gateway().adminPort() + "/readyz")).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static int readyStatus(TestGateway gateway) {
    try {
      return readyz(gateway).statusCode();
    } catch (Exception e) {
      return -1;
    }
  }

  /** One keep-alive HTTP/1.1 request on {@code socket}: the whole answer (Content-Length). */
  private static String get(Socket socket) throws IOException {
    socket.getOutputStream().write("GET /no/such/path HTTP/1.1\r\nHost: x\r\n\r\n"
        .getBytes(StandardCharsets.US_ASCII));
    socket.getOutputStream().flush();
    InputStream in = socket.getInputStream();
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    while (!head.toString(StandardCharsets.US_ASCII).endsWith("\r\n\r\n")) {
      int b = in.read();
      if (b < 0) {
        throw new IOException("closed after " + head);
      }
      head.write(b);
    }
    String headers = head.toString(StandardCharsets.US_ASCII);
    int length = 0;
    for (String line : headers.split("\r\n")) {
      if (line.toLowerCase().startsWith("content-length:")) {
        length = Integer.parseInt(line.substring(15).trim());
      }
    }
    return headers + new String(in.readNBytes(length), StandardCharsets.UTF_8);
  }
}
