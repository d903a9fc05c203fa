package io.meshgate.gateway.soak;

import com.google.common.util.concurrent.FutureCallback;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.MoreExecutors;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.stub.StreamObserver;
import io.meshgate.gateway.testing.GatewayProcess;
import io.meshgate.gateway.testing.Metrics;
import io.meshgate.gateway.testing.SampleFleet;
import io.meshgate.gateway.testing.StallingClient;
import io.meshgate.samples.echo.v1.EchoRequest;
import io.meshgate.samples.echo.v1.EchoResponse;
import io.meshgate.samples.echo.v1.EchoServiceGrpc;
import io.meshgate.testing.FreePorts;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http2.DefaultHttp2Connection;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Connection;
import io.netty.handler.codec.http2.Http2ConnectionHandler;
import io.netty.handler.codec.http2.Http2ConnectionHandlerBuilder;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2FrameAdapter;
import io.netty.handler.codec.http2.Http2Headers;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A soak of the gateway as users run it ({@code bin/meshgate} in its own process, so that its
 * RSS, threads and file descriptors are its own): mixed gRPC unary, server-streaming and REST
 * load at fixed rates, a configuration reload every {@code reloadEvery}, and a trickle of the
 * hostile cases of the hardening issue in the background — rapid reset, slowloris, stalled
 * streams, invalid UTF-8, malformed admin requests — from another loopback address
 * (127.0.0.2), so that the abuse bans they earn do not touch the legitimate clients. Every
 * {@code interval} it prints RSS, heap after GC, direct memory held by buffers, file descriptors
 * and threads; at the end, a verdict: flat (after the warm-up, each figure's floor over the
 * second half within 10% of its floor over the first, plus a small allowance), no failed
 * legitimate call, every hostile case answered as it should be, no
 * buffer leak reported (with Netty's paranoid leak detection on in the gateway).
 *
 * <p>Runs from {@code SoakIntegrationTest} (2 minutes in the suite) and {@code bench/run-soak}
 * (30 minutes by default).
 */
public final class Soak {
  /** How long and how. */
  public record Options(Duration duration, Duration interval, Duration reloadEvery,
      boolean paranoid) {}

  /** One measurement of the gateway process. */
  public record Sample(Duration at, long rssBytes, long heapBytes, long directBytes, long fds,
      long threads) {}

  /** What the soak found. */
  public record Report(List<Sample> samples, long calls, List<String> failures,
      List<String> hostileSurprises, long reloads, List<String> leaks, List<String> growth) {
    /** Whether everything held. */
    public boolean passed() {
      return failures.isEmpty() && hostileSurprises.isEmpty() && leaks.isEmpty()
          && growth.isEmpty();
    }
  }

  private static final long MIB = 1 << 20;
  private static final String HOSTILE_ADDRESS = "127.0.0.2";

  private final Options options;
  private final PrintStream out;
  private final AtomicLong calls = new AtomicLong();
  private final ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
  private final ConcurrentLinkedQueue<String> surprises = new ConcurrentLinkedQueue<>();
  private final AtomicInteger hostileRound = new AtomicInteger();

  private Soak(Options options, PrintStream out) {
    this.options = options;
    this.out = out;
  }

  public static void main(String[] args) throws Exception {
    Duration duration = Duration.ofMinutes(30);
    Duration interval = Duration.ofMinutes(1);
    for (String arg : args) {
      if (arg.startsWith("--duration=")) {
        duration = parse(arg.substring(11));
      } else if (arg.startsWith("--interval=")) {
        interval = parse(arg.substring(11));
      } else {
        System.err.println("usage: Soak [--duration=30m] [--interval=1m]");
        System.exit(2);
      }
    }
    Report report = run(new Options(duration, interval, Duration.ofSeconds(10), true), System.out);
    System.exit(report.passed() ? 0 : 1);
  }

  /** {@code 90s}, {@code 2m}, {@code 1h}. */
  public static Duration parse(String text) {
    long n = Long.parseLong(text.substring(0, text.length() - 1));
    return switch (text.charAt(text.length() - 1)) {
      case 's' -> Duration.ofSeconds(n);
      case 'm' -> Duration.ofMinutes(n);
      case 'h' -> Duration.ofHours(n);
      default -> throw new IllegalArgumentException("not a duration: " + text);
    };
  }

  /** Runs the soak; prints as it goes. */
  public static Report run(Options options, PrintStream out) throws Exception {
    return new Soak(options, out).soak();
  }

  private Report soak() throws Exception {
    Path dir = Files.createTempDirectory("meshgate-soak");
    int port = FreePorts.next();
    int admin = FreePorts.next();
    Path config = dir.resolve("gateway.yaml");
    try (SampleFleet fleet = SampleFleet.start()) {
      Path descriptors = SampleFleet.descriptorSet(dir);
      writeConfig(config, port, admin, fleet, descriptors, 0);
      // The heap committed and touched from the start, so that RSS does not climb as the heap
      // grows into -Xmx: what RSS growth remains is memory outside the heap.
      String javaOpts = "-Xms256m -Xmx256m -XX:+AlwaysPreTouch" + (options.paranoid()
          ? " -Dio.netty.leakDetection.level=paranoid" : "");
      try (GatewayProcess gateway = GatewayProcess.start(config, admin, javaOpts)) {
        long pid = gateway.process().pid();
        out.printf("soak: gateway pid %d on :%d (admin :%d), %s, sampling every %s%s%n", pid,
            port, admin, options.duration(), options.interval(),
            options.paranoid() ? ", paranoid leak detection" : "");
        ManagedChannel channel = ManagedChannelBuilder.forAddress("127.0.0.1", port)
            .usePlaintext().build();
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();
        ScheduledExecutorService load = Executors.newScheduledThreadPool(3);
        ScheduledExecutorService hostile = Executors.newSingleThreadScheduledExecutor();
        List<Sample> samples = new ArrayList<>();
        AtomicInteger reloads = new AtomicInteger();
        long start = System.nanoTime();
        try {
          startLoad(load, channel, http, port);
          load.scheduleWithFixedDelay(() -> {
            try {
              writeConfig(config, port, admin, fleet, descriptors, reloads.incrementAndGet());
            } catch (IOException e) {
              failures.add("config write: " + e);
            }
          }, options.reloadEvery().toNanos(), options.reloadEvery().toNanos(),
              TimeUnit.NANOSECONDS);
          hostile.scheduleWithFixedDelay(() -> hostileCase(port, admin), 500, 2000,
              TimeUnit.MILLISECONDS);
          long end = start + options.duration().toNanos();
          long next = start;
          // The sampling clock: each sample is due one interval after the last.
          while (true) {
            next += options.interval().toNanos();
            if (next > end) {
              break;
            }
            awaitUntil(next);
            Sample sample = sample(pid, admin, Duration.ofNanos(System.nanoTime() - start));
            samples.add(sample);
            out.printf(Locale.ROOT, "soak %6.1f min: rss %5d MiB, heap after GC %4d MiB, direct"
                + " %4d MiB, fds %4d, threads %3d; calls %d, failed %d%n",
                sample.at().toMillis() / 60_000.0, sample.rssBytes() / MIB,
                sample.heapBytes() / MIB, sample.directBytes() / MIB, sample.fds(),
                sample.threads(), calls.get(), failures.size());
          }
        } finally {
          load.shutdownNow();
          hostile.shutdownNow();
          load.awaitTermination(10, TimeUnit.SECONDS);
          hostile.awaitTermination(10, TimeUnit.SECONDS);
          channel.shutdown().awaitTermination(10, TimeUnit.SECONDS);
        }
        double applied = Metrics.scrape(admin).sum("meshgate_config_reloads_total", "result",
            "applied");
        List<String> leaks = gateway.output().lines().filter(l -> l.contains("LEAK:")).toList();
        Report report = new Report(samples, calls.get(), List.copyOf(failures),
            List.copyOf(surprises), (long) applied, leaks, growth(samples));
        out.printf("soak verdict: %s — %d calls, %d failed; %d hostile cases, %d answered"
            + " wrongly; %d reloads applied (%d written); %d leak reports%s%n",
            report.passed() ? "PASS (flat)" : "FAIL", report.calls(), report.failures().size(),
            hostileRound.get(), report.hostileSurprises().size(), report.reloads(),
            reloads.get(), leaks.size(),
            report.growth().isEmpty() ? "" : "; growing: " + report.growth());
        report.failures().stream().limit(5).forEach(f -> out.println("  failed: " + f));
        report.hostileSurprises().stream().limit(5).forEach(f -> out.println("  hostile: " + f));
        leaks.stream().limit(3).forEach(l -> out.println("  " + l));
        return report;
      }
    }
  }

  /** Waits for the clock to reach {@code nanoTime} (the soak's pace, not a condition). */
  private static void awaitUntil(long nanoTime) throws InterruptedException {
    Object clock = new Object();
    synchronized (clock) {
      long left;
      while ((left = nanoTime - System.nanoTime()) > 0) {
        TimeUnit.NANOSECONDS.timedWait(clock, left);
      }
    }
  }

  private void writeConfig(Path config, int port, int admin, SampleFleet fleet, Path descriptors,
      int revision) throws IOException {
    // Each revision changes the echo route's timeout, so that every reload has work to do.
    String routes = fleet.clustersAndRoutes().replace("cluster: echo, timeout: 10s",
        "cluster: echo, timeout: " + (10 + revision % 2) + "s");
    Path next = config.resolveSibling("gateway.yaml.next");
    Files.writeString(next, """
        listener: {host: 127.0.0.1, port: %d}
        admin: {port: %d}
        limits:
          requestHeadersTimeout: 2s
          settingsAckTimeout: 2s
          abuseBan: {initialBan: 1s, maxBan: 2s}
        transcoding: {descriptors: ["%s"]}
        """.formatted(port, admin, descriptors) + routes);
    Files.move(next, config, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
        java.nio.file.StandardCopyOption.ATOMIC_MOVE);
  }

  // ---- Legitimate load ---------------------------------------------------------------------

  private void startLoad(ScheduledExecutorService load, ManagedChannel channel, HttpClient http,
      int port) {
    EchoServiceGrpc.EchoServiceFutureStub unary = EchoServiceGrpc.newFutureStub(channel);
    EchoServiceGrpc.EchoServiceStub streaming = EchoServiceGrpc.newStub(channel);
    Semaphore unaryInFlight = new Semaphore(32);
    Semaphore restInFlight = new Semaphore(8);
    Semaphore streamsInFlight = new Semaphore(4);
    load.scheduleAtFixedRate(() -> {
      if (!unaryInFlight.tryAcquire()) {
        return; // the gateway is behind: this tick's call is skipped, not queued
      }
      Futures.addCallback(unary.withDeadlineAfter(10, TimeUnit.SECONDS)
          .echo(EchoRequest.newBuilder().setMessage("soak").build()),
          new FutureCallback<EchoResponse>() {
            @Override
            public void onSuccess(EchoResponse response) {
              unaryInFlight.release();
              check("grpc unary", "soak".equals(response.getMessage()), response.getMessage());
            }

            @Override
            public void onFailure(Throwable t) {
              unaryInFlight.release();
              failures.add("grpc unary: " + t);
            }
          }, MoreExecutors.directExecutor());
    }, 0, 2, TimeUnit.MILLISECONDS);
    URI rest = URI.create("http://127.0.0.1:" + port + "/v1/echo");
    load.scheduleAtFixedRate(() -> {
      if (!restInFlight.tryAcquire()) {
        return;
      }
      http.sendAsync(HttpRequest.newBuilder(rest).timeout(Duration.ofSeconds(10))
              .header("content-type", "application/json")
              .POST(HttpRequest.BodyPublishers.ofString("{\"message\":\"rest\"}")).build(),
          HttpResponse.BodyHandlers.ofString())
          .whenComplete((response, error) -> {
            restInFlight.release();
            if (error != null) {
              failures.add("rest: " + error);
            } else {
              check("rest", response.statusCode() == 200 && response.body().contains("rest"),
                  response.statusCode() + " " + response.body());
            }
          });
    }, 0, 10, TimeUnit.MILLISECONDS);
    load.scheduleAtFixedRate(() -> {
      if (!streamsInFlight.tryAcquire()) {
        return;
      }
      streaming.withDeadlineAfter(10, TimeUnit.SECONDS).expand(EchoRequest.newBuilder()
          .setMessage("stream").setResponseCount(50).setResponseSize(1024).build(),
          new StreamObserver<>() {
            private int received;

            @Override
            public void onNext(EchoResponse value) {
              received++;
            }

            @Override
            public void onError(Throwable t) {
              streamsInFlight.release();
              failures.add("grpc stream: " + t);
            }

            @Override
            public void onCompleted() {
              streamsInFlight.release();
              check("grpc stream", received == 50, received + " messages of 50");
            }
          });
    }, 0, 100, TimeUnit.MILLISECONDS);
  }

  private void check(String what, boolean ok, String detail) {
    calls.incrementAndGet();
    if (!ok) {
      failures.add(what + ": unexpected answer " + detail);
    }
  }

  // ---- Hostile trickle ---------------------------------------------------------------------

  private void hostileCase(int port, int admin) {
    int round = hostileRound.getAndIncrement();
    try {
      switch (round % 5) {
        case 0 -> rapidReset(port);
        case 1 -> slowloris(port);
        case 2 -> stalledStreams(port);
        case 3 -> invalidUtf8(port);
        default -> malformedAdmin(admin);
      }
    } catch (Exception e) {
      surprises.add("hostile case " + round % 5 + ": " + e);
    }
  }

  private static Socket hostileSocket(int port) throws IOException {
    Socket socket = new Socket();
    socket.bind(new InetSocketAddress(HOSTILE_ADDRESS, 0));
    socket.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 5_000);
    socket.setSoTimeout(10_000);
    return socket;
  }

  /** 600 streams opened and reset at once: the connection must get GOAWAY or be refused. */
  private void rapidReset(int port) throws Exception {
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    try {
      AtomicLong goAway = new AtomicLong(-1);
      Http2Connection connection = new DefaultHttp2Connection(false);
      Http2ConnectionHandler client = new Http2ConnectionHandlerBuilder()
          .connection(connection).gracefulShutdownTimeoutMillis(0)
          .frameListener(new Http2FrameAdapter() {
            @Override
            public void onGoAwayRead(ChannelHandlerContext ctx, int lastStreamId, long errorCode,
                io.netty.buffer.ByteBuf debugData) {
              goAway.set(errorCode);
            }
          }).build();
      Channel channel = new Bootstrap().group(group).channel(NioSocketChannel.class)
          .handler(new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
              ch.pipeline().addLast(client);
            }
          }).connect(new InetSocketAddress("127.0.0.1", port),
              new InetSocketAddress(HOSTILE_ADDRESS, 0)).sync().channel();
      Http2Headers headers = new DefaultHttp2Headers().method("POST").scheme("http")
          .authority("x").path("/meshgate.samples.echo.v1.EchoService/Echo")
          .set("content-type", "application/grpc");
      channel.eventLoop().submit(() -> {
        ChannelHandlerContext ctx = channel.pipeline().context(client);
        for (int i = 0; i < 600 && channel.isActive(); i++) {
          int id = connection.local().incrementAndGetNextStreamId();
          client.encoder().writeHeaders(ctx, id, headers, 0, false, ctx.newPromise());
          client.encoder().writeRstStream(ctx, id, Http2Error.CANCEL.code(), ctx.newPromise());
          if (i % 50 == 49) {
            ctx.flush();
          }
        }
        ctx.flush();
      }).sync();
      if (!channel.closeFuture().await(10, TimeUnit.SECONDS)) {
        surprises.add("rapid reset: the connection was not closed within 10 s");
      } else if (goAway.get() != -1 && goAway.get() != Http2Error.ENHANCE_YOUR_CALM.code()) {
        surprises.add("rapid reset: GOAWAY " + goAway.get());
      }
    } finally {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    }
  }

  /** Half a request line, then silence: closed after requestHeadersTimeout (2 s). */
  private void slowloris(int port) throws IOException {
    try (Socket socket = hostileSocket(port)) {
      socket.getOutputStream().write("GET /v1/echo HTTP/1.1\r\nX-Slow: "
          .getBytes(StandardCharsets.US_ASCII));
      socket.getOutputStream().flush();
      if (!closedByServer(socket)) {
        surprises.add("slowloris: the connection stayed open for 10 s");
      }
    }
  }

  /** 20 server streams that never get window, for 3 s: the gateway holds them, then lets go. */
  private void stalledStreams(int port) throws Exception {
    StallingClient stalling = StallingClient.open(HOSTILE_ADDRESS, port, 1, 20, 16 * 1024);
    try {
      awaitUntil(System.nanoTime() + TimeUnit.SECONDS.toNanos(3));
    } finally {
      stalling.close();
    }
  }

  /** Invalid UTF-8 in a JSON string: 400 (or a refused connection while the address is banned). */
  private void invalidUtf8(int port) throws IOException {
    byte[] head = ("POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + "Connection: close\r\nContent-Length: 17\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
    byte[] body = {'{', '"', 'm', 'e', 's', 's', 'a', 'g', 'e', '"', ':', '"', (byte) 0xff,
        (byte) 0xfe, 'x', '"', '}'};
    try (Socket socket = hostileSocket(port)) {
      socket.getOutputStream().write(head);
      socket.getOutputStream().write(body);
      socket.getOutputStream().flush();
      String answer = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!answer.isEmpty() && !answer.startsWith("HTTP/1.1 400")) {
        surprises.add("invalid UTF-8: " + answer.lines().findFirst().orElse(""));
      }
    }
  }

  /** A malformed percent-escape on the admin port: 400 and a closed connection. */
  private void malformedAdmin(int admin) throws IOException {
    try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), admin)) {
      socket.setSoTimeout(10_000);
      socket.getOutputStream().write("GET /api/routes/%ZZ HTTP/1.1\r\nHost: x\r\n\r\n"
          .getBytes(StandardCharsets.US_ASCII));
      socket.getOutputStream().flush();
      String answer = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!answer.startsWith("HTTP/1.1 400")) {
        surprises.add("malformed admin request: " + answer.lines().findFirst().orElse(""));
      }
    }
  }

  private static boolean closedByServer(Socket socket) {
    try {
      InputStream in = socket.getInputStream();
      while (in.read() >= 0) {
        // an answer before the close is fine
      }
      return true;
    } catch (java.net.SocketTimeoutException stillOpen) {
      return false;
    } catch (IOException reset) {
      return true;
    }
  }

  // ---- Measuring ---------------------------------------------------------------------------

  private static Sample sample(long pid, int admin, Duration at) throws Exception {
    long rss = 0;
    long threads = 0;
    for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
      if (line.startsWith("VmRSS:")) {
        rss = Long.parseLong(line.replaceAll("\\D", "")) * 1024;
      } else if (line.startsWith("Threads:")) {
        threads = Long.parseLong(line.replaceAll("\\D", ""));
      }
    }
    long fds;
    try (var entries = Files.list(Path.of("/proc/" + pid + "/fd"))) {
      fds = entries.count();
    }
    Metrics metrics = Metrics.scrape(admin);
    return new Sample(at, rss,
        (long) metrics.sum("meshgate_overload_memory_bytes", "resource", "heap"),
        (long) metrics.sum("meshgate_overload_memory_bytes", "resource", "direct"), fds, threads);
  }

  /**
   * What grew. After the warm-up (the first quarter of the samples, at least one), the floor of
   * each figure — its smallest value — over the second half of the samples is held against its
   * floor over the first half, allowing 10% plus a little. Floors, because a sample can land on a
   * transient (stalled streams hold their windows for a few seconds, the heap moves with
   * collections); a leak raises the floor.
   */
  static List<String> growth(List<Sample> samples) {
    List<String> growing = new ArrayList<>();
    int warm = Math.max(1, samples.size() / 4);
    if (samples.size() - warm < 4) {
      growing.add("too few samples (" + samples.size() + ") to judge");
      return growing;
    }
    List<Sample> judged = samples.subList(warm, samples.size());
    List<Sample> first = judged.subList(0, judged.size() / 2);
    List<Sample> last = judged.subList(judged.size() / 2, judged.size());
    judge(growing, "rss", floor(first, Sample::rssBytes), floor(last, Sample::rssBytes),
        48 * MIB);
    judge(growing, "heap after GC", floor(first, Sample::heapBytes),
        floor(last, Sample::heapBytes), 32 * MIB);
    judge(growing, "direct", floor(first, Sample::directBytes), floor(last, Sample::directBytes),
        16 * MIB);
    judge(growing, "fds", floor(first, Sample::fds), floor(last, Sample::fds), 32);
    judge(growing, "threads", floor(first, Sample::threads), floor(last, Sample::threads), 8);
    return growing;
  }

  private static long floor(List<Sample> samples, java.util.function.ToLongFunction<Sample> f) {
    return samples.stream().mapToLong(f).min().getAsLong();
  }

  private static void judge(List<String> growing, String what, long before, long after,
      long allowance) {
    if (after > before * 1.1 + allowance) {
      growing.add(what + " " + before + " -> " + after);
    }
  }
}
