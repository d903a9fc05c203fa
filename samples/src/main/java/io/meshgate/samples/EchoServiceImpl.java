package io.meshgate.samples;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.rpc.ErrorInfo;
import io.grpc.Status;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.meshgate.samples.echo.v1.EchoRequest;
import io.meshgate.samples.echo.v1.EchoResponse;
import io.meshgate.samples.echo.v1.EchoServiceGrpc;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The echo service: answers with what it was sent, and can be told to fail, hang, answer late or
 * stream many large messages. Every stream it sends respects the receiver's flow control (it
 * writes only while the call is ready), so a slow reader slows it down instead of filling its
 * heap. Counters let tests observe what reached the backend.
 */
public final class EchoServiceImpl extends EchoServiceGrpc.EchoServiceImplBase {
  // Set once the server has bound its port; read by call threads.
  private volatile String servedBy;
  private final ScheduledExecutorService scheduler;
  private final AtomicLong callsStarted = new AtomicLong();
  private final AtomicLong callsCancelled = new AtomicLong();
  private final AtomicLong messagesStreamed = new AtomicLong();
  private final AtomicLong bytesStreamed = new AtomicLong();

  /**
   * @param servedBy what to put in {@code EchoResponse.served_by}, usually {@code host:port}
   * @param scheduler runs delayed answers; the caller owns and shuts it down
   */
  public EchoServiceImpl(String servedBy, ScheduledExecutorService scheduler) {
    this.servedBy = servedBy;
    this.scheduler = scheduler;
  }

  /** Sets what {@code served_by} says, once the server knows its port. */
  void servedBy(String servedBy) {
    this.servedBy = servedBy;
  }

  /** Calls of any kind that reached this backend. */
  public long callsStarted() {
    return callsStarted.get();
  }

  /** Calls that the caller (or the gateway on its behalf) cancelled before they finished. */
  public long callsCancelled() {
    return callsCancelled.get();
  }

  /** Messages sent so far by {@code Expand} and {@code Chat} streams. */
  public long messagesStreamed() {
    return messagesStreamed.get();
  }

  /** Payload bytes sent so far by {@code Expand} streams. */
  public long bytesStreamed() {
    return bytesStreamed.get();
  }

  @Override
  public void echo(EchoRequest request, StreamObserver<EchoResponse> responses) {
    ServerCallStreamObserver<EchoResponse> call = start(responses);
    if (request.getHang()) {
      return;
    }
    Runnable answer = () -> {
      if (call.isCancelled()) {
        return;
      }
      if (request.getFailCode() != 0) {
        call.onError(failure(request));
        return;
      }
      call.onNext(response(request, 0));
      call.onCompleted();
    };
    if (request.getDelayMillis() > 0) {
      scheduler.schedule(answer, request.getDelayMillis(), TimeUnit.MILLISECONDS);
    } else {
      answer.run();
    }
  }

  @Override
  public void expand(EchoRequest request, StreamObserver<EchoResponse> responses) {
    ServerCallStreamObserver<EchoResponse> call = start(responses);
    if (request.getHang()) {
      return;
    }
    int count = request.getResponseCount() > 0 ? request.getResponseCount() : 1;
    // Send only while the transport is ready: the handler runs again each time it becomes ready.
    Runnable drain = new Runnable() {
      private int sent;
      private boolean done;

      @Override
      public void run() {
        while (!done && call.isReady() && !call.isCancelled()) {
          if (sent == count) {
            done = true;
            if (request.getFailCode() != 0) {
              call.onError(failure(request));
            } else {
              call.onCompleted();
            }
            return;
          }
          EchoResponse response = response(request, sent++);
          call.onNext(response);
          messagesStreamed.incrementAndGet();
          bytesStreamed.addAndGet(response.getPayload().size());
        }
      }
    };
    call.setOnReadyHandler(drain);
    drain.run();
  }

  @Override
  public StreamObserver<EchoRequest> collect(StreamObserver<EchoResponse> responses) {
    ServerCallStreamObserver<EchoResponse> call = start(responses);
    return new StreamObserver<>() {
      private long count;
      private long bytes;
      private EchoRequest last = EchoRequest.getDefaultInstance();

      @Override
      public void onNext(EchoRequest request) {
        count++;
        bytes += request.getPayload().size();
        last = request;
      }

      @Override
      public void onError(Throwable t) {}

      @Override
      public void onCompleted() {
        if (last.getFailCode() != 0) {
          call.onError(failure(last));
          return;
        }
        call.onNext(response(last, 0).toBuilder()
            .setReceivedCount(count)
            .setReceivedBytes(bytes)
            .build());
        call.onCompleted();
      }
    };
  }

  @Override
  public StreamObserver<EchoRequest> chat(StreamObserver<EchoResponse> responses) {
    ServerCallStreamObserver<EchoResponse> call = start(responses);
    return new StreamObserver<>() {
      private int sequence;

      @Override
      public void onNext(EchoRequest request) {
        if (request.getFailCode() != 0) {
          call.onError(failure(request));
          return;
        }
        call.onNext(response(request, sequence++));
        messagesStreamed.incrementAndGet();
      }

      @Override
      public void onError(Throwable t) {}

      @Override
      public void onCompleted() {
        call.onCompleted();
      }
    };
  }

  private ServerCallStreamObserver<EchoResponse> start(StreamObserver<EchoResponse> responses) {
    callsStarted.incrementAndGet();
    ServerCallStreamObserver<EchoResponse> call =
        (ServerCallStreamObserver<EchoResponse>) responses;
    call.setOnCancelHandler(callsCancelled::incrementAndGet);
    return call;
  }

  private EchoResponse response(EchoRequest request, int sequence) {
    ByteString payload = request.getResponseSize() > 0
        ? ByteString.copyFrom(new byte[request.getResponseSize()])
        : request.getPayload();
    return EchoResponse.newBuilder()
        .setMessage(request.getMessage())
        .setPayload(payload)
        .setSequence(sequence)
        .setServedBy(servedBy)
        .build();
  }

  /**
   * A failure carrying google.rpc.Status details, as rich-error backends send them: an
   * ErrorInfo, and for RESOURCE_EXHAUSTED and UNAVAILABLE a RetryInfo of one second.
   */
  private Throwable failure(EchoRequest request) {
    Status.Code code = Status.fromCodeValue(request.getFailCode()).getCode();
    com.google.rpc.Status.Builder details = com.google.rpc.Status.newBuilder()
        .setCode(code.value())
        .setMessage(request.getFailMessage())
        .addDetails(Any.pack(ErrorInfo.newBuilder()
            .setReason("ECHO_FAILURE")
            .setDomain("echo.samples.meshgate.io")
            .putMetadata("served_by", servedBy)
            .build()));
    if (code == Status.Code.RESOURCE_EXHAUSTED || code == Status.Code.UNAVAILABLE) {
      details.addDetails(Any.pack(com.google.rpc.RetryInfo.newBuilder()
          .setRetryDelay(com.google.protobuf.Duration.newBuilder().setSeconds(1)).build()));
    }
    return StatusProto.toStatusRuntimeException(details.build());
  }
}
