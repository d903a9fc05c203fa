package io.meshgate.gateway.auth;

import com.nimbusds.jose.jwk.JWKSet;
import io.meshgate.gateway.config.GatewayConfig;
import java.io.IOException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * The keys of one JWT provider. Static keys (a PEM file, an HMAC secret) are read once; a JSON
 * Web Key Set is re-read on a timer and when a token names a key id the set lacks (no more
 * often than the provider's minRefreshInterval), off the event loops: files on the auth
 * scheduler, URLs through the JDK HTTP client's own threads. A failed refresh keeps the last
 * good set. Thread-safe: readers see one immutable {@link JWKSet} at a time.
 */
final class KeySource {
  private static final Logger logger = Logger.getLogger(KeySource.class.getName());

  private final GatewayConfig.JwtProvider config;
  private final ScheduledExecutorService scheduler;
  private final LongSupplier nanoTime;
  private final HttpClient http;
  private final AtomicReference<JWKSet> keys = new AtomicReference<>();
  private final AtomicBoolean refreshing = new AtomicBoolean();
  private final CompletableFuture<Void> firstRead = new CompletableFuture<>();
  private final RefreshListener listener;
  private volatile long lastRefreshNanos;
  private volatile String lastError = "not loaded yet";

  /** Told the outcome of every refresh, for metrics. */
  interface RefreshListener {
    void refreshed(String provider, boolean ok);
  }

  private KeySource(GatewayConfig.JwtProvider config, ScheduledExecutorService scheduler,
      LongSupplier nanoTime, HttpClient http, RefreshListener listener) {
    this.config = config;
    this.scheduler = scheduler;
    this.nanoTime = nanoTime;
    this.http = http;
    this.listener = listener;
  }

  /**
   * The keys of {@code config}. Static keys are read now; a key set's first read is started
   * now and then repeated every refreshInterval.
   *
   * @throws IOException when a PEM file, or the CA file of a JWKS URL, cannot be used
   */
  static KeySource start(GatewayConfig.JwtProvider config, ScheduledExecutorService scheduler,
      LongSupplier nanoTime, RefreshListener listener) throws IOException {
    if (config.secret() != null) {
      KeySource source = new KeySource(config, scheduler, nanoTime, null, listener);
      source.keys.set(Keys.secret(config.secret()));
      source.firstRead.complete(null);
      return source;
    }
    if (config.publicKeyFile() != null) {
      KeySource source = new KeySource(config, scheduler, nanoTime, null, listener);
      source.keys.set(Keys.publicKeyFile(config.publicKeyFile()));
      source.firstRead.complete(null);
      return source;
    }
    HttpClient http = null;
    if (config.jwksUrl() != null) {
      HttpClient.Builder builder = HttpClient.newBuilder()
          .connectTimeout(config.fetchTimeout())
          .followRedirects(HttpClient.Redirect.NEVER);
      if (config.caFile() != null) {
        builder.sslContext(trusting(config.caFile()));
      }
      http = builder.build();
    }
    KeySource source = new KeySource(config, scheduler, nanoTime, http, listener);
    long period = config.refreshInterval().toNanos();
    scheduler.scheduleWithFixedDelay(source::refresh, 0, period, TimeUnit.NANOSECONDS);
    return source;
  }

  private static SSLContext trusting(java.nio.file.Path caFile) throws IOException {
    try {
      java.util.Collection<? extends java.security.cert.Certificate> certs;
      try (var in = Files.newInputStream(caFile)) {
        certs = java.security.cert.CertificateFactory.getInstance("X.509")
            .generateCertificates(in);
      }
      if (certs.isEmpty()) {
        throw new IOException(caFile + " holds no PEM certificate");
      }
      KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
      store.load(null, null);
      int i = 0;
      for (java.security.cert.Certificate cert : certs) {
        store.setCertificateEntry("ca-" + i++, cert);
      }
      TrustManagerFactory trust =
          TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      trust.init(store);
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(null, trust.getTrustManagers(), null);
      return context;
    } catch (GeneralSecurityException e) {
      throw new IOException(caFile + ": " + e.getMessage(), e);
    }
  }

  /** Completes when the first read of the keys ended, well or not. */
  CompletableFuture<Void> firstRead() {
    return firstRead;
  }

  /** The current keys, or null when a key set was never read successfully. */
  JWKSet keys() {
    return keys.get();
  }

  /** Why the keys are missing or stale: the last refresh error. */
  String lastError() {
    return lastError;
  }

  /** A token named a key id the set lacks: refresh, unless one ran very recently. */
  void unknownKeyId() {
    if (http == null && config.jwksFile() == null) {
      return;
    }
    long sinceLast = nanoTime.getAsLong() - lastRefreshNanos;
    if (sinceLast >= config.minRefreshInterval().toNanos()) {
      scheduler.execute(this::refresh);
    }
  }

  /** Re-reads the key set; at most one read at a time. */
  void refresh() {
    if (!refreshing.compareAndSet(false, true)) {
      return;
    }
    lastRefreshNanos = nanoTime.getAsLong();
    CompletableFuture<String> body;
    if (http != null) {
      HttpRequest request = HttpRequest.newBuilder(config.jwksUrl())
          .timeout(config.fetchTimeout())
          .header("accept", "application/jwk-set+json, application/json")
          .build();
      body = http.sendAsync(request, HttpResponse.BodyHandlers.ofString())
          .thenApply(response -> {
            if (response.statusCode() != 200) {
              throw new IllegalStateException(config.jwksUrl() + " answered HTTP "
                  + response.statusCode());
            }
            return response.body();
          });
    } else {
      try {
        body = CompletableFuture.completedFuture(Files.readString(config.jwksFile()));
      } catch (IOException | RuntimeException e) {
        body = CompletableFuture.failedFuture(e);
      }
    }
    body.thenApply(text -> {
      try {
        JWKSet set = JWKSet.parse(text);
        if (set.getKeys().isEmpty()) {
          throw new IllegalStateException("the key set holds no key");
        }
        return set.toPublicJWKSet();
      } catch (java.text.ParseException e) {
        throw new IllegalStateException("not a JSON Web Key Set: " + e.getMessage());
      }
    }).whenComplete((set, error) -> {
      refreshing.set(false);
      firstRead.complete(null);
      String where = config.jwksUrl() != null ? config.jwksUrl().toString()
          : config.jwksFile().toString();
      if (error == null) {
        keys.set(set);
        lastError = null;
        listener.refreshed(config.name(), true);
        logger.fine(() -> "JWT provider " + config.name() + ": " + set.getKeys().size()
            + " keys from " + where);
        return;
      }
      Throwable cause = error instanceof java.util.concurrent.CompletionException
          && error.getCause() != null ? error.getCause() : error;
      lastError = "cannot read keys from " + where + ": " + cause.getMessage();
      listener.refreshed(config.name(), false);
      logger.log(Level.WARNING, "JWT provider " + config.name() + ": " + lastError
          + (keys.get() != null ? " (keeping the last good keys)" : ""));
    });
  }
}
