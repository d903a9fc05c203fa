package io.meshgate.gateway.netty;

import io.grpc.CallOptions;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
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
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executor;
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
  private final Map<EventExecutor, LoopOptions> upstreamCallOptions;

  /** Creates the groups; {@code workerThreads} is usually the number of cores. */
  public EventLoops(int workerThreads) {
    this.epoll = Epoll.isAvailable();
    IoHandlerFactory factory = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
    this.boss = new MultiThreadIoEventLoopGroup(1,
        new DefaultThreadFactory("meshgate-accept", true), factory);
    this.workers = new MultiThreadIoEventLoopGroup(workerThreads,
        new DefaultThreadFactory("meshgate-worker", true), factory);
    Map<EventExecutor, LoopOptions> options = new IdentityHashMap<>();
    for (EventExecutor loop : workers) {
      options.put(loop, new LoopOptions(CallOptions.DEFAULT.withExecutor(new LoopExecutor(loop))));
    }
    this.upstreamCallOptions = options;
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
   * The call options an upstream call made for a client stream on {@code loop} starts from: its
   * callbacks are delivered on that loop, by an executor that runs them at once when called on
   * the loop (no task, no wake-up) and hands them to the loop otherwise. grpc-java wraps it in a
   * serializing executor, which keeps callbacks in order either way. Made once per worker loop,
   * as every {@code CallOptions.with*} makes a copy; with {@code authority} (null: none), and
   * the options of the authority the loop's calls used last are kept too: clients mostly call
   * one authority, and each {@code withAuthority} is two objects per call.
   */
  public CallOptions upstreamCallOptions(EventExecutor loop, String authority) {
    LoopOptions options = upstreamCallOptions.get(loop);
    if (options == null) {
      CallOptions base = CallOptions.DEFAULT.withExecutor(loop);
      return authority == null ? base : base.withAuthority(authority);
    }
    if (authority == null) {
      return options.base;
    }
    Authorized last = options.last;
    if (last != null && last.authority().equals(authority)) {
      return last.options();
    }
    CallOptions made = options.base.withAuthority(authority);
    options.last = new Authorized(authority, made);
    return made;
  }

  /** A worker loop's call options, and those of the authority its calls used last. */
  private static final class LoopOptions {
    final CallOptions base;
    /** Replaced whole (racy only in which authority stays kept). */
    volatile Authorized last;

    LoopOptions(CallOptions base) {
      this.base = base;
    }
  }

  private record Authorized(String authority, CallOptions options) {}

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

  @Override
  public void close() {
    Future<?> b = boss.shutdownGracefully(0, 2, TimeUnit.SECONDS);
    Future<?> w = workers.shutdownGracefully(0, 2, TimeUnit.SECONDS);
    b.syncUninterruptibly();
    w.syncUninterruptibly();
  }
}
