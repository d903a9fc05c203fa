package io.meshgate.transcoder;

import static io.meshgate.transcoder.Conformance.POOL;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.gson.JsonParser;
import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.EnumDescriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.DynamicMessage;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The streaming JSON codec against protobuf-java-util on random messages of every field shape:
 * what it prints must be the same JSON as {@link JsonFormat}'s printer, and what it reads from
 * JSON must be the same message as {@link JsonFormat}'s parser makes. Seeded, so a failure
 * repeats.
 */
class JsonCodecDifferentialTest {
  private static final Descriptor EVERYTHING = POOL.message("meshgate.conformance.v1.Everything");
  private static final JsonToProto READER = new JsonToProto(POOL);
  private static final List<JsonOptions> OPTIONS = List.of(JsonOptions.DEFAULT,
      new JsonOptions(true, false, false), new JsonOptions(false, true, true),
      new JsonOptions(true, true, true));

  private static JsonFormat.Printer printer(JsonOptions options) {
    JsonFormat.Printer printer = JsonFormat.printer().usingTypeRegistry(POOL.typeRegistry());
    if (options.emitUnpopulated()) {
      printer = printer.alwaysPrintFieldsWithNoPresence();
    }
    if (options.enumsAsInts()) {
      printer = printer.printingEnumsAsInts();
    }
    if (options.originalFieldNames()) {
      printer = printer.preservingProtoFieldNames();
    }
    return printer;
  }

  private static final ProtoToJson WRITER = new ProtoToJson(JsonCodecDifferentialTest::printer);

  @Test
  void printsWhatJsonFormatPrints() throws Exception {
    Random random = new Random(20261124);
    for (int i = 0; i < 1500; i++) {
      DynamicMessage message = randomMessage(random, EVERYTHING, 0);
      for (JsonOptions options : OPTIONS) {
        String expected = printer(options).print(message);
        JsonOut out = new JsonOut(64);
        assertTrue(WRITER.print(EVERYTHING, message.toByteArray(), options, out),
            "canonical bytes print without a fallback");
        String actual = new String(out.toByteArray(), java.nio.charset.StandardCharsets.UTF_8);
        if (!JsonParser.parseString(expected).equals(JsonParser.parseString(actual))) {
          fail("message " + i + " with " + options + "\nexpected: " + expected + "\nactual:   "
              + actual);
        }
      }
    }
  }

  @Test
  void readsWhatJsonFormatReads() throws Exception {
    Random random = new Random(7);
    for (int i = 0; i < 1500; i++) {
      DynamicMessage message = randomMessage(random, EVERYTHING, 0);
      String json = printer(OPTIONS.get(i % OPTIONS.size())).print(message);
      ProtoWriter out = new ProtoWriter(64);
      READER.message(JsonToProto.reader(json), EVERYTHING, out);
      DynamicMessage read = DynamicMessage.parseFrom(EVERYTHING, out.toByteArray());
      DynamicMessage.Builder expected = DynamicMessage.newBuilder(EVERYTHING);
      JsonFormat.parser().usingTypeRegistry(POOL.typeRegistry()).merge(json, expected);
      if (!expected.build().equals(read)) {
        fail("message " + i + " from " + json + "\n" + firstDifference(expected.build(), read));
      }
    }
  }

  @Test
  void negativeZeroKeepsItsSign() throws Exception {
    // (protobuf-java-util's parser keeps it at the top level but not inside an Any; we keep it.)
    ProtoWriter out = new ProtoWriter(16);
    READER.message(JsonToProto.reader("{\"fDouble\":-0.0,\"rDouble\":[-0.0]}"), EVERYTHING, out);
    DynamicMessage read = DynamicMessage.parseFrom(EVERYTHING, out.toByteArray());
    assertEquals("-0.0", read.getField(EVERYTHING.findFieldByName("f_double")).toString());
    assertEquals("[-0.0]", read.getField(EVERYTHING.findFieldByName("r_double")).toString());
  }

  @Test
  void nonCanonicalBytesFallBackInsteadOfPrintingWrongly() throws Exception {
    // Field 3 after field 14, and field 3 twice: legal protobuf, not in serializer order.
    byte[] bytes = {(byte) 0x72, 1, 'x', 0x18, 5, 0x18, 7};
    JsonOut out = new JsonOut(64);
    assertEquals(false, WRITER.print(EVERYTHING, bytes, JsonOptions.DEFAULT, out));
    assertEquals(0, out.length());
  }

  /** The first line where the text forms of two messages differ. */
  private static String firstDifference(Message expected, Message actual) {
    String[] a = expected.toString().split("\n");
    String[] b = actual.toString().split("\n");
    for (int i = 0; i < Math.min(a.length, b.length); i++) {
      if (!a[i].equals(b[i])) {
        return "line " + i + ": expected '" + a[i] + "', actual '" + b[i] + "'";
      }
    }
    return "lengths " + a.length + " and " + b.length
        + (a.length == b.length ? " (equal text: " + expected.getAllFields().keySet() + ")" : "");
  }

  // ---- Random messages ---------------------------------------------------------------------

