package io.meshgate.gateway.call;

import io.grpc.InternalMetadata;
import io.grpc.Metadata;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import java.util.Base64;
import java.util.Map;
import java.util.Set;
import java.util.function.BiConsumer;

/**
 * Moves metadata between request or response headers and grpc-java {@link Metadata}, in both
 * directions, dropping hop-by-hop headers and the headers that the gateway or grpc-java set
 * themselves; each protocol adapter (native gRPC, gRPC-Web, Connect) names the headers of its
 * own wire format that are no metadata. Binary ({@code -bin}) values are base64 on the wire and
 * raw bytes in {@link Metadata}.
 */
public final class GrpcMetadata {
  private static final AsciiString GRPC_ENCODING = AsciiString.cached("grpc-encoding");
  private static final AsciiString GRPC_ACCEPT_ENCODING =
      AsciiString.cached("grpc-accept-encoding");
  private static final AsciiString GRPC_STATUS = AsciiString.cached("grpc-status");
  private static final AsciiString GRPC_MESSAGE = AsciiString.cached("grpc-message");

  /** Never forwarded: hop-by-hop, pseudo-like and transport headers. */
  private static final Set<AsciiString> REQUEST_SKIP = Set.of(
      AsciiString.cached("connection"), AsciiString.cached("keep-alive"),
      AsciiString.cached("proxy-connection"), AsciiString.cached("transfer-encoding"),
      AsciiString.cached("upgrade"), AsciiString.cached("te"), AsciiString.cached("host"),
      AsciiString.cached("http2-settings"), AsciiString.cached("content-type"),
      AsciiString.cached("content-length"), AsciiString.cached("user-agent"),
      GrpcTimeout.HEADER, GRPC_ENCODING, GRPC_ACCEPT_ENCODING,
      GRPC_STATUS, GRPC_MESSAGE);

  private static final Set<AsciiString> RESPONSE_SKIP = Set.of(
      AsciiString.cached("connection"), AsciiString.cached("keep-alive"),
      AsciiString.cached("proxy-connection"), AsciiString.cached("transfer-encoding"),
      AsciiString.cached("upgrade"), AsciiString.cached("te"),
      AsciiString.cached("content-type"), AsciiString.cached("content-length"),
      GRPC_ENCODING, GRPC_ACCEPT_ENCODING, GRPC_STATUS,
      GRPC_MESSAGE);
  private static final byte[] BINARY_SUFFIX =
      Metadata.BINARY_HEADER_SUFFIX.getBytes(java.nio.charset.StandardCharsets.US_ASCII);

  private static final Base64.Encoder BASE64 = Base64.getEncoder().withoutPadding();

  private static final byte[] HEX = "0123456789ABCDEF".getBytes(
      java.nio.charset.StandardCharsets.US_ASCII);

  private GrpcMetadata() {}

  /**
   * Request headers to upstream metadata, with the client's address appended to
   * {@code x-forwarded-for}.
   *
   * @return null when a binary header is not valid base64 (the call must fail)
   */
  public static Metadata toMetadata(Http2Headers headers, String clientAddress) {
    return toMetadata(headers, clientAddress, Set.of());
  }

  /**
   * As {@link #toMetadata(Http2Headers, String)}, for headers of any protocol, leaving out
   * {@code protocolHeaders} besides the transport's own (lower-case names).
   *
   * @return null when a binary header is not valid base64 (the call must fail)
   */
  public static Metadata toMetadata(Iterable<Map.Entry<CharSequence, CharSequence>> headers,
      String clientAddress, Set<AsciiString> protocolHeaders) {
    // Built in grpc-java's wire form (names and values as bytes, binary values decoded), as its
    // own transport builds received metadata: no String per name and value, and the bytes are
    // written upstream as they are. Policies that read a value parse it then.
    byte[][] wire = null;
    int n = 0;
    String forwardedFor = null;
    for (Map.Entry<CharSequence, CharSequence> header : headers) {
      CharSequence raw = header.getKey();
      if (raw.length() == 0 || raw.charAt(0) == ':') {
        continue;
      }
      // The HTTP/2 decoder's names are lower-case AsciiStrings (toLowerCase returns them as
      // they are); HTTP/1.1 names keep the client's case.
      AsciiString name = (raw instanceof AsciiString a ? a : AsciiString.of(raw)).toLowerCase();
      if (REQUEST_SKIP.contains(name) || protocolHeaders.contains(name)) {
        continue;
      }
      if (name.contentEquals(X_FORWARDED_FOR)) {
        forwardedFor = forwardedFor == null ? header.getValue().toString()
            : forwardedFor + ", " + header.getValue();
        continue;
      }
      if (!isMetadataName(name)) {
        continue; // as grpc-java refuses such a key
      }
      byte[] value;
      if (name.endsWith(Metadata.BINARY_HEADER_SUFFIX)) {
        try {
          value = Base64.getDecoder().decode(header.getValue().toString());
        } catch (IllegalArgumentException e) {
          return null;
        }
      } else {
        value = asciiBytes(header.getValue());
      }
      if (wire == null) {
        wire = new byte[8][];
      } else if (n + 2 > wire.length - 2) { // room kept for x-forwarded-for
        wire = java.util.Arrays.copyOf(wire, wire.length * 2);
      }
      wire[n++] = wireBytes(name);
      wire[n++] = value;
    }
    String forwarded = clientAddress == null ? forwardedFor
        // Like Envoy and nginx: the backend learns who called, appended to what proxies before
        // us said.
        : forwardedFor == null ? clientAddress : forwardedFor + ", " + clientAddress;
    if (forwarded != null) {
      if (wire == null) {
        wire = new byte[2][];
      }
      wire[n++] = X_FORWARDED_FOR_BYTES;
      wire[n++] = asciiBytes(forwarded);
    }
    return wire == null ? new Metadata() : InternalMetadata.newMetadata(n / 2, wire);
  }

