package io.meshgate.transcoder;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.stream.JsonToken;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Duration;
import com.google.protobuf.Timestamp;
import com.google.protobuf.util.Durations;
import com.google.protobuf.util.Timestamps;
import java.io.IOException;
import java.text.ParseException;

/**
 * Reads the JSON forms of protobuf's well-known types into wire format: Timestamp and Duration
 * strings, FieldMask paths, wrappers, Struct / Value / ListValue, and {@code Any} with its
 * {@code @type} resolved through the pool. Stateless but for the reader of the messages that
 * an {@code Any} or a wrapper holds.
 */
final class JsonWellKnown {
  private final JsonToProto messages;
  private final DescriptorPool pool;

  JsonWellKnown(JsonToProto messages, DescriptorPool pool) {
    this.messages = messages;
    this.pool = pool;
  }

  /** Reads the JSON form of a well-known type ({@code kind}) as a message of {@code type}. */
  void read(JsonCursor c, WellKnown kind, Descriptor type, ProtoWriter out, int depth)
      throws IOException, TranscodingException {
    JsonToken token = c.in().peek();
    switch (kind) {
      case TIMESTAMP -> {
        String text = expectString(c, token, "an RFC 3339 time, e.g. \"2026-11-24T10:15:30Z\"");
        Timestamp timestamp;
        try {
          timestamp = Timestamps.parse(text);
        } catch (ParseException | IllegalArgumentException e) {
          throw c.error("\"" + JsonToProto.abbreviate(text) + "\" is not an RFC 3339 time, e.g."
              + " \"2026-11-24T10:15:30Z\"");
        }
        secondsAndNanos(timestamp.getSeconds(), timestamp.getNanos(), out);
      }
      case DURATION -> {
        String text = expectString(c, token, "a duration, e.g. \"1.5s\"");
        Duration duration;
        try {
          duration = Durations.parse(text);
        } catch (ParseException | IllegalArgumentException e) {
          throw c.error("\"" + JsonToProto.abbreviate(text)
              + "\" is not a duration, e.g. \"1.5s\"");
        }
        secondsAndNanos(duration.getSeconds(), duration.getNanos(), out);
      }
      case FIELD_MASK -> {
        String text = expectString(c, token, "a field mask, e.g. \"displayName,email\"");
        for (String part : text.split(",")) {
          if (!part.isEmpty()) {
            out.tag(1, ProtoWriter.LEN);
            out.string(JsonToProto.snakeCase(part.strip()));
          }
        }
      }
      case WRAPPER -> {
        FieldDescriptor value = type.findFieldByNumber(1);
        if (token == JsonToken.NULL) {
          throw c.error("expected "
              + JsonToProto.article(JsonScalars.typeName(value.getType())) + ", got null");
        }
        messages.single(c, value, out, depth, true);
      }
      case STRUCT -> struct(c, out, depth);
      case VALUE -> value(c, out, depth);
      case LIST_VALUE -> list(c, out, depth);
      case ANY -> any(c, out, depth);
      default -> throw new IllegalStateException(kind.name());
    }
  }

