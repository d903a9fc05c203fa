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
  // With TLS: the CA, etcd's certificate, and the client certificate etcd requires.
  private TestCa ca;
  private TestCa.Issued serverCert;
  private TestCa.Issued clientCert;

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
    return start(size, false);
  }

  /**
   * Starts a cluster whose clients must speak TLS and present a certificate of the cluster's
   * own test CA ({@code --client-cert-auth}); {@link #tls()} gives a client what it needs.
   */
  public static EtcdCluster startTls(int size) {
    return start(size, true);
  }

  private static EtcdCluster start(int size, boolean tls) {
    DebianPackages.ensure("etcd-server", List.of("etcd", "--version"));
    try {
      EtcdCluster cluster = new EtcdCluster(Files.createTempDirectory("meshgate-etcd"));
      if (tls) {
        cluster.ca = TestCa.create("etcd-ca", cluster.root);
        cluster.serverCert = cluster.ca.issue("etcd", "127.0.0.1", "localhost");
        cluster.clientCert = cluster.ca.issue("meshgate-client");
      }
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
    } catch (Exception e) {
      throw new IllegalStateException("cannot make etcd's test certificates", e);
    }
  }

  /** TLS for a client of a {@link #startTls} cluster (its CA and a client certificate). */
  public io.meshgate.resolver.EtcdTls tls() {
    if (ca == null) {
      throw new IllegalStateException("this cluster speaks cleartext");
    }
    return io.meshgate.resolver.EtcdTls.of(ca.caFile(), clientCert.certFile(),
        clientCert.keyFile());
  }

  /** The cluster's test CA (TLS clusters only). */
  public TestCa ca() {
    return ca;
  }

  private String scheme() {
    return ca == null ? "http" : "https";
  }

  private void launch(Member member, List<String> bootstrap) throws IOException {
    List<String> command = new ArrayList<>(List.of("etcd",
        "--name", member.name,
        "--data-dir", member.dataDir.toString(),
        "--listen-client-urls", scheme() + "://127.0.0.1:" + member.clientPort,
        "--advertise-client-urls", scheme() + "://127.0.0.1:" + member.clientPort,
        "--listen-peer-urls", "http://127.0.0.1:" + member.peerPort,
        "--initial-advertise-peer-urls", "http://127.0.0.1:" + member.peerPort,
        // Fast elections: a killed leader is replaced within a second on loopback.
        "--heartbeat-interval", "50",
        "--election-timeout", "500",
        "--logger", "zap",
        "--log-level", "warn"));
    if (ca != null) {
      command.addAll(List.of("--cert-file", serverCert.certFile().toString(),
          "--key-file", serverCert.keyFile().toString(),
          "--trusted-ca-file", ca.caFile().toString(), "--client-cert-auth"));
    }
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
      return healthy(member, scheme(), healthClient());
    });
  }

  private HttpClient healthClient() {
    if (ca == null) {
      return HttpClient.newHttpClient();
    }
    try {
      return HttpClient.newBuilder().sslContext(ca.sslContext(clientCert)).build();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private static boolean healthy(Member member, String scheme, HttpClient http) {
    try {
      HttpResponse<String> response = http.send(HttpRequest.newBuilder(
          URI.create(scheme + "://127.0.0.1:" + member.clientPort + "/health"))
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
    return members.stream().map(m -> scheme() + "://127.0.0.1:" + m.clientPort)
        .collect(Collectors.toList());
  }

  /** The client URL of one member. */
  public String endpoint(int index) {
    return scheme() + "://127.0.0.1:" + members.get(index).clientPort;
  }

  /** {@code host:port,host:port} of every member, as in an {@code etcd://} target authority. */
  public String authority() {
    return members.stream().map(m -> "127.0.0.1:" + m.clientPort)
        .collect(Collectors.joining(","));
  }

  /** A jetcd client to every member, closed with the cluster. */
  public Client client() {
    io.etcd.jetcd.ClientBuilder builder = Client.builder()
        .endpoints(endpoints().toArray(new String[0])).connectTimeout(Duration.ofSeconds(2));
    if (ca != null) {
      try {
        builder.sslContext(ssl -> ssl.trustManager(ca.caFile().toFile())
            .keyManager(clientCert.certFile().toFile(), clientCert.keyFile().toFile()));
      } catch (javax.net.ssl.SSLException e) {
        throw new IllegalStateException(e);
      }
    }
    Client client = builder.build();
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
    // The processes first, whatever else fails: an etcd left running outlives the test JVM.
    for (Member member : members) {
      end(member, true);
    }
    try {
      clients.forEach(Client::close);
    } finally {
      deleteTree(root);
    }
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
