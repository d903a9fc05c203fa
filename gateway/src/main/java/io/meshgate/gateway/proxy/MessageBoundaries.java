package io.meshgate.gateway.proxy;

import io.grpc.Status;
import io.netty.buffer.ByteBuf;

/**
 * Finds the gRPC messages in one direction of a stream whose DATA bytes pass through unchanged:
 * reads each 5-byte length prefix (however frames cut it), reports every message's length as
 * soon as its prefix is complete — for the call's record and an optional per-message limit —
 * and skips the payload without looking at it. Holds no bytes, only counts. One per direction
 * of a call, on its event loop.
 */
final class MessageBoundaries {
  /** Hears each message as its prefix completes. */
  interface Sink {
    void message(long length);
  }

  private final long maxMessageBytes;
  private final String direction;
  /** Bytes of the current prefix read so far (0 to 4; 5 means the payload is being skipped). */
  private int prefixRead;
  private long length;
  private long remaining;
  private long messages;

  /**
   * @param maxMessageBytes the largest message allowed (0: any size)
   * @param direction "request" or "response", for the messages of errors
   */
  MessageBoundaries(long maxMessageBytes, String direction) {
    this.maxMessageBytes = maxMessageBytes;
    this.direction = direction;
  }

  /**
   * Reads {@code data} (its reader index is left as it is).
   *
   * @return null, or the status that ends the call: a message over the limit
   *     (RESOURCE_EXHAUSTED) or a prefix that is no gRPC prefix (INTERNAL)
   */
  Status feed(ByteBuf data, Sink sink) {
    int i = data.readerIndex();
    int end = data.writerIndex();
    while (i < end) {
      if (prefixRead == 5) {
        long skip = Math.min(remaining, end - i);
        i += (int) skip;
        remaining -= skip;
        if (remaining == 0) {
          prefixRead = 0;
        }
        continue;
      }
      int b = data.getByte(i++) & 0xff;
      if (prefixRead == 0) {
        if (b > 1) {
          return Status.INTERNAL.withDescription("the " + direction + " stream is not gRPC"
              + " framing: message " + (messages + 1) + " starts with flag byte " + b
              + " (expected: 0, or 1 for compressed)");
        }
        length = 0;
      } else {
        length = (length << 8) | b;
      }
      prefixRead++;
      if (prefixRead == 5) {
        messages++;
        if (maxMessageBytes > 0 && length > maxMessageBytes) {
          return Status.RESOURCE_EXHAUSTED.withDescription(direction + " message " + messages
              + " is " + length + " bytes, over limits.maxStreamedMessageBytes ("
              + maxMessageBytes + ")");
        }
        sink.message(length);
        remaining = length;
        if (remaining == 0) {
          prefixRead = 0;
        }
      }
    }
    return null;
  }

  /** Whether the bytes so far end inside a message (its prefix or payload). */
  boolean midMessage() {
    return prefixRead != 0;
  }
}
