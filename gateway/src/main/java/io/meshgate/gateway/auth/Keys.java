package io.meshgate.gateway.auth;

import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.OctetKeyPair;
import com.nimbusds.jose.jwk.OctetSequenceKey;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.util.Base64URL;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.X509EncodedKeySpec;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;

/** Turning configured key material into JWKs. */
final class Keys {
  /** The DER prefix of an Ed25519 SubjectPublicKeyInfo; the 32-byte key follows. */
  static final byte[] ED25519_SPKI_PREFIX = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70,
      0x03, 0x21, 0x00};

  private Keys() {}

  /** A key set with one HMAC key. */
  static JWKSet secret(byte[] secret) {
    return new JWKSet(new OctetSequenceKey.Builder(secret).build());
  }

  /**
   * A key set with the public key of a PEM file ({@code -----BEGIN PUBLIC KEY-----}: RSA, EC
   * or Ed25519).
   *
   * @throws IOException naming the file when it holds no usable key
   */
  static JWKSet publicKeyFile(Path file) throws IOException {
    String pem = Files.readString(file, StandardCharsets.US_ASCII);
    int begin = pem.indexOf("-----BEGIN PUBLIC KEY-----");
    int end = pem.indexOf("-----END PUBLIC KEY-----");
    if (begin < 0 || end < begin) {
      throw new IOException(file + " holds no PEM public key (expected -----BEGIN PUBLIC"
          + " KEY-----, as 'openssl pkey -pubout' writes)");
    }
    byte[] der;
    try {
      der = Base64.getMimeDecoder().decode(pem.substring(begin + 26, end));
    } catch (IllegalArgumentException e) {
      throw new IOException(file + ": the PEM body is not base64: " + e.getMessage());
    }
    for (String algorithm : List.of("RSA", "EC", "Ed25519")) {
      PublicKey key;
      try {
        key = KeyFactory.getInstance(algorithm).generatePublic(new X509EncodedKeySpec(der));
      } catch (GeneralSecurityException e) {
        continue;
      }
      return new JWKSet(toJwk(key, der));
    }
    throw new IOException(file + " holds a public key that is not RSA, EC (P-256/384/521) or"
        + " Ed25519");
  }

  private static JWK toJwk(PublicKey key, byte[] der) throws IOException {
    if (key instanceof RSAPublicKey rsa) {
      return new RSAKey.Builder(rsa).build();
    }
    if (key instanceof ECPublicKey ec) {
      Curve curve = Curve.forECParameterSpec(ec.getParams());
      if (curve == null) {
        throw new IOException("unsupported EC curve (expected P-256, P-384 or P-521)");
      }
      return new ECKey.Builder(curve, ec).build();
    }
    byte[] x = Arrays.copyOfRange(der, der.length - 32, der.length);
    return new OctetKeyPair.Builder(Curve.Ed25519, Base64URL.encode(x)).build();
  }

  /** The JDK public key of an Ed25519 JWK. */
  static PublicKey ed25519(OctetKeyPair jwk) throws GeneralSecurityException {
    byte[] x = jwk.getX().decode();
    if (x.length != 32) {
      throw new GeneralSecurityException("an Ed25519 key has 32 bytes, this one " + x.length);
    }
    byte[] spki = Arrays.copyOf(ED25519_SPKI_PREFIX, ED25519_SPKI_PREFIX.length + 32);
    System.arraycopy(x, 0, spki, ED25519_SPKI_PREFIX.length, 32);
    return KeyFactory.getInstance("Ed25519").generatePublic(new X509EncodedKeySpec(spki));
  }
}
