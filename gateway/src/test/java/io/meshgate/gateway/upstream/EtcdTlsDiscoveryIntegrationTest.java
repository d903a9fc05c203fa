package io.meshgate.gateway.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.meshgate.gateway.testing.TestGateway;
import io.meshgate.resolver.EtcdTls;
import io.meshgate.samples.SampleServer;
import io.meshgate.samples.echo.v1.EchoRequest;
import io.meshgate.samples.echo.v1.EchoServiceGrpc;
import io.meshgate.testing.EtcdCluster;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The gateway discovers a cluster in an etcd that speaks only TLS and requires client
 * certificates ({@code discovery.etcd.tls}), where the backend registered itself over TLS too.
 */
class EtcdTlsDiscoveryIntegrationTest {
  @Test
  void clustersAreDiscoveredThroughEtcdOverMutualTls() throws Exception {
    try (EtcdCluster etcd = EtcdCluster.startTls(1);
        SampleServer echo = SampleServer.start(SampleServer.Kind.ECHO, "127.0.0.1", 0)) {
      EtcdTls tls = etcd.tls();
      assertTrue(echo.register(etcd.endpoints(), "127.0.0.1", b -> b.tls(tls))
          .awaitRegistered(Duration.ofSeconds(20)), "the backend registered over TLS");
      try (TestGateway gateway = TestGateway.start("""
          discovery:
            etcd:
              endpoints: ["%s"]
              tls: {caFile: "%s", certFile: "%s", keyFile: "%s"}
          clusters: [{name: echo, target: "etcd:///%s"}]
          routes: [{match: {servicePrefix: ""}, cluster: echo}]
          """.formatted(etcd.endpoints().get(0), tls.caFile(), tls.certFile(), tls.keyFile(),
          echo.registryName()))) {
        assertEquals("over tls", EchoServiceGrpc.newBlockingStub(gateway.channel())
            .withDeadlineAfter(20, TimeUnit.SECONDS).withWaitForReady()
            .echo(EchoRequest.newBuilder().setMessage("over tls").build()).getMessage());
      }
    }
  }
}
