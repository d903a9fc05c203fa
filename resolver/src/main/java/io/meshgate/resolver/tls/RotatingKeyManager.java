package io.meshgate.resolver.tls;

import java.net.Socket;
import java.nio.file.Path;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedKeyManager;

/**
 * A key manager whose certificate chain and key are read from PEM files and can be replaced
 * while the process runs: give it to an {@code SslContextBuilder} (or an {@code SSLContext}) and
 * call {@link #reload} when the files change; every new handshake uses the pair loaded last,
 * connections already open keep theirs. {@link #reload} takes a new pair only once it is
 * checked ({@link PemFiles#read}: chain and key parse, belong together, not expired), so a broken
 * file never replaces one that works. Thread-safe.
 *
 * <p>Each pair is offered under its own alias, so a handshake that chose its alias before a
 * reload still gets that pair's certificate and key together, and caches keyed by alias (such
 * as OpenSSL's key material cache) never serve a replaced pair.
 *
 * <pre>
 * RotatingKeyManager keys = RotatingKeyManager.load(Path.of("tls.crt"), Path.of("tls.key"));
 * SslContext tls = GrpcSslContexts.forClient().keyManager(keys).build();
 * ...
 * keys.reload(); // when the files changed
 * </pre>
 */
public final class RotatingKeyManager extends X509ExtendedKeyManager {
  private static final String ALIAS = "meshgate-";

  private final Path certFile;
  private final Path keyFile;
  private final java.util.List<Runnable> onReload =
      new java.util.concurrent.CopyOnWriteArrayList<>();
  private final Object lock = new Object();
  private volatile Loaded current;
  private volatile Loaded previous;

  private record Loaded(long generation, PemFiles.KeyPairFiles pair) {
    String alias() {
      return ALIAS + generation;
    }

    boolean fits(String keyType) {
      String algorithm = pair.key().getAlgorithm();
      return keyType == null || keyType.equalsIgnoreCase(algorithm)
          || keyType.startsWith(algorithm + "_") || (algorithm.equals("EC")
              && keyType.startsWith("EC")) || (algorithm.equals("RSA")
              && keyType.startsWith("RSA")) || (algorithm.equals("EdDSA")
              && keyType.startsWith("Ed"));
    }
  }

  private RotatingKeyManager(Path certFile, Path keyFile) {
    this.certFile = certFile;
    this.keyFile = keyFile;
  }

  /**
   * Loads {@code certFile} (the chain, leaf first) and {@code keyFile} (PKCS#8).
   *
   * @throws Exception saying what is wrong with them
   */
  public static RotatingKeyManager load(Path certFile, Path keyFile) throws Exception {
    RotatingKeyManager manager = new RotatingKeyManager(certFile, keyFile);
    manager.reload();
    return manager;
  }

  /**
   * Reads the files again and, if they check out, serves them from the next handshake on.
   *
   * @throws Exception saying what is wrong; the pair in use stays
   */
  public void reload() throws Exception {
    PemFiles.KeyPairFiles pair = PemFiles.read(certFile, keyFile);
    boolean replacing;
    synchronized (lock) {
      Loaded old = current;
      replacing = old != null;
      previous = old;
      current = new Loaded(old == null ? 0 : old.generation() + 1, pair);
    }
    if (replacing) {
      onReload.forEach(Runnable::run);
    }
  }

  /** The certificate served now. */
  public X509Certificate certificate() {
    return current.pair().leaf();
  }

  /** The certificate file. */
  public Path certFile() {
    return certFile;
  }

  /** The key file. */
  public Path keyFile() {
    return keyFile;
  }

  /**
   * Runs {@code action} after each replacement, e.g. to forget TLS sessions made with the old
   * material (a resumed session would keep the identity it was made with).
   */
  public void onReload(Runnable action) {
    onReload.add(action);
  }

  private String choose(String[] keyTypes) {
    Loaded now = current;
    for (String keyType : keyTypes) {
      if (now.fits(keyType)) {
        return now.alias();
      }
    }
    return null;
  }

  private Loaded byAlias(String alias) {
    Loaded now = current;
    if (now.alias().equals(alias)) {
      return now;
    }
    Loaded before = previous;
    return before != null && before.alias().equals(alias) ? before : null;
  }

  @Override
  public String[] getClientAliases(String keyType, Principal[] issuers) {
    String alias = choose(new String[] {keyType});
    return alias == null ? null : new String[] {alias};
  }

  @Override
  public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
    return choose(keyType);
  }

  @Override
  public String chooseEngineClientAlias(String[] keyType, Principal[] issuers, SSLEngine engine) {
    return choose(keyType);
  }

  @Override
  public String[] getServerAliases(String keyType, Principal[] issuers) {
    return getClientAliases(keyType, issuers);
  }

  @Override
  public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
    return choose(new String[] {keyType});
  }

  @Override
  public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine engine) {
    return choose(new String[] {keyType});
  }

  @Override
  public X509Certificate[] getCertificateChain(String alias) {
    Loaded loaded = byAlias(alias);
    return loaded == null ? null : loaded.pair().chain().toArray(new X509Certificate[0]);
  }

  @Override
  public PrivateKey getPrivateKey(String alias) {
    Loaded loaded = byAlias(alias);
    return loaded == null ? null : loaded.pair().key();
  }
}
