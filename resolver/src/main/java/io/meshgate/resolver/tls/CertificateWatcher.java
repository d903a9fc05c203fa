package io.meshgate.resolver.tls;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Watches certificate, key and CA files every {@code interval}: when a file's content changes
 * it is reloaded ({@link Reload}, e.g. {@link RotatingKeyManager#reload}), which checks it
 * before it replaces what is in use; a file that does not check out is refused and logged once
 * per content, and the material in use keeps serving. Reads the files' contents rather than
 * trusting timestamps, so that Kubernetes' symlink swaps of secret volumes are seen. Warns when
 * a certificate in use expires within {@link #EXPIRY_WARNING}. Thread-safe; one daemon thread
 * of its own; {@link #close()} stops it.
 */
public final class CertificateWatcher implements AutoCloseable {
  /** A certificate that expires sooner than this is warned about. */
  public static final Duration EXPIRY_WARNING = Duration.ofDays(14);

  private static final Logger logger = Logger.getLogger(CertificateWatcher.class.getName());

  /** Reloads a watched set of files; throws saying what is wrong with them. */
  @FunctionalInterface
  public interface Reload {
    void reload() throws Exception;
  }

  /** Told the outcome of every change (for metrics). */
  public interface Listener {
    /** A listener told nothing. */
    Listener NONE = new Listener() {
      @Override
      public void reloaded(String role) {}

      @Override
      public void refused(String role) {}
    };

    /** A changed file was loaded and serves from the next handshake on. */
    void reloaded(String role);

    /** A changed file was refused; the material in use stays. */
    void refused(String role);

    /** A set of files is watched from now on. */
    default void added(Watch watch) {}

    /** A set of files is watched no more. */
    default void removed(Watch watch) {}
  }

  /** One watched set; {@link #close()} stops watching it. */
  public final class Watch implements AutoCloseable {
    private final String role;
    private final List<Path> files;
    private final Reload reload;
    private final Supplier<X509Certificate> certificate;
    private String fingerprint;

    private Watch(String role, List<Path> files, Reload reload,
        Supplier<X509Certificate> certificate) {
      this.role = role;
      this.files = files;
      this.reload = reload;
      this.certificate = certificate;
      this.fingerprint = fingerprint(files);
    }

    /** What it watches, for logs and metrics, e.g. {@code listener} or {@code etcd}. */
    public String role() {
      return role;
    }

    /** Seconds until the certificate in use expires (negative once it has), or NaN. */
    public double expirySeconds() {
      X509Certificate leaf = certificate == null ? null : certificate.get();
      return leaf == null ? Double.NaN
          : (leaf.getNotAfter().getTime() - System.currentTimeMillis()) / 1000.0;
    }

    /** The first of the watched files (the certificate, or the CA bundle). */
    public Path file() {
      return files.get(0);
    }

    @Override
    public void close() {
      if (watches.remove(this)) {
        listener.removed(this);
      }
    }

    private void poll() {
      String now = fingerprint(files);
      if (now.equals(fingerprint)) {
        return;
      }
      fingerprint = now;
      try {
        reload.reload();
        logger.info("reloaded " + files + " (" + role + "): new TLS handshakes use it"
            + describe());
        listener.reloaded(role);
        warnIfExpiring();
      } catch (Exception e) {
        logger.warning("refused the changed " + files + " (" + role + "): " + e.getMessage()
            + "; still serving the material loaded before" + describe());
        listener.refused(role);
      }
    }

    private String describe() {
      X509Certificate leaf = certificate == null ? null : certificate.get();
      return leaf == null ? "" : " (" + leaf.getSubjectX500Principal().getName()
          + ", expires " + leaf.getNotAfter().toInstant() + ")";
    }

    private void warnIfExpiring() {
      X509Certificate leaf = certificate == null ? null : certificate.get();
      if (leaf != null && leaf.getNotAfter().toInstant()
          .isBefore(Instant.now().plus(EXPIRY_WARNING))) {
        logger.warning("the certificate " + files.get(0) + " (" + role + ") in use expires on "
            + leaf.getNotAfter().toInstant() + ", in less than " + EXPIRY_WARNING.toDays()
            + " days: replace the file (it is reloaded without a restart)");
      }
    }
  }

  private final Listener listener;
  private final List<Watch> watches = new CopyOnWriteArrayList<>();
  private final ScheduledThreadPoolExecutor timer;

  /** Polls every {@code interval}. */
  public CertificateWatcher(Duration interval, Listener listener) {
    this.listener = listener;
    this.timer = new ScheduledThreadPoolExecutor(1, r -> {
      Thread t = new Thread(r, "meshgate-certificates");
      t.setDaemon(true);
      return t;
    });
    timer.scheduleWithFixedDelay(this::pollAll, interval.toNanos(), interval.toNanos(),
        TimeUnit.NANOSECONDS);
  }

  /**
   * Watches {@code files}; on a change runs {@code reload}.
   *
   * @param certificate the certificate in use now (for the expiry gauge and warnings), or null
   *     for files that hold only CAs
   */
  public Watch watch(String role, List<Path> files, Reload reload,
      Supplier<X509Certificate> certificate) {
    Watch watch = new Watch(role, List.copyOf(files), reload, certificate);
    watches.add(watch);
    listener.added(watch);
    watch.warnIfExpiring();
    return watch;
  }

  /** The sets watched now. */
  public List<Watch> watches() {
    return List.copyOf(watches);
  }

  private void pollAll() {
    for (Watch watch : watches) {
      try {
        watch.poll();
      } catch (RuntimeException e) {
        logger.log(Level.WARNING, "checking " + watch.files + " failed", e);
      }
    }
  }

  private static String fingerprint(List<Path> files) {
    try {
      MessageDigest digest = MessageDigest.getInstance("SHA-256");
      for (Path file : files) {
        digest.update(Files.isReadable(file) ? Files.readAllBytes(file) : new byte[0]);
        digest.update((byte) 0);
      }
      return HexFormat.of().formatHex(digest.digest());
    } catch (Exception e) {
      return "unreadable: " + e;
    }
  }

  @Override
  public void close() {
    timer.shutdownNow();
  }
}
