package io.meshgate.gateway.upstream;

import io.grpc.Status;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http2.DefaultHttp2WindowUpdateFrame;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2SettingsFrame;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.handler.flush.FlushConsolidationHandler;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.GenericFutureListener;
import java.net.InetSocketAddress;
import java.net.SocketAddress;

/**
 * One HTTP/2 connection of the gateway's own to one endpoint, on one event loop: the transport of
 * calls the native proxy streams through (see {@link StreamedCall}). It is usable once the
 * endpoint's SETTINGS arrived (and, over TLS, the handshake chose {@code h2}); a GOAWAY or a
 * closed socket ends its use for new streams, while streams already open finish. Only on its
 * loop.
 */
final class H2Connection {
  /** What the connection's owner hears. Called on the connection's loop. */
  interface Listener {
    /** The connection takes streams. */
    void onReady(H2Connection connection);

    /**
     * The connection takes no more streams: the endpoint said GOAWAY, the socket closed or it
     * never connected.
     *
     * @param why UNAVAILABLE with the reason (and cause) a person can act on
     * @param wasReady whether it had been ready
     */
    void onGone(H2Connection connection, Status why, boolean wasReady);
  }

  /** How connections of one cluster are made. */
  record Settings(Class<? extends Channel> channelType, io.netty.buffer.ByteBufAllocator allocator,
      int connectTimeoutMillis, int streamWindowBytes, int maxHeaderListBytes, SslContext tls, String serverName,
      io.netty.channel.group.ChannelGroup all) {
    /** The same, checking endpoints' certificates against {@code name} (a host, no port). */
    Settings withServerName(String name) {
      return new Settings(channelType, allocator, connectTimeoutMillis, streamWindowBytes,
          maxHeaderListBytes, tls, name, all);
    }
  }

  private static final int DEFAULT_CONNECTION_WINDOW = 65_535;

  private final SocketAddress address;
  private final Listener listener;
  private Channel channel;
  private boolean connected;
  private boolean ready;
  private boolean gone;
  private int activeStreams;
  private Throwable failure;
  private boolean shuttingDown;

  private H2Connection(SocketAddress address, Listener listener) {
    this.address = address;
    this.listener = listener;
  }

  /** Starts connecting to {@code address} on {@code loop}; the listener hears the outcome. */
  static H2Connection connect(EventLoop loop, SocketAddress address, Settings settings,
      Listener listener) {
    Bootstrap bootstrap = new Bootstrap()
        .group(loop)
        .channel(settings.channelType())
        .option(io.netty.channel.ChannelOption.ALLOCATOR, settings.allocator())
        .option(io.netty.channel.ChannelOption.TCP_NODELAY, true)
        .option(io.netty.channel.ChannelOption.CONNECT_TIMEOUT_MILLIS,
            settings.connectTimeoutMillis());
    H2Connection connection = new H2Connection(address, listener);
    bootstrap.handler(new ChannelInitializer<>() {
      @Override
      protected void initChannel(Channel ch) {
        connection.init(ch, settings);
      }
    });
    Channel channel = bootstrap.register().channel();
    connection.channel = channel;
    settings.all().add(channel); // the group lets a closed channel go by itself
    // Told a turn later: a TLS failure closes the channel before its exception reaches the
    // pipeline, and the exception is the reason worth telling.
    channel.closeFuture().addListener(f -> loop.execute(() -> connection.goneNow(
        !connection.connected
            ? "cannot connect to " + address + ": " + describe(connection.failure)
            : connection.failure == null ? "the connection to " + address + " closed"
            : "the connection to " + address + " failed: " + describe(connection.failure))));
    channel.connect(address).addListener((ChannelFuture f) -> {
      if (f.isSuccess()) {
        connection.connected = true;
      } else {
        connection.failure = f.cause();
        channel.close();
      }
    });
    return connection;
  }

