package io.meshgate.gateway.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jwt.JWTClaimsSet;
import io.meshgate.gateway.auth.AuthException.Reason;
import io.meshgate.gateway.config.GatewayConfig;
import io.meshgate.gateway.testing.Jwts.Key;
import io.meshgate.gateway.testing.Jwts;
import io.meshgate.testing.Await;
import io.meshgate.testing.MovableClock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Token checks of one provider, with a clock the test moves: every algorithm we accept, and a
 * table of hostile tokens, each refused for the right reason.
 */
@Timeout(60)
class JwtVerifierTest {
  private static final String ISSUER = "https://id.example.test";
  private static final String AUDIENCE = "meshgate";
  private static final Instant NOW = Instant.parse("2026-11-24T12:00:00Z");
  private static final byte[] SECRET =
      "a shared secret of sixty-four bytes, enough for HS512 as RFC 7518 says"
          .getBytes(StandardCharsets.UTF_8);

  @TempDir
  static Path dir;
  static ScheduledExecutorService scheduler;
  static final MovableClock clock = new MovableClock(NOW);
  static Key rs256;
  static Key rs384;
  static Key rs512;
  static Key ps256;
  static Key es256;
  static Key es384;
  static Key ed25519;
  static Key otherRsa;
  static JwtVerifier jwks;
  static JwtVerifier hmac;


  static GatewayConfig.JwtProvider provider(String name, Path jwksFile, byte[] secret,
      Duration minRefresh) {
    return new GatewayConfig.JwtProvider(name, ISSUER, List.of(AUDIENCE), jwksFile, null, null,
        Duration.ofHours(1), minRefresh, Duration.ofSeconds(5), null, secret,
        Duration.ofSeconds(60), List.of(GatewayConfig.TokenSource.BEARER), Map.of(), 8192);
  }

  static JwtVerifier start(GatewayConfig.JwtProvider config) throws Exception {
    KeySource keys = KeySource.start(config, scheduler, System::nanoTime, (n, ok) -> { });
    Await.until("the keys are read", Duration.ofSeconds(10), () -> keys.keys() != null);
    return new JwtVerifier(config, keys, clock);
  }

  @BeforeAll
  static void keys() throws Exception {
    scheduler = Executors.newSingleThreadScheduledExecutor();
    rs256 = Jwts.rsa("rs256", JWSAlgorithm.RS256);
    rs384 = Jwts.rsa("rs384", JWSAlgorithm.RS384);
    rs512 = Jwts.rsa("rs512", JWSAlgorithm.RS512);
    ps256 = Jwts.rsa("ps256", JWSAlgorithm.PS256);
    es256 = Jwts.ec("es256", JWSAlgorithm.ES256, Curve.P_256);
    es384 = Jwts.ec("es384", JWSAlgorithm.ES384, Curve.P_384);
    ed25519 = Jwts.ed25519("ed25519");
    otherRsa = Jwts.rsa("rs256", JWSAlgorithm.RS256); // same kid, another key: an impostor
    Path set = dir.resolve("jwks.json");
    Files.writeString(set, Jwts.jwks(rs256, rs384, rs512, ps256, es256, es384, ed25519));
    jwks = start(provider("corp", set, null, Duration.ofHours(1)));
    hmac = start(provider("partners", null, SECRET, Duration.ofHours(1)));
  }

  @AfterAll
  static void stop() {
    scheduler.shutdownNow();
  }

  static JWTClaimsSet claims() {
    return Jwts.claims(ISSUER, AUDIENCE, "alice", Map.of(), NOW);
  }

  static JWTClaimsSet.Builder claimsBuilder() {
    return new JWTClaimsSet.Builder(claims());
  }

  // ---- What passes ---------------------------------------------------------------------------

  static Stream<Key> asymmetricKeys() {
    return Stream.of(rs256, rs384, rs512, ps256, es256, es384, ed25519);
  }

  @ParameterizedTest
  @MethodSource("asymmetricKeys")
  void acceptsEveryAsymmetricAlgorithmWithItsKey(Key key) throws Exception {
    clock.set(NOW);
    JwtVerifier.Verified verified = jwks.verify(Jwts.sign(key, claims()));
    assertEquals("alice", verified.claims().getSubject());
  }

