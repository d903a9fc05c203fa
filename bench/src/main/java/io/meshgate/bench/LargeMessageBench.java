package io.meshgate.bench;

import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ServerCalls;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Messages of 1 MiB and 64 MiB through each proxy: a unary call whose request is that large,
 * answered with its length, sent directly, through Meshgate with its default configuration
 * (streamed through), through Meshgate by grpc-java channels ({@code streaming: false},
 * {@code limits.maxMessageBytes: 128MiB}), and through HAProxy, nghttpx, nginx and Caddy. Prints
 * per path and size: whether it passed (or the status it got), the time per call, and how much
 * the proxy process's resident memory grew at its peak during the calls (sampled from
 * {@code /proc} every 20 ms); for Meshgate also the peaks of the direct buffer memory and of the
 * heap after GC its overload manager reports, over their values before the calls. The calls are
 * timed in a pass of their own, the memory sampled in a second pass of the same calls. The backend is a grpc-java server of this harness that
 * accepts 128 MiB messages.
 */
public final class LargeMessageBench {
  private static final MethodDescriptor<byte[], byte[]> ECHO_LENGTH = MethodDescriptor
      .<byte[], byte[]>newBuilder()
      .setType(MethodDescriptor.MethodType.UNARY)
      .setFullMethodName("bench.Large/Length")
      .setRequestMarshaller(new Bytes())
      .setResponseMarshaller(new Bytes())
      .build();
  private static final int LIMIT = 128 * 1024 * 1024;

  private LargeMessageBench() {}

  private static final java.net.http.HttpClient HTTP = java.net.http.HttpClient.newBuilder()
      .version(java.net.http.HttpClient.Version.HTTP_1_1).build();

  /**
   * Untimed 1 MiB calls per path first: enough for the JVM proxies' per-frame code to be compiled
   * by C2 (about 80 frames a call; 50 calls left part of it interpreted or in C1, which
   * added milliseconds per call to Meshgate's first timed 1 MiB calls).
   */
  private static final int WARM_UP_CALLS = 400;

  /** Messages as byte arrays. */
  private static final class Bytes implements MethodDescriptor.Marshaller<byte[]> {
    @Override
    public InputStream stream(byte[] value) {
      return new ByteArrayInputStream(value);
    }

    @Override
    public byte[] parse(InputStream stream) {
      try {
        return stream.readAllBytes();
      } catch (IOException e) {
        throw Status.INTERNAL.withCause(e).asRuntimeException();
      }
    }
  }

  /** One size through one path. */
  record Result(String outcome, double millisPerCall, long peakRssGrowth, long peakDirect,
      long peakHeap) {}

  public static void main(String[] args) throws Exception {
    ProxyBench bench = new ProxyBench(Map.of("root", args.length > 0 ? args[0] : "..",
        "floors", "false"));
    try (BenchProcesses processes = bench.processes()) {
      run(bench, processes);
    }
  }

  private static void run(ProxyBench bench, BenchProcesses processes) throws Exception {
    Server backend = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .maxInboundMessageSize(LIMIT)
        .addService(ServerServiceDefinition.builder("bench.Large")
            .addMethod(ECHO_LENGTH, ServerCalls.asyncUnaryCall((request, responses) -> {
              responses.onNext(ByteBuffer.allocate(8).putLong(request.length).array());
              responses.onCompleted();
            })).build())
        .build().start();
    try {
      Map<String, Integer> ports = new LinkedHashMap<>();
      Map<String, Process> proxies = new LinkedHashMap<>();
      Map<String, Integer> admins = new LinkedHashMap<>();
      ports.put("direct", backend.getPort());
      for (String variant : List.of("meshgate", "meshgate channels")) {
        int port = BenchProcesses.freePort();
        int admin = BenchProcesses.freePort();
        Path config = bench.work().resolve(variant.replace(' ', '-') + ".yaml");
        Files.writeString(config, String.format(Locale.ROOT, """
            listener: {host: 127.0.0.1, port: %d, workerThreads: %d}
            admin: {host: 127.0.0.1, port: %d}
            %s
            clusters: [{name: bench, endpoints: ["127.0.0.1:%d"], streaming: %s}]
            routes: [{match: {servicePrefix: ""}, cluster: bench}]
            """, port, bench.workers(), admin, variant.contains("channels")
            ? "limits: {maxMessageBytes: 128MiB}" : "", backend.getPort(),
            !variant.contains("channels")));
        proxies.put(variant, processes.start(variant.replace(' ', '-'), List.of(
            bench.root().resolve("bin/meshgate").toString(), "--config", config.toString())));
        processes.awaitPort(port);
        ports.put(variant, port);
        admins.put(variant, admin);
      }
      Map<String, Integer> peers = bench.startPeers(backend.getPort(), proxies);
      ports.putAll(peers);
      System.out.printf(Locale.ROOT, "Large messages: one unary call at a time, its request 1 MiB"
          + " (20 calls) or 64 MiB (3 calls), answered with its length, after 400 untimed 1 MiB"
          + " calls through each path; %d cores%n%n",
          Runtime.getRuntime().availableProcessors());
      System.out.printf(Locale.ROOT, "%-17s %-7s %-28s %12s %16s %14s %14s%n", "path", "size",
          "outcome", "ms per call", "peak RSS growth", "direct growth", "heap growth");
      // Warm up every path (the client's and the JVM proxies' code compiled), untimed.
      byte[] warm = new byte[1 << 20];
      for (Map.Entry<String, Integer> path : ports.entrySet()) {
        measure(path.getValue(), warm, WARM_UP_CALLS, null, null);
      }
      for (int size : new int[] {1 << 20, 64 << 20}) {
        int calls = size == 1 << 20 ? 20 : 3;
        byte[] message = new byte[size];
        for (Map.Entry<String, Integer> path : ports.entrySet()) {
          Result r = measure(path.getValue(), message, calls, proxies.get(path.getKey()),
              admins.get(path.getKey()));
          System.out.printf(Locale.ROOT, "%-17s %-7s %-28s %12.1f %16s %14s %14s%n",
              path.getKey(), size == 1 << 20 ? "1 MiB" : "64 MiB", r.outcome(),
              r.millisPerCall(), r.peakRssGrowth() < 0 ? "-" : mib(r.peakRssGrowth()),
              r.peakDirect() < 0 ? "-" : mib(r.peakDirect()),
              r.peakHeap() < 0 ? "-" : mib(r.peakHeap()));
        }
      }
    } finally {
      backend.shutdownNow();
    }
  }

