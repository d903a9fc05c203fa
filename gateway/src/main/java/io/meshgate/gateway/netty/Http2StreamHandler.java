package io.meshgate.gateway.netty;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.util.ReferenceCountUtil;

/**
 * The skeleton of a protocol adapter on one HTTP/2 stream (a child channel of Netty's
 * multiplexer): its frames arrive as {@link #onHeaders}, {@link #onData} and {@link #onReset},
 * and each frame is released once, after its callback returns (a callback that keeps data
 * retains it). Only on the stream's event loop.
 */
public abstract class Http2StreamHandler extends ChannelInboundHandlerAdapter {
  /** The stream's context, from the moment the handler is added. */
  protected ChannelHandlerContext ctx;

  @Override
  public final void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
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
        onReset(reset.errorCode());
      }
    } finally {
      ReferenceCountUtil.release(evt);
    }
  }

  /** A HEADERS frame: the request headers, or the trailers that end the request. */
  protected abstract void onHeaders(Http2Headers headers, boolean endStream);

  /** A DATA frame; {@code content} is released after this returns. */
  protected abstract void onData(ByteBuf content, boolean endStream);

  /** The client reset the stream with {@code errorCode}. */
  protected abstract void onReset(long errorCode);
}
