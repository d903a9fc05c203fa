package io.meshgate.resolver;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * A {@code host:port} pair as written in targets and in the etcd registry. IPv6 hosts are written
 * in brackets ({@code [::1]:50051}); {@link #host()} returns them without.
 */
public final class HostAndPort {
  private final String host;
  private final int port;

  private HostAndPort(String host, int port) {
    this.host = host;
    this.port = port;
  }

  /**
   * Parses {@code host:port} or {@code [v6]:port}.
   *
   * @throws IllegalArgumentException naming the text and what was expected when it is not one
   */
  public static HostAndPort parse(String text) {
    String s = text.trim();
    String host;
    String portText;
    if (s.startsWith("[")) {
      int close = s.indexOf(']');
      if (close < 0 || close + 1 >= s.length() || s.charAt(close + 1) != ':') {
        throw invalid(text);
      }
      host = s.substring(1, close);
      portText = s.substring(close + 2);
    } else {
      int colon = s.lastIndexOf(':');
      if (colon <= 0 || s.indexOf(':') != colon) {
        throw invalid(text);
      }
      host = s.substring(0, colon);
      portText = s.substring(colon + 1);
    }
    int port;
    try {
      port = Integer.parseInt(portText);
    } catch (NumberFormatException e) {
      throw invalid(text);
    }
    if (host.isEmpty() || port < 1 || port > 65535) {
      throw invalid(text);
    }
    return new HostAndPort(host, port);
  }

  /**
   * Parses a comma-separated list of endpoints.
   *
   * @throws IllegalArgumentException if the list is empty or an entry does not parse
   */
  public static List<HostAndPort> parseList(String text) {
    List<HostAndPort> result = new ArrayList<>();
    for (String part : text.split(",")) {
      if (!part.isBlank()) {
        result.add(parse(part));
      }
    }
    if (result.isEmpty()) {
      throw new IllegalArgumentException(
          "'" + text + "' lists no endpoint (expected: host:port[,host:port...])");
    }
    return List.copyOf(result);
  }

  private static IllegalArgumentException invalid(String text) {
    return new IllegalArgumentException(
        "'" + text + "' is not an endpoint (expected: host:port or [ipv6]:port, port 1..65535)");
  }

  /** The host name or IP literal, without IPv6 brackets. */
  public String host() {
    return host;
  }

  /** The port, 1..65535. */
  public int port() {
    return port;
  }

  /** {@code host:port}, with IPv6 hosts in brackets. */
  @Override
  public String toString() {
    return host.indexOf(':') >= 0 ? "[" + host + "]:" + port : host + ":" + port;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof HostAndPort other && other.host.equals(host) && other.port == port;
  }

  @Override
  public int hashCode() {
    return Objects.hash(host, port);
  }
}
