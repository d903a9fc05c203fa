package io.meshgate.gateway.descriptors;

import com.google.protobuf.Descriptors.FileDescriptor;
import com.google.protobuf.Descriptors.MethodDescriptor;
import com.google.protobuf.Descriptors.ServiceDescriptor;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerCallHandler;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.protobuf.ProtoFileDescriptorSupplier;
import io.grpc.protobuf.services.ProtoReflectionService;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import io.grpc.util.MutableHandlerRegistry;
import io.meshgate.gateway.call.ByteArrayMarshaller;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * gRPC server reflection ({@code grpc.reflection.v1} and {@code v1alpha}) answered by the gateway
 * itself, for the services it routes and has descriptors of, so that tools like grpcurl work
 * against the gateway. grpc-java's own reflection services run on an in-process server whose
 * registry holds a description (no implementation) of each such service; the gateway's proxy
 * routes reflection calls to it over an in-process channel.
 */
public final class ReflectionServer implements AutoCloseable {
  /** The reflection services the gateway answers. */
  public static final List<String> SERVICES =
      List.of(ReflectionClient.V1_SERVICE, ReflectionClient.V1ALPHA_SERVICE);

  private final String name;
  private final Server server;
  private final MutableHandlerRegistry registry = new MutableHandlerRegistry();
  private final ManagedChannel channel;

  /** Starts the in-process server; {@code executor} runs reflection calls (not blocking work). */
  public ReflectionServer(Executor executor) {
    this.name = "meshgate-reflection-" + System.identityHashCode(this);
    try {
      this.server = InProcessServerBuilder.forName(name)
          .executor(executor)
          .addService(ProtoReflectionServiceV1.newInstance())
          .addService(newV1alpha())
          .fallbackHandlerRegistry(registry)
          .build()
          .start();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start the in-process reflection server", e);
    }
    this.channel = InProcessChannelBuilder.forName(name).executor(executor).build();
  }

  @SuppressWarnings("deprecation")
  private static io.grpc.BindableService newV1alpha() {
    return ProtoReflectionService.newInstance();
  }

  /** The channel that reaches the reflection services. */
  public ManagedChannel channel() {
    return channel;
  }

  /**
   * Makes reflection describe the services of {@code snapshot} that {@code routed} accepts.
   * Thread-safe; reflection streams started later see the new set.
   */
  public synchronized void update(Descriptors.Snapshot snapshot,
      Predicate<ServiceDescriptor> routed) {
    for (ServerServiceDefinition old : registry.getServices()) {
      registry.removeService(old);
    }
    for (ServiceDescriptor service : snapshot.pool().services().values()) {
      if (routed.test(service)
          && !service.getFullName().startsWith("grpc.reflection.")) {
        registry.addService(describe(service));
      }
    }
  }

  /** The services reflection currently lists (besides itself). */
  public synchronized List<String> services() {
    List<String> names = new ArrayList<>();
    for (ServerServiceDefinition service : registry.getServices()) {
      names.add(service.getServiceDescriptor().getName());
    }
    return names;
  }

  /** A service definition that carries the descriptor; its methods are never called here. */
  private static ServerServiceDefinition describe(ServiceDescriptor service) {
    FileDescriptor file = service.getFile();
    ProtoFileDescriptorSupplier schema = () -> file;
    io.grpc.ServiceDescriptor.Builder descriptor =
        io.grpc.ServiceDescriptor.newBuilder(service.getFullName()).setSchemaDescriptor(schema);
    List<io.grpc.MethodDescriptor<byte[], byte[]>> methods = new ArrayList<>();
    for (MethodDescriptor method : service.getMethods()) {
      io.grpc.MethodDescriptor<byte[], byte[]> grpcMethod =
          io.grpc.MethodDescriptor.<byte[], byte[]>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNKNOWN)
              .setFullMethodName(io.grpc.MethodDescriptor.generateFullMethodName(
                  service.getFullName(), method.getName()))
              .setRequestMarshaller(ByteArrayMarshaller.INSTANCE)
              .setResponseMarshaller(ByteArrayMarshaller.INSTANCE)
              .build();
      descriptor.addMethod(grpcMethod);
      methods.add(grpcMethod);
    }
    ServerServiceDefinition.Builder definition =
        ServerServiceDefinition.builder(descriptor.build());
    for (io.grpc.MethodDescriptor<byte[], byte[]> method : methods) {
      definition.addMethod(method, UNIMPLEMENTED);
    }
    return definition.build();
  }

  private static final ServerCallHandler<byte[], byte[]> UNIMPLEMENTED = (call, headers) -> {
    call.close(Status.UNIMPLEMENTED.withDescription("the gateway only describes this service;"
        + " calls go to its cluster"), new io.grpc.Metadata());
    return new io.grpc.ServerCall.Listener<>() {};
  };

  @Override
  public void close() {
    channel.shutdownNow();
    server.shutdownNow();
    try {
      server.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
