package io.meshgate.gateway.config;

import io.meshgate.transcoder.JsonOptions;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One complete, validated gateway configuration: an immutable snapshot. Build it with
 * {@link ConfigLoader}; every reference in it has been checked (routes name defined clusters,
 * files are readable, values are in range).
 *
 * @param source where it came from (a file path), for messages
 * @param listener the one port that serves gRPC and HTTP
 * @param admin the admin port ({@code /healthz}, {@code /readyz})
 * @param limits protocol limits that protect the gateway
 * @param shutdown graceful shutdown timing
 * @param discovery where service discovery looks (etcd)
 * @param clusters upstream clusters, by name
 * @param routes routes in match order (first match wins)
 * @param transcoding REST/JSON transcoding: where descriptors come from and how JSON looks
 * @param metrics what {@code /metrics} on the admin port shows
 * @param accessLog where one line per call goes, or null for no access log
 * @param jwtProviders the JWT issuers routes may require tokens from, by name
 * @param tracing where spans go, or null for no tracing
 * @param rateLimitStore the shared store of global rate limits, or null without one
 * @param ipRules which client addresses may call at all, or null for any
 */
public record GatewayConfig(
    String source,
    Listener listener,
    Admin admin,
    Limits limits,
    Shutdown shutdown,
    Discovery discovery,
    List<Cluster> clusters,
    List<Route> routes,
    Transcoding transcoding,
    Metrics metrics,
    AccessLog accessLog,
    List<JwtProvider> jwtProviders,
    Tracing tracing,
    RateLimitStore rateLimitStore,
    IpRules ipRules) {

  public GatewayConfig {
    clusters = List.copyOf(clusters);
    routes = List.copyOf(routes);
    jwtProviders = List.copyOf(jwtProviders);
  }

  /**
   * The main port.
   *
   * @param host address to bind ({@code 0.0.0.0} for all)
   * @param port port to bind (0 picks a free one)
   * @param tls TLS settings, or null for cleartext only
   * @param workerThreads event loop threads shared by the front and the upstream channels
   */
  public record Listener(String host, int port, Tls tls, int workerThreads) {}

  /**
   * TLS on the main port; ALPN offers {@code h2} and {@code http/1.1}.
   *
   * @param certFile PEM certificate chain
   * @param keyFile PEM PKCS#8 private key
   * @param allowPlaintext whether the same port also accepts cleartext (h2c and HTTP/1.1)
   * @param clientAuth whether clients are asked for a certificate
   * @param clientCaFile the CAs a client certificate must chain to (with clientAuth optional
   *     or require)
   * @param forwardClientCert what goes upstream in {@code x-forwarded-client-cert}
   * @param provider whose TLS implementation handshakes
   */
  public record Tls(Path certFile, Path keyFile, boolean allowPlaintext, ClientAuth clientAuth,
      Path clientCaFile, ForwardClientCert forwardClientCert, TlsProvider provider) {}

  /** Whose TLS implementation a port or cluster uses ({@code tls.provider}). */
  public enum TlsProvider {
    /** The JDK's (JSSE), the default. */
    JDK,
    /** BoringSSL through netty-tcnative, shipped with the gateway: cheaper handshakes. */
    OPENSSL;

    /** Netty's name for it. */
    public io.netty.handler.ssl.SslProvider netty() {
      return this == JDK ? io.netty.handler.ssl.SslProvider.JDK
          : io.netty.handler.ssl.SslProvider.OPENSSL;
    }
  }

  /** Client certificates at the front ({@code listener.tls.clientAuth}). */
  public enum ClientAuth {
    /** Not asked for. */
    NONE,
    /** Asked for; a client without one connects, and routes decide ({@code auth.principals}). */
    OPTIONAL,
    /** Required: a client without a trusted certificate gets no connection. */
    REQUIRE
  }

  /**
   * What goes upstream in {@code x-forwarded-client-cert}, with Envoy's meanings. A header the
   * client sent is removed unless the mode forwards it.
   */
  public enum ForwardClientCert {
    /** Never sent: the client's is removed, none is added. */
    SANITIZE,
    /** With an mTLS client, the client's header is passed on unchanged. */
    FORWARD,
    /** With an mTLS client, the client's certificate is appended to its header. */
    APPEND_FORWARD,
    /** With an mTLS client, the header is replaced by the client's certificate. */
    SANITIZE_SET,
    /** The client's header is always passed on, mTLS or not. */
    ALWAYS_FORWARD
  }

  /**
   * The admin port.
   *
   * @param token the bearer token the admin API ({@code /api/...}) requires; null turns the API
   *     off ({@code /healthz}, {@code /readyz}, {@code /metrics} need none) unless a client
   *     certificate may stand in for it
   * @param tls HTTPS on the admin port, or null; with {@code clientCaFile}, a client
   *     certificate those CAs issued authorizes the admin API as the token does
   */
  public record Admin(String host, int port, String token, Tls tls) {
    public Admin(String host, int port) {
      this(host, port, null, null);
    }

    @Override
    public String toString() {
      return "Admin[host=" + host + ", port=" + port + ", token=" + (token == null ? "none"
          : "(set)") + ", tls=" + tls + "]";
    }
  }

  /**
   * Call metrics.
   *
   * @param latencyBuckets upper bounds of the latency histogram's buckets, ascending
   * @param maxMethods distinct service/method label pairs kept; calls to further methods are
   *     counted as {@code _other}
   */
  public record Metrics(List<Duration> latencyBuckets, int maxMethods) {
    public Metrics {
      latencyBuckets = List.copyOf(latencyBuckets);
    }

    /** The defaults: buckets from 1 ms to 60 s. */
    public static Metrics defaults() {
      return new Metrics(DEFAULT_BUCKETS, 2000);
    }

    public static final List<Duration> DEFAULT_BUCKETS = List.of(Duration.ofMillis(1),
        Duration.ofMillis(2), Duration.ofMillis(5), Duration.ofMillis(10), Duration.ofMillis(25),
        Duration.ofMillis(50), Duration.ofMillis(100), Duration.ofMillis(250),
        Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofMillis(2500),
        Duration.ofSeconds(5), Duration.ofSeconds(10), Duration.ofSeconds(30),
        Duration.ofSeconds(60));
  }

  /**
   * OpenTelemetry tracing: a server span per call, a client span per upstream attempt, exported
   * over OTLP/HTTP.
   *
   * @param serviceName the {@code service.name} of the gateway's spans
   * @param endpoint the OTLP/HTTP traces endpoint ({@code http://collector:4318/v1/traces}), or
   *     null to make spans and export them nowhere (to measure what tracing costs)
   * @param sampleRatio share of new traces recorded (a caller's sampled flag is followed)
   * @param exportInterval how often batches of spans are sent
   * @param maxQueuedSpans spans waiting for export at most; more are dropped
   */
  public record Tracing(String serviceName, java.net.URI endpoint, double sampleRatio,
      Duration exportInterval, int maxQueuedSpans) {}

  /**
   * The access log.
   *
   * @param path the file lines are appended to, or null for standard output
   * @param bufferEntries lines that may wait for the writer thread; more are dropped and counted
   */
  public record AccessLog(Path path, int bufferEntries) {}

  /**
   * Limits on what one client may make the gateway do.
   *
   * @param maxMessageBytes largest gRPC message the gateway holds whole, either way
   *     (RESOURCE_EXHAUSTED above it): REST and the web dialects, and native calls that go
   *     through grpc-java channels (routes that cache, fall back or hold calls; clusters with
   *     {@code streaming: false} or a health check)
   * @param maxConcurrentStreams HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS per connection
   * @param maxHeaderListBytes HTTP/2 SETTINGS_MAX_HEADER_LIST_SIZE (431 / RESOURCE_EXHAUSTED above)
   * @param streamWindowBytes HTTP/2 initial flow-control window per stream
   * @param connectionWindowBytes HTTP/2 flow-control window per connection: the most a client can
   *     have in flight towards the gateway on one connection (the HTTP/2 codec grants at least
   *     about twice the stream window)
   * @param maxRequestBodyBytes largest HTTP/1.1 request body
   * @param rapidReset defence against HTTP/2 rapid reset
   * @param connections how long connections may take and how many there may be
   * @param maxStreamedMessageBytes largest gRPC message of a native call streamed through
   *     (0: any size; its frames pass as they come and nothing is held whole)
   */
  public record Limits(
      int maxMessageBytes,
      int maxConcurrentStreams,
      int maxHeaderListBytes,
      int streamWindowBytes,
      int connectionWindowBytes,
      int maxRequestBodyBytes,
      RapidReset rapidReset,
      Connections connections,
      Overload overload,
      long maxStreamedMessageBytes) {}

  /**
   * The overload manager's watermarks: past {@code refuseAt} of a memory resource the gateway
   * opens no new connections or streams (REFUSED_STREAM, 503 with Retry-After) and reports
   * unready; past {@code resetAt} it also resets the streams holding the most buffered bytes.
   *
   * @param heap the heap in use after the last garbage collection, against the maximum heap
   * @param direct the direct memory held by the gateway's buffers, against the JVM's maximum
   * @param checkInterval how often memory is measured
   * @param budget the buffered bytes past which peers get no more flow-control window
   */
  public record Overload(Watermarks heap, Watermarks direct, Duration checkInterval,
      Budget budget) {
    /** Watermarks with no budget of buffered bytes. */
    public Overload(Watermarks heap, Watermarks direct, Duration checkInterval) {
      this(heap, direct, checkInterval, Budget.NONE);
    }
  }

  /**
   * The process's budget of buffered bytes: while the direct memory held by the gateway's
   * buffers is past {@code bytes}, HTTP/2 clients and backends get no more flow-control window
   * (backpressure, nothing fails); if it stays past it for {@code shedAfter}, the streams holding
   * the most are reset, as past {@code resetAt}.
   *
   * @param bytes the budget (a size, or a share of the JVM's direct memory limit); zero in both
   *     fields of the threshold for none
   * @param shedAfter how long the budget may stay reached before streams are reset; zero for
   *     never
   */
  public record Budget(Threshold bytes, Duration shedAfter) {
    /** No budget: grants are never held back. */
    public static final Budget NONE = new Budget(new Threshold(0, 0), Duration.ZERO);

    /** Whether there is a budget. */
    public boolean enabled() {
      return bytes.bytes() > 0 || bytes.fraction() > 0;
    }
  }

  /** A resource's two watermarks. */
  public record Watermarks(Threshold refuseAt, Threshold resetAt) {}

  /**
   * A watermark: a share of the resource's maximum ({@code fraction}, 0..1) or, when
   * {@code bytes} is positive, that many bytes.
   */
  public record Threshold(double fraction, long bytes) {
    /** The watermark in bytes for a resource of {@code max} bytes. */
    public long of(long max) {
      return bytes > 0 ? bytes : (long) (fraction * max);
    }

    @Override
    public String toString() {
      return bytes > 0 ? bytes + " bytes" : Math.round(fraction * 1000) / 10.0 + "%";
    }
  }

  /**
   * Time and count limits on client connections.
   *
   * @param requestHeadersTimeout a new connection must choose its protocol and send its first
   *     request's headers (HTTP/2: its preface) within this, and an HTTP/1.1 request's headers
   *     must be complete this long after its first byte; else the connection is closed
   * @param idleTimeout a connection with no request or stream in flight this long is closed
   *     (HTTP/2: GOAWAY, then close); zero for never
   * @param maxConnectionAge a connection this old is drained (HTTP/2: GOAWAY; HTTP/1.1: closed
   *     after its current answer), so that long-lived clients rebalance; zero for never
   * @param maxConnections client connections at most; more are closed as they arrive
   * @param maxConnectionsPerClient connections at most from one client address
   * @param settingsAckTimeout an HTTP/2 client must acknowledge the gateway's SETTINGS within
   *     this; else the connection gets GOAWAY (SETTINGS_TIMEOUT) and is closed
   * @param webSocketPingInterval a WebSocket quiet this long is pinged, and closed (1001) when
   *     as long again passes without a pong
   */
  public record Connections(Duration requestHeadersTimeout, Duration idleTimeout,
      Duration maxConnectionAge, int maxConnections, int maxConnectionsPerClient,
      AbuseBan abuseBan, Duration settingsAckTimeout, Duration webSocketPingInterval) {}

  /**
   * Refusing the new connections of a client address cut for abuse (rapid reset, MadeYouReset,
   * slowloris) again and again.
   *
   * @param afterCuts cuts within {@code within} that ban the address
   * @param initialBan the first ban; each further ban in a row doubles it
   * @param maxBan the longest ban; after a quiet time this long the address starts over
   * @param maxClients addresses remembered at most (least recently cut forgotten first)
   */
  public record AbuseBan(int afterCuts, Duration within, Duration initialBan, Duration maxBan,
      int maxClients) {}

  /**
   * A connection whose client resets at least {@code maxResetRatio} of its streams, each within
   * {@code minStreamLifetime} of opening it, is sent GOAWAY (ENHANCE_YOUR_CALM) and closed, once it
   * has opened {@code minStreams} streams.
   */
  public record RapidReset(int minStreams, double maxResetRatio, Duration minStreamLifetime) {}

  /**
   * Graceful shutdown on SIGTERM.
   *
   * @param readinessGrace how long {@code /readyz} reports unready before connections get GOAWAY
   * @param drainTimeout how long calls in flight may take to finish before they are cut
   */
  public record Shutdown(Duration readinessGrace, Duration drainTimeout) {}

  /**
   * Service discovery.
   *
   * @param etcdTls TLS to etcd (CAs and a client certificate), or null for cleartext
   * @param etcdEndpoints etcd client URLs for {@code etcd:///service} cluster targets; empty:
   *     the resolver's defaults ({@code -Dmeshgate.etcd.endpoints}, {@code MESHGATE_ETCD_ENDPOINTS},
   *     127.0.0.1:2379)
   */
  public record Discovery(List<String> etcdEndpoints, io.meshgate.resolver.EtcdTls etcdTls) {
    public Discovery {
      etcdEndpoints = List.copyOf(etcdEndpoints);
    }
  }

  /**
   * TLS (and, with a certificate, mTLS) from the gateway to a cluster's endpoints.
   *
   * @param caFile the certificates trusted for the endpoints, or null for the JVM's
   * @param certFile the gateway's client certificate (mTLS), or null
   * @param keyFile its key, with {@code certFile}
   * @param serverName sent as SNI and checked against the endpoints' certificates, or null for
   *     the endpoint's own host
   * @param subjectAltNames when not empty, an endpoint's certificate must carry one of these URI
   *     or DNS SANs (a trailing {@code *} matches any rest, e.g. {@code spiffe://corp/ns/pay/*})
   *     and its host name is not checked
   * @param minVersion {@code TLSv1.2} or {@code TLSv1.3}
   * @param provider whose TLS implementation handshakes
   */
  public record UpstreamTls(Path caFile, Path certFile, Path keyFile, String serverName,
      List<String> subjectAltNames, String minVersion, TlsProvider provider) {
    public UpstreamTls {
      subjectAltNames = List.copyOf(subjectAltNames);
    }
  }

  /**
   * An upstream cluster: one grpc-java channel (per event loop) to a target.
   *
   * @param name referenced by routes
   * @param target a grpc target URI: {@code etcd:///orders}, {@code static:///h:p,h:p},
   *     {@code dns:///host:port}, ...
   * @param lbPolicy grpc load-balancing policy name ({@code meshgate_weighted_round_robin},
   *     {@code round_robin}, {@code pick_first}, ...)
   * @param lbConfig the policy's config (as service config JSON: maps, lists, strings, doubles)
   * @param healthCheckService grpc.health.v1 service name to check on each endpoint ("" for the
   *     server as a whole), or null for no health checking
   * @param connectTimeout TCP connect timeout to one endpoint
   * @param etcdEndpoints for an {@code etcd:///service} target, the etcd endpoints of
   *     {@code discovery.etcd} (empty: the resolver's defaults, or the target's own)
   * @param tls TLS to the cluster's endpoints, or null for cleartext (h2c)
   * @param etcdTls for an {@code etcd:///service} target, TLS to etcd
   *     ({@code discovery.etcd.tls}), or null
   * @param streaming whether native gRPC calls to the cluster are streamed frame by frame over
   *     the gateway's own HTTP/2 connections (the default) rather than through grpc-java
   *     channels, message by message
   */
  public record Cluster(String name, String target, String lbPolicy, Map<String, ?> lbConfig,
      String healthCheckService, Duration connectTimeout, CircuitBreaker circuitBreaker,
      List<String> etcdEndpoints, UpstreamTls tls, io.meshgate.resolver.EtcdTls etcdTls,
      boolean streaming) {

    public Cluster {
      etcdEndpoints = List.copyOf(etcdEndpoints);
    }

    /** A cluster whose native gRPC calls are streamed over the gateway's own connections. */
    public Cluster(String name, String target, String lbPolicy, Map<String, ?> lbConfig,
        String healthCheckService, Duration connectTimeout, CircuitBreaker circuitBreaker,
        List<String> etcdEndpoints, UpstreamTls tls, io.meshgate.resolver.EtcdTls etcdTls) {
      this(name, target, lbPolicy, lbConfig, healthCheckService, connectTimeout, circuitBreaker,
          etcdEndpoints, tls, etcdTls, true);
    }

    /** The service config the cluster's channels start with. */
    public Map<String, ?> serviceConfig() {
      Map<String, Object> config = new LinkedHashMap<>();
      config.put("loadBalancingConfig", List.of(Map.of(lbPolicy, lbConfig)));
      if (healthCheckService != null) {
        config.put("healthCheckConfig", Map.of("serviceName", healthCheckService));
      }
      return config;
    }
  }

  /**
   * A route: calls that match go to a cluster.
   *
   * @param name for logs and metrics (defaults to {@code routes[i]})
   * @param match what calls the route takes
   * @param cluster the cluster's name
   * @param timeout deadline applied when the client sends none (null: none)
   * @param maxTimeout cap on the client's deadline (null: no cap)
   * @param rest how REST calls of this route are transcoded (null: the global settings)
   */
  public record Route(String name, Match match, String cluster, Duration timeout,
      Duration maxTimeout, RestOptions rest, RouteAuth auth, List<RateLimit> rateLimits,
      Retry retry, List<WeightedCluster> split, List<CanaryRule> canary, IpRules ipRules,
      Faults faults, Mirror mirror, Cache cache, Fallback fallback, Hedging hedging) {
    public Route {
      rateLimits = List.copyOf(rateLimits);
      split = List.copyOf(split);
      canary = List.copyOf(canary);
    }
  }

  /**
   * Which client addresses may call ({@code ipRules}, globally and per route): the first rule
   * whose CIDRs hold the client's address decides; an address no rule holds is let through
   * unless {@code denyOthers}.
   *
   * @param trustedHops proxies in front that append to {@code X-Forwarded-For} (0: the TCP peer
   *     is the client), as for rate limits
   */
  public record IpRules(int trustedHops, List<IpRule> rules, boolean denyOthers) {
    public IpRules {
      rules = List.copyOf(rules);
    }
  }

  /**
   * Injected faults of a route ({@code faults}), off unless configured.
   *
   * @param abortPercent share of calls (0-100) answered with {@code abortStatus} instead of
   *     being sent upstream
   * @param abortStatus the gRPC status of an aborted call (REST: its HTTP status)
   * @param delayPercent share of calls held for {@code delay} before they go upstream (their
   *     deadline runs meanwhile)
   * @param headerControl whether a call's {@code x-meshgate-fault-abort: CODE} and
   *     {@code x-meshgate-fault-delay: DURATION} headers inject the fault into that call
   */
  public record Faults(double abortPercent, io.grpc.Status.Code abortStatus, double delayPercent,
      Duration delay, boolean headerControl) {}

  /**
   * Copies of a route's calls sent to another cluster ({@code mirror}), their answers discarded.
   *
   * @param percent share of calls (0-100) mirrored
   * @param maxInFlight mirrored calls at most at once; beyond it a copy is dropped (counted)
   */
  public record Mirror(String cluster, double percent, int maxInFlight) {}

  /**
   * Responses of a route's read-only calls kept and answered again ({@code cache}): unary
   * methods whose {@code idempotency_level} is {@code NO_SIDE_EFFECTS}, or REST {@code GET}s.
   *
   * @param ttl how long an answer is fresh (a backend's {@code Cache-Control: max-age} may
   *     shorten it)
   * @param maxBytes the route's cache at most, counting keys and answers (least recently used
   *     evicted)
   * @param maxEntryBytes a larger answer is not kept
   * @param keyHeaders request headers (lower case) whose values are part of the key
   * @param keyClaims verified JWT claims whose values are part of the key
   * @param keySubject whether the key holds the verified token's subject: without it a call
   *     that carries credentials is never cached
   */
  public record Cache(Duration ttl, long maxBytes, long maxEntryBytes, List<String> keyHeaders,
      List<String> keyClaims, boolean keySubject) {
    public Cache {
      keyHeaders = List.copyOf(keyHeaders);
      keyClaims = List.copyOf(keyClaims);
    }
  }

  /**
   * What a route answers when its backend cannot ({@code fallback}).
   *
   * @param onBreaker when the cluster's breaker is open
   * @param onTimeout when the upstream deadline passes
   * @param onCodes when the backend (or the gateway's attempt to reach it) ends with one of
   *     these; empty: never for a status
   * @param staleIfError how old a cached answer may be and still be given instead (the route's
   *     {@code cache} keeps answers that long past their TTL); null: no stale answers
   * @param message the response message as JSON, encoded through the loaded descriptors; null
   *     when the fallback is a status
   * @param status the status of a status fallback (OK with a message)
   * @param description the status's message
   * @param headers response headers (metadata) added to the fallback answer
   */
  public record Fallback(boolean onBreaker, boolean onTimeout, java.util.Set<io.grpc.Status.Code>
      onCodes, Duration staleIfError, String message, io.grpc.Status.Code status,
      String description, Map<String, String> headers) {
    public Fallback {
      onCodes = java.util.Set.copyOf(onCodes);
      headers = Map.copyOf(headers);
    }

    /** Whether anything is answered besides a stale cached response. */
    public boolean hasResponse() {
      return message != null || status != io.grpc.Status.Code.OK;
    }
  }

  /**
   * Hedged requests ({@code hedging}, gRPC's {@code hedgingPolicy}): another attempt every
   * {@code delay} until one answers, the first answer wins and the others are cancelled.
   *
   * @param maxAttempts attempts at most, the first included
   * @param delay between attempts (0: all at once)
   * @param nonFatalCodes an attempt ending with one of these lets the next start at once;
   *     any other status ends the call with it
   * @param nonIdempotent whether methods not marked {@code IDEMPOTENT} or {@code
   *     NO_SIDE_EFFECTS} are hedged too
   * @param bufferBytes request bytes kept for later attempts; beyond it no more start
   */
  public record Hedging(int maxAttempts, Duration delay, java.util.Set<io.grpc.Status.Code>
      nonFatalCodes, boolean nonIdempotent, int bufferBytes, double budgetRatio,
      int budgetMinPerSecond) {
    public Hedging {
      nonFatalCodes = java.util.Set.copyOf(nonFatalCodes);
    }
  }

  /** One rule: {@code allow} or deny the addresses in {@code cidrs} (IPv4 and IPv6). */
  public record IpRule(boolean allow, List<String> cidrs) {
    public IpRule {
      cidrs = List.copyOf(cidrs);
    }
  }

  /** A share of a route's calls: {@code weight} out of the sum of the split's weights. */
  public record WeightedCluster(String cluster, int weight) {}

  /**
   * Calls whose request header (or verified JWT claim) has {@code value} go to {@code cluster},
   * before any weighted split.
   *
   * @param header a request header / metadata name (lower case), or null
   * @param claim a JWT claim name, or null
   */
  public record CanaryRule(String header, String claim, String value, String cluster) {}

  /**
   * A cluster's circuit breaker (resilience4j): it opens when, over the sliding window, the
   * share of failed or slow calls reaches its threshold; while open, calls fail at once with
   * UNAVAILABLE; after {@code openDuration} a few probe calls decide whether it closes again.
   *
   * @param failureRateThreshold percent of failed calls that opens it
   * @param slowCallRateThreshold percent of slow calls that opens it (100: only when all are)
   * @param slowCallDuration calls longer than this are slow
   * @param timeWindow whether the window is {@code windowSize} seconds (true) or calls (false)
   * @param windowSize calls or seconds in the sliding window
   * @param minimumCalls calls the window needs before rates count
   * @param openDuration how long it stays open before probing
   * @param halfOpenCalls probe calls let through while half-open
   * @param failureCodes gRPC status codes that count as failures
   */
  public record CircuitBreaker(float failureRateThreshold, float slowCallRateThreshold,
      Duration slowCallDuration, boolean timeWindow, int windowSize, int minimumCalls,
      Duration openDuration, int halfOpenCalls, java.util.Set<io.grpc.Status.Code> failureCodes) {
    public CircuitBreaker {
      failureCodes = java.util.Set.copyOf(failureCodes);
    }
  }

  /**
   * Retries of a route's calls that fail before any response reached the client.
   *
   * @param codes statuses that are retried
   * @param maxAttempts attempts in all, the first included
   * @param initialBackoff the first retry waits a random time up to this
   * @param maxBackoff cap on the wait
   * @param backoffMultiplier growth of the wait per retry
   * @param perTryTimeout deadline of each attempt (the call's deadline covers all); null for
   *     none. An attempt that runs out of it is retried.
   * @param bufferBytes request bytes kept for replay; a call that sends more is not retried
   * @param budgetRatio retries allowed per call, over a 10 s window
   * @param budgetMinPerSecond retries allowed per second regardless of traffic
   */
  public record Retry(java.util.Set<io.grpc.Status.Code> codes, int maxAttempts,
      Duration initialBackoff, Duration maxBackoff, double backoffMultiplier,
      Duration perTryTimeout, int bufferBytes, double budgetRatio, int budgetMinPerSecond) {
    public Retry {
      codes = java.util.Set.copyOf(codes);
    }
  }

  /**
   * A token-bucket rate limit of a route.
   *
   * @param name for messages and metrics
   * @param key what gets a bucket of its own: {@code clientIp}, {@code route} (one bucket),
   *     {@code header}, {@code claim}
   * @param keyName the header (lower case) or claim name; null for the others
   * @param trustedHops for {@code clientIp}: proxies in front of the gateway that append to
   *     {@code X-Forwarded-For} (0: the TCP peer is the client)
   * @param permitsPerSecond refill rate
   * @param burst bucket size
   * @param maxKeys buckets kept at most (least recently used evicted)
   * @param global counted in the shared store ({@code scope: global}), or null for a bucket of
   *     this gateway's own ({@code scope: local})
   */
  public record RateLimit(String name, String key, String keyName, int trustedHops,
      double permitsPerSecond, long burst, int maxKeys, GlobalLimit global) {
    /** A local limit. */
    public RateLimit(String name, String key, String keyName, int trustedHops,
        double permitsPerSecond, long burst, int maxKeys) {
      this(name, key, keyName, trustedHops, permitsPerSecond, burst, maxKeys, null);
    }
  }

  /**
   * How a {@code scope: global} rate limit uses the shared store ({@code ratelimit.redis}).
   *
   * @param onStoreFailure what a call gets when the store does not answer in time
   * @param timeout how long a call waits for the store before {@code onStoreFailure} decides
   * @param batch tokens reserved from the store at once; those left over serve this gateway's
   *     next calls of the key without asking the store (never more calls than the store granted;
   *     reserved tokens unused within their lease are lost)
   */
  public record GlobalLimit(OnStoreFailure onStoreFailure, Duration timeout, int batch) {}

  /** What a global rate limit does while its store is down or slow. */
  public enum OnStoreFailure {
    /** Admit the call. */
    ALLOW,
    /** Refuse it (RESOURCE_EXHAUSTED / 429). */
    DENY,
    /** Count it in a bucket of this gateway at the rule's rate divided by the fleet size. */
    LOCAL
  }

  /**
   * The shared store of global rate limits ({@code ratelimit.redis}).
   *
   * @param addresses {@code host:port} of the Redis server (standalone: one)
   * @param password the Redis password ({@code password} or {@code passwordFile}), or null
   * @param database the Redis database number
   * @param keyPrefix prefixed to every bucket's key (gateways sharing it share the buckets)
   * @param fleetSize how many gateways share the limits: {@code onStoreFailure: local} divides
   *     each rule's rate by it
   */
  public record RateLimitStore(List<String> addresses, String password, int database,
      String keyPrefix, int fleetSize, String sentinelMaster, String sentinelPassword,
      UpstreamTls tls, Duration timeout) {
    public RateLimitStore {
      addresses = List.copyOf(addresses);
    }

    /** A standalone server without TLS. */
    public RateLimitStore(List<String> addresses, String password, int database,
        String keyPrefix, int fleetSize) {
      this(addresses, password, database, keyPrefix, fleetSize, null, null, null,
          Duration.ofMillis(20));
    }

    @Override
    public String toString() {
      return "RateLimitStore[" + (sentinelMaster == null ? "" : "Sentinel master "
          + sentinelMaster + " via ") + addresses + ", database " + database + ", prefix "
          + keyPrefix + (password == null ? "" : ", with a password")
          + (tls == null ? "" : ", over TLS") + "]";
    }
  }

  /**
   * Who may call a route. A route without one is public.
   *
   * @param providers names of the JWT providers whose tokens are accepted (any one)
   * @param requireScopes scopes the token must grant (claim {@code scope}, space separated, or
   *     {@code scp}, a list), all of them
   * @param requireClaims claims the token must carry with these values (a list claim must
   *     contain the value)
   * @param forwardAuthorization whether the {@code authorization} header still goes upstream
   * @param principals when not empty, the client's TLS certificate must carry a URI or DNS SAN
   *     matching one of these ({@code spiffe://corp.example/ns/web/*}; a trailing {@code *}
   *     matches any rest)
   * @param requiresToken whether a JWT is required (false for a route that admits by
   *     certificate only: {@code auth: {principals: [...]}})
   */
  public record RouteAuth(List<String> providers, List<String> requireScopes,
      Map<String, String> requireClaims, boolean forwardAuthorization, List<String> principals,
      boolean requiresToken) {
    public RouteAuth {
      providers = List.copyOf(providers);
      requireScopes = List.copyOf(requireScopes);
      requireClaims = Map.copyOf(requireClaims);
      principals = List.copyOf(principals);
    }
  }

  /**
   * A JWT issuer the gateway trusts. Exactly one key source is set: a JWKS file, a JWKS URL,
   * a PEM public key, or an HMAC secret.
   *
   * @param issuer the required {@code iss}, or null for any
   * @param audiences accepted {@code aud} values (one must match); empty for any
   * @param jwksFile a JSON Web Key Set file, re-read every refreshInterval
   * @param jwksUrl an HTTPS (or, on loopback, HTTP) URL of a JSON Web Key Set
   * @param caFile PEM CA certificates that the JWKS URL's server is checked against; null for
   *     the JVM's default trust store
   * @param refreshInterval how often the key set is re-read
   * @param minRefreshInterval the shortest time between two refreshes that tokens with an
   *     unknown key id trigger
   * @param fetchTimeout how long a JWKS fetch may take
   * @param publicKeyFile a PEM public key (RSA, EC or Ed25519)
   * @param secret an HMAC secret (HS256/384/512 are accepted only with one)
   * @param clockSkew tolerance for {@code exp}, {@code nbf} and {@code iat}
   * @param from where tokens are looked for, in order
   * @param forwardClaims claims sent upstream as metadata: claim name to header name
   * @param maxTokenBytes longer tokens are rejected unread
   */
  public record JwtProvider(String name, String issuer, List<String> audiences, Path jwksFile,
      java.net.URI jwksUrl, Path caFile, Duration refreshInterval, Duration minRefreshInterval,
      Duration fetchTimeout, Path publicKeyFile, byte[] secret, Duration clockSkew,
      List<TokenSource> from, Map<String, String> forwardClaims, int maxTokenBytes) {
    public JwtProvider {
      audiences = List.copyOf(audiences);
      from = List.copyOf(from);
      forwardClaims = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(forwardClaims));
    }
  }

  /**
   * Where a token is found.
   *
   * @param kind {@code header}, {@code query} (REST only) or {@code cookie}
   * @param name the header, parameter or cookie name (headers lower case)
   * @param prefix what precedes the token in a header value ({@code "Bearer "}), matched
   *     without regard to case; empty for none
   */
  public record TokenSource(String kind, String name, String prefix) {
    /** {@code Authorization: Bearer <token>}. */
    public static final TokenSource BEARER = new TokenSource("header", "authorization",
        "Bearer ");
  }

  /**
   * Per-route transcoding settings.
   *
   * @param json how responses print
   * @param ignoreUnknownQueryParameters drop query parameters that are not request fields
   *     instead of answering 400
   */
  public record RestOptions(JsonOptions json, boolean ignoreUnknownQueryParameters) {}

  /**
   * REST/JSON transcoding.
   *
   * @param descriptorFiles {@code FileDescriptorSet} files ({@code protoc --include_imports
   *     --descriptor_set_out})
   * @param reflection upstream clusters whose gRPC server reflection supplies descriptors
   * @param watchInterval how often descriptor files are checked for changes (zero: never)
   * @param rest the global JSON and query-parameter settings
   * @param forwardHeaders request headers forwarded as metadata besides the built-in ones
   *     ({@code authorization}, {@code x-forwarded-*}, {@code traceparent}, {@code tracestate},
   *     {@code grpc-metadata-*}), lower case
   * @param serveReflection whether the gateway answers gRPC server reflection itself, for the
   *     services it routes and has descriptors of
   * @param cors cross-origin settings for browsers, or null for none
   * @param serveOpenApi whether the main port answers {@code GET /openapi.json} and
   *     {@code /openapi.yaml} with the REST API of the methods the routes take
   */
  public record Transcoding(List<Path> descriptorFiles, List<ReflectionSource> reflection,
      Duration watchInterval, RestOptions rest, List<String> forwardHeaders,
      boolean serveReflection, Cors cors, boolean serveOpenApi) {
    public Transcoding {
      descriptorFiles = List.copyOf(descriptorFiles);
      reflection = List.copyOf(reflection);
      forwardHeaders = List.copyOf(forwardHeaders);
    }

    /** No descriptors: every REST request is an unknown route. */
    public static Transcoding none() {
      return new Transcoding(List.of(), List.of(), Duration.ZERO,
          new RestOptions(JsonOptions.DEFAULT, false), List.of(), true, null, false);
    }

    /** Whether any descriptor source is configured. */
    public boolean enabled() {
      return !descriptorFiles.isEmpty() || !reflection.isEmpty();
    }
  }

  /**
   * Descriptors fetched from an upstream's server reflection ({@code grpc.reflection.v1}, or
   * {@code v1alpha} for older servers).
   *
   * @param cluster the cluster asked
   * @param services the services to load; empty: every service the server lists
   * @param refreshInterval how often they are fetched again (zero: only at start and, until
   *     that succeeds, on retries)
   */
  public record ReflectionSource(String cluster, List<String> services,
      Duration refreshInterval) {
    public ReflectionSource {
      services = List.copyOf(services);
    }
  }

  /**
   * Cross-origin resource sharing for REST routes.
   *
   * @param allowOrigins origins allowed ({@code https://app.example.com}, {@code
   *     https://*.example.com}, or {@code *} for any)
   * @param allowMethods methods a preflight may allow; empty: those of the matched path
   * @param allowHeaders request headers a preflight may allow; empty: those the browser asks
   *     for
   * @param exposeHeaders response headers scripts may read
   * @param maxAge how long browsers may cache a preflight answer
   * @param allowCredentials whether cookies and credentials may be sent
   */
  public record Cors(List<String> allowOrigins, List<String> allowMethods,
      List<String> allowHeaders, List<String> exposeHeaders, Duration maxAge,
      boolean allowCredentials) {
    public Cors {
      allowOrigins = List.copyOf(allowOrigins);
      allowMethods = List.copyOf(allowMethods);
      allowHeaders = List.copyOf(allowHeaders);
      exposeHeaders = List.copyOf(exposeHeaders);
    }
  }

  /**
   * What a route matches: a gRPC service (exactly or by prefix), optionally one method and one
   * of a list of {@code :authority} hosts ({@code *.example.com} wildcards allowed).
   */
  public record Match(String service, String servicePrefix, String method,
      List<String> authorities) {
    public Match {
      authorities = List.copyOf(authorities);
    }
  }
}
