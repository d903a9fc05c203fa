/**
 * REST/JSON to gRPC transcoding: loads protobuf descriptor sets, compiles {@code google.api.http}
 * rules into a route table and converts HTTP/JSON to and from protobuf messages.
 *
 * <p>Not built yet: this module is the home of the transcoding issue. The gateway answers REST
 * requests with 404 until it lands.
 */
package io.meshgate.transcoder;
