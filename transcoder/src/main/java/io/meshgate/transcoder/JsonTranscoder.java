package io.meshgate.transcoder;

import com.google.gson.JsonElement;
import com.google.gson.JsonParser;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.DynamicMessage;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.WireFormat;
import com.google.protobuf.util.JsonFormat;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
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
    out.append(HttpBindings.bindings(route, match, rawQuery, ignoreUnknownQuery));
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
    byte[] bound = HttpBindings.bindings(route, match, rawQuery, ignoreUnknownQuery);
    List<byte[]> messages = new ArrayList<>();
    String text = JsonText.decode(body);
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
    String text = JsonText.decode(body);
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

  // ---- Whole messages --------------------------------------------------------------------------

  /**
   * One message of {@code type} from its JSON (protobuf's canonical mapping), for protocols that
   * carry whole messages as JSON, such as Connect. An empty body is the empty message.
   *
   * @return the message, serialized
   * @throws TranscodingException (400) naming the field that is wrong
   */
  public byte[] message(Descriptor type, byte[] json) throws TranscodingException {
    String text = JsonText.decode(json);
    if (firstNonBlank(text) < 0) {
      return new byte[0];
    }
    ProtoWriter out = new ProtoWriter(json.length + 64);
    JsonReader in = JsonToProto.reader(text);
    reader.message(in, type, out);
    try {
      expectEnd(in);
    } catch (IllegalStateException e) {
      throw TranscodingException.badRequest("invalid JSON message: " + cleanMessage(e));
    }
    return out.toByteArray();
  }

  /**
   * The JSON of one message of {@code type}, given as its protobuf bytes.
   *
   * @throws InvalidProtocolBufferException when the bytes are not a {@code type}
   */
  public byte[] json(Descriptor type, byte[] message, JsonOptions options)
      throws InvalidProtocolBufferException {
    JsonOut json = new JsonOut(message.length * 2 + 16);
    if (!writer.print(type, message, options, json)) {
      json.utf8(printer(options).print(DynamicMessage.parseFrom(type, message)));
    }
    return json.toByteArray();
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
    return new Body(json(type, bytes, options), "application/json");
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
