package io.meshgate.gateway.access;

import io.meshgate.gateway.call.Cidr;
import io.meshgate.gateway.call.ClientAddress;
import io.meshgate.gateway.call.RequestView;
import io.meshgate.gateway.config.GatewayConfig;
import java.util.ArrayList;
import java.util.List;

/**
 * Compiled {@code ipRules}: the first rule whose networks hold the client's address (the TCP
 * peer, or with trusted hops the {@code X-Forwarded-For} entry the first trusted proxy added)
 * decides; an address no rule holds is let through unless the rules say {@code default: deny}.
 * Immutable and thread-safe.
 */
public final class IpRules {
  private record Rule(boolean allow, List<Cidr> networks) {}

  private final int trustedHops;
  private final List<Rule> rules;
  private final boolean denyOthers;

  private IpRules(int trustedHops, List<Rule> rules, boolean denyOthers) {
    this.trustedHops = trustedHops;
    this.rules = rules;
    this.denyOthers = denyOthers;
  }

  /** The rules of {@code config}, or null for none (every address may call). */
  public static IpRules of(GatewayConfig.IpRules config) {
    if (config == null) {
      return null;
    }
    List<Rule> rules = new ArrayList<>();
    for (GatewayConfig.IpRule rule : config.rules()) {
      rules.add(new Rule(rule.allow(), rule.cidrs().stream().map(Cidr::parse).toList()));
    }
    return new IpRules(config.trustedHops(), List.copyOf(rules), config.denyOthers());
  }

  /** Whether the client of {@code call} may call. */
  public boolean allows(RequestView call) {
    byte[] address = Cidr.address(ClientAddress.of(call, trustedHops));
    for (Rule rule : rules) {
      for (Cidr network : rule.networks()) {
        if (network.contains(address)) {
          return rule.allow();
        }
      }
    }
    return !denyOthers;
  }
}
