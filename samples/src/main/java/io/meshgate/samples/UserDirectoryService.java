package io.meshgate.samples;

import com.google.protobuf.Timestamp;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.meshgate.samples.users.v1.CreateUserRequest;
import io.meshgate.samples.users.v1.GetUserRequest;
import io.meshgate.samples.users.v1.ListUsersRequest;
import io.meshgate.samples.users.v1.Role;
import io.meshgate.samples.users.v1.UpdateUserRequest;
import io.meshgate.samples.users.v1.User;
import io.meshgate.samples.users.v1.UserDirectoryGrpc;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentSkipListMap;

/** The sample user directory: an in-memory map of users, seeded with three. */
public final class UserDirectoryService extends UserDirectoryGrpc.UserDirectoryImplBase {
  private final ConcurrentSkipListMap<String, User> users = new ConcurrentSkipListMap<>();
  private final Clock clock;

  /** A directory seeded with users {@code u-1} (Ada), {@code u-2} (Grace) and {@code u-3} (Linus). */
  public UserDirectoryService(Clock clock) {
    this.clock = clock;
    put("u-1", "Ada Lovelace", "ada@example.com", Role.ROLE_ADMIN);
    put("u-2", "Grace Hopper", "grace@example.com", Role.ROLE_MEMBER);
    put("u-3", "Linus Torvalds", "linus@example.com", Role.ROLE_MEMBER);
  }

  private void put(String id, String name, String email, Role role) {
    users.put(id, User.newBuilder()
        .setUserId(id).setDisplayName(name).setEmail(email).setRole(role)
        .setCreateTime(now())
        .build());
  }

  private Timestamp now() {
    Instant instant = clock.instant();
    return Timestamp.newBuilder()
        .setSeconds(instant.getEpochSecond()).setNanos(instant.getNano()).build();
  }

  @Override
  public void getUser(GetUserRequest request, StreamObserver<User> responses) {
    User user = users.get(request.getUserId());
    if (user == null) {
      responses.onError(Status.NOT_FOUND
          .withDescription("no user with id '" + request.getUserId() + "'")
          .asRuntimeException());
      return;
    }
    responses.onNext(user);
    responses.onCompleted();
  }

  @Override
  public void listUsers(ListUsersRequest request, StreamObserver<User> responses) {
    List<User> matching = new ArrayList<>();
    for (User user : users.values()) {
      if (user.getDisplayName().startsWith(request.getNamePrefix())) {
        matching.add(user);
      }
      if (request.getLimit() > 0 && matching.size() == request.getLimit()) {
        break;
      }
    }
    ServerCallStreamObserver<User> call = (ServerCallStreamObserver<User>) responses;
    for (User user : matching) {
      if (call.isCancelled()) {
        return;
      }
      call.onNext(user);
    }
    call.onCompleted();
  }

  @Override
  public void createUser(CreateUserRequest request, StreamObserver<User> responses) {
    User user = request.getUser();
    if (user.getUserId().isEmpty() || user.getDisplayName().isEmpty()) {
      responses.onError(Status.INVALID_ARGUMENT
          .withDescription("user.user_id and user.display_name are required")
          .asRuntimeException());
      return;
    }
    User created = user.toBuilder().setCreateTime(now()).build();
    if (users.putIfAbsent(user.getUserId(), created) != null) {
      responses.onError(Status.ALREADY_EXISTS
          .withDescription("user '" + user.getUserId() + "' already exists")
          .asRuntimeException());
      return;
    }
    responses.onNext(created);
    responses.onCompleted();
  }

  @Override
  public void updateUser(UpdateUserRequest request, StreamObserver<User> responses) {
    String id = request.getUser().getUserId();
    User current = users.get(id);
    if (current == null) {
      responses.onError(Status.NOT_FOUND
          .withDescription("no user with id '" + id + "'").asRuntimeException());
      return;
    }
    User.Builder updated = current.toBuilder();
    List<String> paths = request.getUpdateMask().getPathsList();
    for (String path : paths.isEmpty() ? List.of("display_name", "email", "role") : paths) {
      switch (path) {
        case "display_name" -> updated.setDisplayName(request.getUser().getDisplayName());
        case "email" -> updated.setEmail(request.getUser().getEmail());
        case "role" -> updated.setRole(request.getUser().getRole());
        default -> {
          responses.onError(Status.INVALID_ARGUMENT
              .withDescription("update_mask path '" + path + "' is not updatable"
                  + " (expected: display_name, email, role)")
              .asRuntimeException());
          return;
        }
      }
    }
    User result = updated.build();
    users.put(id, result);
    responses.onNext(result);
    responses.onCompleted();
  }
}
