package io.meshgate.transcoder;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.protobuf.DescriptorProtos;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.EnumDescriptor;
import com.google.protobuf.Descriptors.EnumValueDescriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Descriptors.FileDescriptor;
import com.google.protobuf.Descriptors.MethodDescriptor;
import com.google.protobuf.Descriptors.OneofDescriptor;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

/**
 * An OpenAPI 3.1 document of the REST API that an {@link HttpRouteTable} serves, generated from
 * its descriptors: every binding as an operation (path variables as path parameters, the
 * request fields neither the path nor the body binds as query parameters, the body, the
 * {@code response_body}, server streams as newline-delimited JSON and Server-Sent Events), each
 * message as a JSON Schema following protobuf's canonical JSON mapping (64-bit integers and
 * bytes as strings, well-known types as their JSON forms, enums by name, maps as objects), the
 * comments of the {@code .proto} files when the descriptors carry source info, and
 * {@code google.rpc.Status} as the error. A rule's custom method ({@code custom: {kind: COPY}}),
 * which OpenAPI 3.1 cannot name, is the extension {@code x-method-copy} of its path. Stateless.
 *
 * <pre>
 * String json = OpenApi.document(table, "Orders API", "v1", method -&gt; false);
 * </pre>
 */
public final class OpenApi {
  private static final String STATUS = "google.rpc.Status";
  private static final Set<String> STANDARD_METHODS = Set.of("get", "put", "post", "delete",
      "options", "head", "patch", "trace");

  private final Predicate<MethodDescriptor> bearer;
  private final Map<String, JsonObject> schemas = new LinkedHashMap<>();
  private final Deque<Descriptor> pending = new ArrayDeque<>();
  private final Set<String> seen = new HashSet<>();
  private final Map<FileDescriptor, Map<List<Integer>, String>> comments = new HashMap<>();

  private final Predicate<MethodDescriptor> include;

  private OpenApi(Predicate<MethodDescriptor> bearer, Predicate<MethodDescriptor> include) {
    this.bearer = bearer;
    this.include = include;
  }

  /**
   * The document, as JSON.
   *
   * @param title the API's title ({@code info.title})
   * @param version the API's version ({@code info.version}), e.g. the configuration's revision
   * @param bearer which methods need a bearer token (a JWT): their operations name the
   *     {@code bearer} security scheme
   */
  public static String document(HttpRouteTable table, String title, String version,
      Predicate<MethodDescriptor> bearer) {
    return document(table, title, version, bearer, method -> true);
  }

  /**
   * The document of the operations whose method {@code include} accepts (a gateway: the methods
   * it routes), as JSON.
   *
   * @see #document(HttpRouteTable, String, String, Predicate)
   */
  public static String document(HttpRouteTable table, String title, String version,
      Predicate<MethodDescriptor> bearer, Predicate<MethodDescriptor> include) {
    return new OpenApi(bearer, include).build(table, title, version);
  }

  private String build(HttpRouteTable table, String title, String version) {
    JsonObject doc = new JsonObject();
    doc.addProperty("openapi", "3.1.0");
    JsonObject info = new JsonObject();
    info.addProperty("title", title);
    info.addProperty("version", version);
    doc.add("info", info);
    JsonObject paths = new JsonObject();
    Map<String, Integer> operationIds = new HashMap<>();
    boolean anyBearer = false;
    JsonArray tags = new JsonArray();
    Set<String> tagged = new HashSet<>();
    for (HttpRoute route : table.routes()) {
      if (!include.test(route.method())) {
        continue;
      }
      String path = openApiPath(route.template());
      JsonObject item = paths.has(path) ? paths.getAsJsonObject(path) : new JsonObject();
      String service = route.method().getService().getFullName();
      if (tagged.add(service)) {
        JsonObject tag = new JsonObject();
        tag.addProperty("name", service);
        String doc0 = comment(route.method().getService().getFile(),
            List.of(6, route.method().getService().getIndex()));
        if (doc0 != null) {
          tag.addProperty("description", doc0);
        }
        tags.add(tag);
      }
      String id = service.replace('.', '_') + "_" + route.method().getName();
      int n = operationIds.merge(id, 1, Integer::sum);
      JsonObject operation = operation(route, n == 1 ? id : id + "_" + n, service);
      if (bearer.test(route.method())) {
        anyBearer = true;
        JsonArray security = new JsonArray();
        JsonObject scheme = new JsonObject();
        scheme.add("bearer", new JsonArray());
        security.add(scheme);
        operation.add("security", security);
      }
      String httpMethod = route.httpMethod().toLowerCase(java.util.Locale.ROOT);
      // OpenAPI 3.1 has no custom methods: a rule's custom kind is an extension of the path.
      item.add(STANDARD_METHODS.contains(httpMethod) ? httpMethod : "x-method-" + httpMethod,
          operation);
      paths.add(path, item);
    }
    doc.add("tags", tags);
    doc.add("paths", paths);
    schema(com.google.rpc.Status.getDescriptor());
    while (!pending.isEmpty()) {
      Descriptor next = pending.poll();
      schemas.put(next.getFullName(), messageSchema(next));
    }
    JsonObject components = new JsonObject();
    JsonObject all = new JsonObject();
    schemas.forEach(all::add);
    components.add("schemas", all);
    if (anyBearer) {
      JsonObject schemes = new JsonObject();
      JsonObject bearerScheme = new JsonObject();
      bearerScheme.addProperty("type", "http");
      bearerScheme.addProperty("scheme", "bearer");
      bearerScheme.addProperty("bearerFormat", "JWT");
      schemes.add("bearer", bearerScheme);
      components.add("securitySchemes", schemes);
    }
    doc.add("components", components);
    return new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create().toJson(doc);
  }

