package io.meshgate.bench;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollEventLoopGroup;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http2.AbstractHttp2ConnectionHandlerBuilder;
import io.netty.handler.codec.http2.DefaultHttp2Connection;
import io.netty.handler.codec.http2.Http2ConnectionDecoder;
import io.netty.handler.codec.http2.Http2ConnectionEncoder;
import io.netty.handler.codec.http2.Http2ConnectionHandler;
import io.netty.handler.codec.http2.Http2FrameAdapter;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.util.collection.IntObjectHashMap;
import io.netty.util.concurrent.EventExecutor;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Set;

/**
 * A reference point for the proxy benchmark, not a product: what two Netty HTTP/2 codecs cost when
 * nothing else runs — each client stream's frames are written as they are to a stream on an
 * upstream connection of the same event loop, and back. No routing, no metadata mapping, no
 * deadlines, no policies, no metrics, and no end-to-end flow control (received bytes are returned
 * to the sender's window at once), so it is not safe to put in front of anything but a benchmark.
 * Its throughput bounds what any HTTP/2 proxy written with Netty's codec can reach on the machine.
 *
 * <p>Usage: {@code NettyPassThrough PORT BACKEND_PORT THREADS} (backend on 127.0.0.1); runs until
 * killed.
 */
final class NettyPassThrough {
  private NettyPassThrough() {}

