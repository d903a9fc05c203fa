package io.meshgate.transcoder;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Percent-decoding of path segments as {@code google.api.http} says: a variable that matches one
 * segment is decoded fully; one that matches several keeps {@code %2F} (so that an encoded slash
 * stays distinguishable from a segment separator). Malformed escapes are kept as they are.
 */
final class PercentDecoding {
  private PercentDecoding() {}

  static String decodeFully(String text) {
    return decode(text, false);
  }

  static String decodeKeepingSlashes(String text) {
    return decode(text, true);
  }

  private static String decode(String text, boolean keepSlashes) {
    if (text.indexOf('%') < 0) {
      return text;
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream(text.length());
    byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
    for (int i = 0; i < bytes.length; i++) {
      byte b = bytes[i];
      if (b == '%' && i + 2 < bytes.length) {
        int high = Character.digit(bytes[i + 1], 16);
        int low = Character.digit(bytes[i + 2], 16);
        if (high >= 0 && low >= 0) {
          int value = (high << 4) | low;
          if (keepSlashes && value == '/') {
            out.write(bytes, i, 3);
          } else {
            out.write(value);
          }
          i += 2;
          continue;
        }
      }
      out.write(b);
    }
    return out.toString(StandardCharsets.UTF_8);
  }
}
