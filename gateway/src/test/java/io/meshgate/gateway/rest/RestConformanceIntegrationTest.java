package io.meshgate.gateway.rest;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.meshgate.gateway.testing.HttpClients;
import io.meshgate.gateway.testing.HttpClients.Protocol;
import io.meshgate.gateway.testing.ReportingBackend;
import io.meshgate.gateway.testing.TestGateway;
import io.meshgate.transcoder.ConformanceCases;
import io.meshgate.transcoder.DescriptorPool;
import java.io.InputStream;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The google.api.http conformance cases end to end: a REST request through the gateway, over
 * HTTP/1.1 and HTTP/2, reaches a real gRPC backend as exactly the request the spec says.
 */
class RestConformanceIntegrationTest {
  @TempDir
  static Path dir;
  private static ReportingBackend backend;
  private static TestGateway gateway;

  @BeforeAll
  static void start() throws Exception {
    Path descriptors = dir.resolve("conformance.pb");
    try (InputStream in = ConformanceCases.class.getResourceAsStream(
        ConformanceCases.DESCRIPTOR_SET)) {
      Files.copy(in, descriptors);
    }
    backend = ReportingBackend.start(DescriptorPool.fromFiles(List.of(descriptors)));
    gateway = TestGateway.start("""
        listener:
          host: 127.0.0.1
          port: 0
          workerThreads: 2
          tls: {certFile: tls/server.pem, keyFile: tls/server.key, allowPlaintext: true}
        admin: {host: 127.0.0.1, port: 0}
        clusters: [{name: backend, endpoints: [127.0.0.1:%d]}]
        routes: [{match: {servicePrefix: meshgate.conformance.}, cluster: backend}]
        transcoding: {descriptors: [%s]}
        """.formatted(backend.port(), descriptors));
  }

  @AfterAll
  static void stop() {
    if (gateway != null) {
      gateway.close();
    }
    if (backend != null) {
      backend.close();
    }
  }

  static Stream<Arguments> cases() {
    List<Arguments> arguments = new ArrayList<>();
    for (Protocol protocol : Protocol.values()) {
      for (ConformanceCases.Case c : ConformanceCases.all()) {
        arguments.add(Arguments.of(protocol, c));
      }
    }
    return arguments.stream();
  }

  private static final java.util.Map<Protocol, HttpClient> CLIENTS = new java.util.EnumMap<>(
      java.util.Map.of(Protocol.HTTP_1_1, HttpClients.client(Protocol.HTTP_1_1),
          Protocol.HTTP_2, HttpClients.client(Protocol.HTTP_2)));

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("cases")
  void theBackendReceivesWhatTheSpecSays(Protocol protocol, ConformanceCases.Case c)
      throws Exception {
    HttpRequest request = HttpRequest.newBuilder(protocol.uri(gateway.port(), c.pathAndQuery()))
        .header("content-type", "application/json")
        .method(c.method(), c.body() == null ? HttpRequest.BodyPublishers.noBody()
            : HttpRequest.BodyPublishers.ofString(c.body()))
        .build();
    HttpResponse<String> response = CLIENTS.get(protocol).send(request,
        HttpResponse.BodyHandlers.ofString());
    assertEquals(200, response.statusCode(), response.body());
    // A unary answer, or the first line of a stream.
    JsonObject answer = JsonParser.parseString(response.body().split("\n")[0])
        .getAsJsonObject();
    String report = answer.has("text") ? answer.get("text").getAsString()
        : answer.get("title").getAsString();
    assertEquals(c.expected(), report);
  }
}
