package io.meshgate.transcoder;

/** Descriptors that cannot be used: the message names the file and what is wrong. */
public final class DescriptorException extends Exception {
  private static final long serialVersionUID = 1L;

  public DescriptorException(String message) {
    super(message);
  }
}
