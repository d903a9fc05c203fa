package io.meshgate.gateway.testing;

import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Descriptors.MethodDescriptor;
import com.google.protobuf.Descriptors.ServiceDescriptor;
import com.google.protobuf.DynamicMessage;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.TextFormat;
import io.grpc.HandlerRegistry;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerMethodDefinition;
import io.grpc.Status;
import io.grpc.netty.NettyServerBuilder;
import io.meshgate.gateway.call.ByteArrayMarshaller;
import io.meshgate.transcoder.DescriptorPool;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real gRPC server (Netty, loopback) for every service of a descriptor pool, that answers each
 * call with what it received: the response's {@code text} or {@code title} field holds
 * {@code Method(request in text format)}. End-to-end tests read from it what the gateway made
 * of a REST request.
 */
public final class ReportingBackend implements AutoCloseable {
  private final Server server;

  private ReportingBackend(Server server) {
    this.server = server;
  }

  /** Starts on a free loopback port. */
  public static ReportingBackend start(DescriptorPool pool) throws IOException {
    HandlerRegistry registry = new HandlerRegistry() {
      @Override
      public ServerMethodDefinition<?, ?> lookupMethod(String fullMethod, String authority) {
        int slash = fullMethod.lastIndexOf('/');
        ServiceDescriptor service = pool.services().get(fullMethod.substring(0, slash));
        MethodDescriptor method = service == null ? null
            : service.findMethodByName(fullMethod.substring(slash + 1));
        if (method == null) {
          return null;
        }
        io.grpc.MethodDescriptor<byte[], byte[]> grpc =
            io.grpc.MethodDescriptor.<byte[], byte[]>newBuilder()
                .setType(io.grpc.MethodDescriptor.MethodType.UNKNOWN)
                .setFullMethodName(fullMethod)
                .setRequestMarshaller(ByteArrayMarshaller.INSTANCE)
                .setResponseMarshaller(ByteArrayMarshaller.INSTANCE)
                .build();
        return ServerMethodDefinition.create(grpc, handler(method));
      }
    };
    Server server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .fallbackHandlerRegistry(registry)
        .build()
        .start();
    return new ReportingBackend(server);
  }

  public int port() {
    return server.getPort();
  }

  private static ServerCallHandler<byte[], byte[]> handler(MethodDescriptor method) {
    return (call, headers) -> {
      call.request(1);
      List<String> received = new ArrayList<>();
      return new ServerCall.Listener<>() {
        @Override
        public void onMessage(byte[] message) {
          try {
            received.add(TextFormat.printer().emittingSingleLine(true).printToString(
                DynamicMessage.parseFrom(method.getInputType(), message)).trim());
          } catch (InvalidProtocolBufferException e) {
            received.add("<not a " + method.getInputType().getFullName() + ">");
          }
          call.request(1);
        }

        @Override
        public void onHalfClose() {
          Descriptor output = method.getOutputType();
          FieldDescriptor report = output.findFieldByName("text") != null
              ? output.findFieldByName("text") : output.findFieldByName("title");
          DynamicMessage.Builder response = DynamicMessage.newBuilder(output);
          if (report != null) {
            response.setField(report, method.getName() + "(" + String.join(", ", received)
                + ")");
          }
          call.sendHeaders(new Metadata());
          call.sendMessage(response.build().toByteArray());
          call.close(Status.OK, new Metadata());
        }
      };
    };
  }

  @Override
  public void close() {
    server.shutdownNow();
    try {
      server.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
