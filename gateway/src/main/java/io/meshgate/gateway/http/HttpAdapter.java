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
}
