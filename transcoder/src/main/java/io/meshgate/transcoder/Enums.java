package io.meshgate.transcoder;

import com.google.protobuf.Descriptors.EnumDescriptor;
import com.google.protobuf.Descriptors.EnumValueDescriptor;
import java.util.ArrayList;
import java.util.List;

/** Enum values in words, for error messages. */
final class Enums {
  private static final int LISTED = 20;

  private Enums() {}

  /** The names of an enum's values, the first 20 and then "...". */
  static String names(EnumDescriptor type) {
    List<String> names = new ArrayList<>();
    for (EnumValueDescriptor value : type.getValues()) {
      if (names.size() == LISTED) {
        names.add("...");
        break;
      }
      names.add(value.getName());
    }
    return String.join(", ", names);
  }
}
