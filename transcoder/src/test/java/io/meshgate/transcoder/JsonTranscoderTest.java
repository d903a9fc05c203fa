package io.meshgate.transcoder;

import static io.meshgate.transcoder.Conformance.POOL;
import static io.meshgate.transcoder.Conformance.TABLE;
import static io.meshgate.transcoder.Conformance.TRANSCODER;
import static io.meshgate.transcoder.Conformance.request;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.DynamicMessage;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import com.google.rpc.ErrorInfo;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Requests built from paths, queries and bodies; responses printed; errors that name the field. */
class JsonTranscoderTest {
  private static TranscodingException failure(String method, String pathAndQuery, String body) {
    return assertThrows(TranscodingException.class, () -> request(method, pathAndQuery, body));
  }

  @Test
  void wholeMessagesGoBetweenJsonAndProtobuf() throws Exception {
    DescriptorPool pool = DescriptorPool.fromProtos(List.of(
        ErrorInfo.getDescriptor().getFile().toProto()));
    JsonTranscoder transcoder = new JsonTranscoder(pool);
    Descriptor type = pool.files().get("google/rpc/error_details.proto")
        .findMessageTypeByName("ErrorInfo");
    byte[] bytes = transcoder.message(type, "{\"reason\": \"GONE\", \"metadata\": {\"k\": \"v\"}}"
        .getBytes(StandardCharsets.UTF_8));
    assertEquals(ErrorInfo.newBuilder().setReason("GONE").putMetadata("k", "v").build(),
        ErrorInfo.parseFrom(bytes));
    assertEquals("{\"reason\":\"GONE\",\"metadata\":{\"k\":\"v\"}}", new String(
        transcoder.json(type, bytes, JsonOptions.DEFAULT), StandardCharsets.UTF_8));
    assertEquals(0, transcoder.message(type, "  ".getBytes(StandardCharsets.UTF_8)).length);
    TranscodingException wrong = assertThrows(TranscodingException.class,
        () -> transcoder.message(type, "{\"nope\": 1}".getBytes(
            StandardCharsets.UTF_8)));
    assertEquals(400, wrong.httpStatus());
  }

  @Test
  void queryParametersOfEveryType() throws Exception {
    assertEquals("Search(q: \"caf\\303\\251 & more\" page_size: 20 big: -9000000000"
        + " unsigned: 4000000000 big_unsigned: 18446744073709551615 exact: true ratio: 0.5"
        + " weight: 1.25 color: GREEN colors: RED colors: GREEN token: \"\\377\\376\""
        + " ids: 1 ids: 2 filter { field: \"f\" ids: 7 } since { seconds: 1794879330 }"
        + " within { seconds: 1 nanos: 500000000 } mask { paths: \"a\" paths: \"b.c\" }"
        + " limit { value: 5 } label { value: \"x\" } flag { value: true })",
        request("GET", "/v1/search?q=caf%C3%A9+%26+more&page_size=20&big=-9000000000"
            + "&unsigned=4000000000&bigUnsigned=18446744073709551615&exact=true&ratio=0.5"
            + "&weight=1.25&color=GREEN&colors=RED&colors=2&token=__4&ids=1&ids=2"
            + "&filter.field=f&filter.ids=7&since=2026-11-17T01:35:30Z&within=1.5s"
            + "&mask=a,b.c&limit=5&label=x&flag=true", null));
  }

  @Test
  void camelCaseFieldMasksAreConverted() throws Exception {
    assertEquals("Search(mask { paths: \"page_size\" paths: \"filter.field\" })",
        request("GET", "/v1/search?mask=pageSize,filter.field", null));
  }

  @Test
  void badQueryValuesNameTheParameterAndWhatWasExpected() {
    assertEquals("query parameter 'page_size': 'many' is not an int32 in range",
        failure("GET", "/v1/search?page_size=many", null).getMessage());
    assertEquals("query parameter 'page_size': '3000000000' is not an int32 in range",
        failure("GET", "/v1/search?page_size=3000000000", null).getMessage());
    assertEquals("query parameter 'exact': 'yes' is not a bool (true or false)",
        failure("GET", "/v1/search?exact=yes", null).getMessage());
    assertTrue(failure("GET", "/v1/search?color=BLUE", null).getMessage()
        .contains("'BLUE' is not one of COLOR_UNSPECIFIED, RED, GREEN"));
    assertTrue(failure("GET", "/v1/search?since=yesterday", null).getMessage()
        .contains("an RFC 3339 time"));
    assertTrue(failure("GET", "/v1/search?within=ages", null).getMessage()
        .contains("a duration in seconds"));
    assertEquals("query parameter 'page_size' is given more than once but is not a repeated"
        + " field", failure("GET", "/v1/search?page_size=1&page_size=2", null).getMessage());
    assertEquals(400, failure("GET", "/v1/search?token=%%%", null).httpStatus());
  }

