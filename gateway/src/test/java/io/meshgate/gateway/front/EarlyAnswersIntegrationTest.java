package io.meshgate.gateway.front;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.meshgate.gateway.testing.SampleFleet;
import io.meshgate.gateway.testing.TestGateway;
import io.meshgate.samples.echo.v1.EchoRequest;
import io.meshgate.samples.echo.v1.EchoServiceGrpc;
import io.meshgate.samples.users.v1.GetUserRequest;
import io.meshgate.samples.users.v1.UserDirectoryGrpc;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A client the gateway answers early, many times, on one connection: every answer is the
 * status itself, never the connection cut off because the gateway reset the streams it had
 * answered before the client finished sending (Netty counts those resets by default).
 */
@Timeout(60)
class EarlyAnswersIntegrationTest {
  @Test
  void aThousandEarlyRefusalsDoNotCostTheClientItsConnection() throws Exception {
    try (SampleFleet fleet = SampleFleet.start();
        TestGateway gateway = TestGateway.start(fleet.clustersAndRoutes()
            .replace("  - {name: users, match: {service: meshgate.samples.users.v1.UserDirectory},"
                + " cluster: users}\n", ""))) {
      ManagedChannel channel = gateway.channel();
      // No route for UserDirectory: the gateway answers UNIMPLEMENTED on the headers, while
      // the client's stream is still open, and resets the stream (NO_ERROR) to stop it.
      for (int i = 0; i < 1000; i++) {
        io.grpc.ClientCall<GetUserRequest, io.meshgate.samples.users.v1.User> call = channel.newCall(
            UserDirectoryGrpc.getGetUserMethod(), io.grpc.CallOptions.DEFAULT);
        java.util.concurrent.CompletableFuture<Status> closed =
            new java.util.concurrent.CompletableFuture<>();
        call.start(new io.grpc.ClientCall.Listener<io.meshgate.samples.users.v1.User>() {
          @Override
          public void onClose(Status status, io.grpc.Metadata trailers) {
            closed.complete(status);
          }
        }, new io.grpc.Metadata());
        call.request(1);
        // The request, but no end of stream: the client is still sending when it is answered.
        call.sendMessage(GetUserRequest.newBuilder().setUserId("u-1").build());
        Status status = closed.get(10, java.util.concurrent.TimeUnit.SECONDS);
        assertEquals(Status.Code.UNIMPLEMENTED, status.getCode(), "call " + i + ": " + status);
      }
      assertEquals("still served", EchoServiceGrpc.newBlockingStub(channel)
          .echo(EchoRequest.newBuilder().setMessage("still served").build()).getMessage());
    }
  }
}
