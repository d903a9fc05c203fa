package io.meshgate.gateway.telemetry;

import io.grpc.Status;
import java.net.InetSocketAddress;
import java.net.SocketAddress;

/**
 * What is known about one call while it runs: its route and method once matched, the messages
 * and bytes each way, the backend that served it. {@link #finish} records it in the metrics and
 * the access log, once. Only on the call's event loop.
 */
public final class CallRecord {
  private final Telemetry telemetry;
  private final String protocol;
  private final String client;
  private final long startNanos = System.nanoTime();
  private final long startMillis = System.currentTimeMillis();

  // Only on the call's event loop.
  private GatewayMetrics.CallMeters meters;
  private String route;
  private String cluster;
  private String service;
  private String method;
  private String httpMethod;
  private String path;
  private long requestMessages;
  private long responseMessages;
  private long requestBytes;
  private long responseBytes;
  private SocketAddress upstream;
  private String traceId;
  private String subject;
  private String principal;
  private boolean finished;
  private io.opentelemetry.api.trace.Span span;

  CallRecord(Telemetry telemetry, String protocol, String client) {
    this.telemetry = telemetry;
    this.protocol = protocol;
    this.client = client;
  }

  /** The HTTP request line of a REST call. */
  public void http(String httpMethod, String path) {
    this.httpMethod = httpMethod;
    this.path = path;
    if (span != null) {
      span.setAttribute(Tracing.HTTP_METHOD, httpMethod);
      span.setAttribute(Tracing.URL_PATH, path);
    }
  }

  void span(io.opentelemetry.api.trace.Span span) {
    this.span = span;
    this.traceId = span.getSpanContext().getTraceId();
  }

  /**
   * The trace context upstream attempts are children of (for {@link Tracing#PARENT}), or null
   * without tracing.
   */
  public io.opentelemetry.context.Context traceContext() {
    return span == null ? null : io.opentelemetry.context.Context.root().with(span);
  }

  /**
   * The method the call is for and the route it matched (null when none did, which the metrics
   * count without the client's names).
   *
   * @param route the route's name, or null
   * @param cluster the route's first cluster, or null (a split or canary route picks per call:
   *     see {@link #cluster})
   */
  public void routed(String route, String cluster, String service, String method) {
    if (meters != null || finished) {
      return;
    }
    this.service = service;
    this.method = method;
    if (span != null) {
      span.updateName(service + "/" + method);
      span.setAttribute(Tracing.RPC_SERVICE, service);
      span.setAttribute(Tracing.RPC_METHOD, method);
    }
    if (route == null) {
      return;
    }
    this.route = route;
    this.cluster = cluster;
    if (span != null) {
      span.setAttribute(Tracing.ROUTE, route);
    }
  }

  /**
   * The cluster the call goes to (a split or canary route picks per call): from now on it
   * counts as in flight there.
   */
  public void cluster(String name) {
    if (meters != null || finished || route == null) {
      return;
    }
    cluster = name;
    if (span != null) {
      span.setAttribute(Tracing.CLUSTER, name);
    }
    meters = telemetry.metrics().call(protocol, route, name, service, method);
    meters.started();
  }

  /** A request message (REST: a request body) of {@code bytes} payload bytes went upstream. */
  public void requestMessage(long bytes) {
    requestMessages++;
    requestBytes += bytes;
  }

  /** A response message (REST: a response body or chunk) went to the client. */
  public void responseMessage(long bytes) {
    responseMessages++;
    responseBytes += bytes;
  }

  /** The backend address that took the call. */
  public void upstream(SocketAddress address) {
    if (address != null) {
      upstream = address;
    }
  }

  /** The W3C trace id of the call. */
  public void traceId(String traceId) {
    this.traceId = traceId;
  }

  /** Who the client is by its TLS certificate: logged, and set on the span. */
  public void clientPrincipal(String principal) {
    this.principal = principal;
    if (span != null) {
      span.setAttribute("meshgate.client.principal", principal);
    }
  }

  /** The authenticated subject (JWT {@code sub}). */
  public void subject(String subject) {
    this.subject = subject;
  }

  /**
   * Records the call's outcome; later calls do nothing.
   *
   * @param httpStatus the HTTP status a REST client got; 0 for gRPC
   */
  public void finish(Status.Code code, int httpStatus) {
    if (finished) {
      return;
    }
    finished = true;
    long nanos = System.nanoTime() - startNanos;
    GatewayMetrics.CallMeters m = meters;
    if (m == null) {
      // Refused before it went anywhere (no route, bad input, auth, rate limit...).
      m = route == null ? telemetry.metrics().call(protocol, null, null, null, null)
          : telemetry.metrics().call(protocol, route, cluster, service, method);
      m.started();
    }
    m.finished(code, nanos, requestMessages, responseMessages, requestBytes, responseBytes);
    if (span != null) {
      Tracing.endServerSpan(span, code, httpStatus);
    }
    AccessLog log = telemetry.accessLog();
    if (log != null) {
      log.log(new AccessLog.Entry(startMillis, nanos, protocol,
          route == null ? GatewayMetrics.UNMATCHED : route, service, method, code.name(),
          httpStatus, httpMethod, path, requestBytes, responseBytes, client,
          upstream == null ? null : address(upstream), traceId, subject, principal));
    }
  }

  private static String address(SocketAddress address) {
    if (address instanceof InetSocketAddress inet && inet.getAddress() != null) {
      String host = inet.getAddress().getHostAddress();
      return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + inet.getPort();
    }
    return address.toString();
  }
}
