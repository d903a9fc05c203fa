package io.meshgate.testing;

import java.io.IOException;
import java.io.StringWriter;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A small certificate authority made by a test (BouncyCastle), so that no key is checked in
 * and none expires: it issues server, client and workload (SPIFFE) certificates as PEM files in
 * a directory, valid or expired on demand.
 */
public final class TestCa {
  private static final AtomicLong SERIAL = new AtomicLong(System.currentTimeMillis());

  private final String name;
  private final KeyPair keys;
  private final X509Certificate certificate;
  private final Path dir;

  private TestCa(String name, KeyPair keys, X509Certificate certificate, Path dir) {
    this.name = name;
    this.keys = keys;
    this.certificate = certificate;
    this.dir = dir;
  }

  /** A new CA called {@code name}; its files go to {@code dir}. */
  public static TestCa create(String name, Path dir) throws Exception {
    KeyPair keys = newKeys();
    X500Name subject = new X500Name("CN=" + name);
    Instant now = Instant.now();
    X509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(subject,
        BigInteger.valueOf(SERIAL.incrementAndGet()), Date.from(now.minusSeconds(60)),
        Date.from(now.plus(Duration.ofDays(90))), subject, keys.getPublic());
    builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
    builder.addExtension(Extension.keyUsage, true,
        new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
    X509Certificate certificate = sign(builder, keys.getPrivate());
    TestCa ca = new TestCa(name, keys, certificate, dir);
    writePem(dir.resolve(name + ".pem"), certificate);
    return ca;
  }

  /** The CA certificate's PEM file. */
  public Path caFile() {
    return dir.resolve(name + ".pem");
  }

  /** A certificate and its key, as PEM files. */
  public record Issued(Path certFile, Path keyFile) {}

  /**
   * Issues a certificate for {@code commonName} carrying {@code sans} (DNS names, IP addresses,
   * or URIs such as {@code spiffe://corp.example/ns/web/sa/api}) for both TLS client and server
   * use, valid from {@code notBefore} to {@code notAfter}.
   */
  public Issued issue(String commonName, List<String> sans, Instant notBefore, Instant notAfter)
      throws Exception {
    KeyPair leafKeys = newKeys();
    X509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(
        new X500Name("CN=" + name), BigInteger.valueOf(SERIAL.incrementAndGet()),
        Date.from(notBefore), Date.from(notAfter), new X500Name("CN=" + commonName),
        leafKeys.getPublic());
    List<GeneralName> names = new ArrayList<>();
    for (String san : sans) {
      if (san.contains("://")) {
        names.add(new GeneralName(GeneralName.uniformResourceIdentifier, san));
      } else if (san.matches("[0-9.]+")) {
        names.add(new GeneralName(GeneralName.iPAddress, san));
      } else {
        names.add(new GeneralName(GeneralName.dNSName, san));
      }
    }
    if (!names.isEmpty()) {
      builder.addExtension(Extension.subjectAlternativeName, false,
          new GeneralNames(names.toArray(new GeneralName[0])));
    }
    builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
    builder.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(
        new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}));
    X509Certificate leaf = sign(builder, keys.getPrivate());
    String base = commonName.replaceAll("[^A-Za-z0-9.-]", "_") + "-" + SERIAL.get();
    Path cert = dir.resolve(base + ".pem");
    Path key = dir.resolve(base + ".key");
    writePem(cert, leaf);
    try (StringWriter text = new StringWriter(); JcaPEMWriter pem = new JcaPEMWriter(text)) {
      pem.writeObject(new JcaPKCS8Generator(leafKeys.getPrivate(), null));
      pem.flush();
      Files.writeString(key, text.toString());
    }
    return new Issued(cert, key);
  }

  /** A certificate valid for the next 30 days. */
  public Issued issue(String commonName, String... sans) throws Exception {
    Instant now = Instant.now();
    return issue(commonName, List.of(sans), now.minusSeconds(60), now.plus(Duration.ofDays(30)));
  }

  /** A certificate that expired an hour ago. */
  public Issued issueExpired(String commonName, String... sans) throws Exception {
    Instant now = Instant.now();
    return issue(commonName, List.of(sans), now.minus(Duration.ofDays(2)),
        now.minus(Duration.ofHours(1)));
  }

  /**
   * A client TLS context that trusts this CA and, with {@code presented}, shows that
   * certificate (for servers that ask for one).
   */
  public javax.net.ssl.SSLContext sslContext(Issued presented) throws Exception {
    java.security.KeyStore trust = java.security.KeyStore.getInstance("PKCS12");
    trust.load(null, null);
    trust.setCertificateEntry("ca", certificate);
    javax.net.ssl.TrustManagerFactory trustFactory = javax.net.ssl.TrustManagerFactory
        .getInstance(javax.net.ssl.TrustManagerFactory.getDefaultAlgorithm());
    trustFactory.init(trust);
    javax.net.ssl.KeyManager[] keyManagers = null;
    if (presented != null) {
      java.security.cert.X509Certificate leaf;
      try (var in = Files.newInputStream(presented.certFile())) {
        leaf = (java.security.cert.X509Certificate) java.security.cert.CertificateFactory
            .getInstance("X.509").generateCertificate(in);
      }
      String pem = Files.readString(presented.keyFile());
      byte[] der = java.util.Base64.getMimeDecoder().decode(pem
          .replace("-----BEGIN PRIVATE KEY-----", "").replace("-----END PRIVATE KEY-----", ""));
      PrivateKey key = java.security.KeyFactory.getInstance("EC")
          .generatePrivate(new java.security.spec.PKCS8EncodedKeySpec(der));
      java.security.KeyStore keys = java.security.KeyStore.getInstance("PKCS12");
      keys.load(null, null);
      keys.setKeyEntry("key", key, new char[0], new X509Certificate[] {leaf, certificate});
      javax.net.ssl.KeyManagerFactory keyFactory = javax.net.ssl.KeyManagerFactory
          .getInstance(javax.net.ssl.KeyManagerFactory.getDefaultAlgorithm());
      keyFactory.init(keys, new char[0]);
      keyManagers = keyFactory.getKeyManagers();
    }
    javax.net.ssl.SSLContext context = javax.net.ssl.SSLContext.getInstance("TLS");
    context.init(keyManagers, trustFactory.getTrustManagers(), null);
    return context;
  }

  private static KeyPair newKeys() throws Exception {
    KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
    generator.initialize(new ECGenParameterSpec("secp256r1"), new SecureRandom());
    return generator.generateKeyPair();
  }

  private static X509Certificate sign(X509v3CertificateBuilder builder, PrivateKey key)
      throws Exception {
    ContentSigner signer = new JcaContentSignerBuilder("SHA256withECDSA").build(key);
    return new JcaX509CertificateConverter().getCertificate(builder.build(signer));
  }

  private static void writePem(Path file, Object object) throws IOException {
    try (StringWriter text = new StringWriter(); JcaPEMWriter pem = new JcaPEMWriter(text)) {
      pem.writeObject(object);
      pem.flush();
      Files.writeString(file, text.toString());
    }
  }
}
