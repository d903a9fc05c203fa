package io.meshgate.gateway.config;

import io.grpc.LoadBalancerProvider;
import io.grpc.LoadBalancerRegistry;
import io.grpc.NameResolver;
import io.grpc.NameResolverRegistry;
import io.meshgate.resolver.HostAndPort;
import io.meshgate.resolver.internal.EtcdTarget;
import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.yaml.snakeyaml.nodes.Node;

/**
 * Binds {@code clusters:}: names, targets (checked by the name resolver of their scheme),
 * load-balancing policies and their settings (checked by the policy's own parser), health
 * checks, connect timeouts and circuit breakers. Errors go to the reader.
 */
final class ClusterBinder {
  private final ConfigReader reader;
  private final BindContext context;
  private final ResilienceBinder resilienceBinder;

  ClusterBinder(ConfigReader reader, BindContext context, ResilienceBinder resilienceBinder) {
    this.reader = reader;
    this.context = context;
    this.resilienceBinder = resilienceBinder;
  }

  Map<String, GatewayConfig.Cluster> clusters(ConfigReader.Obj root,
      GatewayConfig.Discovery discovery) {
    Map<String, GatewayConfig.Cluster> clusters = new LinkedHashMap<>();
    List<Node> items = root.list("clusters");
    for (int i = 0; i < items.size(); i++) {
      String path = "clusters[" + i + "]";
      ConfigReader.Obj c = reader.item(items.get(i), path);
      String name = c.requiredString("name");
      String target = target(c);
      String lb = c.string("lbPolicy", "round_robin");
      Map<String, ?> lbConfig = lbConfig(c, lb);
      String healthCheck = null;
      ConfigReader.Obj hc = c.obj("healthCheck");
      if (hc != null) {
        healthCheck = hc.string("serviceName", "");
        hc.finish();
      }
      Duration connectTimeout = c.duration("connectTimeout", Duration.ofSeconds(5),
          Duration.ofMillis(1), Duration.ofMinutes(5));
      ConfigReader.Obj cb = c.obj("circuitBreaker");
      GatewayConfig.CircuitBreaker breaker = cb == null ? null : resilienceBinder.circuitBreaker(cb);
      ConfigReader.Obj t = c.obj("tls");
      GatewayConfig.UpstreamTls tls = t == null ? null : tls(t);
      boolean streaming = c.bool("streaming", true);
      c.finish();
      if (name != null) {
        if (clusters.containsKey(name)) {
          reader.error(c.node("name"), c.child("name"),
              "'" + name + "' is already the name of an earlier cluster");
        } else {
          clusters.put(name, new GatewayConfig.Cluster(name, target, lb, lbConfig, healthCheck,
              connectTimeout, breaker, etcdEndpoints(target, discovery), tls,
              target != null && target.startsWith("etcd:///") ? discovery.etcdTls() : null,
              streaming));
        }
      }
    }
    return clusters;
  }

  /**
   * {@code clusters[].tls} (and the other TLS clients of the gateway: {@code
   * ratelimit.redis.tls}): trust, the gateway's certificate, names, version.
   */
  GatewayConfig.UpstreamTls tls(ConfigReader.Obj t) {
    java.nio.file.Path ca = t.has("caFile") ? context.file(t, "caFile") : null;
    java.nio.file.Path cert = t.has("certFile") ? context.file(t, "certFile") : null;
    java.nio.file.Path key = t.has("keyFile") ? context.file(t, "keyFile") : null;
    if (t.has("certFile") != t.has("keyFile")) {
      reader.error(t.node, t.path, "give certFile and keyFile together (the gateway's client"
          + " certificate for mTLS), or neither");
    }
    String serverName = t.string("serverName", null);
    List<String> sans = t.strings("subjectAltNames");
    String minVersion = t.string("minVersion", "TLSv1.2");
    if (!minVersion.equals("TLSv1.2") && !minVersion.equals("TLSv1.3")) {
      reader.error(t.node("minVersion"), t.child("minVersion"), "'" + minVersion
          + "' is not a TLS version the gateway speaks (expected: TLSv1.2 or TLSv1.3)");
      minVersion = "TLSv1.2";
    }
    GatewayConfig.TlsProvider provider = context.tlsProvider(t);
    t.finish();
    if (cert != null && key != null && java.nio.file.Files.isReadable(cert)
        && java.nio.file.Files.isReadable(key)) {
      try {
        // Checks the pair as a rotation would, so that a bad one is refused with the config.
        io.meshgate.resolver.tls.PemFiles.read(cert, key);
      } catch (Exception e) {
        reader.error(t.node("certFile"), t.child("certFile"), "cannot load certificate "
            + cert + " with key " + key + " (expected: a PEM certificate chain and its PEM"
            + " PKCS#8 private key): " + e.getMessage());
      }
    }
    if (ca != null && java.nio.file.Files.isReadable(ca)) {
      try {
        io.meshgate.resolver.tls.PemFiles.chain(ca);
      } catch (Exception e) {
        reader.error(t.node("caFile"), t.child("caFile"), e.getMessage()
            + " (expected: PEM CA certificates)");
      }
    }
    return new GatewayConfig.UpstreamTls(ca, cert, key, serverName, sans, minVersion,
        provider);
  }

