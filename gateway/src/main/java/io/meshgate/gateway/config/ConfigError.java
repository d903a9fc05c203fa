package io.meshgate.gateway.config;

/**
 * One thing wrong with a configuration: where it is (source, line, column, path) and what was
 * expected. Renders as {@code gateway.yaml:14:5: routes[1].cluster: 'payments' is not a defined
 * cluster (defined: users, orders)}.
 *
 * @param source the file (or other source) the document came from
 * @param line 1-based line, or 0 when unknown
 * @param column 1-based column, or 0 when unknown
 * @param path the path inside the document, e.g. {@code routes[1].cluster}; empty for the root
 * @param message what is wrong and what was expected
 */
public record ConfigError(String source, int line, int column, String path, String message) {

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder(source);
    if (line > 0) {
      sb.append(':').append(line);
      if (column > 0) {
        sb.append(':').append(column);
      }
    }
    sb.append(": ");
    if (!path.isEmpty()) {
      sb.append(path).append(": ");
    }
    return sb.append(message).toString();
  }
}
