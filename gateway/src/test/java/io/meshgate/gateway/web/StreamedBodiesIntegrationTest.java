package io.meshgate.gateway.web;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import io.meshgate.gateway.testing.HttpClients;
import io.meshgate.gateway.testing.SampleFleet;
import io.meshgate.gateway.testing.TestGateway;
import io.meshgate.samples.EchoServiceImpl;
import io.meshgate.samples.echo.v1.EchoRequest;
import io.meshgate.samples.echo.v1.EchoResponse;
import java.net.InetSocketAddress;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Over HTTP/2 the bodies of binary gRPC-Web and Connect streams go upstream message by message
 * as they arrive (full duplex). The same answers as for whole bodies hold there: a message over
 * the limit, an unknown flag, a body cut inside a message.
 */
class StreamedBodiesIntegrationTest {
  private static final String ECHO = "/meshgate.samples.echo.v1.EchoService/";

  @TempDir
  static Path dir;
  private static final ScheduledExecutorService scheduler =
      Executors.newSingleThreadScheduledExecutor();
  private static Server backend;
  private static TestGateway gateway;
  private static final HttpClient h2 = HttpClients.client(HttpClients.Protocol.HTTP_2);

  @BeforeAll
  static void start() throws Exception {
    backend = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(new EchoServiceImpl("streamed", scheduler)).build().start();
    gateway = TestGateway.start("""
        listener:
          host: 127.0.0.1
          port: 0
          tls: {certFile: tls/server.pem, keyFile: tls/server.key}
        admin: {host: 127.0.0.1, port: 0}
        transcoding: {descriptors: ["%s"]}
        limits: {maxMessageBytes: 65536}
        clusters: [{name: echo, endpoints: ["127.0.0.1:%d"]}]
        routes: [{match: {servicePrefix: ""}, cluster: echo}]
        """.formatted(SampleFleet.descriptorSet(dir), backend.getPort()));
  }

  @AfterAll
  static void stop() throws Exception {
    gateway.close();
    backend.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    scheduler.shutdownNow();
  }

  private static HttpResponse<byte[]> post(String method, String contentType, byte[] body,
      String... headers) throws Exception {
    HttpRequest.Builder request = HttpRequest.newBuilder(
            HttpClients.Protocol.HTTP_2.uri(gateway.port(), ECHO + method))
        .timeout(Duration.ofSeconds(10)).header("content-type", contentType)
        .POST(HttpRequest.BodyPublishers.ofByteArray(body));
    for (int i = 0; i < headers.length; i += 2) {
      request.header(headers[i], headers[i + 1]);
    }
    HttpResponse<byte[]> response = h2.send(request.build(),
        HttpResponse.BodyHandlers.ofByteArray());
    assertEquals(HttpClient.Version.HTTP_2, response.version());
    return response;
  }

  private static byte[] frame(int flags, byte[] message) {
    byte[] out = new byte[5 + message.length];
    out[0] = (byte) flags;
    out[1] = (byte) (message.length >>> 24);
    out[2] = (byte) (message.length >>> 16);
    out[3] = (byte) (message.length >>> 8);
    out[4] = (byte) message.length;
    System.arraycopy(message, 0, out, 5, message.length);
    return out;
  }

  private static byte[] request(String message) {
    return EchoRequest.newBuilder().setMessage(message).build().toByteArray();
  }

  @Test
  void grpcWebStreamsAnswerAsWholeBodiesDo() throws Exception {
    HttpResponse<byte[]> ok = post("Echo", "application/grpc-web+proto",
        frame(0, request("streamed")));
    assertEquals("streamed", EchoResponse.parseFrom(Arrays.copyOfRange(ok.body(), 5,
        ok.body()[4] + 5)).getMessage());
    HttpResponse<byte[]> huge = post("Echo", "application/grpc-web",
        new byte[] {0, 0x7f, 0, 0, 0, 1, 2, 3});
    assertEquals("8", huge.headers().firstValue("grpc-status").orElse(""));
    assertTrue(huge.headers().firstValue("grpc-message").orElse("")
        .contains("limits.maxMessageBytes"));
    HttpResponse<byte[]> flagged = post("Echo", "application/grpc-web",
        frame(0x40, request("x")));
    assertEquals("3", flagged.headers().firstValue("grpc-status").orElse(""));
    byte[] whole = frame(0, request("cut short"));
    HttpResponse<byte[]> cut = post("Echo", "application/grpc-web",
        Arrays.copyOf(whole, whole.length - 3));
    assertEquals("3", cut.headers().firstValue("grpc-status").orElse(""),
        cut.headers().toString());
    assertTrue(cut.headers().firstValue("grpc-message").orElse("").contains("ends inside"));
  }

  @Test
  void connectStreamsAnswerAsWholeBodiesDo() throws Exception {
    HttpResponse<byte[]> flagged = post("Expand", "application/connect+proto",
        frame(0x10, request("x")), "connect-protocol-version", "1");
    String end = new String(flagged.body(), 5, flagged.body().length - 5,
        StandardCharsets.UTF_8);
    assertTrue(end.contains("invalid_argument") && end.contains("unknown flags 0x10"), end);
    byte[] whole = frame(0, request("cut short"));
    HttpResponse<byte[]> cut = post("Expand", "application/connect+proto",
        Arrays.copyOf(whole, whole.length - 3), "connect-protocol-version", "1");
    String cutEnd = new String(cut.body(), 5, cut.body().length - 5, StandardCharsets.UTF_8);
    assertTrue(cutEnd.contains("ends inside a message"), cutEnd);
    HttpResponse<byte[]> json = post("Expand", "application/connect+json",
        frame(0, "{\"message\": \"j\", \"responseCount\": 2}".getBytes(StandardCharsets.UTF_8)),
        "connect-protocol-version", "1");
    String text = new String(json.body(), StandardCharsets.UTF_8);
    assertTrue(text.contains("\"message\":\"j\"") && !text.contains("error"), text);
  }
}
