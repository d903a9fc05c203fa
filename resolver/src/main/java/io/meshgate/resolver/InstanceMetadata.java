package io.meshgate.resolver;

import io.grpc.Attributes;
import io.grpc.EquivalentAddressGroup;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/**
 * What the registry says about one service instance: its weight, zone, version and tags. The
 * etcd resolver puts it on each {@link EquivalentAddressGroup} under {@link #ATTR}, where
 * load-balancing policies read it ({@link #of(EquivalentAddressGroup)}).
 *
 * <p>In etcd it is the {@code Metadata} object of an endpoint value:
 * {@code {"weight":10,"zone":"eu-1","version":"1.4.2","tags":["canary"]}}; every field is
 * optional. Immutable.
 */
public final class InstanceMetadata {
  /** The attribute key on an address group. */
  public static final Attributes.Key<InstanceMetadata> ATTR =
      Attributes.Key.create("io.meshgate.resolver.InstanceMetadata");

  /** Weight 1, no zone, no version, no tags: what an instance without metadata gets. */
  public static final InstanceMetadata DEFAULT = new InstanceMetadata(1, null, null, Set.of());

  private final int weight;
  private final String zone;
  private final String version;
  private final Set<String> tags;

  private InstanceMetadata(int weight, String zone, String version, Set<String> tags) {
    this.weight = weight;
    this.zone = zone;
    this.version = version;
    this.tags = tags;
  }

  /**
   * Creates metadata.
   *
   * @param weight relative share of traffic, 1..1,000,000
   * @param zone the instance's zone, or null
   * @param version the instance's version, or null
   * @param tags free-form labels (e.g. {@code canary})
   * @throws IllegalArgumentException if the weight is out of range
   */
  public static InstanceMetadata of(int weight, String zone, String version, Set<String> tags) {
    if (weight < 1 || weight > 1_000_000) {
      throw new IllegalArgumentException("weight: " + weight + " (expected: 1..1000000)");
    }
    return new InstanceMetadata(weight, zone, version,
        Set.copyOf(new TreeSet<>(Objects.requireNonNull(tags, "tags"))));
  }

  /** The metadata of an address group, or {@link #DEFAULT} when it carries none. */
  public static InstanceMetadata of(EquivalentAddressGroup group) {
    InstanceMetadata metadata = group.getAttributes().get(ATTR);
    return metadata != null ? metadata : DEFAULT;
  }

  /** Relative share of traffic under weighted policies, 1..1,000,000 (1 by default). */
  public int weight() {
    return weight;
  }

  /** The zone, or null. */
  public String zone() {
    return zone;
  }

  /** The version, or null. */
  public String version() {
    return version;
  }

  /** The tags (sorted, immutable). */
  public Set<String> tags() {
    return tags;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof InstanceMetadata other && other.weight == weight
        && Objects.equals(other.zone, zone) && Objects.equals(other.version, version)
        && other.tags.equals(tags);
  }

  @Override
  public int hashCode() {
    return Objects.hash(weight, zone, version, tags);
  }

  @Override
  public String toString() {
    return "{weight=" + weight + (zone != null ? ", zone=" + zone : "")
        + (version != null ? ", version=" + version : "")
        + (tags.isEmpty() ? "" : ", tags=" + tags) + "}";
  }
}
