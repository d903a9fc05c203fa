package io.meshgate.gateway.config;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Watches the configuration file: polls it (by path, so an editor's write-to-temp-then-rename
 * is seen like an in-place write), and when its contents change, loads and validates the whole
 * document off the data path and hands a good one to the gateway. A broken document is logged
 * with every error and reported; the running configuration stays. Polling, not inotify, because
 * it also works on the network and container file systems configs are mounted from.
 */
public final class ConfigFileWatcher implements AutoCloseable {
  private static final Logger logger = Logger.getLogger(ConfigFileWatcher.class.getName());

  /** What the watcher does with a loaded document. */
  public interface Applier {
    /** Applies a valid configuration; throws when it cannot be used after all. */
    void apply(GatewayConfig config) throws ConfigException;
  }

  private final Path file;
  private final Applier applier;
  private final BiConsumer<Boolean, String> outcome;
  private final ScheduledExecutorService scheduler;
  // Only on the scheduler thread.
  private byte[] lastDigest;

  private ConfigFileWatcher(Path file, byte[] digest, Applier applier,
      BiConsumer<Boolean, String> outcome) {
    this.file = file;
    this.lastDigest = digest;
    this.applier = applier;
    this.outcome = outcome;
    this.scheduler = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "meshgate-config-watch");
      t.setDaemon(true);
      return t;
    });
  }

  /**
   * Starts watching {@code file}, whose current contents are already running.
   *
   * @param every how often the file is looked at
   * @param outcome told (applied?, message) for every change seen
   */
  public static ConfigFileWatcher start(Path file, Duration every, Applier applier,
      BiConsumer<Boolean, String> outcome) {
    ConfigFileWatcher watcher = new ConfigFileWatcher(file, digest(file), applier, outcome);
    watcher.scheduler.scheduleWithFixedDelay(watcher::check, every.toNanos(), every.toNanos(),
        TimeUnit.NANOSECONDS);
    return watcher;
  }

  private static byte[] digest(Path file) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file));
    } catch (IOException e) {
      return null;
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Looks at the file now (after a write of its own, say); applies it if it changed. */
  public synchronized void check() {
    byte[] digest = digest(file);
    if (digest == null || Arrays.equals(digest, lastDigest)) {
      // A missing file is mid-rename or deleted: keep serving, look again next time.
      return;
    }
    lastDigest = digest;
    try {
      GatewayConfig next = ConfigLoader.load(file);
      applier.apply(next);
      outcome.accept(true, "applied " + file);
    } catch (ConfigException e) {
      logger.warning("rejected the changed configuration; still serving the previous one: "
          + e.getMessage());
      outcome.accept(false, e.getMessage());
    } catch (RuntimeException e) {
      logger.log(Level.WARNING, "could not apply the changed configuration " + file
          + "; still serving the previous one", e);
      outcome.accept(false, String.valueOf(e.getMessage()));
    }
  }

  @Override
  public void close() {
    scheduler.shutdownNow();
  }
}
