package io.meshgate.gateway.upstream;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.netty.NettyChannelBuilder;
import io.meshgate.gateway.config.GatewayConfig;
import io.meshgate.gateway.front.EventLoops;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelOption;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;

/**
 * An upstream cluster: a grpc-java channel to the cluster's target, created once and reused by
 * every call routed to it. The channel runs on the gateway's own event loops, so a call's upstream
 * transport and its client stream usually share a thread. Retries are off: the gateway decides
 * what is safe to replay, not the channel.
 */
public final class UpstreamCluster {
  private final GatewayConfig.Cluster config;
  private final ManagedChannel channel;

  private UpstreamCluster(GatewayConfig.Cluster config, ManagedChannel channel) {
    this.config = config;
    this.channel = channel;
  }

  /**
   * Creates the cluster's channel. It connects lazily, on the first call.
   *
   * @param maxMessageBytes largest response message accepted from the cluster
   * @param maxHeaderListBytes largest response header list accepted from the cluster
   * @param offloadExecutor runs blocking work of name resolution (DNS)
   */
  public static UpstreamCluster create(GatewayConfig.Cluster config, EventLoops loops,
      int maxMessageBytes, int maxHeaderListBytes, Executor offloadExecutor) {
    ManagedChannel channel = NettyChannelBuilder.forTarget(config.target())
        .eventLoopGroup(loops.workers())
        .channelType(loops.socketChannelType())
        .withOption(ChannelOption.CONNECT_TIMEOUT_MILLIS,
            (int) Math.min(Integer.MAX_VALUE, config.connectTimeout().toMillis()))
        .withOption(ChannelOption.ALLOCATOR, loops.allocator())
        .usePlaintext()
        .defaultLoadBalancingPolicy(config.lbPolicy())
        .disableRetry()
        .maxInboundMessageSize(maxMessageBytes)
        .maxInboundMetadataSize(maxHeaderListBytes)
        .offloadExecutor(offloadExecutor)
        .directExecutor()
        .userAgent("meshgate")
        .build();
    return new UpstreamCluster(config, channel);
  }

  /** The cluster's name. */
  public String name() {
    return config.name();
  }

  /** The cluster's target URI. */
  public String target() {
    return config.target();
  }

  /** The configuration it was built from. */
  public GatewayConfig.Cluster config() {
    return config;
  }

  /** Starts a call on the cluster's channel; see {@link io.grpc.Channel#newCall}. */
  public ClientCall<ByteBuf, ByteBuf> newCall(
      MethodDescriptor<ByteBuf, ByteBuf> method, CallOptions options) {
    return channel.newCall(method, options);
  }

  /** The channel's connectivity state, without asking it to connect. */
  public ConnectivityState state() {
    return channel.getState(false);
  }

  /** Stops new calls; calls in flight continue until they finish. */
  public void shutdown() {
    channel.shutdown();
  }

  /** Waits for calls in flight to finish, then cancels those left. */
  public void awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
    if (!channel.awaitTermination(timeout, unit)) {
      channel.shutdownNow();
      channel.awaitTermination(5, TimeUnit.SECONDS);
    }
  }
}
