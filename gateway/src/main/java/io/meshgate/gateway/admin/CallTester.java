package io.meshgate.gateway.admin;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Descriptors.MethodDescriptor;
import com.google.protobuf.Descriptors.ServiceDescriptor;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.meshgate.gateway.descriptors.Descriptors;
import io.meshgate.transcoder.JsonOptions;
import io.meshgate.transcoder.TranscodingException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.IntSupplier;
import java.util.function.Supplier;

/**
 * The console's call tester (in the spirit of Armeria's DocService): the services and methods
 * of the loaded descriptors with a request template each, and real calls sent through the
 * gateway's own main port — so they pass the whole admission chain like any client's —
 * reported event by event: response headers, each message as JSON, the end with its status and
 * trailers, each with its time since the call started. Also REST requests to the main port (the
 * OpenAPI page's "try it"). Bounded: at most {@link #MAX_MESSAGES} messages per call, and a few
 * calls at once. Thread-safe.
 */
final class CallTester implements AutoCloseable {
  static final int MAX_MESSAGES = 1000;
  private static final int MAX_DEPTH = 3;

  private final IntSupplier port;
  private final boolean tlsOnly;
  private final Supplier<Descriptors.Snapshot> descriptors;
  private volatile ManagedChannel channel;
  private volatile java.net.http.HttpClient http;

  /**
   * @param port the gateway's main port
   * @param tlsOnly whether the main port speaks only TLS (the tester then trusts the
   *     gateway's own certificate: it connects to itself on loopback)
   */
  CallTester(IntSupplier port, boolean tlsOnly, Supplier<Descriptors.Snapshot> descriptors) {
    this.port = port;
    this.tlsOnly = tlsOnly;
    this.descriptors = descriptors;
  }

  /** Every service of the loaded descriptors: methods, kinds, types and request templates. */
  static String services(Descriptors.Snapshot snapshot) {
    JsonArray services = new JsonArray();
    for (ServiceDescriptor service : snapshot.pool().services().values()) {
      JsonObject s = new JsonObject();
      s.addProperty("name", service.getFullName());
      JsonArray methods = new JsonArray();
      for (MethodDescriptor method : service.getMethods()) {
        JsonObject m = new JsonObject();
        m.addProperty("name", method.getName());
        m.addProperty("path", "/" + service.getFullName() + "/" + method.getName());
        m.addProperty("kind", method.isClientStreaming()
            ? (method.isServerStreaming() ? "bidi streaming" : "client streaming")
            : (method.isServerStreaming() ? "server streaming" : "unary"));
        m.addProperty("clientStreaming", method.isClientStreaming());
        m.addProperty("inputType", method.getInputType().getFullName());
        m.addProperty("outputType", method.getOutputType().getFullName());
        m.addProperty("idempotency", method.getOptions().getIdempotencyLevel().name());
        m.add("template", template(method.getInputType(), 0));
        methods.add(m);
      }
      s.add("methods", methods);
      services.add(s);
    }
    return services.toString();
  }

  /** A request of {@code type} with every field at its default, nested messages filled in. */
  static JsonElement template(Descriptor type, int depth) {
    JsonObject o = new JsonObject();
    switch (type.getFullName()) {
      case "google.protobuf.Timestamp" -> {
        return new com.google.gson.JsonPrimitive("1970-01-01T00:00:00Z");
      }
      case "google.protobuf.Duration" -> {
        return new com.google.gson.JsonPrimitive("0s");
      }
      case "google.protobuf.FieldMask" -> {
        return new com.google.gson.JsonPrimitive("");
      }
      case "google.protobuf.Struct", "google.protobuf.Any" -> {
        return o;
      }
      case "google.protobuf.Value" -> {
        return com.google.gson.JsonNull.INSTANCE;
      }
      default -> { }
    }
    for (FieldDescriptor field : type.getFields()) {
      if (field.getRealContainingOneof() != null
          && field.getRealContainingOneof().getField(0) != field) {
        continue; // one field of a oneof
      }
      JsonElement value;
      if (field.isMapField()) {
        value = new JsonObject();
      } else {
        JsonElement one = value(field, depth);
        if (one == null) {
          continue;
        }
        if (field.isRepeated()) {
          JsonArray list = new JsonArray();
          list.add(one);
          value = list;
        } else {
          value = one;
        }
      }
      o.add(field.getJsonName(), value);
    }
    return o;
  }

