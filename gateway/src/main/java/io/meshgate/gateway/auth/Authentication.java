package io.meshgate.gateway.auth;

import io.grpc.Metadata;
import io.meshgate.gateway.config.GatewayConfig;
import io.meshgate.gateway.telemetry.GatewayMetrics;
import java.io.IOException;
import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;

/**
 * The gateway's JWT providers (keys loaded and refreshed here) and the per-route authenticators
 * built on them. Also strips, from every call, the metadata headers that forwarded claims travel
 * in, so that a client can never set {@code x-user-id} itself. Thread-safe.
 */
public final class Authentication implements AutoCloseable {
  private final Map<String, JwtVerifier> verifiers = new LinkedHashMap<>();
  private final List<Metadata.Key<String>> claimHeaders = new ArrayList<>();
  private final ScheduledExecutorService scheduler;
  private final GatewayMetrics metrics;

  private Authentication(ScheduledExecutorService scheduler, GatewayMetrics metrics) {
    this.scheduler = scheduler;
    this.metrics = metrics;
  }

  /**
   * Loads every provider of the config: static keys now, key sets from now on in the
   * background.
   *
   * @param clock the time tokens are checked against
   * @throws IOException naming the provider whose key material cannot be used
   */
  public static Authentication start(List<GatewayConfig.JwtProvider> providers,
      GatewayMetrics metrics, Clock clock) throws IOException {
    ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "meshgate-jwks");
      t.setDaemon(true);
      return t;
    });
    Authentication auth = new Authentication(scheduler, metrics);
    Set<String> headers = new LinkedHashSet<>();
    try {
      for (GatewayConfig.JwtProvider provider : providers) {
        KeySource keys;
        try {
          keys = KeySource.start(provider, scheduler, System::nanoTime,
              (name, ok) -> metrics.counter("meshgate.jwks.refreshes",
                  "Key set reads per JWT provider, by result", "provider", name, "result",
                  ok ? "ok" : "failed").increment());
        } catch (IOException e) {
          throw new IOException("auth provider '" + provider.name() + "': " + e.getMessage(), e);
        }
        auth.verifiers.put(provider.name(), new JwtVerifier(provider, keys, clock));
        headers.addAll(provider.forwardClaims().values());
      }
    } catch (IOException | RuntimeException e) {
      auth.close();
      throw e;
    }
    headers.forEach(h -> auth.claimHeaders.add(
        Metadata.Key.of(h, Metadata.ASCII_STRING_MARSHALLER)));
    return auth;
  }

  /**
   * Waits until every provider's first key read ended (well or not), at most {@code timeout}:
   * so that a starting gateway does not answer its first calls with "keys not loaded".
   *
   * @return the providers whose keys are still missing, with why
   */
  public List<String> awaitFirstKeys(java.time.Duration timeout) throws InterruptedException {
    java.util.concurrent.CompletableFuture<?>[] reads = verifiers.values().stream()
        .map(v -> v.keys().firstRead())
        .toArray(java.util.concurrent.CompletableFuture<?>[]::new);
    try {
      java.util.concurrent.CompletableFuture.allOf(reads)
          .get(timeout.toNanos(), java.util.concurrent.TimeUnit.NANOSECONDS);
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      // Reported below, provider by provider.
    }
    List<String> missing = new ArrayList<>();
    for (JwtVerifier verifier : verifiers.values()) {
      if (verifier.keys().keys() == null) {
        missing.add(verifier.name() + ": " + verifier.keys().lastError());
      }
    }
    return missing;
  }

  /** The authenticator of a route, or null for a public route. */
  public JwtAuthenticator forRoute(String route, GatewayConfig.RouteAuth config) {
    if (config == null || !config.requiresToken()) {
      return null;
    }
    List<JwtVerifier> providers = new ArrayList<>();
    for (String name : config.providers()) {
      providers.add(verifiers.get(name));
    }
    return new JwtAuthenticator(route, providers, config, (r, reason) -> metrics.counter(
        "meshgate.auth.failures", "Calls refused by JWT authentication, by reason", "route", r,
        "reason", reason.label()));
  }

  /** Removes client-sent values of the headers that carry forwarded claims. */
  public void stripClaimHeaders(Metadata metadata) {
    for (Metadata.Key<String> key : claimHeaders) {
      metadata.removeAll(key);
    }
  }

  @Override
  public void close() {
    scheduler.shutdownNow();
  }
}
