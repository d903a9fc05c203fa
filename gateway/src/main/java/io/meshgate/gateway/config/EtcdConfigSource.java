package io.meshgate.gateway.config;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.Watch;
import io.etcd.jetcd.kv.GetResponse;
import io.etcd.jetcd.options.WatchOption;
import io.etcd.jetcd.watch.WatchEvent;
import io.meshgate.resolver.EtcdClients;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BiConsumer;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The configuration document kept in etcd, at {@code <prefix>gateway.yaml}, shared by every
 * gateway that points at it. Read once at start; then watched from the next revision, and each
 * new value is loaded and validated as a whole and handed to the gateway, which reports the
 * revision it serves: instances converge on the same revision. A broken value is refused (the
 * running configuration stays, its revision too); etcd going away keeps the running
 * configuration, and the watch is re-established (reading the current value) with backoff.
 * Thread-safe: events are handled one at a time on the source's own thread.
 */
public final class EtcdConfigSource implements AutoCloseable {
  private static final Logger logger = Logger.getLogger(EtcdConfigSource.class.getName());
  private static final long TIMEOUT_SECONDS = 10;

  private final EtcdClients.Handle etcd;
  private final ByteSequence key;
  private final String keyText;
  private final ScheduledExecutorService worker;
  // Only on the worker thread (after start).
  private ConfigFileWatcher.Applier applier;
  private BiConsumer<Boolean, String> outcome;
  private Watch.Watcher watcher;
  private long backoffMillis = 500;
  private volatile long revision;
  private volatile boolean closed;

