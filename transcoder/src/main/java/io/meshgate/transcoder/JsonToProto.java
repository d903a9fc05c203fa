package io.meshgate.transcoder;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.EnumValueDescriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Descriptors.OneofDescriptor;
import com.google.protobuf.Duration;
import com.google.protobuf.Timestamp;
import com.google.protobuf.util.Durations;
import com.google.protobuf.util.Timestamps;
import java.io.IOException;
import java.io.StringReader;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.text.ParseException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Reads protobuf's canonical JSON straight into protobuf wire format, with no message tree in
 * between: one pass of a streaming JSON reader over the descriptors. Accepts what
 * {@code protobuf-java-util}'s parser accepts (lowerCamel and original field names, numbers as
 * strings, enum names or numbers, base64 or base64url bytes, the well-known types' JSON forms,
 * {@code Any} resolved through the pool) and names the field at fault when it fails: {@code
 * field 'items[2].quantity': "lots" is not an int32}. Thread-safe (state is per call).
 */
final class JsonToProto {
  /** Deepest message nesting accepted, as protobuf's own parsers. */
  static final int MAX_DEPTH = 100;

  private static final BigInteger UINT64_MAX = BigInteger.ONE.shiftLeft(64).subtract(BigInteger.ONE);

  private final DescriptorPool pool;
  private final Map<Descriptor, Map<String, FieldDescriptor>> names = new ConcurrentHashMap<>();

  JsonToProto(DescriptorPool pool) {
    this.pool = pool;
  }

  /** A JSON reader over text: strict RFC 8259, nesting bounded. */
  static JsonReader reader(String json) {
    JsonReader reader = new JsonReader(new StringReader(json));
    reader.setStrictness(Strictness.STRICT);
    reader.setNestingLimit(2 * MAX_DEPTH + 10);
    return reader;
  }

  /**
   * Reads one message of {@code type} (the reader's next value) into {@code out}.
   *
   * @throws TranscodingException naming the field and what was wrong
   */
  void message(JsonReader in, Descriptor type, ProtoWriter out) throws TranscodingException {
    Call call = new Call(in);
    try {
      call.message(type, out, 0);
    } catch (IOException | IllegalStateException | JsonParseException | NumberFormatException e) {
      throw call.malformed(e);
    }
  }

  /**
   * Reads the value of one field (the reader's next value: a scalar, an array for a repeated
   * field, an object for a map or message) into {@code out}, tagged as that field.
   */
  void field(JsonReader in, FieldDescriptor field, ProtoWriter out)
      throws TranscodingException {
    Call call = new Call(in);
    try {
      call.push(field.getJsonName());
      call.fieldValue(field, out, 0);
    } catch (IOException | IllegalStateException | JsonParseException | NumberFormatException e) {
      throw call.malformed(e);
    }
  }

  private Map<String, FieldDescriptor> names(Descriptor type) {
    return names.computeIfAbsent(type, t -> {
      Map<String, FieldDescriptor> byName = new HashMap<>();
      for (FieldDescriptor field : t.getFields()) {
        byName.put(field.getName(), field);
        byName.put(field.getJsonName(), field);
      }
      return byName;
    });
  }

  /** One parse: the reader and where in the document it is, for error messages. */
  private final class Call {
    private static final String INDEX = "[]";

    private final JsonReader in;
    // The path: field names and map keys, or INDEX for an array element whose index is in
    // indices. No string is built per element; where() builds one only for an error.
    private String[] names = new String[16];
    private int[] indices = new int[16];
    private int depth;

    Call(JsonReader in) {
      this.in = in;
    }

    void push(String segment) {
      if (depth == names.length) {
        names = java.util.Arrays.copyOf(names, depth * 2);
        indices = java.util.Arrays.copyOf(indices, depth * 2);
      }
      names[depth++] = segment;
    }

    void pushIndex(int index) {
      push(INDEX);
      indices[depth - 1] = index;
    }

