package io.meshgate.gateway.front;

import io.meshgate.gateway.config.GatewayConfig;
import io.meshgate.gateway.netty.ConnectionCuts;
import io.meshgate.gateway.netty.ConnectionGuard;
import io.meshgate.gateway.netty.ConnectionLimiter;
import io.meshgate.gateway.netty.FrameCumulator;
import io.meshgate.gateway.netty.Http2Connections;
import io.meshgate.gateway.netty.Http2Streams;
import io.meshgate.gateway.netty.Channels;
import io.meshgate.gateway.overload.OverloadManager;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerUpgradeHandler;
import io.netty.handler.codec.http2.CleartextHttp2ServerUpgradeHandler;
import io.netty.handler.codec.http2.DefaultHttp2WindowUpdateFrame;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2Connection;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2ServerUpgradeCodec;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2SettingsAckFrame;
import io.netty.handler.flush.FlushConsolidationHandler;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.ApplicationProtocolNegotiationHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.AsciiString;
import io.netty.util.ReferenceCountUtil;
import java.time.Duration;
import java.util.List;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * What a connection to the main port speaks, set up as it arrives: gRPC and HTTP over h2c
 * (prior knowledge and HTTP/1.1 Upgrade), TLS with ALPN ({@code h2}, {@code http/1.1}) and
 * plain HTTP/1.1. With TLS configured and {@code allowPlaintext}, the first bytes of a
 * connection tell which it is. HTTP/2 streams go to {@link Http2StreamDispatcher}, HTTP/1.1
 * requests to {@link Http1Handler}. Stateless but for the group of open connections; shared by
 * every connection.
 */
final class FrontPipeline extends ChannelInitializer<SocketChannel> {
  private static final Logger logger = Logger.getLogger(FrontPipeline.class.getName());

  private final GatewayConfig.Listener listener;
  private final GatewayConfig.Limits limits;
  private final Duration drainTimeout;
  private final Adapters adapters;
  private final SslContext ssl;
  private final ChannelGroup connections;
  private final ConnectionCuts cuts;
  private final ConnectionErrors errors;
  private final ConnectionLimiter limiter;
  private final OverloadManager overload;

  /**
   * @param connections every connection joins it (and leaves it as it closes)
   * @param cuts where connections cut for abuse or errors are counted and logged
   * @param overload refuses new connections and streams while memory runs out
   */
  FrontPipeline(GatewayConfig config, Adapters adapters, SslContext ssl,
      ChannelGroup connections, ConnectionCuts cuts, OverloadManager overload) {
    this.cuts = cuts;
    this.overload = overload;
    this.errors = new ConnectionErrors(cuts);
    this.limiter = new ConnectionLimiter(config.limits().connections().maxConnections(),
        config.limits().connections().maxConnectionsPerClient());
    this.listener = config.listener();
    this.limits = config.limits();
    this.drainTimeout = config.shutdown().drainTimeout();
    this.adapters = adapters;
    this.ssl = ssl;
    this.connections = connections;
  }

  @Override
  protected void initChannel(SocketChannel ch) {
    String client = Channels.clientAddress(ch);
    String banned = cuts.banned(client);
    if (banned != null) {
      cuts.cut(ConnectionCuts.Reason.BANNED, client, Level.WARNING,
          () -> "refusing a connection: " + banned);
      ch.close();
      return;
    }
    if (overload.isRefusing()) {
      overload.refused(OverloadManager.Refused.CONNECTION);
      cuts.cut(ConnectionCuts.Reason.OVERLOAD, client, Level.FINE,
          () -> "refusing a connection from " + ch.remoteAddress() + ": "
              + Http1Handler.overloadMessage(overload));
      ch.close();
      return;
    }
    String refused = limiter.tryAcquire(client);
    if (refused != null) {
      cuts.cut(ConnectionCuts.Reason.CONNECTION_LIMIT, client, Level.WARNING,
          () -> "refusing a connection from " + ch.remoteAddress() + ": " + refused);
      ch.close();
      return;
    }
    ch.closeFuture().addListener(closed -> limiter.release(client));
    connections.add(ch);
    overload.ledger(ch.eventLoop()).attachTo(ch);
    ch.pipeline().addLast(new ConnectionTimer(limits.connections(), cuts));
    if (ssl == null) {
      configureCleartext(ch.pipeline());
    } else {
      ch.pipeline().addLast(new TlsSniffer());
    }
  }

