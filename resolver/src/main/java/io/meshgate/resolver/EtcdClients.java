package io.meshgate.resolver;

import io.etcd.jetcd.Client;
import io.meshgate.resolver.tls.CertificateWatcher;
import io.meshgate.resolver.tls.RotatingKeyManager;
import io.meshgate.resolver.tls.RotatingTrustManager;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;

/**
 * One jetcd {@link Client} per etcd cluster, shared by every resolver, registrar and config
 * watcher in the process and closed when the last user lets go. Thread-safe.
 *
 * <pre>
 * try (EtcdClients.Handle etcd = EtcdClients.acquire(List.of("http://10.0.0.5:2379"))) {
 *   etcd.client().getKVClient()...
 * }
 * </pre>
 */
public final class EtcdClients {
  /** System property naming the default etcd endpoints (comma-separated). */
  public static final String ENDPOINTS_PROPERTY = "meshgate.etcd.endpoints";
  /** Environment variable naming the default etcd endpoints (comma-separated). */
  public static final String ENDPOINTS_ENV = "MESHGATE_ETCD_ENDPOINTS";
  /** Where etcd is when nothing says otherwise. */
  public static final String LOCAL_ENDPOINT = "http://127.0.0.1:2379";

  /** How often the files of an {@link EtcdTls} are checked for changes. */
  static final Duration TLS_POLL = Duration.ofSeconds(2);

  private static final Map<String, Shared> CLIENTS = new HashMap<>(); // guarded by CLIENTS
  private static CertificateWatcher watcher; // guarded by CLIENTS

  private EtcdClients() {}

  private static final class Shared {
    final Client client;
    final List<CertificateWatcher.Watch> watches;
    int users;

    Shared(Client client, List<CertificateWatcher.Watch> watches) {
      this.client = client;
      this.watches = watches;
    }
  }

  /**
   * The default endpoints: the {@value #ENDPOINTS_PROPERTY} system property, else the
   * {@value #ENDPOINTS_ENV} environment variable, else {@value #LOCAL_ENDPOINT}.
   */
  public static List<String> defaultEndpoints() {
    String configured = System.getProperty(ENDPOINTS_PROPERTY);
    if (configured == null || configured.isBlank()) {
      configured = System.getenv(ENDPOINTS_ENV);
    }
    return parseEndpoints(configured == null || configured.isBlank() ? LOCAL_ENDPOINT : configured);
  }

  /**
   * Parses {@code host:port} or {@code http(s)://host:port} endpoints, comma-separated.
   *
   * @throws IllegalArgumentException naming the endpoint that is not one
   */
  public static List<String> parseEndpoints(String text) {
    List<String> endpoints = new ArrayList<>();
    for (String part : text.split(",")) {
      String endpoint = part.trim();
      if (endpoint.isEmpty()) {
        continue;
      }
      String lower = endpoint.toLowerCase(Locale.ROOT);
      String scheme = "http://";
      if (lower.startsWith("http://") || lower.startsWith("https://")) {
        scheme = endpoint.substring(0, endpoint.indexOf("://") + 3).toLowerCase(Locale.ROOT);
        endpoint = endpoint.substring(scheme.length());
      }
      if (endpoint.endsWith("/")) {
        endpoint = endpoint.substring(0, endpoint.length() - 1);
      }
      endpoints.add(scheme + HostAndPort.parse(endpoint));
    }
    if (endpoints.isEmpty()) {
      throw new IllegalArgumentException("'" + text + "' lists no etcd endpoint"
          + " (expected: host:port or http://host:port, comma-separated)");
    }
    return List.copyOf(endpoints);
  }

  /**
   * Takes a share of the client for these endpoints, creating it on first use. The order of the
   * endpoints does not matter.
   */
  public static Handle acquire(List<String> endpoints) {
    return acquire(endpoints, null);
  }

