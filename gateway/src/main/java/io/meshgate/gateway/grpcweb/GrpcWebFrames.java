package io.meshgate.gateway.grpcweb;

import io.grpc.Metadata;
import io.grpc.Status;
import io.meshgate.gateway.call.GrpcMetadata;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The gRPC-Web wire format (grpc/grpc {@code doc/PROTOCOL-WEB.md}): the request body is gRPC's
 * length-prefixed messages, base64 in the {@code -text} variants; the response is the same
 * messages followed by one frame whose flag has the 0x80 bit and whose payload is the trailers
 * as an HTTP/1.1 header block. Stateless.
 */
final class GrpcWebFrames {
  /** The flag of the frame that carries the trailers. */
  static final int TRAILER_FLAG = 0x80;
  private static final int COMPRESSED_FLAG = 0x01;

  private GrpcWebFrames() {}

  /** Why a request body is not one the gateway can pass on; its message says what is wrong. */
  static final class MalformedException extends Exception {
    private final Status.Code code;

    MalformedException(Status.Code code, String message) {
      super(message, null, false, false);
      this.code = code;
    }

    Status status() {
      return Status.fromCode(code).withDescription(getMessage());
    }
  }

  /**
   * Decodes the base64 body of a {@code -text} request. Clients may send it in chunks each
   * padded on its own, so padding may stand inside the body; whitespace is ignored.
   */
  static byte[] decodeText(byte[] body) throws MalformedException {
    StringBuilder clean = new StringBuilder(body.length);
    for (byte b : body) {
      if (b != ' ' && b != '\r' && b != '\n' && b != '\t') {
        clean.append((char) (b & 0xff));
      }
    }
    if (clean.length() % 4 != 0) {
      throw new MalformedException(Status.Code.INVALID_ARGUMENT, "the grpc-web-text body is "
          + clean.length() + " base64 characters, not a multiple of 4");
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream(clean.length() / 4 * 3);
    Base64.Decoder decoder = Base64.getDecoder();
    int start = 0;
    try {
      for (int i = 0; i < clean.length(); i += 4) {
        // A quantum with padding ends a chunk: decode up to it.
        if (clean.charAt(i + 3) == '=' || i + 4 == clean.length()) {
          out.writeBytes(decoder.decode(clean.substring(start, i + 4)));
          start = i + 4;
        }
      }
    } catch (IllegalArgumentException e) {
      throw new MalformedException(Status.Code.INVALID_ARGUMENT, "the grpc-web-text body is not"
          + " base64: " + e.getMessage());
    }
    return out.toByteArray();
  }

  /**
   * The request messages of a binary body.
   *
   * @param maxMessageBytes the largest message accepted
   */
  static List<byte[]> messages(byte[] body, int maxMessageBytes) throws MalformedException {
    List<byte[]> messages = new ArrayList<>();
    int at = 0;
    while (at < body.length) {
      if (body.length - at < 5) {
        throw new MalformedException(Status.Code.INVALID_ARGUMENT, "the request body ends inside"
            + " a message's 5-byte prefix (" + (body.length - at) + " bytes left)");
      }
      int flags = body[at] & 0xff;
      long length = ((body[at + 1] & 0xffL) << 24) | ((body[at + 2] & 0xff) << 16)
          | ((body[at + 3] & 0xff) << 8) | (body[at + 4] & 0xff);
      checkFlags(flags);
      if (length > maxMessageBytes) {
        throw new MalformedException(Status.Code.RESOURCE_EXHAUSTED, "a request message of "
            + length + " bytes is larger than the gateway accepts (limits.maxMessageBytes: "
            + maxMessageBytes + ")");
      }
      if (body.length - at - 5 < length) {
        throw new MalformedException(Status.Code.INVALID_ARGUMENT, "the request body ends inside"
            + " a message: its prefix says " + length + " bytes, " + (body.length - at - 5)
            + " follow");
      }
      byte[] message = new byte[(int) length];
      System.arraycopy(body, at + 5, message, 0, message.length);
      messages.add(message);
      at += 5 + (int) length;
    }
    return messages;
  }

  /** Refuses the flags of a request frame that is not a plain message. */
  static void checkFlags(int flags) throws MalformedException {
    if ((flags & TRAILER_FLAG) != 0) {
      throw new MalformedException(Status.Code.INVALID_ARGUMENT, "a request carries no"
          + " trailer frame (flag 0x80)");
    }
    if ((flags & ~COMPRESSED_FLAG) != 0) {
      throw new MalformedException(Status.Code.INVALID_ARGUMENT, String.format(
          java.util.Locale.ROOT, "a request frame carries unknown flags 0x%02x", flags));
    }
    if ((flags & COMPRESSED_FLAG) != 0) {
      throw new MalformedException(Status.Code.UNIMPLEMENTED, "compressed gRPC-Web request"
          + " messages are not supported: send them uncompressed");
    }
  }

  /** One response message as a frame. */
  static ByteBuf message(byte[] message, boolean text) {
    byte[] prefix = prefix(0, message.length);
    if (!text) {
      return Unpooled.wrappedBuffer(prefix, message);
    }
    byte[] frame = new byte[5 + message.length];
    System.arraycopy(prefix, 0, frame, 0, 5);
    System.arraycopy(message, 0, frame, 5, message.length);
    return Unpooled.wrappedBuffer(Base64.getEncoder().encode(frame));
  }

  /** The frame that ends a response: the status and the trailers as a header block. */
  static ByteBuf trailers(Status status, Metadata trailers, boolean text) {
    StringBuilder block = new StringBuilder();
    for (Map.Entry<CharSequence, CharSequence> header : statusHeaders(status, trailers)) {
      block.append(header.getKey().toString().toLowerCase(Locale.ROOT)).append(':')
          .append(header.getValue()).append("\r\n");
    }
    byte[] payload = block.toString().getBytes(StandardCharsets.US_ASCII);
    byte[] frame = new byte[5 + payload.length];
    System.arraycopy(prefix(TRAILER_FLAG, payload.length), 0, frame, 0, 5);
    System.arraycopy(payload, 0, frame, 5, payload.length);
    return Unpooled.wrappedBuffer(text ? Base64.getEncoder().encode(frame) : frame);
  }

  /** {@code grpc-status}, {@code grpc-message} and the trailers' metadata, as headers. */
  static Http2Headers statusHeaders(Status status, Metadata trailers) {
    Http2Headers headers = new DefaultHttp2Headers(false);
    headers.set("grpc-status", Integer.toString(status.getCode().value()));
    if (status.getDescription() != null) {
      headers.set("grpc-message", GrpcMetadata.encodeMessage(status.getDescription()));
    }
    if (trailers != null) {
      GrpcMetadata.addTo(trailers, headers);
    }
    return headers;
  }

  private static byte[] prefix(int flags, int length) {
    return new byte[] {(byte) flags, (byte) (length >>> 24), (byte) (length >>> 16),
        (byte) (length >>> 8), (byte) length};
  }
}
