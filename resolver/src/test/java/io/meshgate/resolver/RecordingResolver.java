package io.meshgate.resolver;

import io.grpc.ChannelLogger;
import io.grpc.EquivalentAddressGroup;
import io.grpc.NameResolver;
import io.grpc.NameResolver.ConfigOrError;
import io.grpc.ProxyDetector;
import io.grpc.Status;
import io.grpc.StatusOr;
import io.grpc.SynchronizationContext;
import io.meshgate.testing.Await;
import java.net.InetSocketAddress;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Predicate;
import java.util.stream.Collectors;

/**
 * A resolver started outside any channel, with a listener that records every result: tests see
 * exactly what a channel would be told.
 */
final class RecordingResolver implements AutoCloseable {
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
  private final SynchronizationContext syncContext = new SynchronizationContext((t, e) -> {
    throw new AssertionError("uncaught in the synchronization context", e);
  });
  private final NameResolver resolver;
  private final List<StatusOr<List<EquivalentAddressGroup>>> results = new ArrayList<>();

  RecordingResolver(EtcdNameResolverProvider provider, String target) {
    NameResolver.Args args = NameResolver.Args.newBuilder()
        .setDefaultPort(443)
        .setProxyDetector(address -> null)
        .setSynchronizationContext(syncContext)
        .setScheduledExecutorService(timer)
        .setServiceConfigParser(new NameResolver.ServiceConfigParser() {
          @Override
          public ConfigOrError parseServiceConfig(Map<String, ?> rawServiceConfig) {
            return ConfigOrError.fromConfig(rawServiceConfig);
          }
        })
        .setChannelLogger(new ChannelLogger() {
          @Override
          public void log(ChannelLogLevel level, String message) {}

          @Override
          public void log(ChannelLogLevel level, String messageFormat, Object... args) {}
        })
        .build();
    resolver = provider.newNameResolver(URI.create(target), args);
    syncContext.execute(() -> resolver.start(new NameResolver.Listener2() {
      @Override
      public void onResult(NameResolver.ResolutionResult result) {
        onResult2(result);
      }

      @Override
      public Status onResult2(NameResolver.ResolutionResult result) {
        synchronized (results) {
          results.add(result.getAddressesOrError());
        }
        return Status.OK;
      }

      @Override
      public void onError(Status error) {
        synchronized (results) {
          results.add(StatusOr.fromStatus(error));
        }
      }
    }));
  }

  NameResolver resolver() {
    return resolver;
  }

  void refresh() {
    syncContext.execute(resolver::refresh);
  }

  /** Every result so far. */
  List<StatusOr<List<EquivalentAddressGroup>>> results() {
    synchronized (results) {
      return new ArrayList<>(results);
    }
  }

  /** The latest result, or null. */
  StatusOr<List<EquivalentAddressGroup>> latest() {
    synchronized (results) {
      return results.isEmpty() ? null : results.get(results.size() - 1);
    }
  }

  /** The ports of the latest addresses, sorted; empty when the latest result is an error. */
  List<Integer> latestPorts() {
    StatusOr<List<EquivalentAddressGroup>> latest = latest();
    if (latest == null || !latest.hasValue()) {
      return List.of();
    }
    return latest.getValue().stream()
        .map(g -> ((InetSocketAddress) g.getAddresses().get(0)).getPort())
        .sorted().collect(Collectors.toList());
  }

  /** Waits until the latest result satisfies a condition. */
  List<EquivalentAddressGroup> await(String what, Predicate<List<EquivalentAddressGroup>> ok) {
    return Await.until(what, Duration.ofSeconds(20), this::latest,
        r -> r != null && r.hasValue() && ok.test(r.getValue())).getValue();
  }

  /** Waits until the latest result has exactly these ports. */
  void awaitPorts(Integer... ports) {
    Await.until("the resolver to publish ports " + List.of(ports), Duration.ofSeconds(20),
        this::latestPorts, p -> p.equals(List.of(ports)));
  }

  @Override
  public void close() {
    syncContext.execute(resolver::shutdown);
    timer.shutdownNow();
  }
}
