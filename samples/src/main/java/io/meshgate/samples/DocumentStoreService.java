package io.meshgate.samples;

import com.google.api.HttpBody;
import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.Empty;
import com.google.protobuf.FieldMask;
import com.google.protobuf.Timestamp;
import com.google.protobuf.util.Durations;
import com.google.protobuf.util.FieldMaskUtil;
import com.google.protobuf.util.Timestamps;
import com.google.rpc.BadRequest;
import com.google.rpc.Code;
import com.google.rpc.QuotaFailure;
import com.google.rpc.ResourceInfo;
import com.google.rpc.RetryInfo;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.meshgate.samples.docs.v1.Checksum;
import io.meshgate.samples.docs.v1.CopyDocumentRequest;
import io.meshgate.samples.docs.v1.Document;
import io.meshgate.samples.docs.v1.DocumentStoreGrpc;
import io.meshgate.samples.docs.v1.GetDocumentRequest;
import io.meshgate.samples.docs.v1.PutDocumentRequest;
import io.meshgate.samples.docs.v1.SearchRequest;
import io.meshgate.samples.docs.v1.SearchResponse;
import io.meshgate.samples.docs.v1.UpdateDocumentRequest;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * The sample document store: files kept in memory under names {@code folders/F/docs/PATH}, with
 * metadata. Bounded: at most {@link #MAX_DOCUMENTS} files and {@link #MAX_TOTAL_BYTES} bytes;
 * past that, RESOURCE_EXHAUSTED with a QuotaFailure and a RetryInfo. Errors carry
 * {@code google.rpc} details (BadRequest, ResourceInfo), so that REST clients of the gateway see
 * them.
 */
public final class DocumentStoreService extends DocumentStoreGrpc.DocumentStoreImplBase {
  /** Most files the store holds. */
  public static final int MAX_DOCUMENTS = 1000;
  /** Most bytes the store holds. */
  public static final long MAX_TOTAL_BYTES = 64L * 1024 * 1024;

  private static final Pattern NAME = Pattern.compile("folders/[^/]+/docs/.+");
  private static final Set<String> UPDATABLE = Set.of("labels", "visibility", "retention",
      "notes");
  private static final String TYPE = "meshgate.samples.docs.v1.Document";

  private record Stored(Document document, ByteString content) {}

  private final Clock clock;
  // Guarded by this.
  private final TreeMap<String, Stored> byName = new TreeMap<>();
  private final Map<String, String> nameById = new HashMap<>();
  private long totalBytes;
  private long nextId = 1;

  public DocumentStoreService(Clock clock) {
    this.clock = clock;
  }

  private Timestamp now() {
    Instant instant = clock.instant();
    return Timestamp.newBuilder().setSeconds(instant.getEpochSecond())
        .setNanos(instant.getNano()).build();
  }

  @Override
  public void putDocument(PutDocumentRequest request, StreamObserver<Document> responses) {
    try {
      checkName("name", request.getName());
      Map<String, String> labels = labels(request.getLabelsList(), "labels");
      ByteString data = request.getContent().getData();
      String contentType = request.getContent().getContentType().isEmpty()
          ? "application/octet-stream" : request.getContent().getContentType();
      Document stored;
      synchronized (this) {
        Stored old = byName.get(request.getName());
        long after = totalBytes - (old == null ? 0 : old.content().size()) + data.size();
        if ((old == null && byName.size() >= MAX_DOCUMENTS) || after > MAX_TOTAL_BYTES) {
          throw full();
        }
        Document.Builder document = old == null
            ? Document.newBuilder().setName(request.getName()).setId("d" + nextId++)
                .setCreateTime(now())
            : old.document().toBuilder().clearAnnotations();
        document.setContentType(contentType).setSizeBytes(data.size()).setUpdateTime(now())
            .putAllLabels(labels)
            .addAnnotations(Any.pack(Checksum.newBuilder().setAlgorithm("sha256")
                .setDigest(ByteString.copyFrom(sha256(data))).build()));
        if (request.getVisibilityValue() != 0) {
          document.setVisibility(request.getVisibility());
        }
        if (request.hasRetention()) {
          document.setRetention(request.getRetention());
        }
        stored = document.build();
        byName.put(stored.getName(), new Stored(stored, data));
        nameById.put(stored.getId(), stored.getName());
        totalBytes = after;
      }
      responses.onNext(stored);
      responses.onCompleted();
    } catch (StatusRuntimeException e) {
      responses.onError(e);
    }
  }

  @Override
  public void getContent(GetDocumentRequest request, StreamObserver<HttpBody> responses) {
    try {
      Stored stored = find(request);
      responses.onNext(HttpBody.newBuilder().setContentType(stored.document().getContentType())
          .setData(stored.content()).build());
      responses.onCompleted();
    } catch (StatusRuntimeException e) {
      responses.onError(e);
    }
  }

  @Override
  public void streamContent(GetDocumentRequest request, StreamObserver<HttpBody> responses) {
    Stored stored;
    try {
      stored = find(request);
    } catch (StatusRuntimeException e) {
      responses.onError(e);
      return;
    }
    int chunk = request.getChunkSize() <= 0 ? 64 * 1024
        : Math.min(request.getChunkSize(), 1024 * 1024);
    ServerCallStreamObserver<HttpBody> stream = (ServerCallStreamObserver<HttpBody>) responses;
    ByteString content = stored.content();
    String contentType = stored.document().getContentType();
    // Sends while the client keeps up; the ready handler resumes (flow control end to end).
    int[] offset = {0};
    Runnable drain = () -> {
      while (stream.isReady() && offset[0] < content.size()) {
        int end = Math.min(content.size(), offset[0] + chunk);
        stream.onNext(HttpBody.newBuilder().setContentType(contentType)
            .setData(content.substring(offset[0], end)).build());
        offset[0] = end;
      }
      if (offset[0] >= content.size() && offset[0] != Integer.MAX_VALUE) {
        offset[0] = Integer.MAX_VALUE;
        stream.onCompleted();
      }
    };
    stream.setOnReadyHandler(drain);
    drain.run();
  }

  @Override
  public void getDocument(GetDocumentRequest request, StreamObserver<Document> responses) {
    try {
      responses.onNext(find(request).document());
      responses.onCompleted();
    } catch (StatusRuntimeException e) {
      responses.onError(e);
    }
  }

  @Override
  public void getLabels(GetDocumentRequest request, StreamObserver<Document> responses) {
    getDocument(request, responses);
  }

  @Override
  public void updateDocument(UpdateDocumentRequest request,
      StreamObserver<Document> responses) {
    try {
      Document patch = request.getDocument();
      FieldMask mask = request.getUpdateMask();
      List<String> paths = mask.getPathsList().isEmpty() ? List.copyOf(UPDATABLE)
          : mask.getPathsList();
      for (String path : paths) {
        if (!UPDATABLE.contains(path)) {
          throw badRequest("update_mask", "'" + path + "' cannot be updated (updatable: "
              + String.join(", ", new java.util.TreeSet<>(UPDATABLE)) + ")");
        }
      }
      Document updated;
      synchronized (this) {
        Stored stored = find(GetDocumentRequest.newBuilder().setName(patch.getName()).build());
        Document.Builder document = stored.document().toBuilder();
        FieldMaskUtil.merge(FieldMask.newBuilder().addAllPaths(paths).build(), patch, document,
            new FieldMaskUtil.MergeOptions().setReplaceMessageFields(true)
                .setReplaceRepeatedFields(true).setReplacePrimitiveFields(true));
        if (paths.contains("labels")) {
          document.clearLabels().putAllLabels(patch.getLabelsMap());
        }
        updated = document.setUpdateTime(now()).build();
        byName.put(updated.getName(), new Stored(updated, stored.content()));
      }
      responses.onNext(updated);
      responses.onCompleted();
    } catch (StatusRuntimeException e) {
      responses.onError(e);
    }
  }

  @Override
  public void deleteDocument(GetDocumentRequest request, StreamObserver<Empty> responses) {
    try {
      synchronized (this) {
        Stored stored = find(request);
        byName.remove(stored.document().getName());
        nameById.remove(stored.document().getId());
        totalBytes -= stored.content().size();
      }
      responses.onNext(Empty.getDefaultInstance());
      responses.onCompleted();
    } catch (StatusRuntimeException e) {
      responses.onError(e);
    }
  }

  @Override
  public void copyDocument(CopyDocumentRequest request, StreamObserver<Document> responses) {
    try {
      checkName("destination", request.getDestination());
      Stored source = find(GetDocumentRequest.newBuilder().setName(request.getName()).build());
      putDocument(PutDocumentRequest.newBuilder().setName(request.getDestination())
          .setContent(HttpBody.newBuilder().setContentType(source.document().getContentType())
              .setData(source.content()))
          .setVisibility(source.document().getVisibility())
          .addAllLabels(source.document().getLabelsMap().entrySet().stream()
              .map(e -> e.getKey() + "=" + e.getValue()).toList())
          .build(), responses);
    } catch (StatusRuntimeException e) {
      responses.onError(e);
    }
  }

  @Override
  public void searchDocuments(SearchRequest request, StreamObserver<SearchResponse> responses) {
    try {
      Map<String, String> labels = labels(request.getLabelsList(), "labels");
      if (request.getPageSize() < 0) {
        throw badRequest("page_size", "must not be negative");
      }
      int offset = 0;
      if (!request.getPageToken().isEmpty()) {
        if (request.getPageToken().size() != 4) {
          throw badRequest("page_token", "is not a token this service issued");
        }
        offset = request.getPageToken().asReadOnlyByteBuffer().getInt();
      }
      List<Document> matches = new ArrayList<>();
      Timestamp now = now();
      synchronized (this) {
        for (Stored stored : byName.values()) {
          if (matches(stored.document(), request, labels, now)) {
            matches.add(stored.document());
          }
        }
      }
      Comparator<Document> order = Comparator.comparing(
          (Document d) -> Timestamps.toNanos(d.getCreateTime()));
      matches.sort(request.getNewestFirst() ? order.reversed() : order);
      int size = request.getPageSize() == 0 ? 50 : Math.min(request.getPageSize(), 500);
      SearchResponse.Builder response = SearchResponse.newBuilder()
          .setTotalSize(matches.size());
      for (int i = offset; i < Math.min(matches.size(), offset + size); i++) {
        Document document = matches.get(i);
        if (request.hasReadMask() && request.getReadMask().getPathsCount() > 0) {
          Document.Builder masked = Document.newBuilder();
          FieldMaskUtil.merge(request.getReadMask(), document, masked);
          document = masked.build();
        }
        response.addDocuments(document);
      }
      if (offset + size < matches.size()) {
        response.setNextPageToken(ByteString.copyFrom(
            ByteBuffer.allocate(4).putInt(offset + size).array()));
      }
      responses.onNext(response.build());
      responses.onCompleted();
    } catch (StatusRuntimeException | IllegalArgumentException e) {
      responses.onError(e instanceof StatusRuntimeException s ? s
          : badRequest("read_mask", e.getMessage()));
    }
  }

  private static boolean matches(Document document, SearchRequest request,
      Map<String, String> labels, Timestamp now) {
    if (!document.getName().contains(request.getQuery())) {
      return false;
    }
    SearchRequest.Filter filter = request.getFilter();
    if (filter.getVisibilityCount() > 0
        && !filter.getVisibilityList().contains(document.getVisibility())) {
      return false;
    }
    if (filter.hasCreatedAfter()
        && Timestamps.compare(document.getCreateTime(), filter.getCreatedAfter()) <= 0) {
      return false;
    }
    if (filter.hasMinSizeBytes()
        && document.getSizeBytes() < filter.getMinSizeBytes().getValue()) {
      return false;
    }
    if (request.getMaxSizeBytes() != 0
        && Long.compareUnsigned(document.getSizeBytes(), request.getMaxSizeBytes()) > 0) {
      return false;
    }
    if (request.hasMaxAge() && Durations.compare(Timestamps.between(document.getCreateTime(),
        now), request.getMaxAge()) > 0) {
      return false;
    }
    if (request.hasHasLabels()
        && request.getHasLabels().getValue() == document.getLabelsMap().isEmpty()) {
      return false;
    }
    for (Map.Entry<String, String> label : labels.entrySet()) {
      if (!label.getValue().equals(document.getLabelsMap().get(label.getKey()))) {
        return false;
      }
    }
    return true;
  }

  private synchronized Stored find(GetDocumentRequest request) {
    String name = request.getName().isEmpty() ? nameById.get(request.getId()) : request.getName();
    Stored stored = name == null ? null : byName.get(name);
    if (stored == null) {
      String what = request.getName().isEmpty() ? "id " + request.getId() : request.getName();
      throw StatusProto.toStatusRuntimeException(com.google.rpc.Status.newBuilder()
          .setCode(Code.NOT_FOUND_VALUE)
          .setMessage("no document " + what)
          .addDetails(Any.pack(ResourceInfo.newBuilder().setResourceType(TYPE)
              .setResourceName(request.getName().isEmpty() ? request.getId() : name)
              .setDescription("not in the store").build()))
          .build());
    }
    return stored;
  }

  private static void checkName(String field, String name) {
    if (!NAME.matcher(name).matches()) {
      throw badRequest(field, "'" + name + "' is not a document name (expected"
          + " folders/FOLDER/docs/PATH)");
    }
  }

  private static Map<String, String> labels(List<String> pairs, String field) {
    Map<String, String> labels = new TreeMap<>();
    for (String pair : pairs) {
      int eq = pair.indexOf('=');
      if (eq <= 0) {
        throw badRequest(field, "'" + pair + "' is not key=value");
      }
      labels.put(pair.substring(0, eq), pair.substring(eq + 1));
    }
    return labels;
  }

  private static StatusRuntimeException badRequest(String field, String description) {
    return StatusProto.toStatusRuntimeException(com.google.rpc.Status.newBuilder()
        .setCode(Code.INVALID_ARGUMENT_VALUE)
        .setMessage(field + ": " + description)
        .addDetails(Any.pack(BadRequest.newBuilder().addFieldViolations(
            BadRequest.FieldViolation.newBuilder().setField(field)
                .setDescription(description)).build()))
        .build());
  }

  private StatusRuntimeException full() {
    return StatusProto.toStatusRuntimeException(com.google.rpc.Status.newBuilder()
        .setCode(Code.RESOURCE_EXHAUSTED_VALUE)
        .setMessage("the store is full (" + byName.size() + " documents, " + totalBytes
            + " bytes)")
        .addDetails(Any.pack(QuotaFailure.newBuilder().addViolations(
            QuotaFailure.Violation.newBuilder().setSubject("store")
                .setDescription("at most " + MAX_DOCUMENTS + " documents and "
                    + MAX_TOTAL_BYTES + " bytes")).build()))
        .addDetails(Any.pack(RetryInfo.newBuilder()
            .setRetryDelay(com.google.protobuf.Duration.newBuilder().setSeconds(2)).build()))
        .build());
  }

  private static byte[] sha256(ByteString data) {
    try {
      MessageDigest digest = MessageDigest.getInstance("SHA-256");
      digest.update(data.asReadOnlyByteBuffer());
      return digest.digest();
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is always there", e);
    }
  }
}
