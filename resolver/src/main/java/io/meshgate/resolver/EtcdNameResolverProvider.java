package io.meshgate.resolver;

import io.grpc.NameResolver;
import io.meshgate.resolver.internal.EtcdTarget;
import java.net.URI;
import java.util.List;
import java.util.function.LongConsumer;

/**
 * Resolves {@code etcd:} targets through etcd, with live updates: a grpc-java channel built with
 * {@code Grpc.newChannelBuilder("etcd:///orders", creds)} sends its calls to the instances
 * registered under {@code orders/} in etcd, and follows them as they come and go.
 *
 * <p>Targets:
 * <ul>
 *   <li>{@code etcd:///orders} — etcd endpoints from the {@value EtcdClients#ENDPOINTS_PROPERTY}
 *       system property, else the {@value EtcdClients#ENDPOINTS_ENV} environment variable, else
 *       the provider's default ({@link #EtcdNameResolverProvider(List)}), else
 *       {@value EtcdClients#LOCAL_ENDPOINT}.</li>
 *   <li>{@code etcd://10.0.0.5:2379/orders} — an explicit endpoint. A list
 *       ({@code etcd://a:2379,b:2379/orders}) is understood too, but grpc-java's RFC 3986 target
 *       parsing (on by default in grpc-java 1.83) rejects it before any provider sees it: give several
 *       endpoints to {@link #EtcdNameResolverProvider(List)} instead, registered with the
 *       default {@code NameResolverRegistry} or given to one channel as its
 *       {@code nameResolverFactory}.</li>
 *   <li>Query parameters filter instances by their metadata: {@code ?tag=canary} (repeatable:
 *       every tag must be present), {@code ?version=1.4.2}, {@code ?zone=eu-1}.</li>
 * </ul>
 *
 * <p>The registry format is that of etcd's Go {@code naming/endpoints} manager (see
 * {@link EtcdRegistrar}); each address carries its {@link InstanceMetadata} for the
 * load-balancing policies. Registered through {@code META-INF/services}; thread-safe.
 */
public final class EtcdNameResolverProvider extends SchemeNameResolverProvider {
  /** The URI scheme this provider resolves: {@value}. */
  public static final String SCHEME = "etcd";

  private final List<String> defaultEndpoints;
  private final EtcdTls tls;
  // Tests only: runs between a listing and the watch that follows it.
  private volatile LongConsumer beforeWatch = revision -> { };

  /** The provider {@code ServiceLoader} creates: default endpoints from the environment. */
  public EtcdNameResolverProvider() {
    super(SCHEME);
    this.defaultEndpoints = null;
    this.tls = null;
  }

  /**
   * A provider whose {@code etcd:///service} targets use these endpoints unless the system
   * property or environment variable names others. Register it with
   * {@code NameResolverRegistry.getDefaultRegistry().register(provider)}.
   *
   * @throws IllegalArgumentException if an endpoint is not {@code host:port} or a URL
   */
  public EtcdNameResolverProvider(List<String> defaultEndpoints) {
    this(defaultEndpoints, null);
  }

  /**
   * As {@link #EtcdNameResolverProvider(List)}, reaching etcd over TLS with {@code tls} (null:
   * cleartext) — for this provider's resolvers only.
   *
   * @throws IllegalArgumentException if an endpoint is not {@code host:port} or a URL
   */
  public EtcdNameResolverProvider(List<String> defaultEndpoints, EtcdTls tls) {
    super(SCHEME);
    this.defaultEndpoints = EtcdClients.parseEndpoints(String.join(",", defaultEndpoints));
    this.tls = tls;
  }

  /**
   * Returns a resolver for an {@code etcd:} target, or {@code null} for another scheme.
   *
   * @throws IllegalArgumentException if the target names no service, has an unknown parameter
   *     or a malformed endpoint
   */
  @Override
  public NameResolver newNameResolver(URI targetUri, NameResolver.Args args) {
    if (!handles(targetUri.getScheme())) {
      return null;
    }
    List<String> defaults = System.getProperty(EtcdClients.ENDPOINTS_PROPERTY) == null
        && System.getenv(EtcdClients.ENDPOINTS_ENV) == null && defaultEndpoints != null
        ? defaultEndpoints : EtcdClients.defaultEndpoints();
    return new EtcdNameResolver(EtcdTarget.parse(targetUri, defaults), tls,
        targetUri.toString(), args, beforeWatch);
  }

  /** Tests only: a hook that runs after each listing, before the watch starts. */
  void beforeWatch(LongConsumer hook) {
    this.beforeWatch = hook;
  }
}
