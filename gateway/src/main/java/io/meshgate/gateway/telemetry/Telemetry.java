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

  private Telemetry(GatewayMetrics metrics, AccessLog accessLog) {
    this.metrics = metrics;
    this.accessLog = accessLog;
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
    return new Telemetry(metrics, accessLog);
  }

  /** The meters; {@code /metrics} shows them. */
  public GatewayMetrics metrics() {
    return metrics;
  }

  /**
   * Starts recording a call.
   *
   * @param protocol {@code grpc} or {@code rest}
   * @param client the client's IP address, or null
   */
  public CallRecord start(String protocol, String client) {
    return new CallRecord(this, protocol, client);
  }

  AccessLog accessLog() {
    return accessLog;
  }

  @Override
  public void close() {
    if (accessLog != null) {
      accessLog.close();
    }
  }
}
