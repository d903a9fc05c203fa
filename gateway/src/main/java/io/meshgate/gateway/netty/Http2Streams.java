package io.meshgate.gateway.netty;

import io.meshgate.gateway.overload.BufferBudget;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http2.DefaultHttp2SettingsFrame;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameStream;
import io.netty.handler.codec.http2.Http2FrameStreamEvent;
import io.netty.handler.codec.http2.Http2FrameStreamException;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2LocalFlowController;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2SettingsFrame;
import io.netty.handler.codec.http2.Http2Stream;
import io.netty.handler.codec.http2.Http2StreamFrame;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.collection.IntObjectHashMap;
import java.util.ArrayList;

/**
 * Hands the frames of a client's HTTP/2 connection to its streams, right after Netty's frame
 * codec and in place of its multiplexer: a stream is a {@link FrontStream} and its adapter's
 * {@link Http2StreamHandler} — no child channel, pipeline or promise chain per stream, which
 * were the largest cost of a proxied call. Connection frames (SETTINGS, PING, GOAWAY) pass on
 * down the pipeline. Only on the connection's event loop.
 */
public final class Http2Streams extends ChannelInboundHandlerAdapter {
  /** Makes the handler of a new stream from its request headers. */
  public interface Opener {
    /**
     * The handler for a new stream, or null when the opener answered (or dropped) the stream
     * itself; {@code headers} is then handed to the handler.
     */
    Http2StreamHandler open(FrontStream stream, Http2HeadersFrame headers);

    /** A stream of the connection closed. */
    void closed(FrontStream stream);
  }

  private final Opener opener;
  private final ConnectionGuard guard;
  private final BufferBudget budget;
  private final int streamWindowBytes;
  private BufferBudget.ShrinkingWindow window;

  // Only on the loop.
  private final IntObjectHashMap<FrontStream> streams = new IntObjectHashMap<>();
  private final ArrayList<FrontStream> readCompletePending = new ArrayList<>();
  private ChannelHandlerContext ctx;
  private Http2FrameCodec codec;
  private FrontStream upgradeStream; // the Upgrade's request, held until the client's preface

  /**
   * Streams opened by {@code opener}, whose request windows are given back only while
   * {@code budget} has room; while it is reached the connection announces a small initial
   * stream window instead of its normal {@code streamWindowBytes}.
   */
  public Http2Streams(Opener opener, ConnectionGuard guard, BufferBudget budget,
      int streamWindowBytes) {
    this.opener = opener;
    this.guard = guard;
    this.budget = budget;
    this.streamWindowBytes = streamWindowBytes;
  }

  /** The connection's flow control of what clients send. */
  Http2LocalFlowController inboundFlow() {
    return codec.connection().local().flowController();
  }

  BufferBudget budget() {
    return budget;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
    this.codec = ctx.pipeline().get(Http2FrameCodec.class);
    if (budget.bytes() > 0) {
      this.window = new BufferBudget.ShrinkingWindow(budget, ctx.executor(), streamWindowBytes) {
        @Override
        protected void announce(int initialWindow) {
          ctx.writeAndFlush(new DefaultHttp2SettingsFrame(
              new Http2Settings().initialWindowSize(initialWindow)));
        }
      };
    }
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    Http2DataFrame data = Frames.data(msg);
    Http2HeadersFrame headers = data == null ? Frames.headers(msg) : null;
    Http2StreamFrame frame = data != null ? data : headers != null ? headers
        : msg instanceof Http2StreamFrame other ? other : null;
    if (frame == null || frame.stream() == null) {
      boolean settings = msg instanceof Http2SettingsFrame;
      ctx.fireChannelRead(msg);
      if (settings && upgradeStream != null) {
        // The client's preface is in: the request that came with the Upgrade may be answered.
        FrontStream stream = upgradeStream;
        upgradeStream = null;
        stream.read();
        ctx.flush();
      }
      return;
    }
    int id = frame.stream().id();
    FrontStream stream = streams.get(id);
    if (stream == null) {
      if (headers == null) {
        ReferenceCountUtil.release(msg); // window updates and frames of streams already ended
        return;
      }
      stream = open(frame.stream(), headers);
      if (stream == null) {
        return;
      }
    }
    if (data != null || headers != null) {
      stream.inbound(frame);
    } else if (msg instanceof Http2ResetFrame reset) {
      // Not flow-controlled: told at once, whatever the stream has asked to read.
      stream.resetByClient(reset.errorCode());
      ReferenceCountUtil.release(msg);
    } else {
      ReferenceCountUtil.release(msg); // WINDOW_UPDATE (the codec applied it), PRIORITY
    }
  }

