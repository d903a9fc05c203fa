package io.meshgate.resolver;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * The value of one instance key in etcd, in the format of etcd's own Go {@code naming/endpoints}
 * manager: {@code {"Op":0,"Addr":"host:port","Metadata":<any JSON>}}. Field names match
 * case-insensitively; the address comes from {@code Addr}, never from the key. {@code Metadata}
 * that is an object is read as {@link InstanceMetadata}; null, a string or anything else means
 * the defaults.
 */
record EndpointValue(HostAndPort address, InstanceMetadata metadata) {
  /** etcd's endpoints.Add; Delete (1) in a stored value means the instance is gone. */
  static final int OP_ADD = 0;

  /**
   * Parses a stored value.
   *
   * @return the endpoint, or null when the value says the instance is deleted
   * @throws IllegalArgumentException with a reason when the value is not an endpoint
   */
  static EndpointValue parse(String json) {
    JsonElement root;
    try {
      root = JsonParser.parseString(json);
    } catch (JsonParseException e) {
      throw new IllegalArgumentException("not JSON: " + e.getMessage());
    }
    if (!root.isJsonObject()) {
      throw new IllegalArgumentException("not a JSON object");
    }
    JsonElement op = field(root.getAsJsonObject(), "op");
    if (op != null && !op.isJsonNull()) {
      if (!op.isJsonPrimitive() || !op.getAsJsonPrimitive().isNumber()) {
        throw new IllegalArgumentException("Op is not a number");
      }
      if (op.getAsInt() != OP_ADD) {
        return null;
      }
    }
    JsonElement addr = field(root.getAsJsonObject(), "addr");
    if (addr == null || !addr.isJsonPrimitive() || !addr.getAsJsonPrimitive().isString()) {
      throw new IllegalArgumentException("no Addr string");
    }
    HostAndPort address = HostAndPort.parse(addr.getAsString());
    return new EndpointValue(address, metadata(field(root.getAsJsonObject(), "metadata")));
  }

  private static InstanceMetadata metadata(JsonElement element) {
    if (element == null || !element.isJsonObject()) {
      return InstanceMetadata.DEFAULT;
    }
    JsonObject object = element.getAsJsonObject();
    int weight = 1;
    JsonElement w = field(object, "weight");
    if (w != null && w.isJsonPrimitive() && w.getAsJsonPrimitive().isNumber()) {
      weight = (int) Math.max(1, Math.min(1_000_000, w.getAsDouble()));
    }
    Set<String> tags = new LinkedHashSet<>();
    JsonElement t = field(object, "tags");
    if (t != null && t.isJsonArray()) {
      for (JsonElement tag : t.getAsJsonArray()) {
        if (tag.isJsonPrimitive()) {
          tags.add(tag.getAsString());
        }
      }
    }
    return InstanceMetadata.of(weight, string(field(object, "zone")),
        string(field(object, "version")), tags);
  }

  private static String string(JsonElement element) {
    return element != null && element.isJsonPrimitive() ? element.getAsString() : null;
  }

  private static JsonElement field(JsonObject object, String lowerCaseName) {
    for (Map.Entry<String, JsonElement> entry : object.entrySet()) {
      if (entry.getKey().equalsIgnoreCase(lowerCaseName)) {
        return entry.getValue();
      }
    }
    return null;
  }

  /** The value our registrar writes. */
  String toJson() {
    JsonObject value = new JsonObject();
    value.addProperty("Op", OP_ADD);
    value.addProperty("Addr", address.toString());
    JsonObject md = new JsonObject();
    md.addProperty("weight", metadata.weight());
    if (metadata.zone() != null) {
      md.addProperty("zone", metadata.zone());
    }
    if (metadata.version() != null) {
      md.addProperty("version", metadata.version());
    }
    JsonArray tags = new JsonArray();
    metadata.tags().forEach(tags::add);
    md.add("tags", tags);
    value.add("Metadata", md);
    return value.toString();
  }
}
