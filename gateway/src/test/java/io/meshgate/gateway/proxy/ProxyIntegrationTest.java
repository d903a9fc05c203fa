package io.meshgate.gateway.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.google.rpc.ErrorInfo;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import io.meshgate.gateway.call.ByteArrayMarshaller;
import io.meshgate.gateway.testing.TestGateway;
import io.meshgate.samples.SampleServer;
import io.meshgate.samples.echo.v1.EchoRequest;
import io.meshgate.samples.echo.v1.EchoResponse;
import io.meshgate.samples.echo.v1.EchoServiceGrpc;
import io.meshgate.samples.users.v1.GetUserRequest;
import io.meshgate.samples.users.v1.UserDirectoryGrpc;
import io.meshgate.testing.Await;
import io.meshgate.testing.FreePorts;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Every kind of gRPC call through a real gateway to real backends, over real sockets. */
class ProxyIntegrationTest {
  private static final Duration WAIT = Duration.ofSeconds(10);
  private static final int MIB = 1024 * 1024;

  private static SampleServer echo;
  private static SampleServer users;
  private static TestGateway gateway;
  private static ManagedChannel channel;

  @BeforeAll
  static void start() throws Exception {
    echo = SampleServer.start(SampleServer.Kind.ECHO, "127.0.0.1", 0);
    users = SampleServer.start(SampleServer.Kind.USERS, "127.0.0.1", 0);
    gateway = TestGateway.start("""
        limits: {maxMessageBytes: 16MiB, maxStreamedMessageBytes: 16MiB}
        clusters:
          - {name: echo, endpoints: ["127.0.0.1:%d"]}
          - {name: users, target: "static:///127.0.0.1:%d"}
          - {name: down, endpoints: ["127.0.0.1:%d"], connectTimeout: 2s}
        routes:
          - {name: capped, match: {servicePrefix: "", authority: [capped.test]}, cluster: echo,
             maxTimeout: 1s}
          - {name: defaulted, match: {servicePrefix: "", authority: [defaulted.test]},
             cluster: echo, timeout: 2s}
          - {name: down, match: {servicePrefix: "", authority: [down.test]}, cluster: down}
          - {name: echo, match: {service: meshgate.samples.echo.v1.EchoService}, cluster: echo}
          - {name: users, match: {servicePrefix: meshgate.samples.users.}, cluster: users}
        """.formatted(echo.port(), users.port(), FreePorts.next()));
    channel = gateway.channel();
  }

  @AfterAll
  static void stop() throws Exception {
    gateway.close();
    echo.close();
    users.close();
  }

  private static EchoServiceGrpc.EchoServiceBlockingStub blocking() {
    return EchoServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
  }

  private static EchoServiceGrpc.EchoServiceStub async() {
    return EchoServiceGrpc.newStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
  }

  private ManagedChannel channelWithAuthority(String authority) {
    return gateway.track(NettyChannelBuilder.forTarget(gateway.address())
        .usePlaintext().overrideAuthority(authority).build());
  }

  @Test
  void unaryCallReachesTheBackendAndBack() {
    EchoResponse response = blocking().echo(EchoRequest.newBuilder()
        .setMessage("hello").setPayload(ByteString.copyFromUtf8("bytes")).build());
    assertEquals("hello", response.getMessage());
    assertEquals("bytes", response.getPayload().toStringUtf8());
    assertEquals("127.0.0.1:" + echo.port(), response.getServedBy());
  }

  @Test
  void callsOfAnotherServiceGoToItsOwnCluster() {
    assertEquals("Ada Lovelace", UserDirectoryGrpc.newBlockingStub(channel)
        .withDeadlineAfter(10, TimeUnit.SECONDS)
        .getUser(GetUserRequest.newBuilder().setUserId("u-1").build()).getDisplayName());
  }

  @Test
  void serverStreamDeliversEveryMessageInOrder() {
    Iterator<EchoResponse> stream = blocking().expand(EchoRequest.newBuilder()
        .setMessage("tick").setResponseCount(500).setResponseSize(100).build());
    int expected = 0;
    while (stream.hasNext()) {
      EchoResponse response = stream.next();
      assertEquals(expected++, response.getSequence());
      assertEquals(100, response.getPayload().size());
    }
    assertEquals(500, expected);
  }

  @Test
  void clientStreamDeliversEveryMessage() throws Exception {
    CompletableFuture<EchoResponse> result = new CompletableFuture<>();
    StreamObserver<EchoRequest> requests = async().collect(observer(result, new ArrayList<>()));
    for (int i = 0; i < 300; i++) {
      requests.onNext(EchoRequest.newBuilder().setPayload(ByteString.copyFrom(new byte[i]))
          .build());
    }
    requests.onCompleted();
    EchoResponse response = result.get(10, TimeUnit.SECONDS);
    assertEquals(300, response.getReceivedCount());
    assertEquals(299 * 300 / 2, response.getReceivedBytes());
  }

