package io.meshgate.transcoder;

import com.google.api.AnnotationsProto;
import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import com.google.protobuf.DescriptorProtos.FileDescriptorSet;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.DescriptorValidationException;
import com.google.protobuf.Descriptors.FileDescriptor;
import com.google.protobuf.Descriptors.ServiceDescriptor;
import com.google.protobuf.ExtensionRegistry;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Protobuf descriptors loaded at run time — from descriptor set files
 * ({@code protoc --include_imports --descriptor_set_out}) or from a server's reflection — with
 * their {@code google.api.http} options readable. Immutable and thread-safe.
 *
 * <p>Files are linked in dependency order; a file whose imports are missing, or whose contents do
 * not validate, fails the whole pool with a {@link DescriptorException} that names the file and
 * what is wrong. The same file name given twice must have the same contents.
 */
public final class DescriptorPool {
  private static final ExtensionRegistry EXTENSIONS = extensions();

  private final Map<String, FileDescriptor> files;
  private final Map<String, ServiceDescriptor> services;
  private final Map<String, Descriptor> messages;
  private final JsonFormat.TypeRegistry typeRegistry;

  private DescriptorPool(Map<String, FileDescriptor> files) {
    this.files = Collections.unmodifiableMap(files);
    Map<String, ServiceDescriptor> allServices = new LinkedHashMap<>();
    Map<String, Descriptor> allMessages = new LinkedHashMap<>();
    JsonFormat.TypeRegistry.Builder registry = JsonFormat.TypeRegistry.newBuilder();
    for (FileDescriptor file : files.values()) {
      for (ServiceDescriptor service : file.getServices()) {
        allServices.put(service.getFullName(), service);
      }
      for (Descriptor message : file.getMessageTypes()) {
        addMessages(message, allMessages);
      }
      registry.add(file.getMessageTypes());
    }
    // google.rpc error details, so that error bodies can print them even when no loaded file
    // imports error_details.proto.
    registry.add(com.google.rpc.ErrorDetailsProto.getDescriptor().getMessageTypes());
    this.services = Collections.unmodifiableMap(allServices);
    this.messages = Collections.unmodifiableMap(allMessages);
    this.typeRegistry = registry.build();
  }

  private static ExtensionRegistry extensions() {
    ExtensionRegistry registry = ExtensionRegistry.newInstance();
    AnnotationsProto.registerAllExtensions(registry);
    return registry;
  }

  private static void addMessages(Descriptor message, Map<String, Descriptor> into) {
    into.put(message.getFullName(), message);
    for (Descriptor nested : message.getNestedTypes()) {
      addMessages(nested, into);
    }
  }

  /** A pool with no files. */
  public static DescriptorPool empty() {
    return new DescriptorPool(new LinkedHashMap<>());
  }

  /**
   * Loads descriptor set files.
   *
   * @throws DescriptorException naming the file that cannot be read, parsed or linked
   */
  public static DescriptorPool fromFiles(List<Path> paths) throws DescriptorException {
    List<FileDescriptorProto> protos = new ArrayList<>();
    for (Path path : paths) {
      byte[] bytes;
      try {
        bytes = Files.readAllBytes(path);
      } catch (IOException e) {
        throw new DescriptorException(path + ": cannot be read: " + e.getMessage());
      }
      try {
        protos.addAll(FileDescriptorSet.parseFrom(bytes, EXTENSIONS).getFileList());
      } catch (InvalidProtocolBufferException e) {
        throw new DescriptorException(path + ": not a FileDescriptorSet (expected the output of"
            + " protoc --include_imports --descriptor_set_out): " + e.getMessage());
      }
    }
    return fromProtos(protos);
  }

  /**
   * Links file descriptor protos (in any order; each file's imports must be among them).
   * Serialized protos are re-read so that their {@code google.api.http} options are visible.
   *
   * @throws DescriptorException naming the file that cannot be linked and why
   */
  public static DescriptorPool fromProtos(Collection<FileDescriptorProto> protos)
      throws DescriptorException {
    Map<String, FileDescriptorProto> byName = new LinkedHashMap<>();
    for (FileDescriptorProto proto : protos) {
      FileDescriptorProto withOptions = reparse(proto);
      FileDescriptorProto earlier = byName.putIfAbsent(withOptions.getName(), withOptions);
      if (earlier != null && !earlier.equals(withOptions)) {
        throw new DescriptorException(proto.getName() + ": given twice with different contents");
      }
    }
    Map<String, FileDescriptor> built = new LinkedHashMap<>();
    for (String name : byName.keySet()) {
      build(name, byName, built, new HashSet<>());
    }
    return new DescriptorPool(built);
  }

  private static FileDescriptorProto reparse(FileDescriptorProto proto)
      throws DescriptorException {
    try {
      return FileDescriptorProto.parseFrom(proto.toByteString(), EXTENSIONS);
    } catch (InvalidProtocolBufferException e) {
      throw new DescriptorException(proto.getName() + ": " + e.getMessage());
    }
  }

  private static FileDescriptor build(String name, Map<String, FileDescriptorProto> protos,
      Map<String, FileDescriptor> built, Set<String> visiting) throws DescriptorException {
    FileDescriptor done = built.get(name);
    if (done != null) {
      return done;
    }
    FileDescriptorProto proto = protos.get(name);
    if (proto == null) {
      FileDescriptor wellKnown = WellKnownFiles.get(name);
      if (wellKnown != null) {
        built.put(name, wellKnown);
        return wellKnown;
      }
      return null;
    }
    if (!visiting.add(name)) {
      throw new DescriptorException(name + ": imports itself (circular imports)");
    }
    List<FileDescriptor> dependencies = new ArrayList<>();
    for (String dependency : proto.getDependencyList()) {
      FileDescriptor file = build(dependency, protos, built, visiting);
      if (file == null) {
        throw new DescriptorException(name + ": imports " + dependency + ", which is not in the"
            + " descriptor set (build it with protoc --include_imports)");
      }
      dependencies.add(file);
    }
    try {
      FileDescriptor file = FileDescriptor.buildFrom(proto,
          dependencies.toArray(new FileDescriptor[0]));
      built.put(name, file);
      return file;
    } catch (DescriptorValidationException e) {
      throw new DescriptorException(name + ": " + e.getMessage());
    } finally {
      visiting.remove(name);
    }
  }

  /** The linked files, by name, in dependency order. */
  public Map<String, FileDescriptor> files() {
    return files;
  }

  /** Every service, by full name ({@code acme.users.v1.Users}). */
  public Map<String, ServiceDescriptor> services() {
    return services;
  }

  /** A message type by full name, or null. */
  Descriptor message(String fullName) {
    return messages.get(fullName);
  }

  /** Every message type of the pool (and google.rpc's error details), for {@code Any}. */
  public JsonFormat.TypeRegistry typeRegistry() {
    return typeRegistry;
  }
}
