package io.meshgate.gateway.testing;

import io.grpc.ForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A backend interceptor that shows metadata crossing the gateway both ways: it records the
 * request headers a test asks about, and answers every call with the response header
 * {@code x-backend-header: from-headers} and the trailer {@code x-backend-trailer: from-trailers}.
 */
public final class MetadataProbe implements ServerInterceptor {
  private static final Metadata.Key<String> HEADER =
      Metadata.Key.of("x-backend-header", Metadata.ASCII_STRING_MARSHALLER);
  private static final Metadata.Key<String> TRAILER =
      Metadata.Key.of("x-backend-trailer", Metadata.ASCII_STRING_MARSHALLER);

  private final Metadata.Key<String> recorded;
  private final List<String> seen = new CopyOnWriteArrayList<>();
  private final List<String> seenNames = new CopyOnWriteArrayList<>();

  /** Records the values of request header {@code name}. */
  public MetadataProbe(String name) {
    this.recorded = Metadata.Key.of(name, Metadata.ASCII_STRING_MARSHALLER);
  }

  /** The values of the recorded header, one per call that carried it. */
  public List<String> seen() {
    return seen;
  }

  /** Every request header name the backend saw, over all calls. */
  public List<String> seenNames() {
    return seenNames;
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    String value = headers.get(recorded);
    if (value != null) {
      seen.add(value);
    }
    seenNames.addAll(headers.keys());
    return next.startCall(new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
      @Override
      public void sendHeaders(Metadata responseHeaders) {
        responseHeaders.put(HEADER, "from-headers");
        super.sendHeaders(responseHeaders);
      }

      @Override
      public void close(Status status, Metadata trailers) {
        trailers.put(TRAILER, "from-trailers");
        super.close(status, trailers);
      }
    }, headers);
  }
}
