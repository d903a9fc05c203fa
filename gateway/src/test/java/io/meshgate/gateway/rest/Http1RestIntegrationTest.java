package io.meshgate.gateway.rest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.meshgate.gateway.testing.SampleFleet;
import io.meshgate.gateway.testing.TestGateway;
import io.meshgate.testing.DebianPackages;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * HTTP/1.1 on the wire, written by hand: pipelined requests answered in order on one
 * connection, chunked request bodies, chunked streamed responses with trailers, Expect:
 * 100-continue, Connection: close and HTTP/1.0; and REST over an h2c Upgrade.
 */
class Http1RestIntegrationTest {
  @TempDir
  static Path dir;
  private static SampleFleet fleet;
  private static TestGateway gateway;

  @BeforeAll
  static void start() throws Exception {
    fleet = SampleFleet.start();
    gateway = TestGateway.start("transcoding: {descriptors: [" + SampleFleet.descriptorSet(dir)
        + "]}\n" + fleet.clustersAndRoutes());
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

  /** A response read off the wire. */
  record Response(int status, Map<String, String> headers, String body,
      Map<String, String> trailers) {}

  private static Socket connect() throws IOException {
    Socket socket = new Socket("127.0.0.1", gateway.port());
    socket.setSoTimeout(10_000);
    return socket;
  }

  private static String line(InputStream in) throws IOException {
    ByteArrayOutputStream line = new ByteArrayOutputStream();
    int b;
    while ((b = in.read()) != -1 && b != '\n') {
      if (b != '\r') {
        line.write(b);
      }
    }
    if (b == -1 && line.size() == 0) {
      return null;
    }
    return line.toString(StandardCharsets.ISO_8859_1);
  }

  private static Map<String, String> headers(InputStream in) throws IOException {
    Map<String, String> headers = new LinkedHashMap<>();
    String line;
    while ((line = line(in)) != null && !line.isEmpty()) {
      int colon = line.indexOf(':');
      headers.put(line.substring(0, colon).toLowerCase(Locale.ROOT),
          line.substring(colon + 1).strip());
    }
    return headers;
  }

  static Response read(InputStream in) throws IOException {
    String status = line(in);
    if (status == null) {
      return null;
    }
    if (status.startsWith("HTTP/1.1 100")) {
      headers(in);
      status = line(in);
    }
    Map<String, String> headers = headers(in);
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    Map<String, String> trailers = Map.of();
    if ("chunked".equals(headers.get("transfer-encoding"))) {
      int size;
      while ((size = Integer.parseInt(line(in).strip(), 16)) > 0) {
        body.write(in.readNBytes(size));
        line(in);
      }
      trailers = headers(in);
    } else if (headers.containsKey("content-length")) {
      body.write(in.readNBytes(Integer.parseInt(headers.get("content-length"))));
    } else {
      body.write(in.readAllBytes());
    }
    return new Response(Integer.parseInt(status.split(" ")[1]), headers,
        body.toString(StandardCharsets.UTF_8), trailers);
  }

  private static void write(Socket socket, String text) throws IOException {
    OutputStream out = socket.getOutputStream();
    out.write(text.getBytes(StandardCharsets.UTF_8));
    out.flush();
  }

  @Test
  void pipelinedRequestsAreAnsweredInOrderOnOneConnection() throws Exception {
    try (Socket socket = connect()) {
      String echo = "{\"message\":\"third\",\"delayMillis\":50}";
      // The first is slow (the backend waits), so answering in arrival order is not an
      // accident of timing.
      write(socket, "POST /v1/echo HTTP/1.1\r\nHost: g\r\nContent-Type: application/json\r\n"
          + "Content-Length: 37\r\n\r\n{\"message\":\"first\",\"delayMillis\":200}"
          + "GET /v1/users/u-2 HTTP/1.1\r\nHost: g\r\n\r\n"
          + "POST /v1/echo HTTP/1.1\r\nHost: g\r\nContent-Length: " + echo.length() + "\r\n\r\n"
          + echo);
      InputStream in = socket.getInputStream();
      Response first = read(in);
      Response second = read(in);
      Response third = read(in);
      assertEquals(200, first.status(), first.body());
      assertTrue(first.body().contains("\"first\""), first.body());
      assertTrue(second.body().contains("Grace Hopper"), second.body());
      assertTrue(third.body().contains("\"third\""), third.body());
      // And the connection is still usable.
      write(socket, "GET /v1/users/u-3 HTTP/1.1\r\nHost: g\r\n\r\n");
      assertTrue(read(in).body().contains("Linus"));
    }
  }

  @Test
  void chunkedRequestBodiesAndChunkedStreamedResponsesWithTrailers() throws Exception {
    try (Socket socket = connect()) {
      write(socket, "POST /v1/echo HTTP/1.1\r\nHost: g\r\nTransfer-Encoding: chunked\r\n"
          + "Content-Type: application/json\r\n\r\n"
          + "5\r\n{\"mes\r\n" + "9\r\nsage\":\"ch\r\n" + "6\r\nunked\"\r\n" + "1\r\n}\r\n"
          + "0\r\n\r\n");
      Response echo = read(socket.getInputStream());
      assertEquals(200, echo.status(), echo.body());
      assertTrue(echo.body().contains("\"message\":\"chunked\""), echo.body());

      write(socket, "GET /v1/echo:expand?responseCount=3 HTTP/1.1\r\nHost: g\r\n"
          + "Grpc-Metadata-X-Echo-Tag: t1\r\n\r\n");
      Response stream = read(socket.getInputStream());
      assertEquals("chunked", stream.headers().get("transfer-encoding"));
      assertEquals(3, stream.body().split("\n").length, stream.body());
      assertEquals("t1", stream.headers().get("grpc-metadata-x-echo-tag"));
      assertEquals("t1", stream.trailers().get("grpc-metadata-x-trailer-tag"),
          "trailers travel in the last chunk");
    }
  }

  @Test
  void expectContinueConnectionCloseAndHttp10() throws Exception {
    try (Socket socket = connect()) {
      write(socket, "POST /v1/echo HTTP/1.1\r\nHost: g\r\nExpect: 100-continue\r\n"
          + "Content-Length: 2\r\n\r\n");
      InputStream in = socket.getInputStream();
      assertEquals("HTTP/1.1 100 Continue", line(in));
      line(in);
      write(socket, "{}");
      assertEquals(200, read(in).status());

      write(socket, "GET /v1/users/u-1 HTTP/1.1\r\nHost: g\r\nConnection: close\r\n\r\n");
      Response closing = read(in);
      assertEquals("close", closing.headers().get("connection"));
      assertEquals(-1, in.read(), "the gateway closed the connection");
    }
    try (Socket socket = connect()) {
      write(socket, "GET /v1/echo:expand?responseCount=2 HTTP/1.0\r\n\r\n");
      Response old = read(socket.getInputStream());
      assertEquals(200, old.status());
      assertEquals(2, old.body().split("\n").length, "streamed to an HTTP/1.0 client, ended"
          + " by closing: " + old.body());
    }
  }

  @Test
  void restOverAnH2cUpgrade() throws Exception {
    HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_2).build();
    HttpResponse<String> response = client.send(HttpRequest.newBuilder(
        URI.create("http://127.0.0.1:" + gateway.port() + "/v1/users/u-1")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(HttpClient.Version.HTTP_2, response.version(), "upgraded");
    assertEquals(200, response.statusCode(), response.body());
    assertTrue(response.body().contains("Ada Lovelace"), response.body());
    HttpResponse<String> post = client.send(HttpRequest.newBuilder(
        URI.create("http://127.0.0.1:" + gateway.port() + "/v1/echo"))
        .POST(HttpRequest.BodyPublishers.ofString("{\"message\":\"on h2c\"}")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(HttpClient.Version.HTTP_2, post.version());
    assertTrue(post.body().contains("on h2c"), post.body());
  }

  @Test
  void aBodySentWithTheUpgradeIsReadAndAnsweredOverHttp2() throws Exception {
    // curl sends a POST's body with its Upgrade: h2c request. That body comes over HTTP/1.1,
    // outside HTTP/2 flow control: the gateway must read it without giving window back for it.
    DebianPackages.ensure("curl", List.of("curl", "--version"));
    String message = "sent with the upgrade ".repeat(2_000); // 44 KB, past one 16 KB frame
    Process curl = new ProcessBuilder("curl", "-s", "--http2", "--max-time", "10",
        "-H", "content-type: application/json", "-d", "{\"message\":\"" + message + "\"}",
        "-w", "\n%{http_version} %{http_code}",
        "http://127.0.0.1:" + gateway.port() + "/v1/echo").redirectErrorStream(true).start();
    // Read to the end first (curl gives up after 10 s), so that a full pipe cannot stall it.
    String out = new String(curl.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(curl.waitFor(10, TimeUnit.SECONDS), "curl ended");
    assertTrue(out.endsWith("\n2 200"), "answered over HTTP/2: " + out.substring(
        Math.max(0, out.length() - 300)));
    assertTrue(out.contains(message), "the whole body came through");
  }
}
