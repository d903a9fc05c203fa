package io.meshgate.bench;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.HandlerRegistry;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerMethodDefinition;
import io.grpc.Status;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import io.meshgate.gateway.call.ByteArrayMarshaller;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollEventLoopGroup;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A reference point for the proxy benchmark, not a product: the least a proxy built from
 * grpc-java on both sides does — a grpc-java server whose every method forwards its messages as
 * bytes to a grpc-java client channel, with flow control (one message asked for at a time), on
 * {@code directExecutor} and one shared event-loop group. No routing, no policies, no metrics.
 * What it costs per call is what a gateway that proxies through grpc-java channels pays before it
 * does anything of its own.
 *
 * <p>Usage: {@code GrpcJavaPassThrough PORT BACKEND_HOST:PORT THREADS}; runs until killed.
 */
final class GrpcJavaPassThrough {
  private GrpcJavaPassThrough() {}

  public static void main(String[] args) throws Exception {
    int port = Integer.parseInt(args[0]);
    String backend = args[1];
    int threads = Integer.parseInt(args[2]);
    boolean epoll = Epoll.isAvailable();
    EventLoopGroup boss = epoll ? new EpollEventLoopGroup(1) : new NioEventLoopGroup(1);
    EventLoopGroup workers = epoll ? new EpollEventLoopGroup(threads)
        : new NioEventLoopGroup(threads);
    ManagedChannel upstream = NettyChannelBuilder.forTarget(backend)
        .usePlaintext()
        .directExecutor()
        .eventLoopGroup(workers)
        .channelType(epoll ? EpollSocketChannel.class : NioSocketChannel.class)
        .build();
    Server server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", port))
        .directExecutor()
        .bossEventLoopGroup(boss)
        .workerEventLoopGroup(workers)
        .channelType(epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class)
        .fallbackHandlerRegistry(new ForwardingRegistry(upstream))
        .build()
        .start();
    server.awaitTermination();
  }

  /** Answers every method name with a handler that forwards to {@code upstream}. */
  private static final class ForwardingRegistry extends HandlerRegistry {
    private final ManagedChannel upstream;
    private final Map<String, ServerMethodDefinition<byte[], byte[]>> methods =
        new ConcurrentHashMap<>();

    ForwardingRegistry(ManagedChannel upstream) {
      this.upstream = upstream;
    }

    @Override
    public ServerMethodDefinition<?, ?> lookupMethod(String name, String authority) {
      return methods.computeIfAbsent(name, n -> {
        MethodDescriptor<byte[], byte[]> method = MethodDescriptor.<byte[], byte[]>newBuilder()
            .setType(MethodDescriptor.MethodType.UNKNOWN)
            .setFullMethodName(n)
            .setRequestMarshaller(ByteArrayMarshaller.INSTANCE)
            .setResponseMarshaller(ByteArrayMarshaller.INSTANCE)
            .build();
        return ServerMethodDefinition.create(method, new Forwarder(upstream, method));
      });
    }
  }

  /** Forwards one call: requests one message at a time on each side. */
  private static final class Forwarder implements ServerCallHandler<byte[], byte[]> {
    private final ManagedChannel upstream;
    private final MethodDescriptor<byte[], byte[]> method;

    Forwarder(ManagedChannel upstream, MethodDescriptor<byte[], byte[]> method) {
      this.upstream = upstream;
      this.method = method;
    }

    @Override
    public ServerCall.Listener<byte[]> startCall(ServerCall<byte[], byte[]> call,
        Metadata headers) {
      ClientCall<byte[], byte[]> out = upstream.newCall(method, CallOptions.DEFAULT);
      out.start(new ClientCall.Listener<byte[]>() {
        @Override
        public void onHeaders(Metadata responseHeaders) {
          call.sendHeaders(responseHeaders);
        }

        @Override
        public void onMessage(byte[] message) {
          call.sendMessage(message);
          out.request(1);
        }

        @Override
        public void onClose(Status status, Metadata trailers) {
          call.close(status, trailers);
        }
      }, headers);
      out.request(1);
      call.request(1);
      return new ServerCall.Listener<byte[]>() {
        @Override
        public void onMessage(byte[] message) {
          out.sendMessage(message);
          call.request(1);
        }

        @Override
        public void onHalfClose() {
          out.halfClose();
        }

        @Override
        public void onCancel() {
          out.cancel("the client cancelled", null);
        }
      };
    }
  }
}
