package io.meshgate.gateway.admin;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import io.meshgate.gateway.config.ConfigError;
import io.meshgate.gateway.config.ConfigException;
import io.meshgate.gateway.config.ConfigLoader;
import io.meshgate.gateway.config.ConfigStore;
import io.meshgate.gateway.route.Running;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * The admin API of a gateway: views of its running configuration, a dry-run validation, and
 * changes written to its configuration store (which applies them). Thread-safe.
 */
public final class GatewayAdminApi implements AdminApi {
  private final Supplier<Running> running;
  private final Supplier<ConfigStore> store;
  private final LongSupplier revision;
  private final Supplier<io.meshgate.gateway.descriptors.Descriptors.Snapshot> descriptors;
  private io.meshgate.gateway.config.ReloadHistory reloads;
  private io.meshgate.gateway.telemetry.TrafficHistory traffic;
  private CallTester tester;

  /**
   * @param running the configuration the gateway runs now
   * @param store where changes go, or a supplier of null while there is none
   * @param revision the stored configuration's revision (0 without one)
   * @param descriptors the descriptors loaded now
   */
  public GatewayAdminApi(Supplier<Running> running, Supplier<ConfigStore> store,
      LongSupplier revision,
      Supplier<io.meshgate.gateway.descriptors.Descriptors.Snapshot> descriptors) {
    this.running = running;
    this.store = store;
    this.revision = revision;
    this.descriptors = descriptors;
  }

  /**
   * Adds what the console shows besides the configuration: the reload history, the traffic
   * history, and the call tester, which calls the main port.
   *
   * @param mainPort the gateway's main port, once bound
   * @param tlsOnly whether the main port speaks only TLS
   */
  public GatewayAdminApi withConsole(io.meshgate.gateway.config.ReloadHistory reloads,
      io.meshgate.gateway.telemetry.TrafficHistory traffic, java.util.function.IntSupplier mainPort,
      boolean tlsOnly) {
    this.reloads = reloads;
    this.traffic = traffic;
    this.tester = new CallTester(mainPort, tlsOnly, descriptors);
    return this;
  }

  /** Stops the call tester's channel. */
  public void close() {
    if (tester != null) {
      tester.close();
    }
  }

  @Override
  public String reloads() {
    return reloads == null ? "[]" : AdminJson.reloads(reloads.entries());
  }

  @Override
  public String traffic() {
    return traffic == null ? "{\"series\":{}}" : AdminJson.traffic(traffic.snapshot());
  }

  @Override
  public String services() {
    return CallTester.services(descriptors.get());
  }

  @Override
  public void call(String body, java.util.function.Consumer<String> events, Runnable done) {
    if (tester == null) {
      AdminApi.super.call(body, events, done);
      return;
    }
    tester.call(body, events, done);
  }

  @Override
  public String http(String body) throws Exception {
    if (tester == null) {
      return AdminApi.super.http(body);
    }
    return tester.http(body);
  }

  /**
   * Generated from the descriptors loaded now (so it follows their reloads), with the bearer
   * scheme on the methods whose route requires a token in the running configuration.
   */
  @Override
  public String openApi() {
    Running now = running.get();
    return io.meshgate.transcoder.OpenApi.document(descriptors.get().table(),
        "Meshgate REST API", "configuration " + now.version(), method -> {
          io.meshgate.gateway.route.Route route = now.routes().match(
              method.getService().getFullName(), method.getName(), null);
          return route != null && route.auth() != null;
        });
  }

  @Override
  public String config() {
    return AdminJson.config(running.get(), revision.getAsLong());
  }

  @Override
  public String clusters() {
    return AdminJson.clusters(running.get());
  }

  @Override
  public String routes() {
    return AdminJson.routes(running.get().config());
  }

  @Override
  public Change put(String section, String name, String body) {
    return change(section, name, body);
  }

  @Override
  public Change delete(String section, String name) {
    return change(section, name, null);
  }

  private Change change(String section, String name, String body) {
    ConfigStore target = store.get();
    if (target == null) {
      return new Change(409, AdminJson.error(9, "this gateway has no configuration store to"
          + " change (it was not started with --config FILE)"));
    }
    ConfigStore.Section which = section.equals("routes") ? ConfigStore.Section.ROUTES
        : ConfigStore.Section.CLUSTERS;
    long before = running.get().version();
    try {
      if (body == null) {
        if (!target.delete(which, name)) {
          return new Change(404, AdminJson.error(5, "no " + section + " entry named '" + name
              + "'"));
        }
      } else {
        target.put(which, name, body);
      }
    } catch (ConfigException e) {
      if (reloads != null) {
        reloads.add(new io.meshgate.gateway.config.ReloadHistory.Entry(java.time.Instant.now(),
            "admin", false, (body == null ? "DELETE " : "PUT ") + "/api/" + section + "/" + name
                + " refused: " + e.getMessage(), running.get().version()));
      }
      JsonObject o = new JsonObject();
      o.addProperty("applied", false);
      JsonArray errors = new JsonArray();
      e.errors().forEach(err -> errors.add(err.toString()));
      o.add("errors", errors);
      return new Change(422, o.toString());
    } catch (IOException e) {
      return new Change(500, AdminJson.error(13, "cannot use the configuration store: "
          + e.getMessage()));
    } catch (RuntimeException e) {
      return new Change(500, AdminJson.error(13, "the stored configuration cannot be changed: "
          + e.getMessage()));
    }
    long after = running.get().version();
    JsonObject o = new JsonObject();
    o.addProperty("applied", after > before);
    o.addProperty("version", after);
    return new Change(200, o.toString());
  }

  @Override
  public List<String> validate(String yaml) {
    try {
      // Relative paths in the document mean what they would in the running file.
      Path base = Path.of(running.get().config().source()).toAbsolutePath().getParent();
      ConfigLoader.parse("(request body)", yaml, base);
      return List.of();
    } catch (ConfigException e) {
      return e.errors().stream().map(ConfigError::toString).toList();
    }
  }
}
