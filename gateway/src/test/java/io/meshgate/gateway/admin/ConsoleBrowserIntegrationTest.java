package io.meshgate.gateway.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Server;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.meshgate.gateway.testing.HeadlessChromium;
import io.meshgate.gateway.testing.SampleFleet;
import io.meshgate.gateway.testing.TestGateway;
import io.meshgate.samples.EchoServiceImpl;
import io.meshgate.samples.UserDirectoryService;
import io.meshgate.samples.echo.v1.EchoRequest;
import io.meshgate.samples.echo.v1.EchoServiceGrpc;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The operators' console in a real headless Chromium, against a running gateway with real
 * backends: what a person sees on each page — live traffic charts, an endpoint turning
 * unhealthy within seconds, a refused configuration change with its error, a call sent from the
 * tester (a unary call and a server stream, message by message), the REST API rendered from the
 * OpenAPI document with "try it" going through the gateway — and a gateway without an admin
 * credential showing a read-only console. Screenshots go to {@code target/screenshots/}.
 */
@Timeout(180)
class ConsoleBrowserIntegrationTest {
  private static final String TOKEN = "console-test-token-0123456789abcdef";
  private static final HttpClient HTTP = HttpClient.newHttpClient();

  @TempDir
  static Path dir;
  private static final ScheduledExecutorService scheduler =
      Executors.newSingleThreadScheduledExecutor();
  private static Server steady;
  private static Server flaky;
  private static final HealthStatusManager flakyHealth = new HealthStatusManager();
  private static TestGateway gateway;
  private static ManagedChannel channel;
  private static HeadlessChromium browser;

  @BeforeAll
  static void start() throws Exception {
    HealthStatusManager steadyHealth = new HealthStatusManager();
    steady = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(new EchoServiceImpl("steady", scheduler))
        .addService(new UserDirectoryService(Clock.systemUTC()))
        .addService(steadyHealth.getHealthService()).build().start();
    flaky = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(new EchoServiceImpl("flaky", scheduler))
        .addService(flakyHealth.getHealthService()).build().start();
    Path token = dir.resolve("admin.token");
    Files.writeString(token, TOKEN);
    Path config = dir.resolve("gateway.yaml");
    Files.writeString(config, """
        listener: {host: 127.0.0.1, port: 0, workerThreads: 2}
        admin: {host: 127.0.0.1, port: 0, tokenFile: "%s"}
        transcoding: {descriptors: ["%s"]}
        clusters:
          - name: echo
            endpoints: ["127.0.0.1:%d", "127.0.0.1:%d"]
            lbPolicy: meshgate_weighted_round_robin
            healthCheck: {serviceName: ""}
            circuitBreaker: {}
          - {name: users, endpoints: ["127.0.0.1:%d"]}
        routes:
          - name: echo
            match: {service: meshgate.samples.echo.v1.EchoService}
            cluster: echo
            timeout: 5s
            retry: {}
          - name: users
            match: {service: meshgate.samples.users.v1.UserDirectory}
            cluster: users
        """.formatted(token, SampleFleet.descriptorSet(dir), steady.getPort(), flaky.getPort(),
        steady.getPort()));
    gateway = TestGateway.start(Files.readString(config));
    gateway.gateway().useStore(new io.meshgate.gateway.config.ConfigStore(config, null));
    channel = ManagedChannelBuilder.forTarget(gateway.address()).usePlaintext().build();
    browser = HeadlessChromium.start();
  }

  @AfterAll
  static void stop() throws Exception {
    if (browser != null) {
      browser.close();
    }
    channel.shutdownNow();
    gateway.close();
    steady.shutdownNow();
    flaky.shutdownNow();
    scheduler.shutdownNow();
  }

  private static String console() {
    return "http://127.0.0.1:" + gateway.gateway().adminPort() + "/";
  }

  private static WebDriver signedIn(String view) {
    WebDriver driver = browser.driver();
    driver.get(console() + "#" + view);
    WebDriverWait wait = new WebDriverWait(driver, Duration.ofSeconds(20));
    wait.until(d -> !d.findElements(By.id("sign-in")).isEmpty()
        || !d.findElements(By.id("sign-out")).isEmpty());
    if (!driver.findElements(By.id("sign-in")).isEmpty()) {
      driver.findElement(By.id("token")).sendKeys(TOKEN);
      driver.findElement(By.id("sign-in")).click();
      wait.until(d -> !d.findElements(By.id("sign-out")).isEmpty());
    }
    driver.get(console() + "#" + view);
    return driver;
  }