  // ---- Paths and operations -------------------------------------------------------------------

  /** The template with each variable as {@code {field.path}}; bare wildcards get names. */
  private static String openApiPath(PathTemplate template) {
    StringBuilder path = new StringBuilder();
    List<PathTemplate.Segment> segments = template.segments();
    int wildcard = 0;
    for (int i = 0; i < segments.size(); i++) {
      PathTemplate.Variable variable = variableAt(template, i);
      path.append('/');
      if (variable != null) {
        path.append('{').append(String.join(".", variable.fieldPath())).append('}');
        i = variable.end() - 1;
      } else if (segments.get(i).kind() == PathTemplate.Segment.Kind.LITERAL) {
        path.append(segments.get(i).literal());
      } else {
        path.append("{wildcard").append(++wildcard).append('}');
      }
    }
    if (template.verb() != null) {
      path.append(':').append(template.verb());
    }
    return path.toString();
  }

  private static PathTemplate.Variable variableAt(PathTemplate template, int segment) {
    for (PathTemplate.Variable variable : template.variables()) {
      if (variable.start() == segment) {
        return variable;
      }
    }
    return null;
  }

  private JsonObject operation(HttpRoute route, String id, String service) {
    MethodDescriptor method = route.method();
    JsonObject operation = new JsonObject();
    operation.addProperty("operationId", id);
    JsonArray tags = new JsonArray();
    tags.add(service);
    operation.add("tags", tags);
    String doc = comment(method.getFile(), List.of(6, method.getService().getIndex(), 2,
        method.getIndex()));
    operation.addProperty("summary", method.getService().getName() + "." + method.getName());
    operation.addProperty("description", (doc == null ? "" : doc + "\n\n") + "gRPC: "
        + route.grpcPath() + (method.isServerStreaming() ? " (server stream)" : "")
        + (method.isClientStreaming() ? " (client stream)" : ""));
    JsonArray parameters = new JsonArray();
    Set<FieldDescriptor> bound = new HashSet<>();
    for (PathTemplate.Variable variable : route.template().variables()) {
      List<FieldDescriptor> fields = fieldPath(method.getInputType(), variable.fieldPath());
      FieldDescriptor leaf = fields.get(fields.size() - 1);
      bound.add(fields.get(0));
      JsonObject parameter = new JsonObject();
      parameter.addProperty("name", String.join(".", variable.fieldPath()));
      parameter.addProperty("in", "path");
      parameter.addProperty("required", true);
      String described = fieldComment(leaf);
      if (variable.end() - variable.start() > 1 || variable.multiSegment()) {
        described = (described == null ? "" : described + " ") + "Matches "
            + shape(route.template(), variable) + " (slashes included).";
      }
      if (described != null) {
        parameter.addProperty("description", described);
      }
      parameter.add("schema", fieldSchema(leaf, false));
      parameters.add(parameter);
    }
    if (!route.bodyIsWholeRequest()) {
      if (route.bodyField() != null) {
        bound.add(route.bodyField());
      }
      queryParameters(method.getInputType(), "", bound, parameters, 0);
    }
    if (!parameters.isEmpty()) {
      operation.add("parameters", parameters);
    }
    if (route.hasBody()) {
      JsonObject schema = route.bodyField() == null ? ref(method.getInputType())
          : fieldSchema(route.bodyField(), true);
      JsonObject requestBody = new JsonObject();
      requestBody.addProperty("required", !route.bodyIsWholeRequest());
      JsonObject content = new JsonObject();
      if (route.clientStreaming()) {
        JsonObject array = new JsonObject();
        array.addProperty("type", "array");
        array.add("items", schema);
        content.add("application/json", media(array));
        content.add("application/x-ndjson", media(schema));
      } else {
        content.add("application/json", media(schema));
      }
      requestBody.add("content", content);
      operation.add("requestBody", requestBody);
    }
    JsonObject responses = new JsonObject();
    JsonObject ok = new JsonObject();
    ok.addProperty("description", method.isServerStreaming()
        ? "A stream of " + method.getOutputType().getName() + " messages"
        : "A " + method.getOutputType().getName());
    JsonObject content = new JsonObject();
    Descriptor output = method.getOutputType();
    FieldDescriptor responseField = route.responseBodyField();
    Descriptor payload = responseField != null && responseField.getJavaType()
        == FieldDescriptor.JavaType.MESSAGE ? responseField.getMessageType()
        : responseField == null ? output : null;
    if (payload != null && payload.getFullName().equals("google.api.HttpBody")) {
      JsonObject binary = new JsonObject();
      binary.addProperty("type", "string");
      binary.addProperty("contentMediaType", "application/octet-stream");
      content.add("*/*", media(binary));
    } else {
      JsonObject schema = responseField != null ? fieldSchema(responseField, true) : ref(output);
      if (method.isServerStreaming()) {
        content.add("application/x-ndjson", media(schema));
        JsonObject events = new JsonObject();
        events.addProperty("type", "string");
        events.addProperty("description", "Server-Sent Events, with Accept: text/event-stream:"
            + " one data: line per message");
        content.add("text/event-stream", media(events));
      } else {
        content.add("application/json", media(schema));
      }
    }
    ok.add("content", content);
    responses.add("200", ok);
    JsonObject error = new JsonObject();
    error.addProperty("description", "The call failed: its gRPC status as google.rpc.Status,"
        + " with the HTTP status of the code");
    JsonObject errorContent = new JsonObject();
    errorContent.add("application/json", media(refByName(STATUS)));
    error.add("content", errorContent);
    responses.add("default", error);
    operation.add("responses", responses);
    return operation;
  }

