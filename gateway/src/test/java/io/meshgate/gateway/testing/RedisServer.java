package io.meshgate.gateway.testing;

import io.meshgate.testing.Await;
import io.meshgate.testing.DebianPackages;
import io.meshgate.testing.FreePorts;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * A real {@code redis-server} (Debian's, installed when missing) on a free loopback port with a
 * temporary directory and no persistence; it can be stopped, paused (SIGSTOP: it answers
 * nothing) and started again on the same port.
 */
public final class RedisServer implements AutoCloseable {
  private final int port;
  private final Path dir;
  private final List<String> extra;
  private Process process;

  private RedisServer(int port, Path dir, List<String> extra) {
    this.port = port;
    this.dir = dir;
    this.extra = extra;
  }

  /**
   * Starts one that speaks only TLS, with {@code certFile}/{@code keyFile}, trusting clients of
   * {@code caFile} and requiring a client certificate when {@code clientCerts}.
   */
  public static RedisServer startTls(Path certFile, Path keyFile, Path caFile,
      boolean clientCerts) throws IOException {
    DebianPackages.ensure("redis-server", List.of("redis-server", "--version"));
    int port = FreePorts.next();
    RedisServer server = new RedisServer(port, Files.createTempDirectory("meshgate-redis"),
        List.of("--port", "0", "--tls-port", Integer.toString(port), "--tls-cert-file",
            certFile.toString(), "--tls-key-file", keyFile.toString(), "--tls-ca-cert-file",
            caFile.toString(), "--tls-auth-clients", clientCerts ? "yes" : "no"));
    server.launch();
    return server;
  }

  /**
   * Starts a Sentinel (redis-server in Sentinel mode, with its own writable config file) that
   * monitors {@code master} under {@code masterName}; its {@link #address()} is the Sentinel's.
   */
  public static RedisServer startSentinel(String masterName, RedisServer master)
      throws IOException {
    int port = FreePorts.next();
    Path dir = Files.createTempDirectory("meshgate-sentinel");
    Path config = dir.resolve("sentinel.conf");
    Files.writeString(config, "port " + port + "\nbind 127.0.0.1\ndir " + dir + "\n"
        + "sentinel monitor " + masterName + " 127.0.0.1 " + master.port + " 1\n"
        + "sentinel down-after-milliseconds " + masterName + " 5000\n");
    RedisServer sentinel = new RedisServer(port, dir, List.of("--sentinel"));
    sentinel.process = new ProcessBuilder("redis-server", config.toString(), "--sentinel")
        .redirectErrorStream(true).redirectOutput(dir.resolve("redis.log").toFile()).start();
    Await.until("the Sentinel on port " + port + " monitors " + masterName,
        Duration.ofSeconds(20), () -> sentinel.logContains("+monitor master"));
    return sentinel;
  }

  private boolean logContains(String text) {
    try {
      return Files.readString(dir.resolve("redis.log")).contains(text);
    } catch (IOException e) {
      return false;
    }
  }

  /** Starts one. */
  public static RedisServer start() throws IOException {
    DebianPackages.ensure("redis-server", List.of("redis-server", "--version"));
    RedisServer server = new RedisServer(FreePorts.next(),
        Files.createTempDirectory("meshgate-redis"), List.of());
    server.launch();
    return server;
  }

  private void launch() throws IOException {
    List<String> command = new java.util.ArrayList<>(List.of("redis-server", "--port",
        Integer.toString(port), "--bind", "127.0.0.1", "--dir", dir.toString(), "--save", "",
        "--appendonly", "no"));
    command.addAll(extra); // a later --port wins
    process = new ProcessBuilder(command).redirectErrorStream(true)
        .redirectOutput(dir.resolve("redis.log").toFile()).start();
    if (extra.isEmpty()) {
      Await.until("redis-server on port " + port + " answers PING", Duration.ofSeconds(20),
          this::answersPing);
    } else {
      Await.until("redis-server on port " + port + " is ready", Duration.ofSeconds(20),
          () -> logContains("Ready to accept connections"));
    }
  }

  /** {@code host:port}. */
  public String address() {
    return "127.0.0.1:" + port;
  }

  /** Whether it answers a PING now. */
  public boolean answersPing() {
    try (Socket socket = new Socket("127.0.0.1", port)) {
      socket.setSoTimeout(1000);
      OutputStream out = socket.getOutputStream();
      out.write("PING\r\n".getBytes(StandardCharsets.US_ASCII));
      out.flush();
      InputStream in = socket.getInputStream();
      byte[] reply = in.readNBytes(7);
      return new String(reply, StandardCharsets.US_ASCII).equals("+PONG\r\n");
    } catch (IOException e) {
      return false;
    }
  }

  /** Kills it (SIGKILL) and waits until it is gone. */
  public void kill() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor();
  }

  /** Starts it again on the same port (its data is gone). */
  public void restart() throws IOException {
    launch();
  }

  /** SIGSTOP: connections stay open and nothing is answered. */
  public void pause() throws Exception {
    signal("STOP");
  }

  /** SIGCONT. */
  public void resume() throws Exception {
    signal("CONT");
  }

  private void signal(String name) throws Exception {
    Process kill = new ProcessBuilder("kill", "-" + name, Long.toString(process.pid()))
        .inheritIO().start();
    if (kill.waitFor() != 0) {
      throw new IllegalStateException("kill -" + name + " failed");
    }
  }

  @Override
  public void close() throws Exception {
    if (process != null && process.isAlive()) {
      resume();
      kill();
    }
  }
}
