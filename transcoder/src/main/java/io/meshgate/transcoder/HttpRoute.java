package io.meshgate.transcoder;

import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Descriptors.MethodDescriptor;
import java.util.List;

/**
 * One HTTP binding of a gRPC method, compiled from its {@code google.api.http} rule (or one of
 * the rule's {@code additional_bindings}). Immutable.
 */
public final class HttpRoute {
  private final String httpMethod;
  private final PathTemplate template;
  private final MethodDescriptor method;
  private final String body;
  private final FieldDescriptor bodyField;
  private final FieldDescriptor responseBodyField;
  private final List<List<FieldDescriptor>> pathFields;

  HttpRoute(String httpMethod, PathTemplate template, MethodDescriptor method, String body,
      FieldDescriptor bodyField, FieldDescriptor responseBodyField,
      List<List<FieldDescriptor>> pathFields) {
    this.httpMethod = httpMethod;
    this.template = template;
    this.method = method;
    this.body = body;
    this.bodyField = bodyField;
    this.responseBodyField = responseBodyField;
    this.pathFields = pathFields;
  }

  /** The HTTP method: GET, PUT, POST, DELETE, PATCH, or a custom one. */
  public String httpMethod() {
    return httpMethod;
  }

  /** The path template as written in the rule. */
  String pathTemplate() {
    return template.text();
  }

  PathTemplate template() {
    return template;
  }

  /** The gRPC method this route calls. */
  public MethodDescriptor method() {
    return method;
  }

  /** {@code /package.Service/Method}, as on the gRPC wire. */
  public String grpcPath() {
    return "/" + method.getService().getFullName() + "/" + method.getName();
  }

  /** The request message type. */
  Descriptor requestType() {
    return method.getInputType();
  }

  /** The response message type. */
  public Descriptor responseType() {
    return method.getOutputType();
  }

  /** Whether the HTTP body maps to the whole request ({@code body: "*"}). */
  boolean bodyIsWholeRequest() {
    return "*".equals(body);
  }

  /** The request field the HTTP body maps to ({@code body: "field"}), or null. */
  FieldDescriptor bodyField() {
    return bodyField;
  }

  /** Whether the rule takes a request body ({@code body: "*"} or a field) at all. */
  public boolean hasBody() {
    return body != null;
  }

  /** The response field that is the HTTP response ({@code response_body}), or null. */
  FieldDescriptor responseBodyField() {
    return responseBodyField;
  }

  /** Whether the client streams requests. */
  public boolean clientStreaming() {
    return method.isClientStreaming();
  }

  /** Whether the server streams responses. */
  public boolean serverStreaming() {
    return method.isServerStreaming();
  }

  /** The request fields bound by path variables, one field path per variable. */
  List<List<FieldDescriptor>> pathFields() {
    return pathFields;
  }

  @Override
  public String toString() {
    return httpMethod + " " + template.text() + " -> " + grpcPath();
  }
}
