package io.meshgate.gateway.telemetry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import io.meshgate.gateway.testing.Metrics;
import io.meshgate.gateway.testing.SampleFleet;
import io.meshgate.gateway.testing.TestGateway;
import io.meshgate.samples.SampleServer;
import io.meshgate.samples.echo.v1.EchoRequest;
import io.meshgate.samples.echo.v1.EchoResponse;
import io.meshgate.samples.echo.v1.EchoServiceGrpc;
import io.meshgate.samples.orders.v1.CreateOrderRequest;
import io.meshgate.samples.orders.v1.ImportSummary;
import io.meshgate.samples.orders.v1.LineItem;
import io.meshgate.samples.orders.v1.OrderServiceGrpc;
import io.meshgate.samples.users.v1.GetUserRequest;
import io.meshgate.samples.users.v1.ListUsersRequest;
import io.meshgate.samples.users.v1.UserDirectoryGrpc;
import io.meshgate.testing.Await;
import io.meshgate.testing.DebianPackages;
import io.meshgate.testing.Observers;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * What an operator sees of calls on the admin port's {@code /metrics} and in the access log,
 * for gRPC and REST callers, through a real gateway to the sample services.
 */
@Timeout(60)
class TelemetryIntegrationTest {
  private static final Duration WAIT = Duration.ofSeconds(20);
  private static final String USERS = "meshgate.samples.users.v1.UserDirectory";

  @TempDir
  static Path dir;
  private static SampleFleet fleet;
  private static TestGateway gateway;
  private static ManagedChannel channel;
  private static Path accessLog;
  private static final HttpClient HTTP = HttpClient.newHttpClient();

