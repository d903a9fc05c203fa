package io.meshgate.transcoder;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.EnumValueDescriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.DynamicMessage;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.WireFormat;
import com.google.protobuf.util.Durations;
import com.google.protobuf.util.JsonFormat;
import com.google.protobuf.util.Timestamps;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Base64;
import java.util.Comparator;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * Prints protobuf wire format as protobuf's canonical JSON straight from the bytes, with no
 * message tree in between, producing what {@code protobuf-java-util}'s printer would (same field
 * order, names, number and enum forms; {@code Any}, {@code Struct} and the rest of the
 * well-known types included).
 *
 * <p>It relies on the bytes being in the order protobuf serializers write them: fields by
 * increasing number, each singular field once. Bytes that are not (a legal but rare encoding)
 * make {@link #print} return null, and the caller prints through a parsed message instead.
 * Thread-safe.
 */
final class ProtoToJson {
  private static final int MAX_DEPTH = 100;

  /** Thrown inside a print when the bytes are not in canonical order; never escapes. */
  private static final class NotCanonical extends RuntimeException {
    NotCanonical() {
      super(null, null, false, false);
    }
  }

  private static final NotCanonical NOT_CANONICAL = new NotCanonical();

  private final Function<JsonOptions, JsonFormat.Printer> printers;
  private final Map<Descriptor, FieldDescriptor[]> sortedFields = new ConcurrentHashMap<>();

  /** @param printers the pool's JsonFormat printers, for the rarer well-known types */
  ProtoToJson(Function<JsonOptions, JsonFormat.Printer> printers) {
    this.printers = printers;
  }

  /**
   * Appends the JSON of a message of {@code type} to {@code out}.
   *
   * @return false (and {@code out} as it was) when the bytes are not in canonical order
   * @throws InvalidProtocolBufferException when the bytes are not a message of that type
   */
  boolean print(Descriptor type, byte[] bytes, JsonOptions options, JsonOut out)
      throws InvalidProtocolBufferException {
    int start = out.length();
    try {
      CodedInputStream in = CodedInputStream.newInstance(bytes);
      in.enableAliasing(true); // strings are copied from the input, not out of fresh arrays
      new Call(options, out).message(type, in, 0);
      return true;
    } catch (NotCanonical e) {
      out.truncate(start);
      return false;
    } catch (InvalidProtocolBufferException e) {
      throw e;
    } catch (IOException | IllegalArgumentException e) {
      throw new InvalidProtocolBufferException(e.getMessage());
    }
  }

  private FieldDescriptor[] sorted(Descriptor type) {
    return sortedFields.computeIfAbsent(type, t -> {
      FieldDescriptor[] fields = t.getFields().toArray(new FieldDescriptor[0]);
      Arrays.sort(fields, Comparator.comparingInt(FieldDescriptor::getNumber));
      return fields;
    });
  }

  private final class Call {
    private final JsonOptions options;
    private final JsonOut out;

    Call(JsonOptions options, JsonOut out) {
      this.options = options;
      this.out = out;
    }

    void message(Descriptor type, CodedInputStream in, int depth) throws IOException {
      if (depth > MAX_DEPTH) {
        throw new InvalidProtocolBufferException("messages nested more than " + MAX_DEPTH
            + " deep");
      }
      WellKnown kind = WellKnown.of(type);
      if (kind != WellKnown.NONE) {
        wellKnown(kind, type, in, depth);
        return;
      }
      out.append('{');
      FieldDescriptor[] fields = sorted(type);
      int nextDefault = 0; // index in fields of the next field to consider for emitUnpopulated
      int lastNumber = 0;
      FieldDescriptor open = null; // a repeated field whose array (or map) is open
      boolean firstElement = false;
      Set<String> mapKeys = null;
      boolean first = true;
      while (true) {
        int tag = in.readTag();
        if (tag == 0) {
          break;
        }
        int number = WireFormat.getTagFieldNumber(tag);
        FieldDescriptor field = type.findFieldByNumber(number);
        if (field == null) {
          in.skipField(tag); // unknown fields are not printed
          continue;
        }
        int wireType = WireFormat.getTagWireType(tag);
        if (number < lastNumber || (number == lastNumber && !field.isRepeated())
            || (wireType != JsonToProto.wireType(field)
                && !(wireType == WireFormat.WIRETYPE_LENGTH_DELIMITED && field.isPackable()))) {
          // Out of order, repeated, or not the field's wire type (groups among them): the
          // parsed message decides what it means.
          throw NOT_CANONICAL;
        }
        if (number != lastNumber) {
          if (open != null) {
            out.append(open.isMapField() ? '}' : ']');
            open = null;
          }
          if (options.emitUnpopulated()) {
            while (nextDefault < fields.length && fields[nextDefault].getNumber() < number) {
              first = printDefault(fields[nextDefault++], first);
            }
            nextDefault++;
          }
          lastNumber = number;
          if (field.isRepeated()) {
            first = name(field, first);
            out.append(field.isMapField() ? '{' : '[');
            open = field;
            firstElement = true;
            mapKeys = field.isMapField() ? new HashSet<>() : null;
          }
        }
        if (field.isMapField()) {
          if (!firstElement) {
            out.append(',');
          }
          firstElement = false;
          mapEntry(field, in, depth, mapKeys);
        } else if (field.isRepeated()) {
          if (WireFormat.getTagWireType(tag) == WireFormat.WIRETYPE_LENGTH_DELIMITED
              && field.isPackable()) {
            int limit = in.pushLimit(in.readRawVarint32());
            while (in.getBytesUntilLimit() > 0) {
              if (!firstElement) {
                out.append(',');
              }
              firstElement = false;
              value(field, in, depth);
            }
            in.popLimit(limit);
          } else {
            if (!firstElement) {
              out.append(',');
            }
            firstElement = false;
            value(field, in, depth);
          }
        } else if (field.getJavaType() == FieldDescriptor.JavaType.MESSAGE
            || field.hasPresence()) {
          first = name(field, first);
          value(field, in, depth);
        } else {
          // A field without presence is printed only when it is not the default.
          int mark = out.length();
          boolean wasFirst = first;
          first = name(field, first);
          int valueStart = out.length();
          value(field, in, depth);
          if (!options.emitUnpopulated() && isDefaultText(field, valueStart)) {
            out.truncate(mark);
            first = wasFirst;
          }
        }
      }
      if (open != null) {
        out.append(open.isMapField() ? '}' : ']');
      }
      if (options.emitUnpopulated()) {
        while (nextDefault < fields.length) {
          first = printDefault(fields[nextDefault++], first);
        }
      }
      out.append('}');
    }

    /** Whether the value printed from {@code start} is the field's default. */
    private boolean isDefaultText(FieldDescriptor field, int start) {
      String defaultText = defaultText(field);
      if (out.length() - start != defaultText.length()) {
        return false;
      }
      for (int i = 0; i < defaultText.length(); i++) {
        if (out.byteAt(start + i) != defaultText.charAt(i)) {
          return false;
        }
      }
      return true;
    }

    /** How a scalar field's default value prints. */
    private String defaultText(FieldDescriptor field) {
      return switch (field.getType()) {
        case STRING, BYTES -> "\"\"";
        case BOOL -> "false";
        case FLOAT, DOUBLE -> "0.0";
        case INT64, SINT64, SFIXED64, UINT64, FIXED64 -> "\"0\"";
        case ENUM -> {
          if (field.getEnumType().getFullName().equals("google.protobuf.NullValue")) {
            yield "null";
          }
          EnumValueDescriptor zero = field.getEnumType().findValueByNumber(0);
          yield options.enumsAsInts() || zero == null ? "0" : "\"" + zero.getName() + "\"";
        }
        default -> "0";
      };
    }

    private boolean name(FieldDescriptor field, boolean first) {
      if (!first) {
        out.append(',');
      }
      out.append('"').ascii(options.originalFieldNames() ? field.getName()
          : field.getJsonName()).ascii("\":");
      return false;
    }

    /** Prints a field that is absent as its default, if it has no presence. */
    private boolean printDefault(FieldDescriptor field, boolean first) {
      if (field.hasPresence() && !field.isRepeated()) {
        return first;
      }
      first = name(field, first);
      if (field.isMapField()) {
        out.ascii("{}");
      } else if (field.isRepeated()) {
        out.ascii("[]");
      } else {
        out.utf8(defaultText(field));
      }
      return first;
    }

    private void mapEntry(FieldDescriptor field, CodedInputStream in, int depth,
        Set<String> keys) throws IOException {
      Descriptor entry = field.getMessageType();
      FieldDescriptor keyField = entry.findFieldByNumber(1);
      FieldDescriptor valueField = entry.findFieldByNumber(2);
      int limit = in.pushLimit(in.readRawVarint32());
      String key = null;
      byte[] value = null;
      int valueTag = 0;
      while (true) {
        int tag = in.readTag();
        if (tag == 0) {
          break;
        }
        int number = WireFormat.getTagFieldNumber(tag);
        if (number == 1) {
          key = mapKey(keyField, in);
        } else if (number == 2) {
          valueTag = tag;
          value = rawValue(tag, in);
        } else {
          in.skipField(tag);
        }
      }
      in.popLimit(limit);
      if (key == null) {
        key = defaultKey(keyField);
      }
      if (!keys.add(key)) {
        throw NOT_CANONICAL; // a key given twice: the last wins, as a parsed map would have it
      }
      out.string(key);
      out.append(':');
      if (value == null) {
        printDefaultValue(valueField);
      } else {
        if (WireFormat.getTagWireType(valueTag) != JsonToProto.wireType(valueField)) {
          throw NOT_CANONICAL;
        }
        value(valueField, CodedInputStream.newInstance(value), depth);
      }
    }

    private void printDefaultValue(FieldDescriptor field) throws IOException {
      if (field.getJavaType() == FieldDescriptor.JavaType.MESSAGE) {
        message(field.getMessageType(), CodedInputStream.newInstance(new byte[0]), 0);
        return;
      }
      out.utf8(defaultText(field));
    }

    /** The bytes of one value (for a length-delimited one, with its length read off). */
    private byte[] rawValue(int tag, CodedInputStream in) throws IOException {
      ProtoWriter writer = new ProtoWriter(16);
      switch (WireFormat.getTagWireType(tag)) {
        case WireFormat.WIRETYPE_VARINT -> writer.varint64(in.readRawVarint64());
        case WireFormat.WIRETYPE_FIXED32 -> writer.fixed32(in.readRawLittleEndian32());
        case WireFormat.WIRETYPE_FIXED64 -> writer.fixed64(in.readRawLittleEndian64());
        case WireFormat.WIRETYPE_LENGTH_DELIMITED -> {
          // Keep the length: value() reads a length-delimited value with its length.
          writer.bytes(in.readByteArray());
        }
        default -> throw NOT_CANONICAL;
      }
      return writer.toByteArray();
    }

    private String mapKey(FieldDescriptor keyField, CodedInputStream in) throws IOException {
      return switch (keyField.getType()) {
        case STRING -> in.readString();
        case BOOL -> in.readBool() ? "true" : "false";
        case INT32 -> Integer.toString(in.readInt32());
        case SINT32 -> Integer.toString(in.readSInt32());
        case SFIXED32 -> Integer.toString(in.readSFixed32());
        case UINT32 -> Integer.toUnsignedString(in.readUInt32());
        case FIXED32 -> Integer.toUnsignedString(in.readFixed32());
        case INT64 -> Long.toString(in.readInt64());
        case SINT64 -> Long.toString(in.readSInt64());
        case SFIXED64 -> Long.toString(in.readSFixed64());
        case UINT64 -> Long.toUnsignedString(in.readUInt64());
        case FIXED64 -> Long.toUnsignedString(in.readFixed64());
        default -> throw new InvalidProtocolBufferException("invalid map key type "
            + keyField.getType());
      };
    }

    private String defaultKey(FieldDescriptor keyField) {
      return switch (keyField.getType()) {
        case STRING -> "";
        case BOOL -> "false";
        default -> "0";
      };
    }

    /** One value of a field (an element, for a repeated field). */
    private void value(FieldDescriptor field, CodedInputStream in, int depth) throws IOException {
      switch (field.getType()) {
        case INT32 -> out.ascii(Integer.toString(in.readInt32()));
        case SINT32 -> out.ascii(Integer.toString(in.readSInt32()));
        case SFIXED32 -> out.ascii(Integer.toString(in.readSFixed32()));
        case UINT32 -> out.ascii(Integer.toUnsignedString(in.readUInt32()));
        case FIXED32 -> out.ascii(Integer.toUnsignedString(in.readFixed32()));
        case INT64 -> quoted(Long.toString(in.readInt64()));
        case SINT64 -> quoted(Long.toString(in.readSInt64()));
        case SFIXED64 -> quoted(Long.toString(in.readSFixed64()));
        case UINT64 -> quoted(Long.toUnsignedString(in.readUInt64()));
        case FIXED64 -> quoted(Long.toUnsignedString(in.readFixed64()));
        case BOOL -> out.ascii(in.readBool() ? "true" : "false");
        case FLOAT -> floatValue(in.readFloat());
        case DOUBLE -> doubleValue(in.readDouble());
        case STRING -> {
          ByteBuffer utf8 = in.readByteBuffer();
          if (utf8.hasArray()) {
            out.string(utf8.array(), utf8.arrayOffset() + utf8.position(), utf8.remaining());
          } else {
            byte[] copy = new byte[utf8.remaining()];
            utf8.get(copy);
            out.string(copy, 0, copy.length);
          }
        }
        case BYTES -> {
          ByteBuffer data = in.readByteBuffer();
          out.append('"').bytes(Base64.getEncoder().encode(data).array()).append('"');
        }
        case ENUM -> enumValue(field, in.readEnum());
        case MESSAGE -> {
          int limit = in.pushLimit(in.readRawVarint32());
          message(field.getMessageType(), in, depth + 1);
          in.popLimit(limit);
        }
        default -> throw NOT_CANONICAL;
      }
    }

    private void quoted(String number) {
      out.append('"').ascii(number).append('"');
    }

    private void floatValue(float value) {
      if (Float.isNaN(value)) {
        out.ascii("\"NaN\"");
      } else if (Float.isInfinite(value)) {
        out.ascii(value > 0 ? "\"Infinity\"" : "\"-Infinity\"");
      } else {
        out.ascii(Float.toString(value));
      }
    }

    private void doubleValue(double value) {
      if (Double.isNaN(value)) {
        out.ascii("\"NaN\"");
      } else if (Double.isInfinite(value)) {
        out.ascii(value > 0 ? "\"Infinity\"" : "\"-Infinity\"");
      } else {
        out.ascii(Double.toString(value));
      }
    }

    private void enumValue(FieldDescriptor field, int number) {
      if (field.getEnumType().getFullName().equals("google.protobuf.NullValue")) {
        out.ascii("null");
        return;
      }
      EnumValueDescriptor value = field.getEnumType().findValueByNumber(number);
      if (options.enumsAsInts() || value == null) {
        out.ascii(Integer.toString(number));
      } else {
        out.append('"').utf8(value.getName()).append('"');
      }
    }

    // ---- Well-known types ---------------------------------------------------------------

    private void wellKnown(WellKnown kind, Descriptor type, CodedInputStream in, int depth)
        throws IOException {
      switch (kind) {
        case TIMESTAMP, DURATION -> {
          long seconds = 0;
          int nanos = 0;
          while (true) {
            int tag = in.readTag();
            if (tag == 0) {
              break;
            }
            switch (WireFormat.getTagFieldNumber(tag)) {
              case 1 -> seconds = in.readInt64();
              case 2 -> nanos = in.readInt32();
              default -> in.skipField(tag);
            }
          }
          String text = kind == WellKnown.TIMESTAMP
              ? Timestamps.toString(com.google.protobuf.Timestamp.newBuilder()
                  .setSeconds(seconds).setNanos(nanos).build())
              : Durations.toString(com.google.protobuf.Duration.newBuilder()
                  .setSeconds(seconds).setNanos(nanos).build());
          out.append('"').ascii(text).append('"');
        }
        case WRAPPER -> {
          FieldDescriptor valueField = type.findFieldByNumber(1);
          boolean printed = false;
          while (true) {
            int tag = in.readTag();
            if (tag == 0) {
              break;
            }
            if (WireFormat.getTagFieldNumber(tag) == 1 && !printed) {
              value(valueField, in, depth);
              printed = true;
            } else if (WireFormat.getTagFieldNumber(tag) == 1) {
              throw NOT_CANONICAL;
            } else {
              in.skipField(tag);
            }
          }
          if (!printed) {
            printDefaultValue(valueField);
          }
        }
        default -> {
          // Any, Struct, Value, ListValue, FieldMask: rarer; printed through a parsed message.
          if (in.getBytesUntilLimit() < 0) {
            throw NOT_CANONICAL; // the whole response: the caller parses it
          }
          DynamicMessage message = DynamicMessage.parseFrom(type, in.readRawBytes(
              in.getBytesUntilLimit()));
          out.utf8(printers.apply(options).print(message));
        }
      }
    }
  }
}
