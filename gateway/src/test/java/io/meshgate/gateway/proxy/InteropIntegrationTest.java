package io.meshgate.gateway.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannelBuilder;
import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.testing.integration.AbstractInteropTest;
import io.grpc.testing.integration.TestServiceImpl;
import io.meshgate.gateway.testing.TestGateway;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * grpc-java's own interop suite ({@code io.grpc:grpc-interop-testing}: its {@code TestService}
 * server and the client cases of {@code AbstractInteropTest}, the ones {@code
 * TestServiceClient} runs) through the gateway: every case that passes against the server
 * directly passes through a gateway with its default configuration — the 10 MiB request and
 * response included, streamed through frame by frame with nothing held whole — and through a
 * cluster that goes by grpc-java channels ({@code streaming: false}) once its whole-message
 * limit is raised. A per-message limit, when set, refuses them naming it.
 */
@Timeout(180)
class InteropIntegrationTest {
  /** Cases a 4 MiB message limit stops: a 10 MiB request, a 10 MiB response. */
  private static final List<String> LARGE = List.of("very_large_request", "very_large_response");

  private static ScheduledExecutorService executor;
  private static Server server;
  private static TestGateway gateway;
  private static TestGateway channels;
  private static TestGateway strict;

  /** A client case run against one address. */
  private interface Case {
    void run(AbstractInteropTest client) throws Exception;
  }

  private static final Map<String, Case> CASES = new LinkedHashMap<>();

  static {
    CASES.put("empty_unary", AbstractInteropTest::emptyUnary);
    CASES.put("large_unary", AbstractInteropTest::largeUnary);
    CASES.put("client_compressed_unary", c -> c.clientCompressedUnary(false));
    CASES.put("server_compressed_unary", AbstractInteropTest::serverCompressedUnary);
    CASES.put("client_streaming", AbstractInteropTest::clientStreaming);
    CASES.put("client_compressed_streaming", c -> c.clientCompressedStreaming(false));
    CASES.put("server_streaming", AbstractInteropTest::serverStreaming);
    CASES.put("server_compressed_streaming", AbstractInteropTest::serverCompressedStreaming);
    CASES.put("ping_pong", AbstractInteropTest::pingPong);
    CASES.put("empty_stream", AbstractInteropTest::emptyStream);
    CASES.put("cancel_after_begin", AbstractInteropTest::cancelAfterBegin);
    CASES.put("cancel_after_first_response", AbstractInteropTest::cancelAfterFirstResponse);
    CASES.put("timeout_on_sleeping_server", AbstractInteropTest::timeoutOnSleepingServer);
    CASES.put("custom_metadata", AbstractInteropTest::customMetadata);
    CASES.put("status_code_and_message", AbstractInteropTest::statusCodeAndMessage);
    CASES.put("special_status_message", AbstractInteropTest::specialStatusMessage);
    CASES.put("unimplemented_method", AbstractInteropTest::unimplementedMethod);
    CASES.put("unimplemented_service", AbstractInteropTest::unimplementedService);
    CASES.put("full_duplex_call", AbstractInteropTest::fullDuplexCallShouldSucceed);
    CASES.put("half_duplex_call", AbstractInteropTest::halfDuplexCallShouldSucceed);
    CASES.put("exchange_metadata_unary", AbstractInteropTest::exchangeMetadataUnaryCall);
    CASES.put("exchange_metadata_streaming", AbstractInteropTest::exchangeMetadataStreamingCall);
    CASES.put("deadline_not_exceeded", AbstractInteropTest::deadlineNotExceeded);
    CASES.put("deadline_exceeded", AbstractInteropTest::deadlineExceeded);
    CASES.put("deadline_exceeded_server_streaming",
        AbstractInteropTest::deadlineExceededServerStreaming);
    CASES.put("deadline_in_past", AbstractInteropTest::deadlineInPast);
    CASES.put("very_large_request", AbstractInteropTest::veryLargeRequest);
    CASES.put("very_large_response", AbstractInteropTest::veryLargeResponse);
  }

  /** The suite's client, against one host and port (the server, or a gateway in front). */
  private static final class Client extends AbstractInteropTest {
    private final int port;

