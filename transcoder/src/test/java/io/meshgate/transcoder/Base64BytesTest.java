package io.meshgate.transcoder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class Base64BytesTest {
  private static final byte[] BYTES = {(byte) 0xfb, (byte) 0xff, (byte) 0xbf, 0x01};

  @Test
  void readsBase64AndBase64UrlWithOrWithoutPadding() {
    assertArrayEquals(BYTES, Base64Bytes.decode("+/+/AQ=="));
    assertArrayEquals(BYTES, Base64Bytes.decode("+/+/AQ"));
    assertArrayEquals(BYTES, Base64Bytes.decode("-_-_AQ=="));
    assertArrayEquals(BYTES, Base64Bytes.decode("-_-_AQ"));
  }

  @Test
  void refusesMixedAlphabetsAndOtherText() {
    assertThrows(IllegalArgumentException.class, () -> Base64Bytes.decode("+_-/AQ"));
    assertThrows(IllegalArgumentException.class, () -> Base64Bytes.decode("not base64!"));
  }
}
