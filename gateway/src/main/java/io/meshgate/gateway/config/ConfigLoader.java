package io.meshgate.gateway.config;

import java.io.IOException;
import java.io.Reader;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;
import org.yaml.snakeyaml.nodes.Node;

/**
 * Reads a YAML configuration into a validated {@link GatewayConfig}, or fails with every error in
 * it at once. Each section is bound by its own binder next to the model ({@code ServerBinder},
 * {@code ClusterBinder}, {@code RouteBinder}, {@code AuthBinder}, {@code RateLimitBinder},
 * {@code ResilienceBinder}, {@code TranscodingBinder}, {@code TelemetryBinder}). Stateless;
 * safe to call from any thread.
 */
public final class ConfigLoader {
  /** Default largest gRPC message: 4 MiB, as grpc-java's default. */
  public static final int DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

  private ConfigLoader() {}

  /**
   * Loads a file. Relative paths inside it (certificates, keys) are relative to its directory.
   *
   * @throws ConfigException naming the file, the place in it and what was expected
   */
  public static GatewayConfig load(Path file) throws ConfigException {
    String text;
    try {
      text = Files.readString(file, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      throw single(file.toString(), "file not found");
    } catch (IOException e) {
      throw single(file.toString(), "cannot be read: " + e.getMessage());
    }
    Path base = file.toAbsolutePath().getParent();
    return parse(file.toString(), text, base);
  }

  /**
   * Parses a document held in memory.
   *
   * @param source names the document in error messages
   * @param baseDir directory that relative file paths are resolved against
   * @throws ConfigException with every error found
   */
  public static GatewayConfig parse(String source, String yaml, Path baseDir)
      throws ConfigException {
    LoaderOptions options = new LoaderOptions();
    options.setMaxAliasesForCollections(50);
    options.setCodePointLimit(16 * 1024 * 1024);
    Node root;
    try (Reader reader = new StringReader(yaml)) {
      root = new Yaml(options).compose(reader);
    } catch (MarkedYAMLException e) {
      Mark mark = e.getProblemMark() != null ? e.getProblemMark() : e.getContextMark();
      String problem = e.getProblem() != null ? e.getProblem() : e.getMessage();
      throw new ConfigException(List.of(new ConfigError(source,
          mark == null ? 0 : mark.getLine() + 1, mark == null ? 0 : mark.getColumn() + 1, "",
          "not valid YAML: " + problem)));
    } catch (YAMLException | IOException e) {
      throw single(source, "not valid YAML: " + e.getMessage());
    }
    ConfigReader reader = new ConfigReader(source);
    GatewayConfig config = bind(reader, reader.root(root), source, baseDir);
    if (!reader.errors().isEmpty()) {
      throw new ConfigException(reader.errors());
    }
    return config;
  }

  private static ConfigException single(String source, String message) {
    return new ConfigException(List.of(new ConfigError(source, 0, 0, "", message)));
  }

  /**
   * Binds the YAML tree to the config records, section by section, each by its own binder;
   * every error goes to the reader.
   */
  private static GatewayConfig bind(ConfigReader reader, ConfigReader.Obj root, String source,
      Path baseDir) {
    BindContext context = new BindContext(reader, baseDir);
    ServerBinder server = new ServerBinder(reader, context);
    ResilienceBinder resilience = new ResilienceBinder(reader, context);
    TranscodingBinder transcodingBinder = new TranscodingBinder(reader, context);
    AuthBinder authBinder = new AuthBinder(reader, context);
    TelemetryBinder telemetry = new TelemetryBinder(reader, context);
    ClusterBinder clusterBinder = new ClusterBinder(reader, context, resilience);

    GatewayConfig.Listener listener = server.listener(root.requiredObj("listener"));
    GatewayConfig.Admin admin = server.admin(root.obj("admin"));
    GatewayConfig.Limits limits = server.limits(root.obj("limits"));
    GatewayConfig.Shutdown shutdown = server.shutdown(root.obj("shutdown"));
    GatewayConfig.Discovery discovery = server.discovery(root.obj("discovery"));
    Map<String, GatewayConfig.Cluster> clusters =
        clusterBinder.clusters(root, discovery);
    GatewayConfig.Transcoding transcoding =
        transcodingBinder.transcoding(root.obj("transcoding"), clusters);
    Map<String, GatewayConfig.JwtProvider> providers = authBinder.providers(root.obj("auth"));
    RateLimitBinder rateLimitBinder = new RateLimitBinder(reader, context, clusterBinder);
    GatewayConfig.RateLimitStore rateLimitStore = rateLimitBinder.store(root.obj("ratelimit"));
    GatewayConfig.IpRules ipRules = IpRulesBinder.ipRules(reader, root.obj("ipRules"));
    List<GatewayConfig.Route> routes = new RouteBinder(reader, context, authBinder,
        rateLimitBinder, resilience, transcodingBinder)
        .routes(root, clusters, transcoding.rest(), providers, rateLimitStore);
    GatewayConfig.Metrics metrics = telemetry.metrics(root.obj("metrics"));
    GatewayConfig.AccessLog accessLog = telemetry.accessLog(root.obj("accessLog"));
    GatewayConfig.Tracing tracing = telemetry.tracing(root.obj("tracing"));
    root.finish();
    if (listener.port() != 0 && listener.port() == admin.port()) {
      reader.error(root.node("admin"), "admin.port",
          admin.port() + " is also listener.port (expected: a different port)");
    }
    return new GatewayConfig(source, listener, admin, limits, shutdown, discovery,
        List.copyOf(clusters.values()), routes, transcoding, metrics, accessLog,
        List.copyOf(providers.values()), tracing, rateLimitStore, ipRules);
  }
}
