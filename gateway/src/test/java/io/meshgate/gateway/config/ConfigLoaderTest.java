package io.meshgate.gateway.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class ConfigLoaderTest {
  private static final String MINIMAL = """
      listener: {port: 8080}
      clusters:
        - name: users
          endpoints: [127.0.0.1:50051, "[::1]:50052"]
      routes:
        - match: {service: acme.users.v1.Users}
          cluster: users
      """;

  private static GatewayConfig parse(String yaml) throws ConfigException {
    return ConfigLoader.parse("gw.yaml", yaml, Path.of("/tmp"));
  }

  private static List<String> errors(String yaml) {
    ConfigException e = assertThrows(ConfigException.class, () -> parse(yaml));
    return e.errors().stream().map(ConfigError::toString).collect(Collectors.toList());
  }

  @Test
  void minimalConfigGetsTheDocumentedDefaults() throws Exception {
    GatewayConfig config = parse(MINIMAL);
    assertEquals("0.0.0.0", config.listener().host());
    assertEquals(8080, config.listener().port());
    assertNull(config.listener().tls());
    assertEquals(new GatewayConfig.Admin("127.0.0.1", 9901), config.admin());
    assertEquals(4 * 1024 * 1024, config.limits().maxMessageBytes());
    assertEquals(1000, config.limits().maxConcurrentStreams());
    assertEquals(16 * 1024, config.limits().maxHeaderListBytes());
    assertEquals(500, config.limits().rapidReset().minStreams());
    assertEquals(Duration.ofSeconds(30), config.shutdown().drainTimeout());
    GatewayConfig.Cluster users = config.clusters().get(0);
    assertEquals("static:///127.0.0.1:50051,%5B::1%5D:50052", users.target());
    assertEquals("round_robin", users.lbPolicy());
    assertEquals("routes[0]", config.routes().get(0).name());
  }

  @Test
  void sizesAndDurationsAcceptUnits() throws Exception {
    GatewayConfig config = parse(MINIMAL + """
        limits: {maxMessageBytes: 16MiB, maxHeaderListBytes: 8KiB}
        shutdown: {drainTimeout: 1.5s, readinessGrace: 250ms}
        """);
    assertEquals(16 * 1024 * 1024, config.limits().maxMessageBytes());
    assertEquals(8 * 1024, config.limits().maxHeaderListBytes());
    assertEquals(Duration.ofMillis(1500), config.shutdown().drainTimeout());
    assertEquals(Duration.ofMillis(250), config.shutdown().readinessGrace());
  }

  @Test
  void metricsAndAccessLogSections() throws Exception {
    GatewayConfig defaults = parse(MINIMAL);
    assertEquals(GatewayConfig.Metrics.defaults(), defaults.metrics());
    assertNull(defaults.accessLog(), "no access log unless asked for");

    GatewayConfig config = parse(MINIMAL + """
        metrics: {latencyBuckets: [5ms, 50ms, 1.5s], maxMethods: 10}
        accessLog: {path: access.log, bufferEntries: 100}
        """);
    assertEquals(List.of(Duration.ofMillis(5), Duration.ofMillis(50), Duration.ofMillis(1500)),
        config.metrics().latencyBuckets());
    assertEquals(10, config.metrics().maxMethods());
    assertEquals(Path.of("/tmp/access.log"), config.accessLog().path(),
        "relative to the config's directory");
    assertEquals(100, config.accessLog().bufferEntries());
    assertNull(parse(MINIMAL + "accessLog: {}\n").accessLog().path(), "stdout by default");

    assertEquals(List.of(
        "gw.yaml:8:27: metrics.latencyBuckets: '10ms' is not a duration above the previous"
            + " bucket (expected: ascending durations such as [5ms, 50ms, 500ms, 5s])",
        "gw.yaml:9:19: accessLog.path: '/no/such/dir/access.log' is not a file the gateway can"
            + " append to (expected: a writable file in an existing directory, or stdout)"),
        errors(MINIMAL + """
            metrics: {latencyBuckets: [50ms, 10ms]}
            accessLog: {path: /no/such/dir/access.log}
            """));
  }

  @Test
  void authProvidersAndRouteRequirements() throws Exception {
    GatewayConfig config = parse("""
        listener: {port: 8080}
        auth:
          providers:
            - name: corp
              issuer: https://id.example.com
              audiences: [api]
              jwks: {url: "https://id.example.com/jwks.json"}
              forwardClaims: {sub: X-User-Id}
            - name: partners
              secret: "a shared secret of at least thirty-two bytes"
              from: [{header: x-api-token}, {query: access_token}, {cookie: session}]
        clusters:
          - {name: users, endpoints: [127.0.0.1:50051]}
        routes:
          - match: {service: acme.users.v1.Users}
            cluster: users
            auth: {requireScopes: [users.read], requireClaims: {tier: gold}}
          - match: {service: acme.public.v1.Info}
            cluster: users
        """);
    GatewayConfig.JwtProvider corp = config.jwtProviders().get(0);
    assertEquals(java.net.URI.create("https://id.example.com/jwks.json"), corp.jwksUrl());
    assertEquals(Duration.ofMinutes(10), corp.refreshInterval());
    assertEquals(Duration.ofSeconds(60), corp.clockSkew());
    assertEquals(List.of(GatewayConfig.TokenSource.BEARER), corp.from());
    assertEquals(java.util.Map.of("sub", "x-user-id"), corp.forwardClaims());
    assertEquals(8192, corp.maxTokenBytes());
    GatewayConfig.JwtProvider partners = config.jwtProviders().get(1);
    assertEquals(List.of(new GatewayConfig.TokenSource("header", "x-api-token", ""),
        new GatewayConfig.TokenSource("query", "access_token", ""),
        new GatewayConfig.TokenSource("cookie", "session", "")), partners.from());
    GatewayConfig.RouteAuth auth = config.routes().get(0).auth();
    assertEquals(List.of("corp", "partners"), auth.providers(), "default: every provider");
    assertEquals(List.of("users.read"), auth.requireScopes());
    assertEquals(java.util.Map.of("tier", "gold"), auth.requireClaims());
    assertTrue(auth.forwardAuthorization());
    assertNull(config.routes().get(1).auth(), "no auth section: a public route");
  }

  @Test
  void badAuthConfigsAreReportedWithTheirPlace() {
    List<String> errors = errors("""
        listener: {port: 8080}
        auth:
          providers:
            - name: a
              jwks: {url: "http://id.example.com/jwks.json"}
              secret: short
            - name: b
            - name: a
              publicKeyFile: /no/such.pem
              forwardClaims: {sub: grpc-status}
        clusters:
          - {name: users, endpoints: [127.0.0.1:50051]}
        routes:
          - match: {service: acme.users.v1.Users}
            cluster: users
            auth: {providers: [c]}
        """);
    assertEquals(List.of(
        "gw.yaml:5:19: auth.providers[0].jwks.url: 'http://id.example.com/jwks.json' is not an"
            + " https URL (keys fetched over plain http could be forged; plain http is allowed"
            + " only on loopback)",
        "gw.yaml:6:15: auth.providers[0].secret: 5 bytes is too short for an HMAC secret"
            + " (expected: at least 32 bytes, as RFC 7518 requires for HS256)",
        "gw.yaml:4:7: auth.providers[0]: needs exactly one key source: jwks, publicKeyFile or"
            + " secret (found 2)",
        "gw.yaml:7:7: auth.providers[1]: needs exactly one key source: jwks, publicKeyFile or"
            + " secret (found 0)",
        "gw.yaml:9:22: auth.providers[2].publicKeyFile: '/no/such.pem' is not a readable file",
        "gw.yaml:10:22: auth.providers[2].forwardClaims.sub: 'grpc-status' is not a header a"
            + " claim can go to (expected: letters, digits, '-', '_', '.'; not grpc-* or *-bin)",
        "gw.yaml:8:13: auth.providers[2].name: 'a' is defined twice (provider names must be"
            + " unique)",
        "gw.yaml:16:23: routes[0].auth.providers: 'c' is not a defined JWT provider (defined:"
            + " a, b)"), errors);
  }

  @Test
  void overloadWatermarksAreSharesOrSizes() throws Exception {
    GatewayConfig.Overload defaults = parse(MINIMAL).limits().overload();
    assertEquals(0.92, defaults.heap().refuseAt().fraction());
    assertEquals(0.95, defaults.direct().resetAt().fraction());
    assertEquals(Duration.ofMillis(250), defaults.checkInterval());
    assertEquals(Duration.ofSeconds(10), parse(MINIMAL).limits().connections()
        .settingsAckTimeout());

    GatewayConfig.Overload set = parse("""
        limits:
          overload: {heap: {refuseAt: 80%, resetAt: 90%}, direct: {refuseAt: 1GiB, resetAt: 2GiB}}
        """ + MINIMAL).limits().overload();
    assertEquals(800, set.heap().refuseAt().of(1000));
    assertEquals(1L << 30, set.direct().refuseAt().of(100));

    assertEquals(List.of(
        "gw.yaml:3:22: limits.overload.heap.refuseAt: '120%' is not a share (expected: 1% to"
            + " 100%)",
        "gw.yaml:4:39: limits.overload.direct.resetAt: 1073741824 bytes is below refuseAt"
            + " 2147483648 bytes (expected: streams are reset only past the point where new ones"
            + " are refused)"),
        errors("""
            limits:
              overload:
                heap: {refuseAt: 120%}
                direct: {refuseAt: 2GiB, resetAt: 1GiB}
            """ + MINIMAL));
  }

  @Test
  void theBufferBudgetIsASizeAShareOrOff() throws Exception {
    GatewayConfig.Budget defaults = parse(MINIMAL).limits().overload().budget();
    assertEquals(256L << 20, defaults.bytes().of(1L << 40), "256 MiB whatever the limit");
    assertEquals(Duration.ofSeconds(10), defaults.shedAfter());
    assertTrue(defaults.enabled());

    GatewayConfig.Budget share = parse("""
        limits: {overload: {budget: {bytes: 25%, shedAfter: 0s}}}
        """ + MINIMAL).limits().overload().budget();
    assertEquals(250, share.bytes().of(1000));
    assertEquals(Duration.ZERO, share.shedAfter());
    assertTrue(!parse("""
        limits: {overload: {budget: {bytes: off}}}
        """ + MINIMAL).limits().overload().budget().enabled());

    assertEquals(List.of("gw.yaml:1:37: limits.overload.budget.bytes: 'lots' is not a size"
        + " (expected: a number of bytes, optionally with KiB, MiB or GiB)"), errors("""
            limits: {overload: {budget: {bytes: lots}}}
            """ + MINIMAL));
  }

  @Test
  void clusterTlsIsCheckedWithTheConfig(@org.junit.jupiter.api.io.TempDir Path dir)
      throws Exception {
    Path notPem = java.nio.file.Files.writeString(dir.resolve("ca.pem"), "not a certificate");
    GatewayConfig ok = parse("""
        listener: {port: 8080}
        clusters:
          - name: pay
            endpoints: [10.0.0.1:8443]
            tls: {serverName: pay.internal, subjectAltNames: ["spiffe://corp/ns/pay/*"],
                  minVersion: TLSv1.3, provider: openssl}
        routes: [{match: {servicePrefix: ""}, cluster: pay}]
        """);
    assertEquals(new GatewayConfig.UpstreamTls(null, null, null, "pay.internal",
        List.of("spiffe://corp/ns/pay/*"), "TLSv1.3", GatewayConfig.TlsProvider.OPENSSL),
        ok.clusters().get(0).tls());
    assertNull(parse(MINIMAL).clusters().get(0).tls(), "cleartext unless tls is given");

    List<String> errors = errors("""
        listener: {port: 8080}
        clusters:
          - name: pay
            endpoints: [10.0.0.1:8443]
            tls: {caFile: "%s", certFile: "%s", minVersion: TLSv1.1, provider: libressl}
        routes: [{match: {servicePrefix: ""}, cluster: pay}]
        """.formatted(notPem, notPem));
    assertEquals(4, errors.size(), errors.toString());
    for (String expected : List.of(
        "clusters[0].tls.minVersion: 'TLSv1.1' is not a TLS version the gateway speaks",
        "clusters[0].tls: give certFile and keyFile together",
        "clusters[0].tls.provider: 'libressl' is not a TLS provider (expected: jdk or openssl)",
        "clusters[0].tls.caFile: " + notPem + " is not a PEM certificate chain")) {
      assertTrue(errors.stream().anyMatch(e -> e.contains(expected)), expected + " in " + errors);
    }
  }

  @Test
  void globalRateLimitsNeedTheirStore() throws Exception {
    GatewayConfig config = parse("""
        listener: {port: 8080}
        ratelimit:
          redis: {addresses: ["127.0.0.1:6379"], database: 2, keyPrefix: "gw:"}
          fleetSize: 3
        clusters: [{name: c, endpoints: [10.0.0.1:50051]}]
        routes:
          - match: {servicePrefix: ""}
            cluster: c
            rateLimits: [{key: route, rate: 10/s, scope: global, onStoreFailure: deny,
                          timeout: 30ms, batch: 5}]
        """);
    assertEquals(new GatewayConfig.RateLimitStore(List.of("127.0.0.1:6379"), null, 2, "gw:", 3),
        config.rateLimitStore());
    assertEquals(new GatewayConfig.GlobalLimit(GatewayConfig.OnStoreFailure.DENY,
        java.time.Duration.ofMillis(30), 5), config.routes().get(0).rateLimits().get(0).global());

    List<String> errors = errors("""
        listener: {port: 8080}
        clusters: [{name: c, endpoints: [10.0.0.1:50051]}]
        routes:
          - match: {servicePrefix: ""}
            cluster: c
            rateLimits: [{rate: 10/s, scope: global, onStoreFailure: maybe},
                         {rate: 10/s, scope: fleet}]
        """);
    for (String expected : List.of("scope global counts in Redis: configure ratelimit.redis",
        "'maybe' is not one of allow, deny, local", "'fleet' is not one of local, global")) {
      assertTrue(errors.stream().anyMatch(e -> e.contains(expected)), expected + " in " + errors);
    }
  }

  @Test
  void ipRulesAreCheckedWithTheConfig() throws Exception {
    GatewayConfig config = parse("""
        listener: {port: 8080}
        ipRules: {trustedHops: 1, rules: [{allow: [10.0.0.0/8, "::1"]}], default: deny}
        clusters: [{name: c, endpoints: [10.0.0.1:50051]}]
        routes: [{match: {servicePrefix: ""}, cluster: c}]
        """);
    assertEquals(new GatewayConfig.IpRules(1, List.of(new GatewayConfig.IpRule(true,
        List.of("10.0.0.0/8", "::1"))), true), config.ipRules());
    List<String> errors = errors("""
        listener: {port: 8080}
        ipRules: {rules: [{allow: [10.0.0.0/33]}, {deny: [example.com]}, {}], default: maybe}
        clusters: [{name: c, endpoints: [10.0.0.1:50051]}]
        routes: [{match: {servicePrefix: ""}, cluster: c}]
        """);
    for (String expected : List.of("the prefix length must be 0 to 32",
        "'example.com' is not an IP address or CIDR", "give allow: [cidr, ...] or deny",
        "'maybe' is not allow or deny")) {
      assertTrue(errors.stream().anyMatch(e -> e.contains(expected)), expected + " in " + errors);
    }
  }

  @Test
  void rateLimitsParseRatesAndKeys() throws Exception {
    GatewayConfig config = parse(MINIMAL + """
            rateLimits:
              - {name: per-client, rate: 100/s, burst: 200, trustedHops: 1}
              - {key: "header:X-Api-Key", rate: 6000/m}
              - {key: route, rate: 36/h, maxKeys: 10}
        """);
    List<GatewayConfig.RateLimit> limits = config.routes().get(0).rateLimits();
    assertEquals(new GatewayConfig.RateLimit("per-client", "clientIp", null, 1, 100, 200,
        100_000), limits.get(0));
    assertEquals(new GatewayConfig.RateLimit("rateLimits[1]", "header", "x-api-key", 0, 100,
        100, 100_000), limits.get(1), "burst defaults to a second's worth");
    assertEquals(0.01, limits.get(2).permitsPerSecond(), 1e-9);
    assertEquals(1, limits.get(2).burst());

    assertEquals(List.of(
        "gw.yaml:9:16: routes[0].rateLimits[0].rate: 'fast' is not a rate (expected: a positive"
            + " number of calls per s, m or h, e.g. 100/s or 6000/m)",
        "gw.yaml:10:15: routes[0].rateLimits[1].key: a claim key needs the route to require a"
            + " token (auth:)",
        "gw.yaml:11:15: routes[0].rateLimits[2].key: 'cookie:x' is not a rate-limit key"
            + " (expected: clientIp, route, clientCert, header:<name> or claim:<name>)"),
        errors(MINIMAL + """
                rateLimits:
                  - {rate: fast}
                  - {key: "claim:sub", rate: 1/s}
                  - {key: "cookie:x", rate: 1/s}
            """));
  }

  @Test
  void retriesAndCircuitBreakersHaveDocumentedDefaults() throws Exception {
    GatewayConfig config = parse("""
        listener: {port: 8080}
        clusters:
          - name: users
            endpoints: [127.0.0.1:50051]
            circuitBreaker: {}
        routes:
          - match: {service: acme.users.v1.Users}
            cluster: users
            retry: {}
        """);
    GatewayConfig.CircuitBreaker breaker = config.clusters().get(0).circuitBreaker();
    assertEquals(new GatewayConfig.CircuitBreaker(50, 100, Duration.ofSeconds(60), false, 100,
        20, Duration.ofSeconds(30), 5, java.util.Set.of(io.grpc.Status.Code.UNAVAILABLE,
            io.grpc.Status.Code.DEADLINE_EXCEEDED, io.grpc.Status.Code.INTERNAL,
            io.grpc.Status.Code.UNKNOWN)), breaker);
    assertEquals(new GatewayConfig.Retry(java.util.Set.of(io.grpc.Status.Code.UNAVAILABLE), 3,
        Duration.ofMillis(25), Duration.ofMillis(250), 2, null, 64 * 1024, 0.2, 10),
        config.routes().get(0).retry());

    assertEquals(List.of(
        "gw.yaml:5:36: clusters[0].circuitBreaker.failureCodes: 'TEAPOT' is not a gRPC status"
            + " code (expected names such as UNAVAILABLE, INTERNAL)",
        "gw.yaml:9:45: routes[0].retry.maxBackoff: 1ms is shorter than initialBackoff 1s"),
        errors("""
            listener: {port: 8080}
            clusters:
              - name: users
                endpoints: [127.0.0.1:50051]
                circuitBreaker: {failureCodes: [TEAPOT]}
            routes:
              - match: {service: acme.users.v1.Users}
                cluster: users
                retry: {initialBackoff: 1s, maxBackoff: 1ms}
            """));
  }

  @Test
  void cacheFallbackAndHedgingHaveDefaultsAndAreChecked() throws Exception {
    GatewayConfig config = parse("""
        listener: {port: 8080}
        clusters: [{name: users, endpoints: [127.0.0.1:50051]}]
        routes:
          - match: {service: acme.users.v1.Users}
            cluster: users
            cache: {}
            fallback:
              staleIfError: 5m
              response: {message: {name: "unknown", count: 0, tags: [a], ok: true}}
            hedging: {}
        """);
    GatewayConfig.Route route = config.routes().get(0);
    assertEquals(new GatewayConfig.Cache(Duration.ofSeconds(10), 16L * 1024 * 1024, 1024 * 1024,
        List.of(), List.of(), false), route.cache());
    assertEquals(new GatewayConfig.Fallback(true, true,
        java.util.Set.of(io.grpc.Status.Code.UNAVAILABLE), Duration.ofMinutes(5),
        "{\"name\":\"unknown\",\"count\":0,\"tags\":[\"a\"],\"ok\":true}",
        io.grpc.Status.Code.OK, null, java.util.Map.of()), route.fallback());
    assertEquals(new GatewayConfig.Hedging(2, Duration.ofMillis(50),
        java.util.Set.of(io.grpc.Status.Code.UNAVAILABLE), false, 64 * 1024, 0.2, 10),
        route.hedging());

    assertEquals(List.of(
        "gw.yaml:6:25: routes[0].cache.keySubject: a key with the token's subject or claims"
            + " needs the route to require a token (auth:)",
        "gw.yaml:9:30: routes[1].fallback.staleIfError: stale answers come from the route's"
            + " cache: add cache: to the route",
        "gw.yaml:13:41: routes[2].fallback.response.status: a fallback answers a message (with"
            + " OK) or a failing status, not both",
        "gw.yaml:14:32: routes[2].fallback.response.headers.grpc-status: 'grpc-status' cannot be"
            + " set by a fallback (grpc-*, pseudo and binary headers are the protocol's)",
        "gw.yaml:16:14: routes[2].hedging: a route retries (retry:) or hedges (hedging:), not"
            + " both, as in gRPC's service config",
        "gw.yaml:19:15: routes[3].fallback: needs response.message, response.status or"
            + " staleIfError: what to answer instead"),
        errors("""
            listener: {port: 8080}
            clusters: [{name: users, endpoints: [127.0.0.1:50051]}]
            routes:
              - match: {service: acme.A}
                cluster: users
                cache: {keySubject: true}
              - match: {service: acme.B}
                cluster: users
                fallback: {staleIfError: 1m}
              - match: {service: acme.C}
                cluster: users
                fallback:
                  response: {message: "{}", status: UNAVAILABLE,
                    headers: {grpc-status: "0"}}
                retry: {}
                hedging: {}
              - match: {service: acme.D}
                cluster: users
                fallback: {}
            """));
  }

  @Test
  void splitAndCanaryRoutesAreChecked() throws Exception {
    String clusters = """
        listener: {port: 8080}
        clusters:
          - {name: a, endpoints: [127.0.0.1:1]}
          - {name: b, endpoints: [127.0.0.1:2]}
        routes:
          - match: {service: acme.A}
        """;
    GatewayConfig config = parse(clusters + """
            split: [{cluster: a, weight: 95}, {cluster: b, weight: 5}]
            canary: [{header: X-Canary, value: "true", cluster: b}]
        """);
    GatewayConfig.Route route = config.routes().get(0);
    assertEquals("a", route.cluster(), "the split's first cluster stands for the route");
    assertEquals(List.of(new GatewayConfig.WeightedCluster("a", 95),
        new GatewayConfig.WeightedCluster("b", 5)), route.split());
    assertEquals(List.of(new GatewayConfig.CanaryRule("x-canary", null, "true", "b")),
        route.canary());

    List<String> errors = errors(clusters + """
            cluster: a
            split: [{cluster: c, weight: 0}]
            canary: [{claim: tier, value: beta, cluster: b}]
        """);
    assertEquals(List.of(
        "gw.yaml:8:23: routes[0].split[0].cluster: 'c' is not a defined cluster (defined: a, b)",
        "gw.yaml:8:12: routes[0].split: weights add up to 0 (expected: at least one cluster with"
            + " a positive weight)",
        "gw.yaml:8:12: routes[0].split: a route has a cluster or a split, not both",
        "gw.yaml:9:22: routes[0].canary[0].claim: a claim rule needs the route to require a"
            + " token (auth:)"), errors);
  }

  @Test
  void undefinedClusterIsReportedWithLineColumnAndTheDefinedOnes() {
    List<String> errors = errors("""
        listener: {port: 8080}
        clusters:
          - {name: users, endpoints: [127.0.0.1:1]}
          - {name: orders, endpoints: [127.0.0.1:2]}
        routes:
          - match: {service: a.B}
            cluster: payments
        """);
    assertEquals(List.of("gw.yaml:7:14: routes[0].cluster: 'payments' is not a defined cluster"
        + " (defined: users, orders)"), errors);
  }

  @Test
  void everyErrorIsReportedAtOnce() {
    List<String> errors = errors("""
        listener: {port: 70000, workerThreads: zero}
        limits: {maxMessageBytes: 4 parsecs}
        clusters:
          - {name: a, target: "nope:///x"}
          - {name: a, endpoints: [localhost]}
          - {endpoints: [127.0.0.1:1], lbPolicy: fastest}
        routes:
          - {match: {service: x.Y, servicePrefix: x.}, cluster: a, timeout: 5 minutes}
        tracingg: {}
        """);
    String all = String.join("\n", errors);
    assertTrue(all.contains("gw.yaml:1:18: listener.port: 70000 is out of range"), all);
    assertTrue(all.contains("listener.workerThreads: 'zero' is not an integer"), all);
    assertTrue(all.contains("limits.maxMessageBytes: '4 parsecs' is not a size"), all);
    assertTrue(all.contains("clusters[0].target: scheme 'nope' has no name resolver"), all);
    assertTrue(all.contains("clusters[1].name: 'a' is already the name of an earlier cluster"),
        all);
    assertTrue(all.contains("clusters[1].endpoints[0]: 'localhost' is not an endpoint"), all);
    assertTrue(all.contains("clusters[2].name: is required"), all);
    assertTrue(all.contains("clusters[2].lbPolicy: 'fastest' is not a known load-balancing"),
        all);
    assertTrue(all.contains("routes[0].match: needs exactly one of 'service'"), all);
    assertTrue(all.contains("routes[0].timeout: '5 minutes' is not a duration"), all);
    assertTrue(all.contains("gw.yaml:9:1: tracingg: unknown key (expected one of: listener,"),
        all);
    assertEquals(11, errors.size(), all);
  }

  @Test
  void anUnknownLoadBalancingPolicyListsThePoliciesGrpcHas() {
    String all = String.join("\n", errors("""
        listener: {port: 8080}
        clusters: [{name: a, endpoints: [127.0.0.1:1], lbPolicy: fastest}]
        """));
    assertTrue(all.contains("'fastest' is not a known load-balancing policy (expected one of:"),
        all);
    // Ours, grpc's own and the ones grpc-services brings: whatever the registry loads.
    for (String policy : List.of("meshgate_least_request", "meshgate_ring_hash",
        "meshgate_weighted_round_robin", "meshgate_zone_aware", "pick_first", "round_robin",
        "outlier_detection_experimental")) {
      assertTrue(all.contains(policy), policy + " in: " + all);
    }
  }

  @Test
  void routeThatCanNeverMatchIsAConflict() {
    List<String> errors = errors(MINIMAL + """
          - name: all-users
            match: {servicePrefix: acme.}
            cluster: users
          - name: shadowed
            match: {service: acme.orders.v1.Orders, method: Get}
            cluster: users
        """);
    assertEquals(1, errors.size(), errors.toString());
    assertTrue(errors.get(0).contains("routes[2].match: can never match: all-users (routes[1])"
        + " comes first"), errors.toString());
  }

  @Test
  void authorityRestrictedRoutesDoNotShadowEachOther() throws Exception {
    GatewayConfig config = parse(MINIMAL.replace("routes:\n", """
        routes:
          - match: {service: acme.users.v1.Users, authority: [canary.example.com]}
            cluster: users
        """));
    assertEquals(2, config.routes().size());
  }

  @Test
  void invalidYamlNamesThePlace() {
    List<String> errors = errors("listener: {port: 8080\nclusters: []\n");
    assertEquals(1, errors.size());
    assertTrue(errors.get(0).startsWith("gw.yaml:2:"), errors.toString());
    assertTrue(errors.get(0).contains("not valid YAML"), errors.toString());
  }

  @Test
  void duplicateKeysAreRejected() {
    List<String> errors = errors(MINIMAL + "listener: {port: 9090}\n");
    assertEquals(List.of("gw.yaml:8:1: listener: duplicate key (first set on line 1)"), errors);
  }

  @Test
  void tlsFilesMustBeReadable() {
    List<String> errors = errors(MINIMAL.replace("listener: {port: 8080}",
        "listener: {port: 8080, tls: {certFile: missing.pem, keyFile: missing.key}}"));
    assertEquals(2, errors.size(), errors.toString());
    assertTrue(errors.get(0).contains("listener.tls.certFile: '/tmp/missing.pem' is not a"
        + " readable file"), errors.toString());
  }

  @Test
  void timeoutLongerThanMaxTimeoutIsRejected() {
    List<String> errors = errors(MINIMAL.replace("cluster: users",
        "cluster: users\n    timeout: 10s\n    maxTimeout: 5s"));
    assertTrue(errors.get(0).contains("routes[0].timeout: 10s is longer than maxTimeout 5s"),
        errors.toString());
  }

  @Test
  void etcdClustersTakeTheDiscoveryEndpointsAndPolicyConfig() throws Exception {
    GatewayConfig config = parse("""
        listener: {port: 8080}
        discovery:
          etcd: {endpoints: [10.0.0.5:2379, "http://10.0.0.6:2379"]}
        clusters:
          - name: orders
            target: etcd:///orders?tag=canary
            lbPolicy: meshgate_ring_hash
            lbConfig: {hashHeader: x-user, pointsPerWeight: 100}
            healthCheck: {serviceName: ""}
          - name: pinned
            target: etcd://10.9.9.9:2379/pinned
        routes:
          - {match: {servicePrefix: ""}, cluster: orders}
        """);
    GatewayConfig.Cluster orders = config.clusters().get(0);
    assertEquals("etcd:///orders?tag=canary", orders.target());
    assertEquals(config.discovery().etcdEndpoints(), orders.etcdEndpoints(),
        "resolved through discovery.etcd");
    assertEquals(2, orders.etcdEndpoints().size());
    assertEquals(java.util.Map.of("loadBalancingConfig", List.of(java.util.Map.of(
            "meshgate_ring_hash", java.util.Map.of("hashHeader", "x-user",
                "pointsPerWeight", 100.0))),
        "healthCheckConfig", java.util.Map.of("serviceName", "")), orders.serviceConfig());
    assertEquals("etcd://10.9.9.9:2379/pinned", config.clusters().get(1).target());
    assertEquals(List.of(), config.clusters().get(1).etcdEndpoints(), "its own endpoint");
  }

  @Test
  void policyConfigErrorsComeFromThePolicyWithTheirPlace() {
    List<String> errors = errors("""
        listener: {port: 8080}
        clusters:
          - name: a
            target: etcd:///a?colour=red
            lbPolicy: meshgate_least_request
            lbConfig: {choiceCount: 1}
          - name: b
            endpoints: [127.0.0.1:1]
            lbPolicy: fastest_first
        routes: [{match: {servicePrefix: ""}, cluster: a}]
        """);
    String all = String.join("\n", errors);
    assertTrue(all.contains("gw.yaml:4:13: clusters[0].target: unknown etcd target parameter"
        + " 'colour'"), all);
    assertTrue(all.contains("gw.yaml:6:15: clusters[0].lbConfig: meshgate_least_request config:"
        + " choiceCount: 1.0 (expected: an integer 2..10)"), all);
    assertTrue(all.contains("clusters[1].lbPolicy: 'fastest_first' is not a known"), all);
  }

  @Test
  void emptyDocumentSaysWhatIsExpected() {
    List<String> errors = errors("");
    assertTrue(errors.get(0).contains("the document is empty"), errors.toString());
  }

  @Test
  void transcodingSettingsGlobalAndPerRoute() throws Exception {
    GatewayConfig config = parse("""
        listener: {port: 8080}
        clusters: [{name: users, endpoints: [127.0.0.1:50051]}]
        routes:
          - match: {service: acme.users.v1.Users}
            cluster: users
            transcoding: {json: {enumsAsInts: true}}
        transcoding:
          descriptors: [/dev/null]
          reflection: [{cluster: users, refreshInterval: 30s}]
          json: {emitUnpopulated: true}
          ignoreUnknownQueryParameters: true
          forwardHeaders: [X-Request-Id]
          cors: {allowOrigins: ["https://App.example.com"], maxAge: 1m}
        """);
    GatewayConfig.Transcoding transcoding = config.transcoding();
    assertEquals(List.of(Path.of("/dev/null")), transcoding.descriptorFiles());
    assertEquals(Duration.ofSeconds(30), transcoding.reflection().get(0).refreshInterval());
    assertTrue(transcoding.rest().json().emitUnpopulated());
    assertTrue(transcoding.rest().ignoreUnknownQueryParameters());
    assertEquals(List.of("x-request-id"), transcoding.forwardHeaders());
    assertEquals(List.of("https://app.example.com"), transcoding.cors().allowOrigins());
    GatewayConfig.RestOptions route = config.routes().get(0).rest();
    assertTrue(route.json().enumsAsInts(), "set on the route");
    assertTrue(route.json().emitUnpopulated(), "inherited from the global settings");
    assertTrue(route.ignoreUnknownQueryParameters());
    assertNull(parse(MINIMAL).transcoding().cors());
    assertTrue(!parse(MINIMAL).transcoding().enabled());
  }

  @Test
  void transcodingMistakesAreNamed() {
    List<String> errors = errors(MINIMAL + """
        transcoding:
          descriptors: [missing.pb]
          reflection: [{cluster: payments}]
          forwardHeaders: ["x request"]
          cors: {allowOrigins: ["*", "app.example.com"], allowCredentials: true}
        """);
    assertEquals(List.of(
        "gw.yaml:9:16: transcoding.descriptors[0]: '/tmp/missing.pb' is not a readable file"
            + " (expected a descriptor set made by protoc --include_imports"
            + " --descriptor_set_out)",
        "gw.yaml:10:26: transcoding.reflection[0].cluster: 'payments' is not a defined cluster"
            + " (defined: users)",
        "gw.yaml:11:19: transcoding.forwardHeaders: 'x request' is not a header name that can"
            + " be gRPC metadata (expected: letters, digits, '-', '_', '.')",
        "gw.yaml:12:24: transcoding.cors.allowOrigins: 'app.example.com' is not an origin"
            + " (expected scheme://host[:port], scheme://*.domain, or *)",
        "gw.yaml:12:68: transcoding.cors.allowCredentials: cannot be true with allowOrigins"
            + " '*' (browsers refuse credentials for a wildcard origin): list the origins"),
        errors);
  }
}
