package io.meshgate.resolver;

import io.grpc.NameResolver;
import java.net.URI;
import java.util.List;

/**
 * Resolves {@code static:///host1:port1,host2:port2} targets to a fixed list of addresses: the
 * simplest cluster, with no registry behind it.
 *
 * <p>Each endpoint is {@code host:port}; IPv6 literals are written in brackets and, because a
 * {@link URI} path may not hold brackets, percent-encoded: {@code static:///%5B::1%5D:50051}. Host
 * names are looked up on the channel's offload executor, never on its synchronization context, and
 * looked up again on {@link NameResolver#refresh()}. The channel's authority is the first endpoint.
 *
 * <p>Registered through {@code META-INF/services}, so any grpc-java channel accepts
 * {@code Grpc.newChannelBuilder("static:///10.0.0.1:50051,10.0.0.2:50051", creds)} once this library
 * is on the class path. Thread-safe and stateless.
 */
public final class StaticNameResolverProvider extends SchemeNameResolverProvider {

  /** The URI scheme this provider resolves: {@value}. */
  public static final String SCHEME = "static";

  /** Creates the provider; grpc-java's {@code ServiceLoader} calls this. */
  public StaticNameResolverProvider() {
    super(SCHEME);
  }

  /**
   * Returns a resolver for a {@code static:} target, or {@code null} when the target has another
   * scheme.
   *
   * @throws IllegalArgumentException if the target lists no endpoint or an endpoint is not
   *     {@code host:port} with a port in 1..65535
   */
  @Override
  public NameResolver newNameResolver(URI targetUri, NameResolver.Args args) {
    if (!handles(targetUri.getScheme())) {
      return null;
    }
    List<HostAndPort> endpoints = HostAndPort.parseList(stripSlash(targetUri.getPath()));
    return new StaticNameResolver(endpoints, args);
  }

  private static String stripSlash(String path) {
    if (path == null || path.isEmpty() || path.equals("/")) {
      throw new IllegalArgumentException(
          "static target lists no endpoint (expected: static:///host:port[,host:port...])");
    }
    return path.startsWith("/") ? path.substring(1) : path;
  }
}
