package io.meshgate.gateway.overload;

/**
 * Something on the data path that holds buffered bytes for a client (one HTTP/2 stream): the
 * overload manager ranks holders by {@link #bufferedBytes} and sheds the biggest when memory
 * runs out. Both methods are called on the holder's event loop only.
 */
public interface BufferHolder {
  /** Bytes held for this stream now: parked response data, a partial request message... */
  long bufferedBytes();

  /** Stops the stream's work and resets it, because the gateway is out of memory. */
  void shed(String reason);
}
