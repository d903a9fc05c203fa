package io.meshgate.gateway.call;

import io.netty.util.AsciiString;

/**
 * The {@code grpc-timeout} header, as gRPC (and gRPC-Web) clients send it and REST clients may:
 * 1 to 8 digits and a unit.
 */
public final class GrpcTimeout {
  /** The header's name. */
  public static final AsciiString HEADER = AsciiString.cached("grpc-timeout");
  /** What {@link #parseNanos} returns without a header. */
  public static final long ABSENT = -1;
  /** What {@link #parseNanos} returns for a malformed value. */
  public static final long MALFORMED = -2;
  /** The format, for error messages. */
  public static final String FORMAT = "1-8 digits and a unit H, M, S, m, u or n, e.g. 500m for"
      + " 500 ms";

  private static final long MAX_VALUE = 99_999_999L;

  private GrpcTimeout() {}

  /**
   * Parses a {@code grpc-timeout} value into nanoseconds; {@link #ABSENT} for null,
   * {@link #MALFORMED} when it is not 1 to 8 digits and a unit H, M, S, m, u or n.
   */
  public static long parseNanos(CharSequence value) {
    if (value == null) {
      return ABSENT;
    }
    int n = value.length();
    if (n < 2 || n > 9) {
      return MALFORMED;
    }
    long amount = 0;
    for (int i = 0; i < n - 1; i++) {
      char c = value.charAt(i);
      if (c < '0' || c > '9') {
        return MALFORMED;
      }
      amount = amount * 10 + (c - '0');
    }
    if (amount > MAX_VALUE) {
      return MALFORMED;
    }
    return switch (value.charAt(n - 1)) {
      case 'n' -> amount;
      case 'u' -> amount * 1_000L;
      case 'm' -> amount * 1_000_000L;
      case 'S' -> amount * 1_000_000_000L;
      case 'M' -> amount * 60_000_000_000L;
      case 'H' -> amount * 3_600_000_000_000L;
      default -> MALFORMED;
    };
  }

  /**
   * A {@code grpc-timeout} value for {@code nanos} (positive): the finest unit that keeps the
   * amount within 8 digits, as grpc-java writes it.
   */
  public static String format(long nanos) {
    long n = Math.max(1, nanos);
    if (n <= MAX_VALUE) {
      return n + "n";
    }
    if (n / 1_000L <= MAX_VALUE) {
      return n / 1_000L + "u";
    }
    if (n / 1_000_000L <= MAX_VALUE) {
      return n / 1_000_000L + "m";
    }
    if (n / 1_000_000_000L <= MAX_VALUE) {
      return n / 1_000_000_000L + "S";
    }
    if (n / 60_000_000_000L <= MAX_VALUE) {
      return n / 60_000_000_000L + "M";
    }
    return Math.min(MAX_VALUE, n / 3_600_000_000_000L) + "H";
  }
}
