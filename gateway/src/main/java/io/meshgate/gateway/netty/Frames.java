package io.meshgate.gateway.netty;

import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2HeadersFrame;

/**
 * Tells HTTP/2 frames apart on the hot path by Netty's own classes first. On Java 17 a
 * successful {@code instanceof} against an interface records the interface in the object's
 * class, one entry (JDK-8180450, fixed in Java 23): a DATA frame asked in turn whether it is a
 * stream frame, DATA, reference counted... rewrites that entry each time, and with two event
 * loops doing it the cache line moves between cores on every frame. A test against a class reads
 * a fixed table instead. Frames of other implementations still match by their interface.
 */
public final class Frames {
  private Frames() {}

  /** {@code msg} as a DATA frame, or null. */
  public static Http2DataFrame data(Object msg) {
    if (msg instanceof DefaultHttp2DataFrame data) {
      return data;
    }
    if (msg instanceof DefaultHttp2HeadersFrame) {
      return null;
    }
    return msg instanceof Http2DataFrame data ? data : null;
  }

  /** {@code msg} as a HEADERS frame, or null. */
  public static Http2HeadersFrame headers(Object msg) {
    if (msg instanceof DefaultHttp2HeadersFrame headers) {
      return headers;
    }
    if (msg instanceof DefaultHttp2DataFrame) {
      return null;
    }
    return msg instanceof Http2HeadersFrame headers ? headers : null;
  }
}