  private static String shape(PathTemplate template, PathTemplate.Variable variable) {
    StringBuilder shape = new StringBuilder();
    for (int i = variable.start(); i < variable.end(); i++) {
      if (shape.length() > 0) {
        shape.append('/');
      }
      shape.append(template.segments().get(i).shape());
    }
    return shape.toString();
  }

  private static List<FieldDescriptor> fieldPath(Descriptor type, List<String> names) {
    List<FieldDescriptor> fields = new ArrayList<>();
    Descriptor current = type;
    for (String name : names) {
      FieldDescriptor field = current.findFieldByName(name);
      fields.add(field);
      current = field.getJavaType() == FieldDescriptor.JavaType.MESSAGE
          ? field.getMessageType() : null;
    }
    return fields;
  }

  /** Query parameters: every scalar, enum or repeated scalar field, nested ones dotted. */
  private void queryParameters(Descriptor type, String prefix, Set<FieldDescriptor> bound,
      JsonArray parameters, int depth) {
    for (FieldDescriptor field : type.getFields()) {
      if (bound.contains(field)) {
        continue;
      }
      String name = prefix + field.getJsonName();
      if (field.getJavaType() == FieldDescriptor.JavaType.MESSAGE && !field.isMapField()) {
        WellKnown wkt = WellKnown.of(field.getMessageType());
        if (wkt == WellKnown.TIMESTAMP || wkt == WellKnown.DURATION
            || wkt == WellKnown.FIELD_MASK || wkt == WellKnown.WRAPPER) {
          parameters.add(queryParameter(name, field));
        } else if (!field.isRepeated() && depth < 3) {
          queryParameters(field.getMessageType(), name + ".", Set.of(), parameters, depth + 1);
        }
        continue;
      }
      if (!field.isMapField()) {
        parameters.add(queryParameter(name, field));
      }
    }
  }

