package io.meshgate.gateway.proxy;

import io.grpc.Status;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufInputStream;
import io.netty.buffer.CompositeByteBuf;
import java.io.IOException;
import java.io.InputStream;
import java.util.zip.GZIPInputStream;

/**
 * Cuts a gRPC request body (HTTP/2 DATA frames) into messages. Each declared length is checked
 * against the limit before anything is kept; a message that spans frames is assembled from
 * retained slices, so memory grows only as bytes really arrive. Compressed messages are inflated
 * with the same limit on their inflated size. Confined to the stream's event loop.
 */
final class GrpcDeframer {
  /** Receives complete, uncompressed messages; it owns (and must release) each one. */
  interface Sink {
    void onMessage(ByteBuf message);
  }

  private final ByteBufAllocator allocator;
  private final int maxMessageBytes;
  private final boolean gzip;

  private int headerBytes;
  private int flags;
  private int length;
  private CompositeByteBuf partial;

  /**
   * @param gzip whether the stream's {@code grpc-encoding} is gzip (otherwise identity)
   */
  GrpcDeframer(ByteBufAllocator allocator, int maxMessageBytes, boolean gzip) {
    this.allocator = allocator;
    this.maxMessageBytes = maxMessageBytes;
    this.gzip = gzip;
  }

  /**
   * Consumes every readable byte of {@code data} (without releasing it) and hands each complete
   * message to the sink.
   *
   * @return null, or the status to fail the call with
   */
  Status feed(ByteBuf data, Sink sink) {
    while (data.isReadable()) {
      if (headerBytes < RawMarshaller.HEADER_BYTES) {
        if (headerBytes == 0 && data.readableBytes() >= RawMarshaller.HEADER_BYTES) {
          flags = data.readUnsignedByte();
          length = data.readInt();
          headerBytes = RawMarshaller.HEADER_BYTES;
        } else {
          int b = data.readUnsignedByte();
          if (headerBytes == 0) {
            flags = b;
            length = 0;
          } else {
            length = (length << 8) | b;
          }
          headerBytes++;
        }
        if (headerBytes < RawMarshaller.HEADER_BYTES) {
          continue;
        }
        Status invalid = checkHeader();
        if (invalid != null) {
          return invalid;
        }
        if (data.readableBytes() >= length) {
          Status failed = deliver(data.readRetainedSlice(length), sink);
          if (failed != null) {
            return failed;
          }
          continue;
        }
        partial = allocator.compositeBuffer(64);
      }
      int take = Math.min(length - partial.readableBytes(), data.readableBytes());
      partial.addComponent(true, data.readRetainedSlice(take));
      if (partial.readableBytes() == length) {
        ByteBuf message = partial;
        partial = null;
        Status failed = deliver(message, sink);
        if (failed != null) {
          return failed;
        }
      }
    }
    return null;
  }

  /** Whether bytes of an unfinished message are pending (an error if the stream ends now). */
  boolean hasPartialMessage() {
    return headerBytes != 0;
  }

  /** Bytes of an unfinished message held so far. */
  long partialBytes() {
    return partial == null ? 0 : partial.readableBytes();
  }

  /** Releases what an unfinished message holds. */
  void close() {
    if (partial != null) {
      partial.release();
      partial = null;
    }
    headerBytes = 0;
  }

  private Status checkHeader() {
    if ((flags & ~1) != 0) {
      return Status.INTERNAL.withDescription(
          "malformed gRPC frame: flags " + flags + " (expected: 0 or 1)");
    }
    if (length < 0 || length > maxMessageBytes) {
      return Status.RESOURCE_EXHAUSTED.withDescription(String.format(
          "request message of %d bytes is larger than the gateway's limit of %d bytes"
              + " (limits.maxMessageBytes)", length & 0xFFFFFFFFL, maxMessageBytes));
    }
    if ((flags & 1) != 0 && !gzip) {
      return Status.INTERNAL.withDescription(
          "message is marked compressed but the call's grpc-encoding is identity");
    }
    return null;
  }

  private Status deliver(ByteBuf message, Sink sink) {
    boolean compressed = (flags & 1) != 0;
    headerBytes = 0;
    if (!compressed) {
      sink.onMessage(message);
      return null;
    }
    ByteBuf inflated = allocator.buffer(Math.min(maxMessageBytes, Math.max(256,
        message.readableBytes() * 4)));
    try (InputStream in = new GZIPInputStream(new ByteBufInputStream(message, true))) {
      while (true) {
        if (inflated.readableBytes() > maxMessageBytes) {
          inflated.release();
          return Status.RESOURCE_EXHAUSTED.withDescription(String.format(
              "request message inflates to more than the gateway's limit of %d bytes"
                  + " (limits.maxMessageBytes)", maxMessageBytes));
        }
        inflated.ensureWritable(8192);
        int room = Math.min(inflated.writableBytes(), maxMessageBytes + 1 - inflated.readableBytes());
        if (inflated.writeBytes(in, room) < 0) {
          break;
        }
      }
    } catch (IOException e) {
      inflated.release();
      return Status.INTERNAL.withDescription("cannot decompress gzip message: " + e.getMessage());
    }
    sink.onMessage(inflated);
    return null;
  }
}