  public static void main(String[] args) throws Exception {
    int port = Integer.parseInt(args[0]);
    int backendPort = Integer.parseInt(args[1]);
    int threads = Integer.parseInt(args[2]);
    boolean epoll = Epoll.isAvailable();
    EventLoopGroup boss = epoll ? new EpollEventLoopGroup(1) : new NioEventLoopGroup(1);
    EventLoopGroup workers = epoll ? new EpollEventLoopGroup(threads)
        : new NioEventLoopGroup(threads);
    // One upstream connection per worker loop, so that a call never leaves its thread.
    Map<EventLoop, Upstream> upstreams = new IdentityHashMap<>();
    for (EventExecutor executor : workers) {
      EventLoop loop = (EventLoop) executor;
      Upstream upstream = new Upstream();
      new Bootstrap().group(loop)
          .channel(epoll ? EpollSocketChannel.class : NioSocketChannel.class)
          .option(ChannelOption.TCP_NODELAY, true)
          .handler(new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
              ch.pipeline().addLast(new Builder(false, (d, e, s) -> upstream.bind(d, e, s))
                  .listener(upstream.listener()).build());
            }
          })
          .connect("127.0.0.1", backendPort).sync();
      upstreams.put(loop, upstream);
    }
    new ServerBootstrap().group(boss, workers)
        .channel(epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class)
        .childOption(ChannelOption.TCP_NODELAY, true)
        .childHandler(new ChannelInitializer<Channel>() {
          @Override
          protected void initChannel(Channel ch) {
            Front front = new Front(upstreams.get(ch.eventLoop()));
            ch.pipeline().addLast(new Builder(true, front::bind)
                .listener(front.listener()).build());
          }
        })
        .bind("127.0.0.1", port).sync().channel().closeFuture().sync();
  }

  /** A client connection; only on its event loop. */
  private static final class Front {
    private final Upstream upstream;
    private final IntObjectHashMap<Integer> upstreamIds = new IntObjectHashMap<>();
    private Handler handler;

    Front(Upstream upstream) {
      this.upstream = upstream;
    }

    Handler bind(Http2ConnectionDecoder decoder, Http2ConnectionEncoder encoder,
        Http2Settings settings) {
      handler = new Handler(decoder, encoder, settings, upstream::flush);
      return handler;
    }

    Http2FrameAdapter listener() {
      return new Http2FrameAdapter() {
        @Override
        public void onHeadersRead(ChannelHandlerContext ctx, int streamId, Http2Headers headers,
            int padding, boolean endOfStream) {
          Integer upstreamId = upstreamIds.get(streamId);
          if (upstreamId == null) {
            upstreamIds.put(streamId, Integer.valueOf(upstream.open(Front.this, streamId,
                headers, endOfStream)));
          } else {
            upstream.headers(upstreamId, headers, endOfStream);
          }
          if (endOfStream) {
            upstreamIds.remove(streamId);
          }
        }

        @Override
        public void onHeadersRead(ChannelHandlerContext ctx, int streamId, Http2Headers headers,
            int dependency, short weight, boolean exclusive, int padding, boolean endOfStream) {
          onHeadersRead(ctx, streamId, headers, padding, endOfStream);
        }

        @Override
        public int onDataRead(ChannelHandlerContext ctx, int streamId, ByteBuf data, int padding,
            boolean endOfStream) {
          Integer upstreamId = endOfStream ? upstreamIds.remove(streamId)
              : upstreamIds.get(streamId);
          if (upstreamId != null) {
            upstream.data(upstreamId, data.retain(), endOfStream);
          }
          return data.readableBytes() + padding;
        }
      };
    }

    void headers(int streamId, Http2Headers headers, boolean endOfStream) {
      handler.encoder().writeHeaders(handler.ctx, streamId, headers, 0, endOfStream,
          handler.ctx.voidPromise());
    }

    void data(int streamId, ByteBuf data, boolean endOfStream) {
      handler.encoder().writeData(handler.ctx, streamId, data, 0, endOfStream,
          handler.ctx.voidPromise());
    }
  }

  /** The upstream connection of one event loop; only on that loop. */
  private static final class Upstream {
    private final IntObjectHashMap<Front> fronts = new IntObjectHashMap<>();
    private final IntObjectHashMap<Integer> frontIds = new IntObjectHashMap<>();
    private final Set<Front> written = Collections.newSetFromMap(new IdentityHashMap<>());
    private Handler handler;

    Handler bind(Http2ConnectionDecoder decoder, Http2ConnectionEncoder encoder,
        Http2Settings settings) {
      handler = new Handler(decoder, encoder, settings, this::flushFronts);
      return handler;
    }

    int open(Front front, int frontId, Http2Headers headers, boolean endOfStream) {
      int id = handler.connection().local().incrementAndGetNextStreamId();
      fronts.put(id, front);
      frontIds.put(id, Integer.valueOf(frontId));
      headers(id, headers, endOfStream);
      return id;
    }

    void headers(int streamId, Http2Headers headers, boolean endOfStream) {
      handler.encoder().writeHeaders(handler.ctx, streamId, headers, 0, endOfStream,
          handler.ctx.voidPromise());
    }

    void data(int streamId, ByteBuf data, boolean endOfStream) {
      handler.encoder().writeData(handler.ctx, streamId, data, 0, endOfStream,
          handler.ctx.voidPromise());
    }

    void flush() {
      handler.flush(handler.ctx);
    }

    private void flushFronts() {
      for (Front front : written) {
        front.handler.flush(front.handler.ctx);
      }
      written.clear();
    }

    Http2FrameAdapter listener() {
      return new Http2FrameAdapter() {
        @Override
        public void onHeadersRead(ChannelHandlerContext ctx, int streamId, Http2Headers headers,
            int padding, boolean endOfStream) {
          Front front = endOfStream ? fronts.remove(streamId) : fronts.get(streamId);
          Integer frontId = endOfStream ? frontIds.remove(streamId) : frontIds.get(streamId);
          if (front != null) {
            front.headers(frontId, headers, endOfStream);
            written.add(front);
          }
        }

        @Override
        public void onHeadersRead(ChannelHandlerContext ctx, int streamId, Http2Headers headers,
            int dependency, short weight, boolean exclusive, int padding, boolean endOfStream) {
          onHeadersRead(ctx, streamId, headers, padding, endOfStream);
        }

        @Override
        public int onDataRead(ChannelHandlerContext ctx, int streamId, ByteBuf data, int padding,
            boolean endOfStream) {
          Front front = endOfStream ? fronts.remove(streamId) : fronts.get(streamId);
          Integer frontId = endOfStream ? frontIds.remove(streamId) : frontIds.get(streamId);
          if (front != null) {
            front.data(frontId, data.retain(), endOfStream);
            written.add(front);
          }
          return data.readableBytes() + padding;
        }
      };
    }
  }

  /** A connection handler that runs {@code afterRead} once per batch of reads. */
  private static final class Handler extends Http2ConnectionHandler {
    private final Runnable afterRead;
    private ChannelHandlerContext ctx;

    Handler(Http2ConnectionDecoder decoder, Http2ConnectionEncoder encoder,
        Http2Settings settings, Runnable afterRead) {
      super(decoder, encoder, settings);
      this.afterRead = afterRead;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) throws Exception {
      this.ctx = ctx;
      super.handlerAdded(ctx);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) throws Exception {
      super.channelReadComplete(ctx);
      afterRead.run();
    }
  }

  private interface Factory {
    Handler create(Http2ConnectionDecoder decoder, Http2ConnectionEncoder encoder,
        Http2Settings settings);
  }

  private static final class Builder
      extends AbstractHttp2ConnectionHandlerBuilder<Handler, Builder> {
    private final Factory factory;

    Builder(boolean server, Factory factory) {
      this.factory = factory;
      connection(new DefaultHttp2Connection(server));
    }

    Builder listener(Http2FrameAdapter listener) {
      return frameListener(listener);
    }

    @Override
    protected Handler build() {
      return super.build();
    }

    @Override
    protected Handler build(Http2ConnectionDecoder decoder, Http2ConnectionEncoder encoder,
        Http2Settings settings) {
      return factory.create(decoder, encoder, settings);
    }
  }
}