  private JsonObject queryParameter(String name, FieldDescriptor field) {
    JsonObject parameter = new JsonObject();
    parameter.addProperty("name", name);
    parameter.addProperty("in", "query");
    String doc = fieldComment(field);
    if (doc != null) {
      parameter.addProperty("description", doc);
    }
    parameter.add("schema", fieldSchema(field, true));
    if (field.isRepeated()) {
      parameter.addProperty("explode", true);
    }
    return parameter;
  }

  private static JsonObject media(JsonObject schema) {
    JsonObject media = new JsonObject();
    media.add("schema", schema);
    return media;
  }

  // ---- Schemas --------------------------------------------------------------------------------

  private JsonObject ref(Descriptor type) {
    JsonObject inline = wellKnown(type);
    if (inline != null) {
      return inline; // well-known types are written out where they are used
    }
    schema(type);
    return refByName(type.getFullName());
  }

  private static JsonObject refByName(String name) {
    JsonObject ref = new JsonObject();
    ref.addProperty("$ref", "#/components/schemas/" + name);
    return ref;
  }

  private void schema(Descriptor type) {
    if (seen.add(type.getFullName())) {
      pending.add(type);
    }
  }

  private JsonObject messageSchema(Descriptor type) {
    JsonObject wkt = wellKnown(type);
    if (wkt != null) {
      return wkt;
    }
    JsonObject schema = new JsonObject();
    schema.addProperty("type", "object");
    String doc = messageComment(type);
    if (doc != null) {
      schema.addProperty("description", doc);
    }
    JsonObject properties = new JsonObject();
    for (FieldDescriptor field : type.getFields()) {
      JsonObject property = fieldSchema(field, true);
      String fieldDoc = fieldComment(field);
      OneofDescriptor oneof = field.getRealContainingOneof();
      if (oneof != null) {
        List<String> others = new ArrayList<>();
        for (FieldDescriptor member : oneof.getFields()) {
          others.add(member.getJsonName());
        }
        fieldDoc = (fieldDoc == null ? "" : fieldDoc + " ") + "At most one of " + others
            + " (oneof " + oneof.getName() + ").";
      }
      if (fieldDoc != null && !property.has("$ref")) {
        property.addProperty("description", fieldDoc);
      }
      properties.add(field.getJsonName(), property);
    }
    schema.add("properties", properties);
    return schema;
  }

  /** A field's schema; {@code repeated} arrays and maps included unless {@code element}. */
  private JsonObject fieldSchema(FieldDescriptor field, boolean whole) {
    if (whole && field.isMapField()) {
      JsonObject map = new JsonObject();
      map.addProperty("type", "object");
      map.add("additionalProperties", fieldSchema(field.getMessageType().findFieldByName(
          "value"), true));
      return map;
    }
    if (whole && field.isRepeated()) {
      JsonObject array = new JsonObject();
      array.addProperty("type", "array");
      array.add("items", fieldSchema(field, false));
      return array;
    }
    JsonObject schema = new JsonObject();
    switch (field.getType()) {
      case INT32, SINT32, SFIXED32 -> {
        schema.addProperty("type", "integer");
        schema.addProperty("format", "int32");
      }
      case UINT32, FIXED32 -> {
        schema.addProperty("type", "integer");
        schema.addProperty("format", "int32");
        schema.addProperty("minimum", 0);
      }
      case INT64, SINT64, SFIXED64, UINT64, FIXED64 -> {
        // The canonical JSON mapping writes 64-bit integers as strings (and reads both).
        schema.addProperty("type", "string");
        schema.addProperty("format", field.getType().name().contains("U") ? "uint64" : "int64");
      }
      case DOUBLE -> {
        schema.addProperty("type", "number");
        schema.addProperty("format", "double");
      }
      case FLOAT -> {
        schema.addProperty("type", "number");
        schema.addProperty("format", "float");
      }
      case BOOL -> schema.addProperty("type", "boolean");
      case STRING -> schema.addProperty("type", "string");
      case BYTES -> {
        schema.addProperty("type", "string");
        schema.addProperty("format", "byte");
        schema.addProperty("contentEncoding", "base64");
      }
      case ENUM -> {
        EnumDescriptor type = field.getEnumType();
        schema.addProperty("type", "string");
        JsonArray values = new JsonArray();
        for (EnumValueDescriptor value : type.getValues()) {
          values.add(value.getName());
        }
        schema.add("enum", values);
      }
      case MESSAGE, GROUP -> {
        return ref(field.getMessageType());
      }
      default -> throw new IllegalStateException("field type " + field.getType());
    }
    return schema;
  }

