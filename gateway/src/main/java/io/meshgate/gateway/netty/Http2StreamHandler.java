package io.meshgate.gateway.netty;

import io.meshgate.gateway.overload.BufferHolder;
import io.meshgate.gateway.overload.StreamLedger;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.util.ReferenceCountUtil;

/**
 * The skeleton of a protocol adapter on one HTTP/2 stream (a child channel of Netty's
 * multiplexer): its frames arrive as {@link #onHeaders}, {@link #onData} and {@link #onReset},
 * and each frame is released once, after its callback returns (a callback that keeps data
 * retains it).
 *
 * <p>Every stream that ends in a reset is reported to the connection's {@link ConnectionGuard},
 * whichever side sent the reset: the client's own (rapid reset, CVE-2023-44487) and the
 * gateway's answers to the client's protocol errors on the stream, such as a WINDOW_UPDATE of
 * zero (MadeYouReset, CVE-2025-8671). A connection found abusive is closed.
 *
 * <p>While open, the stream is in its loop's {@link StreamLedger}, so that the overload manager
 * can reset the streams holding the most buffered bytes ({@link #bufferedBytes}); a stream shed
 * that way stops its work ({@link #onShed}) and is reset with ENHANCE_YOUR_CALM, which gRPC
 * clients report as RESOURCE_EXHAUSTED. Only on the stream's event loop.
 */
public abstract class Http2StreamHandler extends ChannelInboundHandlerAdapter
    implements BufferHolder {
  private final ConnectionGuard guard;
  private final long openedNanos;
  private StreamLedger.Entry ledgerEntry;

  /** The stream's context, from the moment the handler is added. */
  protected ChannelHandlerContext ctx;

  /**
   * @param guard the connection's abuse guard
   * @param openedNanos {@link System#nanoTime()} when the stream opened
   */
  protected Http2StreamHandler(ConnectionGuard guard, long openedNanos) {
    this.guard = guard;
    this.openedNanos = openedNanos;
  }

  @Override
  public final void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
    StreamLedger ledger = StreamLedger.of(ctx.channel().parent());
    if (ledger != null) {
      ledgerEntry = ledger.add(this);
    }
  }

  @Override
  public final void handlerRemoved(ChannelHandlerContext ctx) {
    if (ledgerEntry != null) {
      ledgerEntry.remove();
      ledgerEntry = null;
    }
  }

  @Override
  public final void shed(String reason) {
    ledgerEntry = null; // the ledger already dropped it
    onShed(reason);
    if (ctx.channel().isActive()) {
      ctx.writeAndFlush(new DefaultHttp2ResetFrame(Http2Error.ENHANCE_YOUR_CALM));
    }
  }

  /** By default a stream holds nothing worth counting. */
  @Override
  public long bufferedBytes() {
    return 0;
  }

  @Override
  public final void channelRead(ChannelHandlerContext ctx, Object msg) {
    try {
      if (msg instanceof Http2HeadersFrame headers) {
        onHeaders(headers.headers(), headers.isEndStream());
      } else if (msg instanceof Http2DataFrame data) {
        onData(data.content(), data.isEndStream());
      }
    } finally {
      ReferenceCountUtil.release(msg);
    }
  }

  @Override
  public final void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    try {
      if (evt instanceof Http2ResetFrame reset) {
        boolean abusive = guard.onClientReset(System.nanoTime() - openedNanos,
            responseStarted());
        onReset(reset.errorCode());
        if (abusive) {
          guard.closeAbusiveConnection(ctx.channel().parent());
        }
      }
    } finally {
      ReferenceCountUtil.release(evt);
    }
  }

  @Override
  public final void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    // A stream error the codec answers with RST_STREAM: the client made the gateway reset it.
    boolean abusive = cause instanceof Http2Exception.StreamException
        && guard.onServerReset(System.nanoTime() - openedNanos, responseStarted());
    onStreamError(cause);
    if (abusive) {
      guard.closeAbusiveConnection(ctx.channel().parent());
    }
  }

  /** Whether the stream has sent response headers (a reset after that is no rapid reset). */
  protected boolean responseStarted() {
    return false;
  }

  /** A HEADERS frame: the request headers, or the trailers that end the request. */
  protected abstract void onHeaders(Http2Headers headers, boolean endStream);

  /** A DATA frame; {@code content} is released after this returns. */
  protected abstract void onData(ByteBuf content, boolean endStream);

  /** The client reset the stream with {@code errorCode}. */
  protected abstract void onReset(long errorCode);

  /**
   * The overload manager resets this stream to free memory: stop its work (cancel the upstream
   * call) and record it. The reset follows.
   */
  protected abstract void onShed(String reason);

  /** The stream failed ({@code cause}): stop its work and close it. */
  protected abstract void onStreamError(Throwable cause);
}
