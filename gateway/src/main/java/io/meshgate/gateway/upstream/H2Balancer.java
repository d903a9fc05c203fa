package io.meshgate.gateway.upstream;

import io.grpc.Attributes;
import io.grpc.ChannelLogger;
import io.grpc.ConnectivityState;
import io.grpc.EquivalentAddressGroup;
import io.grpc.LoadBalancer;
import io.grpc.LoadBalancerProvider;
import io.grpc.LoadBalancerRegistry;
import io.grpc.ManagedChannel;
import io.grpc.NameResolver;
import io.grpc.Status;
import io.grpc.StatusOr;
import io.grpc.SynchronizationContext;
import io.netty.channel.EventLoop;
import java.net.URI;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The endpoints of one cluster on one event loop, for calls streamed over the gateway's own
 * HTTP/2 connections: the cluster's {@link NameResolver} (the same providers grpc-java's
 * channels use: {@code static:}, {@code dns:}, {@code etcd:}) feeds the cluster's grpc
 * {@link LoadBalancer} (the resolver library's policies or grpc's own), whose subchannels are
 * {@link H2Subchannel}s; each call asks the latest picker for its endpoint. A call that finds
 * no ready endpoint waits here (bounded) for the next picker, as it would in grpc-java's
 * channel. Picks and waiting calls are confined to the loop; the policy runs in its
 * synchronization context.
 */
final class H2Balancer {
  private static final Logger logger = Logger.getLogger(H2Balancer.class.getName());
  /** Calls that may wait for a picker at once, per loop; more are refused UNAVAILABLE. */
  static final int MAX_WAITING = 4096;

  /** A call as the balancer sees it. Only on the loop. */
  interface Pick {
    LoadBalancer.PickSubchannelArgs pickArgs();

    boolean waitForReady();

    /** The endpoint's connection was chosen: open the stream. */
    void attach(H2Connection connection, io.grpc.ClientStreamTracer.Factory tracer);

    /** No endpoint will take the call. */
    void refuse(Status status);
  }

  private final String clusterName;
  private final String target;
  private final EventLoop loop;
  private H2Connection.Settings settings;
  private final NameResolver.Factory resolvers;
  private final LoadBalancerProvider provider;
  private final Object policyConfig;
  private final String authority;
  private final SynchronizationContext sync;
  private final ChannelLogger channelLogger = new LoggerBridge();
  private final List<H2Subchannel> subchannels = new ArrayList<>(); // in sync

  private final NameResolver resolver;
  private LoadBalancer balancer; // in sync
  private boolean shutdown; // in sync

  // Only on the loop.
  private volatile LoadBalancer.SubchannelPicker picker;
  private volatile ConnectivityState state = ConnectivityState.IDLE;
  private final ArrayDeque<Pick> waiting = new ArrayDeque<>();
  private boolean started;

  /**
   * @param policy the cluster's policy name ({@code round_robin}, {@code meshgate_...})
   * @param policyConfig the policy's JSON config, as the service config would carry it
   * @param authority the {@code :authority} of calls that do not keep the client's, or null for
   *     the target's
   * @throws IllegalArgumentException when no resolver takes the target or the policy is unknown
   */
  H2Balancer(String clusterName, String target, EventLoop loop, H2Connection.Settings settings,
      NameResolver.Factory resolvers, String policy, Map<String, ?> policyConfig,
      String authority, Executor offload) {
    this.clusterName = clusterName;
    this.target = target;
    this.loop = loop;
    this.settings = settings;
    this.resolvers = resolvers;
    this.provider = LoadBalancerRegistry.getDefaultRegistry().getProvider(policy);
    if (provider == null) {
      throw new IllegalArgumentException("clusters[" + clusterName + "].lbPolicy: no policy '"
          + policy + "'");
    }
    NameResolver.ConfigOrError parsed = provider.parseLoadBalancingPolicyConfig(policyConfig);
    if (parsed.getError() != null) {
      throw new IllegalArgumentException("clusters[" + clusterName + "].lbConfig: "
          + parsed.getError().getDescription());
    }
    this.policyConfig = parsed.getConfig();
    this.sync = new SynchronizationContext((thread, e) -> logger.log(Level.WARNING,
        "the balancer of cluster '" + clusterName + "' failed", e));
    NameResolver.Args args = NameResolver.Args.newBuilder()
        .setDefaultPort(settings.tls() == null ? 80 : 443)
        .setProxyDetector(address -> null)
        .setSynchronizationContext(sync)
        .setScheduledExecutorService(loop)
        .setServiceConfigParser(new NameResolver.ServiceConfigParser() {
          @Override
          public NameResolver.ConfigOrError parseServiceConfig(Map<String, ?> config) {
            return NameResolver.ConfigOrError.fromConfig(config);
          }
        })
        .setChannelLogger(channelLogger)
        .setOffloadExecutor(offload)
        .build();
    this.resolver = newResolver(args);
    if (resolver == null) {
      throw new IllegalArgumentException("clusters[" + clusterName + "].target: no name"
          + " resolver takes '" + target + "'");
    }
    this.authority = authority != null ? authority : resolver.getServiceAuthority();
    if (settings.tls() != null && settings.serverName() == null) {
      // As grpc-java does: endpoints prove the name of the target's authority.
      this.settings = settings.withServerName(hostOf(this.authority));
    }
  }

