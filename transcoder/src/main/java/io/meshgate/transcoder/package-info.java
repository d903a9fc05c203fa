/**
 * REST/JSON to gRPC transcoding as a library, with no gateway behind it: {@link
 * io.meshgate.transcoder.DescriptorPool} loads protobuf descriptor sets (or descriptors from
 * server reflection), {@link io.meshgate.transcoder.HttpRouteTable} compiles their {@code
 * google.api.http} rules and matches HTTP requests to methods, and {@link
 * io.meshgate.transcoder.JsonTranscoder} turns an HTTP request (path variables, query
 * parameters, JSON body) into the protobuf request message and a protobuf response into JSON,
 * reading and writing protobuf wire format directly. {@link io.meshgate.transcoder.StatusJson}
 * renders gRPC statuses as {@code google.rpc.Status} JSON with their HTTP status codes.
 *
 * <p>Every class is thread-safe and immutable once built; failures are checked exceptions
 * ({@link io.meshgate.transcoder.DescriptorException}, {@link
 * io.meshgate.transcoder.TranscodingException}) whose messages name what is wrong.
 */
package io.meshgate.transcoder;
