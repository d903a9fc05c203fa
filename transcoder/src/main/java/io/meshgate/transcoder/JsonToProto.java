package io.meshgate.transcoder;

import com.google.gson.JsonParseException;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Descriptors.OneofDescriptor;
import java.io.IOException;
import java.io.StringReader;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Reads protobuf's canonical JSON straight into protobuf wire format, with no message tree in
 * between: one pass of a streaming JSON reader over the descriptors. Accepts what
 * {@code protobuf-java-util}'s parser accepts (lowerCamel and original field names, numbers as
 * strings, enum names or numbers, base64 or base64url bytes, the well-known types' JSON forms,
 * {@code Any} resolved through the pool) and names the field at fault when it fails: {@code
 * field 'items[2].quantity': "lots" is not an int32}. Thread-safe (state is per call, in a
 * {@link JsonCursor}).
 *
 * <p>This class reads messages, repeated fields and maps; {@link JsonScalars} reads scalar
 * values and {@link JsonWellKnown} the well-known types.
 */
final class JsonToProto {
  /** Deepest message nesting accepted, as protobuf's own parsers. */
  static final int MAX_DEPTH = 100;

  private final JsonWellKnown wellKnownTypes;
  private final Map<Descriptor, Map<String, FieldDescriptor>> names = new ConcurrentHashMap<>();

  JsonToProto(DescriptorPool pool) {
    this.wellKnownTypes = new JsonWellKnown(this, pool);
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
    JsonCursor c = new JsonCursor(in);
    try {
      message(c, type, out, 0);
    } catch (IOException | IllegalStateException | JsonParseException | NumberFormatException e) {
      throw c.malformed(e);
    }
  }

