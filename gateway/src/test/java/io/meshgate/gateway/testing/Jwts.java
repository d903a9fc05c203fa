package io.meshgate.gateway.testing;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSSigner;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.OctetKeyPair;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.util.Base64URL;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.Signature;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.time.Instant;
import java.util.Arrays;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import java.util.Map;

/**
 * Keys and tokens for tests: real key pairs, tokens signed the way issuers sign them, and the
 * hostile tokens a gateway must refuse.
 */
public final class Jwts {
  private Jwts() {}

  /** A key pair and its public JWK (with a key id). */
  public record Key(String kid, JWSAlgorithm algorithm, KeyPair pair, JWK publicJwk) {}

  public static Key rsa(String kid, JWSAlgorithm algorithm) {
    try {
      KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
      generator.initialize(2048);
      KeyPair pair = generator.generateKeyPair();
      return new Key(kid, algorithm, pair,
          new RSAKey.Builder((RSAPublicKey) pair.getPublic()).keyID(kid).build());
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  public static Key ec(String kid, JWSAlgorithm algorithm, Curve curve) {
    try {
      KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
      generator.initialize(new ECGenParameterSpec(curve.getStdName()));
      KeyPair pair = generator.generateKeyPair();
      return new Key(kid, algorithm, pair,
          new ECKey.Builder(curve, (ECPublicKey) pair.getPublic()).keyID(kid).build());
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  public static Key ed25519(String kid) {
    try {
      KeyPair pair = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
      byte[] spki = pair.getPublic().getEncoded();
      byte[] x = Arrays.copyOfRange(spki, spki.length - 32, spki.length);
      return new Key(kid, JWSAlgorithm.EdDSA, pair,
          new OctetKeyPair.Builder(Curve.Ed25519, Base64URL.encode(x)).keyID(kid).build());
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The JSON of a key set holding these keys' public halves. */
  public static String jwks(Key... keys) {
    return new JWKSet(Arrays.stream(keys).map(Key::publicJwk).toList()).toString();
  }

  /** Claims valid now for an hour: issuer, audience, subject and extra claims. */
  public static JWTClaimsSet claims(String issuer, String audience, String subject,
      Map<String, Object> extra, Instant now) {
    JWTClaimsSet.Builder builder = new JWTClaimsSet.Builder()
        .issuer(issuer).audience(audience).subject(subject)
        .issueTime(Date.from(now)).notBeforeTime(Date.from(now))
        .expirationTime(Date.from(now.plusSeconds(3600)));
    extra.forEach(builder::claim);
    return builder.build();
  }

  /** A token signed with {@code key}, its kid in the header. */
  public static String sign(Key key, JWTClaimsSet claims) {
    return sign(key, new JWSHeader.Builder(key.algorithm()).keyID(key.kid()).build(), claims);
  }

  /** A token with the given header, signed with {@code key}. */
  public static String sign(Key key, JWSHeader header, JWTClaimsSet claims) {
    try {
      if (key.algorithm().equals(JWSAlgorithm.EdDSA)) {
        String input = b64(header.toString()) + "." + b64(claims.toString());
        Signature signature = Signature.getInstance("Ed25519");
        signature.initSign(key.pair().getPrivate());
        signature.update(input.getBytes(StandardCharsets.US_ASCII));
        return input + "." + Base64.getUrlEncoder().withoutPadding()
            .encodeToString(signature.sign());
      }
      JWSSigner signer = key.publicJwk() instanceof RSAKey
          ? new RSASSASigner(key.pair().getPrivate())
          : new ECDSASigner((java.security.interfaces.ECPrivateKey) key.pair().getPrivate(),
              ((ECKey) key.publicJwk()).getCurve());
      SignedJWT jwt = new SignedJWT(header, claims);
      jwt.sign(signer);
      return jwt.serialize();
    } catch (JOSEException | GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  /** A token signed with an HMAC secret. */
  public static String hmac(JWSAlgorithm algorithm, byte[] secret, JWSHeader header,
      JWTClaimsSet claims) {
    try {
      SignedJWT jwt = new SignedJWT(header, claims);
      jwt.sign(new MACSigner(secret));
      return jwt.serialize();
    } catch (JOSEException e) {
      throw new IllegalStateException(e);
    }
  }

  /** A token with an arbitrary header JSON and signature bytes (for malformed variants). */
  public static String raw(String headerJson, String payloadJson, byte[] signature) {
    return b64(headerJson) + "." + b64(payloadJson) + "."
        + Base64.getUrlEncoder().withoutPadding().encodeToString(signature);
  }

  public static String b64(String json) {
    return Base64.getUrlEncoder().withoutPadding()
        .encodeToString(json.getBytes(StandardCharsets.UTF_8));
  }

  /** {@code ["a","b"]} claims helper. */
  public static Map<String, Object> scope(String... scopes) {
    return Map.of("scope", String.join(" ", List.of(scopes)));
  }
}
