package io.meshgate.gateway.netty;

import io.meshgate.gateway.config.GatewayConfig;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * Client addresses cut for abuse, remembered: an address cut {@code afterCuts} times within
 * {@code within} has its new connections refused for {@code initialBan}, doubled for each ban
 * in a row up to {@code maxBan} — so that a client cut off for rapid reset cannot simply
 * reconnect and start again. The ban level is forgotten after a quiet {@code maxBan}. At most
 * {@code maxClients} addresses are remembered, least recently cut first out. Thread-safe; time
 * comes from an injected clock.
 */
public final class AbuseMemory {
  private final GatewayConfig.AbuseBan config;
  private final LongSupplier nanoTime;
  // Guarded by this; access-ordered, so the eldest is the least recently touched.
  private final Map<String, Client> clients;

  private static final class Client {
    long windowStart;
    int cuts;
    int bans;
    long bannedUntil;
  }

  public AbuseMemory(GatewayConfig.AbuseBan config, LongSupplier nanoTime) {
    this.config = config;
    this.nanoTime = nanoTime;
    this.clients = new LinkedHashMap<>(64, 0.75f, true) {
      @Override
      protected boolean removeEldestEntry(Map.Entry<String, Client> eldest) {
        return size() > config.maxClients();
      }
    };
  }

  /** Counts a connection of {@code client} cut for abuse; bans it when that was one too many. */
  public synchronized void cut(String client) {
    if (client == null) {
      return;
    }
    long now = nanoTime.getAsLong();
    Client c = clients.computeIfAbsent(client, k -> new Client());
    if (c.bans > 0 && now - c.bannedUntil > config.maxBan().toNanos()) {
      c.bans = 0; // a long quiet time since the last ban: start over
    }
    if (c.cuts == 0 || now - c.windowStart > config.within().toNanos()) {
      c.windowStart = now;
      c.cuts = 0;
    }
    if (++c.cuts >= config.afterCuts()) {
      long ban = Math.min(config.maxBan().toNanos(),
          config.initialBan().toNanos() << Math.min(c.bans, 30));
      c.bannedUntil = now + ban;
      c.bans++;
      c.cuts = 0;
    }
  }

  /** Nanoseconds {@code client}'s new connections are still refused for; 0 when they are not. */
  public synchronized long bannedNanos(String client) {
    if (client == null) {
      return 0;
    }
    Client c = clients.get(client);
    if (c == null) {
      return 0;
    }
    return Math.max(0, c.bannedUntil - nanoTime.getAsLong());
  }
}