    void pop() {
      depth--;
    }

    private String where() {
      StringBuilder sb = new StringBuilder();
      for (int i = 0; i < depth; i++) {
        String segment = names[i];
        if (segment == INDEX) {
          sb.append('[').append(indices[i]).append(']');
        } else if (segment.startsWith("[")) {
          sb.append(segment);
        } else {
          sb.append(sb.length() > 0 ? "." : "").append(segment);
        }
      }
      // A deep path keeps its end, where the problem is.
      return sb.length() <= 160 ? sb.toString()
          : "..." + sb.substring(sb.indexOf(".", sb.length() - 150) + 1);
    }

    TranscodingException error(String problem) {
      return TranscodingException.badRequest(
          (depth == 0 ? "" : "field '" + where() + "': ") + problem);
    }

    TranscodingException malformed(Exception e) {
      return TranscodingException.badRequest("invalid JSON body: " + JsonToProto.describe(e));
    }

    private String describe(JsonToken token) {
      return switch (token) {
        case BEGIN_ARRAY -> "an array";
        case BEGIN_OBJECT -> "an object";
        case STRING -> "a string";
        case NUMBER -> "a number";
        case BOOLEAN -> "a boolean";
        case NULL -> "null";
        default -> token.name().toLowerCase(Locale.ROOT);
      };
    }

    // ---- Messages -----------------------------------------------------------------------

    void message(Descriptor type, ProtoWriter out, int depth)
        throws IOException, TranscodingException {
      if (depth > MAX_DEPTH) {
        throw error("messages nested more than " + MAX_DEPTH + " deep");
      }
      WellKnown kind = WellKnown.of(type);
      if (kind != WellKnown.NONE) {
        wellKnown(kind, type, out, depth);
        return;
      }
      JsonToken token = in.peek();
      if (token != JsonToken.BEGIN_OBJECT) {
        throw error("expected an object (a " + type.getFullName() + "), got " + describe(token));
      }
      in.beginObject();
      Map<String, FieldDescriptor> byName = names(type);
      long seenSmall = 0;
      boolean[] seen = type.getFields().size() > 64 ? new boolean[type.getFields().size()] : null;
      FieldDescriptor[] oneofs = type.getOneofs().isEmpty() ? null
          : new FieldDescriptor[type.getOneofs().size()];
      while (in.hasNext()) {
        String name = in.nextName();
        FieldDescriptor field = byName.get(name);
        if (field == null) {
          push(name);
          throw error("unknown field (" + type.getFullName() + " has no field '" + name
              + "'; its fields are " + fieldList(type) + ")");
        }
        int index = field.getIndex();
        boolean twice = seen == null ? (seenSmall & (1L << index)) != 0 : seen[index];
        push(name);
        if (twice) {
          throw error("given twice");
        }
        if (seen == null) {
          seenSmall |= 1L << index;
        } else {
          seen[index] = true;
        }
        if (in.peek() == JsonToken.NULL && !acceptsNull(field)) {
          // null means "not set", except where JSON null is a value.
          in.nextNull();
          pop();
          continue;
        }
        OneofDescriptor oneof = field.getRealContainingOneof();
        if (oneof != null) {
          FieldDescriptor earlier = oneofs[oneof.getIndex()];
          if (earlier != null) {
            throw error("'" + earlier.getJsonName() + "' and '" + field.getJsonName()
                + "' are both set, but they are in the same oneof '" + oneof.getName() + "'");
          }
          oneofs[oneof.getIndex()] = field;
        }
        fieldValue(field, out, depth);
        pop();
      }
      in.endObject();
    }

    private String fieldList(Descriptor type) {
      List<String> fields = new ArrayList<>();
      for (FieldDescriptor field : type.getFields()) {
        fields.add(field.getJsonName());
        if (fields.size() == 12) {
          fields.add("...");
          break;
        }
      }
      return fields.isEmpty() ? "none" : String.join(", ", fields);
    }

