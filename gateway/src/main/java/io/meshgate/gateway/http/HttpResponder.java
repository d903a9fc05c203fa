package io.meshgate.gateway.http;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.util.concurrent.EventExecutor;

/**
 * The protocol side of an HTTP exchange: writes the response over HTTP/1.1 or HTTP/2. Called only
 * on {@link #executor()}; the protocol side tells the {@link HttpCall} when the client can take
 * more ({@link HttpCall#onWritable()}) or went away ({@link HttpCall#cancel}).
 */
public interface HttpResponder {
  /** The event loop of the client's connection. */
  EventExecutor executor();

  /** Sends a whole response; takes ownership of {@code body} (which may be empty). */
  void respond(HttpResponseStatus status, HttpHeaders headers, ByteBuf body);

  /** Starts a streamed response; chunks follow. */
  void startStream(HttpResponseStatus status, HttpHeaders headers);

  /** Sends one chunk of a streamed response; takes ownership of {@code chunk}. */
  void sendChunk(ByteBuf chunk);

  /** Ends a streamed response, with trailers (HTTP/2 trailers, HTTP/1.1 chunked trailer). */
  void endStream(HttpHeaders trailers);

  /** Whether the client takes more output now (flow control). */
  boolean isWritable();

  /** A streamed request's call can take more of the body again (see HttpCall#onRequestData). */
  default void readMore() {}
}
