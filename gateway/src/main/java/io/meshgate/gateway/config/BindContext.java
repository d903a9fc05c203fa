package io.meshgate.gateway.config;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * What every section's binder shares: the reader that collects errors, and the directory that
 * relative paths in the document are resolved against.
 */
final class BindContext {
  /** The longest duration any setting takes. */
  static final Duration MAX_DURATION = Duration.ofDays(365);

  private final ConfigReader reader;
  private final Path baseDir;

  /** @param baseDir null: relative paths are relative to the working directory */
  BindContext(ConfigReader reader, Path baseDir) {
    this.reader = reader;
    this.baseDir = baseDir;
  }

  /** A path as the document means it. */
  Path path(String text) {
    return baseDir == null ? Path.of(text) : baseDir.resolve(text);
  }

  /** The required file named by {@code key}, reported when it cannot be read. */
  Path file(ConfigReader.Obj o, String key) {
    String text = o.requiredString(key);
    if (text == null) {
      return null;
    }
    Path path = path(text);
    if (!Files.isReadable(path)) {
      reader.error(o.node(key), o.child(key), "'" + path + "' is not a readable file");
    }
    return path;
  }

  /**
   * {@code provider: jdk | openssl} of a {@code tls:} section; {@code openssl} is refused with
   * the reason when BoringSSL cannot load on this machine.
   */
  GatewayConfig.TlsProvider tlsProvider(ConfigReader.Obj t) {
    String text = t.string("provider", "jdk");
    if (text.equalsIgnoreCase("jdk")) {
      return GatewayConfig.TlsProvider.JDK;
    }
    if (!text.equalsIgnoreCase("openssl")) {
      reader.error(t.node("provider"), t.child("provider"), "'" + text
          + "' is not a TLS provider (expected: jdk or openssl)");
      return GatewayConfig.TlsProvider.JDK;
    }
    if (!io.netty.handler.ssl.OpenSsl.isAvailable()) {
      Throwable cause = io.netty.handler.ssl.OpenSsl.unavailabilityCause();
      reader.error(t.node("provider"), t.child("provider"), "provider openssl cannot load"
          + " BoringSSL (netty-tcnative-boringssl-static) on this machine: "
          + (cause == null ? "unknown reason" : cause.getMessage()) + "; use provider: jdk");
      return GatewayConfig.TlsProvider.JDK;
    }
    return GatewayConfig.TlsProvider.OPENSSL;
  }
}