    private boolean acceptsNull(FieldDescriptor field) {
      if (field.isRepeated()) {
        return false;
      }
      if (field.getType() == FieldDescriptor.Type.MESSAGE) {
        return field.getMessageType().getFullName().equals("google.protobuf.Value");
      }
      return field.getType() == FieldDescriptor.Type.ENUM
          && field.getEnumType().getFullName().equals("google.protobuf.NullValue");
    }

    /** A field's value (a whole array or map for repeated fields), tagged. */
    void fieldValue(FieldDescriptor field, ProtoWriter out, int depth)
        throws IOException, TranscodingException {
      if (field.isMapField()) {
        map(field, out, depth);
      } else if (field.isRepeated()) {
        array(field, out, depth);
      } else {
        single(field, out, depth, !field.hasPresence());
      }
    }

    private void array(FieldDescriptor field, ProtoWriter out, int depth)
        throws IOException, TranscodingException {
      JsonToken token = in.peek();
      if (token == JsonToken.NULL) {
        in.nextNull();
        return;
      }
      if (token != JsonToken.BEGIN_ARRAY) {
        throw error("expected an array, got " + describe(token));
      }
      in.beginArray();
      boolean packed = field.isPacked();
      int start = out.size();
      int mark = 0;
      if (packed) {
        out.tag(field.getNumber(), ProtoWriter.LEN);
        mark = out.beginLength();
      }
      for (int i = 0; in.hasNext(); i++) {
        pushIndex(i);
        if (in.peek() == JsonToken.NULL
            && !(field.getType() == FieldDescriptor.Type.MESSAGE
                && field.getMessageType().getFullName().equals("google.protobuf.Value"))) {
          throw error("null is not allowed in a repeated field");
        }
        if (packed) {
          scalarValue(field, out);
        } else {
          single(field, out, depth, false);
        }
        pop();
      }
      in.endArray();
      if (packed) {
        if (out.size() == mark) {
          out.truncate(start); // no elements: no field, as a serializer writes it
        } else {
          out.endLength(mark);
        }
      }
    }

    private void map(FieldDescriptor field, ProtoWriter out, int depth)
        throws IOException, TranscodingException {
      JsonToken token = in.peek();
      if (token == JsonToken.NULL) {
        in.nextNull();
        return;
      }
      if (token != JsonToken.BEGIN_OBJECT) {
        throw error("expected an object (a map), got " + describe(token));
      }
      Descriptor entry = field.getMessageType();
      FieldDescriptor keyField = entry.findFieldByNumber(1);
      FieldDescriptor valueField = entry.findFieldByNumber(2);
      in.beginObject();
      java.util.Set<String> keys = new java.util.HashSet<>();
      while (in.hasNext()) {
        String key = in.nextName();
        push("[\"" + key + "\"]");
        if (!keys.add(key)) {
          throw error("map key given twice");
        }
        out.tag(field.getNumber(), ProtoWriter.LEN);
        int mark = out.beginLength();
        mapKey(keyField, key, out);
        if (in.peek() == JsonToken.NULL && !acceptsNull(valueField)) {
          throw error("a map value cannot be null");
        }
        single(valueField, out, depth, false);
        out.endLength(mark);
        pop();
      }
      in.endObject();
    }

    private void mapKey(FieldDescriptor keyField, String key, ProtoWriter out)
        throws TranscodingException {
      out.tag(1, wireType(keyField));
      switch (keyField.getType()) {
        case STRING -> out.string(key);
        case BOOL -> {
          if (!key.equals("true") && !key.equals("false")) {
            throw error("map key '" + key + "' is not a bool (true or false)");
          }
          out.varint(key.equals("true") ? 1 : 0);
        }
        default -> writeNumber(keyField.getType(), key, out);
      }
    }