  private void configureCleartext(ChannelPipeline pipeline) {
    pipeline.addLast(newFlushConsolidation());
    HttpServerCodec sourceCodec = newHttp1Codec();
    HttpServerUpgradeHandler upgrade = new HttpServerUpgradeHandler(sourceCodec, protocol -> {
      if (!AsciiString.contentEquals(Http2CodecUtil.HTTP_UPGRADE_PROTOCOL_NAME, protocol)) {
        return null;
      }
      ConnectionGuard guard = new ConnectionGuard(limits.rapidReset(), cuts);
      return new Http2ServerUpgradeCodec(newHttp2Codec(), newFlushConsolidation(),
          newStreams(guard), new Http2Drainer(errors), new SettingsAckWatch(),
          new ConnectionWindow(limits), new UpgradeMarker());
    }, limits.maxRequestBodyBytes());
    pipeline.addLast(new CleartextHttp2ServerUpgradeHandler(sourceCodec, upgrade,
        new ChannelInitializer<Channel>() {
          @Override
          protected void initChannel(Channel ch) {
            // Prior knowledge: the client opened with the HTTP/2 preface. The handlers go where
            // this initializer stands, before the HTTP/1.1 installer.
            addHttp2(ch.pipeline(), ch.pipeline().context(this).name());
          }
        }));
    pipeline.addLast(new Http1Installer());
  }

  /** Adds the HTTP/2 connection handlers after the handler named {@code after}. */
  private void addHttp2(ChannelPipeline pipeline, String after) {
    ConnectionGuard guard = new ConnectionGuard(limits.rapidReset(), cuts);
    pipeline.addAfter(after, "h2-codec", newHttp2Codec());
    // Coalesces the flushes of the connection's streams before they reach the codec, whose
    // flush walks its flow controller each time.
    pipeline.addAfter("h2-codec", "h2-flush", newFlushConsolidation());
    pipeline.addAfter("h2-flush", "h2-streams", newStreams(guard));
    pipeline.addAfter("h2-streams", "h2-drain", new Http2Drainer(errors));
    pipeline.addAfter("h2-drain", "h2-settings-ack", new SettingsAckWatch());
    // Last: it removes itself as it is added.
    pipeline.addAfter("h2-settings-ack", "h2-window", new ConnectionWindow(limits));
    ConnectionTimer.of(pipeline.channel()).http2Started();
  }

  private void addHttp1(ChannelPipeline pipeline) {
    pipeline.addLast(newHttp1Codec());
    pipeline.addLast(new RequestWatcher());
    pipeline.addLast(new Http1Handler.Aggregator(limits.maxRequestBodyBytes()));
    pipeline.addLast(new Http1Handler(adapters, errors, overload));
  }

  /**
   * Coalesces the flushes of all streams of a connection into one write per event-loop turn;
   * placed before the codecs (and after TLS) so that their flushes are coalesced too.
   */
  private static FlushConsolidationHandler newFlushConsolidation() {
    return new FlushConsolidationHandler(256, true);
  }

  private HttpServerCodec newHttp1Codec() {
    return new HttpServerCodec(8192, limits.maxHeaderListBytes(), 8192);
  }

  private Http2FrameCodec newHttp2Codec() {
    Http2Settings settings = Http2Settings.defaultSettings()
        .maxConcurrentStreams(limits.maxConcurrentStreams())
        .maxHeaderListSize(limits.maxHeaderListBytes())
        .initialWindowSize(limits.streamWindowBytes());
    Http2FrameCodec codec = Http2Connections.serverCodecBuilder()
        .initialSettings(settings)
        .autoAckPingFrame(true)
        .gracefulShutdownTimeoutMillis(drainTimeout.toMillis())
        // Rapid reset is handled per stream lifetime by ConnectionGuard; Netty's plain count of
        // RST frames per window would also cut off clients that legitimately cancel a lot.
        .decoderEnforceMaxRstFramesPerWindow(0, 0)
        // The gateway resets streams itself when it has answered a call early while the client
        // was still sending (RFC 9113 section 8.1: NO_ERROR): unknown routes, 401, 429... A
        // client refused often would be cut off by Netty's count of RST frames sent (200 per
        // 30 s). Work such resets could leave running (MadeYouReset) is cancelled with the
        // stream: a closed stream cancels its upstream call.
        .encoderEnforceMaxRstFramesPerWindow(0, 0)
        .build();
    codec.setCumulator(FrameCumulator.INSTANCE);
    return codec;
  }

