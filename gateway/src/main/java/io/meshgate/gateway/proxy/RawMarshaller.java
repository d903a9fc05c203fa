package io.meshgate.gateway.proxy;

import io.grpc.Drainable;
import io.grpc.KnownLength;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * Passes messages through grpc-java as bytes, never parsing them.
 *
 * <p>{@link #stream} reads a request message without taking ownership. Once a call's stream
 * exists grpc-java copies each message into its own frame before {@code sendMessage} returns (and
 * the gateway's channels do not retry, so nothing keeps it): the caller releases it then. Before
 * that, grpc-java may keep the message, so callers pass it unpooled heap copies, which need no
 * release. {@link #parse} copies a response message
 * into a pooled buffer that starts with {@link #HEADER_BYTES} spare bytes, where the proxy writes
 * the gRPC length prefix; the caller owns the result.
 */
final class RawMarshaller implements MethodDescriptor.Marshaller<ByteBuf> {
  /** The gRPC message prefix: a compressed flag and a 4-byte length. */
  static final int HEADER_BYTES = 5;

  private final ByteBufAllocator allocator;

  RawMarshaller(ByteBufAllocator allocator) {
    this.allocator = allocator;
  }

  @Override
  public InputStream stream(ByteBuf value) {
    return new ByteBufStream(value);
  }

  @Override
  public ByteBuf parse(InputStream stream) {
    try {
      if (stream instanceof KnownLength) {
        int length = stream.available();
        ByteBuf buf = allocator.buffer(HEADER_BYTES + length);
        buf.writerIndex(HEADER_BYTES);
        try {
          while (buf.writerIndex() < HEADER_BYTES + length) {
            if (buf.writeBytes(stream, HEADER_BYTES + length - buf.writerIndex()) < 0) {
              throw new IOException("message ended early");
            }
          }
        } catch (IOException | RuntimeException e) {
          buf.release();
          throw e;
        }
        return buf;
      }
      ByteBuf buf = allocator.buffer(HEADER_BYTES + 256);
      buf.writerIndex(HEADER_BYTES);
      try {
        while (buf.writeBytes(stream, Math.max(256, buf.writableBytes())) >= 0) {
          buf.ensureWritable(256);
        }
      } catch (IOException | RuntimeException e) {
        buf.release();
        throw e;
      }
      return buf;
    } catch (IOException e) {
      throw Status.INTERNAL.withDescription("cannot read a message from upstream")
          .withCause(e).asRuntimeException();
    }
  }

  /** An InputStream view of a buffer that grpc-java can drain in one call. */
  private static final class ByteBufStream extends InputStream implements KnownLength, Drainable {
    private final ByteBuf buf;

    ByteBufStream(ByteBuf buf) {
      this.buf = buf;
    }

    @Override
    public int drainTo(OutputStream target) throws IOException {
      int n = buf.readableBytes();
      buf.readBytes(target, n);
      return n;
    }

    @Override
    public int available() {
      return buf.readableBytes();
    }

    @Override
    public int read() {
      return buf.isReadable() ? buf.readUnsignedByte() : -1;
    }

    @Override
    public int read(byte[] b, int off, int len) {
      int n = Math.min(len, buf.readableBytes());
      if (n == 0) {
        return len == 0 ? 0 : -1;
      }
      buf.readBytes(b, off, n);
      return n;
    }
  }
}