    /** A singular value, tagged; with {@code skipDefault}, a default value is not written. */
    private void single(FieldDescriptor field, ProtoWriter out, int depth, boolean skipDefault)
        throws IOException, TranscodingException {
      if (field.getJavaType() == FieldDescriptor.JavaType.MESSAGE) {
        out.tag(field.getNumber(), ProtoWriter.LEN);
        int mark = out.beginLength();
        message(field.getMessageType(), out, depth + 1);
        out.endLength(mark);
        return;
      }
      int start = out.size();
      out.tag(field.getNumber(), wireType(field));
      int valueStart = out.size();
      scalarValue(field, out);
      if (skipDefault && isDefault(out, valueStart, field)) {
        out.truncate(start);
      }
    }

    /**
     * Whether the value just written is the type's default: a zero varint, all-zero fixed bytes
     * (so -0.0 is kept, as protobuf keeps it) or a zero length.
     */
    private boolean isDefault(ProtoWriter out, int valueStart, FieldDescriptor field) {
      return out.allZeroSince(valueStart);
    }

    // ---- Scalars ------------------------------------------------------------------------

    /** A scalar or enum value, untagged. */
    void scalarValue(FieldDescriptor field, ProtoWriter out)
        throws IOException, TranscodingException {
      JsonToken token = in.peek();
      switch (field.getType()) {
        case STRING -> {
          if (token != JsonToken.STRING) {
            throw error("expected a string, got " + describe(token));
          }
          out.string(in.nextString());
        }
        case BYTES -> {
          if (token != JsonToken.STRING) {
            throw error("expected base64 bytes (a string), got " + describe(token));
          }
          String text = in.nextString();
          out.bytes(base64(text));
        }
        case BOOL -> {
          if (token == JsonToken.BOOLEAN) {
            out.varint(in.nextBoolean() ? 1 : 0);
          } else if (token == JsonToken.STRING) {
            String text = in.nextString();
            if (!text.equals("true") && !text.equals("false")) {
              throw error("\"" + text + "\" is not a bool (true or false)");
            }
            out.varint(text.equals("true") ? 1 : 0);
          } else {
            throw error("expected a bool (true or false), got " + describe(token));
          }
        }
        case ENUM -> out.int32(enumNumber(field, token));
        default -> {
          if (token != JsonToken.NUMBER && token != JsonToken.STRING) {
            throw error("expected " + article(typeName(field.getType())) + ", got "
                + describe(token));
          }
          String text = in.nextString();
          if (token == JsonToken.STRING) {
            text = text.strip();
          }
          writeNumber(field.getType(), text, out);
        }
      }
    }

    private int enumNumber(FieldDescriptor field, JsonToken token)
        throws IOException, TranscodingException {
      if (field.getEnumType().getFullName().equals("google.protobuf.NullValue")
          && token == JsonToken.NULL) {
        in.nextNull();
        return 0;
      }
      if (token == JsonToken.STRING) {
        String name = in.nextString();
        EnumValueDescriptor value = field.getEnumType().findValueByName(name);
        if (value != null) {
          return value.getNumber();
        }
        try {
          return enumByNumber(field, Integer.parseInt(name), name);
        } catch (NumberFormatException notNumber) {
          throw error("\"" + name + "\" is not one of " + enumNames(field));
        }
      }
      if (token == JsonToken.NUMBER) {
        String text = in.nextString();
        int number = (int) integer(text, Integer.MIN_VALUE, Integer.MAX_VALUE, "an enum number");
        return enumByNumber(field, number, text);
      }
      throw error("expected one of " + enumNames(field) + ", got " + describe(token));
    }

    private int enumByNumber(FieldDescriptor field, int number, String text)
        throws TranscodingException {
      if (field.getEnumType().findValueByNumber(number) == null
          && field.getEnumType().isClosed()) {
        throw error(text + " is not one of " + enumNames(field));
      }
      return number;
    }

    private String enumNames(FieldDescriptor field) {
      List<String> names = new ArrayList<>();
      for (EnumValueDescriptor value : field.getEnumType().getValues()) {
        names.add(value.getName());
        if (names.size() == 20) {
          names.add("...");
          break;
        }
      }
      return String.join(", ", names);
    }

