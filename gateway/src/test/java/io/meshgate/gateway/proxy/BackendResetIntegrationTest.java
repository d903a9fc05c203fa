package io.meshgate.gateway.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.Status;
import io.meshgate.gateway.testing.TestGateway;
import io.meshgate.samples.echo.v1.EchoRequest;
import io.meshgate.samples.echo.v1.EchoResponse;
import io.meshgate.samples.echo.v1.EchoServiceGrpc;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A backend that resets the stream (RST_STREAM) after one response message ends the client's
 * call with the status grpc gives that reset, after the message got through.
 */
class BackendResetIntegrationTest {
  private EventLoopGroup group;
  private Channel backend;
  private volatile Http2Error resetWith;
  /** Streams at or past this count are refused (REFUSED_STREAM) before any answer. */
  private volatile int refuseUpTo;
  private final AtomicInteger streamsSeen = new AtomicInteger();
  private TestGateway gateway;

  @BeforeEach
  void start() throws Exception {
    group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    backend = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
        .childHandler(new ChannelInitializer<Channel>() {
          @Override
          protected void initChannel(Channel ch) {
            ch.pipeline().addLast(Http2FrameCodecBuilder.forServer().build(),
                new Http2MultiplexHandler(new ChannelInitializer<Http2StreamChannel>() {
                  @Override
                  protected void initChannel(Http2StreamChannel stream) {
                    stream.pipeline().addLast(new ResetAfterOneMessage());
                  }
                }));
          }
        })
        .bind("127.0.0.1", 0).sync().channel();
    int port = ((InetSocketAddress) backend.localAddress()).getPort();
    gateway = TestGateway.start("""
        clusters: [{name: raw, endpoints: ["127.0.0.1:%d"]}]
        routes: [{match: {servicePrefix: ""}, cluster: raw}]
        """.formatted(port));
  }

  @AfterEach
  void stop() throws Exception {
    gateway.close();
    backend.close().sync();
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
  }

  /** Answers headers and one EchoResponse, then resets the stream. */
  private final class ResetAfterOneMessage extends ChannelInboundHandlerAdapter {
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (msg instanceof Http2HeadersFrame && streamsSeen.incrementAndGet() <= refuseUpTo) {
        ctx.writeAndFlush(new DefaultHttp2ResetFrame(Http2Error.REFUSED_STREAM));
      } else if (msg instanceof Http2HeadersFrame && refuseUpTo > 0) {
        ctx.write(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().status("200")
            .set("content-type", "application/grpc")));
        byte[] body = EchoResponse.newBuilder().setMessage("after a refusal").build()
            .toByteArray();
        ctx.write(new DefaultHttp2DataFrame(ctx.alloc().buffer().writeByte(0)
            .writeInt(body.length).writeBytes(body)));
        ctx.writeAndFlush(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers()
            .set("grpc-status", "0"), true));
      } else if (msg instanceof Http2HeadersFrame) {
        ctx.write(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().status("200")
            .set("content-type", "application/grpc")));
        byte[] body = EchoResponse.newBuilder().setMessage("before the reset").build()
            .toByteArray();
        ByteBuf frame = ctx.alloc().buffer().writeByte(0).writeInt(body.length).writeBytes(body);
        // Reset only once the message is on the wire: a reset discards data still queued.
        ctx.writeAndFlush(new DefaultHttp2DataFrame(frame)).addListener(written ->
            ctx.writeAndFlush(new DefaultHttp2ResetFrame(resetWith)));
      }
      ReferenceCountUtil.release(msg);
    }
  }

  private Status callExpand(AtomicInteger messages) {
    ClientCall<EchoRequest, EchoResponse> call = gateway.channel().newCall(
        EchoServiceGrpc.getExpandMethod(), CallOptions.DEFAULT.withDeadlineAfter(10,
            TimeUnit.SECONDS));
    CompletableFuture<Status> closed = new CompletableFuture<>();
    call.start(new ClientCall.Listener<>() {
      @Override
      public void onMessage(EchoResponse message) {
        messages.incrementAndGet();
        call.request(1);
      }

      @Override
      public void onClose(Status status, Metadata trailers) {
        closed.complete(status);
      }
    }, new Metadata());
    call.sendMessage(EchoRequest.newBuilder().setResponseCount(10).build());
    call.halfClose();
    call.request(1);
    return closed.join();
  }

  @Test
  void aStreamTheBackendRefusedIsSentAgainOnceAndAnswered() {
    refuseUpTo = 1;
    EchoResponse response = EchoServiceGrpc.newBlockingStub(gateway.channel())
        .withDeadlineAfter(10, TimeUnit.SECONDS)
        .echo(EchoRequest.newBuilder().setMessage("please").build());
    assertEquals("after a refusal", response.getMessage());
    assertEquals(2, streamsSeen.get(), "the refused stream was sent again, once");
  }

  @Test
  void aBackendThatRefusesEveryStreamGetsTheCallTwiceThenUnavailable() {
    refuseUpTo = Integer.MAX_VALUE;
    io.grpc.StatusRuntimeException e = org.junit.jupiter.api.Assertions.assertThrows(
        io.grpc.StatusRuntimeException.class, () -> EchoServiceGrpc.newBlockingStub(
            gateway.channel()).withDeadlineAfter(10, TimeUnit.SECONDS)
            .echo(EchoRequest.newBuilder().setMessage("please").build()));
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.toString());
    assertTrue(e.getStatus().getDescription().contains("REFUSED_STREAM"), e.toString());
    assertEquals(2, streamsSeen.get(), "sent again once, not more");
  }

  @Test
  void backendResetWithInternalErrorEndsTheCallWithInternal() {
    resetWith = Http2Error.INTERNAL_ERROR;
    AtomicInteger messages = new AtomicInteger();
    Status status = callExpand(messages);
    assertEquals(Status.Code.INTERNAL, status.getCode(), status.toString());
    assertTrue(status.getDescription().contains("INTERNAL_ERROR"), status.toString());
    assertEquals(1, messages.get(), "the message sent before the reset was lost");
  }

  @Test
  void backendResetWithCancelEndsTheCallWithCancelled() {
    resetWith = Http2Error.CANCEL;
    AtomicInteger messages = new AtomicInteger();
    Status status = callExpand(messages);
    assertEquals(Status.Code.CANCELLED, status.getCode(), status.toString());
    assertEquals(1, messages.get(), "the message sent before the reset was lost");
  }
}
