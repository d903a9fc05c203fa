package io.meshgate.transcoder;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * A growable UTF-8 buffer that JSON is printed into. String values whose protobuf bytes are
 * ASCII are escaped and copied byte for byte, without decoding them to Java strings and encoding
 * them again; other strings take the decoding path, which also replaces malformed UTF-8 as the
 * protobuf runtime does. Not thread-safe.
 */
final class JsonOut {
  private static final byte[] HEX = "0123456789abcdef".getBytes(StandardCharsets.US_ASCII);

  private byte[] buf;
  private int pos;

  JsonOut(int initialCapacity) {
    buf = new byte[Math.max(64, initialCapacity)];
  }

  int length() {
    return pos;
  }

  void truncate(int length) {
    pos = length;
  }

  byte byteAt(int index) {
    return buf[index];
  }

  byte[] toByteArray() {
    return Arrays.copyOf(buf, pos);
  }

  private void ensure(int more) {
    if (pos + more > buf.length) {
      buf = Arrays.copyOf(buf, Math.max(buf.length * 2, pos + more));
    }
  }

  /** One ASCII character. */
  JsonOut append(char c) {
    ensure(1);
    buf[pos++] = (byte) c;
    return this;
  }

  /** Text that is ASCII (names, numbers, literals). */
  JsonOut ascii(String text) {
    int n = text.length();
    ensure(n);
    for (int i = 0; i < n; i++) {
      buf[pos++] = (byte) text.charAt(i);
    }
    return this;
  }

  /** Any text, as UTF-8, unescaped (already-printed JSON). */
  JsonOut utf8(String text) {
    byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
    ensure(bytes.length);
    System.arraycopy(bytes, 0, buf, pos, bytes.length);
    pos += bytes.length;
    return this;
  }

  /** Raw bytes (base64 and the like, already ASCII). */
  JsonOut bytes(byte[] bytes) {
    ensure(bytes.length);
    System.arraycopy(bytes, 0, buf, pos, bytes.length);
    pos += bytes.length;
    return this;
  }

  /** A JSON string literal of protobuf string bytes (UTF-8). */
  void string(byte[] utf8, int offset, int length) {
    int end = offset + length;
    for (int i = offset; i < end; i++) {
      if (utf8[i] < 0) {
        // Not ASCII: decode (replacing malformed sequences) and escape as text.
        string(new String(utf8, offset, length, StandardCharsets.UTF_8));
        return;
      }
    }
    ensure(length + 2);
    buf[pos++] = '"';
    int from = offset;
    for (int i = offset; i < end; i++) {
      byte b = utf8[i];
      if (b == '"' || b == '\\' || b < 0x20) {
        copy(utf8, from, i - from);
        escape((char) b);
        from = i + 1;
      }
    }
    copy(utf8, from, end - from);
    append('"');
  }

  private void copy(byte[] source, int offset, int length) {
    ensure(length);
    System.arraycopy(source, offset, buf, pos, length);
    pos += length;
  }

  /** A JSON string literal of any text. */
  void string(String value) {
    append('"');
    int n = value.length();
    int from = 0;
    for (int i = 0; i < n; i++) {
      char c = value.charAt(i);
      if (c == '"' || c == '\\' || c < 0x20 || c == '\u2028' || c == '\u2029') {
        utf8(value.substring(from, i));
        escape(c);
        from = i + 1;
      }
    }
    utf8(from == 0 ? value : value.substring(from));
    append('"');
  }

  private void escape(char c) {
    switch (c) {
      case '"' -> ascii("\\\"");
      case '\\' -> ascii("\\\\");
      case '\n' -> ascii("\\n");
      case '\r' -> ascii("\\r");
      case '\t' -> ascii("\\t");
      case '\b' -> ascii("\\b");
      case '\f' -> ascii("\\f");
      default -> {
        ensure(6);
        buf[pos++] = '\\';
        buf[pos++] = 'u';
        buf[pos++] = HEX[(c >> 12) & 0xF];
        buf[pos++] = HEX[(c >> 8) & 0xF];
        buf[pos++] = HEX[(c >> 4) & 0xF];
        buf[pos++] = HEX[c & 0xF];
      }
    }
  }
}
