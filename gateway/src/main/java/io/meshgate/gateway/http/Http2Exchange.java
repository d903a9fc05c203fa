package io.meshgate.gateway.http;

import io.meshgate.gateway.netty.Channels;
import io.meshgate.gateway.netty.ConnectionGuard;
import io.meshgate.gateway.netty.Http2StreamHandler;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.CompositeByteBuf;
import io.netty.channel.ChannelFuture;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.HttpConversionUtil;
import io.netty.util.concurrent.EventExecutor;

/**
 * One HTTP/2 stream that carries a call of an HTTP adapter (REST, gRPC-Web, Connect): collects
 * the body (up to the adapter's limit; {@link HttpCall#tooLarge} beyond it, as soon as
 * {@code content-length} or the data says so) — or, for requests the adapter streams
 * ({@link HttpAdapter#streamsRequest}), hands it to the call piece by piece, reading on only
 * when the call asks, so answers flow while the request does — runs the adapter's
 * {@link HttpCall} and writes its answer as HTTP/2 frames. A response that ends before the request did is
 * followed by RST_STREAM(NO_ERROR), as RFC 9113 §8.1 allows. Only on the stream's event loop.
 */
public final class Http2Exchange extends Http2StreamHandler implements HttpResponder {
  private final HttpAdapter adapter;

  // Only on the event loop.
  private Http2Headers requestHeaders;
  private CompositeByteBuf body;
  private HttpCall call;
  private boolean requestEnded;
  private boolean responded;
  private boolean streaming;
  private boolean readPaused;
  private boolean head;

  /**
   * @param guard the connection's abuse guard
   * @param openedNanos {@link System#nanoTime()} when the stream opened
   */
  public Http2Exchange(HttpAdapter adapter, ConnectionGuard guard, long openedNanos) {
    super(guard, openedNanos);
    this.adapter = adapter;
  }

  @Override
  protected void onHeaders(Http2Headers headers, boolean endStream) {
    if (requestHeaders == null) {
      onRequestHeaders(headers);
    }
    if (endStream) {
      onRequestEnd();
    }
  }

  @Override
  protected void onData(ByteBuf content, boolean endStream) {
    if (streaming) {
      if (endStream) {
        requestEnded = true;
      }
      if (call != null) {
        readPaused = !call.onRequestData(content, endStream);
      }
      return;
    }
    if (!responded && call == null && body != null) {
      if (body.readableBytes() + content.readableBytes()
          > adapter.maxRequestBodyBytes()) {
        tooLarge();
      } else if (content.isReadable()) {
        body.addComponent(true, content.retain());
      }
    }
    if (endStream) {
      onRequestEnd();
    }
  }

  private void onRequestHeaders(Http2Headers headers) {
    requestHeaders = headers;
    head = "HEAD".contentEquals(headers.method() == null ? "" : headers.method());
    if (adapter.streamsRequest(HttpRequest.Headers.of(headers))) {
      // The body goes to the call as it comes: answers may flow while the request does.
      streaming = true;
      call = adapter.newStreamingCall(request(new byte[0]), this);
      call.start();
      return;
    }
    body = stream.alloc().compositeBuffer(1024);
    CharSequence length = headers.get(HttpHeaderNames.CONTENT_LENGTH);
    if (length != null) {
      try {
        if (Long.parseLong(length.toString()) > adapter.maxRequestBodyBytes()) {
          tooLarge();
        }
      } catch (NumberFormatException ignored) {
        // A malformed content-length is the codec's business; the body is still bounded.
      }
    }
  }

  private void tooLarge() {
    body.clear();
    adapter.newCall(request(new byte[0]), this).tooLarge(adapter.maxRequestBodyBytes());
  }

  private void onRequestEnd() {
    requestEnded = true;
    if (streaming) {
      if (call != null) {
        call.onRequestData(io.netty.buffer.Unpooled.EMPTY_BUFFER, true);
      }
      return;
    }
    if (responded || call != null || body == null) {
      return;
    }
    byte[] bytes = ByteBufUtil.getBytes(body);
    body.release();
    body = null;
    call = adapter.newCall(request(bytes), this);
    call.start();
  }