  /**
   * As {@link #acquire(List)}, over TLS when {@code tls} is not null (plain {@code host:port}
   * and {@code http://} endpoints are then taken as {@code https://}).
   *
   * @throws IllegalArgumentException when the TLS files cannot be used
   */
  public static Handle acquire(List<String> endpoints, EtcdTls tls) {
    List<String> urls = tls == null ? endpoints
        : endpoints.stream().map(e -> e.startsWith("http://") ? "https://" + e.substring(7) : e)
            .toList();
    String key = String.join(",", new TreeSet<>(urls)) + (tls == null ? "" : " " + tls);
    synchronized (CLIENTS) {
      Shared shared = CLIENTS.get(key);
      if (shared == null) {
        io.etcd.jetcd.ClientBuilder builder = Client.builder();
        List<CertificateWatcher.Watch> watches = new ArrayList<>();
        if (tls != null) {
          watches = watchTls(builder, tls);
        }
        shared = new Shared(builder
            .endpoints(urls.toArray(new String[0]))
            .connectTimeout(Duration.ofSeconds(3))
            .keepaliveTime(Duration.ofSeconds(10))
            .keepaliveTimeout(Duration.ofSeconds(5))
            // Our own retry loops (with backoff and logging) handle outages; the client's
            // retries only cover brief blips.
            .retryMaxDuration(Duration.ofSeconds(2))
            .build(), watches);
        CLIENTS.put(key, shared);
      }
      shared.users++;
      return new Handle(key, shared.client);
    }
  }

  /**
   * Gives the client's TLS key and trust managers that the files' changes replace (checked
   * every {@link #TLS_POLL}): each new connection to etcd uses the files as they are then, and
   * a broken file is refused and logged, the material before it kept.
   */
  private static List<CertificateWatcher.Watch> watchTls(
      io.etcd.jetcd.ClientBuilder builder, EtcdTls tls) {
    RotatingTrustManager cas;
    RotatingKeyManager keys = null;
    try {
      cas = RotatingTrustManager.load(tls.caFile());
      if (tls.certFile() != null) {
        keys = RotatingKeyManager.load(tls.certFile(), tls.keyFile());
      }
      RotatingKeyManager clientKeys = keys;
      builder.sslContext(ssl -> {
        ssl.trustManager(cas);
        if (clientKeys != null) {
          ssl.keyManager(clientKeys);
        }
      });
    } catch (Exception e) {
      throw new IllegalArgumentException("cannot use the etcd TLS files " + tls + ": "
          + e.getMessage(), e);
    }
    if (watcher == null) {
      watcher = new CertificateWatcher(TLS_POLL,
          CertificateWatcher.Listener.NONE);
    }
    List<CertificateWatcher.Watch> watches = new ArrayList<>();
    if (keys != null) {
      RotatingKeyManager clientKeys = keys;
      watches.add(watcher.watch("etcd client certificate",
          List.of(tls.certFile(), tls.keyFile()), clientKeys::reload, clientKeys::certificate));
    }
    if (tls.caFile() != null) {
      watches.add(watcher.watch("etcd CAs", List.of(tls.caFile()), cas::reload, null));
    }
    return watches;
  }

  /** Clients open now (one per etcd cluster in use). */
  public static int openClients() {
    synchronized (CLIENTS) {
      return CLIENTS.size();
    }
  }

  private static void release(String key) {
    Client toClose = null;
    synchronized (CLIENTS) {
      Shared shared = CLIENTS.get(key);
      if (shared != null && --shared.users == 0) {
        CLIENTS.remove(key);
        toClose = shared.client;
        shared.watches.forEach(CertificateWatcher.Watch::close);
      }
    }
    if (toClose != null) {
      toClose.close();
    }
  }

  /** A share of a client; {@link #close()} once, when done with it. */
  public static final class Handle implements AutoCloseable {
    private final String key;
    private final Client client;
    private boolean closed; // guarded by this

    private Handle(String key, Client client) {
      this.key = key;
      this.client = client;
    }

    /** The shared client. Do not close it: close this handle. */
    public Client client() {
      return client;
    }

    /** Gives the share back; the client closes when no share is left. Idempotent. */
    @Override
    public void close() {
      synchronized (this) {
        if (closed) {
          return;
        }
        closed = true;
      }
      release(key);
    }
  }
}
