package io.meshgate.gateway;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.meshgate.gateway.config.ConfigException;
import io.meshgate.gateway.config.ConfigLoader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every {@code yaml} block in {@code docs/} and {@code README.md} is a configuration the real
 * loader accepts, so the reference cannot drift from the code. A block without
 * {@code listener:} is loaded with a default listener; the files the blocks name (certificates,
 * keys, descriptor sets, the admin token, a Redis password) are placeholders in the directory the blocks are
 * loaded from, which is what the loader checks (their contents are read when a gateway starts).
 */
class DocsConfigTest {
  private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
  private static final Pattern TOP_LEVEL_LISTENER = Pattern.compile("(?m)^listener:");
  private static final List<String> PLACEHOLDERS = List.of("keys/legacy.pem", "jwks.json",
      "api.pb", "redis.password");

  @TempDir
  static Path base;

  @BeforeAll
  static void placeholders() throws IOException {
    for (String name : PLACEHOLDERS) {
      Path file = base.resolve(name);
      Files.createDirectories(file.getParent());
      Files.writeString(file, "placeholder");
    }
    Files.writeString(base.resolve("admin.token"), "0123456789abcdef0123456789abcdef");
    // Certificates are parsed by the loader: real ones, from a CA of the test's own.
    Path certs = Files.createDirectories(base.resolve("certs"));
    try {
      io.meshgate.testing.TestCa ca = io.meshgate.testing.TestCa.create("corp-ca",
          certs);
      for (String name : List.of("server", "meshgate")) {
        io.meshgate.testing.TestCa.Issued issued = ca.issue(name, "127.0.0.1");
        Files.move(issued.certFile(), certs.resolve(name + ".pem"));
        Files.move(issued.keyFile(), certs.resolve(name + ".key"));
      }
    } catch (Exception e) {
      throw new IOException("cannot make the test certificates", e);
    }
  }

  /** A fenced block: where it starts and what it holds. */
  private record Block(String where, String text) {}

  private static List<Block> yamlBlocks() throws IOException {
    List<Path> files = new ArrayList<>();
    files.add(ROOT.resolve("README.md"));
    try (Stream<Path> docs = Files.list(ROOT.resolve("docs"))) {
      docs.filter(p -> p.toString().endsWith(".md")).sorted().forEach(files::add);
    }
    List<Block> blocks = new ArrayList<>();
    for (Path file : files) {
      List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
      for (int i = 0; i < lines.size(); i++) {
        if (!lines.get(i).strip().equals("```yaml")) {
          continue;
        }
        int start = i + 1;
        StringBuilder text = new StringBuilder();
        for (i = start; i < lines.size() && !lines.get(i).strip().equals("```"); i++) {
          text.append(lines.get(i)).append('\n');
        }
        blocks.add(new Block(ROOT.relativize(file) + " (the block at line " + start + ")",
            text.toString()));
      }
    }
    return blocks;
  }

  @Test
  void everyYamlBlockOfTheDocsIsAValidConfiguration() throws IOException {
    List<Block> blocks = yamlBlocks();
    assertTrue(blocks.size() >= 10, "found only " + blocks.size() + " yaml blocks in docs/");
    List<String> failures = new ArrayList<>();
    for (Block block : blocks) {
      // Appended, so that the lines of errors are the block's own.
      String document = TOP_LEVEL_LISTENER.matcher(block.text()).find() ? block.text()
          : block.text() + "listener: {host: 127.0.0.1, port: 0}\n";
      try {
        ConfigLoader.parse(block.where(), document, base);
      } catch (ConfigException e) {
        failures.add(block.where() + ":\n  " + String.join("\n  ",
            e.errors().stream().map(Object::toString).toList()));
      }
    }
    if (!failures.isEmpty()) {
      fail("yaml blocks the configuration loader refuses:\n" + String.join("\n", failures));
    }
  }
}
