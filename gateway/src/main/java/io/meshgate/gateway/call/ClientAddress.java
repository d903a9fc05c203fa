package io.meshgate.gateway.call;

/** Who the client is by address, for the policies that key on it (IP rules, rate limits). */
public final class ClientAddress {
  private ClientAddress() {}

  /**
   * The client's address: with {@code hops} trusted proxies in front, the entry that many from
   * the right of {@code X-Forwarded-For} (what the first trusted proxy saw); the TCP peer when
   * there are no trusted proxies or the header is shorter. Never null ("" when unknown).
   */
  public static String of(RequestView call, int hops) {
    if (hops > 0) {
      String forwarded = call.header("x-forwarded-for");
      if (forwarded != null) {
        String[] entries = forwarded.split(",");
        if (entries.length >= hops) {
          String entry = entries[entries.length - hops].trim();
          if (!entry.isEmpty()) {
            return entry;
          }
        }
      }
    }
    String peer = call.peerAddress();
    return peer == null ? "" : peer;
  }
}
