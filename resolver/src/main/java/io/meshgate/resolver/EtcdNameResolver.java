package io.meshgate.resolver;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.Watch;
import io.etcd.jetcd.common.exception.CompactedException;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.WatchOption;
import io.etcd.jetcd.watch.WatchEvent;
import io.etcd.jetcd.watch.WatchResponse;
import io.grpc.Attributes;
import io.grpc.EquivalentAddressGroup;
import io.grpc.NameResolver;
import io.grpc.Status;
import io.grpc.StatusOr;
import io.grpc.SynchronizationContext.ScheduledHandle;
import io.grpc.SynchronizationContext;
import io.meshgate.resolver.internal.DiscoveryMetrics;
import io.meshgate.resolver.internal.EtcdTarget;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongConsumer;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Resolves one {@code etcd:} target: lists the service's keys, then watches them from the next
 * revision. A broken watch (etcd unreachable, compaction, cancellation) makes it list again and
 * watch again; while etcd is unreachable it keeps the last endpoints it published and retries
 * with exponential backoff and jitter. Results go to the channel through
 * {@link Listener2#onResult2} in the channel's synchronization context; etcd's own threads only
 * parse, and nothing blocks the context.
 */
final class EtcdNameResolver extends NameResolver {
  private static final Logger logger = Logger.getLogger(EtcdNameResolver.class.getName());
  private static final long LIST_TIMEOUT_SECONDS = 5;

  /** The instance's etcd key, on each address group (for logs and debugging). */
  static final Attributes.Key<String> ATTR_KEY =
      Attributes.Key.create("io.meshgate.resolver.etcd-key");

  private final EtcdTarget target;
  private final String targetText;
  private final SynchronizationContext syncContext;
  private final ScheduledExecutorService timer;
  private final LongConsumer beforeWatch;
  private final ByteSequence prefix;
  private final EtcdClients.Handle etcd;

  // Accessed only from syncContext.
  private Listener2 listener;
  private final Map<String, Instance> instances = new TreeMap<>();
  private List<EquivalentAddressGroup> published;
  private Watch.Watcher watcher;
  private ScheduledHandle retry;
  private int generation;
  private boolean listing;
  private boolean unreachable;
  private boolean shutdown;
  private final Backoff backoff =
      new Backoff(Duration.ofMillis(100), Duration.ofSeconds(10), new Random());

  /** One registered instance, parsed off the synchronization context. */
  private record Instance(InetSocketAddress address, InstanceMetadata metadata) {}

  EtcdNameResolver(EtcdTarget target, EtcdTls tls, String targetText, Args args,
      LongConsumer beforeWatch) {
    this.target = target;
    this.targetText = targetText;
    this.syncContext = args.getSynchronizationContext();
    this.timer = args.getScheduledExecutorService();
    this.beforeWatch = beforeWatch;
    this.prefix = ByteSequence.from(target.prefix(), StandardCharsets.UTF_8);
    this.etcd = EtcdClients.acquire(target.endpoints(), tls);
  }

  @Override
  public String getServiceAuthority() {
    return target.service();
  }

  @Override
  public void start(Listener2 listener) {
    this.listener = listener;
    list();
  }

  /** Lists again (and watches again) unless a listing or a retry is already on its way. */
  @Override
  public void refresh() {
    if (!shutdown && !listing && retry == null) {
      DiscoveryMetrics.relisted();
      list();
    }
  }

  private void list() {
    listing = true;
    closeWatcher();
    int gen = ++generation;
    etcd.client().getKVClient()
        .get(prefix, GetOption.builder().isPrefix(true).build())
        .orTimeout(LIST_TIMEOUT_SECONDS, TimeUnit.SECONDS)
        .whenComplete((response, error) -> {
          // On etcd's thread: parse (and look up host names) here, not in the sync context.
          Map<String, Instance> parsed = error == null ? parse(response.getKvs()) : null;
          long revision = error == null ? response.getHeader().getRevision() : 0;
          syncContext.execute(() -> onListed(gen, parsed, revision, error));
        });
  }

  private void onListed(int gen, Map<String, Instance> parsed, long revision, Throwable error) {
    if (shutdown || gen != generation) {
      return;
    }
    listing = false;
    if (error != null) {
      DiscoveryMetrics.listFailed();
      failed("listing " + target.prefix() + " failed", error);
      return;
    }
    instances.clear();
    instances.putAll(parsed);
    reachable();
    publish();
    beforeWatch.accept(revision);
    watch(gen, revision + 1);
  }

  private void watch(int gen, long fromRevision) {
    watcher = etcd.client().getWatchClient().watch(prefix,
        WatchOption.builder().isPrefix(true).withRevision(fromRevision).build(),
        Watch.listener(
            response -> {
              List<Change> changes = changes(response);
              syncContext.execute(() -> onEvents(gen, changes));
            },
            error -> syncContext.execute(() -> onWatchBroken(gen, error)),
            () -> syncContext.execute(() -> onWatchBroken(gen,
                new IllegalStateException("etcd ended the watch")))));
  }

  /** A parsed watch event: a put (instance non-null) or a delete (instance null). */
  private record Change(String key, Instance instance) {}

  private List<Change> changes(WatchResponse response) {
    List<Change> changes = new ArrayList<>();
    for (WatchEvent event : response.getEvents()) {
      String key = event.getKeyValue().getKey().toString(StandardCharsets.UTF_8);
      Instance instance = null;
      if (event.getEventType() == WatchEvent.EventType.PUT) {
        instance = parse(key, event.getKeyValue().getValue().toString(StandardCharsets.UTF_8));
      }
      changes.add(new Change(key, instance));
    }
    return changes;
  }

  private void onEvents(int gen, List<Change> changes) {
    if (shutdown || gen != generation) {
      return;
    }
    for (Change change : changes) {
      if (change.instance() == null) {
        instances.remove(change.key());
      } else {
        instances.put(change.key(), change.instance());
      }
    }
    reachable();
    publish();
  }

  private void onWatchBroken(int gen, Throwable error) {
    if (shutdown || gen != generation) {
      return;
    }
    DiscoveryMetrics.watchFailed();
    closeWatcher();
    generation++;
    if (cause(error) instanceof CompactedException) {
      // The revision we watch from is gone: what changed since is unknown, so list afresh.
      logger.log(Level.INFO, "etcd watch of {0} hit a compaction; listing again",
          target.prefix());
      DiscoveryMetrics.relisted();
      list();
      return;
    }
    failed("watching " + target.prefix() + " failed", error);
  }

  /** etcd is unreachable (or said no): keep the last endpoints, retry with backoff. */
  private void failed(String what, Throwable error) {
    Throwable cause = cause(error);
    if (!unreachable) {
      unreachable = true;
      DiscoveryMetrics.unreachable(true);
      logger.log(Level.WARNING, "{0} at {1}: {2}; {3}", new Object[] {what, target.endpoints(),
          describe(cause), published == null ? "no endpoints known yet"
              : "keeping the " + published.size() + " endpoints last seen"});
    } else {
      logger.log(Level.FINE, "{0}: {1}", new Object[] {what, describe(cause)});
    }
    if (published == null) {
      // Nothing known yet: the channel must learn that calls cannot go anywhere.
      listener.onResult2(ResolutionResult.newBuilder()
          .setAddressesOrError(StatusOr.fromStatus(Status.UNAVAILABLE.withCause(cause)
              .withDescription("cannot list service '" + target.service() + "' in etcd at "
                  + target.endpoints() + ": " + describe(cause))))
          .build());
    }
    long delay = backoff.nextDelayNanos();
    retry = syncContext.schedule(() -> {
      retry = null;
      DiscoveryMetrics.relisted();
      list();
    }, delay, TimeUnit.NANOSECONDS, timer);
  }

  private void reachable() {
    backoff.reset();
    if (unreachable) {
      unreachable = false;
      DiscoveryMetrics.unreachable(false);
      logger.log(Level.INFO, "etcd at {0} is reachable again for {1}",
          new Object[] {target.endpoints(), target.prefix()});
    }
  }

  private void publish() {
    List<EquivalentAddressGroup> groups = new ArrayList<>(instances.size());
    for (Map.Entry<String, Instance> entry : instances.entrySet()) {
      Instance instance = entry.getValue();
      if (!target.accepts(instance.metadata())) {
        continue;
      }
      groups.add(new EquivalentAddressGroup(instance.address(), Attributes.newBuilder()
          .set(InstanceMetadata.ATTR, instance.metadata())
          .set(ATTR_KEY, entry.getKey())
          .build()));
    }
    if (groups.equals(published)) {
      return;
    }
    published = groups;
    DiscoveryMetrics.published(this, targetText, groups.size());
    listener.onResult2(ResolutionResult.newBuilder()
        .setAddressesOrError(StatusOr.fromValue(groups))
        .build());
  }

  private Map<String, Instance> parse(List<KeyValue> kvs) {
    Map<String, Instance> parsed = new LinkedHashMap<>();
    for (KeyValue kv : kvs) {
      String key = kv.getKey().toString(StandardCharsets.UTF_8);
      Instance instance = parse(key, kv.getValue().toString(StandardCharsets.UTF_8));
      if (instance != null) {
        parsed.put(key, instance);
      }
    }
    return parsed;
  }

  /** Parses a value; logs and returns null for one that is not an endpoint. */
  private Instance parse(String key, String value) {
    try {
      EndpointValue endpoint = EndpointValue.parse(value);
      if (endpoint == null) {
        return null;
      }
      InetAddress address = InetAddress.getByName(endpoint.address().host());
      return new Instance(new InetSocketAddress(address, endpoint.address().port()),
          endpoint.metadata());
    } catch (IllegalArgumentException | UnknownHostException e) {
      DiscoveryMetrics.skippedValue();
      logger.log(Level.WARNING, "skipping etcd key {0}: {1} (value: {2})",
          new Object[] {key, e.getMessage(), value.length() > 200
              ? value.substring(0, 200) + "..." : value});
      return null;
    }
  }

  private void closeWatcher() {
    if (watcher != null) {
      watcher.close();
      watcher = null;
    }
  }

  /** What went wrong, for people: a timeout says how long we waited. */
  private static String describe(Throwable cause) {
    if (cause instanceof java.util.concurrent.TimeoutException) {
      return "no answer within " + LIST_TIMEOUT_SECONDS + " s";
    }
    return cause.getMessage() != null ? cause.getMessage() : cause.toString();
  }

  private static Throwable cause(Throwable error) {
    Throwable cause = error;
    while (cause instanceof CompletionException && cause.getCause() != null) {
      cause = cause.getCause();
    }
    return cause;
  }

  @Override
  public void shutdown() {
    if (shutdown) {
      return;
    }
    shutdown = true;
    closeWatcher();
    if (retry != null) {
      retry.cancel();
      retry = null;
    }
    if (unreachable) {
      unreachable = false;
      DiscoveryMetrics.unreachable(false);
    }
    DiscoveryMetrics.removed(this);
    etcd.close();
  }
}
