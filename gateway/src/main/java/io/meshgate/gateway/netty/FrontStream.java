package io.meshgate.gateway.netty;

import io.meshgate.gateway.overload.BufferBudget;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2FrameStream;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2Stream;
import io.netty.handler.codec.http2.Http2StreamFrame;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayDeque;

/**
 * One client HTTP/2 stream as its protocol adapter sees it: frames out ({@link #write},
 * {@link #writeAndFlush}, {@link #reset}), request frames in on demand ({@link #read}), its
 * writability, its connection. There is no channel or pipeline per stream: {@link Http2Streams}
 * hands the connection's frames to the stream they belong to, which keeps the ones its adapter
 * has not asked for yet — at most the stream's flow-control window, since window is given back
 * only for frames the adapter has read.
 *
 * <p>While the process's {@link BufferBudget} is reached, the window of what the adapter read is
 * kept back and given when there is room again: the client pauses.
 *
 * <p>A write that fails (not one the stream's end made pointless) is the adapter's stream
 * error ({@link Http2StreamHandler#onStreamError}). Only on the connection's event loop.
 */
public final class FrontStream implements ChannelFutureListener {
  private final Http2Streams owner;
  private final ChannelHandlerContext ctx;
  private final Http2FrameStream frameStream;
  private final Http2Stream stream;
  private final long openedNanos;
  private Http2StreamHandler handler;

  // Only on the loop.
  private ArrayDeque<Http2StreamFrame> queued;
  private boolean demand = true; // the request headers are wanted from the start
  private boolean draining;
  private boolean readCompletePending;
  private boolean closed;
  private int unconsumedBytes;
  private long pendingBytes;
  private boolean writable = true;
  private BudgetWait budgetWait;
  private boolean windowed = true;

  FrontStream(Http2Streams owner, ChannelHandlerContext ctx, Http2FrameStream frameStream,
      Http2Stream stream) {
    this.owner = owner;
    this.ctx = ctx;
    this.frameStream = frameStream;
    this.stream = stream;
    this.openedNanos = System.nanoTime();
  }

  /** The client connection the stream is on. */
  public Channel connection() {
    return ctx.channel();
  }

  /** The connection's event loop, where everything of the stream runs. */
  public EventLoop executor() {
    return ctx.channel().eventLoop();
  }

  /** The connection's buffer allocator. */
  public ByteBufAllocator alloc() {
    return ctx.alloc();
  }

  /** The HTTP/2 stream id. */
  public int id() {
    return frameStream.id();
  }

  /** When the stream opened, by {@link System#nanoTime()}. */
  public long openedNanos() {
    return openedNanos;
  }

  /** Whether the stream is still open (in either direction). */
  public boolean isActive() {
    return !closed;
  }

  /** The stream's HTTP/2 state. */
  public Http2Stream.State state() {
    return stream.state();
  }

  /**
   * Whether more response data may be written now: false while the stream's data written and
   * not yet out on the socket (waiting for the client's window or for the socket) is above the
   * connection's write-buffer high watermark, true again below its low watermark, which
   * {@link Http2StreamHandler#onWritabilityChanged} tells. A stream whose client grants no window
   * so holds one watermark's worth of response, and its adapter stops taking more from upstream.
   */
  public boolean isWritable() {
    return !closed && writable;
  }

  /**
   * Asks for the next request frames: the ones kept are handed over now, later ones as they
   * arrive, then {@link Http2StreamHandler#onReadComplete}. Window is given back to the client
   * for what was handed over.
   */
  public void read() {
    if (closed) {
      return;
    }
    demand = true;
    if (!draining && queued != null && !queued.isEmpty()) {
      drain();
    }
  }

  /** Writes a frame of this stream; {@link #flush} or a later flush sends it. */
  public void write(Http2StreamFrame frame) {
    if (closed) {
      ReferenceCountUtil.release(frame);
      return;
    }
    ChannelPromise promise = ctx.newPromise();
    watch(frame, promise);
    ctx.write(frame.stream(frameStream), promise);
  }

  /** Counts a DATA frame's bytes as pending until written; failures are stream errors. */
  private void watch(Http2StreamFrame frame, ChannelPromise promise) {
    Http2DataFrame data = Frames.data(frame);
    int bytes = data != null ? data.content().readableBytes() : 0;
    if (bytes == 0) {
      promise.addListener(this);
      return;
    }
    pendingBytes += bytes;
    if (writable && pendingBytes > ctx.channel().config().getWriteBufferHighWaterMark()) {
      writable = false;
    }
    promise.addListener(new Sent(bytes));
  }

  /** A DATA write's bytes, no longer pending once it completes. */
  private final class Sent implements ChannelFutureListener {
    private final int bytes;

    Sent(int bytes) {
      this.bytes = bytes;
    }

    @Override
    public void operationComplete(ChannelFuture future) {
      pendingBytes -= bytes;
      FrontStream.this.operationComplete(future);
      if (!writable && !closed
          && pendingBytes < ctx.channel().config().getWriteBufferLowWaterMark()) {
        writable = true;
        if (handler != null) {
          handler.onWritabilityChanged();
        }
      }
    }
  }

  /** Writes a frame of this stream and flushes (flushes of one loop turn are coalesced). */
  public void writeAndFlush(Http2StreamFrame frame) {
    write(frame);
    ctx.flush();
  }

