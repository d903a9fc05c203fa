package io.meshgate.gateway.http;

import io.grpc.Metadata;
import io.netty.handler.codec.http.HttpHeaders;
import java.util.Base64;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Headers of a REST request (or a REST WebSocket's upgrade) to gRPC metadata and response
 * metadata back to headers, as grpc-gateway does: {@code Grpc-Metadata-<name>} carries metadata
 * {@code <name>} both ways;
 * {@code authorization}, {@code x-forwarded-*}, {@code traceparent}, {@code tracestate} and the
 * configured headers go through under their own names; nothing else does (a REST client's
 * {@code cookie}, {@code accept} or {@code user-agent} are not the backend's business).
 */
public final class HttpMetadata {
  /**
   * The headers a browser adds to every fetch, which are no metadata for a backend; protocols
   * that forward every other header ({@link #browserHeadersAnd}) leave them out.
   */
  private static final java.util.List<String> BROWSER_HEADERS = java.util.List.of("origin",
      "referer", "accept", "accept-encoding", "accept-language", "cookie", "sec-fetch-mode",
      "sec-fetch-site", "sec-fetch-dest", "sec-ch-ua", "sec-ch-ua-mobile", "sec-ch-ua-platform",
      "pragma", "cache-control", "priority", "dnt");

  /** The browser's headers and a protocol's own ({@code names} in lower case). */
  public static Set<io.netty.util.AsciiString> browserHeadersAnd(String... names) {
    Set<io.netty.util.AsciiString> all = new java.util.HashSet<>();
    for (String name : BROWSER_HEADERS) {
      all.add(io.netty.util.AsciiString.cached(name));
    }
    for (String name : names) {
      all.add(io.netty.util.AsciiString.cached(name));
    }
    return Set.copyOf(all);
  }

  /** The prefix of headers that carry metadata under their own name. */
  public static final String PREFIX = "grpc-metadata-";
  private static final String GATEWAY_PREFIX = "x-meshgate-";
  private static final Set<String> ALWAYS = Set.of("authorization", "traceparent", "tracestate");
  private static final Set<String> NOT_RETURNED = Set.of("content-type", "content-length",
      "grpc-status", "grpc-message", "grpc-status-details-bin", "grpc-encoding",
      "grpc-accept-encoding", "te", "transfer-encoding", "connection");

  private HttpMetadata() {}

  /**
   * The metadata of a REST request.
   *
   * @throws IllegalArgumentException naming a header whose value cannot be metadata
   */
  public static Metadata toMetadata(HttpRequest.Headers headers, Set<String> forward,
      String clientAddress) {
    Metadata metadata = new Metadata();
    String forwardedFor = null;
    for (Map.Entry<CharSequence, CharSequence> header : headers) {
      String name = header.getKey().toString().toLowerCase(Locale.ROOT);
      String value = header.getValue().toString();
      String key;
      if (name.startsWith(PREFIX) && name.length() > PREFIX.length()) {
        key = name.substring(PREFIX.length());
      } else if (name.equals("x-forwarded-for")) {
        forwardedFor = forwardedFor == null ? value : forwardedFor + ", " + value;
        continue;
      } else if (ALWAYS.contains(name) || name.startsWith("x-forwarded-")
          || forward.contains(name)) {
        key = name;
      } else {
        continue;
      }
      try {
        if (key.endsWith(Metadata.BINARY_HEADER_SUFFIX)) {
          metadata.put(Metadata.Key.of(key, Metadata.BINARY_BYTE_MARSHALLER),
              Base64.getDecoder().decode(value.strip()));
        } else {
          metadata.put(Metadata.Key.of(key, Metadata.ASCII_STRING_MARSHALLER), value);
        }
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("header '" + header.getKey() + "' cannot be gRPC"
            + " metadata: " + e.getMessage()
            + (key.endsWith(Metadata.BINARY_HEADER_SUFFIX) ? " (a -bin value must be base64)"
                : ""));
      }
    }
    if (clientAddress != null) {
      forwardedFor = forwardedFor == null ? clientAddress : forwardedFor + ", " + clientAddress;
    }
    if (forwardedFor != null) {
      metadata.put(Metadata.Key.of("x-forwarded-for", Metadata.ASCII_STRING_MARSHALLER),
          forwardedFor);
    }
    return metadata;
  }

  /**
   * Adds response metadata (headers or trailers) as {@code grpc-metadata-<name>} headers; the
   * gateway's own markers ({@code x-meshgate-*}: fallback, cache) go as they are.
   */
  public static void addTo(Metadata metadata, HttpHeaders headers) {
    if (metadata == null) {
      return;
    }
    for (String key : metadata.keys()) {
      if (NOT_RETURNED.contains(key)) {
        continue;
      }
      if (key.endsWith(Metadata.BINARY_HEADER_SUFFIX)) {
        for (byte[] value : metadata.getAll(
            Metadata.Key.of(key, Metadata.BINARY_BYTE_MARSHALLER))) {
          headers.add(PREFIX + key, Base64.getEncoder().encodeToString(value));
        }
      } else {
        String name = key.startsWith(GATEWAY_PREFIX) ? key : PREFIX + key;
        for (String value : metadata.getAll(
            Metadata.Key.of(key, Metadata.ASCII_STRING_MARSHALLER))) {
          headers.add(name, value);
        }
      }
    }
  }
}
