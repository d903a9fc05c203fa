package io.meshgate.transcoder;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import java.util.Base64;

/**
 * Error bodies as {@code google.rpc.Status} JSON: {@code {"code":5,"message":"...","details":[...]}},
 * with the details taken from the call's {@code grpc-status-details-bin} and printed through the
 * descriptor pool (a detail of an unknown type keeps its {@code @type} and base64 bytes).
 * Thread-safe.
 */
public final class StatusJson {
  private StatusJson() {}

  /**
   * Renders an error.
   *
   * @param code the gRPC status code
   * @param message the status message, or null
   * @param statusDetails the raw {@code grpc-status-details-bin} value, or null
   * @param registry resolves the details' types
   */
  public static String render(int code, String message, byte[] statusDetails,
      JsonFormat.TypeRegistry registry) {
    JsonObject body = new JsonObject();
    body.addProperty("code", code);
    body.addProperty("message", message == null ? "" : message);
    JsonArray details = new JsonArray();
    if (statusDetails != null) {
      try {
        com.google.rpc.Status status = com.google.rpc.Status.parseFrom(statusDetails);
        JsonFormat.Printer printer = JsonFormat.printer().usingTypeRegistry(registry)
            .omittingInsignificantWhitespace();
        for (Any detail : status.getDetailsList()) {
          try {
            details.add(JsonParser.parseString(printer.print(detail)));
          } catch (InvalidProtocolBufferException unknownType) {
            JsonObject raw = new JsonObject();
            raw.addProperty("@type", detail.getTypeUrl());
            raw.addProperty("value", Base64.getEncoder().encodeToString(
                detail.getValue().toByteArray()));
            details.add(raw);
          }
        }
      } catch (InvalidProtocolBufferException malformed) {
        // Not a google.rpc.Status: the code and message still say what happened.
      }
    }
    body.add("details", details);
    return body.toString();
  }

  /** HTTP status for a gRPC status code, as grpc-gateway, Envoy and Armeria map them. */
  public static int httpStatus(int grpcCode) {
    return switch (grpcCode) {
      case 0 -> 200;   // OK
      case 1 -> 499;   // CANCELLED
      case 2 -> 500;   // UNKNOWN
      case 3 -> 400;   // INVALID_ARGUMENT
      case 4 -> 504;   // DEADLINE_EXCEEDED
      case 5 -> 404;   // NOT_FOUND
      case 6 -> 409;   // ALREADY_EXISTS
      case 7 -> 403;   // PERMISSION_DENIED
      case 8 -> 429;   // RESOURCE_EXHAUSTED
      case 9 -> 400;   // FAILED_PRECONDITION
      case 10 -> 409;  // ABORTED
      case 11 -> 400;  // OUT_OF_RANGE
      case 12 -> 501;  // UNIMPLEMENTED
      case 13 -> 500;  // INTERNAL
      case 14 -> 503;  // UNAVAILABLE
      case 15 -> 500;  // DATA_LOSS
      case 16 -> 401;  // UNAUTHENTICATED
      default -> 500;
    };
  }
}