    private byte[] base64(String text) throws TranscodingException {
      try {
        return (text.indexOf('-') >= 0 || text.indexOf('_') >= 0)
            ? Base64.getUrlDecoder().decode(text) : Base64.getDecoder().decode(text);
      } catch (IllegalArgumentException e) {
        throw error("\"" + abbreviate(text) + "\" is not base64 or base64url bytes");
      }
    }

    private void writeNumber(FieldDescriptor.Type type, String text, ProtoWriter out)
        throws TranscodingException {
      switch (type) {
        case INT32 -> out.int32((int) integer(text, Integer.MIN_VALUE, Integer.MAX_VALUE,
            "an int32"));
        case SINT32 -> {
          int v = (int) integer(text, Integer.MIN_VALUE, Integer.MAX_VALUE, "an sint32");
          out.varint((v << 1) ^ (v >> 31));
        }
        case SFIXED32 -> out.fixed32((int) integer(text, Integer.MIN_VALUE, Integer.MAX_VALUE,
            "an sfixed32"));
        case UINT32 -> out.varint((int) integer(text, 0, 0xFFFFFFFFL, "a uint32"));
        case FIXED32 -> out.fixed32((int) integer(text, 0, 0xFFFFFFFFL, "a fixed32"));
        case INT64 -> out.varint64(integer(text, Long.MIN_VALUE, Long.MAX_VALUE, "an int64"));
        case SINT64 -> {
          long v = integer(text, Long.MIN_VALUE, Long.MAX_VALUE, "an sint64");
          out.varint64((v << 1) ^ (v >> 63));
        }
        case SFIXED64 -> out.fixed64(integer(text, Long.MIN_VALUE, Long.MAX_VALUE,
            "an sfixed64"));
        case UINT64 -> out.varint64(unsigned64(text, "a uint64"));
        case FIXED64 -> out.fixed64(unsigned64(text, "a fixed64"));
        case FLOAT -> out.fixed32(Float.floatToRawIntBits((float) floating(text, true)));
        case DOUBLE -> out.fixed64(Double.doubleToRawLongBits(floating(text, false)));
        default -> throw new IllegalStateException("not a number type: " + type);
      }
    }

    private long integer(String text, long min, long max, String what)
        throws TranscodingException {
      long value;
      try {
        value = Long.parseLong(text);
      } catch (NumberFormatException e) {
        BigInteger exact = exactInteger(text, what);
        if (exact.bitLength() > 63) {
          throw error(abbreviate(text) + " is out of range for " + what);
        }
        value = exact.longValue();
      }
      if (value < min || value > max) {
        throw error(abbreviate(text) + " is out of range for " + what);
      }
      return value;
    }

    private long unsigned64(String text, String what) throws TranscodingException {
      BigInteger value;
      try {
        return Long.parseLong(text) >= 0 ? Long.parseLong(text) : failNegative(text, what);
      } catch (NumberFormatException e) {
        value = exactInteger(text, what);
      }
      if (value.signum() < 0 || value.compareTo(UINT64_MAX) > 0) {
        throw error(abbreviate(text) + " is out of range for " + what);
      }
      return value.longValue();
    }

    private long failNegative(String text, String what) throws TranscodingException {
      throw error(abbreviate(text) + " is out of range for " + what);
    }

    /** An integral value written any way JSON allows (1, 1.0, 1e3, "12"), bounded in size. */
    private BigInteger exactInteger(String text, String what) throws TranscodingException {
      if (!isJsonNumber(text)) {
        throw error("\"" + abbreviate(text) + "\" is not " + what);
      }
      BigDecimal decimal = new BigDecimal(text);
      // Refuse 1e1000000000 and the like before they cost anything.
      if (decimal.precision() - decimal.scale() > 40) {
        throw error(abbreviate(text) + " is out of range for " + what);
      }
      if (decimal.scale() > 400) {
        throw error(abbreviate(text) + " is not " + what + " (it has a fraction)");
      }
      try {
        return decimal.toBigIntegerExact();
      } catch (ArithmeticException e) {
        throw error(abbreviate(text) + " is not " + what + " (it has a fraction)");
      }
    }