  private String expectString(JsonCursor c, JsonToken token, String expected)
      throws IOException, TranscodingException {
    if (token != JsonToken.STRING) {
      throw c.error("expected " + expected + ", got " + c.describe(token));
    }
    return c.in().nextString();
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

  private void struct(JsonCursor c, ProtoWriter out, int depth)
      throws IOException, TranscodingException {
    JsonToken token = c.in().peek();
    if (token != JsonToken.BEGIN_OBJECT) {
      throw c.error("expected an object (a google.protobuf.Struct), got " + c.describe(token));
    }
    c.in().beginObject();
    while (c.in().hasNext()) {
      String key = c.in().nextName();
      c.push(key);
      out.tag(1, ProtoWriter.LEN);
      int entry = out.beginLength();
      out.tag(1, ProtoWriter.LEN);
      out.string(key);
      out.tag(2, ProtoWriter.LEN);
      int value = out.beginLength();
      value(c, out, depth + 1);
      out.endLength(value);
      out.endLength(entry);
      c.pop();
    }
    c.in().endObject();
  }

  private void value(JsonCursor c, ProtoWriter out, int depth)
      throws IOException, TranscodingException {
    if (depth > JsonToProto.MAX_DEPTH) {
      throw c.error("values nested more than " + JsonToProto.MAX_DEPTH + " deep");
    }
    JsonToken token = c.in().peek();
    switch (token) {
      case NULL -> {
        c.in().nextNull();
        out.tag(1, ProtoWriter.VARINT);
        out.varint(0);
      }
      case NUMBER -> {
        out.tag(2, ProtoWriter.FIXED64);
        String text = c.in().nextString();
        out.fixed64(Double.doubleToRawLongBits(JsonScalars.floating(c, text, false)));
      }
      case STRING -> {
        out.tag(3, ProtoWriter.LEN);
        out.string(c.in().nextString());
      }
      case BOOLEAN -> {
        out.tag(4, ProtoWriter.VARINT);
        out.varint(c.in().nextBoolean() ? 1 : 0);
      }
      case BEGIN_OBJECT -> {
        out.tag(5, ProtoWriter.LEN);
        int mark = out.beginLength();
        struct(c, out, depth + 1);
        out.endLength(mark);
      }
      case BEGIN_ARRAY -> {
        out.tag(6, ProtoWriter.LEN);
        int mark = out.beginLength();
        list(c, out, depth + 1);
        out.endLength(mark);
      }
      default -> throw c.error("expected a JSON value, got " + c.describe(token));
    }
  }

  private void list(JsonCursor c, ProtoWriter out, int depth)
      throws IOException, TranscodingException {
    JsonToken token = c.in().peek();
    if (token != JsonToken.BEGIN_ARRAY) {
      throw c.error("expected an array (a google.protobuf.ListValue), got " + c.describe(token));
    }
    c.in().beginArray();
    for (int i = 0; c.in().hasNext(); i++) {
      c.pushIndex(i);
      out.tag(1, ProtoWriter.LEN);
      int mark = out.beginLength();
      value(c, out, depth + 1);
      out.endLength(mark);
      c.pop();
    }
    c.in().endArray();
  }

  /** {@code {"@type": "type.googleapis.com/pkg.Type", ...fields}}, fields in any order. */
  private void any(JsonCursor c, ProtoWriter out, int depth)
      throws IOException, TranscodingException {
    JsonToken token = c.in().peek();
    if (token != JsonToken.BEGIN_OBJECT) {
      throw c.error("expected an object with \"@type\" (a google.protobuf.Any), got "
          + c.describe(token));
    }
    JsonObject object = JsonParser.parseReader(c.in()).getAsJsonObject();
    if (object.isEmpty()) {
      return;
    }
    JsonElement typeElement = object.remove("@type");
    if (typeElement == null || !typeElement.isJsonPrimitive()
        || !typeElement.getAsJsonPrimitive().isString()) {
      throw c.error("a google.protobuf.Any needs \"@type\" (e.g."
          + " \"type.googleapis.com/package.Message\")");
    }
    String url = typeElement.getAsString();
    String typeName = url.substring(url.lastIndexOf('/') + 1);
    Descriptor type = pool.message(typeName);
    if (type == null) {
      type = WellKnownFiles.message(typeName);
    }
    if (type == null) {
      throw c.error("\"@type\" names " + typeName + ", which the gateway has no descriptor of");
    }
    String inner;
    if (WellKnown.of(type) != WellKnown.NONE) {
      JsonElement value = object.get("value");
      if (value == null || object.size() != 1) {
        throw c.error("an Any holding " + typeName + " needs exactly \"@type\" and \"value\"");
      }
      inner = value.toString();
    } else {
      inner = object.toString();
    }
    out.tag(1, ProtoWriter.LEN);
    out.string(url);
    out.tag(2, ProtoWriter.LEN);
    int mark = out.beginLength();
    messages.message(c.nested(JsonToProto.reader(inner)), type, out, depth + 1);
    out.endLength(mark);
  }
}
