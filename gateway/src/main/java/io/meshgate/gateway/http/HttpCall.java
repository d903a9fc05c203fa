package io.meshgate.gateway.http;

/**
 * One call of an adapter that works on whole HTTP requests (REST, gRPC-Web, Connect), made by
 * its {@link HttpAdapter} for each request and answered through an {@link HttpResponder}. Only
 * on the client connection's event loop.
 */
public interface HttpCall {
  /** Runs the call: the request is complete. */
  void start();

  /** Answers that the request body is larger than {@code limit} bytes, instead of running. */
  void tooLarge(int limit);

  /** The client can take more output: resume a streamed response. */
  void onWritable();

  /** The client went away or reset the stream: stop the call. */
  void cancel(String reason);

  /**
   * For a call its adapter streams ({@link HttpAdapter#streamsRequest}): a piece of the request
   * body, as it arrives (HTTP/2 only; {@link #start} came first, with an empty body).
   *
   * @param last whether the request ends with it
   * @return whether to read on now; if not, the call asks with {@link HttpResponder#readMore}
   */
  default boolean onRequestData(io.netty.buffer.ByteBuf piece, boolean last) {
    throw new UnsupportedOperationException("this call takes whole requests");
  }
}