  private static JsonElement value(FieldDescriptor field, int depth) {
    return switch (field.getJavaType()) {
      case INT, FLOAT, DOUBLE -> new com.google.gson.JsonPrimitive(0);
      case LONG -> new com.google.gson.JsonPrimitive("0"); // int64 is a string in JSON
      case BOOLEAN -> new com.google.gson.JsonPrimitive(false);
      case STRING, BYTE_STRING -> new com.google.gson.JsonPrimitive("");
      case ENUM -> new com.google.gson.JsonPrimitive(field.getEnumType().getValues().get(0)
          .getName());
      case MESSAGE -> depth >= MAX_DEPTH ? null : template(field.getMessageType(), depth + 1);
    };
  }

  /**
   * Sends one call through the gateway and reports it as JSON lines to {@code events}, the last
   * one an {@code end} (or an {@code error} when the call could not be made); any thread.
   *
   * @param body {@code {"method": "pkg.Service/Method", "metadata": {...}, "messages": [...],
   *     "timeoutMillis": 10000}} ({@code message} for one)
   */
  void call(String body, Consumer<String> events, Runnable done) {
    long started = System.nanoTime();
    MethodDescriptor method;
    java.util.List<byte[]> requests = new java.util.ArrayList<>();
    Metadata metadata = new Metadata();
    long timeout;
    Descriptors.Snapshot snapshot = descriptors.get();
    try {
      JsonObject request = JsonParser.parseString(body).getAsJsonObject();
      String name = request.get("method").getAsString();
      name = name.startsWith("/") ? name.substring(1) : name;
      int slash = name.lastIndexOf('/');
      ServiceDescriptor service = slash < 0 ? null
          : snapshot.pool().services().get(name.substring(0, slash));
      method = service == null ? null : service.findMethodByName(name.substring(slash + 1));
      if (method == null) {
        throw new IllegalArgumentException("no method " + name + " among the loaded descriptors"
            + " (expected: package.Service/Method)");
      }
      JsonArray messages = request.has("messages") ? request.getAsJsonArray("messages")
          : new JsonArray();
      if (request.has("message")) {
        messages.add(request.get("message"));
      }
      if (messages.isEmpty()) {
        messages.add(new JsonObject());
      }
      for (JsonElement m : messages) {
        requests.add(snapshot.transcoder().message(method.getInputType(),
            m.toString().getBytes(StandardCharsets.UTF_8)));
      }
      if (!method.isClientStreaming() && requests.size() > 1) {
        throw new IllegalArgumentException(method.getName() + " takes one request message, not "
            + requests.size());
      }
      if (request.has("metadata")) {
        for (var e : request.getAsJsonObject("metadata").entrySet()) {
          String key = e.getKey().toLowerCase(java.util.Locale.ROOT);
          if (key.endsWith("-bin")) {
            metadata.put(Metadata.Key.of(key, Metadata.BINARY_BYTE_MARSHALLER),
                java.util.Base64.getDecoder().decode(e.getValue().getAsString()));
          } else {
            metadata.put(Metadata.Key.of(key, Metadata.ASCII_STRING_MARSHALLER),
                e.getValue().getAsString());
          }
        }
      }
      timeout = request.has("timeoutMillis") ? request.get("timeoutMillis").getAsLong() : 10_000;
      if (timeout < 1 || timeout > 600_000) {
        throw new IllegalArgumentException("timeoutMillis " + timeout + " (expected 1 to"
            + " 600000)");
      }
    } catch (TranscodingException | RuntimeException e) {
      JsonObject error = new JsonObject();
      error.addProperty("event", "error");
      error.addProperty("message", e instanceof IllegalStateException
          ? "the request is not JSON: " + e.getMessage() : String.valueOf(e.getMessage()));
      events.accept(error.toString());
      done.run();
      return;
    }
    MethodDescriptor called = method;
    io.grpc.MethodDescriptor<byte[], byte[]> grpcMethod = io.grpc.MethodDescriptor
        .<byte[], byte[]>newBuilder()
        .setType(io.grpc.MethodDescriptor.MethodType.UNKNOWN)
        .setFullMethodName(method.getService().getFullName() + "/" + method.getName())
        .setRequestMarshaller(io.meshgate.gateway.call.ByteArrayMarshaller.INSTANCE)
        .setResponseMarshaller(io.meshgate.gateway.call.ByteArrayMarshaller.INSTANCE)
        .build();
    ClientCall<byte[], byte[]> call = channel().newCall(grpcMethod,
        CallOptions.DEFAULT.withDeadlineAfter(timeout, TimeUnit.MILLISECONDS));
    call.start(new ClientCall.Listener<>() {
      private int received;

      @Override
      public void onHeaders(Metadata headers) {
        JsonObject o = event("headers", started);
        o.add("headers", metadataJson(headers));
        events.accept(o.toString());
      }

      @Override
      public void onMessage(byte[] message) {
        received++;
        JsonObject o = event("message", started);
        o.addProperty("index", received - 1);
        try {
          o.add("message", JsonParser.parseString(new String(snapshot.transcoder().json(
              called.getOutputType(), message, JsonOptions.DEFAULT), StandardCharsets.UTF_8)));
        } catch (RuntimeException | com.google.protobuf.InvalidProtocolBufferException e) {
          o.addProperty("undecodable", message.length + " bytes that are not a "
              + called.getOutputType().getFullName() + ": " + e.getMessage());
        }
        events.accept(o.toString());
        if (received >= MAX_MESSAGES) {
          call.cancel("the call tester shows " + MAX_MESSAGES + " messages at most", null);
          return;
        }
        call.request(1);
      }

      @Override
      public void onClose(Status status, Metadata trailers) {
        JsonObject o = event("end", started);
        o.addProperty("code", status.getCode().name());
        o.addProperty("codeNumber", status.getCode().value());
        if (status.getDescription() != null) {
          o.addProperty("description", status.getDescription());
        }
        o.addProperty("messages", received);
        o.add("trailers", metadataJson(trailers));
        events.accept(o.toString());
        done.run();
      }
    }, metadata);
    call.request(1);
    for (byte[] r : requests) {
      call.sendMessage(r);
    }
    call.halfClose();
  }

