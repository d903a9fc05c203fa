package io.meshgate.transcoder;

import java.util.Base64;

/**
 * Bytes written as text the way protobuf's JSON mapping accepts them: standard base64 or
 * base64url (RFC 4648), each alphabet whole, padding optional, as protobuf-java-util's parser
 * reads them.
 */
final class Base64Bytes {
  private Base64Bytes() {}

  /**
   * Decodes {@code text}.
   *
   * @throws IllegalArgumentException when it is neither base64 nor base64url
   */
  static byte[] decode(String text) {
    return text.indexOf('-') >= 0 || text.indexOf('_') >= 0
        ? Base64.getUrlDecoder().decode(text) : Base64.getDecoder().decode(text);
  }
}