    /** A float or double: a JSON number, or "NaN", "Infinity", "-Infinity". */
    private double floating(String text, boolean single) throws TranscodingException {
      String what = single ? "a float" : "a double";
      double value;
      switch (text) {
        case "NaN" -> value = Double.NaN;
        case "Infinity" -> value = Double.POSITIVE_INFINITY;
        case "-Infinity" -> value = Double.NEGATIVE_INFINITY;
        default -> {
          if (!isJsonNumber(text)) {
            throw error("\"" + abbreviate(text) + "\" is not " + what
                + " (a number, \"NaN\", \"Infinity\" or \"-Infinity\")");
          }
          value = Double.parseDouble(text);
          if (Double.isInfinite(value)
              || (single && Math.abs(value) > Float.MAX_VALUE * (1.0 + 1e-6))) {
            throw error(abbreviate(text) + " is out of range for " + what);
          }
        }
      }
      return single ? (float) value : value;
    }

    private String typeName(FieldDescriptor.Type type) {
      return type.name().toLowerCase(Locale.ROOT);
    }

    // ---- Well-known types ---------------------------------------------------------------

    private void wellKnown(WellKnown kind, Descriptor type, ProtoWriter out, int depth)
        throws IOException, TranscodingException {
      JsonToken token = in.peek();
      switch (kind) {
        case TIMESTAMP -> {
          String text = expectString(token, "an RFC 3339 time, e.g. \"2026-11-24T10:15:30Z\"");
          Timestamp timestamp;
          try {
            timestamp = Timestamps.parse(text);
          } catch (ParseException | IllegalArgumentException e) {
            throw error("\"" + abbreviate(text) + "\" is not an RFC 3339 time, e.g."
                + " \"2026-11-24T10:15:30Z\"");
          }
          secondsAndNanos(timestamp.getSeconds(), timestamp.getNanos(), out);
        }
        case DURATION -> {
          String text = expectString(token, "a duration, e.g. \"1.5s\"");
          Duration duration;
          try {
            duration = Durations.parse(text);
          } catch (ParseException | IllegalArgumentException e) {
            throw error("\"" + abbreviate(text) + "\" is not a duration, e.g. \"1.5s\"");
          }
          secondsAndNanos(duration.getSeconds(), duration.getNanos(), out);
        }
        case FIELD_MASK -> {
          String text = expectString(token, "a field mask, e.g. \"displayName,email\"");
          for (String part : text.split(",")) {
            if (!part.isEmpty()) {
              out.tag(1, ProtoWriter.LEN);
              out.string(snakeCase(part.strip()));
            }
          }
        }
        case WRAPPER -> {
          FieldDescriptor value = type.findFieldByNumber(1);
          if (token == JsonToken.NULL) {
            throw error("expected " + article(typeName(value.getType())) + ", got null");
          }
          single(value, out, depth, true);
        }
        case STRUCT -> struct(out, depth);
        case VALUE -> value(out, depth);
        case LIST_VALUE -> list(out, depth);
        case ANY -> any(out, depth);
        default -> throw new IllegalStateException(kind.name());
      }
    }

    private String expectString(JsonToken token, String expected)
        throws IOException, TranscodingException {
      if (token != JsonToken.STRING) {
        throw error("expected " + expected + ", got " + describe(token));
      }
      return in.nextString();
    }

    private void secondsAndNanos(long seconds, int nanos, ProtoWriter out) {
      if (seconds != 0) {
        out.tag(1, ProtoWriter.VARINT);
        out.varint64(seconds);
      }
      if (nanos != 0) {
        out.tag(2, ProtoWriter.VARINT);
        out.int32(nanos);
      }
    }

