package io.meshgate.gateway.upstream;

import io.grpc.Attributes;
import io.grpc.ChannelLogger;
import io.grpc.ConnectivityState;
import io.grpc.ConnectivityStateInfo;
import io.grpc.EquivalentAddressGroup;
import io.grpc.LoadBalancer;
import io.grpc.Status;
import io.grpc.SynchronizationContext;
import io.grpc.health.v1.HealthCheckResponse;
import io.netty.channel.EventLoop;
import java.net.SocketAddress;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * A grpc {@link LoadBalancer.Subchannel} whose transport is an {@link H2Connection} of the
 * gateway's own, so that the resolver library's policies (and grpc's) choose among our
 * connections exactly as they choose among grpc-java's. One connection at a time, to the first
 * of its addresses that answers; after a failure it waits (exponential backoff with jitter, as
 * grpc-java's subchannels do) and connects again. The balancer talks to it in its
 * synchronization context, from any thread; the connection lives on the event loop, and state
 * changes go back through the synchronization context.
 *
 * <p>With a health-check service ({@code healthCheck:} of the cluster) a connection is READY only
 * once the endpoint says SERVING on a {@code grpc.health.v1.Health/Watch} stream over it, and
 * TRANSIENT_FAILURE while it says anything else, as grpc-java's client-side health checks do;
 * an endpoint without the health service (UNIMPLEMENTED) is taken as healthy, and a watch that
 * ends otherwise is started again after a backoff.
 */
class H2Subchannel extends LoadBalancer.Subchannel implements H2Connection.Listener,
    H2HealthCheck.Listener {
  private static final long INITIAL_BACKOFF_NANOS = TimeUnit.SECONDS.toNanos(1);
  private static final long MAX_BACKOFF_NANOS = TimeUnit.SECONDS.toNanos(120);

  private final EventLoop loop;
  private final SynchronizationContext sync;
  private final H2Connection.Settings settings;
  private final ChannelLogger logger;
  private final Runnable onReady;
  private final Attributes attributes;
  private final String authority;
  private volatile List<EquivalentAddressGroup> addresses;
  private LoadBalancer.SubchannelStateListener listener; // in sync

  // Only on the loop.
  private ConnectivityState state = ConnectivityState.IDLE;
  private H2Connection connection;
  private int addressIndex;
  private long backoffNanos = INITIAL_BACKOFF_NANOS;
  private boolean shutdown;
  private io.netty.util.concurrent.ScheduledFuture<?> reconnect;
  private H2HealthCheck health;
  private long healthBackoffNanos = INITIAL_BACKOFF_NANOS;
  private io.netty.util.concurrent.ScheduledFuture<?> healthRetry;

  /**
   * @param authority the {@code :authority} of health checks
   * @param onReady run on the loop when a connection becomes ready (waiting calls try again)
   */
  H2Subchannel(LoadBalancer.CreateSubchannelArgs args, EventLoop loop,
      SynchronizationContext sync, H2Connection.Settings settings, ChannelLogger logger,
      String authority, Runnable onReady) {
    this.authority = authority;
    this.addresses = List.copyOf(args.getAddresses());
    this.attributes = args.getAttributes();
    this.loop = loop;
    this.sync = sync;
    this.settings = settings;
    this.logger = logger;
    this.onReady = onReady;
  }

  @Override
  public void start(LoadBalancer.SubchannelStateListener listener) {
    this.listener = listener;
  }

  @Override
  public void shutdown() {
    loop.execute(() -> {
      shutdown = true;
      if (reconnect != null) {
        reconnect.cancel(false);
      }
      stopHealthCheck();
      if (connection != null) {
        connection.shutdown(); // streams in flight finish
        connection = null;
      }
      report(ConnectivityStateInfo.forNonError(ConnectivityState.SHUTDOWN));
    });
  }

  @Override
  public void requestConnection() {
    loop.execute(() -> {
      if (!shutdown && state == ConnectivityState.IDLE) {
        connect();
      }
    });
  }

  @Override
  public List<EquivalentAddressGroup> getAllAddresses() {
    return addresses;
  }

  @Override
  public Attributes getAttributes() {
    return attributes;
  }

  @Override
  public void updateAddresses(List<EquivalentAddressGroup> addrs) {
    this.addresses = List.copyOf(addrs);
    loop.execute(() -> {
      if (connection != null && !contains(connection.address())) {
        stopHealthCheck();
        connection.shutdown();
        connection = null;
        addressIndex = 0;
        setState(ConnectivityStateInfo.forNonError(ConnectivityState.IDLE));
      }
    });
  }

  @Override
  public ChannelLogger getChannelLogger() {
    return logger;
  }

  @Override
  public io.grpc.Channel asChannel() {
    throw new UnsupportedOperationException("a cluster streamed through the gateway's own"
        + " connections has no grpc-java channel per endpoint (its health checks run on the"
        + " connections themselves)");
  }

  /**
   * The connection to open a stream on, or null when none is ready (or, with health checks,
   * the endpoint is not SERVING). Only on the loop.
   */
  H2Connection readyConnection() {
    H2Connection c = connection;
    return c != null && c.usable() && state == ConnectivityState.READY ? c : null;
  }

  private boolean contains(SocketAddress address) {
    for (EquivalentAddressGroup group : addresses) {
      if (group.getAddresses().contains(address)) {
        return true;
      }
    }
    return false;
  }

  private SocketAddress addressAt(int index) {
    int i = 0;
    for (EquivalentAddressGroup group : addresses) {
      for (SocketAddress address : group.getAddresses()) {
        if (i++ == index) {
          return address;
        }
      }
    }
    return null;
  }

  private void connect() {
    SocketAddress address = addressAt(addressIndex);
    if (address == null) {
      addressIndex = 0;
      address = addressAt(0);
      if (address == null) {
        setState(ConnectivityStateInfo.forTransientFailure(Status.UNAVAILABLE.withDescription(
            "the endpoint has no address")));
        return;
      }
    }
    setState(ConnectivityStateInfo.forNonError(ConnectivityState.CONNECTING));
    connection = H2Connection.connect(loop, address, settings, this);
  }

  @Override
  public void onReady(H2Connection c) {
    if (c != connection || shutdown) {
      return;
    }
    backoffNanos = INITIAL_BACKOFF_NANOS;
    addressIndex = 0;
    if (settings.healthCheckService() == null) {
      ready();
    } else {
      healthBackoffNanos = INITIAL_BACKOFF_NANOS;
      startHealthCheck(); // CONNECTING until the endpoint says SERVING
    }
  }

  private void ready() {
    if (state != ConnectivityState.READY) {
      setState(ConnectivityStateInfo.forNonError(ConnectivityState.READY));
      onReady.run();
    }
  }

  private void startHealthCheck() {
    healthRetry = null;
    if (shutdown || connection == null || !connection.usable()) {
      return;
    }
    health = H2HealthCheck.start(connection, settings.healthCheckService(), authority,
        settings.tls() != null, this);
  }

  private void stopHealthCheck() {
    if (healthRetry != null) {
      healthRetry.cancel(false);
      healthRetry = null;
    }
    if (health != null) {
      H2HealthCheck check = health;
      health = null;
      check.cancel();
    }
  }

  @Override
  public void onStatus(H2HealthCheck check, HealthCheckResponse.ServingStatus status) {
    if (check != health) {
      return;
    }
    healthBackoffNanos = INITIAL_BACKOFF_NANOS;
    if (status == HealthCheckResponse.ServingStatus.SERVING) {
      ready();
    } else {
      setState(ConnectivityStateInfo.forTransientFailure(Status.UNAVAILABLE.withDescription(
          "health check of service '" + settings.healthCheckService() + "': "
              + connection.address() + " is " + status)));
    }
  }

  @Override
  public void onEnded(H2HealthCheck check, Status status, boolean responded) {
    if (check != health) {
      return;
    }
    health = null;
    if (shutdown || connection == null || !connection.usable()) {
      return; // the connection's end says the rest
    }
    if (status.getCode() == Status.Code.UNIMPLEMENTED) {
      // As grpc-java: an endpoint without the health service is not checked.
      logger.log(ChannelLogger.ChannelLogLevel.WARNING, "{0} does not implement"
          + " grpc.health.v1.Health ({1}): health checks are off for it",
          connection.address(), status.getDescription());
      ready();
      return;
    }
    setState(ConnectivityStateInfo.forTransientFailure(Status.UNAVAILABLE.withDescription(
        "health check of service '" + settings.healthCheckService() + "' on "
            + connection.address() + " ended: " + status.getCode()
            + (status.getDescription() == null ? "" : " (" + status.getDescription() + ")"))));
    if (responded) {
      healthBackoffNanos = INITIAL_BACKOFF_NANOS;
    }
    long delay = (long) (healthBackoffNanos
        * (0.8 + 0.4 * ThreadLocalRandom.current().nextDouble()));
    healthBackoffNanos = Math.min(MAX_BACKOFF_NANOS, (long) (healthBackoffNanos * 1.6));
    healthRetry = loop.schedule(this::startHealthCheck, delay, TimeUnit.NANOSECONDS);
  }

  @Override
  public void onGone(H2Connection c, Status why, boolean wasReady) {
    if (c != connection || shutdown) {
      return;
    }
    stopHealthCheck();
    connection = null;
    if (wasReady) {
      // As grpc-java's subchannels do: a lost connection goes IDLE; the policy reconnects.
      setState(ConnectivityStateInfo.forNonError(ConnectivityState.IDLE));
      return;
    }
    if (addressAt(addressIndex + 1) != null) {
      addressIndex++;
      connect();
      return;
    }
    addressIndex = 0;
    logger.log(ChannelLogger.ChannelLogLevel.DEBUG, "{0}", why.getDescription());
    setState(ConnectivityStateInfo.forTransientFailure(why));
    long delay = (long) (backoffNanos * (0.8 + 0.4 * ThreadLocalRandom.current().nextDouble()));
    backoffNanos = Math.min(MAX_BACKOFF_NANOS, (long) (backoffNanos * 1.6));
    reconnect = loop.schedule(() -> {
      reconnect = null;
      if (!shutdown && connection == null) {
        connect();
      }
    }, delay, TimeUnit.NANOSECONDS);
  }

  private void setState(ConnectivityStateInfo info) {
    if (info.getState() == state && info.getState() != ConnectivityState.TRANSIENT_FAILURE) {
      return;
    }
    state = info.getState();
    report(info);
  }

  private void report(ConnectivityStateInfo info) {
    sync.execute(() -> {
      if (listener != null) {
        listener.onSubchannelState(info);
      }
    });
  }

}