  @ParameterizedTest
  @MethodSource("hmacAlgorithms")
  void acceptsHmacOnlyFromAProviderWithASecret(JWSAlgorithm algorithm) throws Exception {
    clock.set(NOW);
    String token = Jwts.hmac(algorithm, SECRET, new JWSHeader(algorithm), claims());
    assertEquals("alice", hmac.verify(token).claims().getSubject());
    assertEquals(Reason.ALGORITHM, reason(jwks, token));
  }

  static Stream<JWSAlgorithm> hmacAlgorithms() {
    return Stream.of(JWSAlgorithm.HS256, JWSAlgorithm.HS384, JWSAlgorithm.HS512);
  }

  @Test
  void clockSkewIsToleratedUpToTheConfiguredAmount() throws Exception {
    String token = Jwts.sign(rs256, claimsBuilder()
        .expirationTime(Date.from(NOW.plusSeconds(10))).build());
    clock.set(NOW.plusSeconds(10 + 59));
    jwks.verify(token);
    clock.set(NOW.plusSeconds(10 + 61));
    assertEquals(Reason.EXPIRED, reason(jwks, token), "past exp plus 60 s of skew");

    String early = Jwts.sign(rs256, claimsBuilder()
        .notBeforeTime(Date.from(NOW.plusSeconds(50))).build());
    clock.set(NOW);
    jwks.verify(early);
    String later = Jwts.sign(rs256, claimsBuilder()
        .notBeforeTime(Date.from(NOW.plusSeconds(70))).build());
    assertEquals(Reason.NOT_YET_VALID, reason(jwks, later));
  }

  @Test
  void aCachedTokenStillExpires() throws Exception {
    clock.set(NOW);
    String token = Jwts.sign(es256, claimsBuilder()
        .expirationTime(Date.from(NOW.plusSeconds(120))).build());
    jwks.verify(token);
    jwks.verify(token); // from the cache
    clock.set(NOW.plusSeconds(120 + 61));
    assertEquals(Reason.EXPIRED, reason(jwks, token));
  }

  // ---- Hostile tokens ------------------------------------------------------------------------

