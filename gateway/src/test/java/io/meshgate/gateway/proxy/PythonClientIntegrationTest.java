package io.meshgate.gateway.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.meshgate.gateway.testing.TestGateway;
import io.meshgate.samples.SampleServer;
import io.meshgate.testing.DebianPackages;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * grpc-python (Debian's python3-grpcio, a C-core client) through the gateway: so that the proxy
 * is not only tested by grpc-java against itself.
 */
class PythonClientIntegrationTest {
  private static final String PYTHON = "/usr/bin/python3";

  private SampleServer echo;
  private TestGateway gateway;

  @BeforeEach
  void start() throws Exception {
    DebianPackages.ensure("python3-grpcio", List.of(PYTHON, "-c", "import grpc"));
    echo = SampleServer.start(SampleServer.Kind.ECHO, "127.0.0.1", 0);
    gateway = TestGateway.start("""
        clusters: [{name: echo, endpoints: ["127.0.0.1:%d"]}]
        routes: [{match: {service: meshgate.samples.echo.v1.EchoService}, cluster: echo}]
        """.formatted(echo.port()));
  }

  @AfterEach
  void stop() throws Exception {
    gateway.close();
    echo.close();
  }

  @Test
  void pythonClientSeesEveryCallKindMetadataAndStatusThroughTheGateway() throws Exception {
    Path script = TestGateway.resources().resolve("python/echo_client.py");
    Process process = new ProcessBuilder(PYTHON, script.toString(), gateway.address())
        .redirectErrorStream(false).start();
    String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    String err = new String(process.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(process.waitFor(60, TimeUnit.SECONDS), "python client hung");
    assertEquals(0, process.exitValue(), "python client failed:\n" + err + out);

    JsonObject result = JsonParser.parseString(out.trim()).getAsJsonObject();
    assertEquals("hello from python", result.get("message").getAsString());
    assertEquals("[0,1,255]", result.get("payload").toString());
    assertEquals("python", result.getAsJsonObject("headers").get("x-echo-lang").getAsString());
    assertEquals("[0,254]", result.getAsJsonObject("headers").get("x-echo-blob-bin").toString());
    assertEquals("python",
        result.getAsJsonObject("trailers").get("x-trailer-lang").getAsString());
    assertEquals("[0,254]",
        result.getAsJsonObject("trailers").get("x-trailer-blob-bin").toString());

    JsonArray streamed = result.getAsJsonArray("streamed");
    assertEquals(25, streamed.size());
    for (int i = 0; i < 25; i++) {
      assertEquals(i, streamed.get(i).getAsInt());
    }
    assertEquals("[7,700]", result.get("collected").toString());
    assertEquals("[\"m0\",\"m1\",\"m2\",\"m3\",\"m4\"]", result.get("chat").toString());

    JsonObject error = result.getAsJsonObject("error");
    assertEquals("NOT_FOUND", error.get("code").getAsString());
    assertEquals("no such thing", error.get("details").getAsString());
    assertEquals("DEADLINE_EXCEEDED", result.get("deadline").getAsString());
    assertEquals("UNIMPLEMENTED", result.get("unknown").getAsString());
  }
}
