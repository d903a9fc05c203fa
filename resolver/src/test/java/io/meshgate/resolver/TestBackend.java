package io.meshgate.resolver;

import com.google.protobuf.Empty;
import com.google.protobuf.Int32Value;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.ProtoUtils;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.ServerCalls;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real gRPC backend for load-balancing tests: answers {@code test.Backend/Hit} with its port,
 * optionally late (scheduled, not slept) or with a failure, and serves grpc.health.v1.
 */
final class TestBackend implements AutoCloseable {
  /** Answers with the backend's port. */
  static final MethodDescriptor<Empty, Int32Value> HIT =
      MethodDescriptor.<Empty, Int32Value>newBuilder()
          .setType(MethodDescriptor.MethodType.UNARY)
          .setFullMethodName("test.Backend/Hit")
          .setRequestMarshaller(ProtoUtils.marshaller(Empty.getDefaultInstance()))
          .setResponseMarshaller(ProtoUtils.marshaller(Int32Value.getDefaultInstance()))
          .build();

  private final Server server;
  private final HealthStatusManager health = new HealthStatusManager();
  private final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
  final AtomicInteger hits = new AtomicInteger();
  volatile long delayMillis;
  volatile Status failWith;

  TestBackend() {
    ServerServiceDefinition service = ServerServiceDefinition.builder("test.Backend")
        .addMethod(HIT, ServerCalls.asyncUnaryCall((request, responses) -> {
          hits.incrementAndGet();
          Runnable answer = () -> {
            Status fail = failWith;
            if (fail != null) {
              responses.onError(fail.asRuntimeException());
            } else {
              responses.onNext(Int32Value.of(port()));
              responses.onCompleted();
            }
          };
          long delay = delayMillis;
          if (delay > 0) {
            scheduler.schedule(answer, delay, TimeUnit.MILLISECONDS);
          } else {
            answer.run();
          }
        }))
        .build();
    try {
      server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
          .addService(service)
          .addService(health.getHealthService())
          .build().start();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  int port() {
    return server.getPort();
  }

  void serving(boolean serving) {
    health.setStatus("", serving ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);
  }

  /** Stops at once, as a crash would. */
  void kill() {
    server.shutdownNow();
  }

  @Override
  public void close() throws InterruptedException {
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    scheduler.shutdownNow();
  }

  /** Calls Hit; returns the port of the backend that answered. */
  static int hit(Channel channel, Metadata headers) {
    return ClientCalls.blockingUnaryCall(
        io.grpc.ClientInterceptors.intercept(channel,
            MetadataUtils.newAttachHeadersInterceptor(headers)),
        HIT, CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS), Empty.getDefaultInstance())
        .getValue();
  }

  static int hit(Channel channel) {
    return hit(channel, new Metadata());
  }
}
