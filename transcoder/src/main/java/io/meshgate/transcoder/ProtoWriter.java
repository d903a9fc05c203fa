package io.meshgate.transcoder;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Writes protobuf wire format into a growable array. A length-delimited field whose length is
 * not known yet (a nested message, a packed array) is written by {@link #beginLength()}: one byte
 * is reserved for its length and, when {@link #endLength} finds that the length needs more, the
 * content is moved up to make room. Not thread-safe; bounded by the caller's input size.
 */
final class ProtoWriter {
  static final int VARINT = 0;
  static final int FIXED64 = 1;
  static final int LEN = 2;
  static final int FIXED32 = 5;

  private byte[] buf;
  private int pos;

  ProtoWriter(int initialCapacity) {
    buf = new byte[Math.max(16, initialCapacity)];
  }

  int size() {
    return pos;
  }

  byte[] toByteArray() {
    return Arrays.copyOf(buf, pos);
  }

  /** Forgets everything written after {@code mark} (a value of {@link #size()}). */
  void truncate(int mark) {
    pos = mark;
  }

  private void ensure(int more) {
    if (pos + more > buf.length) {
      buf = Arrays.copyOf(buf, Math.max(buf.length * 2, pos + more));
    }
  }

  void tag(int fieldNumber, int wireType) {
    varint((fieldNumber << 3) | wireType);
  }

  /** An unsigned varint of up to 32 bits. */
  void varint(int value) {
    ensure(5);
    while ((value & ~0x7F) != 0) {
      buf[pos++] = (byte) ((value & 0x7F) | 0x80);
      value >>>= 7;
    }
    buf[pos++] = (byte) value;
  }

  /** An unsigned varint of up to 64 bits. */
  void varint64(long value) {
    ensure(10);
    while ((value & ~0x7FL) != 0) {
      buf[pos++] = (byte) ((value & 0x7F) | 0x80);
      value >>>= 7;
    }
    buf[pos++] = (byte) value;
  }

  /** An int32 as protobuf encodes it: negative values sign-extended to ten bytes. */
  void int32(int value) {
    if (value >= 0) {
      varint(value);
    } else {
      varint64(value);
    }
  }

  void fixed32(int value) {
    ensure(4);
    buf[pos++] = (byte) value;
    buf[pos++] = (byte) (value >>> 8);
    buf[pos++] = (byte) (value >>> 16);
    buf[pos++] = (byte) (value >>> 24);
  }

  void fixed64(long value) {
    fixed32((int) value);
    fixed32((int) (value >>> 32));
  }

  void bytes(byte[] value) {
    varint(value.length);
    ensure(value.length);
    System.arraycopy(value, 0, buf, pos, value.length);
    pos += value.length;
  }

  void string(String value) {
    bytes(value.getBytes(StandardCharsets.UTF_8));
  }

  /** Starts a length-delimited value of unknown length; returns the mark for endLength. */
  int beginLength() {
    ensure(1);
    pos++;
    return pos;
  }

  /** Ends the value begun at {@code mark}, writing its length in front of it. */
  void endLength(int mark) {
    int length = pos - mark;
    int lengthSize = varintSize(length);
    if (lengthSize > 1) {
      ensure(lengthSize - 1);
      System.arraycopy(buf, mark, buf, mark + lengthSize - 1, length);
      pos += lengthSize - 1;
    }
    int at = mark - 1;
    int value = length;
    while ((value & ~0x7F) != 0) {
      buf[at++] = (byte) ((value & 0x7F) | 0x80);
      value >>>= 7;
    }
    buf[at] = (byte) value;
  }

  private static int varintSize(int value) {
    int size = 1;
    while ((value & ~0x7F) != 0) {
      size++;
      value >>>= 7;
    }
    return size;
  }

  /** Whether every byte written since {@code mark} is zero. */
  boolean allZeroSince(int mark) {
    for (int i = mark; i < pos; i++) {
      if (buf[i] != 0) {
        return false;
      }
    }
    return true;
  }

  /** Appends what another writer holds. */
  void append(byte[] bytes) {
    ensure(bytes.length);
    System.arraycopy(bytes, 0, buf, pos, bytes.length);
    pos += bytes.length;
  }
}
