package io.meshgate.transcoder;

/**
 * A request that cannot be turned into a gRPC message: malformed JSON, a value of the wrong type
 * or out of range, an unknown query parameter, a body too large. The message names the field or
 * parameter and what was expected; {@link #httpStatus()} is 400, 413 or 415.
 */
public final class TranscodingException extends Exception {
  private static final long serialVersionUID = 1L;

  private final int httpStatus;

  TranscodingException(int httpStatus, String message) {
    super(message);
    this.httpStatus = httpStatus;
  }

  /** 400 (bad request), 413 (too large) or 415 (unsupported media type). */
  public int httpStatus() {
    return httpStatus;
  }

  static TranscodingException badRequest(String message) {
    return new TranscodingException(400, message);
  }
}
