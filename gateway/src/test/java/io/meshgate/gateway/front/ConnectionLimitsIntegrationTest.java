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
import io.netty.handler.codec.http2.Http2ConnectionHandler;
import io.netty.handler.codec.http2.Http2ConnectionHandlerBuilder;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2FrameAdapter;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Connections that take too long or are too many: slowloris, connections that send nothing,
 * idle keep-alive connections (HTTP/1.1 and HTTP/2), maximum age, and the connection limits —
 * each ends the connection it should, and only that one.
 */
@Timeout(60)
class ConnectionLimitsIntegrationTest {
  private SampleServer echo;
  private TestGateway gateway;
  private final List<Socket> sockets = new ArrayList<>();

  private void start(String limits) throws Exception {
    echo = SampleServer.start(SampleServer.Kind.ECHO, "127.0.0.1", 0);
    gateway = TestGateway.start("""
        limits: %s
        clusters: [{name: echo, endpoints: ["127.0.0.1:%d"]}]
        routes: [{match: {servicePrefix: ""}, cluster: echo}]
        """.formatted(limits, echo.port()));
  }

  @AfterEach
  void stop() throws Exception {
    for (Socket socket : sockets) {
      socket.close();
    }
    if (gateway != null) {
      gateway.close();
    }
    if (echo != null) {
      echo.close();
    }
  }

  private Socket connect() throws IOException {
    Socket socket = new Socket(InetAddress.getLoopbackAddress(), gateway.port());
    socket.setSoTimeout(10_000);
    sockets.add(socket);
    return socket;
  }

  /** Whether the server has closed {@code socket} (reads until EOF, within its timeout). */
  private static boolean closedByServer(Socket socket) throws IOException {
    InputStream in = socket.getInputStream();
    try {
      while (in.read() >= 0) {
        // an answer, if any, before the close
      }
      return true;
    } catch (SocketTimeoutException stillOpen) {
      return false;
    } catch (IOException reset) {
      return true;
    }
  }

  private void assertStillServing() {
    assertEquals("ok", EchoServiceGrpc.newBlockingStub(gateway.channel())
        .withDeadlineAfter(10, TimeUnit.SECONDS)
        .echo(EchoRequest.newBuilder().setMessage("ok").build()).getMessage());
  }

  private double cuts(String reason) throws Exception {
    return Metrics.scrape(gateway.gateway().adminPort()).sum("meshgate_connections_cut_total",
        "reason", reason);
  }