  private static final AsciiString X_FORWARDED_FOR = AsciiString.cached("x-forwarded-for");
  private static final byte[] X_FORWARDED_FOR_BYTES = X_FORWARDED_FOR.toByteArray();

  /** Whether grpc-java takes a (lower-case) name as a metadata key: 0-9 a-z - _ . only. */
  private static boolean isMetadataName(AsciiString name) {
    byte[] bytes = name.array();
    for (int i = name.arrayOffset(), end = i + name.length(); i < end; i++) {
      byte b = bytes[i];
      if (!(b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '-' || b == '_' || b == '.')) {
        return false;
      }
    }
    return true;
  }

  /**
   * A decoded header name's or value's bytes for grpc-java's wire form: the string's own array
   * when it spans it (the decoder's, never written again), else a copy.
   */
  public static byte[] wireBytes(AsciiString text) {
    return text.isEntireArrayUsed() ? text.array() : text.toByteArray();
  }

  /**
   * A value's bytes as grpc-java's ASCII marshaller writes a string: characters outside ASCII
   * become '?'. A decoder's AsciiString spanning its array is shared, not copied.
   */
  private static byte[] asciiBytes(CharSequence value) {
    if (value instanceof AsciiString ascii) {
      byte[] bytes = ascii.array();
      int from = ascii.arrayOffset();
      int to = from + ascii.length();
      boolean plain = true;
      for (int i = from; i < to && plain; i++) {
        plain = bytes[i] >= 0;
      }
      if (plain) {
        return wireBytes(ascii);
      }
    }
    return value.toString().getBytes(java.nio.charset.StandardCharsets.US_ASCII);
  }

  /**
   * Upstream response metadata (headers or trailers) into HTTP/2 headers. Reads the metadata's
   * wire form (names and values as grpc-java received them, already validated) and wraps those
   * bytes without copying: this runs twice per call.
   */
  public static void addTo(Metadata metadata, Http2Headers headers) {
    addTo(metadata, headers::add);
  }

  /** As {@link #addTo(Metadata, Http2Headers)}, into headers built to be written once. */
  public static void addTo(Metadata metadata, OutboundHeaders headers) {
    addTo(metadata, headers::add);
  }

  private static void addTo(Metadata metadata, BiConsumer<AsciiString, AsciiString> headers) {
    byte[][] serialized = InternalMetadata.serialize(metadata); // name, value, name, ...
    for (int i = 0; i < serialized.length; i += 2) {
      byte[] name = serialized[i];
      if (name.length == 0 || name[0] == ':') {
        continue;
      }
      AsciiString key = new AsciiString(name, false);
      if (RESPONSE_SKIP.contains(key)) {
        continue;
      }
      byte[] value = serialized[i + 1];
      headers.accept(key, endsWith(name, BINARY_SUFFIX)
          ? new AsciiString(BASE64.encode(value), false) : new AsciiString(value, false));
    }
  }

  private static boolean endsWith(byte[] name, byte[] suffix) {
    if (name.length < suffix.length) {
      return false;
    }
    int offset = name.length - suffix.length;
    for (int i = 0; i < suffix.length; i++) {
      if (name[offset + i] != suffix[i]) {
        return false;
      }
    }
    return true;
  }

  /**
   * Percent-encodes a status message for {@code grpc-message}: bytes outside 0x20..0x7E and '%'
   * are written as %XX of their UTF-8 encoding.
   */
  public static CharSequence encodeMessage(String message) {
    boolean plain = true;
    for (int i = 0; i < message.length() && plain; i++) {
      char c = message.charAt(i);
      plain = c >= ' ' && c < 0x7f && c != '%';
    }
    if (plain) {
      return message;
    }
    byte[] bytes = message.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    byte[] out = new byte[bytes.length * 3];
    int o = 0;
    for (byte b : bytes) {
      if (b >= ' ' && b < 0x7f && b != '%') {
        out[o++] = b;
      } else {
        out[o++] = '%';
        out[o++] = HEX[(b >> 4) & 0xf];
        out[o++] = HEX[b & 0xf];
      }
    }
    return new AsciiString(out, 0, o, false);
  }
}
