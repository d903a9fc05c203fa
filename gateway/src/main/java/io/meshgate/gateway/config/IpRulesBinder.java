package io.meshgate.gateway.config;

import java.util.ArrayList;
import java.util.List;

/** Binds an {@code ipRules:} section (the top level's, or a route's). Errors go to the reader. */
final class IpRulesBinder {
  private IpRulesBinder() {}

  /** The rules, or null when the section is absent. */
  static GatewayConfig.IpRules ipRules(ConfigReader reader, ConfigReader.Obj o) {
    if (o == null) {
      return null;
    }
    int hops = o.integer("trustedHops", 0, 0, 10);
    String fallback = o.string("default", "allow");
    if (!fallback.equals("allow") && !fallback.equals("deny")) {
      reader.error(o.node("default"), o.child("default"), "'" + fallback + "' is not allow or"
          + " deny");
    }
    List<GatewayConfig.IpRule> rules = new ArrayList<>();
    List<org.yaml.snakeyaml.nodes.Node> items = o.list("rules");
    for (int i = 0; i < items.size(); i++) {
      String path = o.child("rules") + "[" + i + "]";
      ConfigReader.Obj rule = reader.item(items.get(i), path);
      boolean allow = rule.has("allow");
      if (allow == rule.has("deny")) {
        reader.error(rule.node, path, "give allow: [cidr, ...] or deny: [cidr, ...] (one of"
            + " them)");
        rule.finish();
        continue;
      }
      String key = allow ? "allow" : "deny";
      List<String> cidrs = rule.strings(key);
      for (String cidr : cidrs) {
        String problem = io.meshgate.gateway.call.Cidr.problem(cidr);
        if (problem != null) {
          reader.error(rule.node(key), rule.child(key), problem);
        }
      }
      rule.finish();
      rules.add(new GatewayConfig.IpRule(allow, cidrs));
    }
    o.finish();
    return new GatewayConfig.IpRules(hops, rules, fallback.equals("deny"));
  }
}
