package io.meshgate.resolver;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * What Meshgate's load-balancing policies see of their endpoints, for dashboards and admin
 * pages: each endpoint's address, zone and weight from the registry, its connectivity (with
 * client-side health checking, an endpoint reporting NOT_SERVING is not READY), outlier
 * ejection and calls in flight.
 *
 * <p>A policy reports here when its config names the states: {@code {"loadBalancingConfig":
 * [{"meshgate_weighted_round_robin": {"statesName": "orders"}}]}}; every balancer with that
 * name (one per channel that uses the config) reports, and {@link #endpoints()} merges them by
 * address. Get the states with {@link #named}, and {@link #remove} them when the channels are
 * gone.
 *
 * <p>Thread-safe. Policies report on their synchronization context; reading costs nothing on
 * the call path (calls in flight are read from the counters the pickers keep anyway).
 */
public final class EndpointStates {
  private static final Map<String, EndpointStates> NAMED = new ConcurrentHashMap<>();

  private final String name;
  private final Map<Object, Report> reports = new ConcurrentHashMap<>();

  private EndpointStates(String name) {
    this.name = name;
  }

  /** The states reported under {@code name}, made empty on first use. */
  public static EndpointStates named(String name) {
    if (name == null || name.isBlank()) {
      throw new IllegalArgumentException("a name is needed (the policy config's statesName)");
    }
    return NAMED.computeIfAbsent(name, EndpointStates::new);
  }

  /** Forgets the states reported under {@code name} (their channels are shut down). */
  public static void remove(String name) {
    NAMED.remove(name);
  }

  /** The name policies report under. */
  public String name() {
    return name;
  }

  /**
   * One endpoint, merged over the balancers that use it.
   *
   * @param address {@code host:port} (the first address of the endpoint's group)
   * @param zone the registry's zone, or null
   * @param weight the registry's weight
   * @param connectivity the best state among the balancers: READY, CONNECTING, IDLE or
   *     TRANSIENT_FAILURE
   * @param problem why it is not READY (the last connection or health-check error), or null
   * @param ejected whether outlier detection took it out of rotation
   * @param ejectedUntil when it comes back, or null when not ejected
   * @param ejections ejections in a row so far (the next lasts twice as long)
   * @param inFlight calls on it now, over every balancer
   * @param balancers how many balancers (channels) report it
   */
  public record EndpointState(String address, String zone, int weight, String connectivity,
      String problem, boolean ejected, Instant ejectedUntil, int ejections, int inFlight,
      int balancers) {}

  /** Every endpoint reported now, in the order the registry listed them. */
  public List<EndpointState> endpoints() {
    Map<String, EndpointState> merged = new LinkedHashMap<>();
    long nanos = System.nanoTime();
    Instant now = Instant.now();
    for (Report report : reports.values()) {
      for (Entry e : report.entries()) {
        Instant until = e.ejected() ? now.plus(Duration.ofNanos(
            Math.max(0, e.ejectedUntilNanos() - nanos))) : null;
        EndpointState one = new EndpointState(e.address(), e.zone(), e.weight(), e.connectivity(),
            e.problem(), e.ejected(), until, e.ejections(), e.outstanding().get(), 1);
        merged.merge(e.address(), one, EndpointStates::merge);
      }
    }
    return List.copyOf(merged.values());
  }

  /** When a balancer last reported, or null when none has. */
  public Instant updatedAt() {
    Instant latest = null;
    for (Report report : reports.values()) {
      if (latest == null || report.at().isAfter(latest)) {
        latest = report.at();
      }
    }
    return latest;
  }

  private static EndpointState merge(EndpointState a, EndpointState b) {
    boolean aBetter = rank(a.connectivity()) <= rank(b.connectivity());
    EndpointState best = aBetter ? a : b;
    EndpointState other = aBetter ? b : a;
    Instant until = a.ejectedUntil() == null ? b.ejectedUntil() : b.ejectedUntil() == null
        ? a.ejectedUntil() : a.ejectedUntil().isAfter(b.ejectedUntil()) ? a.ejectedUntil()
        : b.ejectedUntil();
    return new EndpointState(best.address(), best.zone(), best.weight(), best.connectivity(),
        best.problem() != null ? best.problem() : other.problem(), a.ejected() || b.ejected(),
        until, Math.max(a.ejections(), b.ejections()), a.inFlight() + b.inFlight(),
        a.balancers() + b.balancers());
  }

  private static int rank(String connectivity) {
    return switch (connectivity) {
      case "READY" -> 0;
      case "CONNECTING" -> 1;
      case "IDLE" -> 2;
      default -> 3;
    };
  }

  // ---- What balancers report (package-private: only our policies report) -------------------

  /** One endpoint as one balancer saw it; {@code outstanding} is read when shown. */
  record Entry(String address, String zone, int weight, String connectivity, String problem,
      boolean ejected, long ejectedUntilNanos, int ejections, AtomicInteger outstanding) {}

  private record Report(List<Entry> entries, Instant at) {}

  /** Replaces what {@code balancer} reported before. */
  void report(Object balancer, List<Entry> entries) {
    reports.put(balancer, new Report(List.copyOf(entries), Instant.now()));
  }

  /** {@code balancer} is shut down: its endpoints are no longer its to report. */
  void withdraw(Object balancer) {
    reports.remove(balancer);
  }

  /** What a balancer reports of its endpoints now. */
  static List<Entry> entries(Iterable<io.meshgate.resolver.Endpoint> endpoints) {
    List<Entry> entries = new ArrayList<>();
    for (io.meshgate.resolver.Endpoint e : endpoints) {
      java.net.SocketAddress first = e.group.getAddresses().get(0);
      String address = first instanceof java.net.InetSocketAddress inet
          ? inet.getHostString() + ":" + inet.getPort() : String.valueOf(first);
      io.grpc.ConnectivityState state = e.state.getState();
      String problem = state == io.grpc.ConnectivityState.READY || e.state.getStatus().isOk()
          ? null : e.state.getStatus().getCode() + ": " + e.state.getStatus().getDescription();
      entries.add(new Entry(address, e.metadata.zone(), e.metadata.weight(), state.name(),
          problem, e.ejected, e.ejectedUntilNanos, e.ejections, e.outstanding));
    }
    return entries;
  }
}