    private void struct(ProtoWriter out, int depth) throws IOException, TranscodingException {
      JsonToken token = in.peek();
      if (token != JsonToken.BEGIN_OBJECT) {
        throw error("expected an object (a google.protobuf.Struct), got " + describe(token));
      }
      in.beginObject();
      while (in.hasNext()) {
        String key = in.nextName();
        push(key);
        out.tag(1, ProtoWriter.LEN);
        int entry = out.beginLength();
        out.tag(1, ProtoWriter.LEN);
        out.string(key);
        out.tag(2, ProtoWriter.LEN);
        int value = out.beginLength();
        value(out, depth + 1);
        out.endLength(value);
        out.endLength(entry);
        pop();
      }
      in.endObject();
    }

    private void value(ProtoWriter out, int depth) throws IOException, TranscodingException {
      if (depth > MAX_DEPTH) {
        throw error("values nested more than " + MAX_DEPTH + " deep");
      }
      JsonToken token = in.peek();
      switch (token) {
        case NULL -> {
          in.nextNull();
          out.tag(1, ProtoWriter.VARINT);
          out.varint(0);
        }
        case NUMBER -> {
          out.tag(2, ProtoWriter.FIXED64);
          String text = in.nextString();
          out.fixed64(Double.doubleToRawLongBits(floating(text, false)));
        }
        case STRING -> {
          out.tag(3, ProtoWriter.LEN);
          out.string(in.nextString());
        }
        case BOOLEAN -> {
          out.tag(4, ProtoWriter.VARINT);
          out.varint(in.nextBoolean() ? 1 : 0);
        }
        case BEGIN_OBJECT -> {
          out.tag(5, ProtoWriter.LEN);
          int mark = out.beginLength();
          struct(out, depth + 1);
          out.endLength(mark);
        }
        case BEGIN_ARRAY -> {
          out.tag(6, ProtoWriter.LEN);
          int mark = out.beginLength();
          list(out, depth + 1);
          out.endLength(mark);
        }
        default -> throw error("expected a JSON value, got " + describe(token));
      }
    }

    private void list(ProtoWriter out, int depth) throws IOException, TranscodingException {
      JsonToken token = in.peek();
      if (token != JsonToken.BEGIN_ARRAY) {
        throw error("expected an array (a google.protobuf.ListValue), got " + describe(token));
      }
      in.beginArray();
      for (int i = 0; in.hasNext(); i++) {
        pushIndex(i);
        out.tag(1, ProtoWriter.LEN);
        int mark = out.beginLength();
        value(out, depth + 1);
        out.endLength(mark);
        pop();
      }
      in.endArray();
    }

    /** {@code {"@type": "type.googleapis.com/pkg.Type", ...fields}}, fields in any order. */
    private void any(ProtoWriter out, int depth) throws IOException, TranscodingException {
      JsonToken token = in.peek();
      if (token != JsonToken.BEGIN_OBJECT) {
        throw error("expected an object with \"@type\" (a google.protobuf.Any), got "
            + describe(token));
      }
      JsonObject object = JsonParser.parseReader(in).getAsJsonObject();
      if (object.isEmpty()) {
        return;
      }
      JsonElement typeElement = object.remove("@type");
      if (typeElement == null || !typeElement.isJsonPrimitive()
          || !typeElement.getAsJsonPrimitive().isString()) {
        throw error("a google.protobuf.Any needs \"@type\" (e.g."
            + " \"type.googleapis.com/package.Message\")");
      }
      String url = typeElement.getAsString();
      String typeName = url.substring(url.lastIndexOf('/') + 1);
      Descriptor type = pool.message(typeName);
      if (type == null) {
        type = WellKnownFiles.message(typeName);
      }
      if (type == null) {
        throw error("\"@type\" names " + typeName + ", which the gateway has no descriptor of");
      }
      String inner;
      if (WellKnown.of(type) != WellKnown.NONE) {
        JsonElement value = object.get("value");
        if (value == null || object.size() != 1) {
          throw error("an Any holding " + typeName + " needs exactly \"@type\" and \"value\"");
        }
        inner = value.toString();
      } else {
        inner = object.toString();
      }
      out.tag(1, ProtoWriter.LEN);
      out.string(url);
      out.tag(2, ProtoWriter.LEN);
      int mark = out.beginLength();
      Call nested = new Call(reader(inner));
      for (int i = 0; i < this.depth; i++) {
        nested.push(names[i]);
        nested.indices[i] = indices[i];
      }
      nested.message(type, out, depth + 1);
      out.endLength(mark);
    }
  }

