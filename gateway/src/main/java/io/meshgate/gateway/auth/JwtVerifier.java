package io.meshgate.gateway.auth;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSVerifier;
import com.nimbusds.jose.crypto.ECDSAVerifier;
import com.nimbusds.jose.crypto.MACVerifier;
import com.nimbusds.jose.crypto.RSASSAVerifier;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.KeyType;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.jwk.OctetKeyPair;
import com.nimbusds.jose.jwk.OctetSequenceKey;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import io.meshgate.gateway.auth.AuthException.Reason;
import io.meshgate.gateway.config.GatewayConfig;
import java.security.GeneralSecurityException;
import java.security.Signature;
import java.text.ParseException;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Checks tokens of one JWT provider: structure, algorithm, signature, {@code exp}, {@code nbf},
 * {@code iat} (with clock skew), {@code iss} and {@code aud}. Verified tokens are cached until
 * they expire (at most {@link #CACHE_SECONDS}), so a client that sends the same token on every
 * call pays for one signature check; the cache holds at most {@link #CACHE_ENTRIES} tokens and
 * only valid ones, so random tokens cannot grow it. Thread-safe.
 *
 * <p>Algorithms follow the keys, never the token: HMAC ({@code HS*}) only for a provider
 * configured with a secret, {@code RS*}/{@code PS*} only with RSA keys, {@code ES*} only with EC
 * keys on the matching curve, {@code EdDSA} only with Ed25519 keys. So an HS256 token signed with
 * an RSA public key (the classic algorithm confusion) fails, and {@code alg: none} always does.
 */
final class JwtVerifier {
  static final int CACHE_ENTRIES = 10_000;
  static final long CACHE_SECONDS = 300;

  private static final Set<JWSAlgorithm> HMAC = Set.of(JWSAlgorithm.HS256, JWSAlgorithm.HS384,
      JWSAlgorithm.HS512);
  private static final Set<JWSAlgorithm> RSA = Set.of(JWSAlgorithm.RS256, JWSAlgorithm.RS384,
      JWSAlgorithm.RS512, JWSAlgorithm.PS256, JWSAlgorithm.PS384, JWSAlgorithm.PS512);
  private static final Set<JWSAlgorithm> EC = Set.of(JWSAlgorithm.ES256, JWSAlgorithm.ES384,
      JWSAlgorithm.ES512);
  private static final Set<JWSAlgorithm> EDDSA = Set.of(JWSAlgorithm.EdDSA, JWSAlgorithm.Ed25519);
  private static final int MAX_KEYS_TRIED = 8;

  private final GatewayConfig.JwtProvider config;
  private final KeySource keys;
  private final Clock clock;
  private final Map<String, Verified> cache = new ConcurrentHashMap<>();

  /**
   * A token that passed.
   *
   * @param claims its claims
   * @param validUntilMillis when it stops being valid (expiry plus skew), epoch millis
   * @param cachedUntilMillis when the cache must check it again
   */
  record Verified(String provider, JWTClaimsSet claims, long validUntilMillis,
      long cachedUntilMillis) {}

  JwtVerifier(GatewayConfig.JwtProvider config, KeySource keys, Clock clock) {
    this.config = config;
    this.keys = keys;
    this.clock = clock;
  }

  String name() {
    return config.name();
  }

  KeySource keys() {
    return keys;
  }

  GatewayConfig.JwtProvider config() {
    return config;
  }

  /**
   * Checks a token.
   *
   * @throws AuthException naming what is wrong with it
   */
  Verified verify(String token) throws AuthException {
    if (token.length() > config.maxTokenBytes()) {
      throw new AuthException(Reason.TOO_LARGE, "the token is " + token.length()
          + " bytes, more than this gateway accepts (" + config.maxTokenBytes() + ")");
    }
    long now = clock.millis();
    Verified cached = cache.get(token);
    if (cached != null) {
      if (now <= cached.validUntilMillis() && now <= cached.cachedUntilMillis()) {
        return cached;
      }
      cache.remove(token);
    }
    Verified verified = check(token, now);
    if (cache.size() >= CACHE_ENTRIES) {
      // Crude but bounded: a full cache starts over rather than tracking recency per hit.
      cache.clear();
    }
    cache.put(token, verified);
    return verified;
  }

  private Verified check(String token, long now) throws AuthException {
    int dots = 0;
    for (int i = 0; i < token.length(); i++) {
      if (token.charAt(i) == '.') {
        dots++;
      }
    }
    if (dots != 2) {
      throw new AuthException(Reason.MALFORMED, dots == 4
          ? "encrypted tokens (JWE) are not accepted"
          : "the token is not a JWT (expected three base64url parts separated by dots)");
    }
    String alg = algorithmOf(token);
    if (alg == null || alg.equalsIgnoreCase("none")) {
      throw new AuthException(Reason.ALGORITHM, "unsigned tokens (alg: none) are not accepted");
    }
    SignedJWT jwt;
    try {
      jwt = SignedJWT.parse(token);
    } catch (ParseException e) {
      throw new AuthException(Reason.MALFORMED, "the token cannot be read: " + e.getMessage());
    }
    JWSHeader header = jwt.getHeader();
    JWSAlgorithm algorithm = header.getAlgorithm();
    JWKSet set = keys.keys();
    if (set == null) {
      throw new AuthException(Reason.KEYS_UNAVAILABLE, "the keys of provider '" + config.name()
          + "' are not available (" + keys.lastError() + ")");
    }
    List<JWK> candidates = candidates(set, header, algorithm);
    boolean valid = false;
    for (JWK key : candidates) {
      if (verifies(jwt, algorithm, key)) {
        valid = true;
        break;
      }
    }
    if (!valid) {
      throw new AuthException(Reason.BAD_SIGNATURE, "the token's signature does not verify");
    }
    JWTClaimsSet claims;
    try {
      claims = jwt.getJWTClaimsSet();
    } catch (ParseException e) {
      throw new AuthException(Reason.MALFORMED, "the token's claims are not a JSON object: "
          + e.getMessage());
    }
    long skew = config.clockSkew().toMillis();
    Date exp = claims.getExpirationTime();
    if (exp == null) {
      throw new AuthException(Reason.EXPIRED, "the token has no expiry (exp)");
    }
    if (now > exp.getTime() + skew) {
      throw new AuthException(Reason.EXPIRED, "the token expired at " + exp.toInstant());
    }
    Date nbf = claims.getNotBeforeTime();
    if (nbf != null && nbf.getTime() > now + skew) {
      throw new AuthException(Reason.NOT_YET_VALID, "the token is not valid before "
          + nbf.toInstant());
    }
    Date iat = claims.getIssueTime();
    if (iat != null && iat.getTime() > now + skew) {
      throw new AuthException(Reason.NOT_YET_VALID, "the token was issued in the future ("
          + iat.toInstant() + ")");
    }
    if (config.issuer() != null && !config.issuer().equals(claims.getIssuer())) {
      throw new AuthException(Reason.ISSUER, "the token's issuer "
          + (claims.getIssuer() == null ? "is missing" : "'" + claims.getIssuer() + "'")
          + " (expected '" + config.issuer() + "')");
    }
    if (!config.audiences().isEmpty()) {
      List<String> aud = claims.getAudience();
      boolean match = false;
      for (String a : aud) {
        if (config.audiences().contains(a)) {
          match = true;
          break;
        }
      }
      if (!match) {
        throw new AuthException(Reason.AUDIENCE, "the token is not meant for this gateway"
            + " (aud " + aud + ", expected one of " + config.audiences() + ")");
      }
    }
    return new Verified(config.name(), claims, exp.getTime() + skew,
        now + CACHE_SECONDS * 1000);
  }

  /** The {@code alg} of a token's header, read before anything else trusts the header. */
  private static String algorithmOf(String token) throws AuthException {
    int dot = token.indexOf('.');
    try {
      byte[] json = Base64.getUrlDecoder().decode(token.substring(0, dot));
      Map<String, Object> header = com.nimbusds.jose.util.JSONObjectUtils.parse(
          new String(json, java.nio.charset.StandardCharsets.UTF_8));
      Object alg = header.get("alg");
      return alg instanceof String s ? s : null;
    } catch (IllegalArgumentException | ParseException e) {
      throw new AuthException(Reason.MALFORMED, "the token's header is not base64url JSON");
    }
  }

  /** The keys that may have signed a token with this header: by algorithm family and kid. */
  private List<JWK> candidates(JWKSet set, JWSHeader header, JWSAlgorithm algorithm)
      throws AuthException {
    KeyType type;
    if (HMAC.contains(algorithm)) {
      if (config.secret() == null) {
        throw new AuthException(Reason.ALGORITHM, "algorithm " + algorithm + " is not accepted"
            + " for provider '" + config.name() + "' (its keys are public keys, not a shared"
            + " secret)");
      }
      type = KeyType.OCT;
    } else if (RSA.contains(algorithm)) {
      type = KeyType.RSA;
    } else if (EC.contains(algorithm)) {
      type = KeyType.EC;
    } else if (EDDSA.contains(algorithm)) {
      type = KeyType.OKP;
    } else {
      throw new AuthException(Reason.ALGORITHM, "algorithm " + algorithm + " is not accepted"
          + " (accepted: RS256/384/512, PS256/384/512, ES256/384/512, EdDSA, and HS256/384/512"
          + " with a secret)");
    }
    String kid = header.getKeyID();
    List<JWK> found = new ArrayList<>();
    boolean kidKnown = false;
    for (JWK key : set.getKeys()) {
      if (kid != null && !kid.equals(key.getKeyID())) {
        continue;
      }
      kidKnown = true;
      if (!key.getKeyType().equals(type)
          || (key.getKeyUse() != null && !KeyUse.SIGNATURE.equals(key.getKeyUse()))
          || (key.getAlgorithm() != null && !key.getAlgorithm().equals(algorithm))) {
        continue;
      }
      found.add(key);
      if (found.size() == MAX_KEYS_TRIED) {
        break;
      }
    }
    if (kid != null && !kidKnown) {
      keys.unknownKeyId();
      throw new AuthException(Reason.UNKNOWN_KID, "the token's key id '" + kid + "' is not among"
          + " the keys of provider '" + config.name() + "'");
    }
    if (found.isEmpty()) {
      throw new AuthException(Reason.ALGORITHM, "no key of provider '" + config.name()
          + "' can check a " + algorithm + " signature");
    }
    return found;
  }

  private static boolean verifies(SignedJWT jwt, JWSAlgorithm algorithm, JWK key) {
    try {
      if (key instanceof OctetKeyPair okp) {
        Signature signature = Signature.getInstance("Ed25519");
        signature.initVerify(Keys.ed25519(okp));
        signature.update(jwt.getSigningInput());
        return signature.verify(jwt.getSignature().decode());
      }
      JWSVerifier verifier;
      if (key instanceof RSAKey rsa) {
        verifier = new RSASSAVerifier(rsa);
      } else if (key instanceof ECKey ec) {
        if (!ECDSAVerifierCurves.matches(algorithm, ec)) {
          return false;
        }
        verifier = new ECDSAVerifier(ec);
      } else if (key instanceof OctetSequenceKey secret) {
        verifier = new MACVerifier(secret);
      } else {
        return false;
      }
      return jwt.verify(verifier);
    } catch (JOSEException | GeneralSecurityException | IllegalStateException e) {
      return false;
    }
  }

  /** ES256 is P-256, ES384 P-384, ES512 P-521 (RFC 7518 section 3.4). */
  private static final class ECDSAVerifierCurves {
    static boolean matches(JWSAlgorithm algorithm, ECKey key) {
      return (algorithm.equals(JWSAlgorithm.ES256)
              && key.getCurve().equals(com.nimbusds.jose.jwk.Curve.P_256))
          || (algorithm.equals(JWSAlgorithm.ES384)
              && key.getCurve().equals(com.nimbusds.jose.jwk.Curve.P_384))
          || (algorithm.equals(JWSAlgorithm.ES512)
              && key.getCurve().equals(com.nimbusds.jose.jwk.Curve.P_521));
    }
  }
}
