package io.meshgate.gateway.http;

import io.meshgate.gateway.call.ClientIdentity;
import io.meshgate.gateway.call.RequestView;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http2.Http2Headers;
import java.util.Iterator;
import java.util.Map;

/**
 * A complete HTTP request, whichever protocol carried it (HTTP/1.1 or HTTP/2).
 *
 * @param method the HTTP method, upper case
 * @param rawPath the path, still percent-encoded, without the query
 * @param rawQuery the query without '?', still encoded, or null
 * @param headers the request headers
 * @param body the body (empty when there is none)
 * @param clientAddress the client's IP address, or null
 * @param authority the request's authority (Host), or null
 * @param clientIdentity who the client is by its TLS certificate, or null
 */
public record HttpRequest(String method, String rawPath, String rawQuery, Headers headers, byte[] body,
    String clientAddress, String authority, ClientIdentity clientIdentity)
    implements RequestView {

  @Override
  public String header(String name) {
    return headers.get(name);
  }

  @Override
  public String httpMethod() {
    return method;
  }

  @Override
  public String peerAddress() {
    return clientAddress;
  }

  /** Request headers: names are matched case-insensitively. */
  public interface Headers extends Iterable<Map.Entry<CharSequence, CharSequence>> {
    /** The first value of a header, or null. */
    String get(CharSequence name);

    static Headers of(HttpHeaders headers) {
      return new Headers() {
        @Override
        public String get(CharSequence name) {
          return headers.get(name);
        }

        @Override
        public Iterator<Map.Entry<CharSequence, CharSequence>> iterator() {
          return headers.iteratorCharSequence();
        }
      };
    }

    static Headers of(Http2Headers headers) {
      return new Headers() {
        @Override
        public String get(CharSequence name) {
          CharSequence value = headers.get(name);
          return value == null ? null : value.toString();
        }

        @Override
        public Iterator<Map.Entry<CharSequence, CharSequence>> iterator() {
          return headers.iterator();
        }
      };
    }
  }

  /** Splits a request target into path and query. */
  public static String[] splitTarget(String target) {
    int question = target.indexOf('?');
    return question < 0 ? new String[] {target, null}
        : new String[] {target.substring(0, question), target.substring(question + 1)};
  }
}
