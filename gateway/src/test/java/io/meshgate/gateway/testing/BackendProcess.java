package io.meshgate.gateway.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A sample echo backend in a process of its own (the samples' {@code SampleServer} main, on
 * this test's class path), so that a test can kill it as a crash would: SIGKILL, no goodbye.
 */
public final class BackendProcess implements AutoCloseable {
  private static final Pattern LISTENING = Pattern.compile("listening on [^:]+:(\\d+)");

  private final Process process;
  private final int port;

  private BackendProcess(Process process, int port) {
    this.process = process;
    this.port = port;
  }

  /** Starts an echo backend on a free loopback port; returns once it listens. */
  public static BackendProcess startEcho() throws Exception {
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    Process process = new ProcessBuilder(List.of(java.toString(), "-Xmx256m", "-cp",
        System.getProperty("java.class.path"), "io.meshgate.samples.SampleServer",
        "--serve", "echo=0"))
        .redirectErrorStream(true)
        .start();
    CompletableFuture<Integer> port = new CompletableFuture<>();
    Thread reader = new Thread(() -> {
      try (BufferedReader lines = new BufferedReader(new InputStreamReader(
          process.getInputStream(), StandardCharsets.UTF_8))) {
        String line;
        while ((line = lines.readLine()) != null) {
          Matcher m = LISTENING.matcher(line);
          if (m.find()) {
            port.complete(Integer.parseInt(m.group(1)));
          }
        }
      } catch (IOException ignored) {
        // the process ended
      }
      port.completeExceptionally(new IllegalStateException("the backend exited before listening"));
    }, "backend-output");
    reader.setDaemon(true);
    reader.start();
    try {
      return new BackendProcess(process, port.get(30, TimeUnit.SECONDS));
    } catch (Exception e) {
      process.destroyForcibly();
      throw e;
    }
  }

  /** The port it listens on. */
  public int port() {
    return port;
  }

  /** SIGKILL, and waits until the process is gone. */
  public void kill() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor(10, TimeUnit.SECONDS);
  }

  @Override
  public void close() throws InterruptedException {
    kill();
  }
}
