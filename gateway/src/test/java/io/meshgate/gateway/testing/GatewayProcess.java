package io.meshgate.gateway.testing;

import io.meshgate.testing.Await;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The gateway as users run it: {@code bin/meshgate} in its own process (after the package phase
 * built the jar), so that signals, exit codes and the launcher itself are tested.
 */
public final class GatewayProcess implements AutoCloseable {
  private final Process process;
  private final Path log;

  private GatewayProcess(Process process, Path log) {
    this.process = process;
    this.log = log;
  }

  /** The repository root (where {@code bin/} is). */
  public static Path root() {
    String root = System.getProperty("meshgate.root");
    Path path = root != null ? Path.of(root) : Path.of("").toAbsolutePath().getParent();
    if (!Files.isExecutable(path.resolve("bin/meshgate"))) {
      throw new IllegalStateException("bin/meshgate not found under " + path);
    }
    return path;
  }

  /** Runs {@code bin/meshgate} with arguments to completion; returns exit code and output. */
  public static Result run(List<String> args, Duration timeout) throws Exception {
    List<String> command = new ArrayList<>();
    command.add(root().resolve("bin/meshgate").toString());
    command.addAll(args);
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("bin/meshgate " + args + " did not finish: " + output);
    }
    return new Result(p.exitValue(), output);
  }

  /** An exit code and what the process printed. */
  public record Result(int exitCode, String output) {}

  /** Starts {@code bin/meshgate --config file} and waits until its admin port says ready. */
  public static GatewayProcess start(Path config, int adminPort) throws Exception {
    return start(config, adminPort, "");
  }

  /** As {@link #start(Path, int)}, with JVM options ({@code MESHGATE_JAVA_OPTS}). */
  public static GatewayProcess start(Path config, int adminPort, String javaOpts)
      throws Exception {
    return startWith(List.of("--config", config.toString()), adminPort, javaOpts);
  }

  /** Starts {@code bin/meshgate args...} and waits until its admin port says ready. */
  public static GatewayProcess startWith(List<String> args, int adminPort, String javaOpts)
      throws Exception {
    Path log = Files.createTempFile("meshgate", ".log");
    List<String> command = new ArrayList<>();
    command.add(root().resolve("bin/meshgate").toString());
    command.addAll(args);
    ProcessBuilder builder = new ProcessBuilder(command)
        .redirectErrorStream(true)
        .redirectOutput(log.toFile());
    builder.environment().put("MESHGATE_JAVA_OPTS", javaOpts);
    Process process = builder.start();
    GatewayProcess gateway = new GatewayProcess(process, log);
    try {
      Await.until("the gateway reports ready", Duration.ofSeconds(30),
          () -> !process.isAlive() || gateway.adminStatus(adminPort, "/readyz") == 200);
      if (!process.isAlive()) {
        throw new AssertionError("the gateway exited with " + process.exitValue() + ":\n"
            + gateway.output());
      }
    } catch (RuntimeException | AssertionError e) {
      gateway.close();
      throw e;
    }
    return gateway;
  }

  /** The HTTP status of an admin endpoint, or -1 when the port does not answer. */
  public int adminStatus(int adminPort, String path) {
    try {
      HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
      return client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminPort
          + path)).timeout(Duration.ofSeconds(2)).build(),
          HttpResponse.BodyHandlers.discarding()).statusCode();
    } catch (IOException e) {
      return -1;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return -1;
    }
  }

  public Process process() {
    return process;
  }

  /** Sends SIGTERM. */
  public void terminate() {
    process.destroy();
  }

  /** What the gateway printed so far. */
  public String output() {
    try {
      return Files.readString(log);
    } catch (IOException e) {
      return e.toString();
    }
  }

  @Override
  public void close() throws IOException {
    if (process.isAlive()) {
      process.destroyForcibly();
    }
    Files.deleteIfExists(log);
  }
}
