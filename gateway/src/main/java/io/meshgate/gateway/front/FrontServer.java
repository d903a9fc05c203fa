package io.meshgate.gateway.front;

import io.meshgate.gateway.config.GatewayConfig;
import io.meshgate.gateway.netty.ConnectionCuts;
import io.meshgate.gateway.netty.EventLoops;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.handler.ssl.SslContext;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * The gateway's one client-facing port, its lifecycle: binds it, counts its connections, drains
 * and closes them. What a connection speaks is {@link FrontPipeline}'s business.
 */
public final class FrontServer {
  private static final Logger logger = Logger.getLogger(FrontServer.class.getName());

  private final GatewayConfig.Listener listener;
  private final Duration drainTimeout;
  private final EventLoops loops;
  private final ChannelGroup connections = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);
  private final FrontPipeline pipeline;
  // Set once by start().
  private volatile Channel serverChannel;

  /**
   * @param proxy the native gRPC adapter
   * @param rest the REST/JSON adapter
   * @param ssl the TLS context of the port, or null for cleartext only
   * @param cuts where connections cut for abuse or errors are counted and logged
   * @param overload refuses new connections and streams while memory runs out
   */
  public FrontServer(GatewayConfig config, EventLoops loops, Adapters adapters,
      SslContext ssl, ConnectionCuts cuts,
      io.meshgate.gateway.overload.OverloadManager overload) {
    this.listener = config.listener();
    this.drainTimeout = config.shutdown().drainTimeout();
    this.loops = loops;
    this.pipeline = new FrontPipeline(config, adapters, ssl, connections, cuts,
        overload);
  }

  /**
   * Binds the port; returns once the gateway accepts connections.
   *
   * @throws java.io.IOException naming the address when the port cannot be bound
   */
  public void start() throws java.io.IOException, InterruptedException {
    ServerBootstrap bootstrap = new ServerBootstrap()
        .group(loops.boss(), loops.workers())
        .channel(loops.serverChannelType())
        .option(ChannelOption.SO_BACKLOG, 1024)
        .option(ChannelOption.SO_REUSEADDR, true)
        .childOption(ChannelOption.TCP_NODELAY, true)
        .childOption(ChannelOption.ALLOCATOR, loops.allocator())
        .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK,
            new WriteBufferWaterMark(32 * 1024, 64 * 1024))
        .childHandler(pipeline);
    io.netty.channel.ChannelFuture bound = bootstrap.bind(listener.host(), listener.port()).await();
    if (!bound.isSuccess()) {
      throw new java.io.IOException("cannot listen on " + listener.host() + ":" + listener.port()
          + " (listener): " + bound.cause().getMessage(), bound.cause());
    }
    serverChannel = bound.channel();
  }

  /** The bound port. */
  public int port() {
    return ((InetSocketAddress) serverChannel.localAddress()).getPort();
  }

  /** Client connections currently open. */
  public int openConnections() {
    return connections.size();
  }

  /**
   * Stops accepting connections, then drains the open ones: HTTP/2 clients get GOAWAY and their
   * calls in flight get up to the drain timeout to finish. Completes when every connection is
   * closed; connections still open after the drain timeout are closed by force.
   */
  public CompletableFuture<Void> drain() {
    CompletableFuture<Void> done = new CompletableFuture<>();
    long deadline = System.nanoTime() + drainTimeout.toNanos() + TimeUnit.SECONDS.toNanos(1);
    serverChannel.close().addListener(closed -> {
      try {
        connections.forEach(ch -> ch.pipeline().fireUserEventTriggered(DrainEvent.INSTANCE));
      } finally {
        awaitClosed(done, deadline);
      }
    });
    return done;
  }

  private void awaitClosed(CompletableFuture<Void> done, long deadlineNanos) {
    if (connections.isEmpty()) {
      done.complete(null);
      return;
    }
    if (System.nanoTime() - deadlineNanos >= 0) {
      logger.warning(connections.size() + " connection(s) still open after the drain timeout"
          + " of " + drainTimeout.toMillis() + " ms: closing them");
      connections.close().addListener(f -> done.complete(null));
      return;
    }
    GlobalEventExecutor.INSTANCE.schedule(() -> awaitClosed(done, deadlineNanos), 50,
        TimeUnit.MILLISECONDS);
  }

  /** Closes the port and every connection at once. */
  public void close() {
    if (serverChannel != null) {
      serverChannel.close().syncUninterruptibly();
    }
    connections.close().syncUninterruptibly();
  }
}
