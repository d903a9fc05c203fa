package io.meshgate.gateway.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.meshgate.gateway.config.ConfigLoader;
import io.meshgate.gateway.testing.SampleFleet;
import io.meshgate.gateway.testing.TestGateway;
import io.meshgate.samples.users.v1.GetUserRequest;
import io.meshgate.samples.users.v1.UserDirectoryGrpc;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The admin API on the admin port: its token, and what each read-only endpoint shows. */
@Timeout(60)
class AdminApiIntegrationTest {
  private static final String TOKEN = "an-admin-token-for-tests";
  private static final HttpClient HTTP = HttpClient.newHttpClient();
  private static SampleFleet fleet;
  private static TestGateway gateway;
  private static String document;

  @BeforeAll
  static void start() throws Exception {
    fleet = SampleFleet.start();
    document = "listener: {host: 127.0.0.1, port: 0, workerThreads: 2}\n"
        + "admin: {host: 127.0.0.1, port: 0, token: " + TOKEN + "}\n"
        + fleet.clustersAndRoutes().replace("- {name: users, endpoints",
            "- {name: users, circuitBreaker: {}, endpoints");
    gateway = TestGateway.start(document);
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

  private static HttpResponse<String> call(String method, String path, String token,
      String body) throws Exception {
    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
        + gateway.gateway().adminPort() + path))
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
            : HttpRequest.BodyPublishers.ofString(body));
    if (token != null) {
      request.header("authorization", "Bearer " + token);
    }
    return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void everyEndpointNeedsTheToken() throws Exception {
    for (String path : new String[] {"/api/config", "/api/clusters", "/api/routes"}) {
      HttpResponse<String> none = call("GET", path, null, null);
      assertEquals(401, none.statusCode(), path);
      assertEquals("Bearer realm=\"meshgate-admin\"",
          none.headers().firstValue("www-authenticate").orElse(null));
      assertTrue(none.body().contains("needs Authorization: Bearer"), none.body());
      HttpResponse<String> wrong = call("GET", path, "not-the-token-at-all", null);
      assertEquals(401, wrong.statusCode(), path);
      assertTrue(wrong.body().contains("wrong admin token"));
    }
    assertEquals(401, call("POST", "/api/validate", null, "listener: {}").statusCode());
    assertEquals(200, call("GET", "/healthz", null, null).statusCode(),
        "health and metrics stay open");
    assertEquals(200, call("GET", "/metrics", null, null).statusCode());
  }

  @Test
  void configShowsTheVersionAndSourceAndMovesWithEachApply() throws Exception {
    JsonObject before = JsonParser.parseString(call("GET", "/api/config", TOKEN, null).body())
        .getAsJsonObject();
    assertEquals("test.yaml", before.get("source").getAsString());
    assertEquals(4, before.getAsJsonArray("routes").size());
    gateway.gateway().apply(ConfigLoader.parse("test.yaml", document,
        TestGateway.resources()));
    JsonObject after = JsonParser.parseString(call("GET", "/api/config", TOKEN, null).body())
        .getAsJsonObject();
    assertEquals(before.get("version").getAsLong() + 1, after.get("version").getAsLong());
  }

  @Test
  void clustersShowEndpointsConnectionsAndBreakers() throws Exception {
    UserDirectoryGrpc.newBlockingStub(gateway.channel())
        .getUser(GetUserRequest.newBuilder().setUserId("u-1").build());
    JsonArray clusters = JsonParser.parseString(call("GET", "/api/clusters", TOKEN, null).body())
        .getAsJsonArray();
    JsonObject users = null;
    for (var c : clusters) {
      if (c.getAsJsonObject().get("name").getAsString().equals("users")) {
        users = c.getAsJsonObject();
      }
    }
    assertEquals(1, users.get("endpoints").getAsInt());
    assertEquals("closed", users.get("circuitBreaker").getAsString());
    assertTrue(users.getAsJsonObject("channels").has("READY"), users.toString());
    assertEquals("round_robin", users.get("lbPolicy").getAsString());

    JsonObject one = JsonParser.parseString(call("GET", "/api/clusters/users", TOKEN, null)
        .body()).getAsJsonObject();
    assertEquals(users, one, "one cluster by name");
    assertEquals(404, call("GET", "/api/clusters/nope", TOKEN, null).statusCode());
    assertEquals("orders", JsonParser.parseString(call("GET", "/api/routes/orders", TOKEN, null)
        .body()).getAsJsonObject().get("cluster").getAsString());

    JsonArray routes = JsonParser.parseString(call("GET", "/api/routes", TOKEN, null).body())
        .getAsJsonArray();
    assertEquals("users", routes.get(0).getAsJsonObject().get("cluster").getAsString());
    assertEquals("meshgate.samples.users.v1.UserDirectory", routes.get(0).getAsJsonObject()
        .getAsJsonObject("match").get("service").getAsString());
  }

  @Test
  void validateIsADryRunThatListsEveryError() throws Exception {
    HttpResponse<String> good = call("POST", "/api/validate", TOKEN, document);
    assertEquals(200, good.statusCode(), good.body());
    assertEquals("{\"valid\":true,\"errors\":[]}", good.body());

    HttpResponse<String> bad = call("POST", "/api/validate", TOKEN, """
        listener: {port: 8080}
        clusters: [{name: a, endpoints: [127.0.0.1:1]}]
        routes:
          - {match: {service: x.Y}, cluster: b}
          - {match: {service: x.Z}, cluster: a, timeout: soon}
        """);
    assertEquals(422, bad.statusCode());
    JsonObject result = JsonParser.parseString(bad.body()).getAsJsonObject();
    assertFalse(result.get("valid").getAsBoolean());
    JsonArray errors = result.getAsJsonArray("errors");
    assertEquals(2, errors.size(), bad.body());
    assertEquals("(request body):4:38: routes[0].cluster: 'b' is not a defined cluster"
        + " (defined: a)", errors.get(0).getAsString());
    assertTrue(errors.get(1).getAsString().contains("routes[1].timeout: 'soon' is not a"
        + " duration"), errors.toString());
    assertEquals(4, JsonParser.parseString(call("GET", "/api/config", TOKEN, null).body())
        .getAsJsonObject().getAsJsonArray("routes").size(), "nothing was applied");
    assertEquals(404, call("DELETE", "/api/routes", TOKEN, null).statusCode());
  }
}