  static DynamicMessage randomMessage(Random random, Descriptor type, int depth) {
    DynamicMessage.Builder builder = DynamicMessage.newBuilder(type);
    for (FieldDescriptor field : type.getFields()) {
      if (random.nextInt(3) != 0) {
        continue;
      }
      if (field.getRealContainingOneof() != null
          && builder.hasOneof(field.getRealContainingOneof())) {
        continue;
      }
      if (field.isMapField()) {
        Descriptor entry = field.getMessageType();
        int n = random.nextInt(4);
        java.util.Set<Object> keys = new java.util.HashSet<>();
        for (int i = 0; i < n; i++) {
          Object key = randomValue(random, entry.findFieldByNumber(1), depth);
          Object value = randomValue(random, entry.findFieldByNumber(2), depth);
          if (value == null || !keys.add(key)) {
            continue;
          }
          builder.addRepeatedField(field, DynamicMessage.newBuilder(entry)
              .setField(entry.findFieldByNumber(1), key)
              .setField(entry.findFieldByNumber(2), value).build());
        }
      } else if (field.isRepeated()) {
        int n = random.nextInt(4);
        for (int i = 0; i < n; i++) {
          Object value = randomValue(random, field, depth);
          if (value != null) {
            builder.addRepeatedField(field, value);
          }
        }
      } else {
        Object value = randomValue(random, field, depth);
        if (value != null) {
          builder.setField(field, value);
        }
      }
    }
    return builder.build();
  }

  private static Object randomValue(Random random, FieldDescriptor field, int depth) {
    return switch (field.getType()) {
      case DOUBLE -> pick(random, 0.0, 1.5, -1e300, 3.0e-10, 42.0, Double.NaN,
          Double.POSITIVE_INFINITY, random.nextDouble() * 1e6);
      case FLOAT -> pick(random, 0f, 0.1f, -2.5f, 3.4e38f, 1e-7f, Float.NEGATIVE_INFINITY,
          random.nextFloat());
      case INT32, SINT32, SFIXED32 -> pick(random, 0, 1, -1, Integer.MAX_VALUE,
          Integer.MIN_VALUE, random.nextInt());
      case UINT32, FIXED32 -> pick(random, 0, 1, -1, random.nextInt());
      case INT64, SINT64, SFIXED64, UINT64, FIXED64 -> pick(random, 0L, 1L, -1L,
          Long.MAX_VALUE, Long.MIN_VALUE, 9007199254740993L, random.nextLong());
      case BOOL -> random.nextBoolean();
      case STRING -> pick(random, "", "a", "héllo \"quoted\" \\ back\nslash", "\u0001\u001f",
          "日本語 😀", "<script>&amp;</script>", "\u2028");
      case BYTES -> {
        byte[] bytes = new byte[random.nextInt(6)];
        random.nextBytes(bytes);
        yield ByteString.copyFrom(bytes);
      }
      case ENUM -> {
        EnumDescriptor type = field.getEnumType();
        yield type.getValues().get(random.nextInt(type.getValues().size()));
      }
      case MESSAGE -> depth >= 3 ? null : randomMessageValue(random, field.getMessageType(),
          depth + 1);
      default -> throw new IllegalStateException(field.getType().name());
    };
  }

  private static Message randomMessageValue(Random random, Descriptor type, int depth) {
    String name = type.getFullName();
    Message generated = switch (name) {
      case "google.protobuf.Timestamp" -> com.google.protobuf.Timestamp.newBuilder()
          .setSeconds(random.nextInt(2_000_000_000)).setNanos(pick(random, 0, 5_000_000, 123))
          .build();
      case "google.protobuf.Duration" -> com.google.protobuf.Duration.newBuilder()
          .setSeconds(random.nextInt(100_000) - 50_000 > 0 ? random.nextInt(1000) : 0)
          .setNanos(pick(random, 0, 500_000_000, 1)).build();
      case "google.protobuf.FieldMask" -> com.google.protobuf.FieldMask.newBuilder()
          .addPaths("display_name").addPaths("a.b_c").build();
      case "google.protobuf.Struct" -> com.google.protobuf.Struct.newBuilder()
          .putFields("n", com.google.protobuf.Value.newBuilder().setNumberValue(1.5).build())
          .putFields("s", com.google.protobuf.Value.newBuilder().setStringValue("x").build())
          .putFields("z", com.google.protobuf.Value.newBuilder().setNullValueValue(0).build())
          .build();
      case "google.protobuf.Value" -> pick(random,
          com.google.protobuf.Value.newBuilder().setBoolValue(true).build(),
          com.google.protobuf.Value.newBuilder().setNullValueValue(0).build(),
          com.google.protobuf.Value.newBuilder().setListValue(com.google.protobuf.ListValue
              .newBuilder().addValues(com.google.protobuf.Value.newBuilder()
                  .setNumberValue(2))).build());
      case "google.protobuf.ListValue" -> com.google.protobuf.ListValue.newBuilder()
          .addValues(com.google.protobuf.Value.newBuilder().setStringValue("a")).build();
      case "google.protobuf.Any" -> pick(random,
          Any.pack(com.google.protobuf.Duration.newBuilder().setSeconds(3).build()),
          Any.newBuilder().setTypeUrl("type.googleapis.com/meshgate.conformance.v1.Everything")
              .setValue(randomMessage(random, EVERYTHING, 3).toByteString()).build());
      default -> null;
    };
    if (generated != null) {
      try {
        return DynamicMessage.parseFrom(type, generated.toByteString());
      } catch (InvalidProtocolBufferException e) {
        throw new IllegalStateException(e);
      }
    }
    if (WellKnown.of(type) == WellKnown.WRAPPER) {
      FieldDescriptor value = type.findFieldByNumber(1);
      return DynamicMessage.newBuilder(type).setField(value, randomValue(random, value, depth))
          .build();
    }
    return randomMessage(random, type, depth);
  }

  @SafeVarargs
  private static <T> T pick(Random random, T... choices) {
    return choices[random.nextInt(choices.length)];
  }
}
