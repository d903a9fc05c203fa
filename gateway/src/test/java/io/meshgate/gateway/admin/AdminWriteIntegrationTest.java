package io.meshgate.gateway.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.meshgate.gateway.Gateway;
import io.meshgate.gateway.config.ConfigFileWatcher;
import io.meshgate.gateway.config.ConfigLoader;
import io.meshgate.gateway.config.ConfigStore;
import io.meshgate.gateway.testing.SampleFleet;
import io.meshgate.gateway.upstream.UpstreamCluster;
import io.meshgate.samples.SampleServer;
import io.meshgate.samples.echo.v1.EchoRequest;
import io.meshgate.samples.echo.v1.EchoServiceGrpc;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Changes through the admin API: validated as a whole document, written to the configuration
 * file, applied at once; refused changes touch neither the file nor the running gateway.
 */
@Timeout(60)
class AdminWriteIntegrationTest {
  private static final String TOKEN = "an-admin-token-for-writes";
  private static final HttpClient HTTP = HttpClient.newHttpClient();

  @TempDir
  Path dir;

  private static HttpResponse<String> call(Gateway gateway, String method, String path,
      String body) throws Exception {
    return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
            + gateway.adminPort() + path))
        .header("authorization", "Bearer " + TOKEN)
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
            : HttpRequest.BodyPublishers.ofString(body)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void routesAndClustersChangeThroughTheApiAndTheFile() throws Exception {
    try (SampleFleet fleet = SampleFleet.start()) {
      int echo = fleet.server(SampleServer.Kind.ECHO).port();
      Path file = dir.resolve("gateway.yaml");
      Files.writeString(file, """
          # the file the admin API writes to
          listener: {host: 127.0.0.1, port: 0, workerThreads: 2}
          admin: {host: 127.0.0.1, port: 0, token: %s}
          clusters:
            - {name: echo, endpoints: [127.0.0.1:%d]}
          routes: []
          """.formatted(TOKEN, echo));
      try (Gateway gateway = Gateway.start(ConfigLoader.load(file));
          ConfigFileWatcher watcher = ConfigFileWatcher.start(file, Duration.ofSeconds(60),
              gateway::apply, (ok, message) -> { })) {
        gateway.useStore(new ConfigStore(file, watcher));
        ManagedChannel channel = io.grpc.netty.NettyChannelBuilder
            .forTarget("127.0.0.1:" + gateway.port()).usePlaintext().build();
        try {
          EchoServiceGrpc.EchoServiceBlockingStub stub = EchoServiceGrpc.newBlockingStub(channel);
          assertEquals(Status.Code.UNIMPLEMENTED, assertThrows(StatusRuntimeException.class,
              () -> stub.echo(EchoRequest.newBuilder().setMessage("x").build())).getStatus()
              .getCode());

          HttpResponse<String> put = call(gateway, "PUT", "/api/routes/echo",
              "{\"match\": {\"service\": \"meshgate.samples.echo.v1.EchoService\"},"
                  + " \"cluster\": \"echo\", \"timeout\": \"5s\"}");
          assertEquals(200, put.statusCode(), put.body());
          assertTrue(put.body().contains("\"applied\":true"), put.body());
          assertEquals("hi", stub.echo(EchoRequest.newBuilder().setMessage("hi").build())
              .getMessage(), "the new route serves as soon as the call returns");
          assertTrue(Files.readString(file).contains("meshgate.samples.echo.v1.EchoService"),
              "the change is in the file, so it survives a restart");

          String before = Files.readString(file);
          HttpResponse<String> bad = call(gateway, "PUT", "/api/routes/broken",
              "{\"match\": {\"service\": \"x.Y\"}, \"cluster\": \"nowhere\"}");
          assertEquals(422, bad.statusCode());
          assertTrue(bad.body().contains("routes[1].cluster: 'nowhere' is not a defined"
              + " cluster"), bad.body());
          assertEquals(before, Files.readString(file), "a refused change is not written");

          HttpResponse<String> inUse = call(gateway, "DELETE", "/api/clusters/echo", null);
          assertEquals(422, inUse.statusCode(), "a cluster a route uses cannot go");
          assertTrue(inUse.body().contains("'echo' is not a defined cluster"), inUse.body());

          UpstreamCluster old = gateway.cluster("echo");
          HttpResponse<String> cluster = call(gateway, "PUT", "/api/clusters/echo",
              "{\"endpoints\": [\"127.0.0.1:" + echo + "\"], \"connectTimeout\": \"2s\"}");
          assertEquals(200, cluster.statusCode(), cluster.body());
          assertNotSame(old, gateway.cluster("echo"), "the changed cluster is replaced");
          assertEquals("again", stub.echo(EchoRequest.newBuilder().setMessage("again")
              .build()).getMessage());

          assertEquals(200, call(gateway, "DELETE", "/api/routes/echo", null).statusCode());
          assertEquals(Status.Code.UNIMPLEMENTED, assertThrows(StatusRuntimeException.class,
              () -> stub.echo(EchoRequest.newBuilder().setMessage("x").build())).getStatus()
              .getCode());
          assertEquals(404, call(gateway, "DELETE", "/api/routes/echo", null).statusCode());
          assertFalse(Files.readString(file).contains("EchoService"));
        } finally {
          channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
      }
    }
  }
}