  /**
   * Sends a REST request through the gateway's main port (the OpenAPI page's "try it").
   *
   * @param body {@code {"method": "GET", "path": "/v1/...", "headers": {...}, "body": "..."}}
   * @return {@code {"status": 200, "headers": {...}, "body": "...", "millis": 3.2}}
   */
  String http(String body) throws Exception {
    JsonObject request = JsonParser.parseString(body).getAsJsonObject();
    String method = request.get("method").getAsString().toUpperCase(java.util.Locale.ROOT);
    String path = request.get("path").getAsString();
    if (!path.startsWith("/")) {
      throw new IllegalArgumentException("path '" + path + "' (expected: /v1/...)");
    }
    String text = request.has("body") && !request.get("body").isJsonNull()
        ? request.get("body").getAsString() : null;
    java.net.http.HttpRequest.Builder builder = java.net.http.HttpRequest.newBuilder(
            java.net.URI.create((tlsOnly ? "https" : "http") + "://127.0.0.1:" + port.getAsInt()
                + path))
        .timeout(java.time.Duration.ofSeconds(30))
        .method(method, text == null ? java.net.http.HttpRequest.BodyPublishers.noBody()
            : java.net.http.HttpRequest.BodyPublishers.ofString(text));
    if (request.has("headers")) {
      for (var e : request.getAsJsonObject("headers").entrySet()) {
        builder.header(e.getKey(), e.getValue().getAsString());
      }
    }
    if (text != null && !(request.has("headers")
        && request.getAsJsonObject("headers").has("content-type"))) {
      builder.header("content-type", "application/json");
    }
    long started = System.nanoTime();
    java.net.http.HttpResponse<String> response = client().send(builder.build(),
        java.net.http.HttpResponse.BodyHandlers.ofString());
    JsonObject o = new JsonObject();
    o.addProperty("status", response.statusCode());
    o.addProperty("millis", (System.nanoTime() - started) / 1e6);
    JsonObject headers = new JsonObject();
    response.headers().map().forEach((k, v) -> headers.addProperty(k, String.join(", ", v)));
    o.add("headers", headers);
    String answer = response.body();
    o.addProperty("body", answer.length() > 1_000_000 ? answer.substring(0, 1_000_000) : answer);
    return o.toString();
  }

