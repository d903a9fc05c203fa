package io.meshgate.gateway.testing;

import io.grpc.ManagedChannel;
import io.grpc.netty.NegotiationType;
import io.grpc.netty.NettyChannelBuilder;
import io.meshgate.gateway.Gateway;
import io.meshgate.gateway.config.ConfigLoader;
import io.meshgate.gateway.config.GatewayConfig;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A gateway running in the test JVM on free loopback ports, from a YAML document, plus client
 * channels to it that close with it.
 */
public final class TestGateway implements AutoCloseable {
  private final Gateway gateway;
  private final List<ManagedChannel> channels = new ArrayList<>();

  private TestGateway(Gateway gateway) {
    this.gateway = gateway;
  }

  /**
   * Starts a gateway. {@code yaml} holds everything but the listener and admin sections, which
   * this adds (127.0.0.1, free ports) unless the document has its own {@code listener:}.
   */
  public static TestGateway start(String yaml) throws Exception {
    String document = yaml.contains("listener:") ? yaml
        : "listener: {host: 127.0.0.1, port: 0, workerThreads: 2}\n"
            + "admin: {host: 127.0.0.1, port: 0}\n" + yaml;
    GatewayConfig config = ConfigLoader.parse("test.yaml", document, resources());
    return new TestGateway(Gateway.start(config));
  }

  /** The directory of the test resources (TLS material and the like). */
  public static Path resources() {
    try {
      return Path.of(TestGateway.class.getResource("/tls/ca.pem").toURI()).getParent()
          .getParent();
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  public Gateway gateway() {
    return gateway;
  }

  public int port() {
    return gateway.port();
  }

  /** {@code 127.0.0.1:port}. */
  public String address() {
    return "127.0.0.1:" + port();
  }

  /** A plaintext channel (HTTP/2 prior knowledge) that accepts messages up to 64 MiB. */
  public ManagedChannel channel() {
    return track(NettyChannelBuilder.forTarget(address())
        .usePlaintext()
        .maxInboundMessageSize(64 * 1024 * 1024)
        .build());
  }

  /** A channel that reaches the gateway through an HTTP/1.1 Upgrade to h2c. */
  public ManagedChannel upgradeChannel() {
    return track(NettyChannelBuilder.forTarget(address())
        .negotiationType(NegotiationType.PLAINTEXT_UPGRADE)
        .build());
  }

  /** Closes the channel with the gateway. */
  public ManagedChannel track(ManagedChannel channel) {
    channels.add(channel);
    return channel;
  }

  @Override
  public void close() {
    for (ManagedChannel channel : channels) {
      channel.shutdownNow();
    }
    try {
      for (ManagedChannel channel : channels) {
        channel.awaitTermination(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    gateway.close();
  }
}