  private static WebElement await(WebDriver driver, By what, Duration within) {
    return new WebDriverWait(driver, within).until(d -> {
      List<WebElement> found = d.findElements(what);
      return found.isEmpty() ? null : found.get(0);
    });
  }

  private static void echo(String text) {
    EchoServiceGrpc.newBlockingStub(channel).withDeadlineAfter(5, TimeUnit.SECONDS)
        .echo(EchoRequest.newBuilder().setMessage(text).build());
  }

  @Test
  void theOverviewChartsTheTrafficOfEachRouteAndCluster() throws Exception {
    for (int i = 0; i < 50; i++) {
      echo("chart " + i);
    }
    WebDriver driver = signedIn("overview");
    // Intervals close every 5 s: the route's card appears once one holding these calls has.
    WebElement card = await(driver, By.cssSelector("[data-series='route:echo']"),
        Duration.ofSeconds(30));
    await(driver, By.cssSelector("[data-series='cluster:echo']"), Duration.ofSeconds(10));
    assertTrue(card.getText().contains("requests/s"), card.getText());
    // The page redraws every 2 s: ask the page as it is now, not an element of a former draw.
    new WebDriverWait(driver, Duration.ofSeconds(10)).until(d ->
        d.findElements(By.cssSelector("[data-series='route:echo'] svg")).size() == 3
            && d.findElements(By.cssSelector("[data-series='route:echo'] path")).size() >= 4);
    assertTrue(driver.findElement(By.id("config-line")).getText().contains("2 routes, 2"
        + " clusters"), driver.findElement(By.id("config-line")).getText());
    assertFalse(driver.getPageSource().contains(TOKEN), "the token is never in the page");
    browser.screenshot("console-overview");
  }

  @Test
  void anEndpointTurningUnhealthyShowsWithinSeconds() throws Exception {
    WebDriver driver = signedIn("clusters");
    String flakyRow = "[data-cluster='echo'] [data-endpoint='127.0.0.1:" + flaky.getPort() + "']";
    new WebDriverWait(driver, Duration.ofSeconds(20)).until(d ->
        d.findElements(By.cssSelector(flakyRow)).stream().anyMatch(e ->
            e.getText().contains("READY")));
    flakyHealth.setStatus("", HealthCheckResponse.ServingStatus.NOT_SERVING);
    try {
      // The page refreshes every 2 s; health checks report at once.
      new WebDriverWait(driver, Duration.ofSeconds(15)).until(d ->
          d.findElements(By.cssSelector(flakyRow)).stream().anyMatch(e ->
              e.getText().contains("TRANSIENT_FAILURE")));
      String row = driver.findElement(By.cssSelector(flakyRow)).getText();
      assertTrue(row.contains("NOT_SERVING"), row);
      String steadyRow = driver.findElement(By.cssSelector("[data-cluster='echo']"
          + " [data-endpoint='127.0.0.1:" + steady.getPort() + "']")).getText();
      assertTrue(steadyRow.contains("READY"), steadyRow);
      String cluster = driver.findElement(By.cssSelector("[data-cluster='echo']")).getText();
      assertTrue(cluster.contains("Circuit breaker") && cluster.contains("closed"), cluster);
      browser.screenshot("console-clusters-unhealthy-endpoint");
    } finally {
      flakyHealth.setStatus("", HealthCheckResponse.ServingStatus.SERVING);
    }
  }

