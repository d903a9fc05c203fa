package io.meshgate.gateway.admin;

import io.meshgate.gateway.config.GatewayConfig;
import io.meshgate.gateway.netty.EventLoops;
import io.meshgate.gateway.telemetry.GatewayMetrics;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The admin port: {@code GET /healthz} (200 while the process runs), {@code GET /readyz}
 * (200 while the gateway takes new calls, 503 while it starts or drains) and
 * {@code GET /metrics} (Prometheus text format).
 */
public final class AdminServer {
  private static final Logger logger = Logger.getLogger(AdminServer.class.getName());
  private static final String PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";

  private final GatewayConfig.Admin config;
  private final EventLoops loops;
  private final java.util.function.Supplier<String> unready;
  private final GatewayMetrics metrics;
  // Rendering every meter is CPU work that must not hold an event loop; scrapes beyond a few
  // waiting ones are refused rather than queued.
  private final ThreadPoolExecutor scraper = new ThreadPoolExecutor(1, 1, 30, TimeUnit.SECONDS,
      new ArrayBlockingQueue<>(4), r -> {
        Thread t = new Thread(r, "meshgate-metrics");
        t.setDaemon(true);
        return t;
      });
  private final AdminApi api;
  // The API's answers are small and quick, but a console polls several at once every 2 s: a
  // pool of their own, so that they neither wait behind a scrape nor are refused because of one.
  private final ThreadPoolExecutor apiPool = new ThreadPoolExecutor(2, 2, 30, TimeUnit.SECONDS,
      new ArrayBlockingQueue<>(32), r -> {
        Thread t = new Thread(r, "meshgate-admin-api");
        t.setDaemon(true);
        return t;
      });
  private final io.meshgate.gateway.front.ServerTls tls;
  private Channel serverChannel;

  /**
   * @param unready why {@code /readyz} reports unready now (starting, draining, overloaded), or
   *     null when ready
   */
  public AdminServer(GatewayConfig.Admin config, EventLoops loops,
      java.util.function.Supplier<String> unready, GatewayMetrics metrics, AdminApi api) {
    this(config, null, loops, unready, metrics, api);
  }

  /** @param tls HTTPS on the port (and client certificates for the API), or null */
  public AdminServer(GatewayConfig.Admin config, io.meshgate.gateway.front.ServerTls tls,
      EventLoops loops, java.util.function.Supplier<String> unready, GatewayMetrics metrics,
      AdminApi api) {
    this.config = config;
    this.tls = tls;
    this.loops = loops;
    this.unready = unready;
    this.metrics = metrics;
    this.api = api;
    scraper.allowCoreThreadTimeOut(true);
    apiPool.allowCoreThreadTimeOut(true);
  }

  private FullHttpResponse readiness(ChannelHandlerContext ctx) {
    String why = unready.get();
    if (why == null) {
      return json(ctx, HttpResponseStatus.OK, "{\"status\":\"ready\"}");
    }
    com.google.gson.JsonObject body = new com.google.gson.JsonObject();
    body.addProperty("status", "not ready");
    body.addProperty("reason", why);
    return json(ctx, HttpResponseStatus.SERVICE_UNAVAILABLE, body.toString());
  }

