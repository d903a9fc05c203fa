package io.meshgate.gateway.route;

import io.grpc.Status;
import io.meshgate.gateway.auth.AuthResult;
import io.meshgate.gateway.call.RequestView;
import io.meshgate.gateway.config.GatewayConfig;
import io.meshgate.gateway.descriptors.Descriptors;
import io.meshgate.gateway.resilience.FallbackCall;
import io.meshgate.gateway.netty.EventLoops;
import io.meshgate.gateway.ratelimit.RateLimitPolicy;
import io.meshgate.gateway.telemetry.CallRecord;
import io.meshgate.gateway.telemetry.Telemetry;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * The one admission chain every protocol's calls pass through, whatever carried them (native
 * gRPC, REST/JSON, and each protocol added later). A protocol adapter decodes its wire format
 * into a {@link RequestView} and the gRPC method it calls; the chain does the rest, in this
 * order:
 *
 * <ol>
 *   <li>{@link #record}: the call's telemetry record (metrics, access log, server span);
 *   <li>{@link #admit}: reads the running configuration once, matches the route, then runs its
 *       policies — JWT authentication, then rate limits — and returns an {@link Admission}:
 *       refused, with the status and what goes with it, or admitted;
 *   <li>{@link Admission#open}: strips client-sent claim headers and adds the verified ones,
 *       applies the deadline (the client's, capped by the route; the route's when the client
 *       sent none) and the trace context, picks the cluster (canary rules, weighted split),
 *       and starts the upstream call with the route's retry policy and the cluster's circuit
 *       breaker.
 * </ol>
 *
 * <p>A policy knows {@link RequestView} and {@link Status}, never a wire format; an adapter
 * knows its wire format, never a policy. Thread-safe; an admission is confined to its call's
 * event loop.
 */
public final class CallAdmission {
  private final Supplier<Running> running;
  private final Telemetry telemetry;
  private final EventLoops loops;
  private final ClientCertForwarding forwarding;
  private final Supplier<Descriptors.Snapshot> descriptors;
  /** Fallback messages encoded for the descriptors loaded now, by route and method. */
  private volatile EncodedAnswers encoded;

  private record EncodedAnswers(Running running, Descriptors.Snapshot snapshot,
      java.util.concurrent.ConcurrentHashMap<Object, FallbackCall.Answer> byMethod) {}

  /** A route's fallback answer for one method (no descriptor: the method's name). */
  private record AnswerKey(String route, Object method) {}

  /** The IP rules of the configuration that is running, compiled once per configuration. */
  private volatile Access access;

  private record Access(io.meshgate.gateway.config.GatewayConfig config,
      io.meshgate.gateway.access.IpRules global,
      java.util.Map<String, io.meshgate.gateway.access.IpRules> byRoute,
      java.util.Map<String, io.meshgate.gateway.config.GatewayConfig.Faults> faults,
      java.util.Map<String, MirrorPlan> mirrors) {}

  /** A route's mirror, and its calls in flight (per configuration). */
  record MirrorPlan(io.meshgate.gateway.config.GatewayConfig.Mirror config,
      java.util.concurrent.atomic.AtomicInteger inFlight) {}

  private static final String FAULT_ABORT = "x-meshgate-fault-abort";
  private static final String FAULT_DELAY = "x-meshgate-fault-delay";

  private static final Status IP_DENIED = Status.PERMISSION_DENIED.withDescription(
      "the client's address may not call this");

  /**
   * @param running the configuration new calls are admitted under (read once per call)
   * @param loops give each upstream call the call options of its event loop
   */
  public CallAdmission(Supplier<Running> running, Telemetry telemetry, EventLoops loops) {
    this(running, telemetry, loops, new ClientCertForwarding(
        io.meshgate.gateway.config.GatewayConfig.ForwardClientCert.SANITIZE, null));
  }

  /** @param forwarding what calls take upstream in {@code x-forwarded-client-cert} */
  public CallAdmission(Supplier<Running> running, Telemetry telemetry, EventLoops loops,
      ClientCertForwarding forwarding) {
    this(running, telemetry, loops, forwarding, Descriptors.Snapshot::empty);
  }

  /**
   * @param descriptors the loaded descriptors: methods' idempotency (cache, hedging) and the
   *     response types fallback messages are encoded as
   */
  public CallAdmission(Supplier<Running> running, Telemetry telemetry, EventLoops loops,
      ClientCertForwarding forwarding, Supplier<Descriptors.Snapshot> descriptors) {
    this.descriptors = descriptors;
    this.running = running;
    this.telemetry = telemetry;
    this.loops = loops;
    this.forwarding = forwarding;
  }

  /**
   * Starts recording a call as it arrives, before anything is known of it (so that calls
   * refused for malformed input are counted too).
   *
   * @param protocol the metrics label of the adapter ({@code grpc}, {@code rest}, ...)
   */
  public CallRecord record(String protocol, RequestView request) {
    return telemetry.start(protocol, request.peerAddress(), request::header);
  }

  /**
   * The route calls of {@code service}/{@code method} take under the running configuration
   * (whatever their authority), or null when none does: for documents of what the gateway
   * serves, not for admitting calls.
   */
  public Route routeOf(String service, String method) {
    return running.get().routes().match(service, method, null);
  }

  /**
   * Matches the call of {@code service}/{@code method} to a route and runs the route's
   * policies.
   *
   * @return a refused admission ({@link Admission#refusal()}) or one that can
   *     {@link Admission#open open} the upstream call; never null
   */
  public Admission admit(CallRecord record, RequestView request, String service,
      String method) {
    Running now = running.get();
    Access rules = access(now);
    if (rules.global() != null && !rules.global().allows(request)) {
      // Before anything else: a denied address learns nothing of the routes.
      record.routed(null, null, service, method);
      ipDenied("");
      return Admission.refused(Admission.Reason.IP_RULE, IP_DENIED, null, null, null);
    }
    Route route = now.routes().match(service, method, request.authority());
    if (route == null) {
      record.routed(null, null, service, method);
      return Admission.refused(Admission.Reason.NO_ROUTE, Status.UNIMPLEMENTED.withDescription(
          "unknown service " + service + ": no route matches /" + service + "/" + method),
          null, null, null);
    }
    record.routed(route.name(), route.cluster().name(), service, method);
    io.meshgate.gateway.access.IpRules routeRules = rules.byRoute().get(route.name());
    if (routeRules != null && !routeRules.allows(request)) {
      ipDenied(route.name());
      return Admission.refused(Admission.Reason.IP_RULE, IP_DENIED, null, null, null);
    }
    io.meshgate.gateway.call.ClientIdentity identity = request.clientIdentity();
    if (identity != null) {
      record.clientPrincipal(identity.principal());
    }
    if (!route.principals().isEmpty()) {
      String denied = denied(route, identity);
      if (denied != null) {
        return Admission.refused(Admission.Reason.PRINCIPAL,
            Status.PERMISSION_DENIED.withDescription(denied), null, null, null);
      }
    }
    AuthResult auth = null;
    if (route.auth() != null) {
      auth = route.auth().authenticate(request);
      if (!auth.isAllowed()) {
        return Admission.refused(Admission.Reason.AUTHENTICATION, auth.status(),
            auth.challenge(), null, null);
      }
      record.subject(auth.subject());
    }
    Function<String, String> claims = auth == null ? AuthResult.NO_CLAIMS : auth::claim;
    RateLimitPolicy.Result limit = null;
    if (route.rateLimit() != null) {
      limit = route.rateLimit().check(request, claims);
      if (!limit.allowed()) {
        return Admission.refused(Admission.Reason.RATE_LIMIT, limit.status(), null,
            RateLimitPolicy.statusDetails(limit), limit);
      }
    }
    io.meshgate.gateway.config.GatewayConfig.Faults faults = rules.faults().get(route.name());
    long delayNanos = 0;
    if (faults != null) {
      Status.Code abort = null;
      if (faults.headerControl()) {
        abort = code(request.header(FAULT_ABORT));
        delayNanos = delay(request.header(FAULT_DELAY));
      }
      java.util.concurrent.ThreadLocalRandom random =
          java.util.concurrent.ThreadLocalRandom.current();
      if (abort == null && faults.abortPercent() > 0
          && random.nextDouble() * 100 < faults.abortPercent()) {
        abort = faults.abortStatus();
      }
      if (abort != null) {
        fault(route.name(), "abort");
        return Admission.refused(Admission.Reason.FAULT, Status.fromCode(abort).withDescription(
            "fault injected by route '" + route.name() + "' (faults.abort)"), null, null, limit);
      }
      if (delayNanos == 0 && faults.delayPercent() > 0
          && random.nextDouble() * 100 < faults.delayPercent()) {
        delayNanos = faults.delay().toNanos();
      }
      if (delayNanos > 0) {
        fault(route.name(), "delay");
      }
    }
    MirrorPlan mirror = rules.mirrors().get(route.name());
    if (mirror != null && java.util.concurrent.ThreadLocalRandom.current().nextDouble() * 100
        >= mirror.config().percent()) {
      mirror = null;
    }
    Admission admitted = new Admission(now, route, auth, claims, limit, record, request, loops,
        forwarding, delayNanos, faults != null && faults.headerControl());
    if (route.answers() != null || route.hedging() != null) {
      answers(admitted, now, route, request, auth, claims, service, method);
    }
    if (mirror != null) {
      String name = route.name();
      admitted.mirror(mirror, () -> mirrored(name, "dropped"), () -> mirrored(name, "sent"));
    }
    return admitted;
  }

  /** What the route's cache, fallback and hedging need to know of this call's method. */
  private void answers(Admission admitted, Running now, Route route, RequestView request,
      AuthResult auth, Function<String, String> claims, String service, String method) {
    Descriptors.Snapshot snapshot = descriptors.get();
    com.google.protobuf.Descriptors.ServiceDescriptor described =
        snapshot.pool().services().get(service);
    com.google.protobuf.Descriptors.MethodDescriptor found =
        described == null ? null : method(snapshot, described, method);
    com.google.protobuf.DescriptorProtos.MethodOptions.IdempotencyLevel level = found == null
        ? com.google.protobuf.DescriptorProtos.MethodOptions.IdempotencyLevel.IDEMPOTENCY_UNKNOWN
        : found.getOptions().getIdempotencyLevel();
    boolean noSideEffects = level
        == com.google.protobuf.DescriptorProtos.MethodOptions.IdempotencyLevel.NO_SIDE_EFFECTS;
    boolean idempotent = noSideEffects || level
        == com.google.protobuf.DescriptorProtos.MethodOptions.IdempotencyLevel.IDEMPOTENT;
    FallbackCall.Plan plan = route.answers();
    if (plan == null) {
      admitted.answers(null, null, FallbackCall.Answer.NONE, idempotent, null);
      return;
    }
    String keyBase = null;
    GatewayConfig.Cache cache = plan.settings();
    boolean readOnly = noSideEffects || "GET".equals(request.httpMethod());
    // The native proxy does not know a method's type: the descriptors do.
    Boolean oneResponse = found == null ? null : !found.isServerStreaming();
    boolean unary = found != null && !found.isClientStreaming() && !found.isServerStreaming();
    if (cache != null && readOnly && unary) {
      boolean credentials = auth != null || request.header("authorization") != null
          || request.header("cookie") != null;
      if (!credentials || (cache.keySubject() && auth != null && auth.subject() != null)) {
        StringBuilder key = new StringBuilder(service).append('/').append(method);
        for (String header : cache.keyHeaders()) {
          key.append('\u0000').append(String.valueOf(request.header(header)));
        }
        for (String claim : cache.keyClaims()) {
          key.append('\u0001').append(String.valueOf(claims.apply(claim)));
        }
        if (cache.keySubject()) {
          key.append('\u0002').append(auth.subject());
        }
        keyBase = key.toString();
      }
    }
    FallbackCall.Answer answer = FallbackCall.Answer.NONE;
    if (plan.fallback() != null && plan.fallback().message() != null) {
      EncodedAnswers current = encoded;
      if (current == null || current.running() != now || current.snapshot() != snapshot) {
        current = new EncodedAnswers(now, snapshot,
            new java.util.concurrent.ConcurrentHashMap<>());
        encoded = current;
      }
      AnswerKey key = new AnswerKey(route.name(), found != null ? found : service + "/" + method);
      FallbackCall.Answer known = current.byMethod().get(key);
      answer = known != null ? known : current.byMethod().computeIfAbsent(key,
          k -> encode(plan.fallback().message(), found, snapshot, route.name()));
    }
    admitted.answers(plan, keyBase, answer, idempotent, oneResponse);
  }

  /** Methods by service and name, for the descriptors loaded now (no name built per call). */
  private volatile MethodIndex methods;

  private record MethodIndex(Descriptors.Snapshot snapshot, java.util.Map<
      com.google.protobuf.Descriptors.ServiceDescriptor, java.util.Map<String,
          com.google.protobuf.Descriptors.MethodDescriptor>> byService) {}

  private com.google.protobuf.Descriptors.MethodDescriptor method(Descriptors.Snapshot snapshot,
      com.google.protobuf.Descriptors.ServiceDescriptor service, String name) {
    MethodIndex index = methods;
    if (index == null || index.snapshot() != snapshot) {
      index = new MethodIndex(snapshot, new java.util.concurrent.ConcurrentHashMap<>());
      methods = index;
    }
    java.util.Map<String, com.google.protobuf.Descriptors.MethodDescriptor> byName =
        index.byService().get(service);
    if (byName == null) {
      byName = index.byService().computeIfAbsent(service, s -> {
        java.util.Map<String, com.google.protobuf.Descriptors.MethodDescriptor> methods =
            new java.util.HashMap<>();
        s.getMethods().forEach(m -> methods.put(m.getName(), m));
        return methods;
      });
    }
    return byName.get(name);
  }

  /** A fallback message as the method's response type. */
  private static FallbackCall.Answer encode(String json,
      com.google.protobuf.Descriptors.MethodDescriptor method, Descriptors.Snapshot snapshot,
      String route) {
    if (method == null) {
      return new FallbackCall.Answer(null, "the gateway has no descriptors of the method, so"
          + " routes[" + route + "].fallback.response.message cannot be encoded (load them:"
          + " transcoding.descriptorSets or reflection)");
    }
    try {
      return new FallbackCall.Answer(snapshot.transcoder().message(method.getOutputType(),
          json.getBytes(java.nio.charset.StandardCharsets.UTF_8)), null);
    } catch (io.meshgate.transcoder.TranscodingException | RuntimeException e) {
      return new FallbackCall.Answer(null, "routes[" + route + "].fallback.response.message is"
          + " not a valid " + method.getOutputType().getFullName() + ": " + e.getMessage());
    }
  }

  private void mirrored(String route, String result) {
    telemetry.metrics().counter("meshgate.mirror.calls", "Copies of calls sent to a route's"
        + " mirror cluster, or dropped (in-flight limit, or too slow)", "route", route,
        "result", result).increment();
  }

  /** A failing status code named by a fault header, or null. */
  private static Status.Code code(String name) {
    if (name == null) {
      return null;
    }
    try {
      Status.Code code = Status.Code.valueOf(name.strip().toUpperCase(java.util.Locale.ROOT));
      return code == Status.Code.OK ? null : code;
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  /** A delay named by a fault header ({@code 200ms}, {@code 1s}), in nanoseconds; 0 if none. */
  private static long delay(String text) {
    if (text == null) {
      return 0;
    }
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\s*([0-9]{1,6})(ms|s)\\s*")
        .matcher(text);
    if (!m.matches()) {
      return 0;
    }
    long amount = Long.parseLong(m.group(1));
    return m.group(2).equals("s") ? amount * 1_000_000_000L : amount * 1_000_000L;
  }

  private void fault(String route, String kind) {
    telemetry.metrics().counter("meshgate.faults.injected", "Faults injected by routes'"
        + " faults, by kind (abort, delay)", "route", route, "kind", kind).increment();
  }

  private Access access(Running now) {
    Access current = access;
    if (current == null || current.config() != now.config()) {
      java.util.Map<String, io.meshgate.gateway.access.IpRules> byRoute =
          new java.util.HashMap<>();
      java.util.Map<String, io.meshgate.gateway.config.GatewayConfig.Faults> faults =
          new java.util.HashMap<>();
      java.util.Map<String, MirrorPlan> mirrors = new java.util.HashMap<>();
      for (io.meshgate.gateway.config.GatewayConfig.Route route : now.config().routes()) {
        if (route.ipRules() != null) {
          byRoute.put(route.name(), io.meshgate.gateway.access.IpRules.of(route.ipRules()));
        }
        if (route.faults() != null) {
          faults.put(route.name(), route.faults());
        }
        if (route.mirror() != null) {
          mirrors.put(route.name(), new MirrorPlan(route.mirror(),
              new java.util.concurrent.atomic.AtomicInteger()));
        }
      }
      current = new Access(now.config(),
          io.meshgate.gateway.access.IpRules.of(now.config().ipRules()),
          java.util.Map.copyOf(byRoute), java.util.Map.copyOf(faults),
          java.util.Map.copyOf(mirrors));
      access = current;
    }
    return current;
  }

  private void ipDenied(String route) {
    telemetry.metrics().counter("meshgate.ip.denied", "Calls refused by ipRules, by route (empty:"
        + " the global rules)", "route", route).increment();
  }

  /** Why {@code client} may not call {@code route} ({@code auth.principals}), or null. */
  private static String denied(Route route, io.meshgate.gateway.call.ClientIdentity client) {
    if (client == null) {
      return "route '" + route.name() + "' needs a client certificate naming one of "
          + route.principals() + "; the client presented none";
    }
    for (String pattern : route.principals()) {
      if (client.matches(pattern)) {
        return null;
      }
    }
    return "route '" + route.name() + "' admits the principals " + route.principals()
        + "; the client's certificate names " + client.uris() + " " + client.dnsNames();
  }
}