  private FrontStream open(Http2FrameStream frameStream, Http2HeadersFrame headers) {
    Http2Stream http2 = codec.connection().stream(frameStream.id());
    if (http2 == null) {
      ReferenceCountUtil.release(headers);
      return null;
    }
    FrontStream stream = new FrontStream(this, ctx, frameStream, http2);
    streams.put(frameStream.id(), stream);
    if (frameStream.id() == Http2CodecUtil.HTTP_UPGRADE_STREAM_ID
        && !codec.decoder().prefaceReceived()) {
      // The request of an HTTP/1.1 Upgrade, before the client's preface: it is answered once
      // the client's SETTINGS arrive. JDK's HttpClient (17 and 25) misreads a response that
      // reaches it with the 101, before it has sent its preface: it parses body bytes as frame
      // headers (a protocol error) or waits forever — one first request in six for a 56 KB
      // document, where curl took every one.
      stream.holdUpgradeRequest();
      upgradeStream = stream;
    }
    Http2StreamHandler handler;
    try {
      handler = opener.open(stream, headers);
    } catch (RuntimeException e) {
      ReferenceCountUtil.release(headers);
      stream.close();
      throw e;
    }
    stream.open(handler);
    if (handler == null) {
      ReferenceCountUtil.release(headers);
      return null;
    }
    if (http2.state() == Http2Stream.State.CLOSED) {
      // Answered and ended inside open (no event will follow for a stream we did not know).
      ReferenceCountUtil.release(headers);
      closed(frameStream.id());
      return null;
    }
    return stream;
  }

  void readCompleteLater(FrontStream stream) {
    readCompletePending.add(stream);
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    if (!readCompletePending.isEmpty()) {
      // Indexed: a stream completed here may read, and so join the list, again.
      for (int i = 0; i < readCompletePending.size(); i++) {
        readCompletePending.get(i).readComplete();
      }
      readCompletePending.clear();
      ctx.flush();
    }
    if (window != null) {
      window.check();
    }
    ctx.fireChannelReadComplete();
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    if (!(evt instanceof Http2FrameStreamEvent event)) {
      ctx.fireUserEventTriggered(evt);
      return;
    }
    // The stream's flow-control writability is not what its adapter goes by (FrontStream
    // counts what it has written); only its end matters here.
    Http2FrameStream frameStream = event.stream();
    if (event.type() == Http2FrameStreamEvent.Type.State
        && frameStream.state() == Http2Stream.State.CLOSED) {
      closed(frameStream.id());
    }
  }

  private void closed(int id) {
    FrontStream stream = streams.remove(id);
    if (stream != null) {
      stream.closed();
      opener.closed(stream);
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    if (window != null) {
      window.cancel();
    }
    // The codec closed the connection's streams as it went inactive (each told above); any
    // left are closed here, so that no call outlives its connection.
    if (!streams.isEmpty()) {
      for (int id : new ArrayList<>(streams.keySet())) {
        closed(id);
      }
    }
    ctx.fireChannelInactive();
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    if (cause instanceof Http2FrameStreamException streamError) {
      FrontStream stream = streams.get(streamError.stream().id());
      if (stream != null) {
        try {
          stream.streamError(streamError.getCause());
        } finally {
          stream.reset(streamError.error());
        }
      } else if (guard.onServerReset(0, false)) {
        // A stream the client made the gateway reset before its headers were read.
        guard.closeAbusiveConnection(ctx.channel());
      }
      return;
    }
    ctx.fireExceptionCaught(cause);
  }

  /** A stream error on a stream the opener answered itself: counted, as the adapters count. */
  void streamErrorBeforeHandler(FrontStream stream, Throwable cause) {
    if (cause instanceof Http2Exception.StreamException
        && guard.onServerReset(System.nanoTime() - stream.openedNanos(), false)) {
      guard.closeAbusiveConnection(ctx.channel());
    }
  }
}