  private Http2Streams newStreams(ConnectionGuard guard) {
    return new Http2Streams(new Http2StreamDispatcher(adapters, guard, overload), guard,
        overload.budget(), limits.streamWindowBytes());
  }

  /**
   * Raises the connection-level flow-control window to the configured size once the connection
   * is up, so that one connection can keep several streams busy. Netty's frame codec has already
   * raised it to about twice the stream window; this adds what is missing, if anything. Removes
   * itself.
   */
  private static final class ConnectionWindow extends ChannelInboundHandlerAdapter {
    private final int windowBytes;

    ConnectionWindow(GatewayConfig.Limits limits) {
      this.windowBytes = limits.connectionWindowBytes();
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
      Http2Connection connection = ctx.pipeline().get(Http2FrameCodec.class).connection();
      int current = connection.local().flowController()
          .initialWindowSize(connection.connectionStream());
      if (windowBytes > current) {
        ctx.writeAndFlush(new DefaultHttp2WindowUpdateFrame(windowBytes - current));
      }
      ctx.pipeline().remove(this);
    }
  }

  /** Tells the connection's timer when the client acknowledges SETTINGS. Removes itself. */
  private static final class SettingsAckWatch extends ChannelInboundHandlerAdapter {
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (msg instanceof Http2SettingsAckFrame) {
        ReferenceCountUtil.release(msg);
        ConnectionTimer.of(ctx.channel()).settingsAcked();
        ctx.pipeline().remove(this);
        return;
      }
      ctx.fireChannelRead(msg);
    }
  }

  /** Marks a connection that became HTTP/2 through an HTTP/1.1 Upgrade. Removes itself. */
  private static final class UpgradeMarker extends ChannelInboundHandlerAdapter {
    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
      ctx.channel().attr(Http2StreamDispatcher.UPGRADED).set(Boolean.TRUE);
      ConnectionTimer.of(ctx.channel()).http2Started();
      ctx.pipeline().remove(this);
    }
  }

  /**
   * After the cleartext upgrade handler: the first HTTP/1.1 request that did not upgrade turns
   * this connection into an HTTP/1.1 connection.
   */
  private final class Http1Installer extends ChannelInboundHandlerAdapter {
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (msg instanceof HttpMessage) {
        ConnectionTimer.of(ctx.channel()).requestHeadersReceived();
        ChannelPipeline pipeline = ctx.pipeline();
        pipeline.addAfter(ctx.name(), null, new Http1Handler(adapters, errors, overload));
        pipeline.addAfter(ctx.name(), null,
            new Http1Handler.Aggregator(limits.maxRequestBodyBytes()));
        pipeline.replace(this, null, new RequestWatcher());
        ctx.fireChannelRead(msg);
        return;
      }
      // After an upgrade or with prior knowledge, HTTP/2 connection frames end up here.
      ReferenceCountUtil.release(msg);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
      if (evt == DrainEvent.INSTANCE) {
        // Nothing spoken yet (HTTP/2 connections consume the event earlier): just close.
        ctx.close();
        return;
      }
      ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      errors.caught(ctx, cause);
    }
  }

  /** With TLS configured: tells TLS from cleartext by the first bytes of the connection. */
  private final class TlsSniffer extends ByteToMessageDecoder {
    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
      if (in.readableBytes() < 5) {
        return;
      }
      ChannelPipeline pipeline = ctx.pipeline();
      if (SslHandler.isEncrypted(in, false)) {
        SslHandler sslHandler = ssl.newHandler(ctx.alloc());
        sslHandler.setHandshakeTimeoutMillis(10_000);
        pipeline.addAfter(ctx.name(), null, new AlpnHandler());
        pipeline.replace(this, null, sslHandler);
      } else if (listener.tls().allowPlaintext()) {
        configureCleartext(pipeline);
        pipeline.remove(this);
      } else {
        refusePlaintext(ctx, in);
      }
    }

    /**
     * Tells a plaintext client why it is turned away, in its own protocol: HTTP/2 clients (the
     * preface starts with "PRI ") get SETTINGS and a GOAWAY with INADEQUATE_SECURITY and a
     * reason, which grpc clients report; anything else gets an HTTP/1.1 400.
     */
    private void refusePlaintext(ChannelHandlerContext ctx, ByteBuf in) {
      boolean http2 = in.getByte(in.readerIndex()) == 'P' && in.getByte(in.readerIndex() + 1) == 'R'
          && in.getByte(in.readerIndex() + 2) == 'I' && in.getByte(in.readerIndex() + 3) == ' ';
      in.skipBytes(in.readableBytes());
      String reason = "this port requires TLS (listener.tls.allowPlaintext is false)";
      ByteBuf refusal = ctx.alloc().buffer();
      if (http2) {
        refusal.writeMedium(0).writeByte(0x4).writeByte(0).writeInt(0); // empty SETTINGS
        refusal.writeMedium(8 + reason.length()).writeByte(0x7).writeByte(0).writeInt(0)
            .writeInt(0).writeInt((int) Http2Error.INADEQUATE_SECURITY.code());
        ByteBufUtil.writeAscii(refusal, reason);
      } else {
        ByteBufUtil.writeAscii(refusal, "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
            + "Connection: close\r\nContent-Length: " + (reason.length() + 1) + "\r\n\r\n"
            + reason + "\n");
      }
      ctx.writeAndFlush(refusal).addListener(ChannelFutureListener.CLOSE);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
      if (evt == DrainEvent.INSTANCE) {
        ctx.close();
        return;
      }
      super.userEventTriggered(ctx, evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      errors.caught(ctx, cause);
    }
  }

  /** After the TLS handshake: HTTP/2 or HTTP/1.1, as ALPN agreed. */
  private final class AlpnHandler extends ApplicationProtocolNegotiationHandler {
    AlpnHandler() {
      super(ApplicationProtocolNames.HTTP_1_1);
    }

    @Override
    protected void configurePipeline(ChannelHandlerContext ctx, String protocol) {
      ChannelPipeline pipeline = ctx.pipeline();
      SslHandler tls = pipeline.get(SslHandler.class);
      String rejected = ClientTrust.rejection(tls.engine().getSession());
      if (rejected != null) {
        logger.log(Level.FINE, "closing connection from " + ctx.channel().remoteAddress()
            + ": " + rejected);
        cuts.cut(ConnectionCuts.Reason.CLIENT_CERTIFICATE, Channels.clientAddress(ctx.channel()),
            Level.WARNING, () -> "closing connection from " + ctx.channel().remoteAddress()
            + ": " + rejected + " (listener.tls.clientCaFile)");
        ctx.close();
        return;
      }
      try {
        java.security.cert.Certificate[] peer = tls.engine().getSession().getPeerCertificates();
        if (peer.length > 0 && peer[0] instanceof java.security.cert.X509Certificate leaf) {
          Channels.setClientIdentity(ctx.channel(),
              io.meshgate.gateway.call.ClientIdentity.of(leaf));
        }
      } catch (javax.net.ssl.SSLPeerUnverifiedException noCertificate) {
        // clientAuth none or optional, and the client sent none
      }
      pipeline.addLast(newFlushConsolidation());
      if (ApplicationProtocolNames.HTTP_2.equals(protocol)) {
        addHttp2(pipeline, pipeline.lastContext().name());
      } else {
        addHttp1(pipeline);
      }
    }

    @Override
    protected void handshakeFailure(ChannelHandlerContext ctx, Throwable cause) {
      logger.log(Level.FINE, "TLS handshake with " + ctx.channel().remoteAddress() + " failed",
          cause);
      ctx.close();
    }
  }

  /** Between the HTTP/1.1 codec and the aggregator: tells the timer each request's headers. */
  private static final class RequestWatcher extends ChannelInboundHandlerAdapter {
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (msg instanceof HttpMessage) {
        ConnectionTimer.of(ctx.channel()).requestHeadersReceived();
      }
      ctx.fireChannelRead(msg);
    }
  }
}
