package io.meshgate.gateway.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.meshgate.gateway.testing.SampleFleet;
import io.meshgate.gateway.testing.TestGateway;
import io.swagger.v3.oas.models.OpenAPI;
import io.swagger.v3.oas.models.Operation;
import io.swagger.v3.oas.models.media.Schema;
import io.swagger.v3.parser.OpenAPIV3Parser;
import io.swagger.v3.parser.core.models.ParseOptions;
import io.swagger.v3.parser.core.models.SwaggerParseResult;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code /openapi.json} and {@code /openapi.yaml} on the admin port, generated from the sample
 * services' descriptors, read by swagger-parser without one message; what a reader of the REST
 * API needs is in it.
 */
class OpenApiIntegrationTest {
  @TempDir
  static Path dir;
  private static SampleFleet fleet;
  private static TestGateway gateway;
  private static final HttpClient http = HttpClient.newHttpClient();

  @BeforeAll
  static void start() throws Exception {
    fleet = SampleFleet.start();
    gateway = TestGateway.start("""
        transcoding: {descriptors: ["%s"]}
        auth:
          providers:
            - {name: partners, issuer: partners, secret: "a shared secret that is long enough for HS256"}
        clusters: [{name: fleet, endpoints: ["127.0.0.1:%d"]}]
        routes:
          - match: {service: meshgate.samples.users.v1.UserDirectory}
            cluster: fleet
            auth: {providers: [partners]}
          - {match: {servicePrefix: ""}, cluster: fleet}
        """.formatted(SampleFleet.descriptorSet(dir), fleet.server(
            io.meshgate.samples.SampleServer.Kind.USERS).port()));
  }

  @AfterAll
  static void stop() throws Exception {
    gateway.close();
    fleet.close();
  }

  private static OpenAPI read(String path) throws Exception {
    return read(gateway.gateway().adminPort(), path);
  }

