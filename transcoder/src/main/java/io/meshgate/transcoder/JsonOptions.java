package io.meshgate.transcoder;

/**
 * How responses are printed as JSON (protobuf's canonical JSON mapping).
 *
 * @param emitUnpopulated print fields that hold their default value ({@code 0}, {@code ""},
 *     {@code []}), as grpc-gateway's {@code EmitUnpopulated}
 * @param enumsAsInts print enums as numbers, not names
 * @param originalFieldNames print {@code user_id}, not {@code userId}
 */
public record JsonOptions(boolean emitUnpopulated, boolean enumsAsInts,
    boolean originalFieldNames) {

  /** Protobuf's defaults: lowerCamel names, enum names, no default values. */
  public static final JsonOptions DEFAULT = new JsonOptions(false, false, false);
}
