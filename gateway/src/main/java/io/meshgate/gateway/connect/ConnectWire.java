package io.meshgate.gateway.connect;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.protobuf.Any;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.DynamicMessage;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import io.grpc.Metadata;
import io.grpc.Status;
import io.meshgate.gateway.call.GrpcMetadata;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;

/**
 * The Connect protocol's wire format (connectrpc.com/docs/protocol): error codes and their HTTP
 * statuses, the JSON error body, the envelopes of streaming calls, {@code Connect-Timeout-Ms},
 * and gzip. Stateless.
 */
final class ConnectWire {
  /** Envelope flag: the data is compressed with the stream's encoding. */
  static final int COMPRESSED = 0x01;
  /** Envelope flag: the end-of-stream message (JSON: error and trailers). */
  static final int END_STREAM = 0x02;

  private static final Base64.Encoder BASE64 = Base64.getEncoder().withoutPadding();

  private ConnectWire() {}

  /** A request the gateway cannot pass on, with the Connect error to answer. */
  static final class Malformed extends Exception {
    private final Status.Code code;

    Malformed(Status.Code code, String message) {
      super(message, null, false, false);
      this.code = code;
    }

    Status status() {
      return Status.fromCode(code).withDescription(getMessage());
    }
  }

  /** Connect's name of a code: {@code not_found}, {@code canceled}, ... */
  static String codeName(Status.Code code) {
    return code == Status.Code.CANCELLED ? "canceled" : code.name().toLowerCase(Locale.ROOT);
  }

  /** The HTTP status of a unary call that failed with {@code code} (Connect's table). */
  static int httpStatus(Status.Code code) {
    return switch (code) {
      case CANCELLED -> 499;
      case INVALID_ARGUMENT, FAILED_PRECONDITION, OUT_OF_RANGE -> 400;
      case DEADLINE_EXCEEDED -> 504;
      case NOT_FOUND -> 404;
      case ALREADY_EXISTS, ABORTED -> 409;
      case PERMISSION_DENIED -> 403;
      case RESOURCE_EXHAUSTED -> 429;
      case UNIMPLEMENTED -> 501;
      case UNAVAILABLE -> 503;
      case UNAUTHENTICATED -> 401;
      default -> 500; // UNKNOWN, INTERNAL, DATA_LOSS (OK never fails)
    };
  }

  /**
   * {@code Connect-Timeout-Ms} in nanoseconds: -1 without one.
   *
   * @throws Malformed unless it is 1 to 10 digits
   */
  static long timeoutNanos(String header) throws Malformed {
    if (header == null) {
      return -1;
    }
    String value = header.strip();
    if (value.isEmpty() || value.length() > 10 || !value.chars().allMatch(Character::isDigit)) {
      throw new Malformed(Status.Code.INVALID_ARGUMENT, "Connect-Timeout-Ms '" + header
          + "' is not a number of milliseconds (1 to 10 digits)");
    }
    return Long.parseLong(value) * 1_000_000L;
  }

