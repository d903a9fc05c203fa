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
}