    Client(int port) {
      this.port = port;
    }

    @Override
    protected ManagedChannelBuilder<?> createChannelBuilder() {
      // As TestServiceClient builds its channel: plaintext, the suite's message size.
      return NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext()
          .maxInboundMessageSize(AbstractInteropTest.MAX_MESSAGE_SIZE);
    }

    @Override
    protected ServerBuilder<?> getServerBuilder() {
      return null; // the server runs on its own, as the interop suite's does
    }

    @Override
    protected boolean metricsExpected() {
      return false;
    }
  }

  @BeforeAll
  static void start() throws Exception {
    executor = Executors.newSingleThreadScheduledExecutor();
    server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .maxInboundMessageSize(AbstractInteropTest.MAX_MESSAGE_SIZE)
        .addService(ServerInterceptors.intercept(new TestServiceImpl(executor),
            TestServiceImpl.interceptors()))
        .build().start();
    String routes = """
        clusters: [{name: interop, endpoints: ["127.0.0.1:%d"]}]
        routes: [{name: all, match: {servicePrefix: ""}, cluster: interop}]
        """.formatted(server.getPort());
    gateway = TestGateway.start(routes);
    channels = TestGateway.start("""
        listener: {host: 127.0.0.1, port: 0, workerThreads: 2}
        admin: {host: 127.0.0.1, port: 0}
        limits: {maxMessageBytes: 16MiB}
        clusters: [{name: interop, endpoints: ["127.0.0.1:%d"], streaming: false}]
        routes: [{name: all, match: {servicePrefix: ""}, cluster: interop}]
        """.formatted(server.getPort()));
    strict = TestGateway.start("""
        listener: {host: 127.0.0.1, port: 0, workerThreads: 2}
        admin: {host: 127.0.0.1, port: 0}
        limits: {maxStreamedMessageBytes: 4MiB}
        """ + routes);
  }

  @AfterAll
  static void stop() throws Exception {
    gateway.close();
    channels.close();
    strict.close();
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    executor.shutdownNow();
  }

  /** The case's failure against {@code port}, or null when it passed. */
  private static Throwable run(Case test, int port) {
    Client client = new Client(port);
    client.setUp();
    try {
      test.run(client);
      return null;
    } catch (Throwable e) {
      return e;
    } finally {
      client.tearDown();
    }
  }

  @Test
  void everyCaseThatPassesDirectlyPassesThroughTheGateway() {
    List<String> direct = new ArrayList<>();
    List<String> failedThrough = new ArrayList<>();
    List<String> failedOnChannels = new ArrayList<>();
    for (Map.Entry<String, Case> test : CASES.entrySet()) {
      Throwable directly = run(test.getValue(), server.getPort());
      if (directly != null) {
        direct.add(test.getKey() + ": " + directly);
        continue;
      }
      Throwable through = run(test.getValue(), gateway.port());
      if (through != null) {
        failedThrough.add(test.getKey() + ": " + through);
      }
      Throwable onChannels = run(test.getValue(), channels.port());
      if (onChannels != null) {
        failedOnChannels.add(test.getKey() + ": " + onChannels);
      }
    }
    System.out.printf("interop through the gateway: %d cases; failing directly (not counted):"
        + " %s%n", CASES.size(), direct);
    assertEquals(List.of(), direct, "every case passes against the interop server itself");
    assertEquals(List.of(), failedThrough, "with the default configuration");
    assertEquals(List.of(), failedOnChannels, "through grpc-java channels, 16 MiB messages");
  }

  @Test
  void aMessageOverTheLimitIsRefusedNamingIt() {
    for (String name : LARGE) {
      Throwable through = run(CASES.get(name), strict.port());
      assertTrue(through instanceof io.grpc.StatusRuntimeException, name + ": " + through);
      Status status = ((io.grpc.StatusRuntimeException) through).getStatus();
      assertEquals(Status.Code.RESOURCE_EXHAUSTED, status.getCode(), name + ": " + status);
      assertTrue(status.getDescription().contains("maxStreamedMessageBytes"), name + ": "
          + status.getDescription());
    }
    // The gateway keeps serving.
    assertEquals(null, run(CASES.get("large_unary"), strict.port()));
  }
}
