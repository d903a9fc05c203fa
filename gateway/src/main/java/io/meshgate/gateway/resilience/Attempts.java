package io.meshgate.gateway.resilience;

import io.grpc.ClientCall;
import io.grpc.Metadata;
import java.util.List;

/** What retries and hedges share: starting one more attempt where the call stands. */
final class Attempts {
  private static final Metadata.Key<String> PREVIOUS_ATTEMPTS =
      Metadata.Key.of("grpc-previous-rpc-attempts", Metadata.ASCII_STRING_MARSHALLER);

  private Attempts() {}

  /**
   * Starts attempt number {@code number} and brings it to where the call is: the call's
   * headers (plus {@code grpc-previous-rpc-attempts} after the first), its compression, the
   * messages it requested, the request messages kept so far, its half-close.
   *
   * @param compression the call's message compression, or null when never set
   * @param kept the request messages kept for replay, or null for none
   */
  static <ReqT, RespT> void start(ClientCall<ReqT, RespT> call, ClientCall.Listener<RespT>
      listener, Metadata headers, int number, Boolean compression, int requested,
      List<byte[]> kept, RetryPolicy.Replay<ReqT> replay, boolean halfClosed) {
    Metadata attemptHeaders = new Metadata();
    attemptHeaders.merge(headers);
    if (number > 1) {
      attemptHeaders.put(PREVIOUS_ATTEMPTS, Integer.toString(number - 1));
    }
    call.start(listener, attemptHeaders);
    if (compression != null) {
      call.setMessageCompression(compression);
    }
    if (requested > 0) {
      call.request(requested);
    }
    if (kept != null) {
      for (byte[] saved : kept) {
        call.sendMessage(replay.restore(saved));
      }
    }
    if (halfClosed) {
      call.halfClose();
    }
  }
}
