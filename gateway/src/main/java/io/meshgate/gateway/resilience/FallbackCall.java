package io.meshgate.gateway.resilience;

import io.grpc.Attributes;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.Status;
import io.meshgate.gateway.config.GatewayConfig;
import java.util.Locale;
import java.util.concurrent.Executor;
import java.util.function.Supplier;

/**
 * A route's call with its {@code cache} and {@code fallback}: a fresh cached answer is given
 * without going upstream; a miss goes upstream and a good answer is kept; and when the upstream
 * call fails by one of the fallback's triggers before anything reached the client, the client
 * gets a stale cached answer ({@code staleIfError}) or the configured one instead, marked with
 * {@code x-meshgate-fallback: breaker|timeout|status}.
 *
 * <p>For a call with one response message the response headers are held until the message (or
 * the end) comes, so that a failure can still be answered otherwise; streamed responses pass at
 * once, and fall back only when they fail before their headers. The upstream call starts when
 * the request is known (the cache needs its bytes) or at once when the call is not cached.
 *
 * <p>Only on the call's event loop, like the call it wraps.
 */
public final class FallbackCall<ReqT, RespT> extends ClientCall<ReqT, RespT> {
  /** The marker of an answer the backend did not give. */
  public static final Metadata.Key<String> FALLBACK =
      Metadata.Key.of("x-meshgate-fallback", Metadata.ASCII_STRING_MARSHALLER);
  /** The marker of an answer from the cache: {@code hit} or {@code stale}. */
  public static final Metadata.Key<String> CACHE =
      Metadata.Key.of("x-meshgate-cache", Metadata.ASCII_STRING_MARSHALLER);
  private static final Metadata.Key<String> AGE =
      Metadata.Key.of("age", Metadata.ASCII_STRING_MARSHALLER);
  private static final Metadata.Key<String> CACHE_CONTROL =
      Metadata.Key.of("cache-control", Metadata.ASCII_STRING_MARSHALLER);

  /** What becomes of calls, for the route's counters. */
  public interface Outcomes {
    /** A cache lookup: {@code hit}, {@code miss} or {@code bypass} (the client said no-cache). */
    void cache(String result);

    /**
     * A fallback given.
     *
     * @param trigger {@code breaker}, {@code timeout} or {@code status}
     * @param answer {@code stale} or {@code static}
     */
    void fallback(String trigger, String answer);
  }

  /**
   * A route's cache and fallback, for every call of one configuration.
   *
   * @param cache the route's cache, or null
   * @param settings the route's cache settings, or null
   * @param fallback the route's fallback, or null
   */
  public record Plan(ResponseCache cache, GatewayConfig.Cache settings,
      GatewayConfig.Fallback fallback, Outcomes outcomes) {
    /** How long a kept answer is fresh at most. */
    long ttlNanos() {
      return settings == null ? 0 : settings.ttl().toNanos();
    }
  }

  /**
   * The configured fallback message encoded for one call's method, or why it could not be.
   *
   * @param message the response message's bytes, or null
   * @param problem why there is none although one is configured, or null
   */
  public record Answer(byte[] message, String problem) {
    public static final Answer NONE = new Answer(null, null);
  }

  private final Plan plan;
  private final String keyBase;
  private final boolean lookup;
  private final boolean store;
  private final long clientMaxAgeNanos;
  private final Answer answer;
  private final boolean unaryResponse;
  private final Supplier<ClientCall<ReqT, RespT>> upstreamCall;
  private final io.meshgate.gateway.resilience.RetryPolicy.Replay<ReqT> requests;
  private final io.meshgate.gateway.resilience.RetryPolicy.Replay<RespT> responses;
  private final Executor loop;

  // Only on the call's event loop.
  private Listener<RespT> listener;
  private Metadata headers;
  private ClientCall<ReqT, RespT> upstream;
  private byte[] requestBytes;
  private ResponseCache.Key key;
  private int requested;
  private boolean halfClosed;
  private boolean closed;
  private Boolean compression;
  private Metadata heldHeaders;
  private boolean responseStarted;
  private Metadata storeHeaders;
  private byte[] storeMessage;
  private boolean tooLarge;
  private boolean answeredLocally;
  // A local answer waiting for the client to request its message.
  private byte[] pendingMessage;
  private Status pendingStatus;
  private Metadata pendingTrailers;

