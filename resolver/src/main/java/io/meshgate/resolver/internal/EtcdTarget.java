package io.meshgate.resolver.internal;

import io.meshgate.resolver.EtcdClients;
import io.meshgate.resolver.InstanceMetadata;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * A parsed {@code etcd:} target: which etcd, which service, which instances.
 *
 * @param endpoints etcd client URLs
 * @param service the service name; its instances are the keys under {@code service + "/"}
 * @param tags instances must carry every one of these tags
 * @param version if not null, instances must have exactly this version
 * @param zone if not null, instances must be in this zone
 *
 * <p><b>Internal:</b> public only so that the Meshgate gateway can check targets in its
 * configuration with the resolver's own rules; not a supported API.
 */
public record EtcdTarget(List<String> endpoints, String service, Set<String> tags, String version,
    String zone) {

  /**
   * Parses {@code etcd:///service?tag=a&tag=b&version=v&zone=z} or
   * {@code etcd://host1:2379,host2:2379/service?...}.
   *
   * @param defaultEndpoints used when the target names no etcd endpoints
   * @throws IllegalArgumentException saying what is wrong and what was expected
   */
  public static EtcdTarget parse(URI uri, List<String> defaultEndpoints) {
    String authority = uri.getRawAuthority();
    List<String> endpoints = authority == null || authority.isEmpty()
        ? defaultEndpoints : EtcdClients.parseEndpoints(authority);
    String path = uri.getPath();
    String service = path == null ? "" : path.replaceFirst("^/+", "").replaceFirst("/+$", "");
    if (service.isEmpty()) {
      throw new IllegalArgumentException("etcd target '" + uri + "' names no service"
          + " (expected: etcd:///service or etcd://host:2379,host:2379/service)");
    }
    Set<String> tags = new TreeSet<>();
    String version = null;
    String zone = null;
    String query = uri.getRawQuery();
    if (query != null && !query.isEmpty()) {
      for (String pair : query.split("&")) {
        if (pair.isEmpty()) {
          continue;
        }
        int eq = pair.indexOf('=');
        String name = decode(eq < 0 ? pair : pair.substring(0, eq));
        String value = eq < 0 ? "" : decode(pair.substring(eq + 1));
        if (value.isEmpty()) {
          throw new IllegalArgumentException("etcd target parameter '" + name + "' has no value");
        }
        switch (name) {
          case "tag" -> tags.add(value);
          case "version" -> version = value;
          case "zone" -> zone = value;
          default -> throw new IllegalArgumentException("unknown etcd target parameter '" + name
              + "' (expected: tag, version, zone)");
        }
      }
    }
    return new EtcdTarget(endpoints, service, Set.copyOf(tags), version, zone);
  }

  /**
   * Checks an {@code etcd:} target without resolving it (for configuration validation).
   *
   * @throws IllegalArgumentException saying what is wrong and what was expected
   */
  public static void check(URI targetUri) {
    if (!"etcd".equals(targetUri.getScheme())) {
      throw new IllegalArgumentException("'" + targetUri + "' is not an etcd: target");
    }
    parse(targetUri, List.of(EtcdClients.LOCAL_ENDPOINT));
  }

  private static String decode(String text) {
    return URLDecoder.decode(text, StandardCharsets.UTF_8);
  }

  /** Whether an instance passes the target's filters. */
  public boolean accepts(InstanceMetadata metadata) {
    return metadata.tags().containsAll(tags)
        && (version == null || version.equals(metadata.version()))
        && (zone == null || zone.equals(metadata.zone()));
  }

  /** The key prefix of the service's instances: the service name and a slash. */
  public String prefix() {
    return service + "/";
  }
}
