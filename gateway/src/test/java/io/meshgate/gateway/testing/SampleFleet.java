package io.meshgate.gateway.testing;

import io.meshgate.samples.SampleServer;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;

/**
 * The sample services on free loopback ports, with the clusters and routes that send their
 * calls there, as YAML for a test gateway.
 */
public final class SampleFleet implements AutoCloseable {
  private final Map<SampleServer.Kind, SampleServer> servers =
      new EnumMap<>(SampleServer.Kind.class);

  private SampleFleet() {}

  /** Starts every sample service. */
  public static SampleFleet start() throws IOException {
    SampleFleet fleet = new SampleFleet();
    try {
      for (SampleServer.Kind kind : SampleServer.Kind.values()) {
        fleet.servers.put(kind, SampleServer.start(kind, "127.0.0.1", 0));
      }
    } catch (IOException | RuntimeException e) {
      fleet.close();
      throw e;
    }
    return fleet;
  }

  public SampleServer server(SampleServer.Kind kind) {
    return servers.get(kind);
  }

  /** {@code clusters:} and {@code routes:} for every sample service (named users, orders, ...). */
  public String clustersAndRoutes() {
    StringBuilder yaml = new StringBuilder("clusters:\n");
    servers.forEach((kind, server) -> yaml.append("  - {name: ").append(name(kind))
        .append(", endpoints: [127.0.0.1:").append(server.port()).append("]}\n"));
    yaml.append("routes:\n");
    yaml.append("  - {name: users, match: {service: meshgate.samples.users.v1.UserDirectory},"
        + " cluster: users}\n");
    yaml.append("  - {name: orders, match: {servicePrefix: meshgate.samples.orders.},"
        + " cluster: orders}\n");
    yaml.append("  - {name: echo, match: {service: meshgate.samples.echo.v1.EchoService},"
        + " cluster: echo, timeout: 10s}\n");
    yaml.append("  - {name: docs, match: {service: meshgate.samples.docs.v1.DocumentStore},"
        + " cluster: docs}\n");
    return yaml.toString();
  }

  private static String name(SampleServer.Kind kind) {
    return kind.name().toLowerCase(Locale.ROOT);
  }

  /**
   * Copies the samples' descriptor set (built by proto/) to {@code dir}; returns the copy.
   */
  public static Path descriptorSet(Path dir) throws IOException {
    Path copy = dir.resolve("meshgate-samples.pb");
    try (InputStream in = SampleFleet.class.getResourceAsStream(
        "/descriptors/meshgate-samples.pb")) {
      if (in == null) {
        throw new IOException("descriptors/meshgate-samples.pb is not on the test classpath");
      }
      Files.copy(in, copy, StandardCopyOption.REPLACE_EXISTING);
    }
    return copy;
  }

  @Override
  public void close() {
    servers.values().forEach(SampleServer::close);
  }
}
