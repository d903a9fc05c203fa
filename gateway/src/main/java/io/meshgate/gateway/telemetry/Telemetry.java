package io.meshgate.gateway.telemetry;

import io.meshgate.gateway.config.GatewayConfig;
import java.io.IOException;

/**
 * What the gateway records about calls: metrics and the access log. Every call through the main
 * port gets a {@link CallRecord} from {@link #start}. Thread-safe.
 */
public final class Telemetry implements AutoCloseable {
  private final GatewayMetrics metrics;
  private final AccessLog accessLog;
  private final Tracing tracing;

  private Telemetry(GatewayMetrics metrics, AccessLog accessLog, Tracing tracing) {
    this.metrics = metrics;
    this.accessLog = accessLog;
    this.tracing = tracing;
  }

  /**
   * Telemetry per the config's {@code metrics:} and {@code accessLog:} sections.
   *
   * @throws IOException when the access log file cannot be opened
   */
  public static Telemetry create(GatewayConfig config) throws IOException {
    GatewayMetrics metrics = new GatewayMetrics(config.metrics());
    GatewayConfig.AccessLog log = config.accessLog();
    AccessLog accessLog = log == null ? null : AccessLog.open(log.path(), log.bufferEntries(),
        metrics.counter("meshgate.access.log.dropped",
            "Access log entries dropped because the writer fell behind"));
    return new Telemetry(metrics, accessLog, Tracing.create(config.tracing()));
  }

  /** The tracing of calls ({@link Tracing#OFF} when not configured). */
  public Tracing tracing() {
    return tracing;
  }

  /** The meters; {@code /metrics} shows them. */
  public GatewayMetrics metrics() {
    return metrics;
  }

  /**
   * Starts recording a call (and, with tracing, its server span).
   *
   * @param protocol {@code grpc} or {@code rest}
   * @param client the client's IP address, or null
   * @param headers the request's headers by lower-case name (for trace context)
   */
  public CallRecord start(String protocol, String client,
      java.util.function.Function<String, String> headers) {
    CallRecord record = new CallRecord(this, protocol, client);
    if (tracing.enabled()) {
      record.span(tracing.startServerSpan(protocol, headers, client));
    } else {
      String traceparent = headers.apply("traceparent");
      // 00-<32 hex trace id>-<16 hex span id>-<flags>: the access log shows the caller's trace.
      if (traceparent != null && traceparent.length() >= 55 && traceparent.charAt(2) == '-') {
        record.traceId(traceparent.substring(3, 35));
      }
    }
    return record;
  }

  AccessLog accessLog() {
    return accessLog;
  }

  @Override
  public void close() {
    if (accessLog != null) {
      accessLog.close();
    }
    tracing.close();
    metrics.close();
  }
}
