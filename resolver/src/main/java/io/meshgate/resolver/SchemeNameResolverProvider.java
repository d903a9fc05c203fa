package io.meshgate.resolver;

import io.grpc.NameResolverProvider;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.Collection;
import java.util.List;

/**
 * What this library's name-resolver providers share: one URI scheme, always available, the
 * default priority, and addresses that are {@link InetSocketAddress}es.
 */
abstract class SchemeNameResolverProvider extends NameResolverProvider {
  private final String scheme;

  SchemeNameResolverProvider(String scheme) {
    this.scheme = scheme;
  }

  /** Whether {@code targetScheme} is this provider's (else it resolves nothing). */
  final boolean handles(String targetScheme) {
    return scheme.equals(targetScheme);
  }

  @Override
  public final String getDefaultScheme() {
    return scheme;
  }

  @Override
  protected final boolean isAvailable() {
    return true;
  }

  @Override
  protected final int priority() {
    return 5;
  }

  @Override
  public final Collection<Class<? extends SocketAddress>> getProducedSocketAddressTypes() {
    return List.of(InetSocketAddress.class);
  }
}
