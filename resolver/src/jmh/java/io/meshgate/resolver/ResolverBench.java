package io.meshgate.resolver;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.op.Op;
import io.etcd.jetcd.options.PutOption;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.meshgate.testing.Await;
import io.meshgate.testing.EtcdCluster;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.OptionsBuilder;

/**
 * The discovery benchmark (bench/run-resolver-bench). Against a real etcd on loopback, prints:
 * how long an etcd write (an instance added or removed) takes to change a client's traffic (p50,
 * p99 over many changes); how long and how much heap it takes to resolve and watch a service
 * with 10,000 instances; then JMH's cost of one pick per policy.
 */
public final class ResolverBench {
  private static final int CHANGES = 100;
  private static final int BIG = 10_000;

  private ResolverBench() {}

  public static void main(String[] args) throws Exception {
    System.out.printf(Locale.ROOT, "Meshgate discovery benchmark (%d cores)%n%n",
        Runtime.getRuntime().availableProcessors());
    try (EtcdCluster etcd = EtcdCluster.start(1)) {
      changeToTraffic(etcd);
      bigService(etcd);
    }
    new Runner(new OptionsBuilder()
        .include(PickerBenchmark.class.getSimpleName())
        .jvmArgsAppend("-Xmx1g")
        .build()).run();
  }

  /** Adds and removes an instance {@value #CHANGES} times; measures write ack → traffic change. */
  private static void changeToTraffic(EtcdCluster etcd) throws Exception {
    Client client = etcd.client();
    try (TestBackend stable = new TestBackend(); TestBackend flapping = new TestBackend()) {
      put(client, "flap/stable", stable.port());
      ManagedChannel channel = Grpc.newChannelBuilder("etcd://" + etcd.authority() + "/flap",
              InsecureChannelCredentials.create())
          .defaultServiceConfig(Map.of("loadBalancingConfig",
              List.of(Map.of("meshgate_weighted_round_robin", Map.of()))))
          .build();
      // One caller calls all the time; each answer says who served it and when the call began.
      AtomicBoolean running = new AtomicBoolean(true);
      AtomicLong lastFlappingAnswer = new AtomicLong();
      AtomicLong firstFlappingAnswerAfter = new AtomicLong(Long.MAX_VALUE);
      AtomicLong mark = new AtomicLong(Long.MAX_VALUE);
      AtomicLong callsSinceFlapping = new AtomicLong();
      AtomicLong quietSince = new AtomicLong();
      Thread caller = new Thread(() -> {
        while (running.get()) {
          long started = System.nanoTime();
          int port;
          try {
            port = TestBackend.hit(channel);
          } catch (StatusRuntimeException e) {
            continue;
          }
          long ended = System.nanoTime();
          if (port == flapping.port()) {
            lastFlappingAnswer.set(ended);
            callsSinceFlapping.set(0);
            if (started >= mark.get()) {
              firstFlappingAnswerAfter.compareAndSet(Long.MAX_VALUE, ended);
            }
          } else if (callsSinceFlapping.incrementAndGet() == 1) {
            quietSince.set(started);
          }
        }
      }, "bench-caller");
      caller.start();
      Await.until("the stable instance takes calls", Duration.ofSeconds(30),
          () -> callsSinceFlapping.get() > 10);

      List<Double> added = new ArrayList<>();
      List<Double> removed = new ArrayList<>();
      for (int i = 0; i < CHANGES / 2; i++) {
        firstFlappingAnswerAfter.set(Long.MAX_VALUE);
        put(client, "flap/flapping", flapping.port());
        long written = System.nanoTime();
        mark.set(written);
        Await.until("the added instance takes a call", Duration.ofSeconds(10),
            () -> firstFlappingAnswerAfter.get() != Long.MAX_VALUE);
        added.add((firstFlappingAnswerAfter.get() - written) / 1e6);
        mark.set(Long.MAX_VALUE);

        client.getKVClient().delete(ByteSequence.from("flap/flapping", StandardCharsets.UTF_8))
            .get(10, TimeUnit.SECONDS);
        long deleted = System.nanoTime();
        // Traffic has changed once 20 calls in a row, begun after the write, went elsewhere; it
        // changed when the last answer from the removed instance came (or at the write).
        Await.until("the removed instance stops taking calls", Duration.ofSeconds(10),
            () -> callsSinceFlapping.get() >= 20
                && (quietSince.get() >= deleted || lastFlappingAnswer.get() < deleted));
        removed.add(Math.max(0, lastFlappingAnswer.get() - deleted) / 1e6);
      }
      running.set(false);
      caller.join(10_000);
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      System.out.println("etcd write -> client traffic changed (ms), " + CHANGES + " changes:");
      System.out.printf(Locale.ROOT, "  instance added:   p50 %6.1f  p99 %6.1f  max %6.1f%n",
          percentile(added, 50), percentile(added, 99), percentile(added, 100));
      System.out.printf(Locale.ROOT, "  instance removed: p50 %6.1f  p99 %6.1f  max %6.1f%n",
          percentile(removed, 50), percentile(removed, 99), percentile(removed, 100));
      List<Double> all = new ArrayList<>(added);
      all.addAll(removed);
      System.out.printf(Locale.ROOT, "  all changes:      p50 %6.1f  p99 %6.1f   (bar: p99 < 100)%n%n",
          percentile(all, 50), percentile(all, 99));
    }
  }