  private static String hostOf(String authority) {
    try {
      String host = new URI(null, authority, null, null, null).getHost();
      return host != null ? host : authority;
    } catch (java.net.URISyntaxException e) {
      return authority;
    }
  }

  /** The state the policy last reported (IDLE until the first call). */
  ConnectivityState state() {
    return state;
  }

  /** The authority calls carry when the client's is not kept. */
  String authority() {
    return authority;
  }

  /** Chooses the endpoint of {@code call}: now, or once an endpoint is ready. Only on the loop. */
  void pick(Pick call) {
    if (!started) {
      started = true;
      sync.execute(this::startResolving);
    }
    LoadBalancer.SubchannelPicker current = picker;
    if (current == null || !tryPick(current, call)) {
      if (waiting.size() >= MAX_WAITING) {
        call.refuse(Status.UNAVAILABLE.withDescription(MAX_WAITING + " calls to cluster '"
            + clusterName + "' already wait for a connection"));
        return;
      }
      waiting.add(call);
    }
  }

  /** The call no longer waits (it was cancelled or its deadline passed). Only on the loop. */
  void forget(Pick call) {
    waiting.remove(call);
  }

  /** @return false when the call must wait */
  private boolean tryPick(LoadBalancer.SubchannelPicker current, Pick call) {
    LoadBalancer.PickResult result = current.pickSubchannel(call.pickArgs());
    Status status = result.getStatus();
    if (!status.isOk()) {
      if (result.isDrop() || !call.waitForReady()) {
        call.refuse(status);
        return true;
      }
      return false;
    }
    LoadBalancer.Subchannel chosen = result.getSubchannel();
    if (!(chosen instanceof H2Subchannel subchannel)) {
      return false; // no result yet
    }
    H2Connection connection = subchannel.readyConnection();
    if (connection == null) {
      subchannel.requestConnection();
      return false;
    }
    call.attach(connection, result.getStreamTracerFactory());
    return true;
  }

  private void retryWaiting() {
    LoadBalancer.SubchannelPicker current = picker;
    if (current == null || waiting.isEmpty()) {
      return;
    }
    int n = waiting.size();
    for (int i = 0; i < n && !waiting.isEmpty(); i++) {
      Pick call = waiting.poll();
      if (!tryPick(current, call)) {
        waiting.add(call);
      }
    }
  }

  // ---- In the synchronization context ------------------------------------------------------

  private void startResolving() {
    if (shutdown) {
      return;
    }
    balancer = provider.newLoadBalancer(new Helper());
    resolver.start(new NameResolver.Listener2() {
      @Override
      public void onResult(NameResolver.ResolutionResult result) {
        sync.execute(() -> onResult2(result));
      }

      @Override
      public Status onResult2(NameResolver.ResolutionResult result) {
        return accept(result);
      }

      @Override
      public void onError(Status error) {
        sync.execute(() -> {
          if (!shutdown) {
            balancer.handleNameResolutionError(error);
          }
        });
      }
    });
  }

