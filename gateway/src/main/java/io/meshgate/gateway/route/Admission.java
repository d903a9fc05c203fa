package io.meshgate.gateway.route;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.meshgate.gateway.auth.AuthResult;
import io.meshgate.gateway.call.RequestView;
import io.meshgate.gateway.netty.EventLoops;
import io.meshgate.gateway.ratelimit.RateLimitPolicy;
import io.meshgate.gateway.resilience.FallbackCall;
import io.meshgate.gateway.resilience.RetryPolicy;
import io.meshgate.gateway.telemetry.CallRecord;
import io.meshgate.gateway.telemetry.Tracing;
import io.meshgate.gateway.upstream.UpstreamCluster;
import io.netty.util.concurrent.EventExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * What {@link CallAdmission#admit} decided for one call: refused ({@link #refusal()} says why
 * and what to answer), or admitted, ready to {@link #open} the upstream call. Once open, it
 * explains the call's end ({@link #upstreamClosed}). Only on the call's event loop.
 */
public final class Admission {
  /** Why a call was refused. */
  public enum Reason {
    /** No route takes the method (UNIMPLEMENTED). */
    NO_ROUTE,
    /** No valid token, or one that does not grant the route (the auth status). */
    AUTHENTICATION,
    /** A rate limit of the route is spent (RESOURCE_EXHAUSTED). */
    RATE_LIMIT,
    /** The client's certificate names no principal the route admits (PERMISSION_DENIED). */
    PRINCIPAL,
    /** The client's address is denied by {@code ipRules} (PERMISSION_DENIED). */
    IP_RULE,
    /** The route's {@code faults.abort} answered instead of the backend (its status). */
    FAULT
  }

  /**
   * A refused call: the status to answer with, and what goes with it.
   *
   * @param challenge the {@code WWW-Authenticate} value, or null
   * @param statusDetails a serialized {@code google.rpc.Status} with details for the client
   *     ({@code grpc-status-details-bin}; a {@code RetryInfo} for a rate limit), or null
   */
  public record Refusal(Reason reason, Status status, String challenge, byte[] statusDetails) {}

  private static final Metadata.Key<String> CONTENT_TYPE =
      Metadata.Key.of("content-type", Metadata.ASCII_STRING_MARSHALLER);

  private final Refusal refusal;
  private final Running running;
  private final Route route;
  private final AuthResult auth;
  private final Function<String, String> claims;
  private final RateLimitPolicy.Result rateLimit;
  private final CallRecord record;
  private final RequestView request;
  private final EventLoops loops;
  private final ClientCertForwarding forwarding;

  // Only on the call's event loop.
  private UpstreamCluster cluster;
  private ClientCall<?, ?> call;
  private Status lateRefusal; // a global rate limit's refusal, delivered as the call's close
  private long faultDelayNanos;
  private boolean stripFaultHeaders;
  private CallAdmission.MirrorPlan mirror;
  private FallbackCall.Plan answers;
  private String cacheKey;
  private FallbackCall.Answer fallbackAnswer = FallbackCall.Answer.NONE;
  private boolean idempotent;
  private Boolean oneResponse;
  private FallbackCall<?, ?> degradable;
  private Runnable mirrorDropped;
  private Runnable mirrorSent;
  private Boolean streams; // decided once, by streams()
  private static final Metadata.Key<String> FAULT_ABORT =
      Metadata.Key.of("x-meshgate-fault-abort", Metadata.ASCII_STRING_MARSHALLER);
  private static final Metadata.Key<String> FAULT_DELAY =
      Metadata.Key.of("x-meshgate-fault-delay", Metadata.ASCII_STRING_MARSHALLER);

  /**
   * @param claims the verified token's claims as text (none without a token), for the cluster
   *     choice
   */
  Admission(Running running, Route route, AuthResult auth, Function<String, String> claims,
      RateLimitPolicy.Result rateLimit, CallRecord record, RequestView request,
      EventLoops loops, ClientCertForwarding forwarding) {
    this(running, route, auth, claims, rateLimit, record, request, loops, forwarding, 0, false);
  }

  /**
   * @param faultDelayNanos how long {@code faults.delay} holds the call before it goes upstream
   * @param stripFaultHeaders whether the fault-control headers stay at the gateway
   */
  Admission(Running running, Route route, AuthResult auth, Function<String, String> claims,
      RateLimitPolicy.Result rateLimit, CallRecord record, RequestView request,
      EventLoops loops, ClientCertForwarding forwarding, long faultDelayNanos,
      boolean stripFaultHeaders) {
    this(null, running, route, auth, claims, rateLimit, record, request, loops, forwarding);
    this.faultDelayNanos = faultDelayNanos;
    this.stripFaultHeaders = stripFaultHeaders;
  }

  private Admission(Refusal refusal, Running running, Route route, AuthResult auth,
      Function<String, String> claims, RateLimitPolicy.Result rateLimit, CallRecord record,
      RequestView request, EventLoops loops, ClientCertForwarding forwarding) {
    this.forwarding = forwarding;
    this.refusal = refusal;
    this.running = running;
    this.route = route;
    this.auth = auth;
    this.claims = claims;
    this.rateLimit = rateLimit;
    this.record = record;
    this.request = request;
    this.loops = loops;
  }

  /** Copies the call to {@code plan}'s cluster when it is opened. */
  void mirror(CallAdmission.MirrorPlan plan, Runnable dropped, Runnable sent) {
    this.mirror = plan;
    this.mirrorDropped = dropped;
    this.mirrorSent = sent;
  }

  /**
   * The route's cache and fallback for this call, and whether its method may be hedged.
   *
   * @param plan the route's cache and fallback, or null
   * @param cacheKey the key's method and values when the call may be cached (a unary read-only
   *     call), or null
   * @param oneResponse whether the method answers one message, by its descriptor (null: not
   *     known, the method descriptor's type says)
   */
  void answers(FallbackCall.Plan plan, String cacheKey, FallbackCall.Answer answer,
      boolean idempotent, Boolean oneResponse) {
    this.oneResponse = oneResponse;
    this.answers = plan;
    this.cacheKey = cacheKey;
    this.fallbackAnswer = answer;
    this.idempotent = idempotent;
  }

  static Admission refused(Reason reason, Status status, String challenge, byte[] details,
      RateLimitPolicy.Result rateLimit) {
    return new Admission(new Refusal(reason, status, challenge, details), null, null, null, null,
        rateLimit, null, null, null, null);
  }

  /** Why the call was refused, or null when it was admitted. */
  public Refusal refusal() {
    return refusal;
  }

  /** The route the call matched; null when none did. */
  public Route route() {
    return route;
  }

  /**
   * The figures of the route's tightest rate limit (for {@code RateLimit-*} headers), allowed
   * or not; null when the route has no limits.
   */
  public RateLimitPolicy.Result rateLimit() {
    return rateLimit;
  }

  /**
   * A REST request's query string without the parameters a JWT provider of the route reads its
   * token from: they are the gateway's, not fields of the request.
   */
  public String forwardedQuery(String rawQuery) {
    return route.auth() == null ? rawQuery : route.auth().withoutTokenParameters(rawQuery);
  }

  /**
   * Starts the upstream call of an admitted call.
   *
   * @param headers the request metadata the adapter decoded; the client's values of claim
   *     headers are removed from it and the verified claims added
   * @param clientTimeoutNanos the deadline the client asked for, or -1 for none
   * @param compression the compressor of request messages ({@code gzip}), or null for none
   * @param authority the {@code :authority} to send upstream, or null for the channel's
   * @param loop the client's event loop: callbacks, retries and backoff run there
   * @param replay how request messages are kept for a retry
   * @param responses how response messages are kept for the route's cache
   * @return the started call; its listener may already have been told that it closed
   */
  public <ReqT, RespT> ClientCall<ReqT, RespT> open(MethodDescriptor<ReqT, RespT> method,
      Metadata headers, long clientTimeoutNanos, String compression, String authority,
      EventExecutor loop, RetryPolicy.Replay<ReqT> replay, RetryPolicy.Replay<RespT> responses,
      ClientCall.Listener<RespT> listener) {
    if (refusal != null) {
      throw new IllegalStateException("a refused call cannot be opened: " + refusal.status());
    }
    if (stripFaultHeaders) {
      headers.removeAll(FAULT_ABORT);
      headers.removeAll(FAULT_DELAY);
    }
    boolean pendingLimit = rateLimit != null && rateLimit.pending();
    if (pendingLimit || faultDelayNanos > 0) {
      // A global limit asks its store first, and an injected delay holds the call: it starts
      // (or is refused) once they are done; the deadline already runs.
      long deadline = route.effectiveTimeoutNanos(clientTimeoutNanos);
      long askedAt = System.nanoTime();
      DeferredCall<ReqT, RespT> deferred = new DeferredCall<>();
      deferred.start(listener, headers);
      java.util.concurrent.CompletableFuture<Void> held =
          new java.util.concurrent.CompletableFuture<>();
      if (faultDelayNanos > 0) {
        loop.schedule(() -> held.complete(null), faultDelayNanos, TimeUnit.NANOSECONDS);
      } else {
        held.complete(null);
      }
      held.thenCompose(v -> pendingLimit ? route.rateLimit().settle(rateLimit, loop)
          : java.util.concurrent.CompletableFuture.completedFuture(rateLimit))
          .whenComplete((result, failure) -> {
        if (failure == null && (result == null || result.allowed())) {
          long left = deadline <= 0 ? clientTimeoutNanos
              : deadline - (System.nanoTime() - askedAt);
          deferred.proceed(startNow(method, headers, deadline <= 0 ? clientTimeoutNanos
              : Math.max(1, left), compression, authority, loop, replay, responses, listener));
          return;
        }
        Status status = failure != null ? Status.INTERNAL.withDescription(
            "the rate limit could not be decided: " + failure) : result.status();
        Metadata trailers = new Metadata();
        if (failure == null) {
          trailers.put(STATUS_DETAILS, RateLimitPolicy.statusDetails(result));
        }
        lateRefusal = status;
        deferred.refuse(status, trailers);
      });
      return deferred;
    }
    return startNow(method, headers, clientTimeoutNanos, compression, authority, loop, replay,
        responses, listener);
  }

  private static final Metadata.Key<byte[]> STATUS_DETAILS =
      Metadata.Key.of("grpc-status-details-bin", Metadata.BINARY_BYTE_MARSHALLER);

  private <ReqT, RespT> ClientCall<ReqT, RespT> startNow(MethodDescriptor<ReqT, RespT> method,
      Metadata headers, long clientTimeoutNanos, String compression, String authority,
      EventExecutor loop, RetryPolicy.Replay<ReqT> replay, RetryPolicy.Replay<RespT> responses,
      ClientCall.Listener<RespT> listener) {
    CallOptions options = prepare(headers, clientTimeoutNanos, authority, loop);
    if (compression != null) {
      options = options.withCompression(compression);
    }
    Metadata mirrorHeaders = copyForMirror(headers);
    ClientCall<ReqT, RespT> opened;
    if (answers == null) {
      opened = route.newCall(cluster, method, options, loop, replay, idempotent);
    } else {
      UpstreamCluster chosen = cluster;
      CallOptions upstreamOptions = options;
      boolean unaryResponse = oneResponse != null ? oneResponse
          : method.getType().serverSendsOneMessage();
      FallbackCall<ReqT, RespT> wrapped = new FallbackCall<>(answers, cacheKey,
          cacheKey == null ? null : request.header("cache-control"), fallbackAnswer,
          unaryResponse,
          () -> route.newCall(chosen, method, upstreamOptions, loop, replay, idempotent),
          replay, responses, loop);
      degradable = wrapped;
      opened = wrapped;
    }
    // Kept before start: a call that fails at once closes inside start().
    call = opened;
    opened.start(listener, headers);
    CallOptions mirrorOptions = options;
    return mirrored(opened, mirrorHeaders, replay,
        target -> target.newCall(method, mirrorOptions, loop));
  }

  private static final Metadata.Key<String> FORWARDED_HOST =
      Metadata.Key.of("x-forwarded-host", Metadata.ASCII_STRING_MARSHALLER);

  /**
   * What every upstream call of the admission gets, whichever way it goes: the verified claims
   * and the client's identity in its headers instead of what the client said, the trace, the
   * route's deadline, its cluster (picked once) and the client's authority.
   */
  private CallOptions prepare(Metadata headers, long clientTimeoutNanos, String authority,
      EventExecutor loop) {
    running.auth().stripClaimHeaders(headers);
    forwarding.apply(headers, request.clientIdentity());
    if (auth != null) {
      auth.applyTo(headers);
    }
    if (cluster == null) {
      cluster = route.pick(request, claims);
    }
    String upstreamAuthority = null;
    if (authority != null && !authority.isEmpty()) {
      if (cluster.config().tls() == null) {
        upstreamAuthority = authority;
      } else {
        // Over TLS grpc-java checks a call's :authority against the backend's certificate, which
        // names the backend, not the gateway the client called: the call keeps the cluster's
        // authority (tls.serverName) and the client's goes along as x-forwarded-host.
        headers.put(FORWARDED_HOST, authority);
      }
    }
    CallOptions options = loops.upstreamCallOptions(loop, upstreamAuthority);
    if (record.traceContext() != null) {
      options = options.withOption(Tracing.PARENT, record.traceContext());
    }
    long timeout = route.effectiveTimeoutNanos(clientTimeoutNanos);
    if (timeout > 0) {
      options = options.withDeadlineAfter(timeout, TimeUnit.NANOSECONDS);
    }
    record.cluster(cluster.name());
    return options;
  }

  /**
   * Whether the call can be streamed through frame by frame ({@link #openStreamed}): nothing of
   * the route looks into its messages — it neither caches nor falls back, nor holds the call (an
   * injected delay, a global limit still asking its store) — and its cluster, and its mirror's,
   * stream on {@code loop}. Retries, hedges and mirrors replay or copy the DATA chunks as they
   * would messages. Picks the call's cluster.
   */
  public boolean streams(EventExecutor loop) {
    if (streams == null) {
      streams = decideStreams(loop);
    }
    return streams;
  }

  private boolean decideStreams(EventExecutor loop) {
    if (refusal != null || answers != null || faultDelayNanos > 0
        || (rateLimit != null && rateLimit.pending())) {
      return false;
    }
    if (mirror != null) {
      UpstreamCluster target = running.clusters().get(mirror.config().cluster());
      if (target != null && !target.streams(loop)) {
        return false;
      }
    }
    if (cluster == null) {
      cluster = route.pick(request, claims);
    }
    return cluster.streams(loop);
  }

  /**
   * Starts the upstream call of an admitted call that {@link #streams}: its messages are the
   * request's and the response's DATA chunks as they come (see
   * {@link io.meshgate.gateway.upstream.StreamedCall}).
   *
   * @param wire the client's request line and encodings, forwarded as they came
   * @see #open
   */
  public ClientCall<io.netty.buffer.ByteBuf, io.netty.buffer.ByteBuf> openStreamed(
      MethodDescriptor<io.netty.buffer.ByteBuf, io.netty.buffer.ByteBuf> method,
      Metadata headers, long clientTimeoutNanos,
      io.meshgate.gateway.upstream.StreamedCall.Request wire, String authority,
      EventExecutor loop, RetryPolicy.Replay<io.netty.buffer.ByteBuf> replay,
      ClientCall.Listener<io.netty.buffer.ByteBuf> listener) {
    if (!streams(loop)) {
      throw new IllegalStateException("this call cannot be streamed through");
    }
    if (stripFaultHeaders) {
      headers.removeAll(FAULT_ABORT);
      headers.removeAll(FAULT_DELAY);
    }
    CallOptions options = prepare(headers, clientTimeoutNanos, authority, loop);
    Metadata mirrorHeaders = copyForMirror(headers);
    UpstreamCluster chosen = cluster;
    ClientCall<io.netty.buffer.ByteBuf, io.netty.buffer.ByteBuf> opened = route.newCall(
        attempt -> chosen.newStreamedCall(method, wire, attempt, loop), options, loop, replay,
        idempotent);
    call = opened;
    opened.start(listener, headers);
    return mirrored(opened, mirrorHeaders, replay,
        target -> target.newStreamedCall(method, wire, options, loop));
  }

  /** The headers a mirror gets: taken before the primary's start takes some away. */
  private Metadata copyForMirror(Metadata headers) {
    if (mirror == null) {
      return null;
    }
    Metadata copy = new Metadata();
    copy.merge(headers);
    return copy;
  }

  /** {@code primary}, copied to the mirror's cluster when the route mirrors and there is room. */
  private <ReqT, RespT> ClientCall<ReqT, RespT> mirrored(ClientCall<ReqT, RespT> primary,
      Metadata mirrorHeaders, RetryPolicy.Replay<ReqT> replay,
      Function<UpstreamCluster, ClientCall<ReqT, RespT>> mirrorCall) {
    if (mirror == null) {
      return primary;
    }
    UpstreamCluster target = running.clusters().get(mirror.config().cluster());
    if (target == null || mirror.inFlight().incrementAndGet() > mirror.config().maxInFlight()) {
      if (target != null) {
        mirror.inFlight().decrementAndGet();
      }
      mirrorDropped.run();
      return primary;
    }
    mirrorSent.run();
    return new MirroredCall<>(primary, mirrorCall.apply(target), mirrorHeaders, replay,
        mirror.inFlight(), mirrorDropped);
  }

  /** The cluster the call went to (null before {@link #open}). */
  public UpstreamCluster cluster() {
    return cluster;
  }

  /**
   * Records the end of the upstream call and explains a failure grpc-java made itself (no
   * backend answered: no response headers, and no content-type among the trailers) in the
   * cluster's terms.
   *
   * @param responseStarted whether the backend sent response headers
   * @return the status to give the client
   */
  public Status upstreamClosed(Status closed, boolean responseStarted, Metadata trailers) {
    if (lateRefusal != null) {
      return lateRefusal; // no upstream call was made
    }
    if (degradable != null && degradable.answeredLocally()) {
      return closed; // the cache or the fallback answered
    }
    Status status = io.meshgate.gateway.call.TransportFailures.normalize(closed);
    record.upstream(call == null ? null
        : call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR));
    if (!responseStarted && !trailers.containsKey(CONTENT_TYPE)) {
      return cluster.explainLocalFailure(status);
    }
    return status;
  }
}