  /** The JSON form of a well-known type, or null for other messages. */
  private static JsonObject wellKnown(Descriptor type) {
    JsonObject schema = new JsonObject();
    switch (type.getFullName()) {
      case "google.protobuf.Timestamp" -> {
        schema.addProperty("type", "string");
        schema.addProperty("format", "date-time");
      }
      case "google.protobuf.Duration" -> {
        schema.addProperty("type", "string");
        schema.addProperty("description", "Seconds with up to 9 fractional digits and an s:"
            + " 1.5s");
      }
      case "google.protobuf.FieldMask" -> {
        schema.addProperty("type", "string");
        schema.addProperty("description", "Comma-separated lowerCamel field paths: a,b.c");
      }
      case "google.protobuf.Struct" -> schema.addProperty("type", "object");
      case "google.protobuf.Value" -> schema.addProperty("description", "Any JSON value");
      case "google.protobuf.ListValue" -> schema.addProperty("type", "array");
      case "google.protobuf.Empty" -> schema.addProperty("type", "object");
      case "google.protobuf.Any" -> {
        schema.addProperty("type", "object");
        JsonObject properties = new JsonObject();
        JsonObject typeUrl = new JsonObject();
        typeUrl.addProperty("type", "string");
        properties.add("@type", typeUrl);
        schema.add("properties", properties);
        schema.addProperty("additionalProperties", true);
      }
      case "google.protobuf.BoolValue" -> nullable(schema, "boolean", null);
      case "google.protobuf.StringValue" -> nullable(schema, "string", null);
      case "google.protobuf.BytesValue" -> nullable(schema, "string", "byte");
      case "google.protobuf.Int32Value", "google.protobuf.UInt32Value" ->
          nullable(schema, "integer", "int32");
      case "google.protobuf.Int64Value" -> nullable(schema, "string", "int64");
      case "google.protobuf.UInt64Value" -> nullable(schema, "string", "uint64");
      case "google.protobuf.DoubleValue" -> nullable(schema, "number", "double");
      case "google.protobuf.FloatValue" -> nullable(schema, "number", "float");
      default -> {
        return null;
      }
    }
    return schema;
  }

  private static void nullable(JsonObject schema, String type, String format) {
    JsonArray types = new JsonArray();
    types.add(type);
    types.add("null");
    schema.add("type", types);
    if (format != null) {
      schema.addProperty("format", format);
    }
  }

  // ---- Comments -------------------------------------------------------------------------------

  private String messageComment(Descriptor type) {
    List<Integer> path = messagePath(type);
    return path == null ? null : comment(type.getFile(), path);
  }

  private String fieldComment(FieldDescriptor field) {
    List<Integer> path = messagePath(field.getContainingType());
    if (path == null) {
      return null;
    }
    List<Integer> fieldPath = new ArrayList<>(path);
    fieldPath.add(2);
    fieldPath.add(field.getIndex());
    return comment(field.getFile(), fieldPath);
  }

  /** The source-info path of a message: 4, i for top level; then 3, j for each nesting. */
  private static List<Integer> messagePath(Descriptor type) {
    Deque<Integer> path = new ArrayDeque<>();
    Descriptor current = type;
    while (current.getContainingType() != null) {
      path.addFirst(current.getIndex());
      path.addFirst(3);
      current = current.getContainingType();
    }
    path.addFirst(current.getIndex());
    path.addFirst(4);
    return new ArrayList<>(path);
  }

  private String comment(FileDescriptor file, List<Integer> path) {
    Map<List<Integer>, String> byPath = comments.computeIfAbsent(file, f -> {
      Map<List<Integer>, String> map = new HashMap<>();
      for (DescriptorProtos.SourceCodeInfo.Location location
          : f.toProto().getSourceCodeInfo().getLocationList()) {
        String text = location.getLeadingComments().strip();
        if (!text.isEmpty()) {
          map.put(location.getPathList(), text.replaceAll("\\s*\\n\\s*", " "));
        }
      }
      return map;
    });
    return byPath.get(path);
  }
}