  /**
   * Reads the value of one field (the reader's next value: a scalar, an array for a repeated
   * field, an object for a map or message) into {@code out}, tagged as that field.
   */
  void field(JsonReader in, FieldDescriptor field, ProtoWriter out)
      throws TranscodingException {
    JsonCursor c = new JsonCursor(in);
    try {
      c.push(field.getJsonName());
      fieldValue(c, field, out, 0);
    } catch (IOException | IllegalStateException | JsonParseException | NumberFormatException e) {
      throw c.malformed(e);
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

  // ---- Messages ---------------------------------------------------------------------------

  /** Reads one message of {@code type}, the cursor's next value. */
  void message(JsonCursor c, Descriptor type, ProtoWriter out, int depth)
      throws IOException, TranscodingException {
    if (depth > MAX_DEPTH) {
      throw c.error("messages nested more than " + MAX_DEPTH + " deep");
    }
    WellKnown kind = WellKnown.of(type);
    if (kind != WellKnown.NONE) {
      wellKnownTypes.read(c, kind, type, out, depth);
      return;
    }
    JsonToken token = c.in().peek();
    if (token != JsonToken.BEGIN_OBJECT) {
      throw c.error("expected an object (a " + type.getFullName() + "), got " + c.describe(token));
    }
    c.in().beginObject();
    Map<String, FieldDescriptor> byName = names(type);
    long seenSmall = 0;
    boolean[] seen = type.getFields().size() > 64 ? new boolean[type.getFields().size()] : null;
    FieldDescriptor[] oneofs = type.getOneofs().isEmpty() ? null
        : new FieldDescriptor[type.getOneofs().size()];
    while (c.in().hasNext()) {
      String name = c.in().nextName();
      FieldDescriptor field = byName.get(name);
      if (field == null) {
        c.push(name);
        throw c.error("unknown field (" + type.getFullName() + " has no field '" + name
            + "'; its fields are " + fieldList(type) + ")");
      }
      int index = field.getIndex();
      boolean twice = seen == null ? (seenSmall & (1L << index)) != 0 : seen[index];
      c.push(name);
      if (twice) {
        throw c.error("given twice");
      }
      if (seen == null) {
        seenSmall |= 1L << index;
      } else {
        seen[index] = true;
      }
      if (c.in().peek() == JsonToken.NULL && !acceptsNull(field)) {
        // null means "not set", except where JSON null is a value.
        c.in().nextNull();
        c.pop();
        continue;
      }
      OneofDescriptor oneof = field.getRealContainingOneof();
      if (oneof != null) {
        FieldDescriptor earlier = oneofs[oneof.getIndex()];
        if (earlier != null) {
          throw c.error("'" + earlier.getJsonName() + "' and '" + field.getJsonName()
              + "' are both set, but they are in the same oneof '" + oneof.getName() + "'");
        }
        oneofs[oneof.getIndex()] = field;
      }
      fieldValue(c, field, out, depth);
      c.pop();
    }
    c.in().endObject();
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
  void fieldValue(JsonCursor c, FieldDescriptor field, ProtoWriter out, int depth)
      throws IOException, TranscodingException {
    if (field.isMapField()) {
      map(c, field, out, depth);
    } else if (field.isRepeated()) {
      array(c, field, out, depth);
    } else {
      single(c, field, out, depth, !field.hasPresence());
    }
  }

  private void array(JsonCursor c, FieldDescriptor field, ProtoWriter out, int depth)
      throws IOException, TranscodingException {
    JsonToken token = c.in().peek();
    if (token == JsonToken.NULL) {
      c.in().nextNull();
      return;
    }
    if (token != JsonToken.BEGIN_ARRAY) {
      throw c.error("expected an array, got " + c.describe(token));
    }
    c.in().beginArray();
    boolean packed = field.isPacked();
    int start = out.size();
    int mark = 0;
    if (packed) {
      out.tag(field.getNumber(), ProtoWriter.LEN);
      mark = out.beginLength();
    }
    for (int i = 0; c.in().hasNext(); i++) {
      c.pushIndex(i);
      if (c.in().peek() == JsonToken.NULL
          && !(field.getType() == FieldDescriptor.Type.MESSAGE
              && field.getMessageType().getFullName().equals("google.protobuf.Value"))) {
        throw c.error("null is not allowed in a repeated field");
      }
      if (packed) {
        JsonScalars.scalarValue(c, field, out);
      } else {
        single(c, field, out, depth, false);
      }
      c.pop();
    }
    c.in().endArray();
    if (packed) {
      if (out.size() == mark) {
        out.truncate(start); // no elements: no field, as a serializer writes it
      } else {
        out.endLength(mark);
      }
    }
  }

  private void map(JsonCursor c, FieldDescriptor field, ProtoWriter out, int depth)
      throws IOException, TranscodingException {
    JsonToken token = c.in().peek();
    if (token == JsonToken.NULL) {
      c.in().nextNull();
      return;
    }
    if (token != JsonToken.BEGIN_OBJECT) {
      throw c.error("expected an object (a map), got " + c.describe(token));
    }
    Descriptor entry = field.getMessageType();
    FieldDescriptor keyField = entry.findFieldByNumber(1);
    FieldDescriptor valueField = entry.findFieldByNumber(2);
    c.in().beginObject();
    java.util.Set<String> keys = new java.util.HashSet<>();
    while (c.in().hasNext()) {
      String key = c.in().nextName();
      c.push("[\"" + key + "\"]");
      if (!keys.add(key)) {
        throw c.error("map key given twice");
      }
      out.tag(field.getNumber(), ProtoWriter.LEN);
      int mark = out.beginLength();
      mapKey(c, keyField, key, out);
      if (c.in().peek() == JsonToken.NULL && !acceptsNull(valueField)) {
        throw c.error("a map value cannot be null");
      }
      single(c, valueField, out, depth, false);
      out.endLength(mark);
      c.pop();
    }
    c.in().endObject();
  }

  private void mapKey(JsonCursor c, FieldDescriptor keyField, String key, ProtoWriter out)
      throws TranscodingException {
    out.tag(1, wireType(keyField));
    switch (keyField.getType()) {
      case STRING -> out.string(key);
      case BOOL -> {
        if (!key.equals("true") && !key.equals("false")) {
          throw c.error("map key '" + key + "' is not a bool (true or false)");
        }
        out.varint(key.equals("true") ? 1 : 0);
      }
      default -> JsonScalars.writeNumber(c, keyField.getType(), key, out);
    }
  }

  /** A singular value, tagged; with {@code skipDefault}, a default value is not written. */
  void single(JsonCursor c, FieldDescriptor field, ProtoWriter out, int depth, boolean skipDefault)
      throws IOException, TranscodingException {
    if (field.getJavaType() == FieldDescriptor.JavaType.MESSAGE) {
      out.tag(field.getNumber(), ProtoWriter.LEN);
      int mark = out.beginLength();
      message(c, field.getMessageType(), out, depth + 1);
      out.endLength(mark);
      return;
    }
    int start = out.size();
    out.tag(field.getNumber(), wireType(field));
    int valueStart = out.size();
    JsonScalars.scalarValue(c, field, out);
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
