package io.meshgate.transcoder;

import com.google.gson.stream.JsonToken;
import com.google.protobuf.Descriptors.EnumValueDescriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import java.io.IOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.Locale;

/**
 * Reads JSON scalars into protobuf wire values: strings, base64 bytes, bools, enum names or
 * numbers, and every integer and floating type in any form JSON allows (numbers, numbers as
 * strings, {@code 1e3}, {@code "NaN"}), range-checked. Stateless.
 */
final class JsonScalars {
  static final BigInteger UINT64_MAX = BigInteger.ONE.shiftLeft(64).subtract(BigInteger.ONE);

  private JsonScalars() {}

  /** A scalar or enum value, untagged. */
  static void scalarValue(JsonCursor c, FieldDescriptor field, ProtoWriter out)
      throws IOException, TranscodingException {
    JsonToken token = c.in().peek();
    switch (field.getType()) {
      case STRING -> {
        if (token != JsonToken.STRING) {
          throw c.error("expected a string, got " + c.describe(token));
        }
        out.string(c.in().nextString());
      }
      case BYTES -> {
        if (token != JsonToken.STRING) {
          throw c.error("expected base64 bytes (a string), got " + c.describe(token));
        }
        String text = c.in().nextString();
        out.bytes(base64(c, text));
      }
      case BOOL -> {
        if (token == JsonToken.BOOLEAN) {
          out.varint(c.in().nextBoolean() ? 1 : 0);
        } else if (token == JsonToken.STRING) {
          String text = c.in().nextString();
          if (!text.equals("true") && !text.equals("false")) {
            throw c.error("\"" + text + "\" is not a bool (true or false)");
          }
          out.varint(text.equals("true") ? 1 : 0);
        } else {
          throw c.error("expected a bool (true or false), got " + c.describe(token));
        }
      }
      case ENUM -> out.int32(enumNumber(c, field, token));
      default -> {
        if (token != JsonToken.NUMBER && token != JsonToken.STRING) {
          throw c.error("expected " + JsonToProto.article(typeName(field.getType())) + ", got "
              + c.describe(token));
        }
        String text = c.in().nextString();
        if (token == JsonToken.STRING) {
          text = text.strip();
        }
        writeNumber(c, field.getType(), text, out);
      }
    }
  }

  static int enumNumber(JsonCursor c, FieldDescriptor field, JsonToken token)
      throws IOException, TranscodingException {
    if (field.getEnumType().getFullName().equals("google.protobuf.NullValue")
        && token == JsonToken.NULL) {
      c.in().nextNull();
      return 0;
    }
    if (token == JsonToken.STRING) {
      String name = c.in().nextString();
      EnumValueDescriptor value = field.getEnumType().findValueByName(name);
      if (value != null) {
        return value.getNumber();
      }
      try {
        return enumByNumber(c, field, Integer.parseInt(name), name);
      } catch (NumberFormatException notNumber) {
        throw c.error("\"" + name + "\" is not one of " + Enums.names(field.getEnumType()));
      }
    }
    if (token == JsonToken.NUMBER) {
      String text = c.in().nextString();
      int number = (int) integer(c, text, Integer.MIN_VALUE, Integer.MAX_VALUE, "an enum number");
      return enumByNumber(c, field, number, text);
    }
    throw c.error("expected one of " + Enums.names(field.getEnumType()) + ", got "
        + c.describe(token));
  }

  static int enumByNumber(JsonCursor c, FieldDescriptor field, int number, String text)
      throws TranscodingException {
    if (field.getEnumType().findValueByNumber(number) == null
        && field.getEnumType().isClosed()) {
      throw c.error(text + " is not one of " + Enums.names(field.getEnumType()));
    }
    return number;
  }

  static byte[] base64(JsonCursor c, String text) throws TranscodingException {
    try {
      return Base64Bytes.decode(text);
    } catch (IllegalArgumentException e) {
      throw c.error("\"" + JsonToProto.abbreviate(text) + "\" is not base64 or base64url bytes");
    }
  }

