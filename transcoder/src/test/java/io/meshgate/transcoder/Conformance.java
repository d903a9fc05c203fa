package io.meshgate.transcoder;

import com.google.protobuf.DynamicMessage;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.TextFormat;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

/** The test descriptor set (examples.proto, features.proto) and helpers to call through it. */
final class Conformance {
  static final DescriptorPool POOL = load();
  static final HttpRouteTable TABLE = compile();
  static final JsonTranscoder TRANSCODER = new JsonTranscoder(POOL);

  private Conformance() {}

  static Path descriptorSet() {
    try {
      return Path.of(Conformance.class.getResource("/descriptors/conformance.pb").toURI());
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  private static DescriptorPool load() {
    try {
      return DescriptorPool.fromFiles(List.of(descriptorSet()));
    } catch (DescriptorException e) {
      throw new IllegalStateException(e);
    }
  }

  private static HttpRouteTable compile() {
    try {
      return HttpRouteTable.compile(POOL);
    } catch (DescriptorException e) {
      throw new IllegalStateException(e);
    }
  }

  /** A serialized request of the matched route, parsed. */
  static DynamicMessage decode(RouteMatch match, byte[] bytes) {
    try {
      return DynamicMessage.parseFrom(match.route().requestType(), bytes);
    } catch (InvalidProtocolBufferException e) {
      throw new AssertionError("the transcoder wrote an invalid message", e);
    }
  }

  /** Matches and builds the request; returns it in text format for comparison. */
  static String request(String method, String pathAndQuery, String body)
      throws TranscodingException {
    int q = pathAndQuery.indexOf('?');
    String path = q < 0 ? pathAndQuery : pathAndQuery.substring(0, q);
    String query = q < 0 ? null : pathAndQuery.substring(q + 1);
    RouteMatch match = TABLE.match(method, path);
    if (match.kind() != RouteMatch.Kind.FOUND) {
      throw new AssertionError(method + " " + pathAndQuery + ": " + match.kind());
    }
    Message message = decode(match, TRANSCODER.request(match, query,
        body == null ? new byte[0] : body.getBytes(StandardCharsets.UTF_8),
        body == null ? null : "application/json", false));
    return match.route().method().getName() + "(" + TextFormat.printer().emittingSingleLine(true)
        .printToString(message).trim() + ")";
  }
}
