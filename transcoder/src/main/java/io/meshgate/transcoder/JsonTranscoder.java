package io.meshgate.transcoder;

import com.google.gson.JsonElement;
import com.google.gson.JsonParser;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.WireFormat;
import java.io.IOException;
import com.google.protobuf.ByteString;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.EnumValueDescriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.DynamicMessage;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.util.Durations;
import com.google.protobuf.util.FieldMaskUtil;
import com.google.protobuf.util.JsonFormat;
import com.google.protobuf.util.Timestamps;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.text.ParseException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Turns HTTP requests into protobuf request messages and protobuf responses into JSON, for the
 * routes of an {@link HttpRouteTable}, following protobuf's canonical JSON mapping: both
 * lowerCamel and original field names on input, {@code Any} resolved through the pool, and
 * {@code google.api.HttpBody} passed through as raw bytes with its content type. JSON is read
 * into, and printed from, protobuf wire format directly, without building message trees. Errors
 * name the field or parameter at fault. Thread-safe.
 */
public final class JsonTranscoder {
  private static final String HTTP_BODY = "google.api.HttpBody";

  private final DescriptorPool pool;
  private final JsonToProto reader;
  private final ProtoToJson writer;
  private final Map<JsonOptions, JsonFormat.Printer> printers = new ConcurrentHashMap<>();

  /** A transcoder for the messages of {@code pool}. */
  public JsonTranscoder(DescriptorPool pool) {
    this.pool = pool;
    this.reader = new JsonToProto(pool);
    this.writer = new ProtoToJson(this::printer);
  }

  /** The pool whose types this transcoder reads and writes. */
  public DescriptorPool pool() {
    return pool;
  }

  // ---- Requests ------------------------------------------------------------------------------

  /**
   * Builds the request message of a matched unary or server-streaming route from the path
   * variables, the query string and the body.
   *
   * @param rawQuery the query string without '?', still encoded, or null
   * @param body the request body (empty when there is none)
   * @param contentType the request's content type, or null
   * @param ignoreUnknownQuery drop query parameters that are not request fields instead of
   *     failing
   * @return the request message, serialized
   * @throws TranscodingException (400, or 415 for an XML or multipart body) naming the field or
   *     parameter that is wrong
   */
  public byte[] request(RouteMatch match, String rawQuery, byte[] body, String contentType,
      boolean ignoreUnknownQuery) throws TranscodingException {
    HttpRoute route = match.route();
    ProtoWriter out = new ProtoWriter(body.length + 64);
    if (route.hasBody()) {
      mergeBody(route, out, body, contentType);
    }
    // Path variables and query parameters come after the body: where both set a field, the
    // later value wins (protobuf's merge semantics), so the path overrides the body.
    out.append(bindings(route, match, rawQuery, ignoreUnknownQuery));
    return out.toByteArray();
  }

  /**
   * Builds the request messages of a client-streaming route: the body is a JSON array of
   * messages or newline-delimited JSON (one message per line); path variables and query
   * parameters apply to every message.
   *
   * @return the messages, serialized
   * @throws TranscodingException (400) naming the message and field that are wrong
   */
  public List<byte[]> requests(RouteMatch match, String rawQuery, byte[] body,
      String contentType, boolean ignoreUnknownQuery) throws TranscodingException {
    HttpRoute route = match.route();
    checkJson(contentType);
    byte[] bound = bindings(route, match, rawQuery, ignoreUnknownQuery);
    List<byte[]> messages = new ArrayList<>();
    String text = new String(body, StandardCharsets.UTF_8);
    int first = firstNonBlank(text);
    if (first < 0) {
      return messages;
    }
    if (text.charAt(first) == '[') {
      JsonReader in = JsonToProto.reader(text);
      try {
        in.beginArray();
        while (in.hasNext()) {
          messages.add(streamMessage(route, in, messages.size(), bound));
        }
        in.endArray();
        expectEnd(in);
      } catch (IOException | IllegalStateException e) {
        throw TranscodingException.badRequest("the request body is not a JSON array of"
            + " messages or newline-delimited JSON: " + cleanMessage(e));
      }
      return messages;
    }
    int line = 0;
    for (String json : text.split("\n")) {
      line++;
      if (firstNonBlank(json) < 0) {
        continue;
      }
      JsonReader in = JsonToProto.reader(json);
      messages.add(streamMessage(route, in, messages.size(), bound));
      try {
        expectEnd(in);
      } catch (IllegalStateException e) {
        throw TranscodingException.badRequest("line " + line + " of the request body holds"
            + " more than one JSON value (newline-delimited JSON has one message per line)");
      }
    }
    return messages;
  }