  /**
   * The etcd endpoints an {@code etcd:///service} target resolves through: those of
   * {@code discovery.etcd}, given to the cluster's own name-resolver registry (a list of them
   * cannot go into the target: grpc-java's RFC 3986 parser takes {@code a:1,b:2} for one host).
   */
  private static List<String> etcdEndpoints(String target,
      GatewayConfig.Discovery discovery) {
    if (target == null || !target.startsWith("etcd:///")) {
      return List.of();
    }
    if (discovery.etcdEndpoints().isEmpty() && discovery.etcdTls() != null) {
      return io.meshgate.resolver.EtcdClients.defaultEndpoints(); // the defaults, over TLS
    }
    return discovery.etcdEndpoints();
  }

  /** Either {@code target: <uri>} or {@code endpoints: [host:port, ...]}. */
  private String target(ConfigReader.Obj c) {
    boolean hasTarget = c.has("target");
    boolean hasEndpoints = c.has("endpoints");
    if (hasTarget == hasEndpoints) {
      reader.error(c.node, c.path, "needs exactly one of 'target' (a URI such as"
          + " static:///10.0.0.1:50051 or dns:///orders:50051) or 'endpoints' (host:port list)");
      return null;
    }
    if (hasEndpoints) {
      List<String> endpoints = c.strings("endpoints");
      StringBuilder target = new StringBuilder("static:///");
      for (int i = 0; i < endpoints.size(); i++) {
        try {
          String endpoint = HostAndPort.parse(endpoints.get(i)).toString();
          target.append(i == 0 ? "" : ",")
              .append(endpoint.replace("[", "%5B").replace("]", "%5D"));
        } catch (IllegalArgumentException e) {
          reader.error(c.node("endpoints"), c.child("endpoints") + "[" + i + "]",
              e.getMessage());
        }
      }
      if (endpoints.isEmpty()) {
        reader.error(c.node("endpoints"), c.child("endpoints"), "lists no endpoint");
      }
      return target.toString();
    }
    String target = c.requiredString("target");
    if (target == null) {
      return null;
    }
    try {
      URI uri = new URI(target);
      String scheme = uri.getScheme();
      if (scheme == null) {
        reader.error(c.node("target"), c.child("target"), "'" + target
            + "' has no scheme (expected e.g. static:///10.0.0.1:50051 or dns:///host:50051)");
      } else if (NameResolverRegistry.getDefaultRegistry().getProviderForScheme(scheme)
          == null) {
        reader.error(c.node("target"), c.child("target"), "scheme '" + scheme
            + "' has no name resolver (expected e.g. static, dns)");
      } else if (scheme.equals("etcd")) {
        EtcdTarget.check(uri);
        if (uri.getRawAuthority() != null && uri.getRawAuthority().contains(",")) {
          reader.error(c.node("target"), c.child("target"), "'" + target + "' lists several"
              + " etcd endpoints in the target, which grpc-java cannot parse (expected:"
              + " etcd:///service with the endpoints under discovery.etcd.endpoints)");
        }
      } else if (scheme.equals("static")) {
        String path = uri.getPath() == null ? "" : uri.getPath().replaceFirst("^/", "");
        try {
          HostAndPort.parseList(path);
        } catch (IllegalArgumentException e) {
          reader.error(c.node("target"), c.child("target"), e.getMessage());
        }
      }
    } catch (URISyntaxException e) {
      reader.error(c.node("target"), c.child("target"),
          "'" + target + "' is not a URI: " + e.getReason());
    } catch (IllegalArgumentException e) {
      reader.error(c.node("target"), c.child("target"), e.getMessage());
    }
    return target;
  }

  /** The policy's config, checked by the policy's own parser. */
  private Map<String, ?> lbConfig(ConfigReader.Obj c, String policy) {
    LoadBalancerProvider provider = LoadBalancerRegistry.getDefaultRegistry().getProvider(policy);
    if (provider == null) {
      reader.error(c.node("lbPolicy"), c.child("lbPolicy"), "'" + policy
          + "' is not a known load-balancing policy (expected one of: "
          + String.join(", ", knownPolicies()) + ")");
      c.node("lbConfig");
      return Map.of();
    }
    Node node = c.node("lbConfig");
    Object json = node == null ? Map.of() : ConfigReader.toJson(node);
    if (!(json instanceof Map<?, ?>)) {
      reader.error(node, c.child("lbConfig"), "expected a mapping of the policy's settings");
      return Map.of();
    }
    @SuppressWarnings("unchecked")
    Map<String, ?> config = (Map<String, ?>) json;
    NameResolver.ConfigOrError parsed = provider.parseLoadBalancingPolicyConfig(config);
    if (parsed.getError() != null) {
      reader.error(node != null ? node : c.node("lbPolicy"), c.child("lbConfig"),
          parsed.getError().getDescription());
    }
    return config;
  }

  /** The policies grpc's registry has, by name: ours and grpc's own (or any on the class path). */
  static List<String> knownPolicies() {
    LoadBalancerRegistry registry = LoadBalancerRegistry.getDefaultRegistry();
    java.util.SortedSet<String> names = new java.util.TreeSet<>();
    for (LoadBalancerProvider provider : java.util.ServiceLoader.load(LoadBalancerProvider.class,
        LoadBalancerProvider.class.getClassLoader())) {
      // The registry keeps the available provider of highest priority per name.
      if (provider.isAvailable() && registry.getProvider(provider.getPolicyName()) != null) {
        names.add(provider.getPolicyName());
      }
    }
    return List.copyOf(names);
  }
}
