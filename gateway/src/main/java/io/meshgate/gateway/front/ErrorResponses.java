package io.meshgate.gateway.front;

import io.grpc.Status;

/** JSON error bodies in the shape of {@code google.rpc.Status}, for non-gRPC callers. */
final class ErrorResponses {
  private ErrorResponses() {}

  /** {@code {"code":5,"message":"..."}} */
  static String json(Status.Code code, String message) {
    StringBuilder sb = new StringBuilder(message.length() + 32);
    sb.append("{\"code\":").append(code.value()).append(",\"message\":\"");
    for (int i = 0; i < message.length(); i++) {
      char c = message.charAt(i);
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\n' -> sb.append("\\n");
        case '\r' -> sb.append("\\r");
        case '\t' -> sb.append("\\t");
        default -> {
          if (c < 0x20) {
            sb.append(String.format("\\u%04x", (int) c));
          } else {
            sb.append(c);
          }
        }
      }
    }
    return sb.append("\"}").toString();
  }
}
