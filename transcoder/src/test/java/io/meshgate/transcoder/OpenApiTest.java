package io.meshgate.transcoder;

import static io.meshgate.transcoder.Conformance.TABLE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.swagger.v3.parser.OpenAPIV3Parser;
import io.swagger.v3.parser.core.models.ParseOptions;
import io.swagger.v3.parser.core.models.SwaggerParseResult;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The OpenAPI document of the conformance routes, read back by swagger-parser. */
class OpenApiTest {
  private static final String DOCUMENT = OpenApi.document(TABLE, "Conformance", "1",
      method -> method.equals(TABLE.routes().get(0).method()));

  @Test
  void aRealParserReadsTheDocumentWithoutAnError() {
    ParseOptions options = new ParseOptions();
    options.setResolve(true);
    SwaggerParseResult result = new OpenAPIV3Parser().readContents(DOCUMENT, null, options);
    assertNotNull(result.getOpenAPI(), String.valueOf(result.getMessages()));
    assertEquals(List.of(), result.getMessages());
    assertEquals(TABLE.routes().stream().map(r -> r.httpMethod() + " " + path(r)).distinct()
        .count(), result.getOpenAPI().getPaths().values().stream()
        .mapToLong(item -> item.readOperations().size()).sum(), "one operation per binding");
  }

  private static String path(HttpRoute route) {
    return route.template().shape();
  }

  @Test
  void schemasFollowTheCanonicalJsonMapping() {
    JsonObject doc = JsonParser.parseString(DOCUMENT).getAsJsonObject();
    JsonObject schemas = doc.getAsJsonObject("components").getAsJsonObject("schemas");
    assertTrue(schemas.has("google.rpc.Status"), "the error schema");
    // Every field of every schema names a JSON type or a schema that exists.
    for (String name : schemas.keySet()) {
      JsonObject properties = schemas.getAsJsonObject(name).getAsJsonObject("properties");
      if (properties == null) {
        continue;
      }
      for (String field : properties.keySet()) {
        JsonObject property = properties.getAsJsonObject(field);
        String ref = property.has("$ref") ? property.get("$ref").getAsString()
            : property.has("items") && property.getAsJsonObject("items").has("$ref")
                ? property.getAsJsonObject("items").get("$ref").getAsString() : null;
        if (ref != null) {
          assertTrue(schemas.has(ref.substring(ref.lastIndexOf('/') + 1)), name + "." + field
              + " refers to " + ref);
        }
      }
    }
    String text = DOCUMENT;
    assertTrue(text.contains("\"format\": \"int64\""), "64-bit integers as strings");
    assertTrue(text.contains("\"format\": \"date-time\""), "Timestamp as RFC 3339");
    assertTrue(text.contains("\"bearerFormat\": \"JWT\""), "the bearer scheme of guarded methods");
  }

  @Test
  void realGoogleApisAreDocumentedWithoutAnError() throws Exception {
    // google.longrunning.Operations and google.cloud.location.Locations, as Google publishes
    // them (proto-google-common-protos), with their google.api.http rules.
    DescriptorPool pool = DescriptorPool.fromProtos(List.of(
        com.google.longrunning.OperationsProto.getDescriptor().toProto(),
        com.google.cloud.location.LocationsProto.getDescriptor().toProto()));
    HttpRouteTable table = HttpRouteTable.compile(pool);
    String json = OpenApi.document(table, "Google", "1", method -> true);
    SwaggerParseResult result = new OpenAPIV3Parser().readContents(json, null,
        new ParseOptions());
    assertNotNull(result.getOpenAPI(), String.valueOf(result.getMessages()));
    assertEquals(List.of(), result.getMessages());
    assertTrue(result.getOpenAPI().getPaths().containsKey("/v1/{name}"), json);
    assertTrue(table.routes().size() >= 6, "every binding: " + table.routes());
  }

  @Test
  void onlyTheIncludedMethodsBecomeOperations() {
    com.google.protobuf.Descriptors.MethodDescriptor first = TABLE.routes().get(0).method();
    JsonObject doc = JsonParser.parseString(OpenApi.document(TABLE, "Conformance", "1",
        method -> false, method -> method.equals(first))).getAsJsonObject();
    JsonObject paths = doc.getAsJsonObject("paths");
    long operations = TABLE.routes().stream().filter(r -> r.method().equals(first)).count();
    assertTrue(paths.size() >= 1 && paths.size() <= operations, paths.keySet().toString());
    for (String path : paths.keySet()) {
      for (var op : paths.getAsJsonObject(path).entrySet()) {
        if (op.getValue().isJsonObject() && op.getValue().getAsJsonObject().has("operationId")) {
          assertTrue(op.getValue().getAsJsonObject().get("operationId").getAsString()
              .endsWith(first.getName()) || op.getValue().getAsJsonObject()
              .get("operationId").getAsString().contains(first.getName() + "_"), op.toString());
        }
      }
    }
  }
}
