package io.meshgate.gateway.rest;

import io.grpc.Drainable;
import io.grpc.KnownLength;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/** Serialized protobuf messages as byte arrays, for the transcoder's calls. Stateless. */
final class BytesMarshaller implements MethodDescriptor.Marshaller<byte[]> {
  static final BytesMarshaller INSTANCE = new BytesMarshaller();

  private BytesMarshaller() {}

  @Override
  public InputStream stream(byte[] value) {
    return new Stream(value);
  }

  @Override
  public byte[] parse(InputStream stream) {
    try {
      return stream.readAllBytes();
    } catch (IOException e) {
      throw Status.INTERNAL.withDescription("cannot read a message from upstream").withCause(e)
          .asRuntimeException();
    }
  }

  /** A byte array that grpc-java can size up front and drain in one write. */
  private static final class Stream extends ByteArrayInputStream implements KnownLength,
      Drainable {
    Stream(byte[] bytes) {
      super(bytes);
    }

    @Override
    public int drainTo(OutputStream target) throws IOException {
      int n = count - pos;
      target.write(buf, pos, n);
      pos = count;
      return n;
    }
  }
}