  /**
   * Writes and flushes a frame, for a caller that waits until it is written (not merely queued
   * for window). On a closed stream the frame is dropped and the future fails.
   */
  public ChannelFuture writeAndFlushWithFuture(Http2StreamFrame frame) {
    ChannelPromise promise = ctx.newPromise();
    if (closed) {
      ReferenceCountUtil.release(frame);
      return promise.setFailure(new IllegalStateException("stream " + id() + " is closed"));
    }
    watch(frame, promise);
    ctx.writeAndFlush(frame.stream(frameStream), promise);
    return promise;
  }

  /** Flushes what was written. */
  public void flush() {
    ctx.flush();
  }

  /** Resets the stream with {@code error}, unless it is closed already. */
  public void reset(Http2Error error) {
    if (!closed && stream.state() != Http2Stream.State.CLOSED) {
      // Not a void promise: its failure would travel the connection's pipeline as an error of
      // the connection.
      ctx.writeAndFlush(new DefaultHttp2ResetFrame(error).stream(frameStream));
    }
  }

  /** Ends the stream at once: RST_STREAM(CANCEL) unless it has ended already. */
  public void close() {
    reset(Http2Error.CANCEL);
  }

  @Override
  public void operationComplete(ChannelFuture future) {
    if (!future.isSuccess() && !closed && handler != null) {
      handler.streamError(future.cause());
    }
  }

  @Override
  public String toString() {
    return ctx.channel() + " stream " + id();
  }

  // ---- Driven by Http2Streams ---------------------------------------------------------------

  /**
   * The request of an HTTP/1.1 Upgrade: kept, the headers too, until {@link #read} is called. Its
   * body came over HTTP/1.1, outside HTTP/2 flow control: no window is given back for it.
   */
  void holdUpgradeRequest() {
    demand = false;
    windowed = false;
  }

  void open(Http2StreamHandler handler) {
    this.handler = handler;
    if (handler != null) {
      handler.attach(this);
    }
  }

  /** A frame of this stream arrived. */
  void inbound(Http2StreamFrame frame) {
    if (closed) {
      ReferenceCountUtil.release(frame);
    } else if (demand && !draining && (queued == null || queued.isEmpty())) {
      deliver(frame);
      if (!readCompletePending) {
        readCompletePending = true;
        owner.readCompleteLater(this);
      }
    } else {
      if (queued == null) {
        queued = new ArrayDeque<>(4);
      }
      queued.add(frame);
    }
  }

  /** The connection's read is complete: what was handed over in it is complete. */
  void readComplete() {
    readCompletePending = false;
    completeRead();
  }

  private void completeRead() {
    demand = false;
    giveBackWindow();
    if (handler != null && !closed) {
      handler.onReadComplete();
    } else if (!closed) {
      read(); // nobody reads: what comes is released, its window given back
    }
  }

  /** Hands the kept frames over, a batch per {@link #read}, each batch then completed. */
  private void drain() {
    draining = true;
    try {
      while (demand && !closed && !queued.isEmpty()) {
        Http2StreamFrame frame;
        while (!closed && (frame = queued.poll()) != null) {
          deliver(frame);
        }
        completeRead();
      }
    } finally {
      draining = false;
    }
    ctx.flush();
  }

  private void deliver(Http2StreamFrame frame) {
    Http2DataFrame data = Frames.data(frame);
    if (data != null) {
      try {
        unconsumedBytes += data.initialFlowControlledBytes();
        if (handler != null) {
          handler.data(data);
        }
      } finally {
        data.release();
      }
      return;
    }
    Http2HeadersFrame headers = Frames.headers(frame);
    if (headers != null && handler != null) {
      handler.headers(headers); // headers hold no buffer
    }
  }

  private void giveBackWindow() {
    if (unconsumedBytes > 0 && !closed) {
      BufferBudget budget = owner.budget();
      if (budget.paused()) {
        if (budgetWait == null) {
          budgetWait = new BudgetWait();
        }
        if (!budget.mayGrant(budgetWait)) {
          return; // kept in unconsumedBytes until there is room
        }
      }
      int bytes = unconsumedBytes;
      unconsumedBytes = 0;
      if (!windowed) {
        return;
      }
      try {
        // Straight to the connection's flow controller, as the codec does with a WINDOW_UPDATE
        // frame written to it (without the frame, its promise and a pass down the pipeline:
        // this runs for every message of a stream). What it sends goes with the read's flush.
        owner.inboundFlow().consumeBytes(stream, bytes);
      } catch (Http2Exception e) {
        if (handler != null) {
          handler.streamError(e);
        }
      }
    }
  }

  /** Window held back by the budget, given once there is room. */
  private final class BudgetWait extends BufferBudget.Waiter {
    BudgetWait() {
      super(ctx.executor());
    }

    @Override
    protected void resumed() {
      giveBackWindow();
      ctx.flush();
    }
  }

  void resetByClient(long errorCode) {
    if (handler != null && !closed) {
      handler.reset(errorCode);
    }
  }

  void streamError(Throwable cause) {
    if (handler != null) {
      handler.streamError(cause);
    } else {
      owner.streamErrorBeforeHandler(this, cause);
    }
  }

  /** The stream closed: kept frames are released, the adapter told. */
  void closed() {
    if (closed) {
      return;
    }
    closed = true;
    if (budgetWait != null) {
      budgetWait.cancel();
    }
    if (queued != null) {
      Http2StreamFrame frame;
      while ((frame = queued.poll()) != null) {
        ReferenceCountUtil.release(frame);
      }
    }
    if (handler != null) {
      handler.detach();
    }
  }
}