  @BeforeAll
  static void start() throws Exception {
    fleet = SampleFleet.start();
    accessLog = dir.resolve("access.log");
    gateway = TestGateway.start("""
        transcoding: {descriptors: [%s]}
        accessLog: {path: %s}
        """.formatted(SampleFleet.descriptorSet(dir), accessLog) + fleet.clustersAndRoutes());
    channel = gateway.channel();
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

  private static Metrics scrape() throws Exception {
    return Metrics.scrape(gateway.gateway().adminPort());
  }

  private static String[] users(String method, String code) {
    return new String[] {"protocol", "grpc", "route", "users", "cluster", "users", "service",
        USERS, "method", method, "code", code};
  }

  @Test
  void countsGrpcCallsByRouteMethodAndStatus() throws Exception {
    Metrics before = scrape();
    UserDirectoryGrpc.UserDirectoryBlockingStub users = UserDirectoryGrpc.newBlockingStub(channel);
    for (int i = 0; i < 3; i++) {
      users.getUser(GetUserRequest.newBuilder().setUserId("u-1").build());
    }
    StatusRuntimeException missing = assertThrows(StatusRuntimeException.class,
        () -> users.getUser(GetUserRequest.newBuilder().setUserId("nobody").build()));
    assertEquals(Status.Code.NOT_FOUND, missing.getStatus().getCode());

    Metrics after = scrape();
    assertEquals(3, delta(before, after, "meshgate_requests_total", users("GetUser", "OK")));
    assertEquals(1, delta(before, after, "meshgate_requests_total",
        users("GetUser", "NOT_FOUND")));
    assertEquals(3, delta(before, after, "meshgate_request_duration_seconds_count",
        users("GetUser", "OK")), "the latency histogram counts every call");
    assertTrue(after.sum("meshgate_request_duration_seconds_sum", users("GetUser", "OK")) > 0);
  }

  @Test
  void theJvmsOwnMetersAreExportedWithTheBytesItAllocates() throws Exception {
    Metrics before = scrape();
    assertTrue(before.sum("jvm_memory_used_bytes", "area", "heap") > 0, before.text());
    assertTrue(before.sum("jvm_threads_live_threads") > 0);
    assertTrue(before.sum("process_uptime_seconds") > 0);
    assertFalse(before.find("jvm_gc_memory_allocated_bytes_total").isEmpty(),
        "micrometer's GC meters are bound");
    // Each response's payload is a new 64 KiB array in this JVM (the sample backend and the
    // test's client run here too): the counter must have grown by at least all of them.
    com.google.protobuf.ByteString payload = com.google.protobuf.ByteString.copyFrom(
        new byte[64 * 1024]);
    EchoServiceGrpc.EchoServiceBlockingStub echo = EchoServiceGrpc.newBlockingStub(channel);
    for (int i = 0; i < 8; i++) {
      assertEquals(payload.size(), echo.echo(EchoRequest.newBuilder().setPayload(payload)
          .build()).getPayload().size());
    }
    Metrics after = scrape();
    double allocated = delta(before, after, "meshgate_jvm_allocated_bytes_total");
    assertTrue(allocated >= 8 * 64 * 1024, "allocated " + allocated + " bytes");
  }

  @Test
  void upstreamClustersReportTheirEndpointsAndConnections() throws Exception {
    UserDirectoryGrpc.newBlockingStub(channel)
        .getUser(GetUserRequest.newBuilder().setUserId("u-1").build());
    Metrics metrics = scrape();
    assertEquals(1, metrics.sum("meshgate_upstream_endpoints", "cluster", "users"));
    assertTrue(metrics.sum("meshgate_upstream_channels", "cluster", "users", "state", "READY")
        >= 1, "the channel that carried the call is connected");
    assertEquals(2, metrics.sum("meshgate_upstream_channels", "cluster", "users"),
        "one channel per event loop (2 workers)");
  }

  @Test
  void latencyHistogramPutsACallInTheRightBucket() throws Exception {
    String[] echo = {"protocol", "grpc", "route", "echo", "method", "Echo", "code", "OK"};
    Metrics before = scrape();
    EchoServiceGrpc.newBlockingStub(channel)
        .echo(EchoRequest.newBuilder().setMessage("slow").setDelayMillis(300).build());
    Metrics after = scrape();
    assertEquals(1, delta(before, after, "meshgate_request_duration_seconds_bucket",
        concat(echo, "le", "0.5")), "a 300 ms call is under the 500 ms bucket");
    assertEquals(0, delta(before, after, "meshgate_request_duration_seconds_bucket",
        concat(echo, "le", "0.25")), "and not under the 250 ms one");
    assertEquals(1, delta(before, after, "meshgate_request_duration_seconds_bucket",
        concat(echo, "le", "+Inf")));
  }

  @Test
  void countsStreamMessagesAndBytesEachWay() throws Exception {
    Metrics before = scrape();
    List<?> listed = new ArrayList<>();
    UserDirectoryGrpc.newBlockingStub(channel).listUsers(ListUsersRequest.getDefaultInstance())
        .forEachRemaining(user -> listed.add(null));
    CompletableFuture<ImportSummary> summary = new CompletableFuture<>();
    StreamObserver<CreateOrderRequest> requests = OrderServiceGrpc.newStub(channel)
        .importOrders(Observers.completing(summary));
    for (int i = 0; i < 4; i++) {
      requests.onNext(CreateOrderRequest.newBuilder().setUserId("u-1")
          .addItems(LineItem.newBuilder().setSku("sku-" + i).setQuantity(1)).build());
    }
    requests.onCompleted();
    assertEquals(4, summary.get(10, TimeUnit.SECONDS).getImported());
    Metrics after = scrape();

    assertTrue(listed.size() >= 2);
    assertEquals(listed.size(), delta(before, after, "meshgate_response_messages_total",
        "route", "users", "method", "ListUsers"));
    assertTrue(delta(before, after, "meshgate_response_bytes_total", "route", "users", "method",
        "ListUsers") > listed.size() * 10);
    assertEquals(4, delta(before, after, "meshgate_request_messages_total", "route", "orders",
        "method", "ImportOrders"));
    assertEquals(1, delta(before, after, "meshgate_response_messages_total", "route", "orders",
        "method", "ImportOrders"));
  }

  @Test
  void inflightGaugeFollowsOpenCallsAndCancellationIsCounted() throws Exception {
    String[] echo = {"route", "echo", "method", "Echo"};
    Metrics before = scrape();
    ClientCall<EchoRequest, EchoResponse> call = channel.newCall(EchoServiceGrpc.getEchoMethod(),
        io.grpc.CallOptions.DEFAULT);
    CompletableFuture<Status> closed = new CompletableFuture<>();
    call.start(new ClientCall.Listener<EchoResponse>() {
      @Override
      public void onClose(Status status, Metadata trailers) {
        closed.complete(status);
      }
    }, new Metadata());
    call.sendMessage(EchoRequest.newBuilder().setHang(true).build());
    call.halfClose();
    call.request(1);
    double base = before.sum("meshgate_inflight_requests", echo);
    Await.until("the hanging call counts as in flight", WAIT,
        () -> gauge(echo), v -> v == base + 1);
    call.cancel("the test is done with it", null);
    assertEquals(Status.Code.CANCELLED, closed.get(10, TimeUnit.SECONDS).getCode());
    Await.until("the cancelled call leaves the gauge", WAIT, () -> gauge(echo), v -> v == base);
    Await.until("the cancellation is counted", WAIT,
        () -> delta(before, scrapeQuietly(), "meshgate_requests_total",
            concat(echo, "code", "CANCELLED")), v -> v == 1);
  }

  @Test
  void countsRestCallsOnTheirRouteAndUnmatchedOnesApart() throws Exception {
    Metrics before = scrape();
    assertEquals(200, get("/v1/users/u-1").statusCode());
    assertEquals(404, get("/v1/users/nobody").statusCode());
    assertEquals(404, get("/no/such/path").statusCode());
    Metrics after = scrape();
    assertEquals(1, delta(before, after, "meshgate_requests_total", "protocol", "rest", "route",
        "users", "method", "GetUser", "code", "OK"));
    assertEquals(1, delta(before, after, "meshgate_requests_total", "protocol", "rest", "route",
        "users", "method", "GetUser", "code", "NOT_FOUND"));
    assertEquals(1, delta(before, after, "meshgate_requests_total", "protocol", "rest", "route",
        "_unmatched", "method", "_unknown", "code", "NOT_FOUND"));
    assertTrue(delta(before, after, "meshgate_response_bytes_total", "protocol", "rest",
        "route", "users", "method", "GetUser") > 20, "response body bytes are counted");
  }

  @Test
  void writesOneJsonLinePerCallToTheAccessLog() throws Exception {
    UserDirectoryGrpc.newBlockingStub(channel)
        .getUser(GetUserRequest.newBuilder().setUserId("u-3").build());
    assertEquals(200, get("/v1/users/u-2").statusCode());
    JsonObject grpc = Await.until("the gRPC call's line", WAIT,
        () -> accessLine(line -> line.contains("\"GetUser\"") && line.contains("\"grpc\"")),
        line -> line != null);
    assertEquals("users", grpc.get("route").getAsString());
    assertEquals(USERS, grpc.get("service").getAsString());
    assertEquals("OK", grpc.get("code").getAsString());
    assertEquals("127.0.0.1", grpc.get("client").getAsString());
    assertEquals("127.0.0.1:" + fleet.server(SampleServer.Kind.USERS).port(),
        grpc.get("upstream").getAsString());
    assertTrue(grpc.get("durationMs").getAsDouble() > 0);
    assertTrue(grpc.get("responseBytes").getAsLong() > 0);
    assertTrue(grpc.get("time").getAsString().endsWith("Z"));

    JsonObject rest = Await.until("the REST call's line", WAIT,
        () -> accessLine(line -> line.contains("\"/v1/users/u-2\"")), line -> line != null);
    assertEquals("rest", rest.get("protocol").getAsString());
    assertEquals("GET", rest.get("httpMethod").getAsString());
    assertEquals("/v1/users/u-2", rest.get("path").getAsString());
    assertEquals(200, rest.get("httpStatus").getAsInt());
    assertEquals("GetUser", rest.get("method").getAsString());
  }

  @Test
  void prometheusToolingAcceptsTheExposition() throws Exception {
    DebianPackages.ensure("prometheus", List.of("promtool", "--version"));
    // Some traffic first, so that every kind of meter is in the output.
    UserDirectoryGrpc.newBlockingStub(channel)
        .getUser(GetUserRequest.newBuilder().setUserId("u-1").build());
    get("/v1/users/u-1");
    HttpResponse<String> response = HTTP.send(HttpRequest.newBuilder(URI.create(
        "http://127.0.0.1:" + gateway.gateway().adminPort() + "/metrics")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(200, response.statusCode());
    assertTrue(response.headers().firstValue("content-type").orElse("")
        .startsWith("text/plain; version=0.0.4"));
    String text = response.body();
    assertTrue(text.contains("# TYPE meshgate_request_duration_seconds histogram"), text);
    Process promtool = new ProcessBuilder("promtool", "check", "metrics")
        .redirectErrorStream(true).start();
    try (var in = promtool.getOutputStream()) {
      in.write(text.getBytes(StandardCharsets.UTF_8));
    }
    String output = new String(promtool.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(promtool.waitFor(30, TimeUnit.SECONDS));
    assertEquals(0, promtool.exitValue(), "promtool check metrics:\n" + output);
    assertFalse(output.contains("problem"), output);
  }

  @Test
  void methodNamesAClientInventsAreFoldedIntoOneLabel() throws Exception {
    try (TestGateway small = TestGateway.start("metrics: {maxMethods: 3}\n"
        + fleet.clustersAndRoutes())) {
      ManagedChannel ch = small.channel();
      MethodDescriptor<InputStream, InputStream> invented;
      for (int i = 0; i < 10; i++) {
        invented = MethodDescriptor.<InputStream, InputStream>newBuilder()
            .setType(MethodDescriptor.MethodType.UNARY)
            .setFullMethodName("meshgate.samples.orders.v1.Invented/Method" + i)
            .setRequestMarshaller(RAW).setResponseMarshaller(RAW).build();
        MethodDescriptor<InputStream, InputStream> m = invented;
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
            () -> ClientCalls.blockingUnaryCall(ch, m, io.grpc.CallOptions.DEFAULT,
                new ByteArrayInputStream(new byte[0])));
        assertEquals(Status.Code.UNIMPLEMENTED, e.getStatus().getCode(), e.getStatus().toString());
      }
      Metrics metrics = Metrics.scrape(small.gateway().adminPort());
      long methods = metrics.find("meshgate_requests_total", "route", "orders").stream()
          .map(s -> s.labels().get("method")).distinct().count();
      assertTrue(methods <= 4, "at most maxMethods names plus _other: " + methods);
      assertEquals(10, metrics.sum("meshgate_requests_total", "route", "orders", "code",
          "UNIMPLEMENTED"), "every call is still counted");
      assertTrue(metrics.sum("meshgate_requests_total", "route", "orders", "method", "_other")
          >= 7);
    }
  }

  // ---- Helpers -------------------------------------------------------------------------------

  private static final MethodDescriptor.Marshaller<InputStream> RAW =
      new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(InputStream value) {
          return value;
        }

        @Override
        public InputStream parse(InputStream stream) {
          return stream;
        }
      };

  private static double delta(Metrics before, Metrics after, String name, String... labels) {
    return after.sum(name, labels) - before.sum(name, labels);
  }

  private static double gauge(String[] labels) {
    return scrapeQuietly().sum("meshgate_inflight_requests", labels);
  }

  private static Metrics scrapeQuietly() {
    try {
      return scrape();
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  private static String[] concat(String[] labels, String... more) {
    String[] all = java.util.Arrays.copyOf(labels, labels.length + more.length);
    System.arraycopy(more, 0, all, labels.length, more.length);
    return all;
  }

  private static HttpResponse<String> get(String path) throws Exception {
    return HTTP.send(HttpRequest.newBuilder(URI.create("http://" + gateway.address() + path))
        .build(), HttpResponse.BodyHandlers.ofString());
  }

  private static JsonObject accessLine(java.util.function.Predicate<String> which) {
    try {
      if (!Files.exists(accessLog)) {
        return null;
      }
      for (String line : Files.readAllLines(accessLog)) {
        if (which.test(line)) {
          return JsonParser.parseString(line).getAsJsonObject();
        }
      }
      return null;
    } catch (java.io.IOException e) {
      throw new AssertionError(e);
    }
  }
}
