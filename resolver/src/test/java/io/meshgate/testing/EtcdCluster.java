package io.meshgate.testing;

import io.etcd.jetcd.Client;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Real etcd for tests: one or more {@code etcd} processes on free loopback ports with temporary
 * data directories, stopped and deleted on {@link #close()}. Installs Debian's
 * {@code etcd-server} when the machine has no {@code etcd}. Members can be stopped, killed and
 * restarted (on the same ports and data) to test outages.
 */
public final class EtcdCluster implements AutoCloseable {
  private static final Duration START_TIMEOUT = Duration.ofSeconds(30);

  private final List<Member> members = new ArrayList<>();
  private final Path root;
  private final List<Client> clients = new ArrayList<>();

  private static final class Member {
    final String name;
    final int clientPort;
    final int peerPort;
    final Path dataDir;
    final Path log;
    Process process;

    Member(String name, int clientPort, int peerPort, Path dataDir, Path log) {
      this.name = name;
      this.clientPort = clientPort;
      this.peerPort = peerPort;
      this.dataDir = dataDir;
      this.log = log;
    }
  }

  private EtcdCluster(Path root) {
    this.root = root;
  }

  /** Starts a cluster of {@code size} members and waits until every member is healthy. */
  public static EtcdCluster start(int size) {
    DebianPackages.ensure("etcd-server", List.of("etcd", "--version"));
    try {
      EtcdCluster cluster = new EtcdCluster(Files.createTempDirectory("meshgate-etcd"));
      for (int i = 0; i < size; i++) {
        String name = "m" + i;
        cluster.members.add(new Member(name, FreePorts.next(), FreePorts.next(),
            cluster.root.resolve(name), cluster.root.resolve(name + ".log")));
      }
      String token = "meshgate-" + UUID.randomUUID();
      String initial = cluster.members.stream()
          .map(m -> m.name + "=http://127.0.0.1:" + m.peerPort)
          .collect(Collectors.joining(","));
      for (Member member : cluster.members) {
        cluster.launch(member, List.of("--initial-cluster", initial,
            "--initial-cluster-state", "new", "--initial-cluster-token", token));
      }
      for (int i = 0; i < size; i++) {
        cluster.awaitHealthy(i);
      }
      return cluster;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private void launch(Member member, List<String> bootstrap) throws IOException {
    List<String> command = new ArrayList<>(List.of("etcd",
        "--name", member.name,
        "--data-dir", member.dataDir.toString(),
        "--listen-client-urls", "http://127.0.0.1:" + member.clientPort,
        "--advertise-client-urls", "http://127.0.0.1:" + member.clientPort,
        "--listen-peer-urls", "http://127.0.0.1:" + member.peerPort,
        "--initial-advertise-peer-urls", "http://127.0.0.1:" + member.peerPort,
        // Fast elections: a killed leader is replaced within a second on loopback.
        "--heartbeat-interval", "50",
        "--election-timeout", "500",
        "--logger", "zap",
        "--log-level", "warn"));
    command.addAll(bootstrap);
    member.process = new ProcessBuilder(command).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(member.log.toFile())).start();
  }

  private void awaitHealthy(int index) {
    Member member = members.get(index);
    Await.until("etcd member " + member.name + " is healthy", START_TIMEOUT, () -> {
      if (!member.process.isAlive()) {
        throw new IllegalStateException("etcd " + member.name + " exited:\n" + log(member));
      }
      return healthy(member);
    });
  }

  private static boolean healthy(Member member) {
    try {
      HttpResponse<String> response = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
          URI.create("http://127.0.0.1:" + member.clientPort + "/health"))
          .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.ofString());
      return response.statusCode() == 200 && response.body().contains("true");
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  private static String log(Member member) {
    try {
      return Files.readString(member.log);
    } catch (IOException e) {
      return e.toString();
    }
  }

  /** Client URLs of every member, e.g. {@code http://127.0.0.1:23791}. */
  public List<String> endpoints() {
    return members.stream().map(m -> "http://127.0.0.1:" + m.clientPort)
        .collect(Collectors.toList());
  }

  /** The client URL of one member. */
  public String endpoint(int index) {
    return "http://127.0.0.1:" + members.get(index).clientPort;
  }

  /** {@code host:port,host:port} of every member, as in an {@code etcd://} target authority. */
  public String authority() {
    return members.stream().map(m -> "127.0.0.1:" + m.clientPort)
        .collect(Collectors.joining(","));
  }

  /** A jetcd client to every member, closed with the cluster. */
  public Client client() {
    Client client = Client.builder().endpoints(endpoints().toArray(new String[0]))
        .connectTimeout(Duration.ofSeconds(2)).build();
    clients.add(client);
    return client;
  }

  /** Stops a member gracefully (SIGTERM) and waits for it to exit. */
  public void stop(int index) {
    end(members.get(index), false);
  }

  /** Kills a member (SIGKILL), as a crash would. */
  public void kill(int index) {
    end(members.get(index), true);
  }

  /** Starts a stopped member again, on the same ports and with the same data. */
  public void restart(int index) {
    Member member = members.get(index);
    try {
      launch(member, List.of("--initial-cluster-state", "existing"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    awaitHealthy(index);
  }

  /**
   * Stops a single-member cluster, deletes its data and starts it afresh on the same port: etcd
   * "restarted" with every key and lease gone.
   */
  public void wipeAndRestart() {
    if (members.size() != 1) {
      throw new IllegalStateException("wipeAndRestart is for single-member clusters");
    }
    Member member = members.get(0);
    end(member, true);
    deleteTree(member.dataDir);
    try {
      launch(member, List.of("--initial-cluster",
          member.name + "=http://127.0.0.1:" + member.peerPort,
          "--initial-cluster-state", "new",
          "--initial-cluster-token", "meshgate-" + UUID.randomUUID()));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    awaitHealthy(0);
  }

  private static void end(Member member, boolean kill) {
    if (member.process == null || !member.process.isAlive()) {
      return;
    }
    if (kill) {
      member.process.destroyForcibly();
    } else {
      member.process.destroy();
    }
    try {
      if (!member.process.waitFor(20, TimeUnit.SECONDS)) {
        member.process.destroyForcibly();
        member.process.waitFor(10, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public void close() {
    clients.forEach(Client::close);
    for (Member member : members) {
      end(member, true);
    }
    deleteTree(root);
  }

  private static void deleteTree(Path path) {
    if (!Files.exists(path)) {
      return;
    }
    try (Stream<Path> files = Files.walk(path)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> {
        try {
          Files.deleteIfExists(p);
        } catch (IOException ignored) {
          // A temp file we could not delete is left for the OS to clean.
        }
      });
    } catch (IOException ignored) {
      // Same.
    }
  }
}
