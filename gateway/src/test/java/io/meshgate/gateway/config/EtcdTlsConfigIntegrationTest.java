package io.meshgate.gateway.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcd.jetcd.ByteSequence;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.meshgate.gateway.testing.GatewayProcess;
import io.meshgate.resolver.EtcdTls;
import io.meshgate.samples.SampleServer;
import io.meshgate.samples.echo.v1.EchoRequest;
import io.meshgate.samples.echo.v1.EchoServiceGrpc;
import io.meshgate.testing.EtcdCluster;
import io.meshgate.testing.FreePorts;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * {@code bin/meshgate --config-etcd} with an etcd that speaks only TLS and requires client
 * certificates: the launcher's {@code --config-etcd-ca/-cert/-key} reach it.
 */
class EtcdTlsConfigIntegrationTest {
  @Test
  void theConfigurationIsReadFromAnEtcdThatRequiresClientCertificates() throws Exception {
    try (EtcdCluster etcd = EtcdCluster.startTls(1);
        SampleServer echo = SampleServer.start(SampleServer.Kind.ECHO, "127.0.0.1", 0)) {
      int port = FreePorts.next();
      int admin = FreePorts.next();
      etcd.client().getKVClient().put(
          ByteSequence.from("/meshgate/config/gateway.yaml", StandardCharsets.UTF_8),
          ByteSequence.from("""
              listener: {host: 127.0.0.1, port: %d}
              admin: {host: 127.0.0.1, port: %d}
              clusters: [{name: echo, endpoints: ["127.0.0.1:%d"]}]
              routes: [{match: {servicePrefix: ""}, cluster: echo}]
              """.formatted(port, admin, echo.port()), StandardCharsets.UTF_8))
          .get(10, TimeUnit.SECONDS);
      EtcdTls tls = etcd.tls();
      List<String> args = List.of("--config-etcd", etcd.endpoints().get(0),
          "--config-etcd-ca", tls.caFile().toString(),
          "--config-etcd-cert", tls.certFile().toString(),
          "--config-etcd-key", tls.keyFile().toString());
      try (GatewayProcess gateway = GatewayProcess.startWith(args, admin, "")) {
        ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", port)
            .usePlaintext().build();
        try {
          assertEquals("from etcd", EchoServiceGrpc.newBlockingStub(channel)
              .withDeadlineAfter(10, TimeUnit.SECONDS)
              .echo(EchoRequest.newBuilder().setMessage("from etcd").build()).getMessage());
        } finally {
          channel.shutdownNow();
        }
      }
      GatewayProcess.Result half = GatewayProcess.run(List.of("--config-etcd",
          etcd.endpoints().get(0), "--config-etcd-cert", tls.certFile().toString()),
          Duration.ofSeconds(60));
      assertEquals(2, half.exitCode(), half.output());
      assertTrue(half.output().contains("together"), half.output());
    }
  }
}