  @Test
  void unknownQueryParametersAreRejectedUnlessTheRouteIgnoresThem() throws Exception {
    TranscodingException e = failure("GET", "/v1/search?nope=1", null);
    assertEquals(400, e.httpStatus());
    assertTrue(e.getMessage().startsWith("unknown query parameter 'nope'"), e.getMessage());
    assertTrue(failure("GET", "/v1/search?filter=1", null).getMessage()
        .contains("unknown query parameter 'filter'"), "a message is not a leaf");
    RouteMatch match = TABLE.match("GET", "/v1/search");
    Message ignored = Conformance.decode(match,
        TRANSCODER.request(match, "nope=1&q=x", new byte[0], null, true));
    assertEquals("x", ignored.getField(ignored.getDescriptorForType().findFieldByName("q")));
  }

  @Test
  void pathBoundFieldsCannotBeSetAgainFromTheQuery() {
    assertEquals("query parameter 'shelf' is already bound by the path",
        failure("GET", "/v1/shelves/s?shelf=t", null).getMessage());
  }

  @Test
  void starBodyTakesNoQueryParameters() {
    assertTrue(failure("POST", "/v1/shelves/s:archive?title=x", "{}").getMessage()
        .contains("every field of this request comes from the body"));
  }

  @Test
  void bodyFieldsAcceptOriginalAndCamelCaseNames() throws Exception {
    assertEquals("ArchiveShelf(shelf: \"s\" title: \"t\" inner { id: \"i\" })",
        request("POST", "/v1/shelves/s:archive", "{\"title\":\"t\",\"inner\":{\"id\":\"i\"}}"));
    assertEquals("Search(page_size: 3)",
        Conformance.request("GET", "/v1/search?pageSize=3", null));
  }

  @Test
  void pathVariablesOverrideTheBody() throws Exception {
    assertEquals("ArchiveShelf(shelf: \"from-path\")",
        request("POST", "/v1/shelves/from-path:archive", "{\"shelf\":\"from-body\"}"));
  }

  @Test
  void repeatedBodyField() throws Exception {
    assertEquals("PutTags(shelf: \"s\" tags: \"a\" tags: \"b\")",
        request("PUT", "/v1/tags/s", "[\"a\",\"b\"]"));
  }

  @Test
  void malformedJsonNamesTheProblem() {
    TranscodingException notJson = failure("POST", "/v1/shelves/s:archive", "{\"title\":");
    assertEquals(400, notJson.httpStatus());
    assertTrue(notJson.getMessage().startsWith("invalid JSON body"), notJson.getMessage());
    TranscodingException unknownField =
        failure("POST", "/v1/shelves/s:archive", "{\"colour\":\"red\"}");
    assertTrue(unknownField.getMessage().contains("colour"), unknownField.getMessage());
    TranscodingException wrongType =
        failure("POST", "/v1/shelves/s:archive", "{\"inner\":{\"count\":\"lots\"}}");
    assertTrue(wrongType.getMessage().contains("lots"), wrongType.getMessage());
    TranscodingException outOfRange =
        failure("POST", "/v1/shelves/s:archive", "{\"inner\":{\"count\":3000000000}}");
    assertTrue(outOfRange.getMessage().contains("3000000000"), outOfRange.getMessage());
  }

  private static byte[] bytes(String before, byte[] raw, String after) {
    byte[] a = before.getBytes(StandardCharsets.UTF_8);
    byte[] c = after.getBytes(StandardCharsets.UTF_8);
    byte[] all = new byte[a.length + raw.length + c.length];
    System.arraycopy(a, 0, all, 0, a.length);
    System.arraycopy(raw, 0, all, a.length, raw.length);
    System.arraycopy(c, 0, all, a.length + raw.length, c.length);
    return all;
  }

