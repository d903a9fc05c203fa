package io.meshgate.gateway.call;

import io.grpc.Drainable;
import io.grpc.KnownLength;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * Messages as byte arrays, unparsed: for calls whose messages the gateway holds whole (REST's
 * transcoded messages, server reflection) and for tests. Stateless.
 */
public final class ByteArrayMarshaller implements MethodDescriptor.Marshaller<byte[]> {
  /** The marshaller. */
  public static final ByteArrayMarshaller INSTANCE = new ByteArrayMarshaller();

  private ByteArrayMarshaller() {}

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