  @Test
  void aRefusedChangeShowsItsErrorOnTheRoutesPage() throws Exception {
    HttpResponse<String> refused = HTTP.send(HttpRequest.newBuilder(URI.create(
            "http://127.0.0.1:" + gateway.gateway().adminPort() + "/api/routes/broken"))
        .header("authorization", "Bearer " + TOKEN)
        .PUT(HttpRequest.BodyPublishers.ofString(
            "{\"match\": {\"service\": \"acme.Broken\"}, \"cluster\": \"nowhere\"}")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(422, refused.statusCode(), refused.body());
    WebDriver driver = signedIn("routes");
    WebElement entry = await(driver, By.cssSelector("#reloads [data-applied='false']"),
        Duration.ofSeconds(10));
    assertTrue(entry.getText().contains("refused"), entry.getText());
    assertTrue(entry.getText().contains("'nowhere' is not a defined cluster"), entry.getText());
    String routes = driver.findElement(By.id("routes")).getText();
    assertTrue(routes.contains("echo") && routes.contains("retry"), routes);
    browser.screenshot("console-routes-refused-change");
  }

  @Test
  void theTesterSendsACallThroughTheGatewayAndShowsAStreamMessageByMessage() throws Exception {
    WebDriver driver = signedIn("tester");
    await(driver, By.id("service"), Duration.ofSeconds(10));
    new Select(driver.findElement(By.id("service"))).selectByValue(
        "meshgate.samples.echo.v1.EchoService");
    new Select(driver.findElement(By.id("method"))).selectByValue("Echo");
    WebElement request = driver.findElement(By.id("request"));
    assertTrue(request.getDomProperty("value").contains("\"responseCount\": 0"),
        "pre-filled from the schema: " + request.getDomProperty("value"));
    request.clear();
    request.sendKeys("{\"message\": \"from the console\"}");
    driver.findElement(By.id("metadata")).sendKeys("x-from: console");
    driver.findElement(By.id("send")).click();
    WebElement end = await(driver, By.id("end"), Duration.ofSeconds(15));
    assertTrue(end.getText().contains("OK"), end.getText());
    String response = driver.findElement(By.id("response")).getText();
    assertTrue(response.contains("from the console"), response);
    assertTrue(response.contains("Headers"), response);

    new Select(driver.findElement(By.id("method"))).selectByValue("Expand");
    request.clear();
    request.sendKeys("{\"message\": \"s\", \"responseCount\": 3}");
    driver.findElement(By.id("send")).click();
    new WebDriverWait(driver, Duration.ofSeconds(15)).until(d ->
        !d.findElements(By.cssSelector("#response #end")).isEmpty()
            && d.findElements(By.cssSelector("#response .event.message")).size() == 3);
    assertEquals("3 message(s)", driver.findElement(By.cssSelector("#end .count")).getText());
    browser.screenshot("console-tester-stream");
  }

  @Test
  void theRestApiPageRendersTheOpenApiAndTriesACallThroughTheGateway() throws Exception {
    WebDriver driver = signedIn("api");
    WebElement op = await(driver, By.cssSelector("[data-op='GET /v1/users/{user_id}']"),
        Duration.ofSeconds(10));
    op.findElement(By.tagName("summary")).click();
    op.findElement(By.cssSelector("[data-param='user_id']")).sendKeys("u-1");
    op.findElement(By.cssSelector("button.try")).click();
    WebElement answer = new WebDriverWait(driver, Duration.ofSeconds(15)).until(d -> {
      List<WebElement> found = op.findElements(By.cssSelector(".answer"));
      return found.isEmpty() ? null : found.get(0);
    });
    assertTrue(answer.getText().contains("Ada Lovelace"), answer.getText());
    assertTrue(op.getText().contains("200"), op.getText());
    browser.screenshot("console-rest-api");
  }

  @Test
  void withoutACredentialTheConsoleIsReadOnlyAndTheTesterIsOff() throws Exception {
    try (TestGateway open = TestGateway.start("""
        clusters: [{name: echo, endpoints: ["127.0.0.1:%d"]}]
        routes: [{name: echo, match: {servicePrefix: ""}, cluster: echo}]
        """.formatted(steady.getPort()))) {
      String base = "http://127.0.0.1:" + open.gateway().adminPort();
      WebDriver driver = browser.driver();
      driver.get(base + "/#clusters");
      WebElement banner = await(driver, By.cssSelector("#banner:not([hidden])"),
          Duration.ofSeconds(10));
      assertTrue(banner.getText().contains("Read-only"), banner.getText());
      await(driver, By.cssSelector("[data-cluster='echo']"), Duration.ofSeconds(10));
      driver.get(base + "/#tester");
      WebElement off = await(driver, By.id("tester-off"), Duration.ofSeconds(10));
      assertTrue(off.getText().contains("off"), off.getText());
      browser.screenshot("console-read-only");
      HttpResponse<String> call = HTTP.send(HttpRequest.newBuilder(URI.create(base
          + "/api/call")).POST(HttpRequest.BodyPublishers.ofString("{}")).build(),
          HttpResponse.BodyHandlers.ofString());
      assertEquals(403, call.statusCode(), call.body());
      assertTrue(call.body().contains("admin.token"), call.body());
    }
  }
}
