package io.meshgate.gateway.netty;

import java.net.Socket;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedKeyManager;

/**
 * A key manager whose certificate and key are read from files and can be replaced while the
 * gateway runs: every new handshake uses the pair loaded last; connections already open keep
 * theirs. {@link #reload} takes a new pair only once it is checked ({@link PemFiles#read}), so
 * a broken file never replaces one that works. Thread-safe.
 */
public final class RotatingKeyManager extends X509ExtendedKeyManager {
  private final Path certFile;
  private final Path keyFile;
  private final AtomicReference<Loaded> current = new AtomicReference<>();
  private final java.util.List<Runnable> onReload =
      new java.util.concurrent.CopyOnWriteArrayList<>();

  private record Loaded(X509ExtendedKeyManager manager, X509Certificate leaf) {}

  private RotatingKeyManager(Path certFile, Path keyFile) {
    this.certFile = certFile;
    this.keyFile = keyFile;
  }

  /**
   * Loads {@code certFile} and {@code keyFile}.
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
    KeyStore store = KeyStore.getInstance("PKCS12");
    store.load(null, null);
    char[] password = new char[0];
    store.setKeyEntry("key", pair.key(), password,
        pair.chain().toArray(new X509Certificate[0]));
    KeyManagerFactory factory =
        KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    factory.init(store, password);
    for (KeyManager manager : factory.getKeyManagers()) {
      if (manager instanceof X509ExtendedKeyManager extended) {
        boolean replacing = current.getAndSet(new Loaded(extended, pair.leaf())) != null;
        if (replacing) {
          onReload.forEach(Runnable::run);
        }
        return;
      }
    }
    throw new IllegalStateException("the JVM has no X.509 key manager");
  }

  /** The certificate served now. */
  public X509Certificate certificate() {
    return current.get().leaf();
  }

  /** The certificate file. */
  public Path certFile() {
    return certFile;
  }

  /** The key file. */
  public Path keyFile() {
    return keyFile;
  }

  private X509ExtendedKeyManager manager() {
    return current.get().manager();
  }

  /**
   * Runs {@code action} after each replacement, e.g. to forget TLS sessions made with the old
   * material (a resumed session would keep the identity it was made with).
   */
  public void onReload(Runnable action) {
    onReload.add(action);
  }

  @Override
  public String[] getClientAliases(String keyType, Principal[] issuers) {
    return manager().getClientAliases(keyType, issuers);
  }

  @Override
  public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
    return manager().chooseClientAlias(keyType, issuers, socket);
  }

  @Override
  public String chooseEngineClientAlias(String[] keyType, Principal[] issuers, SSLEngine engine) {
    return manager().chooseEngineClientAlias(keyType, issuers, engine);
  }

  @Override
  public String[] getServerAliases(String keyType, Principal[] issuers) {
    return manager().getServerAliases(keyType, issuers);
  }

  @Override
  public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
    return manager().chooseServerAlias(keyType, issuers, socket);
  }

  @Override
  public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine engine) {
    return manager().chooseEngineServerAlias(keyType, issuers, engine);
  }

  @Override
  public X509Certificate[] getCertificateChain(String alias) {
    return manager().getCertificateChain(alias);
  }

  @Override
  public PrivateKey getPrivateKey(String alias) {
    return manager().getPrivateKey(alias);
  }
}