  static Stream<Arguments> hostileTokens() throws Exception {
    JWTClaimsSet good = claims();
    String payload = good.toString();
    byte[] rsaPublicKeyBytes = rs256.pair().getPublic().getEncoded();
    String signedGood = Jwts.sign(rs256, good);
    String[] parts = signedGood.split("\\.");
    Key attacker = Jwts.rsa("attacker", JWSAlgorithm.RS256);
    RSAKey attackerJwk = (RSAKey) attacker.publicJwk();
    return Stream.of(
        Arguments.of("alg none", Jwts.raw("{\"alg\":\"none\"}", payload, new byte[0]),
            Reason.ALGORITHM),
        Arguments.of("alg NONE, with a signature",
            Jwts.raw("{\"alg\":\"NONE\",\"kid\":\"rs256\"}", payload, new byte[] {1, 2, 3}),
            Reason.ALGORITHM),
        Arguments.of("HS256 signed with the RSA public key (algorithm confusion)",
            Jwts.hmac(JWSAlgorithm.HS256, rsaPublicKeyBytes,
                new JWSHeader.Builder(JWSAlgorithm.HS256).keyID("rs256").build(), good),
            Reason.ALGORITHM),
        Arguments.of("a kid that is not in the set",
            Jwts.sign(new Key("nobody", JWSAlgorithm.RS256, rs256.pair(), rs256.publicJwk()),
                good), Reason.UNKNOWN_KID),
        Arguments.of("right kid, another key", Jwts.sign(otherRsa, good), Reason.BAD_SIGNATURE),
        Arguments.of("claims changed after signing",
            parts[0] + "." + Jwts.b64(payload.replace("alice", "admin")) + "." + parts[2],
            Reason.BAD_SIGNATURE),
        Arguments.of("signature stripped", parts[0] + "." + parts[1] + ".", Reason.MALFORMED),
        Arguments.of("the attacker's own key embedded in the header",
            Jwts.sign(attacker, new JWSHeader.Builder(JWSAlgorithm.RS256).jwk(attackerJwk)
                .build(), good), Reason.BAD_SIGNATURE),
        Arguments.of("a jku pointing at the attacker's keys",
            Jwts.sign(attacker, new JWSHeader.Builder(JWSAlgorithm.RS256)
                .jwkURL(java.net.URI.create("https://evil.example/jwks.json")).build(), good),
            Reason.BAD_SIGNATURE),
        Arguments.of("an unknown critical header",
            Jwts.sign(rs256, new JWSHeader.Builder(JWSAlgorithm.RS256).keyID("rs256")
                .criticalParams(java.util.Set.of("exp2")).customParam("exp2", 1).build(), good),
            Reason.BAD_SIGNATURE),
        Arguments.of("ES256 signed with a P-384 key", es256OnP384(payload),
            Reason.BAD_SIGNATURE),
        Arguments.of("expired an hour ago", Jwts.sign(rs256, new JWTClaimsSet.Builder(good)
            .expirationTime(Date.from(NOW.minusSeconds(3600))).build()), Reason.EXPIRED),
        Arguments.of("no exp", Jwts.sign(rs256, new JWTClaimsSet.Builder(good)
            .expirationTime(null).build()), Reason.EXPIRED),
        Arguments.of("not valid for another hour", Jwts.sign(rs256,
            new JWTClaimsSet.Builder(good).notBeforeTime(Date.from(NOW.plusSeconds(3600)))
                .build()), Reason.NOT_YET_VALID),
        Arguments.of("issued in the future", Jwts.sign(rs256, new JWTClaimsSet.Builder(good)
            .issueTime(Date.from(NOW.plusSeconds(3600))).build()), Reason.NOT_YET_VALID),
        Arguments.of("another issuer", Jwts.sign(rs256, new JWTClaimsSet.Builder(good)
            .issuer("https://evil.example").build()), Reason.ISSUER),
        Arguments.of("no issuer", Jwts.sign(rs256, new JWTClaimsSet.Builder(good).issuer(null)
            .build()), Reason.ISSUER),
        Arguments.of("another audience", Jwts.sign(rs256, new JWTClaimsSet.Builder(good)
            .audience("someone-else").build()), Reason.AUDIENCE),
        Arguments.of("oversized", Jwts.sign(rs256, new JWTClaimsSet.Builder(good)
            .claim("padding", "x".repeat(9000)).build()), Reason.TOO_LARGE),
        Arguments.of("not a JWT", "hello", Reason.MALFORMED),
        Arguments.of("two parts", "a.b", Reason.MALFORMED),
        Arguments.of("an encrypted token (JWE)", "a.b.c.d.e", Reason.MALFORMED),
        Arguments.of("header not base64", "!!!." + parts[1] + "." + parts[2], Reason.MALFORMED),
        Arguments.of("header not JSON", Jwts.b64("not json") + "." + parts[1] + "." + parts[2],
            Reason.MALFORMED),
        Arguments.of("typ says it is something else, signed by nobody we know",
            Jwts.sign(attacker, new JWSHeader.Builder(JWSAlgorithm.RS256)
                .type(JOSEObjectType.JOSE).build(), good), Reason.BAD_SIGNATURE));
  }