  @Test
  void invalidUtf8IsA400NamingTheField() {
    RouteMatch match = TABLE.match("POST", "/v1/shelves/s:archive");
    byte[] body = bytes("{\"inner\":{\"id\":\"ok", new byte[] {(byte) 0xff, (byte) 0xfe},
        "\"}}");
    TranscodingException e = assertThrows(TranscodingException.class,
        () -> TRANSCODER.request(match, null, body, "application/json", false));
    assertEquals(400, e.httpStatus());
    assertTrue(e.getMessage().startsWith("field 'inner.id': the request body is not valid"
        + " UTF-8 (byte 18"), e.getMessage());
    // An overlong encoding of '/' and a lone surrogate are not UTF-8 either.
    for (byte[] bad : List.of(new byte[] {(byte) 0xc0, (byte) 0xaf},
        new byte[] {(byte) 0xed, (byte) 0xa0, (byte) 0x80})) {
      assertThrows(TranscodingException.class, () -> TRANSCODER.request(match, null,
          bytes("{\"title\":\"", bad, "\"}"), "application/json", false));
    }
    RouteMatch stream = TABLE.match("POST", "/v1/shelves/s/books:batchAdd");
    TranscodingException inStream = assertThrows(TranscodingException.class,
        () -> TRANSCODER.requests(stream, null, bytes("[{\"title\":\"a\"},{\"title\":\"",
            new byte[] {(byte) 0x80}, "\"}]"), "application/json", false));
    assertTrue(inStream.getMessage().startsWith("field '[1].title'"), inStream.getMessage());
  }

  @Test
  void aReplacementCharacterSentAsSuchIsText() throws Exception {
    // U+FFFD written as its valid UTF-8 bytes (EF BF BD): text like any other.
    String message = request("POST", "/v1/shelves/s:archive", "{\"title\":\"\uFFFD ok\"}");
    assertTrue(message.contains("title: \"\\357\\277\\275 ok\""), message);
  }

  @Test
  void nonJsonBodyIsUnsupportedMediaType() throws Exception {
    RouteMatch match = TABLE.match("POST", "/v1/shelves/s:archive");
    TranscodingException e = assertThrows(TranscodingException.class, () -> TRANSCODER.request(
        match, null, "<xml/>".getBytes(StandardCharsets.UTF_8), "application/xml", false));
    assertEquals(415, e.httpStatus());
  }

  @Test
  void anyIsResolvedThroughTheDescriptors() throws Exception {
    String body = "{\"extra\":{\"@type\":\"type.googleapis.com/meshgate.conformance.v1.Item\","
        + "\"title\":\"inside\"}}";
    RouteMatch archive = TABLE.match("POST", "/v1/shelves/s:archive");
    Message message = Conformance.decode(archive, TRANSCODER.request(archive, null,
        body.getBytes(StandardCharsets.UTF_8), "application/json", false));
    Any extra = (Any) Any.parseFrom(((Message) message.getField(
        message.getDescriptorForType().findFieldByName("extra"))).toByteString());
    assertEquals("type.googleapis.com/meshgate.conformance.v1.Item", extra.getTypeUrl());
  }

  @Test
  void httpBodyRequestsAreRawBytesWithTheirContentType() throws Exception {
    byte[] png = {(byte) 0x89, 'P', 'N', 'G', 0, 1, 2};
    RouteMatch uploadMatch = TABLE.match("POST", "/v1/upload");
    Message upload = Conformance.decode(uploadMatch,
        TRANSCODER.request(uploadMatch, null, png, "image/png", false));
    assertEquals("image/png", upload.getField(upload.getDescriptorForType()
        .findFieldByName("content_type")));
    assertArrayEquals(png, ((ByteString) upload.getField(upload.getDescriptorForType()
        .findFieldByName("data"))).toByteArray());

    RouteMatch intoMatch = TABLE.match("POST", "/v1/uploads/logo");
    Message into = Conformance.decode(intoMatch,
        TRANSCODER.request(intoMatch, null, png, "image/png", false));
    assertTrue(into.toString().contains("name: \"logo\""), into.toString());
    assertTrue(into.toString().contains("content_type: \"image/png\""), into.toString());
  }

  private static byte[] item(String json) throws Exception {
    Descriptor type = POOL.message("meshgate.conformance.v1.Item");
    DynamicMessage.Builder builder = DynamicMessage.newBuilder(type);
    JsonFormat.parser().merge(json, builder);
    return builder.build().toByteArray();
  }

  private static HttpRoute route(String method, String path) {
    return TABLE.match(method, path).route();
  }

  @Test
  void responsesPrintWithTheConfiguredOptions() throws Exception {
    byte[] bytes = item("{\"shelf\":\"s\",\"inner\":{\"id\":\"i\"}}");
    HttpRoute route = route("GET", "/v1/shelves/s");
    assertEquals("{\"shelf\":\"s\",\"inner\":{\"id\":\"i\"}}",
        new String(TRANSCODER.response(route, bytes, JsonOptions.DEFAULT).bytes(),
            StandardCharsets.UTF_8));
    String all = new String(TRANSCODER.response(route, bytes,
        new JsonOptions(true, false, true)).bytes(), StandardCharsets.UTF_8);
    assertTrue(all.contains("\"title\":\"\"") && all.contains("\"tags\":[]"), all);
    assertTrue(all.contains("\"shelf\":\"s\""), all);
  }