  private byte[] streamMessage(HttpRoute route, JsonReader in, int index, byte[] bound)
      throws TranscodingException {
    ProtoWriter out = new ProtoWriter(256);
    try {
      readBody(route, in, out);
    } catch (TranscodingException e) {
      throw TranscodingException.badRequest("message " + index + " of the stream: "
          + e.getMessage());
    }
    out.append(bound);
    return out.toByteArray();
  }

  private static int firstNonBlank(String text) {
    for (int i = 0; i < text.length(); i++) {
      if (!Character.isWhitespace(text.charAt(i))) {
        return i;
      }
    }
    return -1;
  }

  private static void expectEnd(JsonReader in) {
    String problem = null;
    try {
      if (in.peek() != JsonToken.END_DOCUMENT) {
        problem = "";
      }
    } catch (IOException e) {
      problem = ""; // strict mode refuses a second value outright
    }
    if (problem != null) {
      throw new IllegalStateException("unexpected data after the JSON value ("
          + in.toString().replaceFirst("^JsonReader ", "") + ")");
    }
  }

  private void mergeBody(HttpRoute route, ProtoWriter out, byte[] body, String contentType)
      throws TranscodingException {
    FieldDescriptor field = route.bodyField();
    Descriptor target = field == null ? route.requestType()
        : field.getJavaType() == FieldDescriptor.JavaType.MESSAGE ? field.getMessageType() : null;
    if (target != null && target.getFullName().equals(HTTP_BODY)
        && (field == null || !field.isRepeated())) {
      // Raw bytes with their content type: file upload and the like.
      ProtoWriter httpBody = field == null ? out : new ProtoWriter(body.length + 64);
      httpBody.tag(1, ProtoWriter.LEN);
      httpBody.string(contentType == null ? "application/octet-stream" : contentType);
      if (body.length > 0) {
        httpBody.tag(2, ProtoWriter.LEN);
        httpBody.bytes(body);
      }
      if (field != null) {
        out.tag(field.getNumber(), ProtoWriter.LEN);
        out.bytes(httpBody.toByteArray());
      }
      return;
    }
    checkJson(contentType);
    String text = new String(body, StandardCharsets.UTF_8);
    if (firstNonBlank(text) < 0) {
      return;
    }
    JsonReader in = JsonToProto.reader(text);
    readBody(route, in, out);
    try {
      expectEnd(in);
    } catch (IllegalStateException e) {
      throw TranscodingException.badRequest("invalid JSON body: " + cleanMessage(e));
    }
  }

  /** One JSON value of the body: the whole request, or the body field. */
  private void readBody(HttpRoute route, JsonReader in, ProtoWriter out)
      throws TranscodingException {
    FieldDescriptor field = route.bodyField();
    if (field == null) {
      reader.message(in, route.requestType(), out);
    } else if (field.getJavaType() == FieldDescriptor.JavaType.MESSAGE && !field.isRepeated()) {
      out.tag(field.getNumber(), ProtoWriter.LEN);
      int mark = out.beginLength();
      reader.message(in, field.getMessageType(), out);
      out.endLength(mark);
    } else {
      reader.field(in, field, out);
    }
  }

  /**
   * Bodies are read as JSON whatever their content type says (curl's default is form encoding;
   * grpc-gateway and Envoy do the same), except for types that are plainly something else.
   */
  private static void checkJson(String contentType) throws TranscodingException {
    if (contentType == null) {
      return;
    }
    String type = contentType.toLowerCase(Locale.ROOT);
    if (type.startsWith("multipart/") || type.contains("xml")
        || type.startsWith("application/x-protobuf") || type.startsWith("application/protobuf")) {
      throw new TranscodingException(415, "the request body must be JSON (content-type"
          + " application/json), got '" + contentType + "'");
    }
  }

  private static String cleanMessage(Exception e) {
    return JsonToProto.describe(e);
  }

  /** The path variables and query parameters of a request, serialized. */
  private byte[] bindings(HttpRoute route, RouteMatch match, String rawQuery,
      boolean ignoreUnknownQuery) throws TranscodingException {
    ProtoWriter out = new ProtoWriter(64);
    bind(route, out, match, rawQuery, ignoreUnknownQuery);
    return out.toByteArray();
  }

