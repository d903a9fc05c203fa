package io.meshgate.gateway.front;

import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * The gateway's event loops: one acceptor thread and a worker group shared by the client-facing
 * connections and the upstream grpc-java channels (epoll where the platform has it, NIO
 * otherwise).
 */
public final class EventLoops implements AutoCloseable {
  private final boolean epoll;
  private final EventLoopGroup boss;
  private final EventLoopGroup workers;

  /** Creates the groups; {@code workerThreads} is usually the number of cores. */
  public EventLoops(int workerThreads) {
    this.epoll = Epoll.isAvailable();
    IoHandlerFactory factory = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
    this.boss = new MultiThreadIoEventLoopGroup(1,
        new DefaultThreadFactory("meshgate-accept", true), factory);
    this.workers = new MultiThreadIoEventLoopGroup(workerThreads,
        new DefaultThreadFactory("meshgate-worker", true), factory);
  }

  public EventLoopGroup boss() {
    return boss;
  }

  public EventLoopGroup workers() {
    return workers;
  }

  public Class<? extends ServerChannel> serverChannelType() {
    return epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
  }

  public Class<? extends Channel> socketChannelType() {
    return epoll ? EpollSocketChannel.class : NioSocketChannel.class;
  }

  /** The pooled allocator shared by both sides of the proxy. */
  public ByteBufAllocator allocator() {
    return PooledByteBufAllocator.DEFAULT;
  }

  /** Whether the native epoll transport is in use. */
  public boolean isEpoll() {
    return epoll;
  }

  @Override
  public void close() {
    Future<?> b = boss.shutdownGracefully(0, 2, TimeUnit.SECONDS);
    Future<?> w = workers.shutdownGracefully(0, 2, TimeUnit.SECONDS);
    b.syncUninterruptibly();
    w.syncUninterruptibly();
  }
}