  private static String mib(long bytes) {
    return String.format(Locale.ROOT, "%.1f MiB", bytes / 1048576.0);
  }

  /**
   * Times {@code calls} calls with nothing else running in this process, then makes them again
   * while sampling the proxy's memory: the samples (reading {@code /proc}, scraping Meshgate's
   * metrics) take CPU of the same cores, and only the memory pass pays for them.
   */
  private static Result measure(int port, byte[] message, int calls, Process proxy,
      Integer admin) throws Exception {
    long started = System.nanoTime();
    String[] outcome = {"OK"};
    int made = calls(port, message, calls, outcome);
    double millis = (System.nanoTime() - started) / 1e6 / Math.max(1, made);
    if (proxy == null || made < calls) {
      return new Result(outcome[0], millis, -1, -1, -1);
    }
    AtomicBoolean done = new AtomicBoolean();
    AtomicLong peakRss = new AtomicLong();
    AtomicLong peakDirect = new AtomicLong(-1);
    AtomicLong peakHeap = new AtomicLong(-1);
    long baseline = rss(proxy.pid());
    long[] before = admin == null ? null : memory(admin);
    Thread sampler = new Thread(() -> {
      while (!done.get()) {
        peakRss.accumulateAndGet(rss(proxy.pid()), Math::max);
        if (admin != null) {
          long[] now = memory(admin);
          peakDirect.accumulateAndGet(now[0], Math::max);
          peakHeap.accumulateAndGet(now[1], Math::max);
        }
        try {
          TimeUnit.MILLISECONDS.sleep(20);
        } catch (InterruptedException e) {
          return;
        }
      }
    }, "sampler");
    sampler.setDaemon(true);
    sampler.start();
    try {
      calls(port, message, calls, outcome);
    } finally {
      done.set(true);
      sampler.join();
    }
    // A figure no sample could read is printed as "-", not as no growth.
    return new Result(outcome[0], millis, peakRss.get() - baseline,
        before == null || before[0] < 0 || peakDirect.get() < 0 ? -1
            : Math.max(0, peakDirect.get() - before[0]),
        before == null || before[1] < 0 || peakHeap.get() < 0 ? -1
            : Math.max(0, peakHeap.get() - before[1]));
  }

  /** Makes up to {@code calls} calls on a new channel; the number that passed. */
  private static int calls(int port, byte[] message, int calls, String[] outcome)
      throws InterruptedException {
    ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext()
        .maxInboundMessageSize(LIMIT).build();
    int made = 0;
    try {
      for (int i = 0; i < calls; i++) {
        byte[] answer = ClientCalls.blockingUnaryCall(channel, ECHO_LENGTH,
            CallOptions.DEFAULT.withDeadlineAfter(60, TimeUnit.SECONDS), message);
        made++;
        if (ByteBuffer.wrap(answer).getLong() != message.length) {
          outcome[0] = "wrong length";
        }
      }
    } catch (StatusRuntimeException e) {
      outcome[0] = e.getStatus().getCode().toString(); // the reason: in the proxy's log
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    return made;
  }

  /** Resident memory of a process and its children (nginx's workers), in bytes. */
  private static long rss(long pid) {
    long total = rssOf(pid);
    for (ProcessHandle child : (Iterable<ProcessHandle>) ProcessHandle.of(pid).map(
        ProcessHandle::descendants).orElse(java.util.stream.Stream.empty())::iterator) {
      total += rssOf(child.pid());
    }
    return total;
  }

  private static long rssOf(long pid) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
        if (line.startsWith("VmRSS:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        }
      }
    } catch (IOException | NumberFormatException e) {
      return 0;
    }
    return 0;
  }

  /**
   * Meshgate's direct buffer memory in use and heap in use after the last GC (in that order; -1
   * when not read), from its overload manager's metrics.
   */
  private static long[] memory(int admin) {
    long[] found = {-1, -1};
    try {
      java.net.http.HttpResponse<String> metrics = HTTP.send(
          java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + admin
              + "/metrics")).build(), java.net.http.HttpResponse.BodyHandlers.ofString());
      for (String line : metrics.body().split("\n")) {
        if (line.startsWith("meshgate_overload_memory_bytes")) {
          long value = (long) Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
          if (line.contains("\"direct\"")) {
            found[0] = value;
          } else if (line.contains("\"heap\"")) {
            found[1] = value;
          }
        }
      }
    } catch (IOException | InterruptedException | RuntimeException e) {
      return found;
    }
    return found;
  }

}
