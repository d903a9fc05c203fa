package io.meshgate.transcoder;

import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FileDescriptor;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The .proto files every protobuf runtime already has (well-known types, google.api, google.rpc):
 * used when a descriptor set or a reflection answer leaves them out.
 */
final class WellKnownFiles {
  private static final Map<String, FileDescriptor> FILES = new HashMap<>();
  private static final Map<String, Descriptor> MESSAGES = new HashMap<>();

  static {
    for (FileDescriptor file : List.of(
        com.google.protobuf.AnyProto.getDescriptor(),
        com.google.protobuf.ApiProto.getDescriptor(),
        com.google.protobuf.DescriptorProtos.getDescriptor(),
        com.google.protobuf.DurationProto.getDescriptor(),
        com.google.protobuf.EmptyProto.getDescriptor(),
        com.google.protobuf.FieldMaskProto.getDescriptor(),
        com.google.protobuf.SourceContextProto.getDescriptor(),
        com.google.protobuf.StructProto.getDescriptor(),
        com.google.protobuf.TimestampProto.getDescriptor(),
        com.google.protobuf.TypeProto.getDescriptor(),
        com.google.protobuf.WrappersProto.getDescriptor(),
        com.google.api.AnnotationsProto.getDescriptor(),
        com.google.api.HttpProto.getDescriptor(),
        com.google.api.HttpBodyProto.getDescriptor(),
        com.google.api.ClientProto.getDescriptor(),
        com.google.api.FieldBehaviorProto.getDescriptor(),
        com.google.api.ResourceProto.getDescriptor(),
        com.google.rpc.StatusProto.getDescriptor(),
        com.google.rpc.ErrorDetailsProto.getDescriptor(),
        com.google.rpc.CodeProto.getDescriptor())) {
      add(file);
    }
  }

  private WellKnownFiles() {}

  private static void add(FileDescriptor file) {
    if (FILES.putIfAbsent(file.getName(), file) == null) {
      for (Descriptor message : file.getMessageTypes()) {
        MESSAGES.put(message.getFullName(), message);
      }
      for (FileDescriptor dependency : file.getDependencies()) {
        add(dependency);
      }
    }
  }

  /** A top-level message of these files by full name, or null. */
  static Descriptor message(String fullName) {
    return MESSAGES.get(fullName);
  }

  /** The file of that name, or null. */
  static FileDescriptor get(String name) {
    return FILES.get(name);
  }
}
