package io.meshgate.gateway.descriptors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.api.AnnotationsProto;
import com.google.api.HttpRule;
import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import com.google.protobuf.DescriptorProtos.FileDescriptorSet;
import com.google.protobuf.DescriptorProtos.MethodDescriptorProto;
import com.google.protobuf.DescriptorProtos.ServiceDescriptorProto;
import com.google.protobuf.ExtensionRegistry;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.reflection.v1.ServiceResponse;
import io.grpc.stub.StreamObserver;
import io.meshgate.gateway.testing.HttpClients.Protocol;
import io.meshgate.gateway.testing.HttpClients;
import io.meshgate.gateway.testing.Metrics;
import io.meshgate.gateway.testing.SampleFleet;
import io.meshgate.gateway.testing.TestGateway;
import io.meshgate.samples.DocumentStoreService;
import io.meshgate.samples.SampleServer;
import io.meshgate.testing.Await;
import io.meshgate.testing.FreePorts;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Where REST routes come from and how they change: descriptor files reloaded when they change
 * (a broken or ambiguous set is rejected and the old routes keep serving), descriptors fetched
 * from an upstream's server reflection (v1 and v1alpha, retried while the upstream is down), and
 * reflection answered by the gateway itself.
 */
class DescriptorSourcesIntegrationTest {
  private static final Duration WAIT = Duration.ofSeconds(20);
  private static final HttpClient HTTP = HttpClients.client(Protocol.HTTP_1_1);

  @TempDir
  static Path dir;
  private static SampleFleet fleet;

  @BeforeAll
  static void start() throws Exception {
    fleet = SampleFleet.start();
  }

  @AfterAll
  static void stop() {
    if (fleet != null) {
      fleet.close();
    }
  }

  private static int status(TestGateway gateway, String method, String path) {
    try {
      return HTTP.send(HttpRequest.newBuilder(Protocol.HTTP_1_1.uri(gateway.port(), path))
          .method(method, HttpRequest.BodyPublishers.ofString("{}")).build(),
          HttpResponse.BodyHandlers.discarding()).statusCode();
    } catch (IOException | InterruptedException e) {
      throw new AssertionError(e);
    }
  }

  private static String body(TestGateway gateway, String path) throws Exception {
    return HTTP.send(HttpRequest.newBuilder(Protocol.HTTP_1_1.uri(gateway.port(), path)).build(),
        HttpResponse.BodyHandlers.ofString()).body();
  }

  /** The samples' descriptor set with EchoService.Echo's and Expand's HTTP rules replaced. */
  private static byte[] withEchoRules(HttpRule echo, HttpRule expand) throws IOException {
    ExtensionRegistry registry = ExtensionRegistry.newInstance();
    AnnotationsProto.registerAllExtensions(registry);
    FileDescriptorSet set = FileDescriptorSet.parseFrom(Files.readAllBytes(
        SampleFleet.descriptorSet(Files.createTempDirectory(dir, "orig"))), registry);
    FileDescriptorSet.Builder changed = set.toBuilder();
    for (FileDescriptorProto.Builder file : changed.getFileBuilderList()) {
      for (ServiceDescriptorProto.Builder service : file.getServiceBuilderList()) {
        if (!service.getName().equals("EchoService")) {
          continue;
        }
        for (MethodDescriptorProto.Builder method : service.getMethodBuilderList()) {
          HttpRule rule = method.getName().equals("Echo") ? echo
              : method.getName().equals("Expand") ? expand : null;
          if (rule != null) {
            method.getOptionsBuilder().setExtension(AnnotationsProto.http, rule);
          }
        }
      }
    }
    return changed.build().toByteArray();
  }