  /** Path variables and query parameters onto the request. */
  private void bind(HttpRoute route, ProtoWriter builder, RouteMatch match,
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
            throw invalid(text, "one of " + enumNames(field));
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

  private static String enumNames(FieldDescriptor field) {
    List<String> names = new ArrayList<>();
    for (EnumValueDescriptor value : field.getEnumType().getValues()) {
      names.add(value.getName());
    }
    return String.join(", ", names) + " (or their numbers)";
  }

  private static byte[] base64(String text) throws TranscodingException {
    String normalized = text.replace('-', '+').replace('_', '/').replace(' ', '+');
    try {
      return Base64.getDecoder().decode(normalized);
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
        case "google.protobuf.FieldMask" -> generated = text.chars().anyMatch(Character::isUpperCase)
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

  // ---- Responses -----------------------------------------------------------------------------

  /** An HTTP response body and its content type. */
  public record Body(byte[] bytes, String contentType) {}

  /**
   * Renders a response message (its protobuf bytes) as the route says: JSON of the message, of
   * its {@code response_body} field, or the raw bytes of a {@code google.api.HttpBody}.
   *
   * @throws InvalidProtocolBufferException when the bytes are not the route's response type
   */
  public Body response(HttpRoute route, byte[] message, JsonOptions options)
      throws InvalidProtocolBufferException {
    FieldDescriptor field = route.responseBodyField();
    Descriptor type = route.responseType();
    byte[] bytes = message;
    if (field != null) {
      if (field.getJavaType() != FieldDescriptor.JavaType.MESSAGE || field.isRepeated()) {
        return new Body(fieldJson(DynamicMessage.parseFrom(type, message), field, options),
            "application/json");
      }
      type = field.getMessageType();
      bytes = fieldBytes(message, field.getNumber());
    }
    if (type.getFullName().equals(HTTP_BODY)) {
      com.google.api.HttpBody httpBody = com.google.api.HttpBody.parseFrom(bytes);
      return new Body(httpBody.getData().toByteArray(), httpBody.getContentType().isEmpty()
          ? "application/octet-stream" : httpBody.getContentType());
    }
    JsonOut json = new JsonOut(bytes.length * 2 + 16);
    if (!writer.print(type, bytes, options, json)) {
      json.utf8(printer(options).print(DynamicMessage.parseFrom(type, bytes)));
    }
    return new Body(json.toByteArray(), "application/json");
  }

  /** The bytes of a singular message field (its occurrences concatenated: merged). */
  private static byte[] fieldBytes(byte[] message, int number)
      throws InvalidProtocolBufferException {
    try {
      CodedInputStream in = CodedInputStream.newInstance(message);
      ProtoWriter out = null;
      while (true) {
        int tag = in.readTag();
        if (tag == 0) {
          break;
        }
        if (WireFormat.getTagFieldNumber(tag) == number
            && WireFormat.getTagWireType(tag) == WireFormat.WIRETYPE_LENGTH_DELIMITED) {
          byte[] value = in.readByteArray();
          if (out == null) {
            out = new ProtoWriter(value.length);
          }
          out.append(value);
        } else {
          in.skipField(tag);
        }
      }
      return out == null ? new byte[0] : out.toByteArray();
    } catch (InvalidProtocolBufferException e) {
      throw e;
    } catch (java.io.IOException e) {
      throw new InvalidProtocolBufferException(e.getMessage());
    }
  }

  /** A scalar or repeated response_body field: the JSON of that field's value alone. */
  private byte[] fieldJson(Message response, FieldDescriptor field, JsonOptions options)
      throws InvalidProtocolBufferException {
    Message only = response.toBuilder().clear().setField(field, response.getField(field))
        .build();
    JsonElement json = JsonParser.parseString(printer(new JsonOptions(true,
        options.enumsAsInts(), options.originalFieldNames())).print(only));
    String name = options.originalFieldNames() ? field.getName() : field.getJsonName();
    JsonElement value = json.getAsJsonObject().get(name);
    return (value == null ? "null" : value.toString()).getBytes(StandardCharsets.UTF_8);
  }

  private JsonFormat.Printer printer(JsonOptions options) {
    return printers.computeIfAbsent(options, o -> {
      JsonFormat.Printer printer = JsonFormat.printer().usingTypeRegistry(pool.typeRegistry())
          .omittingInsignificantWhitespace();
      if (o.emitUnpopulated()) {
        printer = printer.alwaysPrintFieldsWithNoPresence();
      }
      if (o.enumsAsInts()) {
        printer = printer.printingEnumsAsInts();
      }
      if (o.originalFieldNames()) {
        printer = printer.preservingProtoFieldNames();
      }
      return printer;
    });
  }
}
