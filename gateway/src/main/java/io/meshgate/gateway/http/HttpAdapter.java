package io.meshgate.gateway.http;

/**
 * A protocol that works on whole HTTP requests, over HTTP/1.1 ({@link Http1Exchange}) and HTTP/2
 * ({@link Http2Exchange}) alike: the exchanges collect the request, bounded by
 * {@link #maxRequestBodyBytes()}, and the adapter's {@link HttpCall} answers it. Thread-safe.
 */
public interface HttpAdapter {
  /** A call for {@code request}, answered through {@code responder}; the exchange starts it. */
  HttpCall newCall(HttpRequest request, HttpResponder responder);

  /** The largest request body the exchanges collect; a larger one is {@link HttpCall#tooLarge}. */
  int maxRequestBodyBytes();

  /**
   * Whether an HTTP/2 request with these headers is streamed to its call piece by piece
   * ({@link HttpCall#onRequestData}) instead of collected whole, so that answers can flow while
   * the request still does (full-duplex streams). HTTP/1.1 requests are always collected.
   */
  default boolean streamsRequest(HttpRequest.Headers headers) {
    return false;
  }

  /**
   * A call for a request {@link #streamsRequest} streams: {@code request} has no body; the body
   * comes to {@link HttpCall#onRequestData} after {@link HttpCall#start}.
   */
  default HttpCall newStreamingCall(HttpRequest request, HttpResponder responder) {
    throw new UnsupportedOperationException("this adapter takes whole requests");
  }
}