  @Test
  void responseBodyPrintsOneField() throws Exception {
    byte[] bytes = item("{\"shelf\":\"s\",\"title\":\"Dune\",\"tags\":[\"a\",\"b\"]}");
    assertEquals("\"Dune\"", new String(TRANSCODER.response(route("GET", "/v1/titles/s"), bytes,
        JsonOptions.DEFAULT).bytes(), StandardCharsets.UTF_8));
    assertEquals("[\"a\",\"b\"]", new String(TRANSCODER.response(route("GET", "/v1/tags/s"),
        bytes, JsonOptions.DEFAULT).bytes(), StandardCharsets.UTF_8));
  }

  @Test
  void httpBodyResponsesAreRawBytes() throws Exception {
    byte[] httpBody = com.google.api.HttpBody.newBuilder().setContentType("text/csv")
        .setData(ByteString.copyFromUtf8("a,b\n1,2\n")).build().toByteArray();
    JsonTranscoder.Body body = TRANSCODER.response(route("GET", "/v1/download/x"), httpBody,
        JsonOptions.DEFAULT);
    assertEquals("text/csv", body.contentType());
    assertEquals("a,b\n1,2\n", new String(body.bytes(), StandardCharsets.UTF_8));
  }

  @Test
  void clientStreamsComeAsJsonArraysOrNewlineDelimitedJson() throws Exception {
    RouteMatch match = TABLE.match("POST", "/v1/shelves/s/books:batchAdd");
    List<byte[]> array = TRANSCODER.requests(match, null,
        "[{\"title\":\"a\"},{\"title\":\"b\"}]".getBytes(StandardCharsets.UTF_8),
        "application/json", false);
    List<byte[]> lines = TRANSCODER.requests(match, null,
        "{\"title\":\"a\"}\n{\"title\":\"b\"}\n".getBytes(StandardCharsets.UTF_8),
        "application/x-ndjson", false);
    assertEquals(2, array.size());
    assertEquals(2, lines.size());
    for (int i = 0; i < 2; i++) {
      assertEquals(Conformance.decode(match, array.get(i)), Conformance.decode(match,
          lines.get(i)));
    }
    assertTrue(Conformance.decode(match, array.get(1)).toString().contains("shelf: \"s\""),
        "path applies to each message");
    TranscodingException bad = assertThrows(TranscodingException.class, () ->
        TRANSCODER.requests(match, null, "[{\"title\":\"a\"},{\"titel\":\"b\"}]"
            .getBytes(StandardCharsets.UTF_8), "application/json", false));
    assertTrue(bad.getMessage().startsWith("message 1 of the stream"), bad.getMessage());
  }

  @Test
  void errorBodiesAreGoogleRpcStatusWithDetails() {
    com.google.rpc.Status status = com.google.rpc.Status.newBuilder().setCode(5)
        .setMessage("gone")
        .addDetails(Any.pack(ErrorInfo.newBuilder().setReason("R").setDomain("d").build()))
        .addDetails(Any.newBuilder().setTypeUrl("type.googleapis.com/unknown.Type")
            .setValue(ByteString.copyFromUtf8("x")))
        .build();
    String json = StatusJson.render(5, "gone", status.toByteArray(), POOL.typeRegistry());
    assertEquals("{\"code\":5,\"message\":\"gone\",\"details\":[{\"@type\":"
        + "\"type.googleapis.com/google.rpc.ErrorInfo\",\"reason\":\"R\",\"domain\":\"d\"},"
        + "{\"@type\":\"type.googleapis.com/unknown.Type\",\"value\":\"eA==\"}]}", json);
    assertEquals("{\"code\":14,\"message\":\"down\",\"details\":[]}",
        StatusJson.render(14, "down", null, POOL.typeRegistry()));
  }

  @Test
  void grpcStatusesMapToTheDesignTable() {
    int[] expected = {200, 499, 500, 400, 504, 404, 409, 403, 429, 400, 409, 400, 501, 500, 503,
        500, 401};
    for (int code = 0; code < expected.length; code++) {
      assertEquals(expected[code], StatusJson.httpStatus(code), "code " + code);
    }
    assertEquals(500, StatusJson.httpStatus(99));
  }
}
