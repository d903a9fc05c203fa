package io.meshgate.gateway.netty;

import io.meshgate.gateway.config.GatewayConfig;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2FrameCodec;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;

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
  private static final long LINGER_MILLIS = 2000;
  /** Set on a connection being closed for abuse: it lingers, and nothing else may close it. */
  private static final io.netty.util.AttributeKey<Boolean> LINGERING =
      io.netty.util.AttributeKey.valueOf("meshgate.lingering");

  private final int minStreams;
  private final double maxResetRatio;
  private final long minLifetimeNanos;
  private final ConnectionCuts cuts;

  // Only on the connection's event loop.
  private long streams;
  private long prematureResets;
  private boolean tripped;

  /** @param cuts where a connection cut for abuse is counted and logged */
  public ConnectionGuard(GatewayConfig.RapidReset config, ConnectionCuts cuts) {
    this.minStreams = config.minStreams();
    this.maxResetRatio = config.maxResetRatio();
    this.minLifetimeNanos = config.minStreamLifetime().toNanos();
    this.cuts = cuts;
  }

  /** Where this connection's cuts are counted (also for errors on it). */
  public ConnectionCuts cuts() {
    return cuts;
  }

  /**
   * Whether {@code connection} is being closed for abuse: it lingers on purpose (see
   * {@link #closeAbusiveConnection}), and nothing else may close it sooner.
   */
  public static boolean isLingering(Channel connection) {
    return Boolean.TRUE.equals(connection.attr(LINGERING).get());
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

  /**
   * Counts a stream the gateway reset because the client broke the protocol on it (a
   * WINDOW_UPDATE of zero, a frame on a closed stream, malformed headers...), as a client reset:
   * otherwise a client could make the gateway do work per stream and reset it (MadeYouReset,
   * CVE-2025-8671) without ever resetting a stream itself.
   *
   * @return true, once, when the connection has become abusive and must be closed
   */
  public boolean onServerReset(long lifetimeNanos, boolean responseStarted) {
    return onClientReset(lifetimeNanos, responseStarted);
  }

  /** Whether the connection was found abusive: its new streams are refused at once. */
  public boolean isTripped() {
    return tripped;
  }

  /** Premature resets counted so far. */
  public long prematureResets() {
    return prematureResets;
  }

  /**
   * Sends GOAWAY (ENHANCE_YOUR_CALM) and closes the connection when the client does, at most
   * {@link #LINGER_MILLIS} later, without waiting for its streams. Until then whatever the client
   * sends is read and dropped before any codec sees it, so it can make the gateway start no
   * further work, while the streams already read finish or fail on their own. The output stays
   * open until the close: shutting it would fail the codec's next write, and the codec answers a
   * failed write by closing the connection at once. Nothing unread is left at the close, which
   * would make the kernel answer with a TCP reset that destroys a GOAWAY the client has not read
   * yet. The frame is written below the HTTP/2 codec, which would otherwise close the connection
   * the moment an error GOAWAY is out. Call on the connection's event loop.
   */
  public void closeAbusiveConnection(Channel connection) {
    long resets = prematureResets;
    long opened = streams;
    cuts.cut(ConnectionCuts.Reason.RAPID_RESET, Channels.clientAddress(connection),
        Level.WARNING, () -> String.format(
        "closing connection from %s: %d of its %d streams were reset by the client right after"
            + " opening (HTTP/2 rapid reset)", connection.remoteAddress(), resets, opened));
    connection.pipeline().addFirst("abuse-discard", new DiscardInbound());
    connection.attr(LINGERING).set(Boolean.TRUE);
    ChannelHandlerContext codec = connection.pipeline().context(Http2FrameCodec.class);
    if (codec == null) {
      connection.close();
      return;
    }
    byte[] reason = "too many streams reset right after opening".getBytes(StandardCharsets.US_ASCII);
    ByteBuf goAway = connection.alloc().buffer(9 + 8 + reason.length)
        .writeMedium(8 + reason.length).writeByte(0x7).writeByte(0).writeInt(0)
        .writeInt(Integer.MAX_VALUE)
        .writeInt((int) Http2Error.ENHANCE_YOUR_CALM.code())
        .writeBytes(reason);
    codec.writeAndFlush(goAway).addListener(written ->
        // Closing below the codec skips its graceful close, which would wait for the streams.
        connection.eventLoop().schedule(() -> codec.close(), LINGER_MILLIS,
            TimeUnit.MILLISECONDS));
  }

  /** First in the pipeline of a connection closed for abuse: drops everything it receives. */
  private static final class DiscardInbound extends io.netty.channel.ChannelInboundHandlerAdapter {
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      io.netty.util.ReferenceCountUtil.release(msg);
    }

    // channelReadComplete still goes on: the flush consolidation behind this handler holds the
    // GOAWAY's flush until the read it was written in completes.
  }
}
