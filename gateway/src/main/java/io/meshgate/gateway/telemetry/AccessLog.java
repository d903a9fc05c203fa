package io.meshgate.gateway.telemetry;

import io.micrometer.core.instrument.Counter;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * One JSON line per call, written by a thread of its own: the data path only offers the entry to
 * a bounded queue, so a slow disk never stalls a call. When the queue is full the entry is
 * dropped and counted ({@code meshgate_access_log_dropped_total}).
 */
public final class AccessLog implements AutoCloseable {
  private static final Logger logger = Logger.getLogger(AccessLog.class.getName());

  private final BlockingQueue<Entry> queue;
  private final Writer out;
  private final boolean closeOut;
  private final Counter dropped;
  private final Thread writer;
  private volatile boolean closing;

  /**
   * One finished call.
   *
   * @param startMillis when its first byte arrived (epoch milliseconds)
   * @param durationNanos how long it took
   * @param code the gRPC status code's name
   * @param httpStatus the HTTP status of a REST call; 0 for gRPC
   * @param upstream the backend address that served it, or null
   * @param traceId the W3C trace id, or null
   * @param subject the JWT subject, or null
   * @param principal who the client is by its TLS certificate (its SPIFFE ID, DNS name or
   *     subject), or null
   */
  public record Entry(long startMillis, long durationNanos, String protocol, String route,
      String service, String method, String code, int httpStatus, String httpMethod,
      String path, long requestBytes, long responseBytes, String client, String upstream,
      String traceId, String subject, String principal) {}

  private AccessLog(Writer out, boolean closeOut, int capacity, Counter dropped) {
    this.out = out;
    this.closeOut = closeOut;
    this.queue = new ArrayBlockingQueue<>(capacity);
    this.dropped = dropped;
    this.writer = new Thread(this::run, "meshgate-access-log");
    writer.setDaemon(true);
    writer.start();
  }

  /**
   * Opens the log.
   *
   * @param path a file (appended to, created if missing), or null for standard output
   * @param capacity entries that may wait for the writer
   * @throws IOException when the file cannot be opened
   */
  public static AccessLog open(Path path, int capacity, Counter dropped) throws IOException {
    if (path == null) {
      return new AccessLog(new BufferedWriter(new OutputStreamWriter(System.out,
          StandardCharsets.UTF_8)), false, capacity, dropped);
    }
    return new AccessLog(Files.newBufferedWriter(path, StandardCharsets.UTF_8,
        StandardOpenOption.CREATE, StandardOpenOption.APPEND, StandardOpenOption.WRITE), true,
        capacity, dropped);
  }

  /** A log that writes to {@code out} (for tests: a writer that stalls like a slow disk). */
  static AccessLog toWriter(Writer out, int capacity, Counter dropped) {
    return new AccessLog(out, true, capacity, dropped);
  }

  /** Queues an entry; never blocks. */
  public void log(Entry entry) {
    if (!queue.offer(entry)) {
      dropped.increment();
    }
  }

  private void run() {
    List<Entry> batch = new ArrayList<>(256);
    StringBuilder line = new StringBuilder(512);
    while (true) {
      try {
        Entry first = queue.poll(200, TimeUnit.MILLISECONDS);
        if (first == null) {
          if (closing) {
            break;
          }
          continue;
        }
        batch.add(first);
        queue.drainTo(batch, 255);
        for (Entry entry : batch) {
          line.setLength(0);
          format(entry, line);
          out.append(line);
        }
        batch.clear();
        if (queue.isEmpty()) {
          out.flush();
        }
      } catch (InterruptedException e) {
        break;
      } catch (IOException e) {
        logger.log(Level.WARNING, "cannot write the access log", e);
        batch.clear();
      }
    }
    try {
      out.flush();
      if (closeOut) {
        out.close();
      }
    } catch (IOException e) {
      logger.log(Level.WARNING, "cannot close the access log", e);
    }
  }

  /** Writes what is queued and stops the writer. */
  @Override
  public void close() {
    closing = true;
    try {
      writer.join(TimeUnit.SECONDS.toMillis(5));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  static void format(Entry e, StringBuilder b) {
    b.append("{\"time\":\"").append(Instant.ofEpochMilli(e.startMillis())).append('"');
    field(b, "protocol", e.protocol());
    field(b, "route", e.route());
    field(b, "service", e.service());
    field(b, "method", e.method());
    if (e.httpMethod() != null) {
      field(b, "httpMethod", e.httpMethod());
      field(b, "path", e.path());
    }
    field(b, "code", e.code());
    if (e.httpStatus() != 0) {
      b.append(",\"httpStatus\":").append(e.httpStatus());
    }
    b.append(",\"durationMs\":").append(e.durationNanos() / 1000 / 1000.0);
    b.append(",\"requestBytes\":").append(e.requestBytes());
    b.append(",\"responseBytes\":").append(e.responseBytes());
    field(b, "client", e.client());
    field(b, "upstream", e.upstream());
    field(b, "traceId", e.traceId());
    field(b, "subject", e.subject());
    field(b, "principal", e.principal());
    b.append("}\n");
  }

  private static void field(StringBuilder b, String name, String value) {
    if (value == null) {
      return;
    }
    b.append(",\"").append(name).append("\":\"");
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        default -> {
          if (c < 0x20) {
            b.append(String.format("\\u%04x", (int) c));
          } else {
            b.append(c);
          }
        }
      }
    }
    b.append('"');
  }
}