  private static JsonObject event(String kind, long started) {
    JsonObject o = new JsonObject();
    o.addProperty("event", kind);
    o.addProperty("atMillis", Math.round((System.nanoTime() - started) / 1e4) / 100.0);
    return o;
  }

  private static JsonObject metadataJson(Metadata metadata) {
    JsonObject o = new JsonObject();
    for (String key : metadata.keys()) {
      if (key.endsWith(Metadata.BINARY_HEADER_SUFFIX)) {
        byte[] value = metadata.get(Metadata.Key.of(key, Metadata.BINARY_BYTE_MARSHALLER));
        o.addProperty(key, java.util.Base64.getEncoder().encodeToString(value));
      } else {
        o.addProperty(key, String.join(", ", metadata.getAll(
            Metadata.Key.of(key, Metadata.ASCII_STRING_MARSHALLER))));
      }
    }
    return o;
  }

  private ManagedChannel channel() {
    ManagedChannel current = channel;
    if (current == null) {
      synchronized (this) {
        current = channel;
        if (current == null) {
          io.grpc.netty.NettyChannelBuilder builder = io.grpc.netty.NettyChannelBuilder
              .forAddress("127.0.0.1", port.getAsInt()).userAgent("meshgate-console");
          if (tlsOnly) {
            try {
              builder.sslContext(io.grpc.netty.GrpcSslContexts.forClient().trustManager(
                  io.netty.handler.ssl.util.InsecureTrustManagerFactory.INSTANCE).build());
            } catch (javax.net.ssl.SSLException e) {
              throw new IllegalStateException("cannot make the tester's TLS context", e);
            }
          } else {
            builder.usePlaintext();
          }
          current = builder.build();
          channel = current;
        }
      }
    }
    return current;
  }

  private java.net.http.HttpClient client() throws Exception {
    java.net.http.HttpClient current = http;
    if (current == null) {
      java.net.http.HttpClient.Builder builder = java.net.http.HttpClient.newBuilder()
          .version(java.net.http.HttpClient.Version.HTTP_1_1)
          .connectTimeout(java.time.Duration.ofSeconds(5));
      if (tlsOnly) {
        // The tester calls the gateway itself, on loopback: its own certificate is trusted.
        javax.net.ssl.SSLContext context = javax.net.ssl.SSLContext.getInstance("TLS");
        context.init(null, io.netty.handler.ssl.util.InsecureTrustManagerFactory.INSTANCE
            .getTrustManagers(), null);
        builder.sslContext(context);
      }
      current = builder.build();
      http = current;
    }
    return current;
  }

  @Override
  public void close() {
    ManagedChannel current = channel;
    if (current != null) {
      current.shutdownNow();
    }
  }
}