  private NameResolver newResolver(NameResolver.Args args) {
    try {
      NameResolver r = resolvers.newNameResolver(new URI(target), args);
      if (r != null) {
        return r;
      }
    } catch (java.net.URISyntaxException e) {
      // not a URI: a host:port, which grpc-java resolves by DNS too
    }
    try {
      return resolvers.newNameResolver(new URI("dns", "", "/" + target, null), args);
    } catch (java.net.URISyntaxException e) {
      return null;
    }
  }

  private Status accept(NameResolver.ResolutionResult result) {
    if (shutdown) {
      return Status.OK;
    }
    StatusOr<List<EquivalentAddressGroup>> addresses = result.getAddressesOrError();
    if (!addresses.hasValue()) {
      balancer.handleNameResolutionError(addresses.getStatus());
      return addresses.getStatus();
    }
    return balancer.acceptResolvedAddresses(LoadBalancer.ResolvedAddresses.newBuilder()
        .setAddresses(addresses.getValue())
        .setAttributes(result.getAttributes() == null ? Attributes.EMPTY
            : result.getAttributes())
        .setLoadBalancingPolicyConfig(policyConfig)
        .build());
  }

  /**
   * Stops resolving and balancing; streams in flight finish (their connections close once
   * idle), calls waiting for a connection are refused.
   */
  void shutdown() {
    sync.execute(() -> {
      if (shutdown) {
        return;
      }
      shutdown = true;
      if (balancer != null) {
        resolver.shutdown();
        balancer.shutdown(); // shuts its subchannels down
      }
      List<H2Subchannel> left = new ArrayList<>(subchannels);
      subchannels.clear();
      left.forEach(H2Subchannel::shutdown);
      loop.execute(() -> {
        Status gone = Status.UNAVAILABLE.withDescription("cluster '" + clusterName
            + "' was removed or replaced");
        while (!waiting.isEmpty()) {
          waiting.poll().refuse(gone);
        }
      });
    });
  }

  /** The balancer's helper: its subchannels are our connections. */
  private final class Helper extends LoadBalancer.Helper {
    @Override
    public LoadBalancer.Subchannel createSubchannel(LoadBalancer.CreateSubchannelArgs args) {
      H2Subchannel subchannel = new H2Subchannel(args, loop, sync, settings, channelLogger,
          authority, H2Balancer.this::retryWaiting) {
        @Override
        public void shutdown() {
          subchannels.remove(this);
          super.shutdown();
        }
      };
      subchannels.add(subchannel);
      return subchannel;
    }

    @Override
    public void updateBalancingState(ConnectivityState state,
        LoadBalancer.SubchannelPicker next) {
      picker = next;
      H2Balancer.this.state = state;
      loop.execute(H2Balancer.this::retryWaiting);
    }

    @Override
    public void refreshNameResolution() {
      resolver.refresh();
    }

    @Override
    public SynchronizationContext getSynchronizationContext() {
      return sync;
    }

    @Override
    public java.util.concurrent.ScheduledExecutorService getScheduledExecutorService() {
      return loop;
    }

    @Override
    public ChannelLogger getChannelLogger() {
      return channelLogger;
    }

    @Override
    public String getAuthority() {
      return authority;
    }

    @Override
    public String getChannelTarget() {
      return target;
    }

    @Override
    public ManagedChannel createOobChannel(EquivalentAddressGroup eag, String authority) {
      throw new UnsupportedOperationException("no out-of-band channels on cluster '"
          + clusterName + "'");
    }
  }

  /** grpc's channel logger onto java.util.logging, as grpc-java's channels log. */
  private final class LoggerBridge extends ChannelLogger {
    @Override
    public void log(ChannelLogLevel level, String message) {
      Level l = level == ChannelLogLevel.ERROR ? Level.WARNING
          : level == ChannelLogLevel.WARNING ? Level.INFO : Level.FINE;
      if (logger.isLoggable(l)) {
        logger.log(l, "cluster " + clusterName + ": " + message);
      }
    }

    @Override
    public void log(ChannelLogLevel level, String messageFormat, Object... args) {
      log(level, java.text.MessageFormat.format(messageFormat, args));
    }
  }
}
