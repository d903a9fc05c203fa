package io.meshgate.samples;

import com.google.protobuf.Timestamp;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.meshgate.samples.orders.v1.CreateOrderRequest;
import io.meshgate.samples.orders.v1.DeliveryUpdate;
import io.meshgate.samples.orders.v1.GetOrderRequest;
import io.meshgate.samples.orders.v1.ImportSummary;
import io.meshgate.samples.orders.v1.LineItem;
import io.meshgate.samples.orders.v1.Order;
import io.meshgate.samples.orders.v1.OrderEvent;
import io.meshgate.samples.orders.v1.OrderServiceGrpc;
import io.meshgate.samples.orders.v1.OrderStatus;
import io.meshgate.samples.orders.v1.WatchOrdersRequest;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The sample order service: in-memory orders with every kind of call. {@code WatchOrders} with
 * {@code follow} keeps the stream open and sends each later change of the user's orders.
 */
public final class OrderService extends OrderServiceGrpc.OrderServiceImplBase {
  private final Map<String, Order> orders = new ConcurrentHashMap<>();
  private final List<Watcher> watchers = new CopyOnWriteArrayList<>();
  private final AtomicLong nextId = new AtomicLong(1000);
  private final Clock clock;

  public OrderService(Clock clock) {
    this.clock = clock;
  }

  private record Watcher(String userId, ServerCallStreamObserver<OrderEvent> call) {}

  private Timestamp now() {
    Instant instant = clock.instant();
    return Timestamp.newBuilder()
        .setSeconds(instant.getEpochSecond()).setNanos(instant.getNano()).build();
  }

  private Order place(CreateOrderRequest request) {
    if (request.getUserId().isEmpty() || request.getItemsCount() == 0) {
      throw Status.INVALID_ARGUMENT
          .withDescription("an order needs a user_id and at least one item")
          .asRuntimeException();
    }
    long total = 0;
    for (LineItem item : request.getItemsList()) {
      if (item.getQuantity() <= 0) {
        throw Status.INVALID_ARGUMENT
            .withDescription("item '" + item.getSku() + "': quantity must be > 0")
            .asRuntimeException();
      }
      total += item.getQuantity() * item.getUnitPriceCents();
    }
    Order order = Order.newBuilder()
        .setOrderId("o-" + nextId.getAndIncrement())
        .setUserId(request.getUserId())
        .addAllItems(request.getItemsList())
        .setStatus(OrderStatus.ORDER_STATUS_PLACED)
        .setTotalCents(total)
        .setCreateTime(now())
        .build();
    orders.put(order.getOrderId(), order);
    publish(order);
    return order;
  }

  private void publish(Order order) {
    OrderEvent event = OrderEvent.newBuilder().setOrder(order).setEventTime(now()).build();
    for (Watcher watcher : watchers) {
      if (watcher.userId().equals(order.getUserId())) {
        synchronized (watcher.call()) {
          if (!watcher.call().isCancelled()) {
            watcher.call().onNext(event);
          }
        }
      }
    }
  }

  @Override
  public void createOrder(CreateOrderRequest request, StreamObserver<Order> responses) {
    try {
      responses.onNext(place(request));
      responses.onCompleted();
    } catch (RuntimeException e) {
      responses.onError(e);
    }
  }

  @Override
  public void getOrder(GetOrderRequest request, StreamObserver<Order> responses) {
    Order order = orders.get(request.getOrderId());
    if (order == null) {
      responses.onError(Status.NOT_FOUND
          .withDescription("no order with id '" + request.getOrderId() + "'")
          .asRuntimeException());
      return;
    }
    responses.onNext(order);
    responses.onCompleted();
  }

  @Override
  public void watchOrders(WatchOrdersRequest request, StreamObserver<OrderEvent> responses) {
    ServerCallStreamObserver<OrderEvent> call = (ServerCallStreamObserver<OrderEvent>) responses;
    Watcher watcher = new Watcher(request.getUserId(), call);
    if (request.getFollow()) {
      watchers.add(watcher);
      call.setOnCancelHandler(() -> watchers.remove(watcher));
    }
    synchronized (call) {
      for (Order order : orders.values()) {
        if (order.getUserId().equals(request.getUserId())) {
          call.onNext(OrderEvent.newBuilder().setOrder(order).setEventTime(now()).build());
        }
      }
      if (!request.getFollow()) {
        call.onCompleted();
      }
    }
  }

  @Override
  public StreamObserver<CreateOrderRequest> importOrders(StreamObserver<ImportSummary> responses) {
    return new StreamObserver<>() {
      private final ImportSummary.Builder summary = ImportSummary.newBuilder();

      @Override
      public void onNext(CreateOrderRequest request) {
        try {
          summary.addOrderIds(place(request).getOrderId()).setImported(summary.getImported() + 1);
        } catch (RuntimeException e) {
          summary.setRejected(summary.getRejected() + 1);
        }
      }

      @Override
      public void onError(Throwable t) {}

      @Override
      public void onCompleted() {
        responses.onNext(summary.build());
        responses.onCompleted();
      }
    };
  }

  @Override
  public StreamObserver<DeliveryUpdate> trackDelivery(StreamObserver<OrderEvent> responses) {
    return new StreamObserver<>() {
      @Override
      public void onNext(DeliveryUpdate update) {
        Order order = orders.computeIfPresent(update.getOrderId(), (id, current) ->
            current.toBuilder()
                .setStatus(update.getDelivered()
                    ? OrderStatus.ORDER_STATUS_DELIVERED : OrderStatus.ORDER_STATUS_SHIPPED)
                .build());
        if (order == null) {
          responses.onError(Status.NOT_FOUND
              .withDescription("no order with id '" + update.getOrderId() + "'")
              .asRuntimeException());
          return;
        }
        publish(order);
        responses.onNext(OrderEvent.newBuilder().setOrder(order).setEventTime(now()).build());
      }

      @Override
      public void onError(Throwable t) {}

      @Override
      public void onCompleted() {
        responses.onCompleted();
      }
    };
  }
}
