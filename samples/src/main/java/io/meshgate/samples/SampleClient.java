package io.meshgate.samples;

import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.stub.StreamObserver;
import io.meshgate.samples.echo.v1.EchoRequest;
import io.meshgate.samples.echo.v1.EchoServiceGrpc;
import io.meshgate.samples.orders.v1.CreateOrderRequest;
import io.meshgate.samples.orders.v1.DeliveryUpdate;
import io.meshgate.samples.orders.v1.ImportSummary;
import io.meshgate.samples.orders.v1.LineItem;
import io.meshgate.samples.orders.v1.Order;
import io.meshgate.samples.orders.v1.OrderEvent;
import io.meshgate.samples.orders.v1.OrderServiceGrpc;
import io.meshgate.samples.orders.v1.WatchOrdersRequest;
import io.meshgate.samples.users.v1.GetUserRequest;
import io.meshgate.samples.users.v1.ListUsersRequest;
import io.meshgate.samples.users.v1.User;
import io.meshgate.samples.users.v1.UserDirectoryGrpc;
import java.io.File;
import java.util.Iterator;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A sample client that calls the sample services, normally through the gateway: one call of each
 * kind (unary, server streaming, client streaming, bidi).
 *
 * <pre>
 * java -jar samples/target/meshgate-samples.jar [--target localhost:8080] [--tls-ca ca.pem]
 *     [tour | get-user ID | list-users | echo TEXT]
 * </pre>
 */
public final class SampleClient {
  private SampleClient() {}

  public static void main(String[] args) throws Exception {
    String target = "localhost:8080";
    File ca = null;
    String command = "tour";
    String argument = null;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--target" -> target = args[++i];
        case "--tls-ca" -> ca = new File(args[++i]);
        case "-h", "--help" -> {
          System.out.println("usage: SampleClient [--target HOST:PORT] [--tls-ca CA.pem]"
              + " [tour | get-user ID | list-users | echo TEXT]");
          return;
        }
        default -> {
          if (args[i].startsWith("--")) {
            System.err.println("unknown option '" + args[i] + "' (try --help)");
            System.exit(2);
          }
          command = args[i];
          argument = i + 1 < args.length ? args[++i] : null;
        }
      }
    }
    ChannelCredentials credentials = ca == null
        ? InsecureChannelCredentials.create()
        : TlsChannelCredentials.newBuilder().trustManager(ca).build();
    ManagedChannel channel = Grpc.newChannelBuilder(target, credentials).build();
    int exit = 0;
    try {
      switch (command) {
        case "tour" -> tour(channel);
        case "get-user" -> System.out.println(UserDirectoryGrpc.newBlockingStub(channel)
            .withDeadlineAfter(5, TimeUnit.SECONDS)
            .getUser(GetUserRequest.newBuilder().setUserId(argument == null ? "u-1" : argument)
                .build()));
        case "list-users" -> UserDirectoryGrpc.newBlockingStub(channel)
            .withDeadlineAfter(5, TimeUnit.SECONDS)
            .listUsers(ListUsersRequest.getDefaultInstance())
            .forEachRemaining(user -> System.out.println(user.getUserId() + "  "
                + user.getDisplayName()));
        case "echo" -> System.out.println(EchoServiceGrpc.newBlockingStub(channel)
            .withDeadlineAfter(5, TimeUnit.SECONDS)
            .echo(EchoRequest.newBuilder().setMessage(argument == null ? "hello" : argument)
                .build()).getMessage());
        default -> {
          System.err.println("unknown command '" + command + "' (try --help)");
          exit = 2;
        }
      }
    } catch (StatusRuntimeException e) {
      System.err.println("call failed: " + e.getStatus());
      exit = 1;
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    System.exit(exit);
  }

  private static void tour(ManagedChannel channel) throws Exception {
    var users = UserDirectoryGrpc.newBlockingStub(channel).withDeadlineAfter(5, TimeUnit.SECONDS);
    var orders = OrderServiceGrpc.newBlockingStub(channel).withDeadlineAfter(5, TimeUnit.SECONDS);
    var ordersAsync = OrderServiceGrpc.newStub(channel).withDeadlineAfter(5, TimeUnit.SECONDS);

    User ada = users.getUser(GetUserRequest.newBuilder().setUserId("u-1").build());
    System.out.println("unary          GetUser(u-1)       -> " + ada.getDisplayName());

    StringBuilder names = new StringBuilder();
    users.listUsers(ListUsersRequest.getDefaultInstance())
        .forEachRemaining(u -> names.append(names.length() == 0 ? "" : ", ")
            .append(u.getDisplayName()));
    System.out.println("server stream  ListUsers()        -> " + names);

    Order order = orders.createOrder(CreateOrderRequest.newBuilder()
        .setUserId("u-1")
        .addItems(LineItem.newBuilder().setSku("book-42").setQuantity(2).setUnitPriceCents(1250))
        .build());
    System.out.println("unary          CreateOrder(u-1)   -> " + order.getOrderId()
        + " total " + order.getTotalCents() + " cents");

    CompletableFuture<ImportSummary> imported = new CompletableFuture<>();
    StreamObserver<CreateOrderRequest> batch = ordersAsync.importOrders(observer(imported));
    for (int i = 1; i <= 3; i++) {
      batch.onNext(CreateOrderRequest.newBuilder().setUserId("u-2")
          .addItems(LineItem.newBuilder().setSku("pen-" + i).setQuantity(i).setUnitPriceCents(99))
          .build());
    }
    batch.onCompleted();
    System.out.println("client stream  ImportOrders(x3)   -> imported "
        + imported.get(5, TimeUnit.SECONDS).getImported());

    CompletableFuture<OrderEvent> tracked = new CompletableFuture<>();
    StreamObserver<DeliveryUpdate> courier = ordersAsync.trackDelivery(observer(tracked));
    courier.onNext(DeliveryUpdate.newBuilder().setOrderId(order.getOrderId()).setDelivered(true)
        .build());
    OrderEvent event = tracked.get(5, TimeUnit.SECONDS);
    courier.onCompleted();
    System.out.println("bidi stream    TrackDelivery      -> " + event.getOrder().getOrderId()
        + " " + event.getOrder().getStatus());

    Iterator<OrderEvent> watched = orders.watchOrders(
        WatchOrdersRequest.newBuilder().setUserId("u-2").build());
    int count = 0;
    while (watched.hasNext()) {
      watched.next();
      count++;
    }
    System.out.println("server stream  WatchOrders(u-2)   -> " + count + " orders");
  }

  /** Completes the future with the first response (or the failure). */
  private static <T> StreamObserver<T> observer(CompletableFuture<T> first) {
    return new StreamObserver<>() {
      @Override
      public void onNext(T value) {
        first.complete(value);
      }

      @Override
      public void onError(Throwable t) {
        first.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {
        first.completeExceptionally(new IllegalStateException("stream ended without a response"));
      }
    };
  }
}
