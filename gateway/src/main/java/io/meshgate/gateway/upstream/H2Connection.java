package io.meshgate.gateway.upstream;

import io.grpc.Status;
import io.meshgate.gateway.netty.FrameCumulator;
import io.meshgate.gateway.netty.Http2Connections;
import io.meshgate.gateway.overload.BufferBudget;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http2.DefaultHttp2LocalFlowController;
import io.netty.handler.codec.http2.Http2Connection;
import io.netty.handler.codec.http2.Http2ConnectionHandler;
import io.netty.handler.codec.http2.Http2ConnectionHandlerBuilder;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2FrameAdapter;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2Stream;
import io.netty.handler.flush.FlushConsolidationHandler;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.collection.IntObjectHashMap;
import java.net.InetSocketAddress;
import java.net.SocketAddress;

/**
 * One HTTP/2 connection of the gateway's own to one endpoint, on one event loop: the transport of
 * calls the native proxy streams through (see {@link StreamedCall}). Netty's HTTP/2 connection
 * handler with a frame listener, as grpc-java's own transport does: a stream is an id and a
 * {@link Sink}, with no channel or pipeline of its own. It is usable once the
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

  /**
   * How connections of one cluster are made, and the grpc.health.v1 service its subchannels
   * watch on each ({@code null}: none, a connection is ready once it is up).
   */
  record Settings(Class<? extends Channel> channelType, io.netty.buffer.ByteBufAllocator allocator,
      int connectTimeoutMillis, int streamWindowBytes, int maxHeaderListBytes, SslContext tls, String serverName,
      io.netty.channel.group.ChannelGroup all, BufferBudget budget,
      String healthCheckService) {
    /** The same, checking endpoints' certificates against {@code name} (a host, no port). */
    Settings withServerName(String name) {
      return new Settings(channelType, allocator, connectTimeoutMillis, streamWindowBytes,
          maxHeaderListBytes, tls, name, all, budget, healthCheckService);
    }
  }

  private static final int DEFAULT_CONNECTION_WINDOW = 65_535;

  private final SocketAddress address;
  private final io.grpc.Attributes attributes;
  private final Listener listener;
  private Channel channel;
  private Http2Connection connection;
  private Http2ConnectionHandler handler;
  private ChannelHandlerContext handlerContext;
  private Http2Connection.PropertyKey streamsKey;
  private final IntObjectHashMap<Sink> sinks = new IntObjectHashMap<>();
  private BufferBudget budget = BufferBudget.unlimited();
  private IntObjectHashMap<int[]> heldBack; // window the budget kept back, by stream
  private BudgetWait budgetWait;
  private BufferBudget.ShrinkingWindow window;
  private boolean connected;
  private boolean ready;
  private boolean gone;
  private int activeStreams;
  private Throwable failure;
  private boolean shuttingDown;

  private H2Connection(SocketAddress address, Listener listener) {
    this.address = address;
    this.attributes = io.grpc.Attributes.newBuilder()
        .set(io.grpc.Grpc.TRANSPORT_ATTR_REMOTE_ADDR, address).build();
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
    budget = settings.budget();
    if (budget.bytes() > 0) {
      window = new BufferBudget.ShrinkingWindow(budget, ch.eventLoop(),
          settings.streamWindowBytes()) {
        @Override
        protected void announce(int initialWindow) {
          ChannelHandlerContext ctx = context();
          handler.encoder().writeSettings(ctx, new Http2Settings().initialWindowSize(initialWindow),
              ctx.newPromise());
          ctx.flush();
        }
      };
    }
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
    connection = Http2Connections.newConnection(false);
    // The connection's window refilled as bytes arrive: what a stream holds is bounded by its
    // own window, and a client that stops reading stalls only its stream, not every call
    // sharing the connection.
    connection.local().flowController(new DefaultHttp2LocalFlowController(connection,
        DefaultHttp2LocalFlowController.DEFAULT_WINDOW_UPDATE_RATIO, true));
    streamsKey = connection.newKey();
    Frames frames = new Frames();
    connection.addListener(frames);
    handler = new Http2ConnectionHandlerBuilder()
        .connection(connection)
        .frameListener(frames)
        .initialSettings(initial)
        // Streams past the endpoint's SETTINGS_MAX_CONCURRENT_STREAMS wait for one to end.
        .encoderEnforceMaxConcurrentStreams(true)
        .build();
    handler.setCumulator(FrameCumulator.INSTANCE);
    connection.remote().flowController().listener(stream -> {
      Sink sink = stream.getProperty(streamsKey);
      if (sink != null) {
        sink.onWritabilityChanged();
      }
    });
    // Writes of all streams in one loop turn go out in one flush.
    ch.pipeline().addLast("h2-flush", new FlushConsolidationHandler(256, true));
    ch.pipeline().addLast("h2", handler);
    ch.pipeline().addLast("h2-connection", new ConnectionEvents());
  }

  /** The endpoint's address. */
  SocketAddress address() {
    return address;
  }

  /** What a call on this connection tells of its transport (the endpoint's address). */
  io.grpc.Attributes attributes() {
    return attributes;
  }

  /** Whether new streams may be opened. */
  boolean usable() {
    return ready && !gone && channel.isActive() && !connection.goAwayReceived();
  }

  /** What one stream of the connection hears. Called on the connection's loop. */
  interface Sink {
    /** Response headers (the first time) or trailers; {@code endStream} ends the response. */
    void onHeaders(Http2Headers headers, boolean endStream);

    /**
     * Response bytes, retained for the sink: it releases them, and gives the window back with
     * {@link H2Connection#consume} once it passed them on.
     *
     * @param flowControlled the bytes to consume for this frame (data and padding)
     */
    void onData(ByteBuf data, int flowControlled, boolean endStream);

    /** The backend reset the stream. */
    void onReset(long errorCode);

    /** {@link H2Connection#isWritable} may have changed. */
    void onWritabilityChanged();

    /**
     * The stream closed (after the events above, or without them: the connection went).
     *
     * @param unprocessed whether the backend never took the stream (it was not sent, or a
     *     GOAWAY said it was above the last stream the backend processed): safe to send again
     */
    void onClosed(boolean unprocessed);
  }

  /**
   * Opens a stream and writes its request headers (unflushed).
   *
   * @return the stream's id, for the other methods
   */
  int open(Sink sink, Http2Headers headers, boolean endStream) {
    int id = connection.local().incrementAndGetNextStreamId();
    activeStreams++;
    sinks.put(id, sink);
    ChannelHandlerContext ctx = context();
    handler.encoder().writeHeaders(ctx, id, headers, 0, endStream, ctx.newPromise())
        .addListener(f -> {
          if (!f.isSuccess()) {
            Sink failed = sinks.remove(id);
            if (failed != null) {
              streamEnded();
              failed.onClosed(true);
            }
          }
        });
    Http2Stream stream = connection.stream(id);
    if (stream != null) {
      stream.setProperty(streamsKey, sink);
    }
    return id;
  }

  /** Writes request bytes (unflushed); takes {@code data} over. */
  void writeData(int id, ByteBuf data, boolean endStream) {
    ChannelHandlerContext ctx = context();
    handler.encoder().writeData(ctx, id, data, 0, endStream, ctx.voidPromise());
  }

  /** Flushes what was written (coalesced with the other streams' writes of this turn). */
  void flush() {
    channel.flush();
  }

  /** Whether the stream's flow-control window takes more now. */
  boolean isWritable(int id) {
    Http2Stream stream = connection.stream(id);
    return stream != null && connection.remote().flowController().isWritable(stream);
  }

  /**
   * Gives back {@code bytes} of the stream's window: the backend may send that much more. While
   * the buffer budget is reached it is kept back, and given once there is room.
   */
  void consume(int id, int bytes) {
    Http2Stream stream = connection.stream(id);
    if (stream == null || bytes == 0) {
      return;
    }
    if (budget.paused()) {
      if (budgetWait == null) {
        budgetWait = new BudgetWait(channel.eventLoop());
      }
      if (!budget.mayGrant(budgetWait)) {
        if (heldBack == null) {
          heldBack = new IntObjectHashMap<>();
        }
        int[] held = heldBack.get(id);
        if (held == null) {
          heldBack.put(id, new int[] {bytes});
        } else {
          held[0] += bytes;
        }
        return;
      }
    }
    try {
      if (connection.local().flowController().consumeBytes(stream, bytes)) {
        flush();
      }
    } catch (io.netty.handler.codec.http2.Http2Exception e) {
      context().fireExceptionCaught(e);
    }
  }

  /** Window the budget kept back, given once there is room. */
  private final class BudgetWait extends BufferBudget.Waiter {
    BudgetWait(EventLoop loop) {
      super(loop);
    }

    @Override
    protected void resumed() {
      IntObjectHashMap<int[]> held = heldBack;
      heldBack = null;
      if (held == null || connection == null) {
        return;
      }
      for (IntObjectHashMap.PrimitiveEntry<int[]> entry : held.entries()) {
        consume(entry.key(), entry.value()[0]); // held back again if the budget is reached
      }
      flush();
    }
  }

  /** Resets a stream still open (CANCEL) and forgets it. */
  void reset(int id) {
    Sink sink = sinks.remove(id);
    if (sink == null) {
      return;
    }
    streamEnded();
    Http2Stream stream = connection.stream(id);
    if (stream != null && stream.state() != Http2Stream.State.CLOSED) {
      ChannelHandlerContext ctx = context();
      handler.resetStream(ctx, id, Http2Error.CANCEL.code(), ctx.voidPromise());
      flush();
    }
  }

  private ChannelHandlerContext context() {
    if (handlerContext == null) {
      handlerContext = channel.pipeline().context(handler);
    }
    return handlerContext;
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
    if (budgetWait != null) {
      budgetWait.cancel(); // the socket closed: nothing more to grant
      heldBack = null;
    }
    if (window != null) {
      window.cancel();
    }
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

  /** The frames of the connection, and its streams' ends. */
  private final class Frames extends Http2FrameAdapter implements Http2Connection.Listener {
    @Override
    public void onSettingsRead(ChannelHandlerContext ctx, Http2Settings settings) {
      if (!ready && !gone) {
        ready = true;
        // As large as HTTP/2 allows (see the local flow controller's auto-refill).
        try {
          connection.local().flowController().incrementWindowSize(connection.connectionStream(),
              Integer.MAX_VALUE - DEFAULT_CONNECTION_WINDOW);
          ctx.flush();
        } catch (io.netty.handler.codec.http2.Http2Exception e) {
          ctx.fireExceptionCaught(e);
          return;
        }
        listener.onReady(H2Connection.this);
      }
    }

    @Override
    public void onHeadersRead(ChannelHandlerContext ctx, int streamId, Http2Headers headers,
        int padding, boolean endOfStream) {
      Sink sink = sinks.get(streamId);
      if (sink != null) {
        sink.onHeaders(headers, endOfStream);
      }
    }

    @Override
    public void onHeadersRead(ChannelHandlerContext ctx, int streamId, Http2Headers headers,
        int streamDependency, short weight, boolean exclusive, int padding,
        boolean endOfStream) {
      onHeadersRead(ctx, streamId, headers, padding, endOfStream);
    }

    @Override
    public int onDataRead(ChannelHandlerContext ctx, int streamId, ByteBuf data, int padding,
        boolean endOfStream) {
      Sink sink = sinks.get(streamId);
      int bytes = data.readableBytes() + padding;
      if (sink == null) {
        return bytes; // a stream we reset: its bytes are given back at once
      }
      sink.onData(data.retain(), bytes, endOfStream);
      return 0; // given back by consume() once passed on
    }

    @Override
    public void onRstStreamRead(ChannelHandlerContext ctx, int streamId, long errorCode) {
      Sink sink = sinks.get(streamId);
      if (sink != null) {
        sink.onReset(errorCode);
      }
    }

    @Override
    public void onGoAwayRead(ChannelHandlerContext ctx, int lastStreamId, long errorCode,
        ByteBuf debugData) {
      boolean wasReady = ready;
      if (!gone) {
        gone = true;
        ready = false;
        listener.onGone(H2Connection.this, Status.UNAVAILABLE.withDescription(address
            + " said GOAWAY (HTTP/2 error " + errorCode + ")"), wasReady);
      }
      shuttingDown = true;
      if (activeStreams == 0) {
        ctx.close();
      }
    }

    @Override
    public void onStreamAdded(Http2Stream stream) {
      Sink sink = sinks.get(stream.id());
      if (sink != null) {
        stream.setProperty(streamsKey, sink); // a stream that waited for a free slot
      }
    }

    @Override
    public void onStreamActive(Http2Stream stream) {
      Sink sink = sinks.get(stream.id());
      if (sink != null) {
        sink.onWritabilityChanged();
      }
    }

    @Override
    public void onStreamHalfClosed(Http2Stream stream) {}

    @Override
    public void onStreamClosed(Http2Stream stream) {
      if (heldBack != null) {
        heldBack.remove(stream.id()); // the codec gives a closed stream's window back itself
      }
      Sink sink = sinks.remove(stream.id());
      if (sink != null) {
        streamEnded();
        sink.onClosed(connection.goAwayReceived()
            && stream.id() > connection.local().lastStreamKnownByPeer());
      }
    }

    @Override
    public void onStreamRemoved(Http2Stream stream) {}

    @Override
    public void onGoAwaySent(int lastStreamId, long errorCode, ByteBuf debugData) {}

    @Override
    public void onGoAwayReceived(int lastStreamId, long errorCode, ByteBuf debugData) {}
  }

  /** TLS, failures of the connection as a whole, and the budget after each read. */
  private final class ConnectionEvents extends ChannelInboundHandlerAdapter {
    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
      if (window != null && ready) {
        window.check();
      }
      ctx.fireChannelReadComplete();
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
      ReferenceCountUtil.release(evt);
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
