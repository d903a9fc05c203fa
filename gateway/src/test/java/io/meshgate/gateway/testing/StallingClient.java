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
 * A hostile HTTP/2 client: it opens server streams ({@code EchoService/Expand}, messages of a
 * given size, endless unless told) and grants them no window (SETTINGS_INITIAL_WINDOW_SIZE 0, no
 * WINDOW_UPDATE), so that whatever the backend sends stays in the gateway — until
 * {@link #resume}, after which it reads everything and counts the messages and ends.
 */
public final class StallingClient implements AutoCloseable {
  private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
  private final List<Channel> channels = new ArrayList<>();
  private final AtomicLong resets = new AtomicLong();
  private final AtomicLong messages = new AtomicLong();
  private final AtomicLong okEnds = new AtomicLong();
  private final AtomicLong ends = new AtomicLong();
  private final List<Http2ConnectionHandler> handlers = new ArrayList<>();

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
    return open(from, port, connections, streams, messageBytes, 100_000);
  }

  /** As {@link #open(String, int, int, int, int)}, each stream asking for {@code count}. */
  public static StallingClient open(String from, int port, int connections, int streams,
      int messageBytes, int count) throws InterruptedException {
    StallingClient stalling = new StallingClient();
    try {
      stalling.connect(from, port, connections, streams, messageBytes, count);
    } catch (InterruptedException | RuntimeException e) {
      stalling.close();
      throw e;
    }
    return stalling;
  }

  private void connect(String from, int port, int connections, int streams, int messageBytes,
      int count) throws InterruptedException {
    Http2Headers headers = new DefaultHttp2Headers()
        .method("POST").scheme("http").authority("127.0.0.1")
        .path("/meshgate.samples.echo.v1.EchoService/Expand")
        .set("content-type", "application/grpc").set("te", "trailers");
    byte[] message = EchoRequest.newBuilder().setMessage("stall").setResponseCount(count)
        .setResponseSize(messageBytes).build().toByteArray();
    for (int c = 0; c < connections; c++) {
      Http2Connection connection = new DefaultHttp2Connection(false);
      Http2ConnectionHandler client = new Http2ConnectionHandlerBuilder()
          .connection(connection)
          .initialSettings(Http2Settings.defaultSettings().initialWindowSize(0))
          .gracefulShutdownTimeoutMillis(0)
          .frameListener(new Http2FrameAdapter() {
            private final java.util.Map<Integer, int[]> deframers = new java.util.HashMap<>();

            @Override
            public void onRstStreamRead(ChannelHandlerContext ctx, int streamId, long errorCode) {
              resets.incrementAndGet();
            }

            @Override
            public int onDataRead(ChannelHandlerContext ctx, int streamId, ByteBuf data,
                int padding, boolean endOfStream) {
              int bytes = data.readableBytes() + padding;
              // {prefix bytes seen, message length so far, message bytes left}
              int[] d = deframers.computeIfAbsent(streamId, id -> new int[3]);
              while (data.isReadable()) {
                if (d[0] < 5) {
                  int b = data.readUnsignedByte();
                  d[1] = d[0] == 0 ? 0 : (d[1] << 8) | b;
                  if (++d[0] == 5) {
                    d[2] = d[1];
                    if (d[2] == 0) {
                      messages.incrementAndGet();
                      d[0] = 0;
                    }
                  }
                } else {
                  int n = Math.min(d[2], data.readableBytes());
                  data.skipBytes(n);
                  d[2] -= n;
                  if (d[2] == 0) {
                    messages.incrementAndGet();
                    d[0] = 0;
                  }
                }
              }
              return bytes; // processed: the window goes back
            }

            @Override
            public void onHeadersRead(ChannelHandlerContext ctx, int streamId,
                Http2Headers headers, int padding, boolean endOfStream) {
              if (endOfStream) {
                ends.incrementAndGet();
                if ("0".contentEquals(headers.get("grpc-status", ""))) {
                  okEnds.incrementAndGet();
                }
              }
            }

            @Override
            public void onHeadersRead(ChannelHandlerContext ctx, int streamId,
                Http2Headers headers, int streamDependency, short weight, boolean exclusive,
                int padding, boolean endOfStream) {
              onHeadersRead(ctx, streamId, headers, padding, endOfStream);
            }
          })
          .build();
      handlers.add(client);
      Channel channel = new Bootstrap().group(group).channel(NioSocketChannel.class)
          .handler(new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
              ch.pipeline().addLast(client);
            }
          }).connect(new java.net.InetSocketAddress("127.0.0.1", port),
              new java.net.InetSocketAddress(from, 0)).sync().channel();
      channels.add(channel);
      int perConnection = streams / connections + (c < streams % connections ? 1 : 0);
      channel.eventLoop().submit(() -> {
        ChannelHandlerContext ctx = channel.pipeline().context(client);
        for (int i = 0; i < perConnection; i++) {
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

  /**
   * Starts reading: announces a 1 MiB initial stream window and gives every byte's window back
   * as it arrives.
   */
  public void resume() throws InterruptedException {
    for (int i = 0; i < channels.size(); i++) {
      Channel channel = channels.get(i);
      Http2ConnectionHandler client = handlers.get(i);
      channel.eventLoop().submit(() -> {
        ChannelHandlerContext ctx = channel.pipeline().context(client);
        client.encoder().writeSettings(ctx, new Http2Settings().initialWindowSize(1 << 20),
            ctx.newPromise());
        ctx.flush();
      }).sync();
    }
  }

  /** Response messages read so far (after {@link #resume}). */
  public long messages() {
    return messages.get();
  }

  /** Streams that ended with trailers so far, and those of them with grpc-status 0. */
  public long ends() {
    return ends.get();
  }

  /** Streams that ended with grpc-status 0 so far. */
  public long okEnds() {
    return okEnds.get();
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