  /** A real SHA-256 ECDSA signature by the P-384 key, under an ES256 header. */
  private static String es256OnP384(String payload) throws Exception {
    String input = Jwts.b64("{\"alg\":\"ES256\",\"kid\":\"es384\"}") + "." + Jwts.b64(payload);
    java.security.Signature signature =
        java.security.Signature.getInstance("SHA256withECDSAinP1363Format");
    signature.initSign(es384.pair().getPrivate());
    signature.update(input.getBytes(StandardCharsets.US_ASCII));
    return input + "." + java.util.Base64.getUrlEncoder().withoutPadding()
        .encodeToString(signature.sign());
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("hostileTokens")
  void refusesHostileTokens(String what, String token, Reason expected) {
    clock.set(NOW);
    assertEquals(expected, reason(jwks, token), what);
  }

  // ---- Key set refresh -----------------------------------------------------------------------

  @Test
  void anUnknownKidRefreshesTheKeySetAndABrokenSetKeepsTheOldKeys() throws Exception {
    clock.set(NOW);
    Path file = dir.resolve("rotating.json");
    Key first = Jwts.rsa("first", JWSAlgorithm.RS256);
    Key second = Jwts.ec("second", JWSAlgorithm.ES256, Curve.P_256);
    Files.writeString(file, Jwts.jwks(first));
    AtomicInteger failures = new AtomicInteger();
    GatewayConfig.JwtProvider config = provider("rotating", file, null, Duration.ZERO);
    KeySource keys = KeySource.start(config, scheduler, System::nanoTime,
        (n, ok) -> failures.addAndGet(ok ? 0 : 1));
    Await.until("the keys are read", Duration.ofSeconds(10), () -> keys.keys() != null);
    JwtVerifier verifier = new JwtVerifier(config, keys, clock);
    verifier.verify(Jwts.sign(first, claims()));

    Files.writeString(file, Jwts.jwks(first, second));
    String rotated = Jwts.sign(second, claims());
    assertEquals(Reason.UNKNOWN_KID, reason(verifier, rotated), "not known until re-read");
    Await.until("the new key is fetched", Duration.ofSeconds(10),
        () -> reason(verifier, rotated) == null);

    Files.writeString(file, "{\"keys\": [ this is not JSON");
    assertEquals(Reason.UNKNOWN_KID, reason(verifier,
        Jwts.sign(Jwts.rsa("third", JWSAlgorithm.RS256), claims())));
    Await.until("the broken set is read and refused", Duration.ofSeconds(10),
        () -> failures.get() > 0);
    verifier.verify(Jwts.sign(first, claimsBuilder().subject("bob").build()));
    verifier.verify(Jwts.sign(second, claimsBuilder().subject("bob").build()));
  }

  @Test
  void theTimerRefreshDropsAKeyTheProviderRetired() throws Exception {
    clock.set(NOW);
    Path file = dir.resolve("timed.json");
    Key kept = Jwts.rsa("kept", JWSAlgorithm.RS256);
    Key retired = Jwts.ec("retired", JWSAlgorithm.ES256, Curve.P_256);
    Files.writeString(file, Jwts.jwks(kept, retired));
    GatewayConfig.JwtProvider config = new GatewayConfig.JwtProvider("timed", ISSUER,
        List.of(AUDIENCE), file, null, null, Duration.ofMillis(50), Duration.ofHours(1),
        Duration.ofSeconds(5), null, null, Duration.ofSeconds(60),
        List.of(GatewayConfig.TokenSource.BEARER), Map.of(), 8192);
    JwtVerifier verifier = start(config);
    verifier.verify(Jwts.sign(retired, claims()));

    Files.writeString(file, Jwts.jwks(kept));
    AtomicInteger n = new AtomicInteger();
    // Fresh tokens each time (a verified token is cached): once the timer re-read the set, the
    // retired key's tokens fail; the minimum interval keeps unknown kids from forcing reads.
    Await.until("the timer re-reads the key set", Duration.ofSeconds(10),
        () -> reason(verifier, Jwts.sign(retired, claimsBuilder()
            .subject("s" + n.incrementAndGet()).build())) == Reason.UNKNOWN_KID);
    verifier.verify(Jwts.sign(kept, claims()));
  }

  @Test
  void publicKeyFilesOfEveryKindAreRead() throws Exception {
    clock.set(NOW);
    for (Key key : List.of(rs256, es256, ed25519)) {
      Path pem = dir.resolve(key.kid() + ".pem");
      Files.writeString(pem, "-----BEGIN PUBLIC KEY-----\n" + java.util.Base64.getMimeEncoder()
          .encodeToString(key.pair().getPublic().getEncoded()) + "\n-----END PUBLIC KEY-----\n");
      GatewayConfig.JwtProvider config = new GatewayConfig.JwtProvider("pem", ISSUER,
          List.of(AUDIENCE), null, null, null, Duration.ofHours(1), Duration.ZERO,
          Duration.ofSeconds(5), pem, null, Duration.ofSeconds(60),
          List.of(GatewayConfig.TokenSource.BEARER), Map.of(), 8192);
      JwtVerifier verifier = new JwtVerifier(config,
          KeySource.start(config, scheduler, System::nanoTime, (n, ok) -> { }), clock);
      // A PEM key has no kid: tokens without one are checked against it.
      String token = Jwts.sign(key, new JWSHeader(key.algorithm()), claims());
      assertEquals("alice", verifier.verify(token).claims().getSubject(), key.kid());
    }
  }

  private static Reason reason(JwtVerifier verifier, String token) {
    try {
      verifier.verify(token);
      return null;
    } catch (AuthException e) {
      return e.reason();
    }
  }

  @Test
  void messagesSayWhatIsWrong() {
    clock.set(NOW);
    AuthException e = assertThrows(AuthException.class, () -> jwks.verify(Jwts.sign(rs256,
        claimsBuilder().audience("billing").build())));
    assertEquals("the token is not meant for this gateway (aud [billing], expected one of"
        + " [meshgate])", e.getMessage());
  }
}
