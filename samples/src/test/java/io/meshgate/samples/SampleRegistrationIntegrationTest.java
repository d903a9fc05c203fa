package io.meshgate.samples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.options.GetOption;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.meshgate.samples.echo.v1.EchoRequest;
import io.meshgate.samples.echo.v1.EchoServiceGrpc;
import io.meshgate.testing.Await;
import io.meshgate.testing.EtcdCluster;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The sample services register themselves in etcd; a client finds them with etcd:///echo; a
 * killed service (no deregistration) disappears when its lease expires.
 */
class SampleRegistrationIntegrationTest {
  private EtcdCluster etcd;
  private Process sample;

  @BeforeEach
  void start() {
    etcd = EtcdCluster.start(1);
  }

  @AfterEach
  void stop() {
    if (sample != null) {
      sample.destroyForcibly();
    }
    etcd.close();
  }

  private long instances(Client client, String service) throws Exception {
    return client.getKVClient().get(ByteSequence.from(service + "/", StandardCharsets.UTF_8),
        GetOption.builder().isPrefix(true).build()).get(10, TimeUnit.SECONDS).getCount();
  }

  @Test
  void killedSampleServiceDisappearsWhenItsLeaseExpires() throws Exception {
    String java = System.getProperty("java.home") + File.separator + "bin" + File.separator
        + "java";
    sample = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
        SampleServer.class.getName(), "--serve", "echo=0", "--etcd",
        String.join(",", etcd.endpoints()), "--ttl", "2", "--zone", "eu-1")
        .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    Client client = etcd.client();
    Await.until("the sample registers", Duration.ofSeconds(30),
        () -> count(client) == 1);

    ManagedChannel channel = Grpc.newChannelBuilder("etcd://" + etcd.authority() + "/echo",
        InsecureChannelCredentials.create()).build();
    try {
      assertEquals("found", EchoServiceGrpc.newBlockingStub(channel)
          .withDeadlineAfter(20, TimeUnit.SECONDS)
          .echo(EchoRequest.newBuilder().setMessage("found").build()).getMessage());
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }

    sample.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    assertEquals(1, count(client), "a killed service cannot deregister itself");
    Await.until("the lease expires and the instance is gone", Duration.ofSeconds(30),
        () -> count(client) == 0);
  }

  @Test
  void stoppedSampleServiceDeregistersAtOnce() throws Exception {
    try (SampleServer server = SampleServer.start(SampleServer.Kind.USERS, "127.0.0.1", 0)) {
      server.register(etcd.endpoints(), "127.0.0.1", b -> b.ttl(Duration.ofSeconds(30)));
      Client client = etcd.client();
      Await.until("the sample registers", Duration.ofSeconds(30),
          () -> instancesQuietly(client, "users") == 1);
      server.close();
      // With a 30 s lease, only an explicit delete can make it go this fast.
      assertEquals(0, instances(client, "users"));
    }
  }

  private long count(Client client) {
    return instancesQuietly(client, "echo");
  }

  private long instancesQuietly(Client client, String service) {
    try {
      return instances(client, service);
    } catch (Exception e) {
      return -1;
    }
  }

}
