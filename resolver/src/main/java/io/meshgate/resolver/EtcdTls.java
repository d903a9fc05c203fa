package io.meshgate.resolver;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;

/**
 * TLS to etcd: the CAs that issued etcd's server certificates and, for an etcd started with
 * {@code --client-cert-auth}, the client certificate and key to present (PEM; the key PKCS#8).
 * Give it to {@link EtcdNameResolverProvider#EtcdNameResolverProvider(java.util.List, EtcdTls)}
 * and {@link EtcdRegistrar.Builder#tls}; the endpoints are then {@code https://} URLs (a bare
 * {@code host:port} is taken as https). Immutable; equal when the files are.
 *
 * <p>The files are watched while a client uses them (their contents checked every two
 * seconds): a changed certificate, key or CA file is checked (it parses, the key fits the
 * certificate, the certificate has not expired) and used from the next connection to etcd on,
 * without a restart; connections already open keep theirs. A broken file is refused and logged,
 * and the files loaded before keep serving.
 */
public final class EtcdTls {
  private final Path caFile;
  private final Path certFile;
  private final Path keyFile;

  private EtcdTls(Path caFile, Path certFile, Path keyFile) {
    this.caFile = caFile;
    this.certFile = certFile;
    this.keyFile = keyFile;
  }

  /**
   * TLS trusting {@code caFile} (null: the JVM's CAs) and presenting {@code certFile} with
   * {@code keyFile} (both null: no client certificate).
   *
   * @throws IllegalArgumentException naming the file when one cannot be read, or when only one
   *     of certificate and key is given
   */
  public static EtcdTls of(Path caFile, Path certFile, Path keyFile) {
    if ((certFile == null) != (keyFile == null)) {
      throw new IllegalArgumentException("give the etcd client certificate and its key"
          + " together, or neither");
    }
    for (Path file : new Path[] {caFile, certFile, keyFile}) {
      if (file != null && !Files.isReadable(file)) {
        throw new IllegalArgumentException("'" + file + "' is not a readable file");
      }
    }
    return new EtcdTls(caFile, certFile, keyFile);
  }

  /** The trusted CAs' file, or null for the JVM's. */
  public Path caFile() {
    return caFile;
  }

  /** The client certificate's file, or null. */
  public Path certFile() {
    return certFile;
  }

  /** The client key's file, or null. */
  public Path keyFile() {
    return keyFile;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof EtcdTls other && Objects.equals(caFile, other.caFile)
        && Objects.equals(certFile, other.certFile) && Objects.equals(keyFile, other.keyFile);
  }

  @Override
  public int hashCode() {
    return Objects.hash(caFile, certFile, keyFile);
  }

  @Override
  public String toString() {
    return "EtcdTls[ca=" + caFile + ", cert=" + certFile + "]";
  }
}
