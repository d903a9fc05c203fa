package io.meshgate.gateway.testing;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.UnknownFieldSet;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * An OpenTelemetry collector's OTLP/HTTP traces endpoint ({@code POST /v1/traces}, protobuf),
 * keeping the spans it receives. The request is read with protobuf's generic field reader by
 * the OTLP field numbers, so the test needs no generated OTLP classes.
 */
public final class OtlpReceiver implements AutoCloseable {
  /** A received span; ids in lower-case hex, parent "" for a root. */
  public record Span(String traceId, String spanId, String parentSpanId, String name, int kind,
      Map<String, Object> attributes, int statusCode) {
    public static final int SERVER = 2;
    public static final int CLIENT = 3;
  }

  private final HttpServer server;
  private final List<Span> spans = new CopyOnWriteArrayList<>();

  private OtlpReceiver(HttpServer server) {
    this.server = server;
  }

  public static OtlpReceiver start() throws IOException {
    HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
    OtlpReceiver receiver = new OtlpReceiver(server);
    server.createContext("/v1/traces", exchange -> {
      byte[] body = exchange.getRequestBody().readAllBytes();
      try {
        receiver.spans.addAll(parse(body));
        exchange.sendResponseHeaders(200, -1);
      } catch (InvalidProtocolBufferException e) {
        exchange.sendResponseHeaders(400, -1);
      }
      exchange.close();
    });
    server.start();
    return receiver;
  }

  /** {@code http://127.0.0.1:port/v1/traces}. */
  public String endpoint() {
    return "http://127.0.0.1:" + server.getAddress().getPort() + "/v1/traces";
  }

  /** Every span received so far. */
  public List<Span> spans() {
    return List.copyOf(spans);
  }

  static List<Span> parse(byte[] request) throws InvalidProtocolBufferException {
    List<Span> out = new ArrayList<>();
    UnknownFieldSet root = UnknownFieldSet.parseFrom(request);
    for (ByteString resourceSpans : bytes(root, 1)) {
      for (ByteString scopeSpans : bytes(UnknownFieldSet.parseFrom(resourceSpans), 2)) {
        for (ByteString spanBytes : bytes(UnknownFieldSet.parseFrom(scopeSpans), 2)) {
          UnknownFieldSet span = UnknownFieldSet.parseFrom(spanBytes);
          Map<String, Object> attributes = new HashMap<>();
          for (ByteString kv : bytes(span, 9)) {
            UnknownFieldSet pair = UnknownFieldSet.parseFrom(kv);
            String key = bytes(pair, 1).get(0).toStringUtf8();
            UnknownFieldSet value = UnknownFieldSet.parseFrom(bytes(pair, 2).get(0));
            if (!bytes(value, 1).isEmpty()) {
              attributes.put(key, bytes(value, 1).get(0).toStringUtf8());
            } else if (value.hasField(3)) {
              attributes.put(key, value.getField(3).getVarintList().get(0));
            }
          }
          int status = 0;
          if (!bytes(span, 15).isEmpty()) {
            UnknownFieldSet s = UnknownFieldSet.parseFrom(bytes(span, 15).get(0));
            status = s.hasField(3) ? s.getField(3).getVarintList().get(0).intValue() : 0;
          }
          out.add(new Span(hex(span, 1), hex(span, 2), hex(span, 4),
              bytes(span, 5).isEmpty() ? "" : bytes(span, 5).get(0).toStringUtf8(),
              span.hasField(6) ? span.getField(6).getVarintList().get(0).intValue() : 0,
              attributes, status));
        }
      }
    }
    return out;
  }

  private static List<ByteString> bytes(UnknownFieldSet set, int field) {
    return set.hasField(field) ? set.getField(field).getLengthDelimitedList() : List.of();
  }

  private static String hex(UnknownFieldSet set, int field) {
    List<ByteString> value = bytes(set, field);
    return value.isEmpty() ? "" : HexFormat.of().formatHex(value.get(0).toByteArray());
  }

  @Override
  public void close() {
    server.stop(0);
  }
}
