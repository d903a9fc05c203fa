package io.meshgate.gateway.proxy;

import io.grpc.Status;
import io.meshgate.gateway.call.GrpcMetadata;
import io.meshgate.gateway.call.OutboundHeaders;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import java.util.Arrays;

/** The small parts of the gRPC-over-HTTP/2 wire format that the proxy reads and writes itself. */
public final class GrpcWire {
  static final AsciiString CONTENT_TYPE_GRPC = AsciiString.cached("application/grpc");
  static final AsciiString GRPC_STATUS = AsciiString.cached("grpc-status");
  static final AsciiString GRPC_MESSAGE = AsciiString.cached("grpc-message");
  static final AsciiString GRPC_ENCODING = AsciiString.cached("grpc-encoding");
  static final AsciiString GRPC_ACCEPT_ENCODING = AsciiString.cached("grpc-accept-encoding");
  static final AsciiString GZIP = AsciiString.cached("gzip");
  static final AsciiString IDENTITY = AsciiString.cached("identity");
  static final AsciiString ACCEPTED_ENCODINGS = AsciiString.cached("gzip,identity");
  /** grpc-status values, by {@link Status.Code#ordinal()}. */
  private static final AsciiString[] STATUS_VALUES = Arrays.stream(Status.Code.values())
      .map(code -> AsciiString.cached(Integer.toString(code.value()))).toArray(AsciiString[]::new);
  static final AsciiString STATUS_200 = AsciiString.cached("200");


  private GrpcWire() {}

  /** Whether a content-type names gRPC ({@code application/grpc}, {@code application/grpc+proto}). */
  static boolean isGrpcContentType(CharSequence contentType) {
    if (contentType == null || contentType.length() < CONTENT_TYPE_GRPC.length()) {
      return false;
    }
    if (!AsciiString.regionMatches(contentType, true, 0, CONTENT_TYPE_GRPC, 0,
        CONTENT_TYPE_GRPC.length())) {
      return false;
    }
    if (contentType.length() == CONTENT_TYPE_GRPC.length()) {
      return true;
    }
    char next = contentType.charAt(CONTENT_TYPE_GRPC.length());
    return next == '+' || next == ';';
  }

  /** Whether an {@code grpc-accept-encoding} value lists gzip. */
  static boolean acceptsGzip(CharSequence acceptEncoding) {
    if (acceptEncoding == null) {
      return false;
    }
    // Scanned in place: every call carries this header, most often just "gzip".
    int n = acceptEncoding.length();
    int start = 0;
    while (start < n) {
      int end = start;
      while (end < n && acceptEncoding.charAt(end) != ',') {
        end++;
      }
      int from = start;
      int to = end;
      while (from < to && acceptEncoding.charAt(from) <= ' ') {
        from++;
      }
      while (to > from && acceptEncoding.charAt(to - 1) <= ' ') {
        to--;
      }
      if (to - from == GZIP.length()
          && AsciiString.regionMatches(acceptEncoding, true, from, GZIP, 0, GZIP.length())) {
        return true;
      }
      start = end + 1;
    }
    return false;
  }

  /** Adds {@code grpc-status} and, when there is one, {@code grpc-message}. */
  static void addStatus(Http2Headers headers, Status status) {
    headers.set(GRPC_STATUS, statusValue(status));
    if (status.getDescription() != null) {
      headers.set(GRPC_MESSAGE, GrpcMetadata.encodeMessage(status.getDescription()));
    }
  }

  /** As {@link #addStatus(Http2Headers, Status)}, into headers built to be written once. */
  static void addStatus(OutboundHeaders headers, Status status) {
    headers.add(GRPC_STATUS, statusValue(status));
    if (status.getDescription() != null) {
      headers.add(GRPC_MESSAGE, GrpcMetadata.encodeMessage(status.getDescription()));
    }
  }

  private static AsciiString statusValue(Status status) {
    return STATUS_VALUES[status.getCode().ordinal()];
  }

  /** A trailers-only response: HTTP 200 headers that carry the status and end the stream. */
  static Http2Headers trailersOnly(Status status) {
    Http2Headers headers = new DefaultHttp2Headers(false)
        .status(STATUS_200)
        .set(io.netty.handler.codec.http.HttpHeaderNames.CONTENT_TYPE, CONTENT_TYPE_GRPC);
    addStatus(headers, status);
    return headers;
  }
}
