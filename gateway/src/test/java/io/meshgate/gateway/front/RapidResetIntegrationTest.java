package io.meshgate.gateway.front;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.meshgate.gateway.testing.Metrics;
import io.meshgate.gateway.testing.TestGateway;
import io.meshgate.samples.SampleServer;
import io.meshgate.samples.echo.v1.EchoRequest;
import io.meshgate.samples.echo.v1.EchoServiceGrpc;
import io.meshgate.testing.Await;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
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
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * HTTP/2 rapid reset (CVE-2023-44487): a client that opens streams and resets them at once is
 * cut off with GOAWAY ENHANCE_YOUR_CALM, while a well-behaved client keeps being served; for
 * gRPC streams and REST streams alike.
 */
class RapidResetIntegrationTest {
  private SampleServer echo;
  private TestGateway gateway;
  private EventLoopGroup attackerGroup;

  @BeforeEach
  void start() throws Exception {
    echo = SampleServer.start(SampleServer.Kind.ECHO, "127.0.0.1", 0);
    gateway = TestGateway.start("""
        clusters: [{name: echo, endpoints: ["127.0.0.1:%d"]}]
        routes: [{match: {servicePrefix: ""}, cluster: echo}]
        """.formatted(echo.port()));
    attackerGroup = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
  }

  @AfterEach
  void stop() throws Exception {
    gateway.close();
    echo.close();
    attackerGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
  }

  /** Replaces the gateway with one that has {@code limits}. */
  private void restartWith(String limits) throws Exception {
    gateway.close();
    gateway = TestGateway.start("""
        limits: %s
        clusters: [{name: echo, endpoints: ["127.0.0.1:%d"]}]
        routes: [{match: {servicePrefix: ""}, cluster: echo}]
        """.formatted(limits, echo.port()));
  }

  /** The request headers of a gRPC EchoService/Echo call. */
  private static Http2Headers grpcEcho() {
    return new DefaultHttp2Headers()
        .method("POST").scheme("http").authority("127.0.0.1")
        .path("/meshgate.samples.echo.v1.EchoService/Echo")
        .set("content-type", "application/grpc").set("te", "trailers");
  }

  /** Connects a raw HTTP/2 client; returns its channel, with its connection in {@code out}. */
  private Channel connect(Http2Connection connection, Http2ConnectionHandler handler)
      throws InterruptedException {
    return new Bootstrap().group(attackerGroup).channel(NioSocketChannel.class)
        .handler(new ChannelInitializer<Channel>() {
          @Override
          protected void initChannel(Channel ch) {
            ch.pipeline().addLast(handler);
          }
        })
        .connect("127.0.0.1", gateway.port()).sync().channel();
  }

  @org.junit.jupiter.api.Test
  void anAttackerThatReconnectsIsRefusedOnceCutThreeTimes() throws Exception {
    restartWith("{rapidReset: {minStreams: 50}}");
    Http2Headers headers = grpcEcho();
    long callsBefore = echo.echo().callsStarted();
    for (int attempt = 0; attempt < 8; attempt++) {
      Http2Connection connection = new DefaultHttp2Connection(false);
      Http2ConnectionHandler attacker = new Http2ConnectionHandlerBuilder()
          .connection(connection).frameListener(new Http2FrameAdapter()).build();
      Channel channel = connect(connection, attacker);
      AtomicInteger opened = new AtomicInteger();
      while (channel.isActive() && opened.get() < 1_000) {
        channel.eventLoop().submit(() -> {
          ChannelHandlerContext ctx = channel.pipeline().context(attacker);
          for (int i = 0; i < 50 && channel.isActive(); i++) {
            int id = connection.local().incrementAndGetNextStreamId();
            attacker.encoder().writeHeaders(ctx, id, headers, 0, false, ctx.newPromise());
            attacker.encoder().writeRstStream(ctx, id, Http2Error.CANCEL.code(),
                ctx.newPromise());
            opened.incrementAndGet();
          }
          ctx.flush();
        }).sync();
      }
      Await.until("the gateway closes attempt " + attempt, Duration.ofSeconds(10),
          () -> !channel.isActive());
    }
    // Three connections were cut for rapid reset; the five after them were refused as they
    // arrived, before a stream of theirs was read.
    Metrics metrics = Metrics.scrape(gateway.gateway().adminPort());
    assertEquals(3.0, metrics.sum("meshgate_connections_cut_total", "reason", "rapid_reset"));
    assertEquals(5.0, metrics.sum("meshgate_connections_cut_total", "reason", "banned"));
    long upstream = echo.echo().callsStarted() - callsBefore;
    assertTrue(upstream < 3 * 1_000, "eight attempts started " + upstream + " upstream calls");
  }

