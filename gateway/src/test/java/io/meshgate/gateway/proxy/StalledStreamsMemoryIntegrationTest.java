package io.meshgate.gateway.proxy;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.meshgate.gateway.testing.TestGateway;
import io.meshgate.samples.SampleServer;
import io.meshgate.samples.echo.v1.EchoRequest;
import io.meshgate.samples.echo.v1.EchoServiceGrpc;
import io.meshgate.testing.Await;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
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
import io.netty.handler.codec.http2.Http2FrameAdapter;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2Settings;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A client that opens server streams and never grants them window (SETTINGS_INITIAL_WINDOW_SIZE
 * 0, no WINDOW_UPDATE) makes the gateway hold what the backend already sent: that must stay
 * within the flow-control windows per stream, not grow to megabytes each.
 */
@Timeout(120)
class StalledStreamsMemoryIntegrationTest {
  private static final int STREAMS = 1_000;
  private static final int CONNECTIONS = 5;
  private static final int MESSAGE_BYTES = 64 * 1024;
  private static final int WINDOW_BYTES = 256 * 1024;

  private static long poolBytes() {
    return PooledByteBufAllocator.DEFAULT.metric().usedDirectMemory()
        + PooledByteBufAllocator.DEFAULT.metric().usedHeapMemory();
  }

  private static ByteBuf expandRequest() {
    byte[] message = EchoRequest.newBuilder().setMessage("stall").setResponseCount(100_000)
        .setResponseSize(MESSAGE_BYTES).build().toByteArray();
    return Unpooled.buffer().writeByte(0).writeInt(message.length).writeBytes(message);
  }

  @Test
  void stalledStreamsHoldNoMoreThanTheirWindows() throws Exception {
    SampleServer echo = SampleServer.start(SampleServer.Kind.ECHO, "127.0.0.1", 0);
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    try (TestGateway gateway = TestGateway.start("""
        limits: {streamWindowBytes: 256KiB, connectionWindowBytes: 1MiB}
        clusters: [{name: echo, endpoints: ["127.0.0.1:%d"]}]
        routes: [{match: {servicePrefix: ""}, cluster: echo}]
        """.formatted(echo.port()))) {
      long before = poolBytes();
      long messagesBefore = echo.echo().messagesStreamed();
      List<Channel> channels = new ArrayList<>();
      Http2Headers headers = new DefaultHttp2Headers()
          .method("POST").scheme("http").authority("127.0.0.1")
          .path("/meshgate.samples.echo.v1.EchoService/Expand")
          .set("content-type", "application/grpc").set("te", "trailers");
      for (int c = 0; c < CONNECTIONS; c++) {
        Http2Connection connection = new DefaultHttp2Connection(false);
        Http2ConnectionHandler client = new Http2ConnectionHandlerBuilder()
            .connection(connection)
            .initialSettings(Http2Settings.defaultSettings().initialWindowSize(0))
            .gracefulShutdownTimeoutMillis(0)
            .frameListener(new Http2FrameAdapter())
            .build();
        Channel channel = new Bootstrap().group(group).channel(NioSocketChannel.class)
            .handler(new ChannelInitializer<Channel>() {
              @Override
              protected void initChannel(Channel ch) {
                ch.pipeline().addLast(client);
              }
            }).connect("127.0.0.1", gateway.port()).sync().channel();
        channels.add(channel);
        channel.eventLoop().submit(() -> {
          ChannelHandlerContext ctx = channel.pipeline().context(client);
          for (int i = 0; i < STREAMS / CONNECTIONS; i++) {
            int id = connection.local().incrementAndGetNextStreamId();
            client.encoder().writeHeaders(ctx, id, headers, 0, false, ctx.newPromise());
            client.encoder().writeData(ctx, id, expandRequest(), 0, true, ctx.newPromise());
          }
          ctx.flush();
        }).sync();
      }
      // The backend sends until the windows between it and the client are full, then stops.
      long settled = Await.settled("messages the backend streamed", Duration.ofSeconds(1),
          Duration.ofSeconds(60), () -> echo.echo().messagesStreamed());
      long held = poolBytes() - before;
      long sent = (settled - messagesBefore) * MESSAGE_BYTES;
      // Per stalled stream: the upstream stream's window of received messages, and the one
      // message waiting for the client's window; half again for the allocator's rounding.
      long bound = STREAMS * (WINDOW_BYTES + MESSAGE_BYTES) * 3 / 2;
      System.out.printf("stalled: %d streams, backend sent %d MiB, gateway pools hold %d MiB"
          + " (bound %d MiB)%n", STREAMS, sent >> 20, held >> 20, bound >> 20);
      assertTrue(sent <= (long) STREAMS * (WINDOW_BYTES + 2L * MESSAGE_BYTES),
          "the backend could send " + (sent >> 20) + " MiB: upstream windows are not bounded");
      assertTrue(held < bound, "the gateway holds " + (held >> 20) + " MiB for " + STREAMS
          + " stalled streams (bound " + (bound >> 20) + " MiB)");
      assertTrue(EchoServiceGrpc.newBlockingStub(gateway.channel())
          .withDeadlineAfter(10, TimeUnit.SECONDS)
          .echo(EchoRequest.newBuilder().setMessage("still served").build())
          .getMessage().equals("still served"));
      for (Channel channel : channels) {
        channel.close().sync();
      }
      // The stalled clients gone (the normal client's connection stays), for the record: the
      // pools keep chunks they allocated, so this is not the memory still in use.
      Await.until("the stalled clients' connections are closed", Duration.ofSeconds(30),
          () -> gateway.gateway().openConnections() <= 1);
      System.out.printf("after the clients left: pools hold %d MiB more than before%n",
          (poolBytes() - before) >> 20);
    } finally {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
      echo.close();
    }
  }
}
