package io.meshgate.resolver;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.common.exception.EtcdException;
import io.etcd.jetcd.lease.LeaseKeepAliveResponse;
import io.etcd.jetcd.options.PutOption;
import io.etcd.jetcd.support.CloseableClient;
import io.grpc.Server;
import io.grpc.stub.StreamObserver;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Keeps one service instance registered in etcd: the key {@code service/host:port} with the value
 * etcd's Go {@code naming/endpoints} manager writes ({@code {"Op":0,"Addr":...,"Metadata":...}}),
 * under a lease kept alive for as long as the registrar runs. When the lease is lost — its
 * keep-alive ends, it expires, etcd says NOT_FOUND, or etcd came back without it — the registrar
 * grants a new lease and registers again by itself, with backoff.
 *
 * <pre>
 * EtcdRegistrar registrar = EtcdRegistrar.builder()
 *     .service("orders")
 *     .address("10.0.0.7:50051")          // or .server(grpcServer, "10.0.0.7")
 *     .weight(10).zone("eu-1").version("1.4.2").tags("canary")
 *     .build();
 * registrar.start();
 * ...
 * registrar.close();   // deregister first, then stop the server: clients stop sending before it drains
 * server.shutdown();
 * </pre>
 *
 * <p>Thread-safe. Registration work runs on the registrar's own scheduler thread; nothing blocks
 * the caller except {@link #close()} (bounded) and {@link #awaitRegistered}.
 */
public final class EtcdRegistrar implements AutoCloseable {
  private static final Logger logger = Logger.getLogger(EtcdRegistrar.class.getName());
  private static final long CALL_TIMEOUT_SECONDS = 5;

  private final EtcdClients.Handle etcd;
  private final String key;
  private final EndpointValue value;
  private final long ttlSeconds;
  private final ScheduledExecutorService scheduler;
  private final boolean ownScheduler;
  private final AtomicLong renewals = new AtomicLong();
  private volatile CountDownLatch registered = new CountDownLatch(1);

  // Accessed only on the scheduler.
  private final Backoff backoff;
  private boolean started;
  private boolean closed;
  private long leaseId;
  private int attempt; // invalidates callbacks of an abandoned registration
  private CloseableClient keepAlive;
  private ScheduledFuture<?> retry;

  private EtcdRegistrar(Builder b) {
    this.etcd = EtcdClients.acquire(b.endpoints, b.tls);
    this.key = b.service + "/" + b.address;
    this.value = new EndpointValue(b.address,
        InstanceMetadata.of(b.weight, b.zone, b.version, b.tags));
    this.ttlSeconds = b.ttl.toSeconds();
    this.ownScheduler = b.scheduler == null;
    this.scheduler = ownScheduler ? Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "meshgate-registrar " + key);
      t.setDaemon(true);
      return t;
    }) : b.scheduler;
    this.backoff = new Backoff(Duration.ofMillis(100), Duration.ofSeconds(10), b.random);
  }

  /** A builder; {@code service} and {@code address} (or {@code server}) are required. */
  public static Builder builder() {
    return new Builder();
  }

  /** The etcd key this instance is registered under: {@code service/host:port}. */
  public String key() {
    return key;
  }

  /** Registers in the background and keeps the registration alive. Idempotent. */
  public void start() {
    scheduler.execute(() -> {
      if (!started && !closed) {
        started = true;
        register();
      }
    });
  }

  /** Whether the instance is registered now (its key was written under a live lease). */
  public boolean isRegistered() {
    return registered.getCount() == 0;
  }

  /**
   * Waits until the instance is registered.
   *
   * @return false if it is not registered within the timeout
   */
  public boolean awaitRegistered(Duration timeout) throws InterruptedException {
    return registered.await(timeout.toNanos(), TimeUnit.NANOSECONDS);
  }

  /** How many times etcd has renewed the lease so far. */
  public long renewals() {
    return renewals.get();
  }

  private void register() {
    if (closed) {
      return;
    }
    int current = ++attempt;
    Client client = etcd.client();
    client.getLeaseClient().grant(ttlSeconds)
        .thenCompose(grant -> {
          long lease = grant.getID();
          return client.getKVClient().put(bytes(key), bytes(value.toJson()),
                  PutOption.builder().withLeaseId(lease).build())
              .thenApply(put -> lease);
        })
        .orTimeout(CALL_TIMEOUT_SECONDS, TimeUnit.SECONDS)
        .whenCompleteAsync((lease, error) -> {
          if (closed || current != attempt) {
            return;
          }
          if (error != null) {
            retryLater("cannot register " + key, error);
            return;
          }
          leaseId = lease;
          backoff.reset();
          keepAlive = client.getLeaseClient().keepAlive(lease, new KeepAliveObserver(current));
          registered.countDown();
          logger.log(Level.INFO, "registered {0} in etcd (lease {1}, TTL {2} s)",
              new Object[] {key, Long.toHexString(lease), ttlSeconds});
        }, scheduler);
  }

  /** Receives keep-alive answers from jetcd's threads and hands them to the scheduler. */
  private final class KeepAliveObserver implements StreamObserver<LeaseKeepAliveResponse> {
    private final int attemptOf;

    KeepAliveObserver(int attemptOf) {
      this.attemptOf = attemptOf;
    }

    @Override
    public void onNext(LeaseKeepAliveResponse response) {
      if (response.getTTL() > 0) {
        renewals.incrementAndGet();
      } else {
        scheduler.execute(() -> leaseLost(attemptOf, "the lease expired"));
      }
    }

    @Override
    public void onError(Throwable t) {
      if (t instanceof EtcdException e
          && e.getErrorCode() == io.etcd.jetcd.common.exception.ErrorCode.NOT_FOUND) {
        scheduler.execute(() -> leaseLost(attemptOf, "etcd no longer knows the lease"));
      } else {
        // The keep-alive stream broke; jetcd reconnects it and the lease lives on while etcd
        // does. If the lease runs out meanwhile, onCompleted or NOT_FOUND follows.
        logger.log(Level.FINE, "keep-alive of {0} interrupted: {1}", new Object[] {key, t});
      }
    }

    @Override
    public void onCompleted() {
      scheduler.execute(() -> leaseLost(attemptOf, "the lease was not renewed in time"));
    }
  }

  private void leaseLost(int attemptOf, String why) {
    if (closed || attemptOf != attempt) {
      return;
    }
    registered = new CountDownLatch(1);
    closeKeepAlive();
    logger.log(Level.WARNING, "{0}: {1}; registering again", new Object[] {key, why});
    register();
  }

  private void retryLater(String what, Throwable error) {
    long delay = backoff.nextDelayNanos();
    logger.log(Level.WARNING, "{0}: {1}; retrying in {2} ms", new Object[] {what,
        error.getCause() != null ? error.getCause() : error, TimeUnit.NANOSECONDS.toMillis(delay)});
    retry = scheduler.schedule(() -> {
      retry = null;
      register();
    }, delay, TimeUnit.NANOSECONDS);
  }

  private void closeKeepAlive() {
    if (keepAlive != null) {
      keepAlive.close();
      keepAlive = null;
    }
  }

  /**
   * Deregisters: deletes the key (so that clients stop picking this instance), then revokes the
   * lease and stops. Waits up to a few seconds for etcd; if etcd is unreachable the key still
   * goes when its lease expires. Idempotent.
   */
  @Override
  public void close() {
    CountDownLatch done = new CountDownLatch(1);
    try {
      scheduler.execute(() -> {
        if (closed) {
          done.countDown();
          return;
        }
        closed = true;
        attempt++;
        if (retry != null) {
          retry.cancel(false);
        }
        closeKeepAlive();
        registered = new CountDownLatch(1);
        Client client = etcd.client();
        long lease = leaseId;
        client.getKVClient().delete(bytes(key))
            .thenCompose(deleted -> lease != 0
                ? client.getLeaseClient().revoke(lease).thenApply(r -> deleted)
                : java.util.concurrent.CompletableFuture.completedFuture(deleted))
            .orTimeout(CALL_TIMEOUT_SECONDS, TimeUnit.SECONDS)
            .whenComplete((r, error) -> {
              if (error != null) {
                logger.log(Level.WARNING, "could not deregister {0} from etcd ({1}); it goes when"
                    + " its lease expires", new Object[] {key, error});
              } else {
                logger.log(Level.INFO, "deregistered {0} from etcd", key);
              }
              done.countDown();
            });
      });
      done.await(2 * CALL_TIMEOUT_SECONDS, TimeUnit.SECONDS);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      // Already shut down.
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      if (ownScheduler) {
        scheduler.shutdown();
      }
      etcd.close();
    }
  }

  private static ByteSequence bytes(String text) {
    return ByteSequence.from(text, StandardCharsets.UTF_8);
  }

  /** Builds an {@link EtcdRegistrar}. Not thread-safe. */
  public static final class Builder {
    private List<String> endpoints = EtcdClients.defaultEndpoints();
    private EtcdTls tls;
    private String service;
    private HostAndPort address;
    private int weight = 1;
    private String zone;
    private String version;
    private final Set<String> tags = new LinkedHashSet<>();
    private Duration ttl = Duration.ofSeconds(10);
    private ScheduledExecutorService scheduler;
    private Random random = new Random();

    private Builder() {}

    /** TLS to etcd (and a client certificate for {@code --client-cert-auth}); default none. */
    public Builder tls(EtcdTls tls) {
      this.tls = tls;
      return this;
    }

    /** etcd endpoints ({@code host:port} or URLs); default {@link EtcdClients#defaultEndpoints()}. */
    public Builder etcdEndpoints(List<String> endpoints) {
      this.endpoints = EtcdClients.parseEndpoints(String.join(",", endpoints));
      return this;
    }

    /** The service name clients resolve ({@code etcd:///service}). */
    public Builder service(String service) {
      if (service == null || service.isBlank() || service.endsWith("/")) {
        throw new IllegalArgumentException("service: '" + service
            + "' (expected: a non-empty name not ending in '/')");
      }
      this.service = service;
      return this;
    }

    /** The address clients connect to, {@code host:port}. */
    public Builder address(String hostAndPort) {
      this.address = HostAndPort.parse(hostAndPort);
      return this;
    }

    /**
     * The address of a started gRPC server: {@code advertisedHost} (how clients reach this
     * machine) and the server's port.
     */
    public Builder server(Server server, String advertisedHost) {
      if (server.getPort() < 0) {
        throw new IllegalArgumentException("server: not started (expected: a started server)");
      }
      this.address = HostAndPort.parse(
          (advertisedHost.indexOf(':') >= 0 ? "[" + advertisedHost + "]" : advertisedHost)
              + ":" + server.getPort());
      return this;
    }

    /** Relative share of traffic under weighted policies, 1..1,000,000; default 1. */
    public Builder weight(int weight) {
      InstanceMetadata.of(weight, null, null, Set.of());
      this.weight = weight;
      return this;
    }

    /** The zone the instance runs in (for zone preference), or null. */
    public Builder zone(String zone) {
      this.zone = zone;
      return this;
    }

    /** The instance's version (clients may filter with {@code ?version=}), or null. */
    public Builder version(String version) {
      this.version = version;
      return this;
    }

    /** Adds free-form labels (clients may filter with {@code ?tag=}). */
    public Builder tags(String... tags) {
      this.tags.addAll(List.of(tags));
      return this;
    }

    /** Lease TTL, whole seconds, at least 2 s; default 10 s. */
    public Builder ttl(Duration ttl) {
      if (ttl.toSeconds() < 2) {
        throw new IllegalArgumentException("ttl: " + ttl + " (expected: >= 2s)");
      }
      this.ttl = ttl;
      return this;
    }

    /** Runs the registrar's work; default: a daemon thread of its own. */
    public Builder scheduler(ScheduledExecutorService scheduler) {
      this.scheduler = Objects.requireNonNull(scheduler, "scheduler");
      return this;
    }

    Builder random(Random random) {
      this.random = random;
      return this;
    }

    /**
     * Builds the registrar (not yet started: call {@link EtcdRegistrar#start()}).
     *
     * @throws IllegalStateException if service or address is missing
     */
    public EtcdRegistrar build() {
      if (service == null || address == null) {
        throw new IllegalStateException("service and address (or server) are required");
      }
      return new EtcdRegistrar(this);
    }
  }
}
