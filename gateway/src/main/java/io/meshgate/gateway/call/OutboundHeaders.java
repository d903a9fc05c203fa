package io.meshgate.gateway.call;

import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.ReadOnlyHttp2Headers;
import io.netty.util.AsciiString;
import java.util.Arrays;

/**
 * Headers a proxied call sends on, gathered in one array and handed to the HTTP/2 encoder as
 * they are ({@link ReadOnlyHttp2Headers}): the encoder only walks them, so no hash map is built
 * and no name hashed for headers that are written once and never looked up. Names must be
 * lower-case. Build one, take its {@link #request}, {@link #response} or {@link #trailers} once.
 */
public final class OutboundHeaders {
  private AsciiString[] pairs = new AsciiString[16];
  private int size;

  /** Adds a header; the name lower-case. */
  public OutboundHeaders add(AsciiString name, CharSequence value) {
    checkNotTaken();
    if (size == pairs.length) {
      pairs = Arrays.copyOf(pairs, size * 2);
    }
    pairs[size++] = name;
    pairs[size++] = AsciiString.of(value);
    return this;
  }

  /** Request headers: the pseudo-headers, then what was added. */
  public Http2Headers request(AsciiString method, AsciiString scheme, CharSequence path,
      CharSequence authority) {
    return ReadOnlyHttp2Headers.clientHeaders(false, method, AsciiString.of(path), scheme,
        AsciiString.of(authority), taken());
  }

  /** Response headers: {@code :status}, then what was added. */
  public Http2Headers response(AsciiString status) {
    return ReadOnlyHttp2Headers.serverHeaders(false, status, taken());
  }

  /** Trailers: what was added. */
  public Http2Headers trailers() {
    return ReadOnlyHttp2Headers.trailers(false, taken());
  }

  private void checkNotTaken() {
    if (pairs == null) {
      throw new IllegalStateException("these headers were taken already; build new ones");
    }
  }

  private AsciiString[] taken() {
    checkNotTaken();
    AsciiString[] exact = size == pairs.length ? pairs : Arrays.copyOf(pairs, size);
    pairs = null; // taken once: the headers now hold the array
    return exact;
  }
}
