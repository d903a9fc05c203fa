package io.meshgate.gateway.ratelimit;

import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.DefaultClientResources;
import io.meshgate.gateway.config.GatewayConfig;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.logging.Logger;

/**
 * The token buckets of global rate limits, in Redis: one Lua script ({@code EVALSHA}, loaded on
 * first use) refills a bucket by the time Redis itself reports and takes up to n tokens from it
 * atomically, and lets the bucket's key expire once it would be full again. The client is
 * Lettuce's, asynchronous, on event loops of its own (one thread); while Redis is unreachable it
 * refuses commands at once instead of queueing them (reconnecting in the background), so a
 * gateway never piles calls up behind a dead store; a first connection that fails is tried
 * again at most once a second. Thread-safe.
 */
public final class RedisStore implements AutoCloseable {
  private static final Logger logger = Logger.getLogger(RedisStore.class.getName());

  /**
   * KEYS[1] the bucket; ARGV rate (tokens per second), burst, tokens wanted. Returns the tokens
   * granted, the milliseconds until one more is there (when none was granted), and the whole
   * tokens left.
   */
  static final String SCRIPT = """
      local rate = tonumber(ARGV[1])
      local burst = tonumber(ARGV[2])
      local want = tonumber(ARGV[3])
      local t = redis.call('TIME')
      local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
      local state = redis.call('HMGET', KEYS[1], 't', 'v')
      local last = tonumber(state[1])
      local tokens = tonumber(state[2])
      if last == nil or tokens == nil then
        last = now
        tokens = burst
      end
      if now > last then
        tokens = math.min(burst, tokens + (now - last) * rate / 1000)
      end
      local granted = math.min(want, math.floor(tokens))
      tokens = tokens - granted
      redis.call('HSET', KEYS[1], 't', now, 'v', tostring(tokens))
      redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) * 1000 / rate) + 1000)
      local wait = 0
      if granted == 0 then
        wait = math.ceil((1 - tokens) * 1000 / rate)
      end
      return {granted, wait, math.floor(tokens)}
      """;
  private static final String SHA = sha1(SCRIPT);

  /** What the store granted: tokens, and for none the wait for the next one. */
  public record Grant(long granted, long waitMillis, long remaining) {}

  private final GatewayConfig.RateLimitStore config;
  private final ClientResources resources;
  private final RedisURI uri;
  private final RedisClient client;
  private volatile CompletableFuture<StatefulRedisConnection<String, String>> connection;
  private volatile long failedAtNanos; // of the last first-connection attempt that failed
  private volatile long loggedAtNanos = System.nanoTime() - LOG_EVERY_NANOS;
  private static final long RETRY_CONNECT_NANOS = 1_000_000_000L;
  private static final long LOG_EVERY_NANOS = 10_000_000_000L;

  /** A store for {@code config}; it connects on first use. */
  public RedisStore(GatewayConfig.RateLimitStore config) {
    this.config = config;
    this.resources = DefaultClientResources.builder().ioThreadPoolSize(1)
        .computationThreadPoolSize(1).build();
    RedisURI.Builder uri;
    if (config.sentinelMaster() == null) {
      HostPort server = HostPort.of(config.addresses().get(0));
      uri = RedisURI.builder().withHost(server.host()).withPort(server.port());
    } else {
      // Sentinel: the Sentinels say which server is the master, and again after a failover.
      uri = RedisURI.builder().withSentinelMasterId(config.sentinelMaster());
      for (String address : config.addresses()) {
        HostPort sentinel = HostPort.of(address);
        RedisURI.Builder one = RedisURI.builder().withHost(sentinel.host())
            .withPort(sentinel.port()).withSsl(config.tls() != null);
        if (config.sentinelPassword() != null) {
          one.withPassword(config.sentinelPassword().toCharArray());
        }
        uri.withSentinel(one.build());
      }
    }
    uri.withDatabase(config.database()).withTimeout(Duration.ofSeconds(5));
    if (config.tls() != null) {
      uri.withSsl(true).withVerifyPeer(io.lettuce.core.SslVerifyMode.FULL);
    }
    if (config.password() != null) {
      uri.withPassword(config.password().toCharArray());
    }
    this.uri = uri.build();
    this.client = RedisClient.create(resources);
    client.setOptions(ClientOptions.builder()
        .autoReconnect(true)
        .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
        .requestQueueSize(10_000)
        .socketOptions(SocketOptions.builder().connectTimeout(Duration.ofSeconds(1)).build())
        .timeoutOptions(TimeoutOptions.enabled(Duration.ofSeconds(5)))
        .sslOptions(sslOptions(config.tls()))
        .build());
    // Connected and the script loaded before the first call needs them: a first call should
    // not spend its rule's timeout (20 ms by default) on a TCP handshake and a script upload.
    connection().thenCompose(c -> c.async().scriptLoad(SCRIPT))
        .exceptionally(e -> null); // a store that is down is retried by the calls
  }