  @org.junit.jupiter.api.Test
  void aCutConnectionGetsOneReasonNotALaterSettingsTimeout() throws Exception {
    restartWith("{rapidReset: {minStreams: 50}, settingsAckTimeout: 300ms}");
    java.util.List<Long> goAways = new java.util.concurrent.CopyOnWriteArrayList<>();
    Http2Connection connection = new DefaultHttp2Connection(false);
    Http2ConnectionHandler attacker = new Http2ConnectionHandlerBuilder()
        .connection(connection)
        .frameListener(new Http2FrameAdapter() {
          @Override
          public void onGoAwayRead(ChannelHandlerContext ctx, int lastStreamId, long errorCode,
              ByteBuf debugData) {
            goAways.add(errorCode);
          }
        })
        .build();
    Channel channel = connect(connection, attacker);
    // Reads nothing (so it never acknowledges the gateway's SETTINGS) while it attacks, and for
    // longer than the SETTINGS timeout; then reads what the gateway sent.
    channel.config().setAutoRead(false);
    Http2Headers headers = grpcEcho();
    channel.eventLoop().submit(() -> {
      ChannelHandlerContext ctx = channel.pipeline().context(attacker);
      for (int i = 0; i < 100; i++) {
        int id = connection.local().incrementAndGetNextStreamId();
        attacker.encoder().writeHeaders(ctx, id, headers, 0, false, ctx.newPromise());
        attacker.encoder().writeRstStream(ctx, id, Http2Error.CANCEL.code(), ctx.newPromise());
      }
      ctx.flush();
    }).sync();
    Await.until("the gateway cuts the attacker", Duration.ofSeconds(10),
        () -> Metrics.parse(gateway.gateway().metrics().scrape())
            .sum("meshgate_connections_cut_total", "reason", "rapid_reset") == 1.0);
    Await.until("the attacker's connection is closed", Duration.ofSeconds(10), () -> {
      channel.read();
      return !channel.isActive();
    });
    assertEquals(java.util.List.of(Http2Error.ENHANCE_YOUR_CALM.code()), goAways,
        "one GOAWAY, saying why");
  }

  @ParameterizedTest
  @ValueSource(strings = {"application/grpc", "application/json"})
  void rapidResetAttackerIsCutOffWhileOthersAreServed(String contentType) throws Exception {
    AtomicLong goAwayError = new AtomicLong(-1);
    Http2Connection connection = new DefaultHttp2Connection(false);
    Http2ConnectionHandler attacker = new Http2ConnectionHandlerBuilder()
        .connection(connection)
        .frameListener(new Http2FrameAdapter() {
          @Override
          public void onGoAwayRead(ChannelHandlerContext ctx, int lastStreamId, long errorCode,
              ByteBuf debugData) {
            goAwayError.set(errorCode);
          }
        })
        .build();
    Channel channel = new Bootstrap().group(attackerGroup).channel(NioSocketChannel.class)
        .handler(new ChannelInitializer<Channel>() {
          @Override
          protected void initChannel(Channel ch) {
            ch.pipeline().addLast(attacker);
          }
        })
        .connect("127.0.0.1", gateway.port()).sync().channel();

    // A normal client calls throughout the attack.
    AtomicBoolean attacking = new AtomicBoolean(true);
    AtomicInteger served = new AtomicInteger();
    ExecutorService normal = Executors.newSingleThreadExecutor();
    var stub = EchoServiceGrpc.newBlockingStub(gateway.channel());
    Future<?> normalCalls = normal.submit(() -> {
      while (attacking.get() || served.get() < 20) {
        stub.withDeadlineAfter(10, TimeUnit.SECONDS)
            .echo(EchoRequest.newBuilder().setMessage("still here").build());
        served.incrementAndGet();
      }
      return null;
    });

    // gRPC calls or REST requests: every stream the client resets counts, whatever it carries.
    Http2Headers headers = new DefaultHttp2Headers()
        .method("POST").scheme("http").authority("127.0.0.1")
        .path(contentType.equals("application/grpc")
            ? "/meshgate.samples.echo.v1.EchoService/Echo" : "/v1/echo")
        .set("content-type", contentType).set("te", "trailers");
    AtomicInteger opened = new AtomicInteger();
    // Open and reset 2,000 streams in batches (or fewer, if the gateway cuts us off first),
    // then listen.
    while (channel.isActive() && opened.get() < 2_000) {
      channel.eventLoop().submit(() -> {
        ChannelHandlerContext ctx = channel.pipeline().context(attacker);
        for (int i = 0; i < 100 && channel.isActive(); i++) {
          int id = connection.local().incrementAndGetNextStreamId();
          attacker.encoder().writeHeaders(ctx, id, headers, 0, false, ctx.newPromise());
          attacker.encoder().writeRstStream(ctx, id, Http2Error.CANCEL.code(), ctx.newPromise());
          opened.incrementAndGet();
        }
        ctx.flush();
      }).sync();
    }
    Await.until("the gateway closes the attacker's connection", Duration.ofSeconds(10),
        () -> !channel.isActive());
    attacking.set(false);
    normalCalls.get(30, TimeUnit.SECONDS);
    normal.shutdown();

    assertEquals(Http2Error.ENHANCE_YOUR_CALM.code(), goAwayError.get(),
        "the attacker got no GOAWAY ENHANCE_YOUR_CALM");
    assertTrue(served.get() >= 20, "the normal client was served " + served.get() + " calls");
    assertEquals(1.0, Metrics.scrape(gateway.gateway().adminPort())
        .sum("meshgate_connections_cut_total", "reason", "rapid_reset"),
        "the cut is counted in /metrics");
  }
}
