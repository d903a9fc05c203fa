package io.meshgate.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code meshgate routes} and {@code meshgate explain} on a configuration with every kind of rule. */
class ExplainCommandTest {
  @TempDir
  Path dir;

  private Path config() throws Exception {
    Path descriptors = io.meshgate.gateway.testing.SampleFleet.descriptorSet(dir);
    return Files.writeString(dir.resolve("gateway.yaml"), """
        listener: {port: 8080}
        transcoding: {descriptors: ["%s"]}
        auth:
          providers: [{name: corp, issuer: corp, secret: "a shared secret that is long enough"}]
        clusters:
          - {name: users, endpoints: ["10.0.0.1:50051"]}
          - {name: users-canary, endpoints: ["10.0.0.2:50051"]}
          - {name: echo, endpoints: ["10.0.0.3:50051"]}
        routes:
          - name: internal-users
            match: {service: meshgate.samples.users.v1.UserDirectory, authority: internal.example}
            cluster: users
          - name: users
            match: {service: meshgate.samples.users.v1.UserDirectory}
            cluster: users
            canary: [{header: x-canary, value: "yes", cluster: users-canary}]
            auth: {providers: [corp]}
            rateLimits: [{key: "header:x-api-key", rate: 100/s, burst: 200}]
            timeout: 2s
          - {name: echo, match: {servicePrefix: meshgate.samples.echo.}, cluster: echo}
        """.formatted(descriptors));
  }

  private record Run(int status, String out, String err) {}

  private static Run run(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int status = Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Run(status, out.toString(StandardCharsets.UTF_8),
        err.toString(StandardCharsets.UTF_8));
  }

  @Test
  void routesListsTheTableInMatchOrder() throws Exception {
    Run routes = run("routes", "--config", config().toString());
    assertEquals(0, routes.status(), routes.err());
    assertTrue(routes.out().startsWith("3 routes, in match order"), routes.out());
    assertTrue(routes.out().indexOf("0. internal-users") < routes.out().indexOf("1. users"));
    assertTrue(routes.out().contains("a JWT from [corp]"), routes.out());
    assertTrue(routes.out().contains("100/s burst 200 per header x-api-key"), routes.out());
  }

  @Test
  void explainSaysWhichRouteClusterAndPoliciesACallGets() throws Exception {
    String file = config().toString();
    Run rest = run("explain", "--config", file, "GET /v1/users/u-1", "-H", "x-canary: yes");
    assertEquals(0, rest.status(), rest.err());
    assertTrue(rest.out().contains("is /meshgate.samples.users.v1.UserDirectory/GetUser by the"
        + " rule GET /v1/users/{user_id}"), rest.out());
    assertTrue(rest.out().contains("→ route users (routes[1]"), rest.out());
    assertTrue(rest.out().contains("x-canary = yes → users-canary") && rest.out()
        .contains("(this call: yes)"), rest.out());
    assertTrue(rest.out().contains("2s when the client sends none"), rest.out());

    Run internal = run("explain", "--config", file,
        "/meshgate.samples.users.v1.UserDirectory/GetUser", "-H", ":authority:internal.example");
    assertTrue(internal.out().contains("→ route internal-users (routes[0]"), internal.out());
    assertTrue(internal.out().contains("auth:       public"), internal.out());

    Run none = run("explain", "--config", file, "/acme.Nope/Call");
    assertEquals(1, none.status());
    assertTrue(none.out().contains("no route takes it — the call gets UNIMPLEMENTED"),
        none.out());
    Run bidi = run("explain", "--config", file, "POST /v1/echo:chat");
    assertTrue(bidi.out().contains("bidirectional: REST answers 501"), bidi.out());
    Run unknownPath = run("explain", "--config", file, "GET /v2/nothing");
    assertEquals(1, unknownPath.status());
    assertTrue(unknownPath.out().contains("matches no google.api.http rule"), unknownPath.out());
    Run noTarget = run("explain", "--config", file);
    assertEquals(2, noTarget.status());
  }
}
