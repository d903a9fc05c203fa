package io.meshgate.gateway;

import io.meshgate.gateway.auth.Authentication;
import io.meshgate.gateway.config.ConfigError;
import io.meshgate.gateway.config.ConfigException;
import io.meshgate.gateway.config.GatewayConfig;
import io.meshgate.gateway.route.RouteCompiler;
import io.meshgate.gateway.route.Running;
import io.meshgate.gateway.telemetry.GatewayMetrics;
import io.meshgate.gateway.upstream.UpstreamCluster;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import java.util.logging.Logger;

/**
 * Holds the {@link Running} configuration and replaces it: {@link #apply} builds the next
 * snapshot off the data path — clusters (unchanged ones kept with their channels), JWT providers
 * (keys loaded before the swap), the route table with its policies — and publishes it with one
 * reference swap. Calls in flight finish on the snapshot they started with; replaced clusters
 * shut down gracefully after a grace period. Thread-safe; changes are serialized.
 */
final class GatewayReload implements AutoCloseable {
  private static final Logger logger = Logger.getLogger(GatewayReload.class.getName());
  /**
   * How long a replaced cluster keeps taking new calls: a call that matched the old table a
   * moment ago may still be about to start on it.
   */
  private static final Duration RETIRE_GRACE = Duration.ofSeconds(2);

  private final AtomicReference<Running> running = new AtomicReference<>();
  private final Function<GatewayConfig.Cluster, UpstreamCluster> newCluster;
  private final RouteCompiler compiler;
  private final GatewayMetrics metrics;
  private final List<UpstreamCluster> retiring = new CopyOnWriteArrayList<>();

  /**
   * Builds the clusters and routes of the configuration the gateway starts with.
   *
   * @param newCluster creates (and connects lazily) the cluster of a configuration
   */
  GatewayReload(GatewayConfig config, Authentication auth,
      Function<GatewayConfig.Cluster, UpstreamCluster> newCluster, RouteCompiler compiler,
      GatewayMetrics metrics) {
    this.newCluster = newCluster;
    this.compiler = compiler;
    this.metrics = metrics;
    Map<String, UpstreamCluster> clusters = new LinkedHashMap<>();
    try {
      for (GatewayConfig.Cluster cluster : config.clusters()) {
        clusters.put(cluster.name(), newCluster.apply(cluster));
      }
      running.set(new Running(config, clusters, compiler.compile(config, clusters, auth), auth,
          1, Instant.now()));
    } catch (RuntimeException e) {
      clusters.values().forEach(UpstreamCluster::shutdown);
      throw e;
    }
    clusters.values().forEach(UpstreamCluster::registerGauges);
  }

  /** The configuration new calls run on. */
  Running current() {
    return running.get();
  }

