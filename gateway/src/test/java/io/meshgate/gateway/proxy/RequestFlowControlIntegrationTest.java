package io.meshgate.gateway.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.meshgate.gateway.testing.TestGateway;
import io.meshgate.samples.echo.v1.EchoRequest;
import io.meshgate.samples.echo.v1.EchoResponse;
import io.meshgate.samples.echo.v1.EchoServiceGrpc;
import io.meshgate.testing.Await;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * The request direction of flow control: a backend that stops reading a client stream stops the
 * client after the HTTP/2 windows on the way are full (the gateway reads from the client only
 * while the upstream stream takes more), not after everything was sent into the gateway; once the
 * backend reads again, every message arrives.
 */
class RequestFlowControlIntegrationTest {
  private static final int MESSAGE_BYTES = 64 * 1024;
  private static final int MESSAGES = 1024; // 64 MiB in all

  @Test
  void aBackendThatStopsReadingStopsTheClientAtTheWindows() throws Exception {
    AtomicInteger received = new AtomicInteger();
    AtomicReference<ServerCallStreamObserver<EchoResponse>> backendCall = new AtomicReference<>();
    Server backend = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .flowControlWindow(1 << 20) // a fixed window: no BDP growth
        .addService(new EchoServiceGrpc.EchoServiceImplBase() {
          @Override
          public StreamObserver<EchoRequest> collect(StreamObserver<EchoResponse> responses) {
            ServerCallStreamObserver<EchoResponse> call =
                (ServerCallStreamObserver<EchoResponse>) responses;
            call.disableAutoRequest(); // reads nothing until the test says so
            backendCall.set(call);
            return new StreamObserver<>() {
              @Override
              public void onNext(EchoRequest request) {
                received.incrementAndGet();
              }

              @Override
              public void onError(Throwable t) {}

              @Override
              public void onCompleted() {
                responses.onNext(EchoResponse.newBuilder()
                    .setMessage(Integer.toString(received.get())).build());
                responses.onCompleted();
              }
            };
          }
        })
        .build().start();
    try (TestGateway gateway = TestGateway.start("""
        clusters: [{name: echo, endpoints: ["127.0.0.1:%d"]}]
        routes: [{match: {servicePrefix: ""}, cluster: echo}]
        """.formatted(backend.getPort()))) {
      EchoRequest message = EchoRequest.newBuilder()
          .setPayload(ByteString.copyFrom(new byte[MESSAGE_BYTES])).build();
      AtomicInteger sent = new AtomicInteger();
      CompletableFuture<String> answer = new CompletableFuture<>();
      EchoServiceGrpc.newStub(gateway.channel()).withDeadlineAfter(60, TimeUnit.SECONDS)
          .collect(new ClientResponseObserver<EchoRequest, EchoResponse>() {
            @Override
            public void beforeStart(ClientCallStreamObserver<EchoRequest> requests) {
              requests.setOnReadyHandler(() -> {
                // Sends only while the call is ready: what the windows let through.
                while (requests.isReady() && sent.get() < MESSAGES) {
                  requests.onNext(message);
                  if (sent.incrementAndGet() == MESSAGES) {
                    requests.onCompleted();
                  }
                }
              });
            }

            @Override
            public void onNext(EchoResponse response) {
              answer.complete(response.getMessage());
            }

            @Override
            public void onError(Throwable t) {
              answer.completeExceptionally(t);
            }

            @Override
            public void onCompleted() {}
          });

      long stalledAt = Await.settled("messages the client could send", Duration.ofSeconds(1),
          Duration.ofSeconds(30), sent::get);
      long stalledBytes = stalledAt * MESSAGE_BYTES;
      System.out.printf("request flow control: the client stopped after %d KiB of %d MiB%n",
          stalledBytes >> 10, ((long) MESSAGES * MESSAGE_BYTES) >> 20);
      assertEquals(0, received.get(), "the backend has read nothing yet");
      // The gateway's stream window (1 MiB), the backend's (1 MiB), what the gateway sends
      // ahead of the upstream stream and what the client buffers: a few MiB, not 64.
      assertTrue(stalledBytes < 8L << 20, "the client sent " + (stalledBytes >> 10)
          + " KiB into a backend that reads nothing: the gateway did not hold it back");

      backendCall.get().request(Integer.MAX_VALUE);
      assertEquals(Integer.toString(MESSAGES), answer.get(60, TimeUnit.SECONDS),
          "every message arrives once the backend reads");
    } finally {
      backend.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }
}
