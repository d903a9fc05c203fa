package io.meshgate.gateway.http;

import io.netty.buffer.ByteBuf;
import java.util.ArrayList;
import java.util.List;

/**
 * Messages framed with a 5-byte prefix — a flags byte and a 4-byte big-endian length — as
 * gRPC-Web and Connect streams carry them, read as the body arrives in pieces: each complete
 * message comes out once, whatever the pieces' boundaries. At most one message is held, and no
 * more than {@code maxMessageBytes} of it. Not thread-safe (one stream's event loop).
 */
public final class PrefixedMessages {
  /** One message: its flags and its data. */
  public record Message(int flags, byte[] data) {}

  /** A prefix declared a message longer than allowed. */
  public static final class TooLargeException extends Exception {
    TooLargeException(long length, int limit) {
      super("a request message of " + length + " bytes is larger than the gateway accepts"
          + " (limits.maxMessageBytes: " + limit + ")", null, false, false);
    }
  }

  private final int maxMessageBytes;
  private final byte[] prefix = new byte[5];
  private int prefixFill;
  private byte[] data;
  private int dataFill;

  public PrefixedMessages(int maxMessageBytes) {
    this.maxMessageBytes = maxMessageBytes;
  }

  /**
   * Reads {@code piece} (without releasing it).
   *
   * @return the messages it completed, in order
   * @throws TooLargeException when a prefix declares more than the limit
   */
  public List<Message> feed(ByteBuf piece) throws TooLargeException {
    List<Message> complete = new ArrayList<>(1);
    while (piece.isReadable()) {
      if (data == null) {
        int take = Math.min(5 - prefixFill, piece.readableBytes());
        piece.readBytes(prefix, prefixFill, take);
        prefixFill += take;
        if (prefixFill < 5) {
          break;
        }
        long length = ((prefix[1] & 0xffL) << 24) | ((prefix[2] & 0xff) << 16)
            | ((prefix[3] & 0xff) << 8) | (prefix[4] & 0xff);
        if (length > maxMessageBytes) {
          throw new TooLargeException(length, maxMessageBytes);
        }
        data = new byte[(int) length];
        dataFill = 0;
      }
      int take = Math.min(data.length - dataFill, piece.readableBytes());
      piece.readBytes(data, dataFill, take);
      dataFill += take;
      if (dataFill == data.length) {
        complete.add(new Message(prefix[0] & 0xff, data));
        data = null;
        prefixFill = 0;
      }
    }
    return complete;
  }

  /** Whether the bytes read so far end inside a message (a body cut short). */
  public boolean midMessage() {
    return prefixFill > 0 || data != null;
  }

  /** Bytes held for the message being read. */
  public int buffered() {
    return prefixFill + (data == null ? 0 : dataFill);
  }
}