  /** Replaces a file the way deployment tools do: write aside, then rename over it. */
  private static void replace(Path file, byte[] contents) throws IOException {
    Path aside = file.resolveSibling(file.getFileName() + ".tmp");
    Files.write(aside, contents);
    Files.move(aside, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  @Test
  void aChangedFileIsReloadedAndABrokenOneIsRejectedWhileTheOldRoutesServe() throws Exception {
    Path descriptors = SampleFleet.descriptorSet(Files.createTempDirectory(dir, "reload"));
    try (TestGateway gateway = TestGateway.start("transcoding: {descriptors: [" + descriptors
        + "], watchInterval: 100ms}\n" + fleet.clustersAndRoutes())) {
      assertEquals(200, status(gateway, "POST", "/v1/echo"));

      HttpRule v2 = HttpRule.newBuilder().setPost("/v2/echo").setBody("*").build();
      HttpRule expand = HttpRule.newBuilder().setGet("/v2/echo:expand").build();
      replace(descriptors, withEchoRules(v2, expand));
      Await.until("the new rule serves", WAIT, () -> status(gateway, "POST", "/v2/echo") == 200);
      assertEquals(404, status(gateway, "POST", "/v1/echo"), "the old rule is gone");

      replace(descriptors, "not a descriptor set".getBytes());
      Descriptors watched = gateway.gateway().descriptors();
      String error = Await.until("the broken file is rejected", WAIT,
          () -> watched.errors().get(descriptors.toString()), e -> e != null);
      assertTrue(error.contains("not a FileDescriptorSet"), error);
      assertEquals(200, status(gateway, "POST", "/v2/echo"), "the last good routes serve");

      HttpRule clash = HttpRule.newBuilder().setPost("/v2/echo").setBody("*").build();
      replace(descriptors, withEchoRules(v2, clash));
      error = Await.until("the ambiguous set is rejected", WAIT,
          () -> watched.errors().get(descriptors.toString()),
          e -> e != null && e.contains("ambiguous"));
      assertTrue(error.contains("POST /v2/echo"), error);
      assertEquals(200, status(gateway, "GET", "/v2/echo:expand"), "still the last good routes");

      replace(descriptors, Files.readAllBytes(SampleFleet.descriptorSet(
          Files.createTempDirectory(dir, "again"))));
      Await.until("the original rules serve again", WAIT,
          () -> status(gateway, "POST", "/v1/echo") == 200);
      Await.until("no error is left", WAIT, () -> watched.errors().isEmpty());
      Metrics metrics = Metrics.scrape(gateway.gateway().adminPort());
      assertTrue(metrics.sum("meshgate_config_reloads_total", "source", "descriptors", "result",
          "applied") >= 2, "two changes applied");
      assertTrue(metrics.sum("meshgate_config_reloads_total", "source", "descriptors", "result",
          "rejected") >= 2, "two changes rejected");
    }
  }

  @Test
  void routesFromUpstreamReflectionAndReflectionServedByTheGateway() throws Exception {
    try (TestGateway gateway = TestGateway.start(
        "transcoding: {reflection: [{cluster: docs}, {cluster: users, services:"
            + " [meshgate.samples.users.v1.UserDirectory]}]}\n" + fleet.clustersAndRoutes())) {
      assertEquals(200, status(gateway, "GET", "/v1/users/u-1"), "users via reflection");
      HttpResponse<String> put = HTTP.send(HttpRequest.newBuilder(Protocol.HTTP_1_1.uri(
          gateway.port(), "/v1/folders/r/docs/a.txt")).header("content-type", "text/plain")
          .PUT(HttpRequest.BodyPublishers.ofString("hello")).build(),
          HttpResponse.BodyHandlers.ofString());
      assertEquals(200, put.statusCode(), put.body());
      assertTrue(put.body().contains("\"@type\":\"type.googleapis.com/meshgate.samples.docs.v1"
          + ".Checksum\""), "Any types come with the reflected files: " + put.body());
      assertEquals(404, status(gateway, "POST", "/v1/echo"), "echo's descriptors were not"
          + " asked for");

      List<String> services = listServices(gateway.channel());
      assertTrue(services.contains("meshgate.samples.docs.v1.DocumentStore"), services.toString());
      assertTrue(services.contains("meshgate.samples.users.v1.UserDirectory"),
          services.toString());
      assertTrue(services.contains("grpc.reflection.v1.ServerReflection"), services.toString());
      assertTrue(!services.contains("meshgate.samples.echo.v1.EchoService"), "no descriptors,"
          + " so not described: " + services);
      ServerReflectionResponse file = ask(gateway.channel(), ServerReflectionRequest.newBuilder()
          .setFileContainingSymbol("meshgate.samples.docs.v1.DocumentStore").build());
      assertTrue(file.hasFileDescriptorResponse(), file.toString());
      assertEquals("meshgate/samples/docs/v1/documents.proto", FileDescriptorProto.parseFrom(
          file.getFileDescriptorResponse().getFileDescriptorProto(0)).getName());
    }
  }

  @Test
  void aServerWithOnlyV1alphaReflection() throws Exception {
    @SuppressWarnings("deprecation")
    io.grpc.BindableService v1alpha = io.grpc.protobuf.services.ProtoReflectionService
        .newInstance();
    Server old = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(new DocumentStoreService(Clock.systemUTC()))
        .addService(v1alpha)
        .build().start();
    try (TestGateway gateway = TestGateway.start("""
        clusters: [{name: old, endpoints: [127.0.0.1:%d]}]
        routes: [{match: {service: meshgate.samples.docs.v1.DocumentStore}, cluster: old}]
        transcoding: {reflection: [{cluster: old}]}
        """.formatted(old.getPort()))) {
      assertEquals(404, status(gateway, "GET", "/v1/documents/d404"),
          "routed, and the backend says the document is not there");
      String body = body(gateway, "/v1/documents/d404");
      assertTrue(body.contains("\"code\":5") && body.contains("ResourceInfo"), body);
    } finally {
      old.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  @Test
  void reflectionFromAnUpstreamThatIsDownIsRetriedUntilItIsUp() throws Exception {
    int port = FreePorts.next();
    try (TestGateway gateway = TestGateway.start("""
        clusters: [{name: late, endpoints: [127.0.0.1:%d], connectTimeout: 1s}]
        routes: [{match: {service: meshgate.samples.users.v1.UserDirectory}, cluster: late}]
        transcoding: {reflection: [{cluster: late}]}
        """.formatted(port))) {
      String notYet = body(gateway, "/v1/users/u-1");
      assertTrue(notYet.contains("\"code\":5")
          && notYet.contains("reflection from cluster 'late' failed: UNAVAILABLE"), notYet);
      try (SampleServer late = SampleServer.start(SampleServer.Kind.USERS, "127.0.0.1", port)) {
        Await.until("the late upstream's routes", WAIT,
            () -> status(gateway, "GET", "/v1/users/u-1") == 200);
      }
    }
  }

  // ---- A reflection client -------------------------------------------------------------------

  private static List<String> listServices(ManagedChannel channel) throws Exception {
    List<String> names = new ArrayList<>();
    for (ServiceResponse service : ask(channel, ServerReflectionRequest.newBuilder()
        .setListServices("*").build()).getListServicesResponse().getServiceList()) {
      names.add(service.getName());
    }
    return names;
  }

  private static ServerReflectionResponse ask(ManagedChannel channel,
      ServerReflectionRequest request) throws Exception {
    CompletableFuture<ServerReflectionResponse> answer = new CompletableFuture<>();
    StreamObserver<ServerReflectionRequest> requests = ServerReflectionGrpc.newStub(channel)
        .withDeadlineAfter(10, TimeUnit.SECONDS)
        .serverReflectionInfo(new StreamObserver<>() {
          @Override
          public void onNext(ServerReflectionResponse value) {
            answer.complete(value);
          }

          @Override
          public void onError(Throwable t) {
            answer.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {
            answer.completeExceptionally(new AssertionError("no answer"));
          }
        });
    requests.onNext(request);
    requests.onCompleted();
    return answer.get(10, TimeUnit.SECONDS);
  }
}
