package io.meshgate.gateway.testing;

import com.google.protobuf.ByteString;
import io.grpc.Channel;
import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.meshgate.samples.echo.v1.EchoRequest;
import io.meshgate.samples.echo.v1.EchoResponse;
import io.meshgate.samples.echo.v1.EchoServiceGrpc;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Uploads into a backend that reads nothing until told: a grpc-java server whose
 * {@code EchoService/Collect} takes no message until {@link #readAll} (each call then answers
 * with how many it got), and clients that send only while their call is ready — what the
 * HTTP/2 windows on the way let through.
 */
public final class HeldUploads implements AutoCloseable {
  private final Server server;
  private final AtomicInteger received = new AtomicInteger();
  private final List<ServerCallStreamObserver<EchoResponse>> calls = new CopyOnWriteArrayList<>();

  private HeldUploads() throws IOException {
    this.server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .flowControlWindow(1 << 20) // a fixed window: no BDP growth
        .addService(new EchoServiceGrpc.EchoServiceImplBase() {
          @Override
          public StreamObserver<EchoRequest> collect(StreamObserver<EchoResponse> responses) {
            ServerCallStreamObserver<EchoResponse> call =
                (ServerCallStreamObserver<EchoResponse>) responses;
            call.disableAutoRequest(); // reads nothing until readAll
            calls.add(call);
            return new StreamObserver<>() {
              private int count;

              @Override
              public void onNext(EchoRequest request) {
                count++;
                received.incrementAndGet();
              }

              @Override
              public void onError(Throwable t) {}

              @Override
              public void onCompleted() {
                responses.onNext(EchoResponse.newBuilder().setMessage(Integer.toString(count))
                    .build());
                responses.onCompleted();
              }
            };
          }
        })
        .build().start();
  }

  /** Starts the backend on a free loopback port. */
  public static HeldUploads start() throws IOException {
    return new HeldUploads();
  }

  /** Its port. */
  public int port() {
    return server.getPort();
  }

  /** Messages the backend has read, over all calls. */
  public int received() {
    return received.get();
  }

  /** From now on the backend reads everything, of the calls so far. */
  public void readAll() {
    for (ServerCallStreamObserver<EchoResponse> call : calls) {
      call.request(Integer.MAX_VALUE);
    }
  }

  /**
   * Starts an upload of {@code messages} messages of {@code bytes} payload bytes each, sent only
   * while the call is ready; {@code sent} counts the messages sent.
   *
   * @return the backend's answer: how many messages it got
   */
  public static CompletableFuture<String> upload(Channel channel, int messages, int bytes,
      AtomicLong sent, long deadlineSeconds) {
    EchoRequest message = EchoRequest.newBuilder()
        .setPayload(ByteString.copyFrom(new byte[bytes])).build();
    CompletableFuture<String> answer = new CompletableFuture<>();
    EchoServiceGrpc.newStub(channel).withDeadlineAfter(deadlineSeconds, TimeUnit.SECONDS)
        .collect(new ClientResponseObserver<EchoRequest, EchoResponse>() {
          private int mine;

          @Override
          public void beforeStart(ClientCallStreamObserver<EchoRequest> requests) {
            requests.setOnReadyHandler(() -> {
              while (requests.isReady() && mine < messages) {
                requests.onNext(message);
                sent.incrementAndGet();
                if (++mine == messages) {
                  requests.onCompleted();
                }
              }
            });
          }

          @Override
          public void onNext(EchoResponse response) {
            answer.complete(response.getMessage());
          }

          @Override
          public void onError(Throwable t) {
            answer.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {}
        });
    return answer;
  }

  @Override
  public void close() throws InterruptedException {
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }
}
