package io.meshgate.gateway.config;

import java.util.List;

/** A configuration that cannot be used, with every error found in it (not just the first). */
public final class ConfigException extends Exception {
  private static final long serialVersionUID = 1L;

  private final transient List<ConfigError> errors;

  public ConfigException(List<ConfigError> errors) {
    super(render(errors));
    this.errors = List.copyOf(errors);
  }

  /** The errors, in document order. */
  public List<ConfigError> errors() {
    return errors;
  }

  private static String render(List<ConfigError> errors) {
    StringBuilder sb = new StringBuilder();
    sb.append(errors.size() == 1 ? "1 configuration error" : errors.size() + " configuration errors");
    for (ConfigError error : errors) {
      sb.append("\n  ").append(error);
    }
    return sb.toString();
  }
}