  @Test
  void bidiStreamAnswersEachMessageAsItArrives() throws Exception {
    List<EchoResponse> received = new ArrayList<>();
    CompletableFuture<EchoResponse> done = new CompletableFuture<>();
    AtomicReference<StreamObserver<EchoRequest>> requests = new AtomicReference<>();
    // Ping-pong: each answer triggers the next request, so this fails unless every message
    // travels on its own, not buffered until the stream ends.
    requests.set(async().chat(new StreamObserver<>() {
      @Override
      public void onNext(EchoResponse value) {
        received.add(value);
        if (received.size() < 50) {
          requests.get().onNext(EchoRequest.newBuilder().setMessage("ping " + received.size())
              .build());
        } else {
          requests.get().onCompleted();
        }
      }

      @Override
      public void onError(Throwable t) {
        done.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {
        done.complete(null);
      }
    }));
    requests.get().onNext(EchoRequest.newBuilder().setMessage("ping 0").build());
    done.get(10, TimeUnit.SECONDS);
    assertEquals(50, received.size());
    for (int i = 0; i < 50; i++) {
      assertEquals("ping " + i, received.get(i).getMessage());
      assertEquals(i, received.get(i).getSequence());
    }
  }

  @Test
  void largeMessagesPassBothWays() {
    byte[] payload = new byte[8 * MIB];
    for (int i = 0; i < payload.length; i++) {
      payload[i] = (byte) (i * 31);
    }
    EchoResponse response = blocking().echo(EchoRequest.newBuilder()
        .setPayload(ByteString.copyFrom(payload)).build());
    assertArrayEquals(payload, response.getPayload().toByteArray());

    EchoResponse big = blocking().echo(EchoRequest.newBuilder().setResponseSize(12 * MIB).build());
    assertEquals(12 * MIB, big.getPayload().size());
  }

  @Test
  void requestAboveTheLimitIsResourceExhausted() {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> blocking()
        .echo(EchoRequest.newBuilder().setPayload(ByteString.copyFrom(new byte[17 * MIB]))
            .build()));
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode());
    assertTrue(e.getStatus().getDescription().contains("limits.maxStreamedMessageBytes"),
        e.getStatus().toString());
    // The connection and the gateway keep serving.
    assertEquals("after", blocking().echo(EchoRequest.newBuilder().setMessage("after").build())
        .getMessage());
  }

  @Test
  void responseAboveTheLimitIsResourceExhausted() {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> blocking()
        .echo(EchoRequest.newBuilder().setResponseSize(17 * MIB).build()));
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode());
  }

  @Test
  void metadataAndTrailersPassBothWaysIncludingBinary() {
    Metadata request = new Metadata();
    Metadata.Key<String> text = Metadata.Key.of("x-echo-text", Metadata.ASCII_STRING_MARSHALLER);
    Metadata.Key<byte[]> binary =
        Metadata.Key.of("x-echo-data-bin", Metadata.BINARY_BYTE_MARSHALLER);
    byte[] bytes = {0, 1, 2, (byte) 0xff, (byte) 0xfe, 10, 13};
    request.put(text, "one");
    request.put(text, "two");
    request.put(binary, bytes);
    AtomicReference<Metadata> headers = new AtomicReference<>();
    AtomicReference<Metadata> trailers = new AtomicReference<>();
    blocking()
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(request),
            MetadataUtils.newCaptureMetadataInterceptor(headers, trailers))
        .echo(EchoRequest.newBuilder().setMessage("md").build());

    assertEquals(List.of("one", "two"), iterable(headers.get().getAll(text)));
    assertArrayEquals(bytes, headers.get().get(binary));
    assertEquals(List.of("one", "two"), iterable(trailers.get().getAll(
        Metadata.Key.of("x-trailer-text", Metadata.ASCII_STRING_MARSHALLER))));
    assertArrayEquals(bytes, trailers.get().get(
        Metadata.Key.of("x-trailer-data-bin", Metadata.BINARY_BYTE_MARSHALLER)));
    // The backend learns who called, like behind Envoy or nginx.
    assertNotNull(headers.get().get(
        Metadata.Key.of("x-echo-request-encoding", Metadata.ASCII_STRING_MARSHALLER)));
  }

  @Test
  void everyStatusCodeAndMessageAndDetailsReachTheClientUnchanged() {
    String message = "nö way: 100% ✓ \"quoted\"\n";
    for (Status.Code code : Status.Code.values()) {
      if (code == Status.Code.OK) {
        continue;
      }
      StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> blocking()
          .echo(EchoRequest.newBuilder().setFailCode(code.value()).setFailMessage(message)
              .build()), code.toString());
      assertEquals(code, e.getStatus().getCode());
      assertEquals(message, e.getStatus().getDescription(), code.toString());
      com.google.rpc.Status details = StatusProto.fromThrowable(e);
      assertNotNull(details, "grpc-status-details-bin lost for " + code);
      assertEquals(code.value(), details.getCode());
      assertTrue(details.getDetails(0).is(ErrorInfo.class));
    }
  }

  @Test
  void trailersOnlyResponseStaysTrailersOnly() {
    AtomicReference<Metadata> headers = new AtomicReference<>();
    AtomicReference<Metadata> trailers = new AtomicReference<>();
    Metadata request = new Metadata();
    request.put(Metadata.Key.of("x-echo-marker", Metadata.ASCII_STRING_MARSHALLER), "m");
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> blocking()
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(request),
            MetadataUtils.newCaptureMetadataInterceptor(headers, trailers))
        .echo(EchoRequest.newBuilder().setFailCode(Status.Code.NOT_FOUND.value())
            .setFailMessage("gone").build()));
    assertEquals(Status.Code.NOT_FOUND, e.getStatus().getCode());
    assertNull(headers.get(), "a trailers-only response grew separate headers");
    assertEquals("m", trailers.get().get(
        Metadata.Key.of("x-trailer-marker", Metadata.ASCII_STRING_MARSHALLER)));
  }

  @Test
  void clientDeadlineIsPropagatedUpstream() {
    long seen = backendDeadlineMillis(EchoServiceGrpc.newBlockingStub(channel)
        .withDeadlineAfter(3, TimeUnit.SECONDS));
    assertTrue(seen > 1500 && seen <= 3000, "backend saw a deadline of " + seen + " ms");
  }

  @Test
  void routeMaximumCapsTheClientDeadline() {
    long seen = backendDeadlineMillis(EchoServiceGrpc
        .newBlockingStub(channelWithAuthority("capped.test"))
        .withDeadlineAfter(60, TimeUnit.SECONDS));
    assertTrue(seen > 0 && seen <= 1000, "backend saw a deadline of " + seen + " ms");
  }

  @Test
  void routeDefaultAppliesWhenTheClientSendsNoDeadline() {
    long seen = backendDeadlineMillis(EchoServiceGrpc
        .newBlockingStub(channelWithAuthority("defaulted.test")));
    assertTrue(seen > 1000 && seen <= 2000, "backend saw a deadline of " + seen + " ms");
  }

  private static long backendDeadlineMillis(EchoServiceGrpc.EchoServiceBlockingStub stub) {
    AtomicReference<Metadata> headers = new AtomicReference<>();
    AtomicReference<Metadata> trailers = new AtomicReference<>();
    stub.withInterceptors(MetadataUtils.newCaptureMetadataInterceptor(headers, trailers))
        .echo(EchoRequest.newBuilder().setMessage("deadline").build());
    String value = headers.get().get(
        Metadata.Key.of("x-echo-deadline-millis", Metadata.ASCII_STRING_MARSHALLER));
    assertNotNull(value, "the backend saw no deadline");
    return Long.parseLong(value);
  }

  @Test
  void clientDeadlineExpiresAsDeadlineExceededAndCancelsTheBackend() {
    long cancelledBefore = echo.echo().callsCancelled();
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () ->
        EchoServiceGrpc.newBlockingStub(channel).withDeadlineAfter(300, TimeUnit.MILLISECONDS)
            .echo(EchoRequest.newBuilder().setHang(true).build()));
    assertEquals(Status.Code.DEADLINE_EXCEEDED, e.getStatus().getCode());
    Await.until("the backend's call is cancelled", WAIT,
        () -> echo.echo().callsCancelled() > cancelledBefore);
  }

  @Test
  void routeDefaultDeadlineExpiresAsDeadlineExceeded() {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () ->
        // No client deadline: only the route's 2 s default can end this call.
        EchoServiceGrpc.newBlockingStub(channelWithAuthority("defaulted.test"))
            .echo(EchoRequest.newBuilder().setHang(true).build()));
    assertEquals(Status.Code.DEADLINE_EXCEEDED, e.getStatus().getCode());
  }

  @Test
  void clientCancellationCancelsTheBackendCall() {
    long cancelledBefore = echo.echo().callsCancelled();
    long startedBefore = echo.echo().callsStarted();
    io.grpc.Context.CancellableContext context = io.grpc.Context.current().withCancellation();
    CompletableFuture<Throwable> failure = new CompletableFuture<>();
    context.run(() -> async().expand(EchoRequest.newBuilder().setHang(true).build(),
        observer(new CompletableFuture<>(), new ArrayList<>(), failure)));
    Await.until("the call reaches the backend", WAIT,
        () -> echo.echo().callsStarted() > startedBefore);
    context.cancel(null);
    Await.until("the backend's call is cancelled", WAIT,
        () -> echo.echo().callsCancelled() > cancelledBefore);
  }

  @Test
  void clientDisconnectCancelsTheBackendCall() throws Exception {
    ManagedChannel doomed = gateway.channel();
    long cancelledBefore = echo.echo().callsCancelled();
    long startedBefore = echo.echo().callsStarted();
    EchoServiceGrpc.newStub(doomed).expand(EchoRequest.newBuilder().setHang(true).build(),
        observer(new CompletableFuture<>(), new ArrayList<>()));
    Await.until("the call reaches the backend", WAIT,
        () -> echo.echo().callsStarted() > startedBefore);
    doomed.shutdownNow();
    Await.until("the backend's call is cancelled", WAIT,
        () -> echo.echo().callsCancelled() > cancelledBefore);
  }

  @Test
  void unreachableClusterIsUnavailableNamingTheCluster() {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () ->
        EchoServiceGrpc.newBlockingStub(channelWithAuthority("down.test"))
            .withDeadlineAfter(10, TimeUnit.SECONDS)
            .echo(EchoRequest.newBuilder().setMessage("x").build()));
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
    assertTrue(e.getStatus().getDescription().contains("cluster 'down'"),
        e.getStatus().toString());
  }

  @Test
  void unknownServiceIsUnimplemented() {
    io.grpc.MethodDescriptor<byte[], byte[]> method = io.grpc.MethodDescriptor
        .<byte[], byte[]>newBuilder()
        .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
        .setFullMethodName("acme.nowhere.v1.Nothing/Call")
        .setRequestMarshaller(ByteArrayMarshaller.INSTANCE)
        .setResponseMarshaller(ByteArrayMarshaller.INSTANCE)
        .build();
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () ->
        io.grpc.stub.ClientCalls.blockingUnaryCall(channel, method,
            io.grpc.CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS), new byte[0]));
    assertEquals(Status.Code.UNIMPLEMENTED, e.getStatus().getCode());
    assertTrue(e.getStatus().getDescription().contains("acme.nowhere.v1.Nothing"),
        e.getStatus().toString());
  }

  @Test
  void gzipRequestsAndResponsesArePassedThrough() {
    Metadata compress = new Metadata();
    compress.put(Metadata.Key.of("x-compress-response", Metadata.ASCII_STRING_MARSHALLER),
        "gzip");
    AtomicReference<Metadata> headers = new AtomicReference<>();
    AtomicReference<Metadata> trailers = new AtomicReference<>();
    byte[] payload = "squeeze me ".repeat(10_000).getBytes(StandardCharsets.UTF_8);
    EchoResponse response = blocking()
        .withCompression("gzip")
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(compress),
            MetadataUtils.newCaptureMetadataInterceptor(headers, trailers))
        .echo(EchoRequest.newBuilder().setPayload(ByteString.copyFrom(payload)).build());
    assertArrayEquals(payload, response.getPayload().toByteArray());
    assertEquals("gzip", headers.get().get(
        Metadata.Key.of("x-echo-request-encoding", Metadata.ASCII_STRING_MARSHALLER)),
        "the backend did not receive gzip messages");
    assertEquals("gzip", headers.get().get(
        Metadata.Key.of("grpc-encoding", Metadata.ASCII_STRING_MARSHALLER)),
        "the client did not receive gzip messages");
  }

  private static <T> List<T> iterable(Iterable<T> values) {
    List<T> list = new ArrayList<>();
    values.forEach(list::add);
    return list;
  }

  private static StreamObserver<EchoResponse> observer(CompletableFuture<EchoResponse> last,
      List<EchoResponse> all) {
    return observer(last, all, new CompletableFuture<>());
  }

  private static StreamObserver<EchoResponse> observer(CompletableFuture<EchoResponse> last,
      List<EchoResponse> all, CompletableFuture<Throwable> failure) {
    return new StreamObserver<>() {
      @Override
      public void onNext(EchoResponse value) {
        all.add(value);
        last.obtrudeValue(value);
      }

      @Override
      public void onError(Throwable t) {
        failure.complete(t);
        last.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {
        if (!last.isDone()) {
          last.complete(null);
        }
      }
    };
  }
}
