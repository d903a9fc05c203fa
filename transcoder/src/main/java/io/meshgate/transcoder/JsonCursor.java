package io.meshgate.transcoder;

import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import java.util.Arrays;
import java.util.Locale;

/**
 * One parse of a JSON document: the streaming reader and where in the document it is (field
 * names, map keys and array indices), so that an error names the field at fault:
 * {@code field 'items[2].quantity': "lots" is not an int32}. No string is built per element;
 * the path text is made only for an error. Confined to the parse's thread.
 */
final class JsonCursor {
  private static final String INDEX = "[]";

  private final JsonReader in;
  // The path: field names and map keys, or INDEX for an array element whose index is in
  // indices.
  private String[] names = new String[16];
  private int[] indices = new int[16];
  private int size;

  JsonCursor(JsonReader in) {
    this.in = in;
  }

  /** A cursor over another document (an {@code Any}'s value) that continues this one's path. */
  JsonCursor nested(JsonReader other) {
    JsonCursor nested = new JsonCursor(other);
    nested.names = Arrays.copyOf(names, names.length);
    nested.indices = Arrays.copyOf(indices, indices.length);
    nested.size = size;
    return nested;
  }

  JsonReader in() {
    return in;
  }

  /** Enters a field or a map key ({@code ["key"]}). */
  void push(String segment) {
    if (size == names.length) {
      names = Arrays.copyOf(names, size * 2);
      indices = Arrays.copyOf(indices, size * 2);
    }
    names[size++] = segment;
  }

  /** Enters an array element. */
  void pushIndex(int index) {
    push(INDEX);
    indices[size - 1] = index;
  }

  void pop() {
    size--;
  }

  private String where() {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < size; i++) {
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

  /** A 400 that names the current field (if any) and the problem. */
  TranscodingException error(String problem) {
    return TranscodingException.badRequest(
        (size == 0 ? "" : "field '" + where() + "': ") + problem);
  }

  /** A 400 for JSON that is not well formed. */
  TranscodingException malformed(Exception e) {
    return TranscodingException.badRequest("invalid JSON body: " + JsonToProto.describe(e));
  }

  /** A token in words: "an array", "a string"... */
  String describe(JsonToken token) {
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
}
