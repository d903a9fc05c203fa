package io.meshgate.resolver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** A plain grpc-java channel with a static:/// target reaches every listed server. */
class StaticNameResolverIntegrationTest {
  private final List<Server> servers = new ArrayList<>();
  private final List<AtomicInteger> calls = new ArrayList<>();
  private ManagedChannel channel;

  private int startServer() throws Exception {
    AtomicInteger counter = new AtomicInteger();
    calls.add(counter);
    Server server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(ServerInterceptors.intercept(new HealthStatusManager().getHealthService(),
            new io.grpc.ServerInterceptor() {
              @Override
              public <Q, R> io.grpc.ServerCall.Listener<Q> interceptCall(
                  io.grpc.ServerCall<Q, R> call, io.grpc.Metadata headers,
                  io.grpc.ServerCallHandler<Q, R> next) {
                counter.incrementAndGet();
                return next.startCall(call, headers);
              }
            }))
        .build().start();
    servers.add(server);
    return server.getPort();
  }

  @AfterEach
  void stop() throws Exception {
    if (channel != null) {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    for (Server server : servers) {
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  @Test
  void roundRobinOverEveryStaticEndpoint() throws Exception {
    int a = startServer();
    int b = startServer();
    channel = Grpc.newChannelBuilder("static:///127.0.0.1:" + a + ",localhost:" + b,
            InsecureChannelCredentials.create())
        .defaultLoadBalancingPolicy("round_robin")
        .build();
    HealthGrpc.HealthBlockingStub stub = HealthGrpc.newBlockingStub(channel);
    for (int i = 0; i < 20; i++) {
      stub.withDeadlineAfter(10, TimeUnit.SECONDS).check(HealthCheckRequest.getDefaultInstance());
    }
    assertEquals(20, calls.get(0).get() + calls.get(1).get());
    assertTrue(calls.get(0).get() >= 5 && calls.get(1).get() >= 5,
        "uneven: " + calls.get(0) + " / " + calls.get(1));
    assertEquals("127.0.0.1:" + a, channel.authority());
  }
}