  private void init(Channel ch, Settings settings) {
    if (settings.tls() != null) {
      InetSocketAddress inet = address instanceof InetSocketAddress i ? i : null;
      String host = settings.serverName() != null ? settings.serverName()
          : inet == null ? null : inet.getHostString();
      SslHandler ssl = host == null ? settings.tls().newHandler(ch.alloc())
          : settings.tls().newHandler(ch.alloc(), host, inet == null ? -1 : inet.getPort());
      ch.pipeline().addLast("tls", ssl);
      // The HTTP/2 codec keeps the exceptions it sees; a TLS alert after the handshake (a
      // refused client certificate, in TLS 1.3) is recorded here first, so that the
      // connection's end names it.
      ch.pipeline().addLast("tls-failures", new ChannelInboundHandlerAdapter() {
        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
          if (failure == null) {
            failure = cause;
          }
          ctx.fireExceptionCaught(cause);
        }
      });
    }
    Http2Settings initial = Http2Settings.defaultSettings()
        .pushEnabled(false)
        .initialWindowSize(settings.streamWindowBytes())
        .maxHeaderListSize(settings.maxHeaderListBytes());
    Http2FrameCodec codec = Http2FrameCodecBuilder.forClient()
        .initialSettings(initial)
        .autoAckPingFrame(true)
        // Streams past the endpoint's SETTINGS_MAX_CONCURRENT_STREAMS wait for one to end.
        .encoderEnforceMaxConcurrentStreams(true)
        .build();
    ch.pipeline().addLast("h2-codec", codec);
    // Writes of all streams in one loop turn go out in one flush.
    ch.pipeline().addLast("h2-flush", new FlushConsolidationHandler(256, true));
    ch.pipeline().addLast("h2-streams", new Http2MultiplexHandler(REFUSE_PUSHED));
    ch.pipeline().addLast("h2-connection", new ConnectionEvents(settings));
  }

  /** The endpoint's address. */
  SocketAddress address() {
    return address;
  }

  /** Whether new streams may be opened. */
  boolean usable() {
    return ready && !gone && channel.isActive();
  }

  /**
   * Opens a stream whose frames {@code handler} receives; the future completes on this loop.
   * Reads on the stream are the handler's to ask for (auto-read is off).
   */
  Future<Http2StreamChannel> openStream(ChannelHandler handler) {
    activeStreams++;
    Future<Http2StreamChannel> opened = new Http2StreamChannelBootstrap(channel)
        .option(io.netty.channel.ChannelOption.AUTO_READ, false)
        .handler(handler)
        .open();
    opened.addListener((GenericFutureListener<Future<Http2StreamChannel>>) f -> {
      if (f.isSuccess()) {
        f.getNow().closeFuture().addListener(closed -> streamEnded());
      } else {
        streamEnded();
      }
    });
    return opened;
  }

  private void streamEnded() {
    activeStreams--;
    if (shuttingDown && activeStreams == 0) {
      channel.close();
    }
  }

  /** Takes no new streams and closes once the open ones have ended. */
  void shutdown() {
    shuttingDown = true;
    gone = true;
    if (activeStreams == 0) {
      channel.close();
    }
  }

  /** Closes the connection and every stream on it. */
  void shutdownNow() {
    shuttingDown = true;
    gone = true;
    channel.close();
  }

  private void goneNow(String reason) {
    if (gone) {
      return; // told already (GOAWAY), or shut down by its owner
    }
    gone = true;
    boolean wasReady = ready;
    ready = false;
    listener.onGone(this, Status.UNAVAILABLE.withDescription(reason).withCause(failure),
        wasReady);
  }

  private static String describe(Throwable cause) {
    if (cause == null) {
      return "closed";
    }
    Throwable inner = cause;
    while (inner.getCause() != null && inner.getCause() != inner) {
      inner = inner.getCause();
    }
    String message = inner.getMessage() != null ? inner.getMessage() : inner.toString();
    return inner == cause ? message : cause.getMessage() + " (" + message + ")";
  }

  /** Pushed streams are refused by SETTINGS_ENABLE_PUSH 0; any that comes is closed. */
  private static final ChannelHandler REFUSE_PUSHED = new RefusePushed();

  @ChannelHandler.Sharable
  private static final class RefusePushed extends ChannelInboundHandlerAdapter {
    @Override
    public void channelRegistered(ChannelHandlerContext ctx) {
      ctx.channel().close();
    }
  }

  /** Settings, GOAWAY, TLS and failures of the connection as a whole. */
  private final class ConnectionEvents extends ChannelInboundHandlerAdapter {
    private final Settings settings;

    ConnectionEvents(Settings settings) {
      this.settings = settings;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      try {
        if (msg instanceof Http2SettingsFrame && !ready && !gone) {
          ready = true;
          // The connection's window as large as HTTP/2 allows: what a stream holds is bounded
          // by its own window, and a client that stops reading stalls only its stream, not
          // every call sharing the connection (the windows fill only as streams read).
          ctx.writeAndFlush(new DefaultHttp2WindowUpdateFrame(
              Integer.MAX_VALUE - DEFAULT_CONNECTION_WINDOW));
          listener.onReady(H2Connection.this);
        } else if (msg instanceof Http2GoAwayFrame goAway) {
          boolean wasReady = ready;
          if (!gone) {
            gone = true;
            ready = false;
            listener.onGone(H2Connection.this, Status.UNAVAILABLE.withDescription(
                address + " said GOAWAY (HTTP/2 error " + goAway.errorCode() + ")"), wasReady);
          }
          if (activeStreams == 0) {
            ctx.close();
          } else {
            shuttingDown = true;
          }
        }
      } finally {
        ReferenceCountUtil.release(msg);
      }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
      if (evt instanceof SslHandshakeCompletionEvent handshake) {
        if (!handshake.isSuccess()) {
          failure = handshake.cause();
          ctx.close();
          return;
        }
        String protocol = ctx.pipeline().get(SslHandler.class).applicationProtocol();
        if (protocol != null && !ApplicationProtocolNames.HTTP_2.equals(protocol)) {
          failure = new javax.net.ssl.SSLHandshakeException("the endpoint chose ALPN protocol '"
              + protocol + "', not h2");
          ctx.close();
          return;
        }
      }
      ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      if (failure == null) {
        failure = cause;
      }
      ctx.close();
    }
  }
}
