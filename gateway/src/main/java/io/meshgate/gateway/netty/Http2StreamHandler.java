package io.meshgate.gateway.netty;

import io.meshgate.gateway.overload.BufferHolder;
import io.meshgate.gateway.overload.StreamLedger;
import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;

/**
 * The skeleton of a protocol adapter on one HTTP/2 stream ({@link FrontStream}): its frames
 * arrive as {@link #onHeaders}, {@link #onData} and {@link #onReset}, and each frame is released
 * once, after its callback returns (a callback that keeps data retains it).
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
public abstract class Http2StreamHandler implements BufferHolder {
  private final ConnectionGuard guard;
  private final long openedNanos;
  private StreamLedger.Entry ledgerEntry;

  /** The stream, from the moment the handler is given it (before its first frame). */
  protected FrontStream stream;

  /**
   * @param guard the connection's abuse guard
   * @param openedNanos {@link System#nanoTime()} when the stream opened
   */
  protected Http2StreamHandler(ConnectionGuard guard, long openedNanos) {
    this.guard = guard;
    this.openedNanos = openedNanos;
  }

  final void attach(FrontStream stream) {
    this.stream = stream;
    StreamLedger ledger = StreamLedger.of(stream.connection());
    if (ledger != null) {
      ledgerEntry = ledger.add(this);
    }
  }

  final void detach() {
    if (ledgerEntry != null) {
      ledgerEntry.remove();
      ledgerEntry = null;
    }
    onClosed();
  }

  @Override
  public final void shed(String reason) {
    ledgerEntry = null; // the ledger already dropped it
    onShed(reason);
    stream.reset(Http2Error.ENHANCE_YOUR_CALM);
  }

  /** By default a stream holds nothing worth counting. */
  @Override
  public long bufferedBytes() {
    return 0;
  }

  final void headers(Http2HeadersFrame headers) {
    onHeaders(headers.headers(), headers.isEndStream());
  }

  final void data(Http2DataFrame data) {
    onData(data.content(), data.isEndStream());
  }

  final void reset(long errorCode) {
    boolean abusive = guard.onClientReset(System.nanoTime() - openedNanos, responseStarted());
    onReset(errorCode);
    if (abusive) {
      guard.closeAbusiveConnection(stream.connection());
    }
  }

  final void streamError(Throwable cause) {
    // A stream error the codec answers with RST_STREAM: the client made the gateway reset it.
    boolean abusive = cause instanceof Http2Exception.StreamException
        && guard.onServerReset(System.nanoTime() - openedNanos, responseStarted());
    onStreamError(cause);
    if (abusive) {
      guard.closeAbusiveConnection(stream.connection());
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

  /**
   * What the last {@link FrontStream#read} asked for has been handed over; call
   * {@link FrontStream#read} again for more.
   */
  protected void onReadComplete() {}

  /** {@link FrontStream#isWritable} changed. */
  protected void onWritabilityChanged() {}

  /** The stream closed (both ways, or reset, or its connection went away). */
  protected void onClosed() {}

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