  /**
   * @param keyBase the method and key values when the call may be cached (a unary read-only
   *     call the route caches, carrying no credentials the key leaves out); null when not
   * @param clientCacheControl the request's {@code cache-control}, or null
   * @param answer the fallback's message for this method
   * @param unaryResponse whether the method answers one message
   * @param upstreamCall starts the call to the backend (retries and breaker included)
   * @param loop the call's event loop
   */
  public FallbackCall(Plan plan, String keyBase, String clientCacheControl, Answer answer,
      boolean unaryResponse, Supplier<ClientCall<ReqT, RespT>> upstreamCall,
      RetryPolicy.Replay<ReqT> requests, RetryPolicy.Replay<RespT> responses, Executor loop) {
    this.plan = plan;
    this.answer = answer;
    this.unaryResponse = unaryResponse;
    this.upstreamCall = upstreamCall;
    this.requests = requests;
    this.responses = responses;
    this.loop = loop;
    boolean cached = keyBase != null && plan.cache() != null;
    String directives = clientCacheControl == null ? ""
        : clientCacheControl.toLowerCase(Locale.ROOT);
    boolean noStore = directives.contains("no-store");
    this.keyBase = cached ? keyBase : null;
    this.lookup = cached && !noStore && !directives.contains("no-cache");
    this.store = cached && !noStore;
    this.clientMaxAgeNanos = maxAgeNanos(directives, "max-age=");
  }

  /** Whether the client's answer came from the cache or the fallback, not the backend. */
  public boolean answeredLocally() {
    return answeredLocally;
  }

  @Override
  public void start(Listener<RespT> listener, Metadata headers) {
    this.listener = listener;
    this.headers = headers;
    if (keyBase != null && lookup) {
      return; // the request decides: a hit never goes upstream
    }
    if (keyBase != null) {
      plan.outcomes().cache("bypass");
    }
    startUpstream();
  }

  private void startUpstream() {
    upstream = upstreamCall.get();
    upstream.start(new UpstreamListener(), headers);
    if (compression != null) {
      upstream.setMessageCompression(compression);
    }
    if (requested > 0) {
      upstream.request(requested);
    }
  }

  @Override
  public void request(int numMessages) {
    requested += numMessages;
    if (upstream != null) {
      upstream.request(numMessages);
    } else if (pendingStatus != null) {
      deliverPending();
    }
  }

  @Override
  public void sendMessage(ReqT message) {
    if (keyBase != null && requestBytes == null) {
      requestBytes = requests.save(message);
      key = new ResponseCache.Key(keyBase, requestBytes);
    }
    if (upstream != null) {
      upstream.sendMessage(message);
    }
  }

  @Override
  public void halfClose() {
    halfClosed = true;
    if (upstream != null) {
      upstream.halfClose();
      return;
    }
    if (closed) {
      return;
    }
    ResponseCache.Entry entry = key == null ? null : plan.cache().get(key);
    long now = System.nanoTime();
    if (entry != null && entry.fresh(now, clientMaxAgeNanos)) {
      plan.outcomes().cache("hit");
      // Not inside the caller's halfClose: the answer comes as the backend's would, later.
      loop.execute(() -> answerFromCache(entry, "hit", null));
      return;
    }
    plan.outcomes().cache("miss");
    startUpstream();
    if (requestBytes != null) {
      upstream.sendMessage(requests.restore(requestBytes));
    }
    upstream.halfClose();
  }

  @Override
  public void cancel(String message, Throwable cause) {
    if (upstream != null && !answeredLocally) {
      upstream.cancel(message, cause);
      return;
    }
    if (!closed && listener != null) {
      closed = true;
      pendingStatus = null;
      Status status = Status.CANCELLED.withDescription(message).withCause(cause);
      loop.execute(() -> listener.onClose(status, new Metadata()));
    }
  }

  @Override
  public boolean isReady() {
    return upstream == null ? !halfClosed : upstream.isReady();
  }

  @Override
  public void setMessageCompression(boolean enabled) {
    compression = enabled;
    if (upstream != null) {
      upstream.setMessageCompression(enabled);
    }
  }

  @Override
  public Attributes getAttributes() {
    return upstream == null ? Attributes.EMPTY : upstream.getAttributes();
  }

  // ---- Answers the backend did not give ------------------------------------------------------

  private void answerFromCache(ResponseCache.Entry entry, String kind, String trigger) {
    if (closed) {
      return;
    }
    answeredLocally = true;
    Metadata responseHeaders = new Metadata();
    responseHeaders.merge(entry.headers());
    responseHeaders.put(CACHE, kind);
    responseHeaders.put(AGE, Long.toString(entry.ageSeconds(System.nanoTime())));
    if (trigger != null) {
      responseHeaders.put(FALLBACK, trigger);
    }
    Metadata trailers = new Metadata();
    trailers.merge(entry.trailers());
    listener.onHeaders(responseHeaders);
    answerLater(entry.message(), Status.OK, trailers);
  }

  private void answerStatic(String trigger) {
    answeredLocally = true;
    GatewayConfig.Fallback fallback = plan.fallback();
    Metadata extra = new Metadata();
    fallback.headers().forEach((name, value) ->
        extra.put(Metadata.Key.of(name, Metadata.ASCII_STRING_MARSHALLER), value));
    extra.put(FALLBACK, trigger);
    if (fallback.message() == null) {
      Status status = Status.fromCode(fallback.status()).withDescription(
          fallback.description());
      closed = true;
      listener.onClose(status, extra); // trailers only
      return;
    }
    listener.onHeaders(extra);
    answerLater(answer.message(), Status.OK, new Metadata());
  }

