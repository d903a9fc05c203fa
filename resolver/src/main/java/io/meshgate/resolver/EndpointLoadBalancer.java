package io.meshgate.resolver;

import io.grpc.ConnectivityState;
import io.grpc.ConnectivityStateInfo;
import io.grpc.EquivalentAddressGroup;
import io.grpc.LoadBalancer;
import io.grpc.Status;
import io.grpc.SynchronizationContext.ScheduledHandle;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * What our policies share: one subchannel per instance (kept connected), instance metadata from
 * the resolver, zone preference with spill-over, and passive outlier ejection. A subclass only
 * says how to pick among the instances that may take calls ({@link #newPicker}).
 *
 * <p>Pickers only ever see READY instances (and, for ring hash, walk past the others), so no call
 * goes to a connection that is not ready while a ready one exists. With {@code healthCheckConfig}
 * in the service config, the providers wrap this balancer with grpc's client-side health checking,
 * and an instance reporting NOT_SERVING shows up here as not ready.
 *
 * <p>Threading: everything but call outcomes runs in the channel's synchronization context; call
 * outcomes arrive on transport threads and are handed to the context.
 */
abstract class EndpointLoadBalancer extends LoadBalancer {
  private final Helper helper;
  private final LongSupplier nanoTime;

  // Accessed only from the synchronization context.
  private final Map<List<java.net.SocketAddress>, Endpoint> endpoints = new LinkedHashMap<>();
  private PolicyConfig config;
  private ConnectivityState currentState;
  private SubchannelPicker currentPicker;
  private Status lastError = Status.UNAVAILABLE.withDescription("no connection attempt yet");
  private final Map<Endpoint, ScheduledHandle> returns = new HashMap<>();
  private boolean shutdown;

  EndpointLoadBalancer(Helper helper, LongSupplier nanoTime) {
    this.helper = helper;
    this.nanoTime = nanoTime;
  }

  /**
   * A picker for the instances that may take calls now.
   *
   * @param candidates READY, not ejected, in the preferred zone when it is healthy enough;
   *     never empty
   * @param scope every instance of the zone scope the candidates come from, ready or not (ring
   *     hash builds its ring over these, so that keys stay put while an instance reconnects)
   */
  abstract SubchannelPicker newPicker(List<Endpoint> candidates, List<Endpoint> scope,
      PolicyConfig config);

  final Helper helper() {
    return helper;
  }

  @Override
  public Status acceptResolvedAddresses(ResolvedAddresses resolved) {
    if (shutdown) {
      return Status.OK;
    }
    Object policyConfig = resolved.getLoadBalancingPolicyConfig();
    config = policyConfig instanceof PolicyConfig parsed ? parsed
        : PolicyConfig.parse("policy", Map.of(), java.util.Set.of());
    List<EquivalentAddressGroup> groups = resolved.getAddresses();
    if (groups.isEmpty()) {
      Status error = Status.UNAVAILABLE.withDescription(
          "the name resolver returned no instances (attributes: " + resolved.getAttributes()
              + ")");
      handleNameResolutionError(error);
      return error;
    }
    Map<List<java.net.SocketAddress>, Endpoint> removed = new LinkedHashMap<>(endpoints);
    Map<List<java.net.SocketAddress>, Endpoint> next = new LinkedHashMap<>();
    for (EquivalentAddressGroup group : groups) {
      List<java.net.SocketAddress> key = group.getAddresses();
      Endpoint endpoint = removed.remove(key);
      if (endpoint == null) {
        endpoint = newEndpoint(group);
      } else if (!endpoint.group.equals(group)) {
        // Same instance, new metadata (e.g. weight): keep its connection and its rotation state.
        endpoint.group = group;
        endpoint.metadata = InstanceMetadata.of(group);
        endpoint.subchannel.updateAddresses(List.of(group));
      }
      next.put(key, endpoint);
    }
    endpoints.clear();
    endpoints.putAll(next);
    applyOutlierConfig();
    // Publish a picker without the removed instances before shutting their subchannels down,
    // so that no call picks a subchannel being shut down.
    updateBalancingState();
    for (Endpoint gone : removed.values()) {
      ScheduledHandle pending = returns.remove(gone);
      if (pending != null) {
        pending.cancel();
      }
      gone.subchannel.shutdown();
    }
    return Status.OK;
  }

  private Endpoint newEndpoint(EquivalentAddressGroup group) {
    Subchannel subchannel = helper.createSubchannel(CreateSubchannelArgs.newBuilder()
        .setAddresses(group)
        .build());
    Endpoint endpoint = new Endpoint(subchannel, group, this::callEnded);
    subchannel.start(state -> onSubchannelState(endpoint, state));
    subchannel.requestConnection();
    return endpoint;
  }

  private void onSubchannelState(Endpoint endpoint, ConnectivityStateInfo state) {
    if (shutdown || endpoints.get(endpoint.group.getAddresses()) != endpoint) {
      return;
    }
    if (state.getState() == ConnectivityState.SHUTDOWN) {
      return;
    }
    endpoint.state = state;
    if (state.getState() == ConnectivityState.IDLE) {
      // Keep every instance connected, as round_robin does: picks must not wait for connects.
      endpoint.subchannel.requestConnection();
    } else if (state.getState() == ConnectivityState.TRANSIENT_FAILURE) {
      lastError = state.getStatus();
      helper.refreshNameResolution();
    }
    updateBalancingState();
  }

  /** Recomputes the candidates and publishes a new picker if anything changed. */
  final void updateBalancingState() {
    List<Endpoint> all = new ArrayList<>(endpoints.values());
    List<Endpoint> ready = new ArrayList<>();
    List<Endpoint> readyButEjected = new ArrayList<>();
    boolean connecting = false;
    for (Endpoint endpoint : all) {
      ConnectivityState state = endpoint.state.getState();
      if (state == ConnectivityState.READY) {
        (endpoint.ejected ? readyButEjected : ready).add(endpoint);
      } else if (state == ConnectivityState.CONNECTING || state == ConnectivityState.IDLE) {
        connecting = true;
      }
    }
    if (ready.isEmpty() && !readyButEjected.isEmpty()) {
      // Every ready instance is ejected: better a suspect instance than none (Envoy's panic).
      ready = readyButEjected;
    }
    if (!ready.isEmpty()) {
      List<Endpoint> scope = all;
      List<Endpoint> candidates = ready;
      if (config.localZone() != null) {
        List<Endpoint> local = new ArrayList<>();
        List<Endpoint> readyLocal = new ArrayList<>();
        for (Endpoint endpoint : all) {
          if (config.localZone().equals(endpoint.metadata.zone())) {
            local.add(endpoint);
            if (ready.contains(endpoint)) {
              readyLocal.add(endpoint);
            }
          }
        }
        if (!readyLocal.isEmpty()
            && readyLocal.size() * 100L >= (long) config.minLocalReadyPercent() * local.size()) {
          scope = local;
          candidates = readyLocal;
        }
      }
      publish(ConnectivityState.READY, newPicker(candidates, scope, config));
    } else if (connecting) {
      publish(ConnectivityState.CONNECTING, new FixedResultPicker(PickResult.withNoResult()));
    } else {
      publish(ConnectivityState.TRANSIENT_FAILURE, new FixedResultPicker(PickResult.withError(
          Status.UNAVAILABLE.withCause(lastError.getCause()).withDescription(
              "no ready instance among " + all.size() + "; last error: "
                  + lastError.getCode() + " " + lastError.getDescription()))));
    }
  }

  /** Tells {@link EndpointStates} what the endpoints look like now, when the config asks. */
  private void reportStates() {
    if (config != null && config.statesName() != null) {
      EndpointStates.named(config.statesName()).report(this,
          EndpointStates.entries(endpoints.values()));
    }
  }

  private void publish(ConnectivityState state, SubchannelPicker picker) {
    reportStates();
    if (state == currentState && picker.equals(currentPicker)) {
      return;
    }
    currentState = state;
    currentPicker = picker;
    helper.updateBalancingState(state, picker);
  }

  // ---- Passive outlier ejection ------------------------------------------------------------

  /** A call on {@code endpoint} ended; any thread. */
  private void callEnded(Endpoint endpoint, Status status) {
    PolicyConfig.OutlierConfig outliers = config == null ? null : config.outliers();
    OutlierStats stats = endpoint.stats;
    if (outliers == null || stats == null) {
      return;
    }
    boolean failed = outliers.failureCodes().contains(status.getCode());
    long now = nanoTime.getAsLong();
    stats.record(failed, now);
    if (failed && stats.failing(now, outliers.failurePercent(), outliers.minRequests())) {
      helper.getSynchronizationContext().execute(() -> eject(endpoint));
    }
  }

  private void eject(Endpoint endpoint) {
    PolicyConfig.OutlierConfig outliers = config.outliers();
    if (shutdown || outliers == null || endpoint.ejected
        || endpoints.get(endpoint.group.getAddresses()) != endpoint) {
      return;
    }
    long ejected = endpoints.values().stream().filter(e -> e.ejected).count();
    if ((ejected + 1) * 100 > (long) outliers.maxEjectionPercent() * endpoints.size()) {
      return;
    }
    long now = nanoTime.getAsLong();
    if (endpoint.ejectedUntilNanos != 0
        && now - endpoint.ejectedUntilNanos > outliers.maxEjectionTime().toNanos()) {
      endpoint.ejections = 0; // it behaved for a long while: start the doubling again
    }
    long base = outliers.baseEjectionTime().toNanos();
    long duration = Math.min(outliers.maxEjectionTime().toNanos(),
        base << Math.min(20, endpoint.ejections));
    endpoint.ejections++;
    endpoint.ejected = true;
    endpoint.ejectedUntilNanos = now + duration;
    returns.put(endpoint, helper.getSynchronizationContext().schedule(
        () -> unEject(endpoint), duration, TimeUnit.NANOSECONDS,
        helper.getScheduledExecutorService()));
    updateBalancingState();
  }

  private void unEject(Endpoint endpoint) {
    returns.remove(endpoint);
    if (!endpoint.ejected) {
      return;
    }
    endpoint.ejected = false;
    OutlierStats stats = endpoint.stats;
    if (stats != null) {
      stats.reset();
    }
    updateBalancingState();
  }

  /** Makes call outcomes count (or not) under the current outlier configuration. */
  private void applyOutlierConfig() {
    PolicyConfig.OutlierConfig outliers = config.outliers();
    for (Endpoint endpoint : endpoints.values()) {
      if (outliers == null) {
        endpoint.stats = null;
        if (endpoint.ejected) {
          endpoint.ejected = false;
        }
      } else if (endpoint.stats == null) {
        endpoint.stats = new OutlierStats(outliers.window().toNanos());
      }
    }
  }

  @Override
  public void handleNameResolutionError(Status error) {
    if (endpoints.isEmpty() || currentState != ConnectivityState.READY) {
      lastError = error;
      publish(ConnectivityState.TRANSIENT_FAILURE,
          new FixedResultPicker(PickResult.withError(error)));
    }
    // With instances known, keep using them: a resolver hiccup is not an outage.
  }

  @Override
  public void requestConnection() {
    for (Endpoint endpoint : endpoints.values()) {
      endpoint.subchannel.requestConnection();
    }
  }

  @Override
  public void shutdown() {
    shutdown = true;
    if (config != null && config.statesName() != null) {
      EndpointStates.named(config.statesName()).withdraw(this);
    }
    returns.values().forEach(ScheduledHandle::cancel);
    returns.clear();
    for (Endpoint endpoint : endpoints.values()) {
      endpoint.subchannel.shutdown();
    }
    endpoints.clear();
  }

  /** Tests only: the instances as the balancer sees them. */
  final List<Endpoint> endpoints() {
    return List.copyOf(endpoints.values());
  }

  static boolean sameEndpoints(List<Endpoint> a, List<Endpoint> b) {
    if (a.size() != b.size()) {
      return false;
    }
    for (int i = 0; i < a.size(); i++) {
      if (a.get(i) != b.get(i)) {
        return false;
      }
    }
    return true;
  }

  static int hash(List<Endpoint> endpoints) {
    int h = 1;
    for (Endpoint endpoint : endpoints) {
      h = 31 * h + System.identityHashCode(endpoint);
    }
    return Objects.hash(h, endpoints.size());
  }
}
