package io.meshgate.transcoder;

import com.google.protobuf.ByteString;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.EnumValueDescriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.DynamicMessage;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.util.Durations;
import com.google.protobuf.util.FieldMaskUtil;
import com.google.protobuf.util.Timestamps;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.text.ParseException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The HTTP binding half of {@code google.api.http}: path variables and query parameters set
 * fields of the request message, by proto or JSON field name and dotted paths into nested
 * messages, with the text forms of scalars, enums, bytes and the scalar well-known types
 * (Timestamp, Duration, FieldMask, wrappers). Stateless.
 */
final class HttpBindings {
  private HttpBindings() {}

  /** The path variables and query parameters of a request, serialized. */
  static byte[] bindings(HttpRoute route, RouteMatch match, String rawQuery,
      boolean ignoreUnknownQuery) throws TranscodingException {
    ProtoWriter out = new ProtoWriter(64);
    bind(route, out, match, rawQuery, ignoreUnknownQuery);
    return out.toByteArray();
  }

  /** Path variables and query parameters onto the request. */
  private static void bind(HttpRoute route, ProtoWriter builder, RouteMatch match,
      String rawQuery, boolean ignoreUnknownQuery) throws TranscodingException {
    List<List<FieldDescriptor>> pathFields = route.pathFields();
    for (int i = 0; i < pathFields.size(); i++) {
      List<FieldDescriptor> fields = pathFields.get(i);
      try {
        set(builder, fields, List.of(match.variables().get(i)));
      } catch (TranscodingException e) {
        throw TranscodingException.badRequest("path parameter '" + dotted(fields) + "': "
            + e.getMessage());
      }
    }
    if (rawQuery == null || rawQuery.isEmpty()) {
      return;
    }
    Map<String, List<String>> params = parseQuery(rawQuery);
    Set<String> boundByPath = new HashSet<>();
    for (List<FieldDescriptor> fields : pathFields) {
      boundByPath.add(dotted(fields));
    }
    for (Map.Entry<String, List<String>> param : params.entrySet()) {
      String name = param.getKey();
      List<FieldDescriptor> fields = route.bodyIsWholeRequest() ? null
          : resolveParameter(route.requestType(), name);
      if (fields == null) {
        if (ignoreUnknownQuery) {
          continue;
        }
        throw TranscodingException.badRequest("unknown query parameter '" + name + "'"
            + (route.bodyIsWholeRequest() ? " (every field of this request comes from the body)"
                : " (expected a field of " + route.requestType().getFullName() + ", e.g. "
                    + example(route.requestType()) + ")"));
      }
      String path = dotted(fields);
      if (boundByPath.contains(path)) {
        throw TranscodingException.badRequest("query parameter '" + name
            + "' is already bound by the path");
      }
      if (route.bodyField() != null && fields.get(0).equals(route.bodyField())) {
        throw TranscodingException.badRequest("query parameter '" + name
            + "' is part of the body field '" + route.bodyField().getName() + "'");
      }
      FieldDescriptor leaf = fields.get(fields.size() - 1);
      if (!leaf.isRepeated() && param.getValue().size() > 1) {
        throw TranscodingException.badRequest("query parameter '" + name
            + "' is given more than once but is not a repeated field");
      }
      try {
        set(builder, fields, param.getValue());
      } catch (TranscodingException e) {
        throw TranscodingException.badRequest("query parameter '" + name + "': "
            + e.getMessage());
      }
    }
  }

  private static String example(Descriptor type) {
    List<String> names = new ArrayList<>();
    for (FieldDescriptor field : type.getFields()) {
      if (field.getJavaType() != FieldDescriptor.JavaType.MESSAGE || wellKnown(field) != null) {
        names.add(field.getName());
      }
      if (names.size() == 3) {
        break;
      }
    }
    return names.isEmpty() ? "none" : String.join(", ", names);
  }

