package io.meshgate.gateway.config;

/** JSON documents shown as YAML (block style, which reads better). Stateless. */
public final class JsonYaml {
  private JsonYaml() {}

  /** {@code json} as YAML (YAML is a superset of JSON: the same document). */
  public static String of(String json) {
    Object tree = new com.google.gson.Gson().fromJson(json, Object.class);
    org.yaml.snakeyaml.DumperOptions options = new org.yaml.snakeyaml.DumperOptions();
    options.setDefaultFlowStyle(org.yaml.snakeyaml.DumperOptions.FlowStyle.BLOCK);
    options.setWidth(100);
    return new org.yaml.snakeyaml.Yaml(options).dump(tree);
  }
}
