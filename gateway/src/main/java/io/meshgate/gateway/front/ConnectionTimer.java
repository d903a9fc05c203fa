package io.meshgate.gateway.front;

import io.meshgate.gateway.config.GatewayConfig;
import io.meshgate.gateway.netty.Channels;
import io.meshgate.gateway.netty.ConnectionCuts;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;

/**
 * The clocks of one client connection, first in its pipeline:
 *
 * <ul>
 *   <li>a new connection must choose its protocol and send its first request's headers (or the
 *       HTTP/2 preface) within {@code requestHeadersTimeout}, and on HTTP/1.1 every later
 *       request's headers must be complete that long after its first byte arrives — against
 *       slowloris and against connections that send nothing at all;
 *   <li>with nothing in flight (HTTP/1.1: between requests; HTTP/2: no open stream) for
 *       {@code idleTimeout} the connection is closed (HTTP/2: drained with GOAWAY);
 *   <li>at {@code maxConnectionAge} it is drained, so that long-lived clients rebalance.
 * </ul>
 *
 * The protocol handlers tell it what happens ({@link #requestHeadersReceived},
 * {@link #responseDone}, {@link #http2Started}, {@link #streamOpened}, {@link #streamClosed});
 * they find it with {@link #of}. Only on the connection's event loop.
 */
final class ConnectionTimer extends ChannelInboundHandlerAdapter {
  private static final AttributeKey<ConnectionTimer> KEY =
      AttributeKey.valueOf("meshgate.connection-timer");

  private enum State { AWAITING_REQUEST, IN_REQUEST, IDLE, HTTP2 }

  private final GatewayConfig.Connections config;
  private final ConnectionCuts cuts;

  // Only on the connection's event loop.
  private ChannelHandlerContext ctx;
  private State state = State.AWAITING_REQUEST;
  private int streams;
  private ScheduledFuture<?> timer;
  private ScheduledFuture<?> age;
  private ScheduledFuture<?> settingsAck;

  ConnectionTimer(GatewayConfig.Connections config, ConnectionCuts cuts) {
    this.config = config;
    this.cuts = cuts;
  }

  /** The timer of the connection, or null. */
  static ConnectionTimer of(Channel connection) {
    return connection.attr(KEY).get();
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
    ctx.channel().attr(KEY).set(this);
    arm(config.requestHeadersTimeout().toNanos());
    if (!config.maxConnectionAge().isZero()) {
      age = ctx.executor().schedule(() -> ctx.fireUserEventTriggered(DrainEvent.INSTANCE),
          config.maxConnectionAge().toNanos(), TimeUnit.NANOSECONDS);
    }
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (state == State.IDLE && msg instanceof ByteBuf bytes && bytes.isReadable()) {
      // The first byte of the next HTTP/1.1 request: its headers now have a deadline.
      state = State.AWAITING_REQUEST;
      arm(config.requestHeadersTimeout().toNanos());
    }
    ctx.fireChannelRead(msg);
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    cancel();
    if (age != null) {
      age.cancel(false);
    }
    settingsAcked();
    ctx.fireChannelInactive();
  }

  /** HTTP/1.1: the headers of a request are complete. */
  void requestHeadersReceived() {
    if (state != State.HTTP2) {
      state = State.IN_REQUEST;
      cancel();
    }
  }

  /** HTTP/1.1: an answer is written and the connection stays open for the next request. */
  void responseDone() {
    if (state == State.IN_REQUEST) {
      state = State.IDLE;
      armIdle();
    }
  }

  /**
   * The connection speaks HTTP/2 from now on (prior knowledge, upgrade or ALPN), and the
   * gateway has sent its SETTINGS: the client has {@code settingsAckTimeout} to acknowledge them.
   */
  void http2Started() {
    if (state != State.HTTP2 && settingsAck == null) {
      settingsAck = ctx.executor().schedule(this::settingsTimedOut,
          config.settingsAckTimeout().toNanos(), TimeUnit.NANOSECONDS);
    }
    state = State.HTTP2;
    if (streams == 0) {
      armIdle();
    }
  }

  /** HTTP/2: the client acknowledged the gateway's SETTINGS. */
  void settingsAcked() {
    if (settingsAck != null) {
      settingsAck.cancel(false);
      settingsAck = null;
    }
  }

  /**
   * RFC 9113 section 6.5.3: a client that does not acknowledge SETTINGS in time may be treated
   * as a connection error of type SETTINGS_TIMEOUT — it would hold the gateway to settings (such
   * as a window or table size) it never agreed to.
   */
  private void settingsTimedOut() {
    settingsAck = null;
    Channel channel = ctx.channel();
    if (!channel.isActive() || io.meshgate.gateway.netty.ConnectionGuard.isLingering(channel)) {
      // Closing for abuse already: what it sends (its ACK too) is dropped unread, and its
      // GOAWAY has said why.
      return;
    }
    cuts.cut(ConnectionCuts.Reason.SETTINGS_TIMEOUT, Channels.clientAddress(channel),
        Level.WARNING, () -> "closing connection from " + channel.remoteAddress()
        + ": its client did not acknowledge the gateway's HTTP/2 SETTINGS within "
        + config.settingsAckTimeout().toMillis() + " ms (limits.settingsAckTimeout)");
    // From the tail, so that the HTTP/2 codec writes the frame (and closes once it is out).
    channel.writeAndFlush(new io.netty.handler.codec.http2.DefaultHttp2GoAwayFrame(
        io.netty.handler.codec.http2.Http2Error.SETTINGS_TIMEOUT,
        io.netty.buffer.ByteBufUtil.writeAscii(channel.alloc(), "SETTINGS not acknowledged")))
        .addListener(io.netty.channel.ChannelFutureListener.CLOSE);
  }

  /** HTTP/2: a stream opened. */
  void streamOpened() {
    if (streams++ == 0) {
      cancel();
    }
  }

  /** HTTP/2: a stream closed. */
  void streamClosed() {
    if (--streams == 0 && state == State.HTTP2) {
      armIdle();
    }
  }

  private void armIdle() {
    if (config.idleTimeout().isZero()) {
      cancel();
    } else {
      arm(config.idleTimeout().toNanos());
    }
  }

  private void arm(long nanos) {
    cancel();
    timer = ctx.executor().schedule(this::fire, nanos, TimeUnit.NANOSECONDS);
  }

  private void cancel() {
    if (timer != null) {
      timer.cancel(false);
      timer = null;
    }
  }

  private void fire() {
    timer = null;
    Channel channel = ctx.channel();
    if (!channel.isActive()) {
      return;
    }
    if (state == State.AWAITING_REQUEST) {
      cuts.cut(ConnectionCuts.Reason.REQUEST_TIMEOUT, Channels.clientAddress(channel),
          Level.WARNING, () -> "closing connection"
          + " from " + channel.remoteAddress() + ": no complete request headers within "
          + config.requestHeadersTimeout().toMillis() + " ms (limits.requestHeadersTimeout)");
      channel.close();
    } else if (state == State.IDLE || state == State.HTTP2) {
      cuts.cut(ConnectionCuts.Reason.IDLE, Channels.clientAddress(channel), Level.FINE,
          () -> "closing connection from "
          + channel.remoteAddress() + ": idle for " + config.idleTimeout().toMillis()
          + " ms (limits.idleTimeout)");
      if (state == State.HTTP2) {
        ctx.fireUserEventTriggered(DrainEvent.INSTANCE); // GOAWAY, then close
      } else {
        channel.close();
      }
    }
  }
}
