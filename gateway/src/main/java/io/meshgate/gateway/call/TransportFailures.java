package io.meshgate.gateway.call;

import io.grpc.Status;
import java.io.IOException;

/**
 * grpc-java reports some failures of its own transport as UNKNOWN: a write on an upstream
 * connection that a crashed backend's kernel has just closed ends the call with
 * {@code UNKNOWN: channel closed} (a {@link java.nio.channels.ClosedChannelException}). A backend
 * never sends a status with a Java cause, so an UNKNOWN with an I/O cause is the connection
 * failing, which gRPC calls UNAVAILABLE — and which a route's retries on UNAVAILABLE must see as
 * such.
 */
public final class TransportFailures {
  private TransportFailures() {}

  /** {@code status}, or UNAVAILABLE when it is grpc-java's UNKNOWN for a lost connection. */
  public static Status normalize(Status status) {
    if (status.getCode() == Status.Code.UNKNOWN && status.getCause() instanceof IOException) {
      return Status.UNAVAILABLE.withCause(status.getCause()).withDescription(
          "the connection to the backend was lost: " + status.getDescription());
    }
    return status;
  }
}
