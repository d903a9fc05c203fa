package io.meshgate.bench;

import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import io.meshgate.gateway.call.ByteArrayMarshaller;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.HdrHistogram.Recorder;

/**
 * A closed-loop gRPC load generator for the sample EchoService's unary Echo: {@code channels} x
 * {@code outstanding} calls in flight, each answered call replaced by the next, for a warm-up and
 * then a measured duration. Messages are prebuilt bytes (an EchoRequest whose message field holds
 * {@code size} bytes), so the client spends its CPU on gRPC, not on protobuf. Prints QPS and
 * latency percentiles in microseconds.
 *
 * <pre>
 * EchoLoad --address=127.0.0.1:8080 --size=100 [--channels=4] [--outstanding=10]
 *     [--warmup=10] [--duration=20] [--header=name:value ...]
 * </pre>
 */
public final class EchoLoad {
  private static final MethodDescriptor<byte[], byte[]> ECHO =
      MethodDescriptor.<byte[], byte[]>newBuilder()
          .setType(MethodDescriptor.MethodType.UNARY)
          .setFullMethodName("meshgate.samples.echo.v1.EchoService/Echo")
          .setRequestMarshaller(ByteArrayMarshaller.INSTANCE)
          .setResponseMarshaller(ByteArrayMarshaller.INSTANCE)
          .build();

  private final List<ManagedChannel> channels = new ArrayList<>();
  private final byte[] request;
  private final Recorder recorder = new Recorder(3_600_000_000L, 3);
  private volatile long measureFrom;
  private volatile long stopAt;
  private final AtomicLong completed = new AtomicLong();
  private final AtomicLong failed = new AtomicLong();

  private EchoLoad(String address, int channelCount, int size, io.grpc.Metadata headers) {
    for (int i = 0; i < channelCount; i++) {
      channels.add(NettyChannelBuilder.forTarget(address).usePlaintext().directExecutor()
          .maxInboundMessageSize(64 * 1024 * 1024)
          .intercept(io.grpc.stub.MetadataUtils.newAttachHeadersInterceptor(headers)).build());
    }
    this.request = echoRequest(size);
  }

  /** EchoRequest{message: "xxx..."} serialized: field 1, length-delimited. */
  static byte[] echoRequest(int size) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(size + 8);
    out.write(0x0A);
    int length = size;
    while ((length & ~0x7F) != 0) {
      out.write((length & 0x7F) | 0x80);
      length >>>= 7;
    }
    out.write(length);
    for (int i = 0; i < size; i++) {
      out.write('x');
    }
    return out.toByteArray();
  }

  public static void main(String[] args) throws Exception {
    String address = "127.0.0.1:8080";
    int channelCount = 4;
    int outstanding = 10;
    int size = 100;
    int warmup = 10;
    int duration = 20;
    io.grpc.Metadata headers = new io.grpc.Metadata();
    for (String arg : args) {
      String value = arg.substring(arg.indexOf('=') + 1);
      switch (arg.substring(0, arg.indexOf('='))) {
        case "--address" -> address = value;
        case "--channels" -> channelCount = Integer.parseInt(value);
        case "--outstanding" -> outstanding = Integer.parseInt(value);
        case "--size" -> size = Integer.parseInt(value);
        case "--warmup" -> warmup = Integer.parseInt(value);
        case "--duration" -> duration = Integer.parseInt(value);
        case "--header" -> headers.put(io.grpc.Metadata.Key.of(
            value.substring(0, value.indexOf(':')), io.grpc.Metadata.ASCII_STRING_MARSHALLER),
            value.substring(value.indexOf(':') + 1));
        default -> throw new IllegalArgumentException("unknown option " + arg);
      }
    }
    EchoLoad load = new EchoLoad(address, channelCount, size, headers);
    load.run(outstanding, warmup, duration);
  }

  private void run(int outstanding, int warmup, int duration) throws InterruptedException {
    long start = System.nanoTime();
    measureFrom = start + TimeUnit.SECONDS.toNanos(warmup);
    stopAt = measureFrom + TimeUnit.SECONDS.toNanos(duration);
    CountDownLatch done = new CountDownLatch(channels.size() * outstanding);
    for (ManagedChannel channel : channels) {
      for (int i = 0; i < outstanding; i++) {
        next(channel, done);
      }
    }
    // Markers for a harness that measures something else (the gateway's CPU) over exactly the
    // measured interval.
    TimeUnit.NANOSECONDS.sleep(measureFrom - System.nanoTime());
    System.out.println("MEASURE-START");
    System.out.flush();
    TimeUnit.NANOSECONDS.sleep(stopAt - System.nanoTime());
    System.out.println("MEASURE-END");
    System.out.flush();
    if (!done.await(30, TimeUnit.SECONDS)) {
      System.err.println("calls still in flight after the run");
    }
    org.HdrHistogram.Histogram histogram = recorder.getIntervalHistogram();
    double seconds = duration;
    System.out.printf(Locale.ROOT, "QPS: %d%n", Math.round(completed.get() / seconds));
    System.out.printf(Locale.ROOT, "p50 us: %d%n", histogram.getValueAtPercentile(50) / 1000);
    System.out.printf(Locale.ROOT, "p99 us: %d%n", histogram.getValueAtPercentile(99) / 1000);
    System.out.printf(Locale.ROOT, "failed: %d%n", failed.get());
    for (ManagedChannel channel : channels) {
      channel.shutdownNow();
    }
  }

  private void next(ManagedChannel channel, CountDownLatch done) {
    long begin = System.nanoTime();
    if (begin - stopAt >= 0) {
      done.countDown();
      return;
    }
    ClientCalls.asyncUnaryCall(channel.newCall(ECHO, CallOptions.DEFAULT), request,
        new StreamObserver<>() {
          @Override
          public void onNext(byte[] value) {
          }

          @Override
          public void onError(Throwable t) {
            // A failed call ends its slot: a benchmark with failures is reported as such, not
            // retried in a tight loop.
            if (failed.getAndIncrement() == 0) {
              System.err.println("first failure: " + t);
            }
            done.countDown();
          }

          @Override
          public void onCompleted() {
            long end = System.nanoTime();
            if (begin - measureFrom >= 0 && end - stopAt < 0) {
              recorder.recordValue(end - begin);
              completed.incrementAndGet();
            }
            next(channel, done);
          }
        });
  }
}