  private void answerLater(byte[] message, Status status, Metadata trailers) {
    pendingMessage = message;
    pendingStatus = status;
    pendingTrailers = trailers;
    deliverPending();
  }

  private void deliverPending() {
    if (closed) {
      return;
    }
    if (pendingMessage != null) {
      if (requested == 0) {
        return; // request() delivers it
      }
      requested--;
      byte[] message = pendingMessage;
      pendingMessage = null;
      listener.onMessage(responses.restore(message));
    }
    closed = true;
    Status status = pendingStatus;
    pendingStatus = null;
    listener.onClose(status, pendingTrailers);
  }

  /** The trigger {@code status} sets off, or null when the fallback does not apply. */
  private String trigger(Status status) {
    GatewayConfig.Fallback fallback = plan.fallback();
    if (fallback == null || status.isOk()) {
      return null;
    }
    if (ClusterCircuitBreaker.isOpenCircuit(status)) {
      return fallback.onBreaker() ? "breaker" : null;
    }
    if (status.getCode() == Status.Code.DEADLINE_EXCEEDED && fallback.onTimeout()) {
      return "timeout";
    }
    return fallback.onCodes().contains(status.getCode()) ? "status" : null;
  }

  private static long maxAgeNanos(String directives, String name) {
    int at = directives.indexOf(name);
    if (at < 0) {
      return -1;
    }
    int end = at + name.length();
    while (end < directives.length() && Character.isDigit(directives.charAt(end))) {
      end++;
    }
    try {
      return Long.parseLong(directives.substring(at + name.length(), end)) * 1_000_000_000L;
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  /** How long the backend lets its answer be kept: 0 for not at all, -1 for no word. */
  private static long backendFreshNanos(Metadata responseHeaders) {
    String value = responseHeaders.get(CACHE_CONTROL);
    if (value == null) {
      return -1;
    }
    String directives = value.toLowerCase(Locale.ROOT);
    if (directives.contains("no-store") || directives.contains("no-cache")
        || directives.contains("private")) {
      return 0;
    }
    long shared = maxAgeNanos(directives, "s-maxage=");
    return shared >= 0 ? shared : maxAgeNanos(directives, "max-age=");
  }

  private final class UpstreamListener extends Listener<RespT> {
    @Override
    public void onHeaders(Metadata responseHeaders) {
      if (closed) {
        return;
      }
      if (store) {
        storeHeaders = new Metadata();
        storeHeaders.merge(responseHeaders); // before the client's side reads and changes it
      }
      if (plan.fallback() != null && unaryResponse) {
        heldHeaders = responseHeaders; // until the message shows the call did not fail
        return;
      }
      responseStarted = true;
      listener.onHeaders(responseHeaders);
    }

    @Override
    public void onMessage(RespT message) {
      if (closed) {
        io.netty.util.ReferenceCountUtil.release(message); // pooled buffers go back
        return;
      }
      if (store && !tooLarge) {
        if (storeMessage == null && unaryResponse) {
          storeMessage = responses.save(message);
        } else {
          tooLarge = true; // not one message: not cacheable
          storeMessage = null;
        }
      }
      if (heldHeaders != null) {
        Metadata held = heldHeaders;
        heldHeaders = null;
        listener.onHeaders(held);
      }
      responseStarted = true;
      listener.onMessage(message);
    }

    @Override
    public void onReady() {
      if (!closed) {
        listener.onReady();
      }
    }

    @Override
    public void onClose(Status status, Metadata trailers) {
      if (closed) {
        return;
      }
      String trigger = responseStarted ? null : trigger(status);
      if (trigger != null) {
        ResponseCache.Entry stale = key == null || plan.fallback().staleIfError() == null
            ? null : plan.cache().get(key);
        if (stale != null && System.nanoTime() - stale.storedAt()
            <= stale.freshNanos() + plan.fallback().staleIfError().toNanos()) {
          plan.outcomes().fallback(trigger, "stale");
          answerFromCache(stale, "stale", trigger);
          return;
        }
        if (plan.fallback().hasResponse()) {
          if (answer.problem() == null) {
            plan.outcomes().fallback(trigger, "static");
            answerStatic(trigger);
            return;
          }
          status = status.augmentDescription("(the route's fallback was not given: "
              + answer.problem() + ")");
        }
      }
      if (heldHeaders != null) {
        Metadata held = heldHeaders;
        heldHeaders = null;
        listener.onHeaders(held);
      }
      closed = true;
        if (status.isOk() && store && storeMessage != null && storeHeaders != null) {
        long fresh = backendFreshNanos(storeHeaders);
        fresh = fresh < 0 ? plan.ttlNanos() : Math.min(fresh, plan.ttlNanos());
        if (fresh > 0) {
          Metadata keptTrailers = new Metadata();
          keptTrailers.merge(trailers);
          plan.cache().put(key, storeHeaders, storeMessage, keptTrailers, fresh);
        }
      }
      listener.onClose(status, trailers);
    }
  }
}
