package io.meshgate.resolver;

import io.grpc.Attributes;
import io.grpc.CallOptions;
import io.grpc.ChannelLogger;
import io.grpc.ConnectivityState;
import io.grpc.ConnectivityStateInfo;
import io.grpc.EquivalentAddressGroup;
import io.grpc.LoadBalancer;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.SynchronizationContext;
import io.meshgate.testing.FakeClock;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A channel as a load balancer sees it, with subchannels whose state a test sets: no sockets, no
 * threads, time from a {@link FakeClock}.
 */
final class FakeHelper extends LoadBalancer.Helper {
  final FakeClock clock = new FakeClock();
  final SynchronizationContext syncContext = new SynchronizationContext((t, e) -> {
    throw new AssertionError(e);
  });
  final List<FakeSubchannel> subchannels = new ArrayList<>();
  ConnectivityState state;
  LoadBalancer.SubchannelPicker picker;
  int refreshes;

  final class FakeSubchannel extends LoadBalancer.Subchannel {
    List<EquivalentAddressGroup> groups;
    LoadBalancer.SubchannelStateListener listener;
    int connectionRequests;
    boolean shutdown;

    FakeSubchannel(List<EquivalentAddressGroup> groups) {
      this.groups = groups;
    }

    @Override
    public void start(LoadBalancer.SubchannelStateListener listener) {
      this.listener = listener;
    }

    @Override
    public void shutdown() {
      shutdown = true;
    }

    @Override
    public void requestConnection() {
      connectionRequests++;
    }

    @Override
    public List<EquivalentAddressGroup> getAllAddresses() {
      return groups;
    }

    @Override
    public Attributes getAttributes() {
      return Attributes.EMPTY;
    }

    @Override
    public void updateAddresses(List<EquivalentAddressGroup> addrs) {
      this.groups = addrs;
    }

    /** Moves the subchannel to a state, as its transport would. */
    void set(ConnectivityState newState) {
      syncContext.execute(() -> listener.onSubchannelState(
          newState == ConnectivityState.TRANSIENT_FAILURE
              ? ConnectivityStateInfo.forTransientFailure(Status.UNAVAILABLE.withDescription(
                  "connection refused"))
              : ConnectivityStateInfo.forNonError(newState)));
    }

    int port() {
      return ((InetSocketAddress) groups.get(0).getAddresses().get(0)).getPort();
    }
  }

  @Override
  public LoadBalancer.Subchannel createSubchannel(LoadBalancer.CreateSubchannelArgs args) {
    FakeSubchannel subchannel = new FakeSubchannel(args.getAddresses());
    subchannels.add(subchannel);
    return subchannel;
  }

  @Override
  public void updateBalancingState(ConnectivityState newState,
      LoadBalancer.SubchannelPicker newPicker) {
    state = newState;
    picker = newPicker;
  }

  @Override
  public void refreshNameResolution() {
    refreshes++;
  }

  @Override
  public SynchronizationContext getSynchronizationContext() {
    return syncContext;
  }

  @Override
  public java.util.concurrent.ScheduledExecutorService getScheduledExecutorService() {
    return clock;
  }

  @Override
  public ManagedChannel createOobChannel(EquivalentAddressGroup eag, String authority) {
    throw new UnsupportedOperationException();
  }

  @Override
  public String getAuthority() {
    return "test";
  }

  @Override
  public ChannelLogger getChannelLogger() {
    return new ChannelLogger() {
      @Override
      public void log(ChannelLogLevel level, String message) {}

      @Override
      public void log(ChannelLogLevel level, String messageFormat, Object... args) {}
    };
  }

  FakeSubchannel subchannel(int port) {
    for (FakeSubchannel s : subchannels) {
      if (!s.shutdown && s.port() == port) {
        return s;
      }
    }
    throw new AssertionError("no live subchannel for port " + port);
  }

  /** An instance at 127.0.0.1:port with metadata. */
  static EquivalentAddressGroup instance(int port, int weight, String zone) {
    return new EquivalentAddressGroup(new InetSocketAddress("127.0.0.1", port),
        Attributes.newBuilder().set(InstanceMetadata.ATTR,
            InstanceMetadata.of(weight, zone, null, Set.of())).build());
  }

  /** Hands addresses and a parsed policy config to a balancer, in the sync context. */
  void resolve(LoadBalancer balancer, LoadBalancer.Factory ignored, Object config,
      EquivalentAddressGroup... groups) {
    syncContext.execute(() -> balancer.acceptResolvedAddresses(
        LoadBalancer.ResolvedAddresses.newBuilder()
            .setAddresses(List.of(groups))
            .setLoadBalancingPolicyConfig(config)
            .build()));
  }

  /** Pick arguments carrying these request headers. */
  static LoadBalancer.PickSubchannelArgs args(Metadata headers) {
    return new LoadBalancer.PickSubchannelArgs() {
      @Override
      public CallOptions getCallOptions() {
        return CallOptions.DEFAULT;
      }

      @Override
      public Metadata getHeaders() {
        return headers;
      }

      @Override
      public MethodDescriptor<?, ?> getMethodDescriptor() {
        return null;
      }
    };
  }

  /** Picks once with these request headers; returns the chosen port, or -1 for no result. */
  int pick(Metadata headers) {
    LoadBalancer.PickResult result = picker.pickSubchannel(args(headers));
    if (result.getSubchannel() == null) {
      return -1;
    }
    return ((FakeSubchannel) result.getSubchannel()).port();
  }

  int pick() {
    return pick(new Metadata());
  }

  /** Picks and ends the call with a status, as a finished RPC would report it. */
  int pickAndEnd(Status status) {
    LoadBalancer.PickResult result = picker.pickSubchannel(args(new Metadata()));
    var tracer = result.getStreamTracerFactory().newClientStreamTracer(
        io.grpc.ClientStreamTracer.StreamInfo.newBuilder().build(), new Metadata());
    tracer.streamClosed(status);
    return ((FakeSubchannel) result.getSubchannel()).port();
  }

  static Map<String, ?> json(Object... keysAndValues) {
    java.util.LinkedHashMap<String, Object> map = new java.util.LinkedHashMap<>();
    for (int i = 0; i < keysAndValues.length; i += 2) {
      map.put((String) keysAndValues[i], keysAndValues[i + 1]);
    }
    return map;
  }

}
