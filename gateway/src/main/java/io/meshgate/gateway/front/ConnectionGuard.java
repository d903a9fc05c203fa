package io.meshgate.gateway.front;

import io.meshgate.gateway.config.GatewayConfig;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.handler.codec.http2.DefaultHttp2GoAwayFrame;
import io.netty.handler.codec.http2.Http2Error;
import java.util.logging.Logger;

/**
 * Guards one HTTP/2 connection against rapid reset (CVE-2023-44487): a client that opens streams
 * and resets them at once makes the gateway do work per stream while itself doing almost none.
 * As Envoy does, a reset counts as premature when the stream lived shorter than
 * {@code minStreamLifetime}; once the connection has opened {@code minStreams} streams and the
 * premature resets reach {@code maxResetRatio} of them, the connection gets GOAWAY
 * (ENHANCE_YOUR_CALM) and is closed. Other connections are not affected.
 *
 * <p>Confined to the connection's event loop (its streams share it).
 */
public final class ConnectionGuard {
  private static final Logger logger = Logger.getLogger(ConnectionGuard.class.getName());

  private final int minStreams;
  private final double maxResetRatio;
  private final long minLifetimeNanos;

  // Only on the connection's event loop.
  private long streams;
  private long prematureResets;
  private boolean tripped;

  public ConnectionGuard(GatewayConfig.RapidReset config) {
    this.minStreams = config.minStreams();
    this.maxResetRatio = config.maxResetRatio();
    this.minLifetimeNanos = config.minStreamLifetime().toNanos();
  }

  /** Counts a stream the client opened. */
  public void onStreamOpened() {
    streams++;
  }

  /**
   * Counts a stream the client reset.
   *
   * @param lifetimeNanos how long the stream had been open
   * @param responseStarted whether the gateway had already sent response headers
   * @return true, once, when the connection has become abusive and must be closed
   */
  public boolean onClientReset(long lifetimeNanos, boolean responseStarted) {
    if (lifetimeNanos < minLifetimeNanos && !responseStarted) {
      prematureResets++;
    }
    if (!tripped && streams >= minStreams && prematureResets >= streams * maxResetRatio) {
      tripped = true;
      return true;
    }
    return false;
  }

  /** Premature resets counted so far. */
  public long prematureResets() {
    return prematureResets;
  }

  /** Sends GOAWAY (ENHANCE_YOUR_CALM) on the connection and closes it. */
  public void closeAbusiveConnection(Channel connection) {
    logger.warning(String.format("closing connection from %s: %d of its %d streams were reset"
        + " by the client right after opening (HTTP/2 rapid reset)", connection.remoteAddress(),
        prematureResets, streams));
    DefaultHttp2GoAwayFrame goAway = new DefaultHttp2GoAwayFrame(Http2Error.ENHANCE_YOUR_CALM,
        ByteBufUtil.writeAscii(connection.alloc(), "too many streams reset right after opening"));
    connection.writeAndFlush(goAway).addListener(ChannelFutureListener.CLOSE);
  }
}
