package io.meshgate.gateway.testing;

import io.meshgate.testing.DebianPackages;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Real Node.js clients from npm ({@code src/test/node}: connect-es for gRPC-Web and the Connect
 * protocol), installed on first use: Node.js and npm from Debian when the machine lacks them,
 * then {@code npm ci} from the checked-in lock file. Each run is bounded in time.
 */
public final class NodeClients {
  private static final Path DIR = Path.of("src", "test", "node").toAbsolutePath();
  private static boolean installed; // guarded by NodeClients.class

  private NodeClients() {}

  /** Makes sure Node.js and the clients' packages are there. */
  public static synchronized void ensureInstalled() throws Exception {
    if (installed) {
      return;
    }
    DebianPackages.ensure("nodejs", List.of("node", "--version"));
    DebianPackages.ensure("npm", List.of("npm", "--version"));
    if (!allInstalled()) {
      Result ci = run(List.of("npm", "ci", "--no-audit", "--no-fund"), 600);
      if (ci.exit() != 0) {
        throw new IllegalStateException("npm ci in " + DIR + " failed:\n" + ci.output());
      }
    }
    installed = true;
  }

  /** Whether every dependency of package.json is in node_modules. */
  private static boolean allInstalled() throws IOException {
    com.google.gson.JsonObject dependencies = com.google.gson.JsonParser.parseString(
        Files.readString(DIR.resolve("package.json"))).getAsJsonObject()
        .getAsJsonObject("dependencies");
    for (String name : dependencies.keySet()) {
      if (!Files.isRegularFile(DIR.resolve("node_modules").resolve(name)
          .resolve("package.json"))) {
        return false;
      }
    }
    return true;
  }

  /** What a process printed, and how it ended. */
  public record Result(int exit, String output) {}

  /**
   * Runs {@code node <script> <args>} in the clients' directory, for at most 60 s.
   *
   * @return its standard output; a failure throws with everything it printed
   */
  public static String node(String script, String... args) throws Exception {
    ensureInstalled();
    List<String> command = new ArrayList<>(List.of("node", script));
    command.addAll(List.of(args));
    Result result = run(command, 60);
    if (result.exit() != 0) {
      throw new AssertionError("node " + script + " exited with " + result.exit() + ":\n"
          + result.output());
    }
    String out = result.output().strip();
    // The last line is the JSON result; earlier ones are warnings (e.g. an old Node's).
    return out.substring(out.lastIndexOf('\n') + 1);
  }

  private static Result run(List<String> command, int seconds) throws IOException,
      InterruptedException {
    Process process = new ProcessBuilder(command).directory(DIR.toFile())
        .redirectErrorStream(true).start();
    byte[][] output = new byte[1][];
    Thread reader = new Thread(() -> {
      try {
        output[0] = process.getInputStream().readAllBytes();
      } catch (IOException e) {
        output[0] = e.toString().getBytes(StandardCharsets.UTF_8);
      }
    });
    reader.start();
    if (!process.waitFor(seconds, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      reader.join(5_000);
      return new Result(-1, "timed out after " + seconds + " s: " + command + "\n"
          + (output[0] == null ? "" : new String(output[0], StandardCharsets.UTF_8)));
    }
    reader.join(5_000);
    return new Result(process.exitValue(), output[0] == null ? ""
        : new String(output[0], StandardCharsets.UTF_8));
  }
}