  static void writeNumber(JsonCursor c, FieldDescriptor.Type type, String text, ProtoWriter out)
      throws TranscodingException {
    switch (type) {
      case INT32 -> out.int32((int) integer(c, text, Integer.MIN_VALUE, Integer.MAX_VALUE,
          "an int32"));
      case SINT32 -> {
        int v = (int) integer(c, text, Integer.MIN_VALUE, Integer.MAX_VALUE, "an sint32");
        out.varint((v << 1) ^ (v >> 31));
      }
      case SFIXED32 -> out.fixed32((int) integer(c, text, Integer.MIN_VALUE, Integer.MAX_VALUE,
          "an sfixed32"));
      case UINT32 -> out.varint((int) integer(c, text, 0, 0xFFFFFFFFL, "a uint32"));
      case FIXED32 -> out.fixed32((int) integer(c, text, 0, 0xFFFFFFFFL, "a fixed32"));
      case INT64 -> out.varint64(integer(c, text, Long.MIN_VALUE, Long.MAX_VALUE, "an int64"));
      case SINT64 -> {
        long v = integer(c, text, Long.MIN_VALUE, Long.MAX_VALUE, "an sint64");
        out.varint64((v << 1) ^ (v >> 63));
      }
      case SFIXED64 -> out.fixed64(integer(c, text, Long.MIN_VALUE, Long.MAX_VALUE,
          "an sfixed64"));
      case UINT64 -> out.varint64(unsigned64(c, text, "a uint64"));
      case FIXED64 -> out.fixed64(unsigned64(c, text, "a fixed64"));
      case FLOAT -> out.fixed32(Float.floatToRawIntBits((float) floating(c, text, true)));
      case DOUBLE -> out.fixed64(Double.doubleToRawLongBits(floating(c, text, false)));
      default -> throw new IllegalStateException("not a number type: " + type);
    }
  }

  static long integer(JsonCursor c, String text, long min, long max, String what)
      throws TranscodingException {
    long value;
    try {
      value = Long.parseLong(text);
    } catch (NumberFormatException e) {
      BigInteger exact = exactInteger(c, text, what);
      if (exact.bitLength() > 63) {
        throw c.error(JsonToProto.abbreviate(text) + " is out of range for " + what);
      }
      value = exact.longValue();
    }
    if (value < min || value > max) {
      throw c.error(JsonToProto.abbreviate(text) + " is out of range for " + what);
    }
    return value;
  }

  static long unsigned64(JsonCursor c, String text, String what) throws TranscodingException {
    BigInteger value;
    try {
      return Long.parseLong(text) >= 0 ? Long.parseLong(text) : failNegative(c, text, what);
    } catch (NumberFormatException e) {
      value = exactInteger(c, text, what);
    }
    if (value.signum() < 0 || value.compareTo(JsonScalars.UINT64_MAX) > 0) {
      throw c.error(JsonToProto.abbreviate(text) + " is out of range for " + what);
    }
    return value.longValue();
  }

  static long failNegative(JsonCursor c, String text, String what) throws TranscodingException {
    throw c.error(JsonToProto.abbreviate(text) + " is out of range for " + what);
  }

  /** An integral value written any way JSON allows (1, 1.0, 1e3, "12"), bounded in size. */
  static BigInteger exactInteger(JsonCursor c, String text, String what)
      throws TranscodingException {
    if (!JsonToProto.isJsonNumber(text)) {
      throw c.error("\"" + JsonToProto.abbreviate(text) + "\" is not " + what);
    }
    BigDecimal decimal = new BigDecimal(text);
    // Refuse 1e1000000000 and the like before they cost anything.
    if (decimal.precision() - decimal.scale() > 40) {
      throw c.error(JsonToProto.abbreviate(text) + " is out of range for " + what);
    }
    if (decimal.scale() > 400) {
      throw c.error(JsonToProto.abbreviate(text) + " is not " + what + " (it has a fraction)");
    }
    try {
      return decimal.toBigIntegerExact();
    } catch (ArithmeticException e) {
      throw c.error(JsonToProto.abbreviate(text) + " is not " + what + " (it has a fraction)");
    }
  }

  /** A float or double: a JSON number, or "NaN", "Infinity", "-Infinity". */
  static double floating(JsonCursor c, String text, boolean single) throws TranscodingException {
    String what = single ? "a float" : "a double";
    double value;
    switch (text) {
      case "NaN" -> value = Double.NaN;
      case "Infinity" -> value = Double.POSITIVE_INFINITY;
      case "-Infinity" -> value = Double.NEGATIVE_INFINITY;
      default -> {
        if (!JsonToProto.isJsonNumber(text)) {
          throw c.error("\"" + JsonToProto.abbreviate(text) + "\" is not " + what
              + " (a number, \"NaN\", \"Infinity\" or \"-Infinity\")");
        }
        value = Double.parseDouble(text);
        if (Double.isInfinite(value)
            || (single && Math.abs(value) > Float.MAX_VALUE * (1.0 + 1e-6))) {
          throw c.error(JsonToProto.abbreviate(text) + " is out of range for " + what);
        }
      }
    }
    return single ? (float) value : value;
  }

  static String typeName(FieldDescriptor.Type type) {
    return type.name().toLowerCase(Locale.ROOT);
  }
}
