package io.meshgate.gateway.web;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.netty.NettyServerBuilder;
import io.meshgate.gateway.testing.HeadlessChromium;
import io.meshgate.gateway.testing.MetadataProbe;
import io.meshgate.gateway.testing.NodeClients;
import io.meshgate.gateway.testing.SampleFleet;
import io.meshgate.gateway.testing.TestGateway;
import io.meshgate.samples.EchoServiceImpl;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * A page of another origin, in a real headless Chromium, calls the gateway with connect-es's
 * browser transports (from npm, loaded as ES modules) over gRPC-Web and Connect, through CORS:
 * unary with metadata both ways, a server stream, and an error with its code. The test reads
 * the results from the page and keeps a screenshot under {@code target/screenshots/}.
 */
class BrowserIntegrationTest {
  private static final Path NODE = Path.of("src", "test", "node").toAbsolutePath();
  private static final List<String> PACKAGES = List.of("@bufbuild/protobuf",
      "@connectrpc/connect", "@connectrpc/connect-web");

  @TempDir
  static Path dir;
  private static final ScheduledExecutorService scheduler =
      Executors.newSingleThreadScheduledExecutor();
  private static final MetadataProbe probe = new MetadataProbe("x-client-tag");
  private static Server backend;
  private static HttpServer site;
  private static TestGateway gateway;

  @BeforeAll
  static void start() throws Exception {
    NodeClients.ensureInstalled();
    backend = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(ServerInterceptors.intercept(new EchoServiceImpl("browser-backend",
            scheduler), probe)).build().start();
    Path descriptors = SampleFleet.descriptorSet(dir);
    site = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
    String page = Files.readString(NODE.resolve("browser/echo.html"))
        .replace("{{IMPORTMAP}}", importMap());
    site.createContext("/", exchange -> serve(exchange, page, descriptors));
    site.start();
    String origin = "http://127.0.0.1:" + site.getAddress().getPort();
    gateway = TestGateway.start("""
        transcoding:
          descriptors: ["%s"]
          cors:
            allowOrigins: ["%s"]
            # The page reads these; a browser only shows a script the headers CORS exposes.
            exposeHeaders: [x-backend-header, trailer-x-backend-trailer]
        clusters: [{name: echo, endpoints: ["127.0.0.1:%d"]}]
        routes: [{match: {servicePrefix: ""}, cluster: echo}]
        """.formatted(descriptors, origin, backend.getPort()));
  }

  @AfterAll
  static void stop() throws Exception {
    if (gateway != null) {
      gateway.close();
    }
    if (site != null) {
      site.stop(0);
    }
    backend.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    scheduler.shutdownNow();
  }

  /** The page's import map: each package's ES module exports, served from node_modules. */
  private static String importMap() throws IOException {
    JsonObject imports = new JsonObject();
    for (String pkg : PACKAGES) {
      JsonObject exports = JsonParser.parseString(Files.readString(
          NODE.resolve("node_modules").resolve(pkg).resolve("package.json")))
          .getAsJsonObject().getAsJsonObject("exports");
      for (Map.Entry<String, JsonElement> entry : exports.entrySet()) {
        JsonElement target = entry.getValue();
        String file = target.isJsonPrimitive() ? target.getAsString()
            : target.getAsJsonObject().has("import")
                ? target.getAsJsonObject().get("import").getAsString() : null;
        if (file != null && file.endsWith(".js")) {
          imports.addProperty(pkg + entry.getKey().substring(1),
              "/node_modules/" + pkg + "/" + file.substring(2));
        }
      }
    }
    JsonObject map = new JsonObject();
    map.add("imports", imports);
    return map.toString();
  }

  private static void serve(HttpExchange exchange, String page, Path descriptors)
      throws IOException {
    String path = exchange.getRequestURI().getPath();
    byte[] body;
    String type;
    if (path.equals("/echo.html")) {
      body = page.getBytes(StandardCharsets.UTF_8);
      type = "text/html; charset=utf-8";
    } else if (path.equals("/descriptors.pb")) {
      body = Files.readAllBytes(descriptors);
      type = "application/octet-stream";
    } else if (path.startsWith("/node_modules/") && !path.contains("..")) {
      Path file = NODE.resolve(path.substring(1));
      if (!Files.isRegularFile(file)) {
        exchange.sendResponseHeaders(404, -1);
        exchange.close();
        return;
      }
      body = Files.readAllBytes(file);
      type = path.endsWith(".js") ? "text/javascript" : "application/octet-stream";
    } else {
      exchange.sendResponseHeaders(404, -1);
      exchange.close();
      return;
    }
    exchange.getResponseHeaders().set("content-type", type);
    exchange.sendResponseHeaders(200, body.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(body);
    }
  }

  @Test
  void aPageOfAnotherOriginCallsTheGatewayOverGrpcWebAndConnect() throws Exception {
    try (HeadlessChromium browser = HeadlessChromium.start()) {
      browser.driver().get("http://127.0.0.1:" + site.getAddress().getPort()
          + "/echo.html?gateway=http://" + gateway.address());
      new WebDriverWait(browser.driver(), Duration.ofSeconds(30)).until(d ->
          "true".equals(d.findElement(By.tagName("body")).getDomAttribute("data-done")));
      String text = browser.driver().findElement(By.id("result")).getText();
      browser.screenshot("grpc-web-and-connect-from-chromium");
      JsonObject result = JsonParser.parseString(text).getAsJsonObject();
      assertTrue(!result.has("failed"), text);
      for (String protocol : List.of("grpcWeb", "connect")) {
        JsonObject calls = result.getAsJsonObject(protocol);
        assertEquals("from the browser", calls.get("unary").getAsString(), text);
        assertEquals("from-headers", calls.getAsJsonObject("headers").get("x-backend-header")
            .getAsString(), "response metadata readable by the page (CORS exposes it): " + text);
        assertEquals("from-trailers", calls.getAsJsonObject("headers")
            .get("x-backend-trailer").getAsString(), text);
        assertEquals("[0,1,2]", calls.get("stream").toString(), text);
        assertEquals(7, calls.getAsJsonObject("error").get("code").getAsInt(), text);
        assertEquals("not for you", calls.getAsJsonObject("error").get("message")
            .getAsString(), text);
      }
      assertEquals(List.of("chromium", "chromium"), probe.seen().subList(0, 2),
          "the page's metadata reached the backend");
    }
  }
}