  /** Resolves a dotted parameter name (proto or JSON names) to fields, or null. */
  private static List<FieldDescriptor> resolveParameter(Descriptor type, String name) {
    List<FieldDescriptor> fields = new ArrayList<>();
    Descriptor current = type;
    for (String part : name.split("\\.", -1)) {
      if (current == null) {
        return null;
      }
      FieldDescriptor field = current.findFieldByName(part);
      if (field == null) {
        for (FieldDescriptor candidate : current.getFields()) {
          if (candidate.getJsonName().equals(part)) {
            field = candidate;
            break;
          }
        }
      }
      if (field == null || field.isMapField()) {
        return null;
      }
      fields.add(field);
      boolean nestable = field.getJavaType() == FieldDescriptor.JavaType.MESSAGE
          && !field.isRepeated() && wellKnown(field) == null;
      current = nestable ? field.getMessageType() : null;
    }
    FieldDescriptor leaf = fields.get(fields.size() - 1);
    if (leaf.getJavaType() == FieldDescriptor.JavaType.MESSAGE && wellKnown(leaf) == null) {
      return null;
    }
    return fields;
  }

  private static Map<String, List<String>> parseQuery(String rawQuery)
      throws TranscodingException {
    Map<String, List<String>> params = new LinkedHashMap<>();
    for (String pair : rawQuery.split("&")) {
      if (pair.isEmpty()) {
        continue;
      }
      int eq = pair.indexOf('=');
      try {
        String name = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq),
            StandardCharsets.UTF_8);
        String value = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1),
            StandardCharsets.UTF_8);
        params.computeIfAbsent(name, k -> new ArrayList<>()).add(value);
      } catch (IllegalArgumentException e) {
        throw TranscodingException.badRequest("malformed query string near '" + pair + "': "
            + e.getMessage());
      }
    }
    return params;
  }

  /** Writes values of the field at the end of a field path (nested messages around it). */
  private static void set(ProtoWriter out, List<FieldDescriptor> fields, List<String> values)
      throws TranscodingException {
    int[] marks = new int[fields.size() - 1];
    for (int i = 0; i < marks.length; i++) {
      out.tag(fields.get(i).getNumber(), ProtoWriter.LEN);
      marks[i] = out.beginLength();
    }
    FieldDescriptor leaf = fields.get(fields.size() - 1);
    List<String> written = leaf.isRepeated() ? values : values.subList(values.size() - 1,
        values.size());
    for (String value : written) {
      write(out, leaf, convert(leaf, value));
    }
    for (int i = marks.length - 1; i >= 0; i--) {
      out.endLength(marks[i]);
    }
  }

  /** One value (as {@link #convert} makes it) of a field, tagged. */
  private static void write(ProtoWriter out, FieldDescriptor field, Object value) {
    out.tag(field.getNumber(), JsonToProto.wireType(field));
    switch (field.getType()) {
      case STRING -> out.string((String) value);
      case BYTES -> out.bytes(((ByteString) value).toByteArray());
      case BOOL -> out.varint((Boolean) value ? 1 : 0);
      case INT32 -> out.int32((Integer) value);
      case SINT32 -> {
        int v = (Integer) value;
        out.varint((v << 1) ^ (v >> 31));
      }
      case UINT32 -> out.varint((Integer) value);
      case FIXED32, SFIXED32 -> out.fixed32((Integer) value);
      case INT64, UINT64 -> out.varint64((Long) value);
      case SINT64 -> {
        long v = (Long) value;
        out.varint64((v << 1) ^ (v >> 63));
      }
      case FIXED64, SFIXED64 -> out.fixed64((Long) value);
      case FLOAT -> out.fixed32(Float.floatToRawIntBits((Float) value));
      case DOUBLE -> out.fixed64(Double.doubleToRawLongBits((Double) value));
      case ENUM -> out.int32(((EnumValueDescriptor) value).getNumber());
      case MESSAGE -> out.bytes(((Message) value).toByteArray());
      default -> throw new IllegalStateException("unsupported field type " + field.getType());
    }
  }

  /** A text value as the field's type. */
  static Object convert(FieldDescriptor field, String text) throws TranscodingException {
    try {
      switch (field.getType()) {
        case STRING:
          return text;
        case BOOL:
          if (text.equals("true")) {
            return Boolean.TRUE;
          }
          if (text.equals("false")) {
            return Boolean.FALSE;
          }
          throw invalid(text, "a bool (true or false)");
        case INT32:
        case SINT32:
        case SFIXED32:
          return Integer.parseInt(text);
        case UINT32:
        case FIXED32:
          return Integer.parseUnsignedInt(text);
        case INT64:
        case SINT64:
        case SFIXED64:
          return Long.parseLong(text);
        case UINT64:
        case FIXED64:
          return Long.parseUnsignedLong(text);
        case FLOAT: {
          float value = Float.parseFloat(text);
          if (Float.isInfinite(value) && !text.contains("Infinity")) {
            throw invalid(text, "a float in range");
          }
          return value;
        }
        case DOUBLE:
          return Double.parseDouble(text);
        case ENUM: {
          EnumValueDescriptor value = field.getEnumType().findValueByName(text);
          if (value == null) {
            try {
              value = field.getEnumType().findValueByNumber(Integer.parseInt(text));
            } catch (NumberFormatException ignored) {
              // Not a number either.
            }
          }
          if (value == null) {
            throw invalid(text, "one of " + Enums.names(field.getEnumType())
                + " (or their numbers)");
          }
          return value;
        }
        case BYTES:
          return ByteString.copyFrom(base64(text));
        case MESSAGE:
          return wellKnownValue(field, text);
        default:
          throw invalid(text, field.getType().name().toLowerCase(Locale.ROOT));
      }
    } catch (NumberFormatException e) {
      throw invalid(text, JsonToProto.article(field.getType().name().toLowerCase(Locale.ROOT))
          + (field.getType() == FieldDescriptor.Type.FLOAT
              || field.getType() == FieldDescriptor.Type.DOUBLE ? "" : " in range"));
    }
  }

  private static byte[] base64(String text) throws TranscodingException {
    try {
      // A '+' the client did not percent-encode arrives as a space.
      return Base64Bytes.decode(text.replace(' ', '+'));
    } catch (IllegalArgumentException e) {
      throw invalid(text, "base64 or base64url bytes");
    }
  }

  /** The kind of well-known type a message field holds, or null for an ordinary message. */
  private static String wellKnown(FieldDescriptor field) {
    if (field.getJavaType() != FieldDescriptor.JavaType.MESSAGE) {
      return null;
    }
    String name = field.getMessageType().getFullName();
    return switch (name) {
      case "google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask",
          "google.protobuf.DoubleValue", "google.protobuf.FloatValue",
          "google.protobuf.Int64Value", "google.protobuf.UInt64Value",
          "google.protobuf.Int32Value", "google.protobuf.UInt32Value",
          "google.protobuf.BoolValue", "google.protobuf.StringValue",
          "google.protobuf.BytesValue" -> name;
      default -> null;
    };
  }

  private static Message wellKnownValue(FieldDescriptor field, String text)
      throws TranscodingException {
    Descriptor type = field.getMessageType();
    String name = wellKnown(field);
    if (name == null) {
      throw invalid(text, "one of its fields (" + type.getFullName()
          + " is a message: set its fields with dotted names)");
    }
    try {
      Message generated;
      switch (name) {
        case "google.protobuf.Timestamp" -> generated = Timestamps.parse(text);
        case "google.protobuf.Duration" -> generated = Durations.parse(text);
        case "google.protobuf.FieldMask" -> generated =
            text.chars().anyMatch(Character::isUpperCase)
            ? FieldMaskUtil.fromJsonString(text) : FieldMaskUtil.fromString(text);
        default -> {
          // A wrapper: {value: <scalar>}.
          FieldDescriptor value = type.findFieldByName("value");
          return DynamicMessage.newBuilder(type).setField(value, convert(value, text)).build();
        }
      }
      // Same bytes, in the pool's own descriptor of the type.
      return DynamicMessage.parseFrom(type, generated.toByteString());
    } catch (ParseException | IllegalArgumentException | InvalidProtocolBufferException e) {
      throw invalid(text, switch (name) {
        case "google.protobuf.Timestamp" -> "an RFC 3339 time, e.g. 2026-11-24T10:15:30Z";
        case "google.protobuf.Duration" -> "a duration in seconds, e.g. 1.5s";
        default -> "a field mask, e.g. a,b.c";
      });
    }
  }

  private static TranscodingException invalid(String text, String expected) {
    return TranscodingException.badRequest("'" + text + "' is not " + expected);
  }

  private static String dotted(List<FieldDescriptor> fields) {
    StringBuilder sb = new StringBuilder();
    for (FieldDescriptor field : fields) {
      sb.append(sb.length() == 0 ? "" : ".").append(field.getName());
    }
    return sb.toString();
  }
}