  /** What a JSON reader's exception says, worded for the client rather than a programmer. */
  static String describe(Exception e) {
    String message = e.getMessage() == null ? e.toString() : e.getMessage();
    message = message.replaceFirst("^(java\\.[a-z.]+\\.|com\\.google\\.[a-z.]+\\.)?"
        + "[A-Za-z]+(Exception|Error): ", "")
        .replace("Use JsonReader.setStrictness(Strictness.LENIENT) to accept malformed JSON",
            "malformed JSON")
        .replaceFirst("Nesting limit \\d+ reached", "JSON nested too deeply");
    int see = message.indexOf("\nSee https://");
    if (see >= 0) {
      message = message.substring(0, see);
    }
    return message.length() <= 300 ? message : message.substring(0, 296) + "...";
  }

  /** {@code displayName} → {@code display_name}, as FieldMask's JSON form says. */
  static String snakeCase(String camel) {
    StringBuilder sb = new StringBuilder(camel.length() + 4);
    for (int i = 0; i < camel.length(); i++) {
      char c = camel.charAt(i);
      if (c >= 'A' && c <= 'Z') {
        sb.append('_').append((char) (c + ('a' - 'A')));
      } else {
        sb.append(c);
      }
    }
    return sb.toString();
  }

  static int wireType(FieldDescriptor field) {
    return switch (field.getType()) {
      case DOUBLE, FIXED64, SFIXED64 -> ProtoWriter.FIXED64;
      case FLOAT, FIXED32, SFIXED32 -> ProtoWriter.FIXED32;
      case STRING, BYTES, MESSAGE -> ProtoWriter.LEN;
      case GROUP -> 3;
      default -> ProtoWriter.VARINT;
    };
  }

  static String article(String noun) {
    return ("aeiou".indexOf(noun.charAt(0)) >= 0 ? "an " : "a ") + noun;
  }

  static String abbreviate(String text) {
    return text.length() <= 64 ? text : text.substring(0, 60) + "...";
  }

  /** Whether {@code text} is a number as RFC 8259 writes one. */
  static boolean isJsonNumber(String text) {
    int i = 0;
    int n = text.length();
    if (i < n && text.charAt(i) == '-') {
      i++;
    }
    if (i >= n) {
      return false;
    }
    if (text.charAt(i) == '0') {
      i++;
    } else if (text.charAt(i) >= '1' && text.charAt(i) <= '9') {
      while (i < n && Character.isDigit(text.charAt(i)) && text.charAt(i) < 128) {
        i++;
      }
    } else {
      return false;
    }
    if (i < n && text.charAt(i) == '.') {
      i++;
      int digits = i;
      while (i < n && text.charAt(i) >= '0' && text.charAt(i) <= '9') {
        i++;
      }
      if (i == digits) {
        return false;
      }
    }
    if (i < n && (text.charAt(i) == 'e' || text.charAt(i) == 'E')) {
      i++;
      if (i < n && (text.charAt(i) == '+' || text.charAt(i) == '-')) {
        i++;
      }
      int digits = i;
      while (i < n && text.charAt(i) >= '0' && text.charAt(i) <= '9') {
        i++;
      }
      if (i == digits) {
        return false;
      }
    }
    return i == n;
  }
}