  /** Registers 10,000 instances; measures a fresh resolver's listing, watch and heap. */
  private static void bigService(EtcdCluster etcd) throws Exception {
    Client client = etcd.client();
    long writeStart = System.nanoTime();
    List<Op> batch = new ArrayList<>();
    for (int i = 0; i < BIG; i++) {
      int port = 20_000 + (i % 40_000);
      String host = "10." + (i / 65536 % 256) + "." + (i / 256 % 256) + "." + (i % 256);
      String value = "{\"Op\":0,\"Addr\":\"" + host + ":" + port + "\",\"Metadata\":{\"weight\":"
          + (1 + i % 5) + ",\"zone\":\"z" + (i % 3) + "\",\"tags\":[\"t" + (i % 7) + "\"]}}";
      batch.add(Op.put(ByteSequence.from("big/" + i, StandardCharsets.UTF_8),
          ByteSequence.from(value, StandardCharsets.UTF_8), PutOption.DEFAULT));
      if (batch.size() == 100 || i == BIG - 1) {
        client.getKVClient().txn().Then(batch.toArray(new Op[0])).commit()
            .get(30, TimeUnit.SECONDS);
        batch.clear();
      }
    }
    System.out.printf(Locale.ROOT, "%d instances written to etcd in %.0f ms%n", BIG,
        (System.nanoTime() - writeStart) / 1e6);

    EtcdNameResolverProvider provider = new EtcdNameResolverProvider();
    // Warm the code paths on a small service first, so the figure is not class loading.
    try (RecordingResolver warm = new RecordingResolver(provider,
        "etcd://" + etcd.authority() + "/flap")) {
      warm.await("warm-up", groups -> true);
    }
    long heapBefore = usedHeap();
    long start = System.nanoTime();
    RecordingResolver resolver = new RecordingResolver(provider,
        "etcd://" + etcd.authority() + "/big");
    resolver.await("10,000 instances", groups -> groups.size() == BIG);
    double resolveMs = (System.nanoTime() - start) / 1e6;
    long heapAfter = usedHeap();
    long watchStart = System.nanoTime();
    client.getKVClient().put(ByteSequence.from("big/extra", StandardCharsets.UTF_8),
        ByteSequence.from("{\"Addr\":\"10.200.0.1:1\"}", StandardCharsets.UTF_8))
        .get(10, TimeUnit.SECONDS);
    resolver.await("10,001 instances", groups -> groups.size() == BIG + 1);
    double watchMs = (System.nanoTime() - watchStart) / 1e6;
    System.out.printf(Locale.ROOT, "resolve a service of %d instances: %.0f ms (bar: < 1000 ms),"
            + " heap held %.1f MiB; one change on top applied in %.1f ms%n%n", BIG, resolveMs,
        (heapAfter - heapBefore) / 1048576.0, watchMs);
    resolver.close();
  }

  private static long usedHeap() {
    for (int i = 0; i < 3; i++) {
      System.gc();
    }
    Runtime runtime = Runtime.getRuntime();
    return runtime.totalMemory() - runtime.freeMemory();
  }

  private static void put(Client client, String key, int port) throws Exception {
    client.getKVClient().put(ByteSequence.from(key, StandardCharsets.UTF_8),
        ByteSequence.from("{\"Op\":0,\"Addr\":\"127.0.0.1:" + port + "\"}",
            StandardCharsets.UTF_8)).get(10, TimeUnit.SECONDS);
  }

  private static double percentile(List<Double> values, int p) {
    List<Double> sorted = new ArrayList<>(values);
    Collections.sort(sorted);
    int index = (int) Math.ceil(p / 100.0 * sorted.size()) - 1;
    return sorted.get(Math.max(0, Math.min(sorted.size() - 1, index)));
  }
}
