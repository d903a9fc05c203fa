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
  private Process process;

  private RedisServer(int port, Path dir) {
    this.port = port;
    this.dir = dir;
  }

  /** Starts one. */
  public static RedisServer start() throws IOException {
    DebianPackages.ensure("redis-server", List.of("redis-server", "--version"));
    RedisServer server = new RedisServer(FreePorts.next(),
        Files.createTempDirectory("meshgate-redis"));
    server.launch();
    return server;
  }

  private void launch() throws IOException {
    process = new ProcessBuilder("redis-server", "--port", Integer.toString(port), "--bind",
        "127.0.0.1", "--dir", dir.toString(), "--save", "", "--appendonly", "no")
        .redirectErrorStream(true).redirectOutput(dir.resolve("redis.log").toFile()).start();
    Await.until("redis-server on port " + port + " answers PING", Duration.ofSeconds(20),
        this::answersPing);
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