  private static OpenAPI read(int port, String path) throws Exception {
    HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create("http://"
        + "127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(20)).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(200, response.statusCode(), response.body());
    ParseOptions options = new ParseOptions();
    options.setResolve(true);
    SwaggerParseResult result = new OpenAPIV3Parser().readContents(response.body(), null,
        options);
    assertNotNull(result.getOpenAPI(), String.valueOf(result.getMessages()));
    assertEquals(List.of(), result.getMessages(), "swagger-parser's messages");
    return result.getOpenAPI();
  }

  @Test
  void theMainPortServesTheOperationsItsRoutesTakeWhenAsked() throws Exception {
    try (TestGateway routed = TestGateway.start("""
        transcoding: {descriptors: ["%s"], openApi: true}
        auth:
          providers:
            - {name: partners, issuer: partners, secret: "a shared secret that is long enough for HS256"}
        clusters: [{name: fleet, endpoints: ["127.0.0.1:1"]}]
        routes:
          - match: {service: meshgate.samples.users.v1.UserDirectory}
            cluster: fleet
            auth: {providers: [partners]}
          - {match: {service: meshgate.samples.echo.v1.EchoService}, cluster: fleet}
        """.formatted(SampleFleet.descriptorSet(dir)))) {
      OpenAPI api = read(routed.port(), "/openapi.json");
      assertNotNull(api.getPaths().get("/v1/echo"), "a routed method");
      assertNotNull(api.getPaths().get("/v1/users/{user_id}").getGet().getSecurity(),
          "its route requires a token");
      assertTrue(api.getPaths().keySet().stream().noneMatch(p -> p.startsWith("/v1/orders")),
          "no route takes the order service: " + api.getPaths().keySet());
      assertEquals(api.getPaths().keySet(), read(routed.port(), "/openapi.yaml").getPaths()
          .keySet());
    }
    // Without transcoding.openApi the path is the REST API's, and no operation has it.
    HttpResponse<String> plain = http.send(HttpRequest.newBuilder(URI.create("http://"
        + gateway.address() + "/openapi.json")).timeout(Duration.ofSeconds(20)).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(404, plain.statusCode(), plain.body());
  }

  /**
   * JDK's HttpClient upgrades a first request over http:// to h2c and lost an answer that
   * reached it before it had sent its HTTP/2 preface: about one client in six waited forever for
   * this 56 KB document (curl took every one). The gateway answers the Upgrade's request once the
   * client's SETTINGS are in.
   */
  @Test
  void everyClientThatUpgradesItsFirstRequestGetsTheWholeDocument() throws Exception {
    try (TestGateway routed = TestGateway.start("""
        transcoding: {descriptors: ["%s"], openApi: true}
        clusters: [{name: fleet, endpoints: ["127.0.0.1:1"]}]
        routes: [{match: {servicePrefix: ""}, cluster: fleet}]
        """.formatted(SampleFleet.descriptorSet(dir)))) {
      String first = null;
      for (int i = 0; i < 30; i++) {
        HttpClient fresh = HttpClient.newHttpClient(); // a new connection, upgraded
        HttpResponse<String> response = fresh.sendAsync(HttpRequest.newBuilder(URI.create(
            "http://127.0.0.1:" + routed.port() + "/openapi.json")).build(),
            HttpResponse.BodyHandlers.ofString()).get(10, java.util.concurrent.TimeUnit.SECONDS);
        assertEquals(200, response.statusCode());
        assertEquals(HttpClient.Version.HTTP_2, response.version(), "upgraded");
        if (first == null) {
          first = response.body();
          assertTrue(first.length() > 16 * 1024, "a document of " + first.length() + " bytes");
        } else {
          assertEquals(first, response.body(), "client " + i + " got the whole document");
        }
      }
    }
  }

  @Test
  void theRestApiOfTheLoadedDescriptorsIsDocumented() throws Exception {
    OpenAPI api = read("/openapi.json");
    assertEquals("3.1.0", api.getOpenapi());
    Operation getUser = api.getPaths().get("/v1/users/{user_id}").getGet();
    assertEquals("meshgate_samples_users_v1_UserDirectory_GetUser", getUser.getOperationId());
    assertTrue(getUser.getDescription().startsWith("Looks a user up by id"),
        "the .proto comment: " + getUser.getDescription());
    assertEquals("path", getUser.getParameters().get(0).getIn());
    assertEquals(List.of("bearer"), List.copyOf(getUser.getSecurity().get(0).keySet()),
        "the route requires a token");
    Operation listUsers = api.getPaths().get("/v1/users").getGet();
    assertTrue(listUsers.getResponses().get("200").getContent()
        .containsKey("application/x-ndjson"), "a server stream is NDJSON");
    assertTrue(listUsers.getParameters().stream().anyMatch(p -> p.getIn().equals("query")),
        "unbound request fields are query parameters");
    Operation createUser = api.getPaths().get("/v1/users").getPost();
    assertNotNull(createUser.getRequestBody(), "body: user");
    Operation echo = api.getPaths().get("/v1/echo").getPost();
    assertNull(echo.getSecurity(), "a public route needs no token");
    Schema<?> user = api.getComponents().getSchemas().get("meshgate.samples.users.v1.User");
    assertEquals("date-time", ((Schema<?>) user.getProperties().get("createTime")).getFormat());
    assertEquals(List.of("ROLE_UNSPECIFIED", "ROLE_MEMBER", "ROLE_ADMIN"),
        ((Schema<?>) user.getProperties().get("role")).getEnum());
    assertNotNull(api.getComponents().getSchemas().get("google.rpc.Status"));
    assertEquals("bearer", api.getComponents().getSecuritySchemes().get("bearer").getScheme());

    OpenAPI yaml = read("/openapi.yaml");
    assertEquals(api.getPaths().keySet(), yaml.getPaths().keySet(), "YAML says the same");
  }
}
