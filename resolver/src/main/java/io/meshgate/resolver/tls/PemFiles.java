package io.meshgate.resolver.tls;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Instant;
import java.util.Base64;
import java.util.List;

/**
 * Reads and checks PEM certificate chains and PKCS#8 keys the way the gateway uses them: the
 * chain parses, the key parses, the key belongs to the chain's first certificate, and that
 * certificate is valid now — so that a file that would fail handshakes is refused before it
 * replaces one that works.
 */
public final class PemFiles {
  private PemFiles() {}

  /** A certificate chain (leaf first) and its key. */
  public record KeyPairFiles(List<X509Certificate> chain, PrivateKey key) {
    /** The leaf certificate. */
    public X509Certificate leaf() {
      return chain.get(0);
    }
  }

  /**
   * Reads and checks {@code certFile} and {@code keyFile}.
   *
   * @throws GeneralSecurityException saying what is wrong, naming the file
   */
  public static KeyPairFiles read(Path certFile, Path keyFile) throws Exception {
    List<X509Certificate> chain = chain(certFile);
    PrivateKey key = key(keyFile);
    if (!matches(key, chain.get(0))) {
      throw new GeneralSecurityException("the key in " + keyFile + " does not belong to the"
          + " certificate in " + certFile + " (" + chain.get(0).getSubjectX500Principal()
          .getName() + ")");
    }
    X509Certificate leaf = chain.get(0);
    Instant now = Instant.now();
    if (leaf.getNotAfter().toInstant().isBefore(now)) {
      throw new CertificateException("the certificate in " + certFile + " expired on "
          + leaf.getNotAfter().toInstant());
    }
    if (leaf.getNotBefore().toInstant().isAfter(now)) {
      throw new CertificateException("the certificate in " + certFile + " is valid only from "
          + leaf.getNotBefore().toInstant());
    }
    return new KeyPairFiles(chain, key);
  }

  /** The certificates of a PEM file, in order; at least one. */
  public static List<X509Certificate> chain(Path file) throws Exception {
    List<X509Certificate> chain;
    try (var in = Files.newInputStream(file)) {
      chain = CertificateFactory.getInstance("X.509").generateCertificates(in).stream()
          .map(X509Certificate.class::cast).toList();
    } catch (CertificateException e) {
      throw new CertificateException(file + " is not a PEM certificate chain: " + e.getMessage(),
          e);
    }
    if (chain.isEmpty()) {
      throw new CertificateException(file + " holds no certificate");
    }
    return chain;
  }

  /** The PKCS#8 private key of a PEM file ({@code BEGIN PRIVATE KEY}), EC or RSA. */
  public static PrivateKey key(Path file) throws Exception {
    String text = Files.readString(file, StandardCharsets.US_ASCII);
    int begin = text.indexOf("-----BEGIN PRIVATE KEY-----");
    int end = text.indexOf("-----END PRIVATE KEY-----");
    if (begin < 0 || end < begin) {
      throw new GeneralSecurityException(file + " holds no PEM PKCS#8 private key (expected"
          + " -----BEGIN PRIVATE KEY-----; convert others with openssl pkcs8 -topk8 -nocrypt)");
    }
    byte[] der = Base64.getMimeDecoder().decode(
        text.substring(begin + "-----BEGIN PRIVATE KEY-----".length(), end));
    for (String algorithm : List.of("EC", "RSA", "Ed25519")) {
      try {
        return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(der));
      } catch (GeneralSecurityException notThisOne) {
        // try the next algorithm
      }
    }
    throw new GeneralSecurityException(file + " holds a key the JDK cannot read (EC, RSA and"
        + " Ed25519 are read)");
  }

  /** Whether {@code key} signs what {@code certificate}'s public key verifies. */
  static boolean matches(PrivateKey key, X509Certificate certificate) {
    String algorithm = switch (key.getAlgorithm()) {
      case "EC" -> "SHA256withECDSA";
      case "RSA" -> "SHA256withRSA";
      default -> key.getAlgorithm();
    };
    try {
      byte[] probe = "meshgate key check".getBytes(StandardCharsets.US_ASCII);
      Signature signer = Signature.getInstance(algorithm);
      signer.initSign(key);
      signer.update(probe);
      byte[] signature = signer.sign();
      Signature verifier = Signature.getInstance(algorithm);
      verifier.initVerify(certificate.getPublicKey());
      verifier.update(probe);
      return verifier.verify(signature);
    } catch (GeneralSecurityException e) {
      return false;
    }
  }
}
