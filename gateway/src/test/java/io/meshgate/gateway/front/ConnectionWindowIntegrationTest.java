package io.meshgate.gateway.front;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.meshgate.gateway.testing.TestGateway;
import io.meshgate.testing.Await;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http2.Http2ConnectionHandler;
import io.netty.handler.codec.http2.Http2ConnectionHandlerBuilder;
import io.netty.handler.codec.http2.Http2FrameAdapter;
import io.netty.handler.codec.http2.Http2Settings;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** What a client is told about flow control: the limits it may have in flight. */
class ConnectionWindowIntegrationTest {
  @Test
  void clientGetsTheConfiguredWindowsAndLimits() throws Exception {
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    try (TestGateway gateway = TestGateway.start("""
        limits: {connectionWindowBytes: 3MiB, streamWindowBytes: 512KiB,
                 maxConcurrentStreams: 77, maxHeaderListBytes: 12KiB}
        clusters: [{name: none, endpoints: ["127.0.0.1:1"]}]
        routes: [{match: {servicePrefix: ""}, cluster: none}]
        """)) {
      AtomicLong connectionWindow = new AtomicLong(65535);
      AtomicReference<Http2Settings> settings = new AtomicReference<>();
      AtomicLong pingAcked = new AtomicLong(-1);
      Http2ConnectionHandler client = new Http2ConnectionHandlerBuilder()
          .server(false)
          .frameListener(new Http2FrameAdapter() {
            @Override
            public void onWindowUpdateRead(ChannelHandlerContext ctx, int streamId, int increment) {
              if (streamId == 0) {
                connectionWindow.addAndGet(increment);
              }
            }

            @Override
            public void onSettingsRead(ChannelHandlerContext ctx, Http2Settings read) {
              settings.set(read);
            }

            @Override
            public void onPingAckRead(ChannelHandlerContext ctx, long data) {
              pingAcked.set(data);
            }
          })
          .build();
      Channel channel = new Bootstrap().group(group).channel(NioSocketChannel.class)
          .handler(new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
              ch.pipeline().addLast(client);
            }
          })
          .connect("127.0.0.1", gateway.port()).sync().channel();
      Await.until("the connection window is announced", Duration.ofSeconds(10),
          () -> connectionWindow.get() > 65535 && settings.get() != null);
      // A second WINDOW_UPDATE, had the gateway sent one, would come before the answer to a
      // PING sent now: frames of a connection arrive in order.
      channel.eventLoop().submit(() -> {
        ChannelHandlerContext ctx = channel.pipeline().context(client);
        client.encoder().writePing(ctx, false, 42, ctx.newPromise());
        ctx.flush();
      }).sync();
      Await.until("the PING is answered", Duration.ofSeconds(10), () -> pingAcked.get() == 42);
      assertEquals(3 * 1024 * 1024, connectionWindow.get());
      assertEquals(512 * 1024, settings.get().initialWindowSize());
      assertEquals(77L, settings.get().maxConcurrentStreams());
      assertEquals(12 * 1024L, settings.get().maxHeaderListSize());
      channel.close().sync();
    } finally {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    }
  }
}