  /** What went wrong, with the innermost cause (a TLS handshake's reason, a refused port). */
  private static String reason(Throwable e) {
    Throwable root = e;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    return root == e ? e.getMessage() : e.getMessage() + " (" + root + ")";
  }

  private record HostPort(String host, int port) {
    static HostPort of(String address) {
      int colon = address.lastIndexOf(':');
      return new HostPort(address.substring(0, colon),
          Integer.parseInt(address.substring(colon + 1)));
    }
  }

  /**
   * TLS to Redis: the CA that signed its certificate, and the gateway's certificate when Redis
   * asks for one ({@code tls-auth-clients yes}). The files are read again for each new
   * connection, so rotated ones take effect on the next reconnect.
   */
  private static io.lettuce.core.SslOptions sslOptions(GatewayConfig.UpstreamTls tls) {
    if (tls == null) {
      return io.lettuce.core.SslOptions.create();
    }
    io.lettuce.core.SslOptions.Builder ssl = io.lettuce.core.SslOptions.builder().jdkSslProvider()
        .protocols(tls.minVersion().equals("TLSv1.3") ? new String[] {"TLSv1.3"}
            : new String[] {"TLSv1.3", "TLSv1.2"});
    if (tls.caFile() != null) {
      ssl.trustManager(tls.caFile().toFile());
    }
    if (tls.certFile() != null) {
      ssl.keyManager(tls.certFile().toFile(), tls.keyFile().toFile(), null);
    }
    return ssl.build();
  }

  /** The configuration this store was made for. */
  public GatewayConfig.RateLimitStore config() {
    return config;
  }

  private CompletionStage<StatefulRedisConnection<String, String>> connection() {
    CompletableFuture<StatefulRedisConnection<String, String>> current = connection;
    if (current == null || current.isCompletedExceptionally()) {
      synchronized (this) {
        current = connection;
        boolean retry = current == null || (current.isCompletedExceptionally()
            && System.nanoTime() - failedAtNanos > RETRY_CONNECT_NANOS);
        if (retry) {
          current = connect();
          connection = current;
        }
      }
    }
    return current;
  }

  /**
   * Connects once; Lettuce reconnects that connection by itself. A first connection that fails
   * is tried again by the next call.
   */
  private CompletableFuture<StatefulRedisConnection<String, String>> connect() {
    String address = config.addresses().get(0);
    CompletableFuture<StatefulRedisConnection<String, String>> connecting =
        client.connectAsync(StringCodec.UTF8, uri).toCompletableFuture();
    connecting.whenComplete((c, e) -> {
      if (e != null) {
        long now = System.nanoTime();
        failedAtNanos = now;
        if (now - loggedAtNanos > LOG_EVERY_NANOS) {
          loggedAtNanos = now;
          logger.warning("cannot reach the rate-limit store " + address + ": " + reason(e)
              + " (global limits decide by their onStoreFailure until it answers; tried again"
              + " at most once a second, logged at most every 10 s)");
        }
      }
    });
    return connecting;
  }

  /**
   * Takes up to {@code want} tokens from the bucket {@code key} (prefixed), refilled at
   * {@code perSecond} up to {@code burst}. Completes on one of Lettuce's threads, or
   * exceptionally when Redis cannot be reached.
   */
  public CompletionStage<Grant> take(String key, double perSecond, long burst, int want) {
    String[] keys = {config.keyPrefix() + key};
    String[] args = {Double.toString(perSecond), Long.toString(burst), Integer.toString(want)};
    return connection().thenCompose(c -> c.async().<List<Object>>evalsha(SHA,
            ScriptOutputType.MULTI, keys, args).toCompletableFuture()
        .exceptionallyCompose(e -> {
          Throwable cause = e instanceof java.util.concurrent.CompletionException
              && e.getCause() != null ? e.getCause() : e;
          if (cause instanceof RedisNoScriptException) {
            // First use on this server (or after a restart): EVAL loads it for the next EVALSHA.
            return c.async().<List<Object>>eval(SCRIPT, ScriptOutputType.MULTI, keys, args)
                .toCompletableFuture();
          }
          return CompletableFuture.failedFuture(cause);
        }))
        .thenApply(reply -> new Grant(((Number) reply.get(0)).longValue(),
            ((Number) reply.get(1)).longValue(), ((Number) reply.get(2)).longValue()));
  }

  private static String sha1(String text) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-1")
          .digest(text.getBytes(StandardCharsets.UTF_8)));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public void close() {
    CompletableFuture<StatefulRedisConnection<String, String>> current = connection;
    if (current != null) {
      current.thenAccept(StatefulRedisConnection::closeAsync);
    }
    client.shutdownAsync(0, 2, java.util.concurrent.TimeUnit.SECONDS);
    resources.shutdown(0, 2, java.util.concurrent.TimeUnit.SECONDS);
  }
}
