package io.meshgate.gateway.config;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.yaml.snakeyaml.DumperOptions;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;

/**
 * Where changes made through the admin API go: the configuration file, or the document in
 * etcd. A change (put or delete a route or cluster) is made to the whole document, validated as
 * a whole, and only a valid document is written (a file aside, then renamed; an etcd put) and
 * applied before the call returns, so the store and the running gateway never hold a broken
 * configuration. Comments in the document are not kept. Thread-safe (changes are serialized).
 */
public final class ConfigStore {
  private final String name;
  private final Path baseDir;
  private final Storage storage;

  /** Reads and writes the whole document. */
  private interface Storage {
    String read() throws IOException;

    /** Writes and returns once the gateway serves what was written. */
    void write(String text) throws IOException;
  }

  private ConfigStore(String name, Path baseDir, Storage storage) {
    this.name = name;
    this.baseDir = baseDir;
    this.storage = storage;
  }

  /**
   * The configuration file.
   *
   * @param watcher applies what is written (looked at at once, not at its next poll)
   */
  public ConfigStore(Path file, ConfigFileWatcher watcher) {
    this(file.toString(), file.toAbsolutePath().getParent(), new Storage() {
      @Override
      public String read() throws IOException {
        return Files.readString(file, StandardCharsets.UTF_8);
      }

      @Override
      public void write(String text) throws IOException {
        Path aside = file.resolveSibling(file.getFileName() + ".admin-tmp");
        Files.writeString(aside, text, StandardCharsets.UTF_8);
        Files.move(aside, file, StandardCopyOption.REPLACE_EXISTING,
            StandardCopyOption.ATOMIC_MOVE);
        watcher.check();
      }
    });
  }

  /** The document in etcd; a write returns once the source's watch applied it (at most 10 s). */
  public static ConfigStore etcd(EtcdConfigSource source) {
    return new ConfigStore("etcd:" + source.key(), null, new Storage() {
      @Override
      public String read() throws IOException {
        String text = source.read();
        if (text == null) {
          throw new IOException(source.key() + " is missing in etcd");
        }
        return text;
      }

      @Override
      public void write(String text) throws IOException {
        long written = source.put(text);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (source.revision() < written && System.nanoTime() < deadline) {
          // The watch delivers the put within milliseconds; wait for it, bounded.
          LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(2));
        }
      }
    });
  }

  /** The section a change is about. */
  public enum Section {
    ROUTES("routes"), CLUSTERS("clusters");

    final String key;

    Section(String key) {
      this.key = key;
    }
  }

  /**
   * Puts (adds or replaces, by name) one entry of a section, given as a JSON or YAML mapping.
   *
   * @throws ConfigException with every error of the resulting document; nothing was written
   */
  public synchronized void put(Section section, String name, String entry)
      throws ConfigException, IOException {
    Object parsed;
    try {
      parsed = yaml().load(entry);
    } catch (RuntimeException e) {
      throw single("the body is not JSON or YAML: " + e.getMessage());
    }
    if (!(parsed instanceof Map<?, ?> map)) {
      throw single("the body is not a mapping (expected e.g. {\"match\": {...}, \"cluster\": "
          + "\"users\"})");
    }
    Map<String, Object> item = new LinkedHashMap<>();
    item.put("name", name);
    map.forEach((k, v) -> {
      if (!"name".equals(k)) {
        item.put(String.valueOf(k), v);
      }
    });
    change(section, name, item);
  }

  /**
   * Deletes one entry of a section.
   *
   * @return false when there was no such entry (nothing changed)
   * @throws ConfigException when the document without it is not valid (a cluster still in use)
   */
  public synchronized boolean delete(Section section, String name)
      throws ConfigException, IOException {
    return change(section, name, null);
  }

  private boolean change(Section section, String name, Map<String, Object> item)
      throws ConfigException, IOException {
    Map<String, Object> document = load();
    List<Object> list = new ArrayList<>();
    Object existing = document.get(section.key);
    if (existing instanceof List<?> l) {
      list.addAll(l);
    }
    boolean found = false;
    for (int i = 0; i < list.size(); i++) {
      if (list.get(i) instanceof Map<?, ?> m && name.equals(m.get("name"))) {
        found = true;
        if (item == null) {
          list.remove(i);
        } else {
          list.set(i, item);
        }
        break;
      }
    }
    if (!found) {
      if (item == null) {
        return false;
      }
      list.add(item);
    }
    document.put(section.key, list);
    DumperOptions options = new DumperOptions();
    options.setDefaultFlowStyle(DumperOptions.FlowStyle.BLOCK);
    options.setIndent(2);
    String text = new Yaml(options).dump(document);
    // Validate the whole new document before anything is written.
    ConfigLoader.parse(name, text, baseDir);
    storage.write(text);
    return true;
  }

  private Map<String, Object> load() throws IOException, ConfigException {
    Object root = yaml().load(storage.read());
    if (!(root instanceof Map<?, ?> map)) {
      throw single("the configuration file is not a mapping");
    }
    Map<String, Object> document = new LinkedHashMap<>();
    map.forEach((k, v) -> document.put(String.valueOf(k), v));
    return document;
  }

  private static Yaml yaml() {
    LoaderOptions options = new LoaderOptions();
    options.setMaxAliasesForCollections(50);
    return new Yaml(options);
  }

  private ConfigException single(String message) {
    return new ConfigException(List.of(new ConfigError("(request body)", 0, 0, "", message)));
  }
}
