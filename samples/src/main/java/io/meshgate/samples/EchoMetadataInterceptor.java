package io.meshgate.samples;

import io.grpc.ForwardingServerCall.SimpleForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;

/**
 * Echoes request metadata back, so that a caller can see what reached the backend: every request
 * header named {@code x-echo-<rest>} comes back as response header {@code x-echo-<rest>} and as
 * trailer {@code x-trailer-<rest>} (binary {@code -bin} headers included). The backend's own
 * view of the deadline comes back as {@code x-echo-deadline-millis}, the request's
 * {@code grpc-encoding} as {@code x-echo-request-encoding}, and a request header
 * {@code x-compress-response: gzip} makes the backend compress its responses. A request header
 * {@code x-echo-headers: a,b} echoes the request's {@code a} and {@code b} back as
 * {@code x-echo-header-a} and {@code x-echo-header-b}, for any names (such as
 * {@code authorization} or {@code x-forwarded-for}), so a caller can see what a proxy forwarded.
 */
public final class EchoMetadataInterceptor implements ServerInterceptor {
  private static final String ECHO = "x-echo-";
  private static final String TRAILER = "x-trailer-";
  private static final Metadata.Key<String> COMPRESS =
      Metadata.Key.of("x-compress-response", Metadata.ASCII_STRING_MARSHALLER);
  private static final Metadata.Key<String> HEADERS =
      Metadata.Key.of("x-echo-headers", Metadata.ASCII_STRING_MARSHALLER);
  private static final Metadata.Key<String> ENCODING =
      Metadata.Key.of("grpc-encoding", Metadata.ASCII_STRING_MARSHALLER);

  @Override
  public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(
      ServerCall<ReqT, RespT> call, Metadata requestHeaders, ServerCallHandler<ReqT, RespT> next) {
    Metadata echoed = new Metadata();
    Metadata trailers = new Metadata();
    for (String name : requestHeaders.keys()) {
      if (!name.startsWith(ECHO)) {
        continue;
      }
      String trailerName = TRAILER + name.substring(ECHO.length());
      if (name.endsWith(Metadata.BINARY_HEADER_SUFFIX)) {
        Metadata.Key<byte[]> key = Metadata.Key.of(name, Metadata.BINARY_BYTE_MARSHALLER);
        Metadata.Key<byte[]> trailerKey =
            Metadata.Key.of(trailerName, Metadata.BINARY_BYTE_MARSHALLER);
        for (byte[] value : requestHeaders.getAll(key)) {
          echoed.put(key, value);
          trailers.put(trailerKey, value);
        }
      } else {
        Metadata.Key<String> key = Metadata.Key.of(name, Metadata.ASCII_STRING_MARSHALLER);
        Metadata.Key<String> trailerKey =
            Metadata.Key.of(trailerName, Metadata.ASCII_STRING_MARSHALLER);
        for (String value : requestHeaders.getAll(key)) {
          echoed.put(key, value);
          trailers.put(trailerKey, value);
        }
      }
    }
    if (call.getMethodDescriptor().getServiceName() != null
        && io.grpc.Context.current().getDeadline() != null) {
      echoed.put(Metadata.Key.of(ECHO + "deadline-millis", Metadata.ASCII_STRING_MARSHALLER),
          Long.toString(io.grpc.Context.current().getDeadline()
              .timeRemaining(java.util.concurrent.TimeUnit.MILLISECONDS)));
    }
    String named = requestHeaders.get(HEADERS);
    if (named != null) {
      for (String name : named.split(",")) {
        String header = name.strip().toLowerCase(java.util.Locale.ROOT);
        if (header.isEmpty() || header.endsWith(Metadata.BINARY_HEADER_SUFFIX)) {
          continue;
        }
        Iterable<String> values = requestHeaders.getAll(
            Metadata.Key.of(header, Metadata.ASCII_STRING_MARSHALLER));
        if (values == null) {
          continue; // not sent: nothing to echo
        }
        for (String value : values) {
          echoed.put(Metadata.Key.of(ECHO + "header-" + header, Metadata.ASCII_STRING_MARSHALLER),
              value);
        }
      }
    }
    String encoding = requestHeaders.get(ENCODING);
    echoed.put(Metadata.Key.of(ECHO + "request-encoding", Metadata.ASCII_STRING_MARSHALLER),
        encoding == null ? "identity" : encoding);
    String compress = requestHeaders.get(COMPRESS);
    if (compress != null) {
      call.setCompression(compress);
    }
    return next.startCall(new SimpleForwardingServerCall<>(call) {
      private boolean headersSent;

      @Override
      public void sendHeaders(Metadata headers) {
        headersSent = true;
        headers.merge(echoed);
        super.sendHeaders(headers);
      }

      @Override
      public void close(Status status, Metadata callTrailers) {
        callTrailers.merge(trailers);
        if (!headersSent) {
          // Trailers-only response: what would have been headers travels in the trailers.
          callTrailers.merge(echoed);
        }
        super.close(status, callTrailers);
      }
    }, requestHeaders);
  }
}
