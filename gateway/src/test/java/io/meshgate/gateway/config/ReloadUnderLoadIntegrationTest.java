package io.meshgate.gateway.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.meshgate.gateway.Gateway;
import io.meshgate.gateway.testing.SampleFleet;
import io.meshgate.testing.Await;
import io.meshgate.samples.SampleServer;
import io.meshgate.samples.echo.v1.EchoRequest;
import io.meshgate.samples.echo.v1.EchoResponse;
import io.meshgate.samples.echo.v1.EchoServiceGrpc;
import io.meshgate.samples.orders.v1.GetOrderRequest;
import io.meshgate.samples.orders.v1.OrderServiceGrpc;
import io.meshgate.samples.users.v1.GetUserRequest;
import io.meshgate.samples.users.v1.UserDirectoryGrpc;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * 100 configuration changes that add, change and remove routes and clusters while unary and
 * streaming calls run on the routes that stay: not one of those calls may fail. Calls to the
 * route that comes and goes may only fail with UNIMPLEMENTED (it was not there).
 */
@Timeout(120)
class ReloadUnderLoadIntegrationTest {
  @TempDir
  static Path dir;
  private static SampleFleet fleet;

  @BeforeAll
  static void start() throws Exception {
    fleet = SampleFleet.start();
  }

  @AfterAll
  static void stop() {
    if (fleet != null) {
      fleet.close();
    }
  }

  /** Change number {@code i}: every one differs from the one before. */
  private static String config(int i) {
    int users = fleet.server(SampleServer.Kind.USERS).port();
    int echo = fleet.server(SampleServer.Kind.ECHO).port();
    int orders = fleet.server(SampleServer.Kind.ORDERS).port();
    StringBuilder yaml = new StringBuilder("""
        listener: {host: 127.0.0.1, port: 0, workerThreads: 2}
        admin: {host: 127.0.0.1, port: 0}
        clusters:
        """);
    // Every tenth change replaces the users cluster (new settings, new channels).
    yaml.append("  - {name: users, endpoints: [127.0.0.1:").append(users)
        .append("], connectTimeout: ").append(5 + i / 10).append("s}\n");
    yaml.append("  - {name: echo, endpoints: [127.0.0.1:").append(echo).append("]}\n");
    if (i % 2 == 1) {
      // A cluster and a route that exist in every other version only.
      yaml.append("  - {name: orders-").append(i).append(", endpoints: [127.0.0.1:")
          .append(orders).append("]}\n");
    }
    yaml.append("routes:\n");
    yaml.append("  - {name: users, match: {service: meshgate.samples.users.v1.UserDirectory},"
        + " cluster: users, timeout: ").append(5 + i % 3).append("s}\n");
    yaml.append("  - {name: echo, match: {service: meshgate.samples.echo.v1.EchoService},"
        + " cluster: echo, maxTimeout: ").append(30 + i).append("s}\n");
    if (i % 2 == 1) {
      yaml.append("  - {name: orders, match: {servicePrefix: meshgate.samples.orders.},"
          + " cluster: orders-").append(i).append("}\n");
    }
    return yaml.toString();
  }

  @Test
  void aHundredReloadsFailNoCallOnTheRoutesThatStay() throws Exception {
    try (Gateway gateway = Gateway.start(ConfigLoader.parse("load.yaml", config(0), dir))) {
      ManagedChannel channel = io.grpc.netty.NettyChannelBuilder
          .forTarget("127.0.0.1:" + gateway.port()).usePlaintext().build();
      AtomicBoolean running = new AtomicBoolean(true);
      AtomicInteger calls = new AtomicInteger();
      Map<String, Integer> failures = new ConcurrentHashMap<>();
      AtomicInteger unroutedOrders = new AtomicInteger();
      ExecutorService load = Executors.newFixedThreadPool(4);
      List<Future<?>> workers = new ArrayList<>();
      try {
        workers.add(load.submit(() -> {
          while (running.get()) {
            try {
              EchoServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
                  .echo(EchoRequest.newBuilder().setMessage("u").build());
              calls.incrementAndGet();
            } catch (StatusRuntimeException e) {
              failures.merge("echo: " + e.getStatus(), 1, Integer::sum);
            }
          }
        }));
        workers.add(load.submit(() -> {
          while (running.get()) {
            try {
              Iterator<EchoResponse> stream = EchoServiceGrpc.newBlockingStub(channel)
                  .withDeadlineAfter(10, TimeUnit.SECONDS)
                  .expand(EchoRequest.newBuilder().setMessage("s").setResponseCount(20)
                      .setDelayMillis(1).build());
              int n = 0;
              while (stream.hasNext()) {
                stream.next();
                n++;
              }
              if (n != 20) {
                failures.merge("expand: " + n + " of 20 messages", 1, Integer::sum);
              }
              calls.incrementAndGet();
            } catch (StatusRuntimeException e) {
              failures.merge("expand: " + e.getStatus(), 1, Integer::sum);
            }
          }
        }));
        workers.add(load.submit(() -> {
          while (running.get()) {
            try {
              UserDirectoryGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
                  .getUser(GetUserRequest.newBuilder().setUserId("u-1").build());
              calls.incrementAndGet();
            } catch (StatusRuntimeException e) {
              failures.merge("users: " + e.getStatus(), 1, Integer::sum);
            }
          }
        }));
        workers.add(load.submit(() -> {
          while (running.get()) {
            try {
              OrderServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
                  .getOrder(GetOrderRequest.newBuilder().setOrderId("none").build());
            } catch (StatusRuntimeException e) {
              // The route comes and goes: UNIMPLEMENTED while it is away, NOT_FOUND (from the
              // backend) while it is there. Anything else is a failure.
              if (e.getStatus().getCode() == Status.Code.UNIMPLEMENTED) {
                unroutedOrders.incrementAndGet();
              } else if (e.getStatus().getCode() != Status.Code.NOT_FOUND) {
                failures.merge("orders: " + e.getStatus(), 1, Integer::sum);
              }
            }
          }
        }));
        for (int i = 1; i <= 100; i++) {
          int before = calls.get();
          gateway.apply(ConfigLoader.parse("load.yaml", config(i), dir));
          // Some calls complete on every version (a stall would be a bug of its own).
          int version = i;
          Await.until("calls complete after change " + version, java.time.Duration.ofSeconds(10),
              () -> calls.get() >= before + 10);
        }
        running.set(false);
        for (Future<?> worker : workers) {
          worker.get(30, TimeUnit.SECONDS);
        }
      } finally {
        running.set(false);
        load.shutdownNow();
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
      assertEquals(Map.of(), failures, "calls that failed across 100 reloads");
      assertTrue(calls.get() > 1000, "calls made during the reloads: " + calls.get());
      assertTrue(unroutedOrders.get() > 0, "the removed route answered UNIMPLEMENTED");
      assertEquals(101, gateway.configVersion());
    }
  }
}
