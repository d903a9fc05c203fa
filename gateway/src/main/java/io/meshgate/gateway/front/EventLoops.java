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
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.EventExecutor;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executor;
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
  private final Map<EventExecutor, Executor> callbackExecutors;

  /** Creates the groups; {@code workerThreads} is usually the number of cores. */
  public EventLoops(int workerThreads) {
    this.epoll = Epoll.isAvailable();
    IoHandlerFactory factory = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
    this.boss = new MultiThreadIoEventLoopGroup(1,
        new DefaultThreadFactory("meshgate-accept", true), factory);
    this.workers = new MultiThreadIoEventLoopGroup(workerThreads,
        new DefaultThreadFactory("meshgate-worker", true), factory);
    Map<EventExecutor, Executor> executors = new IdentityHashMap<>();
    for (EventExecutor loop : workers) {
      executors.put(loop, new LoopExecutor(loop));
    }
    this.callbackExecutors = executors;
  }

  /** The worker event loops, each of which gets its own upstream channel per cluster. */
  public List<EventLoop> workerLoops() {
    List<EventLoop> loops = new ArrayList<>();
    for (EventExecutor loop : workers) {
      loops.add((EventLoop) loop);
    }
    return loops;
  }

  /**
   * An executor for upstream call callbacks that belong on {@code loop}: it runs them at once when
   * called on that loop (no task, no wake-up) and hands them to the loop otherwise. grpc-java
   * wraps it in a serializing executor, which keeps callbacks in order either way.
   */
  public Executor callbackExecutor(EventExecutor loop) {
    Executor executor = callbackExecutors.get(loop);
    return executor != null ? executor : loop;
  }

  private static final class LoopExecutor implements Executor {
    private final EventExecutor loop;

    LoopExecutor(EventExecutor loop) {
      this.loop = loop;
    }

    @Override
    public void execute(Runnable task) {
      if (loop.inEventLoop()) {
        task.run();
      } else {
        loop.execute(task);
      }
    }
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