  private HttpRequest request(byte[] bytes) {
    CharSequence path = requestHeaders.path();
    String[] target = HttpRequest.splitTarget(path == null ? "" : path.toString());
    CharSequence authority = requestHeaders.authority();
    return new HttpRequest(requestHeaders.method() == null ? ""
        : requestHeaders.method().toString(), target[0], target[1],
        HttpRequest.Headers.of(requestHeaders), bytes, Channels.clientAddress(stream.connection()),
        authority == null ? null : authority.toString(),
        Channels.clientIdentity(stream.connection()));
  }

  @Override
  protected void onReadComplete() {
    if (!requestEnded && !readPaused) {
      stream.read(); // the rest of the body (or, once answered, to drain it)
    }
  }

  @Override
  protected void onWritabilityChanged() {
    if (call != null && stream.isWritable()) {
      call.onWritable();
    }
  }

  @Override
  protected void onReset(long errorCode) {
    requestEnded = true;
    if (call != null) {
      call.cancel("the client reset the stream (HTTP/2 error " + errorCode + ")");
    }
  }

  @Override
  protected void onClosed() {
    if (call != null) {
      call.cancel("the client went away");
    }
    if (body != null) {
      body.release();
      body = null;
    }
  }

  @Override
  public long bufferedBytes() {
    return body == null ? 0 : body.readableBytes();
  }

  @Override
  protected void onShed(String reason) {
    requestEnded = true;
    if (call != null) {
      call.cancel(reason);
    }
    if (body != null) {
      body.release();
      body = null;
    }
  }

  @Override
  protected void onStreamError(Throwable cause) {
    if (call != null) {
      call.cancel("stream error: " + cause);
    }
    stream.close();
  }

  @Override
  protected boolean responseStarted() {
    return responded;
  }

  // ---- HttpResponder -----------------------------------------------------------------------

  @Override
  public EventExecutor executor() {
    return stream.executor();
  }

  @Override
  public void respond(HttpResponseStatus status, HttpHeaders headers, ByteBuf content) {
    responded = true;
    Http2Headers response = toHttp2(status, headers);
    if (head || !content.isReadable()) {
      content.release();
      finish(stream.writeAndFlushWithFuture(new DefaultHttp2HeadersFrame(response, true)));
    } else {
      stream.write(new DefaultHttp2HeadersFrame(response, false));
      finish(stream.writeAndFlushWithFuture(new DefaultHttp2DataFrame(content, true)));
    }
  }

  @Override
  public void startStream(HttpResponseStatus status, HttpHeaders headers) {
    responded = true;
    stream.writeAndFlush(new DefaultHttp2HeadersFrame(toHttp2(status, headers), false));
  }

  @Override
  public void sendChunk(ByteBuf chunk) {
    if (head) {
      chunk.release();
      return;
    }
    stream.writeAndFlush(new DefaultHttp2DataFrame(chunk, false));
  }

  @Override
  public void endStream(HttpHeaders trailers) {
    if (trailers.isEmpty()) {
      finish(stream.writeAndFlushWithFuture(new DefaultHttp2DataFrame(true)));
    } else {
      finish(stream.writeAndFlushWithFuture(new DefaultHttp2HeadersFrame(
          HttpConversionUtil.toHttp2Headers(trailers, false), true)));
    }
  }

  @Override
  public boolean isWritable() {
    return stream.isWritable();
  }

  @Override
  public void readMore() {
    if (readPaused) {
      readPaused = false;
      if (!requestEnded && stream.isActive()) {
        stream.read();
      }
    }
  }

  /**
   * Once the end of the response is written (not merely queued for flow-control window, which a
   * reset would discard), stops a request body that is still coming.
   */
  private void finish(ChannelFuture last) {
    last.addListener(written -> {
      if (written.isSuccess() && !requestEnded && stream.isActive()) {
        stream.reset(Http2Error.NO_ERROR);
      }
    });
  }

  private static Http2Headers toHttp2(HttpResponseStatus status, HttpHeaders headers) {
    Http2Headers http2 = HttpConversionUtil.toHttp2Headers(
        headers == null ? new DefaultHttpHeaders() : headers, false);
    http2.status(status.codeAsText());
    return http2;
  }
}
