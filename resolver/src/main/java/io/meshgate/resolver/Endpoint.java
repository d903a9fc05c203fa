package io.meshgate.resolver;

import io.grpc.ClientStreamTracer;
import io.grpc.ConnectivityState;
import io.grpc.ConnectivityStateInfo;
import io.grpc.EquivalentAddressGroup;
import io.grpc.LoadBalancer.Subchannel;
import io.grpc.Metadata;
import io.grpc.Status;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One instance as a load-balancing policy sees it: its subchannel and state, its registry
 * metadata, and what pickers and outlier ejection keep about it.
 */
final class Endpoint {
  final Subchannel subchannel;
  /** Calls started and not yet ended (least-request). Any thread. */
  final AtomicInteger outstanding = new AtomicInteger();
  /** Stream tracer factory handed out with every pick of this endpoint. */
  final ClientStreamTracer.Factory tracerFactory;

  // Written only in the synchronization context; metadata is also read by pickers.
  EquivalentAddressGroup group;
  volatile InstanceMetadata metadata;
  ConnectivityStateInfo state = ConnectivityStateInfo.forNonError(ConnectivityState.IDLE);
  long ejectedUntilNanos;
  int ejections;
  boolean ejected;

  // Accessed only under the weighted round robin lock.
  long currentWeight;

  // Written in the synchronization context, read by call outcomes on any thread.
  volatile OutlierStats stats;

  Endpoint(Subchannel subchannel, EquivalentAddressGroup group, CallOutcomes outcomes) {
    this.subchannel = subchannel;
    this.group = group;
    this.metadata = InstanceMetadata.of(group);
    this.tracerFactory = new ClientStreamTracer.Factory() {
      @Override
      public ClientStreamTracer newClientStreamTracer(ClientStreamTracer.StreamInfo info,
          Metadata headers) {
        outstanding.incrementAndGet();
        return new ClientStreamTracer() {
          @Override
          public void streamClosed(Status status) {
            outstanding.decrementAndGet();
            outcomes.ended(Endpoint.this, status);
          }
        };
      }
    };
  }

  /** Where the outcome of each call on an endpoint is reported. */
  interface CallOutcomes {
    void ended(Endpoint endpoint, Status status);
  }

  boolean isReady() {
    return state.getState() == ConnectivityState.READY && !ejected;
  }

  @Override
  public String toString() {
    return group.getAddresses() + " " + metadata + " " + state.getState()
        + (ejected ? " (ejected)" : "");
  }
}