  /**
   * Binds the admin port.
   *
   * @throws java.io.IOException naming the address when the port cannot be bound
   */
  public void start() throws java.io.IOException, InterruptedException {
    io.netty.channel.ChannelFuture bound = new ServerBootstrap()
        .group(loops.boss(), loops.workers())
        .channel(loops.serverChannelType())
        .childHandler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel ch) {
            if (tls != null) {
              io.netty.handler.ssl.SslHandler ssl = tls.context().newHandler(ch.alloc());
              ssl.setHandshakeTimeoutMillis(10_000);
              ch.pipeline().addLast(ssl);
            }
            ch.pipeline().addLast(new HttpServerCodec(4096, 16 * 1024, 8192),
                new HttpObjectAggregator(1024 * 1024), new Handler());
          }
        })
        .bind(config.host(), config.port()).await();
    if (!bound.isSuccess()) {
      throw new java.io.IOException("cannot listen on " + config.host() + ":" + config.port()
          + " (admin): " + bound.cause().getMessage(), bound.cause());
    }
    serverChannel = bound.channel();
  }

  /** The bound port. */
  public int port() {
    return ((InetSocketAddress) serverChannel.localAddress()).getPort();
  }

  public void close() {
    if (serverChannel != null) {
      serverChannel.close().syncUninterruptibly();
    }
    scraper.shutdownNow();
    apiPool.shutdownNow();
    tester.shutdownNow();
  }

  private final class Handler extends SimpleChannelInboundHandler<FullHttpRequest> {
    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
      if (!request.decoderResult().isSuccess()) {
        badRequest(ctx, "malformed HTTP request: " + request.decoderResult().cause().getMessage());
        return;
      }
      String path;
      try {
        path = new QueryStringDecoder(request.uri()).path();
      } catch (IllegalArgumentException e) {
        badRequest(ctx, "malformed path '" + request.uri() + "': " + e.getMessage());
        return;
      }
      boolean keepAlive = HttpUtil.isKeepAlive(request);
      if (path.equals("/metrics")) {
        scrape(ctx, keepAlive);
        return;
      }
      if (path.startsWith("/api/")) {
        api(ctx, request, path, keepAlive);
        return;
      }
      if (path.equals("/") || path.startsWith("/console/")) {
        send(ctx, asset(ctx, path), keepAlive);
        return;
      }
      FullHttpResponse response = switch (path) {
        case "/healthz" -> json(ctx, HttpResponseStatus.OK, "{\"status\":\"ok\"}");
        case "/readyz" -> readiness(ctx);
        case "/openapi.json" -> json(ctx, HttpResponseStatus.OK, api.openApi());
        case "/openapi.yaml" -> text(ctx, "application/yaml", io.meshgate.gateway.config.JsonYaml.of(api.openApi()));
        default -> {
          com.google.gson.JsonObject error = new com.google.gson.JsonObject();
          error.addProperty("code", 5);
          error.addProperty("message", "no admin endpoint " + path
              + " (try / for the console, /healthz, /readyz, /metrics, /openapi.json,"
              + " /api/config)");
          yield json(ctx, HttpResponseStatus.NOT_FOUND, error.toString());
        }
      };
      send(ctx, response, keepAlive);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      // Malformed requests are answered above; anything else ends the connection.
      logger.log(Level.FINE, "admin connection " + ctx.channel() + ": " + cause, cause);
      ctx.close();
    }
  }

  /** Answers 400 and closes: after a malformed request the connection's framing is unknown. */
  private static void badRequest(ChannelHandlerContext ctx, String message) {
    com.google.gson.JsonObject error = new com.google.gson.JsonObject();
    error.addProperty("code", 3);
    error.addProperty("message", message);
    send(ctx, json(ctx, HttpResponseStatus.BAD_REQUEST, error.toString()), false);
  }

  private void scrape(ChannelHandlerContext ctx, boolean keepAlive) {
    try {
      scraper.execute(() -> {
        String text = metrics.scrape();
        ctx.executor().execute(() -> {
          ByteBuf content = ByteBufUtil.writeUtf8(ctx.alloc(), text);
          FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
              HttpResponseStatus.OK, content);
          response.headers().set(HttpHeaderNames.CONTENT_TYPE, PROMETHEUS_TEXT)
              .setInt(HttpHeaderNames.CONTENT_LENGTH, content.readableBytes());
          send(ctx, response, keepAlive);
        });
      });
    } catch (RejectedExecutionException e) {
      send(ctx, json(ctx, HttpResponseStatus.SERVICE_UNAVAILABLE,
          "{\"code\":14,\"message\":\"too many scrapes at once; try again\"}"), keepAlive);
    }
  }

  /**
   * The admin API: the bearer token, or a client certificate of {@code admin.tls.clientCaFile};
   * answered off the event loop.
   */
  /** The API calls that only read, open to anyone when no admin credential is configured. */
  private static final java.util.Set<String> READ_ONLY = java.util.Set.of("/api/config",
      "/api/clusters", "/api/routes", "/api/reloads", "/api/traffic", "/api/services");

  /**
   * The admin API: the bearer token, or a client certificate of {@code admin.tls.clientCaFile};
   * without either configured, only its read-only views answer (the console is read-only and
   * its call tester is off). Answered off the event loop.
   */
  private void api(ChannelHandlerContext ctx, FullHttpRequest request, String path,
      boolean keepAlive) {
    boolean certificates = tls != null && config.tls().clientCaFile() != null;
    boolean credentials = config.token() != null || certificates;
    String method = request.method().name();
    if (path.equals("/api/console")) {
      send(ctx, json(ctx, HttpResponseStatus.OK, consoleInfo(ctx, request, credentials,
          certificates)), keepAlive);
      return;
    }
    if (!credentials) {
      if (!method.equals("GET") || !READ_ONLY.contains(path)) {
        send(ctx, json(ctx, HttpResponseStatus.FORBIDDEN, "{\"code\":7,\"message\":\"" + method
            + " " + path + " needs an admin credential, and none is configured: set"
            + " admin.token or admin.tokenFile (or admin.tls.clientCaFile); until then the"
            + " admin API only reads\"}"), keepAlive);
        return;
      }
    } else if (!authorized(ctx, request, certificates)) {
      unauthorized(ctx, request, certificates, keepAlive);
      return;
    }
    String body = request.content().toString(StandardCharsets.UTF_8);
    if (method.equals("POST") && path.equals("/api/call")) {
      testCall(ctx, body, keepAlive);
      return;
    }
    try {
      (method.equals("POST") && path.equals("/api/http") ? tester : apiPool).execute(
          () -> answer(ctx, method, path, body, keepAlive));
    } catch (RejectedExecutionException e) {
      send(ctx, json(ctx, HttpResponseStatus.SERVICE_UNAVAILABLE,
          "{\"code\":14,\"message\":\"the admin API is busy; try again\"}"), keepAlive);
    }
  }

  /** Whether the request carries the admin token or a client certificate of the admin CA. */
  private boolean authorized(ChannelHandlerContext ctx, FullHttpRequest request,
      boolean certificates) {
    io.netty.handler.ssl.SslHandler ssl = ctx.pipeline().get(io.netty.handler.ssl.SslHandler.class);
    boolean byCertificate = certificates && ssl != null
        && io.meshgate.gateway.front.ServerTls.verifiedClient(ssl.engine()) != null;
    if (byCertificate) {
      return true;
    }
    String authorization = request.headers().get(HttpHeaderNames.AUTHORIZATION);
    byte[] expected = config.token() == null ? null
        : ("Bearer " + config.token()).getBytes(StandardCharsets.UTF_8);
    byte[] given = authorization == null ? new byte[0]
        : authorization.getBytes(StandardCharsets.UTF_8);
    return expected != null && MessageDigest.isEqual(expected, given);
  }

  private void unauthorized(ChannelHandlerContext ctx, FullHttpRequest request,
      boolean certificates, boolean keepAlive) {
    String authorization = request.headers().get(HttpHeaderNames.AUTHORIZATION);
    if (config.token() == null) {
      send(ctx, json(ctx, HttpResponseStatus.UNAUTHORIZED, "{\"code\":16,\"message\":\"the"
          + " admin API needs a client certificate from " + config.tls().clientCaFile()
              .getFileName() + "\"}"), keepAlive);
      return;
    }
    FullHttpResponse response = json(ctx, HttpResponseStatus.UNAUTHORIZED, "{\"code\":16,"
        + "\"message\":\"" + (authorization == null ? "the admin API needs Authorization:"
            + " Bearer <admin.token>" + (certificates ? " or a client certificate from "
                + config.tls().clientCaFile().getFileName() : "") : "wrong admin token")
        + "\"}");
    response.headers().set(HttpHeaderNames.WWW_AUTHENTICATE, "Bearer realm=\"meshgate-admin\"");
    send(ctx, response, keepAlive);
  }

  /**
   * What the console needs to know before it asks for anything: which credential the API
   * takes, whether this request already carries it, and whether the call tester is on. Never
   * a secret.
   */
  private String consoleInfo(ChannelHandlerContext ctx, FullHttpRequest request,
      boolean credentials, boolean certificates) {
    com.google.gson.JsonObject o = new com.google.gson.JsonObject();
    o.addProperty("auth", !credentials ? "none" : config.token() != null && certificates
        ? "token or certificate" : config.token() != null ? "token" : "certificate");
    boolean authorized = credentials && authorized(ctx, request, certificates);
    o.addProperty("authorized", authorized);
    o.addProperty("readOnly", !credentials);
    o.addProperty("tester", credentials);
    return o.toString();
  }

  /** Calls of the call tester at once; more are refused (503), not queued. */
  private final java.util.concurrent.Semaphore testCalls = new java.util.concurrent.Semaphore(8);
  private final ThreadPoolExecutor tester = new ThreadPoolExecutor(2, 2, 30, TimeUnit.SECONDS,
      new ArrayBlockingQueue<>(8), r -> {
        Thread t = new Thread(r, "meshgate-console-tester");
        t.setDaemon(true);
        return t;
      });

  /** The call tester: the call's events streamed back as JSON lines as they happen. */
  private void testCall(ChannelHandlerContext ctx, String body, boolean keepAlive) {
    if (!testCalls.tryAcquire()) {
      send(ctx, json(ctx, HttpResponseStatus.SERVICE_UNAVAILABLE, "{\"code\":14,\"message\":"
          + "\"the call tester runs 8 calls at once at most; try again\"}"), keepAlive);
      return;
    }
    io.netty.handler.codec.http.HttpResponse head = new io.netty.handler.codec.http
        .DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
    head.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/x-ndjson; charset=utf-8")
        .set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED)
        .set(HttpHeaderNames.CACHE_CONTROL, "no-store");
    HttpUtil.setKeepAlive(head, keepAlive);
    ctx.writeAndFlush(head);
    java.util.concurrent.atomic.AtomicBoolean finished =
        new java.util.concurrent.atomic.AtomicBoolean();
    try {
      tester.execute(() -> api.call(body,
          line -> ctx.executor().execute(() -> ctx.writeAndFlush(
              new io.netty.handler.codec.http.DefaultHttpContent(
                  ByteBufUtil.writeUtf8(ctx.alloc(), line + "\n")))),
          () -> {
            if (finished.compareAndSet(false, true)) {
              testCalls.release();
              ctx.executor().execute(() -> {
                io.netty.channel.ChannelFuture last = ctx.writeAndFlush(
                    io.netty.handler.codec.http.LastHttpContent.EMPTY_LAST_CONTENT);
                if (!keepAlive) {
                  last.addListener(ChannelFutureListener.CLOSE);
                }
              });
            }
          }));
    } catch (RejectedExecutionException e) {
      testCalls.release();
      ctx.writeAndFlush(new io.netty.handler.codec.http.DefaultLastHttpContent(
          ByteBufUtil.writeUtf8(ctx.alloc(), "{\"event\":\"error\",\"message\":\"the call"
              + " tester is busy; try again\"}\n"))).addListener(ChannelFutureListener.CLOSE);
    }
  }

  /** The console's files, bundled in the jar; {@code /} is its page. */
  private static FullHttpResponse asset(ChannelHandlerContext ctx, String path) {
    String name = path.equals("/") ? "index.html" : path.substring("/console/".length());
    String type = name.endsWith(".html") ? "text/html; charset=utf-8"
        : name.endsWith(".js") ? "text/javascript; charset=utf-8"
        : name.endsWith(".css") ? "text/css; charset=utf-8"
        : name.endsWith(".svg") ? "image/svg+xml" : null;
    java.io.InputStream in = type == null || name.contains("..") || name.contains("/") ? null
        : AdminServer.class.getResourceAsStream("/io/meshgate/gateway/console/" + name);
    if (in == null) {
      return json(ctx, HttpResponseStatus.NOT_FOUND, "{\"code\":5,\"message\":\"no console file "
          + name.replace("\"", "") + "\"}");
    }
    byte[] bytes;
    try (in) {
      bytes = in.readAllBytes();
    } catch (java.io.IOException e) {
      return json(ctx, HttpResponseStatus.INTERNAL_SERVER_ERROR, "{\"code\":13,\"message\":"
          + "\"cannot read the console\"}");
    }
    FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
        HttpResponseStatus.OK, ctx.alloc().buffer(bytes.length).writeBytes(bytes));
    response.headers().set(HttpHeaderNames.CONTENT_TYPE, type)
        .setInt(HttpHeaderNames.CONTENT_LENGTH, bytes.length)
        .set(HttpHeaderNames.CACHE_CONTROL, "no-cache")
        .set("x-content-type-options", "nosniff")
        .set("content-security-policy", "default-src 'self'; img-src 'self' data:;"
            + " frame-ancestors 'none'");
    return response;
  }

  /** Answers an authorized API call; runs off the event loop. */
  private void answer(ChannelHandlerContext ctx, String method, String path, String body,
      boolean keepAlive) {
    HttpResponseStatus status = HttpResponseStatus.OK;
    String text;
    try {
      String[] parts = path.split("/");
      boolean entry = parts.length == 4 && (parts[2].equals("routes")
          || parts[2].equals("clusters")) && !parts[3].isEmpty();
      switch (entry && (method.equals("PUT") || method.equals("DELETE")
          || method.equals("GET")) ? method + " entry" : method + " " + path) {
        case "GET entry" -> {
          String name = parts[3];
          com.google.gson.JsonArray all = com.google.gson.JsonParser.parseString(
              parts[2].equals("routes") ? api.routes() : api.clusters()).getAsJsonArray();
          text = null;
          for (com.google.gson.JsonElement e : all) {
            if (name.equals(e.getAsJsonObject().get("name").getAsString())) {
              text = e.toString();
            }
          }
          if (text == null) {
            status = HttpResponseStatus.NOT_FOUND;
            com.google.gson.JsonObject error = new com.google.gson.JsonObject();
            error.addProperty("code", 5);
            error.addProperty("message", "no " + parts[2] + " entry named '" + name + "'");
            text = error.toString();
          }
        }
        case "PUT entry", "DELETE entry" -> {
          String name = parts[3];
          AdminApi.Change change = method.equals("PUT") ? api.put(parts[2], name, body)
              : api.delete(parts[2], name);
          status = HttpResponseStatus.valueOf(change.httpStatus());
          text = change.json();
        }
        case "GET /api/config" -> text = api.config();
        case "GET /api/reloads" -> text = api.reloads();
        case "GET /api/traffic" -> text = api.traffic();
        case "GET /api/services" -> text = api.services();
        case "POST /api/http" -> {
          try {
            text = api.http(body);
          } catch (Exception e) {
            status = HttpResponseStatus.BAD_GATEWAY;
            text = AdminJson.error(14, "the request did not get through the gateway: " + e);
          }
        }
        case "GET /api/clusters" -> text = api.clusters();
        case "GET /api/routes" -> text = api.routes();
        case "POST /api/validate" -> {
          java.util.List<String> errors = api.validate(body);
          com.google.gson.JsonObject result = new com.google.gson.JsonObject();
          result.addProperty("valid", errors.isEmpty());
          com.google.gson.JsonArray list = new com.google.gson.JsonArray();
          errors.forEach(list::add);
          result.add("errors", list);
          text = result.toString();
          status = errors.isEmpty() ? HttpResponseStatus.OK
              : HttpResponseStatus.UNPROCESSABLE_ENTITY;
        }
        default -> {
          status = HttpResponseStatus.NOT_FOUND;
          com.google.gson.JsonObject error = new com.google.gson.JsonObject();
          error.addProperty("code", 5);
          error.addProperty("message", "no admin API endpoint " + method + " " + path
              + " (try GET /api/config, /api/clusters, /api/routes, /api/reloads,"
              + " /api/traffic, /api/services, POST /api/validate, /api/call, /api/http,"
              + " GET, PUT or DELETE /api/routes/NAME, /api/clusters/NAME)");
          text = error.toString();
        }
      }
    } catch (RuntimeException e) {
      status = HttpResponseStatus.INTERNAL_SERVER_ERROR;
      com.google.gson.JsonObject error = new com.google.gson.JsonObject();
      error.addProperty("code", 13);
      error.addProperty("message", String.valueOf(e.getMessage()));
      text = error.toString();
    }
    HttpResponseStatus answer = status;
    String reply = text;
    ctx.executor().execute(() -> send(ctx, json(ctx, answer, reply), keepAlive));
  }

  private static void send(ChannelHandlerContext ctx, FullHttpResponse response,
      boolean keepAlive) {
    HttpUtil.setKeepAlive(response, keepAlive);
    if (keepAlive) {
      ctx.writeAndFlush(response);
    } else {
      ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
    }
  }

  private static FullHttpResponse text(ChannelHandlerContext ctx, String type, String body) {
    ByteBuf content = ByteBufUtil.writeUtf8(ctx.alloc(), body);
    FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
        HttpResponseStatus.OK, content);
    response.headers().set(HttpHeaderNames.CONTENT_TYPE, type)
        .setInt(HttpHeaderNames.CONTENT_LENGTH, content.readableBytes());
    return response;
  }

  private static FullHttpResponse json(ChannelHandlerContext ctx, HttpResponseStatus status,
      String body) {
    ByteBuf content = ByteBufUtil.writeUtf8(ctx.alloc(), body);
    FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, content);
    response.headers()
        .set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON)
        .setInt(HttpHeaderNames.CONTENT_LENGTH, content.readableBytes());
    return response;
  }
}
