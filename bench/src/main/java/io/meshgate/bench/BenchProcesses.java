package io.meshgate.bench;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The processes of one benchmark run (backends, gateways, proxies): started with their output in
 * a work directory, awaited on their ports, and stopped together at the end or when the harness
 * dies.
 */
final class BenchProcesses implements AutoCloseable {
  private final Path work;
  private final List<Process> processes = new ArrayList<>();

  BenchProcesses(Path work) {
    this.work = work;
    Runtime.getRuntime().addShutdownHook(new Thread(this::close));
  }

  /** Starts {@code command}; its output goes to {@code <work>/<name>.log}. */
  synchronized Process start(String name, List<String> command) throws IOException {
    Process p = new ProcessBuilder(command).redirectErrorStream(true)
        .redirectOutput(work.resolve(name + ".log").toFile()).start();
    processes.add(p);
    return p;
  }

  /** Returns once something listens on loopback {@code port}; fails if a process died. */
  void awaitPort(int port) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (System.nanoTime() < deadline) {
      try (Socket ignored = new Socket(InetAddress.getLoopbackAddress(), port)) {
        return;
      } catch (IOException notYet) {
        synchronized (this) {
          for (Process p : processes) {
            if (!p.isAlive()) {
              throw new IllegalStateException("a benchmark process exited early; logs in "
                  + work);
            }
          }
        }
        TimeUnit.MILLISECONDS.sleep(50); // polling a port that a child process is opening
      }
    }
    throw new IllegalStateException("port " + port + " did not open; logs in " + work);
  }

  private static final java.util.concurrent.atomic.AtomicInteger NEXT_PORT =
      new java.util.concurrent.atomic.AtomicInteger(
          20_000 + (int) (ProcessHandle.current().pid() % 500) * 16);

  /**
   * A loopback port free now, below the kernel's ephemeral range (so no outgoing connection
   * takes it before the process it is for binds it) and never handed out twice in one run.
   */
  static int freePort() throws IOException {
    for (int tries = 0; tries < 1000; tries++) {
      int port = NEXT_PORT.getAndIncrement();
      if (port >= 32_000) {
        NEXT_PORT.set(20_000);
        continue;
      }
      try (ServerSocket socket = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
        return socket.getLocalPort();
      } catch (IOException taken) {
        // try the next one
      }
    }
    throw new IOException("no free loopback port in 20000-31999");
  }

  @Override
  public synchronized void close() {
    for (Process p : processes) {
      p.destroy();
    }
    for (Process p : processes) {
      try {
        if (!p.waitFor(10, TimeUnit.SECONDS)) {
          p.destroyForcibly();
        }
      } catch (InterruptedException e) {
        p.destroyForcibly();
        Thread.currentThread().interrupt();
      }
    }
    processes.clear();
  }
}