  private EtcdConfigSource(EtcdClients.Handle etcd, String keyText) {
    this.etcd = etcd;
    this.keyText = keyText;
    this.key = ByteSequence.from(keyText, StandardCharsets.UTF_8);
    this.worker = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "meshgate-config-etcd");
      t.setDaemon(true);
      return t;
    });
  }

  /** The source of the document at {@code <prefix>gateway.yaml} in the etcd at endpoints. */
  public static EtcdConfigSource connect(List<String> endpoints, String prefix) {
    return connect(endpoints, prefix, null);
  }

  /**
   * As {@link #connect(List, String)}, over TLS with {@code tls} (null: cleartext).
   *
   * @throws IllegalArgumentException when the TLS files cannot be used
   */
  public static EtcdConfigSource connect(List<String> endpoints, String prefix,
      io.meshgate.resolver.EtcdTls tls) {
    String normalized = prefix.endsWith("/") ? prefix : prefix + "/";
    return new EtcdConfigSource(EtcdClients.acquire(endpoints, tls), normalized + "gateway.yaml");
  }

  /** The key the document lives at. */
  public String key() {
    return keyText;
  }

  /** A value read from etcd and its revision. */
  public record Loaded(GatewayConfig config, long modRevision, long revision) {}

  /**
   * Reads and validates the document now (at start).
   *
   * @throws ConfigException when the key is missing or its value is not a valid configuration
   * @throws IOException when etcd cannot be reached
   */
  public Loaded load() throws ConfigException, IOException {
    GetResponse response = get();
    if (response.getKvs().isEmpty()) {
      throw new ConfigException(List.of(new ConfigError("etcd:" + keyText, 0, 0, "",
          "no configuration at this key (put the YAML document there, e.g. etcdctl put "
              + keyText + " \"$(cat gateway.yaml)\")")));
    }
    KeyValue kv = response.getKvs().get(0);
    GatewayConfig config = ConfigLoader.parse("etcd:" + keyText + "@" + kv.getModRevision(),
        kv.getValue().toString(StandardCharsets.UTF_8), null);
    return new Loaded(config, kv.getModRevision(), response.getHeader().getRevision());
  }

  private GetResponse get() throws IOException {
    try {
      return etcd.client().getKVClient().get(key).get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
    } catch (ExecutionException | TimeoutException e) {
      throw new IOException("cannot read " + keyText + " from etcd: " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted reading " + keyText, e);
    }
  }

  /** The mod revision of the document the gateway serves (0 before the first). */
  public long revision() {
    return revision;
  }

  /**
   * Watches the document from after {@code loaded}, which the gateway already serves.
   *
   * @param outcome told (applied?, message) for every new value
   */
  public void watch(Loaded loaded, ConfigFileWatcher.Applier applier,
      BiConsumer<Boolean, String> outcome) {
    this.revision = loaded.modRevision();
    worker.execute(() -> {
      this.applier = applier;
      this.outcome = outcome;
      startWatch(loaded.revision() + 1);
    });
  }

  private void startWatch(long fromRevision) {
    if (closed) {
      return;
    }
    watcher = etcd.client().getWatchClient().watch(key,
        WatchOption.builder().withRevision(fromRevision).build(),
        Watch.listener(
            response -> {
              for (WatchEvent event : response.getEvents()) {
                if (event.getEventType() == WatchEvent.EventType.PUT) {
                  KeyValue kv = event.getKeyValue();
                  String text = kv.getValue().toString(StandardCharsets.UTF_8);
                  long mod = kv.getModRevision();
                  submit(() -> apply(text, mod));
                } else {
                  submit(() -> outcome.accept(false, keyText + " was deleted; keeping"
                      + " the running configuration"));
                }
              }
            },
            error -> submit(() -> broken(error)),
            () -> submit(() -> broken(new IllegalStateException("etcd ended the watch")))));
  }

  /** Hands work from etcd's threads to the source's own; nothing once closed. */
  private void submit(Runnable task) {
    if (closed) {
      return;
    }
    try {
      worker.execute(task);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      // Closed in the meantime.
    }
  }

  private void apply(String text, long modRevision) {
    if (modRevision <= revision) {
      return; // already serving it (or newer)
    }
    backoffMillis = 500;
    try {
      applier.apply(ConfigLoader.parse("etcd:" + keyText + "@" + modRevision, text, null));
      revision = modRevision;
      outcome.accept(true, "applied " + keyText + " at revision " + modRevision);
    } catch (ConfigException e) {
      logger.warning("rejected the configuration at " + keyText + " revision " + modRevision
          + "; still serving revision " + revision + ": " + e.getMessage());
      outcome.accept(false, e.getMessage());
    } catch (RuntimeException e) {
      logger.log(Level.WARNING, "could not apply " + keyText + " revision " + modRevision, e);
      outcome.accept(false, String.valueOf(e.getMessage()));
    }
  }

  /** The watch broke (etcd away, compaction): read the current value and watch again. */
  private void broken(Throwable error) {
    if (closed) {
      return;
    }
    if (watcher != null) {
      watcher.close();
      watcher = null;
    }
    logger.warning("watching " + keyText + " in etcd failed (" + error + "); serving revision "
        + revision + ", retrying in " + backoffMillis + " ms");
    long delay = backoffMillis;
    backoffMillis = Math.min(backoffMillis * 2, 10_000);
    worker.schedule(this::relist, delay, TimeUnit.MILLISECONDS);
  }

  private void relist() {
    if (closed) {
      return;
    }
    GetResponse response;
    try {
      response = get();
    } catch (IOException e) {
      broken(e);
      return;
    }
    if (!response.getKvs().isEmpty()) {
      KeyValue kv = response.getKvs().get(0);
      apply(kv.getValue().toString(StandardCharsets.UTF_8), kv.getModRevision());
    }
    startWatch(response.getHeader().getRevision() + 1);
  }

  /** Writes a new document (for the admin API); the watch applies it. */
  public long put(String text) throws IOException {
    try {
      return etcd.client().getKVClient().put(key, ByteSequence.from(text, StandardCharsets.UTF_8))
          .get(TIMEOUT_SECONDS, TimeUnit.SECONDS).getHeader().getRevision();
    } catch (ExecutionException | TimeoutException e) {
      throw new IOException("cannot write " + keyText + " to etcd: " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted writing " + keyText, e);
    }
  }

  /** The current document's text, or null when the key is missing. */
  public String read() throws IOException {
    GetResponse response = get();
    return response.getKvs().isEmpty() ? null
        : response.getKvs().get(0).getValue().toString(StandardCharsets.UTF_8);
  }

  @Override
  public void close() {
    closed = true;
    try {
      worker.submit(() -> {
        if (watcher != null) {
          watcher.close();
        }
      }).get(5, TimeUnit.SECONDS);
    } catch (ExecutionException | TimeoutException | java.util.concurrent.RejectedExecutionException e) {
      logger.log(Level.FINE, "closing the etcd watch", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    worker.shutdownNow();
    etcd.close();
  }
}
