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
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * MadeYouReset (CVE-2025-8671): a client that makes the gateway reset the streams it opens —
 * here with a WINDOW_UPDATE of increment 0, a stream error the gateway must answer with
 * RST_STREAM(PROTOCOL_ERROR) — is cut off like a rapid-reset client, for gRPC and REST streams
 * alike, having started a bounded number of upstream calls; a normal client is served
 * throughout.
 */
class MadeYouResetIntegrationTest {
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

  /** WINDOW_UPDATE with increment 0 on {@code streamId}, written as raw bytes. */
  private static ByteBuf zeroWindowUpdate(ChannelHandlerContext ctx, int streamId) {
    return ctx.alloc().buffer(13).writeMedium(4).writeByte(0x8).writeByte(0)
        .writeInt(streamId).writeInt(0);
  }

  @ParameterizedTest
  @ValueSource(strings = {"application/grpc", "application/json"})
  void aClientThatMakesTheGatewayResetItsStreamsIsCutOff(String contentType) throws Exception {
    AtomicLong goAwayError = new AtomicLong(-1);
    AtomicInteger resetsReceived = new AtomicInteger();
    // What the attacker's own HTTP/2 stack objected to, if anything (for a failure's message).
    java.util.List<String> clientErrors = new java.util.concurrent.CopyOnWriteArrayList<>();
    Http2Connection connection = new DefaultHttp2Connection(false);
    connection.addListener(new io.netty.handler.codec.http2.Http2ConnectionAdapter() {
      @Override
      public void onGoAwaySent(int lastStreamId, long errorCode, ByteBuf debugData) {
        clientErrors.add("the client sent GOAWAY " + errorCode + ": "
            + debugData.toString(java.nio.charset.StandardCharsets.UTF_8));
      }
    });
    Http2ConnectionHandler attacker = new Http2ConnectionHandlerBuilder()
        .connection(connection)
        // The attacker takes every reset it provokes (Netty's client side would give up at 200).
        .decoderEnforceMaxRstFramesPerWindow(0, 0)
        .frameListener(new Http2FrameAdapter() {
          @Override
          public void onGoAwayRead(ChannelHandlerContext ctx, int lastStreamId, long errorCode,
              ByteBuf debugData) {
            goAwayError.set(errorCode);
          }

          @Override
          public void onRstStreamRead(ChannelHandlerContext ctx, int streamId, long errorCode) {
            resetsReceived.incrementAndGet();
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
    var stub = EchoServiceGrpc.newBlockingStub(gateway.channel());
    Http2Headers headers = new DefaultHttp2Headers()
        .method("POST").scheme("http").authority("127.0.0.1")
        .set("content-type", contentType).set("te", "trailers");
    headers.path(contentType.equals("application/grpc")
        ? "/meshgate.samples.echo.v1.EchoService/Echo" : "/v1/echo");
    long callsBefore = echo.echo().callsStarted();
    AtomicInteger opened = new AtomicInteger();
    while (channel.isActive() && opened.get() < 5_000) {
      channel.eventLoop().submit(() -> {
        ChannelHandlerContext ctx = channel.pipeline().context(attacker);
        for (int i = 0; i < 100 && channel.isActive(); i++) {
          int id = connection.local().incrementAndGetNextStreamId();
          attacker.encoder().writeHeaders(ctx, id, headers, 0, false, ctx.newPromise());
          ctx.write(zeroWindowUpdate(ctx, id));
          opened.incrementAndGet();
        }
        ctx.flush();
      }).sync();
      // A normal client is served between the attacker's batches.
      assertEquals("still here", stub.withDeadlineAfter(10, TimeUnit.SECONDS)
          .echo(EchoRequest.newBuilder().setMessage("still here").build()).getMessage());
    }
    Await.until("the gateway closes the attacker's connection", Duration.ofSeconds(10),
        () -> !channel.isActive());
    assertEquals(Http2Error.ENHANCE_YOUR_CALM.code(), goAwayError.get(),
        "the attacker got GOAWAY ENHANCE_YOUR_CALM (after " + opened.get() + " streams, "
            + resetsReceived.get() + " resets; client errors " + clientErrors + "; gateway: "
            + Metrics.scrape(gateway.gateway().adminPort()).text().lines()
                .filter(l -> l.startsWith("meshgate_connections_cut_total")).toList() + ")");
    long upstream = echo.echo().callsStarted() - callsBefore;
    assertTrue(upstream < 1_000, "the attack started " + upstream + " upstream calls");
    assertEquals(1.0, Metrics.scrape(gateway.gateway().adminPort())
        .sum("meshgate_connections_cut_total", "reason", "rapid_reset"));
  }
}