  /**
   * Decompresses {@code data} of {@code encoding} ({@code gzip} or {@code identity}/none).
   *
   * @throws Malformed for another encoding, broken data, or more than {@code limit} bytes
   */
  static byte[] decompress(String encoding, byte[] data, int limit) throws Malformed {
    if (encoding == null || encoding.isBlank() || encoding.equalsIgnoreCase("identity")) {
      return data;
    }
    if (!encoding.strip().equalsIgnoreCase("gzip")) {
      throw new Malformed(Status.Code.UNIMPLEMENTED, "compression '" + encoding
          + "' is not supported (supported: gzip, identity)");
    }
    try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(data))) {
      byte[] out = in.readNBytes(limit + 1);
      if (out.length > limit) {
        throw new Malformed(Status.Code.RESOURCE_EXHAUSTED, "a request message decompresses"
            + " to more than the gateway accepts (limits.maxMessageBytes: " + limit + ")");
      }
      return out;
    } catch (IOException e) {
      throw new Malformed(Status.Code.INVALID_ARGUMENT, "the gzip data is broken: "
          + e.getMessage());
    }
  }

  static byte[] gzip(byte[] data) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(data.length / 2 + 32);
    try (GZIPOutputStream zip = new GZIPOutputStream(out)) {
      zip.write(data);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    return out.toByteArray();
  }

  /** Whether an {@code Accept-Encoding} value lists gzip. */
  static boolean acceptsGzip(String acceptEncoding) {
    if (acceptEncoding == null) {
      return false;
    }
    for (String part : acceptEncoding.split(",")) {
      String name = part.strip();
      int semicolon = name.indexOf(';');
      if ((semicolon < 0 ? name : name.substring(0, semicolon)).strip()
          .equalsIgnoreCase("gzip") && !name.replace(" ", "").endsWith(";q=0")) {
        return true;
      }
    }
    return false;
  }

  /**
   * The messages of a streaming request body (envelopes: flags, 4-byte length, data).
   *
   * @param encoding {@code Connect-Content-Encoding} (compressed envelopes), or null
   */
  static List<byte[]> envelopes(byte[] body, String encoding, int limit) throws Malformed {
    List<byte[]> messages = new ArrayList<>();
    int at = 0;
    while (at < body.length) {
      if (body.length - at < 5) {
        throw new Malformed(Status.Code.INVALID_ARGUMENT, "the request body ends inside an"
            + " envelope's 5-byte prefix");
      }
      int flags = body[at] & 0xff;
      long length = ((body[at + 1] & 0xffL) << 24) | ((body[at + 2] & 0xff) << 16)
          | ((body[at + 3] & 0xff) << 8) | (body[at + 4] & 0xff);
      if (length > limit) {
        throw new Malformed(Status.Code.RESOURCE_EXHAUSTED, "a request message of " + length
            + " bytes is larger than the gateway accepts (limits.maxMessageBytes: " + limit
            + ")");
      }
      if (body.length - at - 5 < length) {
        throw new Malformed(Status.Code.INVALID_ARGUMENT, "the request body ends inside a"
            + " message: its envelope says " + length + " bytes, " + (body.length - at - 5)
            + " follow");
      }
      messages.add(envelopeData(flags,
          java.util.Arrays.copyOfRange(body, at + 5, at + 5 + (int) length), encoding, limit));
      at += 5 + (int) length;
    }
    return messages;
  }

  /**
   * The message of one request envelope: flags checked, decompressed if flagged.
   *
   * @param encoding {@code Connect-Content-Encoding}, or null
   */
  static byte[] envelopeData(int flags, byte[] data, String encoding, int limit)
      throws Malformed {
    if ((flags & END_STREAM) != 0) {
      throw new Malformed(Status.Code.INVALID_ARGUMENT, "a request carries no end-of-stream"
          + " envelope (flag 0x02)");
    }
    if ((flags & ~COMPRESSED) != 0) {
      throw new Malformed(Status.Code.INVALID_ARGUMENT, String.format(java.util.Locale.ROOT,
          "an envelope carries unknown flags 0x%02x (known: 0x01 compressed)", flags));
    }
    if ((flags & COMPRESSED) == 0) {
      return data;
    }
    if (encoding == null || encoding.equalsIgnoreCase("identity")) {
      throw new Malformed(Status.Code.INTERNAL, "an envelope is flagged compressed, but the"
          + " request names no Connect-Content-Encoding");
    }
    return decompress(encoding, data, limit);
  }

  /** One envelope. */
  static byte[] envelope(int flags, byte[] data) {
    byte[] out = new byte[5 + data.length];
    out[0] = (byte) flags;
    out[1] = (byte) (data.length >>> 24);
    out[2] = (byte) (data.length >>> 16);
    out[3] = (byte) (data.length >>> 8);
    out[4] = (byte) data.length;
    System.arraycopy(data, 0, out, 5, data.length);
    return out;
  }

  /**
   * The JSON error of a failed call: code, message, and the details of
   * {@code grpc-status-details-bin} (type, base64 value, and as {@code debug} their JSON when
   * the type is among the loaded descriptors).
   */
  static JsonObject error(Status status, byte[] statusDetails, JsonFormat.TypeRegistry types) {
    JsonObject error = new JsonObject();
    error.addProperty("code", codeName(status.getCode()));
    if (status.getDescription() != null) {
      error.addProperty("message", status.getDescription());
    }
    if (statusDetails != null) {
      try {
        JsonArray details = new JsonArray();
        for (Any any : com.google.rpc.Status.parseFrom(statusDetails).getDetailsList()) {
          JsonObject detail = new JsonObject();
          String type = any.getTypeUrl().substring(any.getTypeUrl().lastIndexOf('/') + 1);
          detail.addProperty("type", type);
          detail.addProperty("value", BASE64.encodeToString(any.getValue().toByteArray()));
          Descriptor descriptor = types == null ? null : types.find(type);
          if (descriptor != null) {
            detail.add("debug", JsonParser.parseString(JsonFormat.printer()
                .usingTypeRegistry(types).omittingInsignificantWhitespace()
                .print(DynamicMessage.parseFrom(descriptor, any.getValue()))));
          }
          details.add(detail);
        }
        if (!details.isEmpty()) {
          error.add("details", details);
        }
      } catch (InvalidProtocolBufferException e) {
        // Details that do not parse are left out; code and message still tell what happened.
      }
    }
    return error;
  }

  /** Metadata as Connect's end-of-stream {@code metadata}: name to list of values. */
  static JsonObject metadataJson(Metadata metadata) {
    JsonObject json = new JsonObject();
    if (metadata == null) {
      return json;
    }
    for (Map.Entry<CharSequence, CharSequence> header : headers(metadata)) {
      String name = header.getKey().toString();
      JsonArray values = json.has(name) ? json.getAsJsonArray(name) : new JsonArray();
      values.add(header.getValue().toString());
      json.add(name, values);
    }
    return json;
  }

  /** Metadata as headers ({@code -bin} values base64), without the transport's own. */
  static Http2Headers headers(Metadata metadata) {
    Http2Headers headers = new DefaultHttp2Headers(false);
    if (metadata != null) {
      GrpcMetadata.addTo(metadata, headers);
      headers.remove("grpc-status-details-bin");
    }
    return headers;
  }

  static byte[] utf8(JsonObject json) {
    return json.toString().getBytes(StandardCharsets.UTF_8);
  }
}