  @Test
  void slowlorisAndSilentConnectionsAreClosedAfterTheRequestHeadersTimeout() throws Exception {
    // Every client here is 127.0.0.1: a ban of the slow ones would refuse the normal one too.
    start("{requestHeadersTimeout: 500ms, abuseBan: {afterCuts: 1000}}");
    List<Socket> slow = new ArrayList<>();
    List<Socket> silent = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      slow.add(connect());
      silent.add(connect());
    }
    byte[] request = "GET /v1/echo HTTP/1.1\r\nHost: x\r\nX-Slow: ".getBytes(
        StandardCharsets.US_ASCII);
    // The attacker: one byte a connection every 50 ms, so complete headers would take far
    // longer than 500 ms.
    List<Socket> open = new java.util.concurrent.CopyOnWriteArrayList<>(slow);
    java.util.concurrent.atomic.AtomicInteger sent = new java.util.concurrent.atomic.AtomicInteger();
    java.util.concurrent.ScheduledExecutorService attacker =
        java.util.concurrent.Executors.newSingleThreadScheduledExecutor();
    try {
      attacker.scheduleAtFixedRate(() -> {
        int at = Math.min(sent.getAndIncrement(), request.length - 1);
        for (Socket socket : open) {
          try {
            socket.getOutputStream().write(request[at]);
            socket.getOutputStream().flush();
          } catch (IOException closed) {
            open.remove(socket);
          }
        }
      }, 0, 50, TimeUnit.MILLISECONDS);
      Await.until("the gateway closes every slow connection", Duration.ofSeconds(10),
          open::isEmpty);
    } finally {
      attacker.shutdownNow();
    }
    for (Socket socket : silent) {
      assertTrue(closedByServer(socket), "a connection that sent nothing was closed");
    }
    assertStillServing();
    assertEquals(40.0, cuts("request_timeout"));
  }

  @Test
  void idleHttp1KeepAliveConnectionsAreClosedButAnsweredOnesAreNot() throws Exception {
    start("{idleTimeout: 400ms}");
    Socket socket = connect();
    socket.getOutputStream().write(("GET /no/such/path HTTP/1.1\r\nHost: x\r\n\r\n")
        .getBytes(StandardCharsets.US_ASCII));
    socket.getOutputStream().flush();
    byte[] status = socket.getInputStream().readNBytes(12);
    assertEquals("HTTP/1.1 404", new String(status, StandardCharsets.US_ASCII));
    // Kept alive after its answer, then idle: closed about 400 ms later.
    assertTrue(closedByServer(socket));
    assertEquals(1.0, cuts("idle_timeout"));
  }

  @Test
  void idleHttp2ConnectionsAreDrainedWithGoAwayButBusyOnesAreNot() throws Exception {
    start("{idleTimeout: 500ms}");
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    try {
      AtomicLong goAway = new AtomicLong(-1);
      Http2ConnectionHandler client = new Http2ConnectionHandlerBuilder().server(false)
          .frameListener(new Http2FrameAdapter() {
            @Override
            public void onGoAwayRead(ChannelHandlerContext ctx, int lastStreamId,
                long errorCode, ByteBuf debugData) {
              goAway.set(errorCode);
            }
          }).build();
      Channel idle = new Bootstrap().group(group).channel(NioSocketChannel.class)
          .handler(new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
              ch.pipeline().addLast(client);
            }
          }).connect("127.0.0.1", gateway.port()).sync().channel();
      // A gRPC client in a call that lasts longer than the idle timeout: not idle.
      var slow = EchoServiceGrpc.newBlockingStub(gateway.channel());
      assertEquals("slow", slow.echo(EchoRequest.newBuilder().setMessage("slow")
          .setDelayMillis(1_500).build()).getMessage());
      Await.until("the idle connection is closed", Duration.ofSeconds(10),
          () -> !idle.isActive());
      assertEquals(Http2Error.NO_ERROR.code(), goAway.get(), "a GOAWAY came first");
    } finally {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    }
  }

  @Test
  void connectionsOverThePerClientLimitAreRefused() throws Exception {
    start("{maxConnectionsPerClient: 3}");
    List<Socket> held = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      held.add(connect());
    }
    Await.until("the gateway holds three connections", Duration.ofSeconds(10),
        () -> gateway.gateway().openConnections() == 3);
    Socket fourth = connect();
    assertTrue(closedByServer(fourth), "the fourth connection from one address is refused");
    assertEquals(1.0, cuts("connection_limit"));
    held.get(0).close();
    Await.until("a place is free again", Duration.ofSeconds(10),
        () -> gateway.gateway().openConnections() == 2);
    assertStillServing();
  }

  @Test
  void connectionsOlderThanTheMaximumAgeAreDrained() throws Exception {
    start("{maxConnectionAge: 700ms}");
    Socket socket = connect();
    socket.getOutputStream().write(("GET /no/such/path HTTP/1.1\r\nHost: x\r\n\r\n")
        .getBytes(StandardCharsets.US_ASCII));
    socket.getOutputStream().flush();
    assertEquals("HTTP/1.1 404", new String(socket.getInputStream().readNBytes(12),
        StandardCharsets.US_ASCII));
    assertTrue(closedByServer(socket), "drained once 700 ms old");
    assertStillServing();
  }

  @Test
  void http2ClientsThatNeverAcknowledgeSettingsAreCutWithSettingsTimeout() throws Exception {
    start("{settingsAckTimeout: 300ms, abuseBan: {afterCuts: 1000}}");
    Socket socket = connect();
    OutputStream out = socket.getOutputStream();
    out.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
    out.write(new byte[] {0, 0, 0, 4, 0, 0, 0, 0, 0}); // our own, empty SETTINGS; no ACK ever
    out.flush();
    java.io.DataInputStream in = new java.io.DataInputStream(socket.getInputStream());
    long goAwayCode = -1;
    try {
      while (true) {
        int length = in.readUnsignedShort() << 8 | in.readUnsignedByte();
        int type = in.readUnsignedByte();
        in.readUnsignedByte(); // flags
        in.readInt(); // stream id
        byte[] payload = in.readNBytes(length);
        if (type == 7) {
          goAwayCode = java.nio.ByteBuffer.wrap(payload, 4, 4).getInt();
        }
      }
    } catch (java.io.EOFException closed) {
      // the gateway closed the connection
    }
    assertEquals(Http2Error.SETTINGS_TIMEOUT.code(), goAwayCode, "GOAWAY SETTINGS_TIMEOUT");
    assertEquals(1.0, cuts("settings_timeout"));
    // grpc-java acknowledges at once: a call that outlasts the timeout is not cut.
    assertEquals("slow", EchoServiceGrpc.newBlockingStub(gateway.channel())
        .withDeadlineAfter(10, TimeUnit.SECONDS)
        .echo(EchoRequest.newBuilder().setMessage("slow").setDelayMillis(900).build())
        .getMessage());
    assertEquals(1.0, cuts("settings_timeout"));
  }
}