  /**
   * Applies a new configuration without a restart: clusters whose settings did not change keep
   * their channels (no reconnect), changed and removed ones are replaced and shut down
   * gracefully, the route table with its policies is rebuilt, rate-limit buckets of unchanged
   * rules are kept. Sections that need a restart (listener, admin, limits, shutdown, discovery,
   * transcoding, metrics, access log, tracing) keep their running settings and are listed in
   * the result.
   *
   * @return the sections whose changes wait for a restart (empty when all of it applied)
   * @throws ConfigException when the new JWT providers' key material cannot be used; nothing
   *     changed then
   */
  synchronized List<String> apply(GatewayConfig next) throws ConfigException {
    Running now = running.get();
    List<String> restart = restartOnly(now.config(), next);
    Authentication auth = now.auth();
    if (!next.jwtProviders().equals(now.config().jwtProviders())) {
      auth = startAuthentication(next);
    }
    Map<String, UpstreamCluster> clusters = new LinkedHashMap<>();
    List<UpstreamCluster> created = new ArrayList<>();
    for (GatewayConfig.Cluster cluster : next.clusters()) {
      UpstreamCluster old = now.clusters().get(cluster.name());
      if (old != null && old.config().equals(cluster)) {
        clusters.put(cluster.name(), old);
      } else {
        if (old != null) {
          // Before the new cluster of the name exists: it registers meters of the same names
          // (its circuit breaker's at once), which must not resolve to the old one's.
          old.releaseMeters();
        }
        UpstreamCluster fresh = newCluster.apply(cluster);
        created.add(fresh);
        clusters.put(cluster.name(), fresh);
      }
    }
    List<UpstreamCluster> retired = new ArrayList<>();
    for (UpstreamCluster old : now.clusters().values()) {
      if (clusters.get(old.name()) != old) {
        retired.add(old);
        old.releaseMeters();
      }
    }
    Running next0 = new Running(next, clusters, compiler.compile(next, clusters, auth), auth,
        now.version() + 1, Instant.now());
    // The swap: from here on new calls see the new snapshot; calls in flight keep the old one.
    running.set(next0);
    compiler.retainRateLimitsOf(next);
    created.forEach(UpstreamCluster::registerGauges);
    if (auth != now.auth()) {
      now.auth().close();
    }
    retiring.addAll(retired);
    CompletableFuture.delayedExecutor(RETIRE_GRACE.toMillis(), TimeUnit.MILLISECONDS)
        .execute(() -> retired.forEach(c -> {
          c.shutdown();
          retiring.remove(c);
        }));
    logger.info("configuration from " + next.source() + " applied: " + next.routes().size()
        + " routes, " + clusters.size() + " clusters (" + retired.size() + " replaced or"
        + " removed)" + (restart.isEmpty() ? "" : "; needs a restart to change: "
        + String.join(", ", restart)));
    return restart;
  }

  private Authentication startAuthentication(GatewayConfig next) throws ConfigException {
    Authentication auth;
    try {
      auth = Authentication.start(next.jwtProviders(), metrics, Clock.systemUTC());
    } catch (IOException e) {
      throw new ConfigException(List.of(new ConfigError(next.source(), 0, 0, "auth.providers",
          e.getMessage())));
    }
    try {
      auth.awaitFirstKeys(Duration.ofSeconds(5));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      auth.close();
      throw new ConfigException(List.of(new ConfigError(next.source(), 0, 0, "",
          "interrupted while loading JWT keys")));
    }
    return auth;
  }

  /** The sections of {@code next} that differ from {@code running} and need a restart. */
  private static List<String> restartOnly(GatewayConfig running, GatewayConfig next) {
    List<String> restart = new ArrayList<>();
    if (!next.listener().equals(running.listener())) {
      restart.add("listener");
    }
    if (!next.admin().equals(running.admin())) {
      restart.add("admin");
    }
    if (!next.limits().equals(running.limits())) {
      restart.add("limits");
    }
    if (!next.shutdown().equals(running.shutdown())) {
      restart.add("shutdown");
    }
    if (!next.discovery().equals(running.discovery())) {
      restart.add("discovery");
    }
    if (!next.transcoding().equals(running.transcoding())) {
      restart.add("transcoding");
    }
    if (!next.metrics().equals(running.metrics())) {
      restart.add("metrics");
    }
    if (!Objects.equals(next.accessLog(), running.accessLog())) {
      restart.add("accessLog");
    }
    if (!Objects.equals(next.tracing(), running.tracing())) {
      restart.add("tracing");
    }
    return restart;
  }

  /**
   * Stops every cluster, waiting up to 5 s for calls in flight on the running ones, and the
   * JWT providers' key refreshes.
   */
  @Override
  public void close() {
    Running now = running.get();
    now.clusters().values().forEach(UpstreamCluster::shutdown);
    retiring.forEach(UpstreamCluster::shutdown);
    for (UpstreamCluster cluster : now.clusters().values()) {
      try {
        cluster.awaitTermination(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    now.auth().close();
  }
}
