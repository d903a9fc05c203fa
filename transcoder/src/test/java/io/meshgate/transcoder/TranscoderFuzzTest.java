package io.meshgate.transcoder;

import static io.meshgate.transcoder.Conformance.POOL;
import static io.meshgate.transcoder.Conformance.TABLE;
import static io.meshgate.transcoder.Conformance.TRANSCODER;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Random and malformed input against the parsers a client reaches: JSON bodies, query strings,
 * request paths, path templates, and response bytes. The contract: a clean
 * {@link TranscodingException} (a 400) or a result — never another exception (a 500), never a
 * hang, never an allocation out of proportion to the input.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class TranscoderFuzzTest {
  private static final Descriptor EVERYTHING = POOL.message("meshgate.conformance.v1.Everything");
  private static final JsonToProto READER = new JsonToProto(POOL);
  private static final String JSON_CHARS = "{}[]\",:\\ 0123456789.eE+-tnfurl@/";

  private static void read(String json) throws TranscodingException {
    READER.message(JsonToProto.reader(json), EVERYTHING, new ProtoWriter(64));
  }

  /** Reads {@code json}: a result or a TranscodingException, nothing else. */
  private static void readSafely(String json) {
    try {
      read(json);
    } catch (TranscodingException e) {
      assertTrue(e.httpStatus() == 400, e.getMessage());
    } catch (RuntimeException | StackOverflowError e) {
      throw new AssertionError("input " + abbreviate(json) + " threw " + e, e);
    }
  }

  private static String abbreviate(String text) {
    return text.length() < 300 ? text : text.substring(0, 300) + "...(" + text.length() + ")";
  }

  @Test
  void mutatedJsonIsReadOrRejectedCleanly() throws Exception {
    Random random = new Random(99);
    JsonFormat.Printer printer = JsonFormat.printer().usingTypeRegistry(POOL.typeRegistry());
    int rejected = 0;
    for (int i = 0; i < 4000; i++) {
      String valid = printer.print(JsonCodecDifferentialTest.randomMessage(random, EVERYTHING,
          1));
      StringBuilder json = new StringBuilder(valid);
      int mutations = 1 + random.nextInt(3);
      for (int m = 0; m < mutations && json.length() > 0; m++) {
        int at = random.nextInt(json.length());
        switch (random.nextInt(5)) {
          case 0 -> json.deleteCharAt(at);
          case 1 -> json.insert(at, JSON_CHARS.charAt(random.nextInt(JSON_CHARS.length())));
          case 2 -> json.insert(at, (char) random.nextInt(0x3000));
          case 3 -> json.setLength(at);
          default -> {
            int end = Math.min(json.length(), at + random.nextInt(20));
            json.insert(at, json.substring(at, end));
          }
        }
      }
      try {
        read(json.toString());
      } catch (TranscodingException e) {
        rejected++;
        assertTrue(!e.getMessage().contains("at com.") && !e.getMessage().contains("at java."),
            "no stack trace in: " + e.getMessage());
      } catch (RuntimeException e) {
        throw new AssertionError("input " + abbreviate(json.toString()) + " threw " + e, e);
      }
    }
    assertTrue(rejected > 2000, "most mutations are invalid: " + rejected);
  }

  @Test
  void randomTextIsRejectedCleanly() {
    Random random = new Random(3);
    for (int i = 0; i < 3000; i++) {
      char[] chars = new char[random.nextInt(40)];
      for (int c = 0; c < chars.length; c++) {
        chars[c] = random.nextBoolean() ? JSON_CHARS.charAt(random.nextInt(JSON_CHARS.length()))
            : (char) random.nextInt(0x80);
      }
      readSafely(new String(chars));
    }
  }

  @Test
  void pathologicalBodiesAreRejectedQuicklyAndCheaply() {
    int n = 200_000;
    String[] inputs = {
        "[".repeat(n),
        "{\"child\":".repeat(n),
        "{\"wValue\":" + "[".repeat(n),
        "{\"wValue\":" + "{\"a\":".repeat(n),
        "{\"fInt32\":1e999999999}",
        "{\"fInt64\":1e-999999999}",
        "{\"fUint64\":\"1" + "0".repeat(n) + "\"}",
        "{\"fDouble\":1" + "0".repeat(n) + "}",
        "{\"rInt32\":[" + "1,".repeat(n) + "x]}",
        "{\"fString\":\"" + "\\u00".repeat(n) + "\"}",
        "{\"wAny\":" + "{\"@type\":\"type.googleapis.com/google.protobuf.Any\",\"value\":"
            .repeat(2000) + "{}" + "}".repeat(2000) + "}",
        "{\"fBytes\":\"" + "%".repeat(n) + "\"}",
        "{\"mString\":{" + "\"k\":\"v\",".repeat(3) + "\"k\":\"v\"}}",
    };
    for (String input : inputs) {
      long before = allocatedBytes();
      TranscodingException e = assertThrows(TranscodingException.class, () -> read(input),
          abbreviate(input));
      long allocated = allocatedBytes() - before;
      assertEquals(400, e.httpStatus());
      assertTrue(allocated < 64L * input.length() + (8 << 20), "reading "
          + abbreviate(input) + " allocated " + allocated + " bytes");
    }
  }

  private static long allocatedBytes() {
    return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean())
        .getThreadAllocatedBytes(Thread.currentThread().getId());
  }

  @Test
  void randomQueryStringsAreBoundOrRejectedCleanly() {
    Random random = new Random(5);
    String[] names = {"q", "page_size", "pageSize", "big", "unsigned", "exact", "ratio", "color",
        "colors", "token", "ids", "filter.field", "filter.ids", "since", "within", "mask",
        "limit", "label", "flag", "labels", "nope", "filter", "filter.nope", "", ".", "a..b"};
    String[] values = {"", "1", "-1", "x", "%", "%zz", "%e2%82", "true", "1e3", "RED", "9"
        .repeat(30), "2026-11-24T10:00:00Z", "1.5s", "a,b", "AAE=", "__-_", "+", "&", "="};
    RouteMatch match = TABLE.match("GET", "/v1/search");
    for (int i = 0; i < 3000; i++) {
      StringBuilder query = new StringBuilder();
      int n = random.nextInt(4);
      for (int p = 0; p < n; p++) {
        query.append(p == 0 ? "" : "&").append(names[random.nextInt(names.length)]);
        if (random.nextInt(5) != 0) {
          query.append('=').append(values[random.nextInt(values.length)]);
        }
      }
      try {
        TRANSCODER.request(match, query.toString(), new byte[0], null, random.nextBoolean());
      } catch (TranscodingException e) {
        assertEquals(400, e.httpStatus(), e.getMessage());
      } catch (RuntimeException e) {
        throw new AssertionError("query " + query + " threw " + e, e);
      }
    }
  }

  @Test
  void randomPathsMatchOrMissCleanly() {
    Random random = new Random(11);
    String[] segments = {"v1", "shelves", "books", "s", "special", "files", "a", "%2F", "%",
        "%zz", "x:archive", ":watch", "", "..", "%E2%82%AC", "b:batchAdd", "nested", "v2"};
    String[] methods = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "BREW"};
    for (int i = 0; i < 5000; i++) {
      StringBuilder path = new StringBuilder(random.nextInt(10) == 0 ? "" : "/");
      int n = random.nextInt(7);
      for (int s = 0; s < n; s++) {
        path.append(s == 0 ? "" : "/").append(segments[random.nextInt(segments.length)]);
      }
      RouteMatch match = TABLE.match(methods[random.nextInt(methods.length)], path.toString());
      if (match.kind() == RouteMatch.Kind.FOUND) {
        assertEquals(match.route().template().variables().size(), match.variables().size());
      }
    }
  }

  @Test
  void randomTemplatesParseOrFailWithAReason() {
    Random random = new Random(13);
    String alphabet = "/{}=*:.abc_1-%";
    for (int i = 0; i < 5000; i++) {
      char[] chars = new char[1 + random.nextInt(24)];
      for (int c = 0; c < chars.length; c++) {
        chars[c] = alphabet.charAt(random.nextInt(alphabet.length()));
      }
      String template = (random.nextBoolean() ? "/" : "") + new String(chars);
      try {
        PathTemplate.parse(template);
      } catch (IllegalArgumentException e) {
        assertTrue(e.getMessage() != null && !e.getMessage().isEmpty(), template);
      } catch (RuntimeException e) {
        throw new AssertionError("template " + template + " threw " + e, e);
      }
    }
  }

  @Test
  void randomResponseBytesPrintOrFailAsInvalidProtobuf() {
    Random random = new Random(17);
    ProtoToJson writer = new ProtoToJson(options -> JsonFormat.printer()
        .usingTypeRegistry(POOL.typeRegistry()));
    for (int i = 0; i < 5000; i++) {
      byte[] bytes = new byte[random.nextInt(64)];
      random.nextBytes(bytes);
      try {
        writer.print(EVERYTHING, bytes, JsonOptions.DEFAULT, new JsonOut(64));
      } catch (InvalidProtocolBufferException e) {
        // The expected failure.
      } catch (RuntimeException e) {
        fail("bytes " + java.util.HexFormat.of().formatHex(bytes) + " threw " + e, e);
      }
    }
  }

  @Test
  void bodiesThroughTheRouteTableNeverFailOtherwise() {
    Random random = new Random(19);
    RouteMatch archive = TABLE.match("POST", "/v1/shelves/s:archive");
    RouteMatch tags = TABLE.match("PUT", "/v1/tags/s");
    RouteMatch batch = TABLE.match("POST", "/v1/shelves/s/books:batchAdd");
    String[] bodies = {"", " ", "{}", "[]", "null", "{\"title\":1}", "[\"a\",", "{\"a\":}",
        "{\"extra\":{\"@type\":\"nope\"}}", "{\"extra\":{}}", "[{}]\n{}", "{}\n{}\n", "\"s\"",
        "{\"inner\":{\"count\":\"1e2\"}}", "{\"title\":\"\\ud800\"}", "{} {}"};
    for (int i = 0; i < 2000; i++) {
      String body = bodies[random.nextInt(bodies.length)];
      byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
      for (RouteMatch match : new RouteMatch[] {archive, tags}) {
        try {
          TRANSCODER.request(match, null, bytes, "application/json", false);
        } catch (TranscodingException e) {
          assertEquals(400, e.httpStatus(), e.getMessage());
        }
      }
      try {
        TRANSCODER.requests(batch, null, bytes, "application/json", false);
      } catch (TranscodingException e) {
        assertEquals(400, e.httpStatus(), e.getMessage());
      }
    }
  }
}
