package io.meshgate.gateway.call;

import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * An IPv4 or IPv6 network ({@code 10.0.0.0/8}, {@code 2001:db8::/32}; a bare address is a /32
 * or /128), and whether an address is in it. IPv4-mapped IPv6 addresses ({@code ::ffff:a.b.c.d})
 * count as the IPv4 address. Immutable.
 */
public final class Cidr {
  private final byte[] network;
  private final int prefix;

  private Cidr(byte[] network, int prefix) {
    this.network = network;
    this.prefix = prefix;
  }

  /**
   * Parses {@code text}.
   *
   * @throws IllegalArgumentException saying what is wrong
   */
  public static Cidr parse(String text) {
    String problem = problem(text);
    if (problem != null) {
      throw new IllegalArgumentException(problem);
    }
    int slash = text.indexOf('/');
    byte[] address = literal(slash < 0 ? text : text.substring(0, slash));
    int prefix = slash < 0 ? address.length * 8 : Integer.parseInt(text.substring(slash + 1));
    return new Cidr(address, prefix);
  }

  /** What is wrong with {@code text} as a CIDR, or null. */
  public static String problem(String text) {
    if (text == null || text.isBlank()) {
      return "an empty CIDR (expected e.g. 10.0.0.0/8 or 2001:db8::/32)";
    }
    int slash = text.indexOf('/');
    byte[] address = literal(slash < 0 ? text : text.substring(0, slash));
    if (address == null) {
      return "'" + text + "' is not an IP address or CIDR (expected e.g. 10.0.0.0/8 or"
          + " 2001:db8::/32)";
    }
    if (slash >= 0) {
      String bits = text.substring(slash + 1);
      if (!bits.matches("[0-9]{1,3}") || Integer.parseInt(bits) > address.length * 8) {
        return "'" + text + "': the prefix length must be 0 to " + address.length * 8;
      }
    }
    return null;
  }

  /** An IP literal's bytes (4 or 16; mapped IPv6 as 4), or null when it is not one. */
  private static byte[] literal(String text) {
    String t = text.strip();
    if (t.startsWith("[") && t.endsWith("]")) {
      t = t.substring(1, t.length() - 1);
    }
    boolean v4 = t.matches("[0-9]{1,3}(\\.[0-9]{1,3}){3}");
    boolean v6 = t.contains(":") && t.matches("[0-9a-fA-F:.]+");
    if (!v4 && !v6) {
      return null; // never a host name: no lookups here
    }
    try {
      return InetAddress.getByName(t).getAddress();
    } catch (UnknownHostException e) {
      return null;
    }
  }

  /**
   * The bytes of an IP literal (4 for IPv4 and IPv4-mapped IPv6, 16 for IPv6), maybe bracketed,
   * or null when it is none. Parse once per call, then test each network with
   * {@link #contains(byte[])}.
   */
  public static byte[] address(String text) {
    if (text == null) {
      return null;
    }
    byte[] v4 = dottedQuad(text);
    return v4 != null ? v4 : literal(text);
  }

  /** A plain a.b.c.d without regular expressions or allocation beyond the result. */
  private static byte[] dottedQuad(String text) {
    byte[] out = new byte[4];
    int part = 0;
    int value = -1;
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c >= '0' && c <= '9') {
        value = (value < 0 ? 0 : value * 10) + (c - '0');
        if (value > 255) {
          return null;
        }
      } else if (c == '.' && value >= 0 && part < 3) {
        out[part++] = (byte) value;
        value = -1;
      } else {
        return null;
      }
    }
    if (part != 3 || value < 0) {
      return null;
    }
    out[3] = (byte) value;
    return out;
  }

  /** Whether {@code address} (an IP literal, maybe bracketed) is in this network. */
  public boolean contains(String address) {
    return contains(address(address));
  }

  /** Whether the address of {@code bytes} ({@link #address}) is in this network. */
  public boolean contains(byte[] bytes) {
    if (bytes == null || bytes.length != network.length) {
      return false;
    }
    int full = prefix / 8;
    for (int i = 0; i < full; i++) {
      if (bytes[i] != network[i]) {
        return false;
      }
    }
    int rest = prefix % 8;
    if (rest == 0) {
      return true;
    }
    int mask = 0xff << (8 - rest) & 0xff;
    return (bytes[full] & mask) == (network[full] & mask);
  }
}
