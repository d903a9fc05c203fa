package io.meshgate.gateway.testing;

import io.meshgate.samples.echo.v1.EchoRequest;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
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
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A hostile HTTP/2 client: it opens server streams ({@code EchoService/Expand}, endless
 * messages of a given size) and never grants them window (SETTINGS_INITIAL_WINDOW_SIZE 0, no
 * WINDOW_UPDATE), so that whatever the backend sends stays in the gateway.
 */
public final class StallingClient implements AutoCloseable {
  private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
  private final List<Channel> channels = new ArrayList<>();
  private final AtomicLong resets = new AtomicLong();

  private StallingClient() {}

  /**
   * Opens {@code streams} stalled streams spread over {@code connections} connections to the
   * gateway at {@code port}, each asking for {@code messageBytes}-byte messages.
   */
  public static StallingClient open(int port, int connections, int streams, int messageBytes)
      throws InterruptedException {
    return open("127.0.0.1", port, connections, streams, messageBytes);
  }

  /** As {@link #open(int, int, int, int)}, from the loopback address {@code from}. */
  public static StallingClient open(String from, int port, int connections, int streams,
      int messageBytes) throws InterruptedException {
    StallingClient stalling = new StallingClient();
    try {
      stalling.connect(from, port, connections, streams, messageBytes);
    } catch (InterruptedException | RuntimeException e) {
      stalling.close();
      throw e;
    }
    return stalling;
  }

  private void connect(String from, int port, int connections, int streams, int messageBytes)
      throws InterruptedException {
    Http2Headers headers = new DefaultHttp2Headers()
        .method("POST").scheme("http").authority("127.0.0.1")
        .path("/meshgate.samples.echo.v1.EchoService/Expand")
        .set("content-type", "application/grpc").set("te", "trailers");
    byte[] message = EchoRequest.newBuilder().setMessage("stall").setResponseCount(100_000)
        .setResponseSize(messageBytes).build().toByteArray();
    for (int c = 0; c < connections; c++) {
      Http2Connection connection = new DefaultHttp2Connection(false);
      Http2ConnectionHandler client = new Http2ConnectionHandlerBuilder()
          .connection(connection)
          .initialSettings(Http2Settings.defaultSettings().initialWindowSize(0))
          .gracefulShutdownTimeoutMillis(0)
          .frameListener(new Http2FrameAdapter() {
            @Override
            public void onRstStreamRead(ChannelHandlerContext ctx, int streamId, long errorCode) {
              resets.incrementAndGet();
            }
          })
          .build();
      Channel channel = new Bootstrap().group(group).channel(NioSocketChannel.class)
          .handler(new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
              ch.pipeline().addLast(client);
            }
          }).connect(new java.net.InetSocketAddress("127.0.0.1", port),
              new java.net.InetSocketAddress(from, 0)).sync().channel();
      channels.add(channel);
      int count = streams / connections + (c < streams % connections ? 1 : 0);
      channel.eventLoop().submit(() -> {
        ChannelHandlerContext ctx = channel.pipeline().context(client);
        for (int i = 0; i < count; i++) {
          int id = connection.local().incrementAndGetNextStreamId();
          ByteBuf request = Unpooled.buffer().writeByte(0).writeInt(message.length)
              .writeBytes(message);
          client.encoder().writeHeaders(ctx, id, headers, 0, false, ctx.newPromise());
          client.encoder().writeData(ctx, id, request, 0, true, ctx.newPromise());
        }
        ctx.flush();
      }).sync();
    }
  }

  /** Streams the gateway reset so far. */
  public long resets() {
    return resets.get();
  }

  /** Closes every connection and waits until they are closed. */
  @Override
  public void close() {
    for (Channel channel : channels) {
      channel.close().syncUninterruptibly();
    }
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
  }
}
