package io.meshgate.resolver;

import io.grpc.EquivalentAddressGroup;
import io.grpc.NameResolver;
import io.grpc.Status;
import io.grpc.StatusOr;
import io.grpc.SynchronizationContext;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.ForkJoinPool;

/** Resolves a fixed endpoint list; see {@link StaticNameResolverProvider}. */
final class StaticNameResolver extends NameResolver {
  private final List<HostAndPort> endpoints;
  private final SynchronizationContext syncContext;
  private final Executor offloadExecutor;
  private final String authority;

  // Accessed only from syncContext.
  private Listener2 listener;
  private boolean resolving;
  private boolean shutdown;

  StaticNameResolver(List<HostAndPort> endpoints, Args args) {
    this.endpoints = endpoints;
    this.syncContext = args.getSynchronizationContext();
    Executor offload = args.getOffloadExecutor();
    this.offloadExecutor = offload != null ? offload : ForkJoinPool.commonPool();
    this.authority = endpoints.get(0).toString();
  }

  @Override
  public String getServiceAuthority() {
    return authority;
  }

  @Override
  public void start(Listener2 listener) {
    this.listener = listener;
    resolve();
  }

  @Override
  public void refresh() {
    resolve();
  }

  private void resolve() {
    if (resolving || shutdown) {
      return;
    }
    resolving = true;
    // Literal IPs need no lookup; host names may block, so they go to the offload executor.
    offloadExecutor.execute(() -> {
      StatusOr<List<EquivalentAddressGroup>> result = lookUp();
      syncContext.execute(() -> {
        resolving = false;
        if (!shutdown) {
          listener.onResult2(
              ResolutionResult.newBuilder().setAddressesOrError(result).build());
        }
      });
    });
  }

  private StatusOr<List<EquivalentAddressGroup>> lookUp() {
    List<EquivalentAddressGroup> groups = new ArrayList<>(endpoints.size());
    List<String> failures = new ArrayList<>();
    for (HostAndPort endpoint : endpoints) {
      try {
        InetAddress address = InetAddress.getByName(endpoint.host());
        groups.add(new EquivalentAddressGroup(new InetSocketAddress(address, endpoint.port())));
      } catch (UnknownHostException e) {
        failures.add(endpoint.toString());
      }
    }
    if (groups.isEmpty()) {
      return StatusOr.fromStatus(Status.UNAVAILABLE.withDescription(
          "static endpoints " + failures + " do not resolve to any address"));
    }
    return StatusOr.fromValue(groups);
  }

  @Override
  public void shutdown() {
    shutdown = true;
  }
}
