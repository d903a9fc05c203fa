package io.meshgate.gateway.descriptors;

import com.google.protobuf.ByteString;
import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import com.google.protobuf.InvalidProtocolBufferException;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.reflection.v1.ServiceResponse;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Fetches the descriptors of a server's services through gRPC server reflection: {@code
 * grpc.reflection.v1}, or {@code grpc.reflection.v1alpha} when the server only has the older
 * version (the two are the same messages under another package, so one set of classes serves
 * both). One stream per fetch, one request in flight at a time; bounded by a deadline and a
 * file count.
 */
final class ReflectionClient {
  static final String V1_SERVICE = "grpc.reflection.v1.ServerReflection";
  static final String V1ALPHA_SERVICE = "grpc.reflection.v1alpha.ServerReflection";
  private static final int MAX_FILES = 10_000;

  private static final MethodDescriptor<ServerReflectionRequest, ServerReflectionResponse> V1 =
      ServerReflectionGrpc.getServerReflectionInfoMethod();
  private static final MethodDescriptor<ServerReflectionRequest, ServerReflectionResponse>
      V1ALPHA = V1.toBuilder()
          .setFullMethodName(MethodDescriptor.generateFullMethodName(V1ALPHA_SERVICE,
              "ServerReflectionInfo"))
          .build();

  private ReflectionClient() {}

  /**
   * The files that define {@code services} (every service the server lists but reflection
   * itself, when empty) and all their imports.
   *
   * @return completes with the files, or fails with a {@link io.grpc.StatusException}-like
   *     message naming what went wrong
   */
  static CompletableFuture<List<FileDescriptorProto>> fetch(Channel channel, List<String> services,
      Duration timeout) {
    CompletableFuture<List<FileDescriptorProto>> result = new CompletableFuture<>();
    new Fetch(channel, services, timeout, V1, result).start();
    return result.exceptionallyCompose(error -> {
      if (Status.fromThrowable(error).getCode() == Status.Code.UNIMPLEMENTED) {
        CompletableFuture<List<FileDescriptorProto>> older = new CompletableFuture<>();
        new Fetch(channel, services, timeout, V1ALPHA, older).start();
        return older;
      }
      return CompletableFuture.failedFuture(error);
    });
  }

  /** One reflection stream: list services, then each service's file, then missing imports. */
  private static final class Fetch
      extends ClientCall.Listener<ServerReflectionResponse> {
    private final Channel channel;
    private final List<String> wanted;
    private final Duration timeout;
    private final MethodDescriptor<ServerReflectionRequest, ServerReflectionResponse> method;
    private final CompletableFuture<List<FileDescriptorProto>> result;
    // Guarded by this: callbacks are serialized by grpc-java, fields are touched only there and
    // in start().
    private final Map<String, FileDescriptorProto> files = new LinkedHashMap<>();
    private final Set<String> requested = new HashSet<>();
    private final Deque<ServerReflectionRequest> toSend = new ArrayDeque<>();
    private ClientCall<ServerReflectionRequest, ServerReflectionResponse> call;
    private boolean listed;

    Fetch(Channel channel, List<String> wanted, Duration timeout,
        MethodDescriptor<ServerReflectionRequest, ServerReflectionResponse> method,
        CompletableFuture<List<FileDescriptorProto>> result) {
      this.channel = channel;
      this.wanted = wanted;
      this.timeout = timeout;
      this.method = method;
      this.result = result;
    }

    synchronized void start() {
      call = channel.newCall(method,
          CallOptions.DEFAULT.withDeadlineAfter(timeout.toNanos(), TimeUnit.NANOSECONDS));
      call.start(this, new Metadata());
      if (wanted.isEmpty()) {
        call.sendMessage(ServerReflectionRequest.newBuilder().setListServices("*").build());
      } else {
        listed = true;
        for (String service : wanted) {
          toSend.add(ServerReflectionRequest.newBuilder().setFileContainingSymbol(service)
              .build());
        }
        call.sendMessage(toSend.poll());
      }
      call.request(1);
    }

    @Override
    public synchronized void onMessage(ServerReflectionResponse response) {
      try {
        switch (response.getMessageResponseCase()) {
          case LIST_SERVICES_RESPONSE -> {
            listed = true;
            for (ServiceResponse service : response.getListServicesResponse().getServiceList()) {
              if (!service.getName().startsWith("grpc.reflection.")) {
                toSend.add(ServerReflectionRequest.newBuilder()
                    .setFileContainingSymbol(service.getName()).build());
              }
            }
          }
          case FILE_DESCRIPTOR_RESPONSE -> {
            for (ByteString bytes
                : response.getFileDescriptorResponse().getFileDescriptorProtoList()) {
              FileDescriptorProto file = FileDescriptorProto.parseFrom(bytes);
              if (files.putIfAbsent(file.getName(), file) == null) {
                requested.add(file.getName());
                for (String dependency : file.getDependencyList()) {
                  if (requested.add(dependency) && !files.containsKey(dependency)) {
                    toSend.add(ServerReflectionRequest.newBuilder()
                        .setFileByFilename(dependency).build());
                  }
                }
              }
            }
          }
          case ERROR_RESPONSE -> {
            ServerReflectionRequest asked = response.getOriginalRequest();
            String what = asked.hasFileByFilename() ? "file " + asked.getFileByFilename()
                : "symbol " + asked.getFileContainingSymbol();
            if (asked.hasFileContainingSymbol() && !wanted.isEmpty()) {
              fail(Status.NOT_FOUND.withDescription("the server does not know " + what + ": "
                  + response.getErrorResponse().getErrorMessage()));
              return;
            }
            // A missing import may still be a well-known file the gateway has itself; if not,
            // linking the files names it.
          }
          default -> {
            // Not asked for: ignore.
          }
        }
      } catch (InvalidProtocolBufferException e) {
        fail(Status.INTERNAL.withDescription("the server sent a file descriptor that does not"
            + " parse: " + e.getMessage()));
        return;
      }
      if (files.size() > MAX_FILES) {
        fail(Status.RESOURCE_EXHAUSTED.withDescription("more than " + MAX_FILES
            + " descriptor files"));
        return;
      }
      ServerReflectionRequest next = toSend.poll();
      if (next != null) {
        call.sendMessage(next);
        call.request(1);
      } else if (listed) {
        call.halfClose();
        call.request(1);
      }
    }

    private void fail(Status status) {
      call.cancel(status.getDescription(), null);
      result.completeExceptionally(status.asRuntimeException());
    }

    @Override
    public synchronized void onClose(Status status, Metadata trailers) {
      if (result.isDone()) {
        return;
      }
      if (!status.isOk()) {
        result.completeExceptionally(status.asRuntimeException());
      } else if (!toSend.isEmpty() || !listed) {
        result.completeExceptionally(Status.INTERNAL.withDescription(
            "the server ended the reflection stream early").asRuntimeException());
      } else {
        result.complete(List.copyOf(files.values()));
      }
    }
  }
}
