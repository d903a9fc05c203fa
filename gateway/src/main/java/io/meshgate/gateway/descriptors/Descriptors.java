package io.meshgate.gateway.descriptors;

import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import com.google.protobuf.Descriptors.FileDescriptor;
import io.grpc.Channel;
import io.grpc.Status;
import io.meshgate.gateway.config.GatewayConfig;
import io.meshgate.transcoder.DescriptorException;
import io.meshgate.transcoder.DescriptorPool;
import io.meshgate.transcoder.HttpRouteTable;
import io.meshgate.transcoder.JsonTranscoder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The descriptors REST requests are transcoded with, from the configured descriptor set files and
 * upstream reflection, kept current: files are polled for changes and reflection is fetched
 * again on its interval. Every change is linked and compiled into a whole new {@link Snapshot}
 * first; one that fails (a file that does not parse, an import that is missing, two rules that
 * match the same requests) is rejected with a logged error naming the source, and the previous
 * snapshot keeps serving. A good one is swapped in atomically: a request in flight keeps the
 * snapshot it started with.
 */
public final class Descriptors implements AutoCloseable {
  private static final Logger logger = Logger.getLogger(Descriptors.class.getName());
  private static final Duration FETCH_TIMEOUT = Duration.ofSeconds(10);
  private static final Duration MAX_RETRY = Duration.ofSeconds(60);

  /** What requests are matched and transcoded with; immutable. */
  public record Snapshot(DescriptorPool pool, HttpRouteTable table, JsonTranscoder transcoder) {
    private static final Snapshot EMPTY = emptySnapshot();

    static Snapshot of(DescriptorPool pool) throws DescriptorException {
      return new Snapshot(pool, HttpRouteTable.compile(pool), new JsonTranscoder(pool));
    }

    /** No descriptors: no REST route matches. */
    public static Snapshot empty() {
      return EMPTY;
    }

    private static Snapshot emptySnapshot() {
      try {
        return of(DescriptorPool.empty());
      } catch (DescriptorException e) {
        throw new IllegalStateException("an empty descriptor pool cannot fail to compile", e);
      }
    }
  }

  /** A descriptor file as last read: when it changed, and its files if they were good. */
  private record FileState(long modified, long size, List<FileDescriptorProto> protos) {}

  /**
   * A file modified this recently is read again even if its time and size look unchanged: a
   * second write within the file system's timestamp granularity would otherwise go unseen.
   */
  private static final long RECENT_MILLIS = 2_000;

  private final GatewayConfig.Transcoding config;
  private final Function<String, Channel> clusters;
  private final ScheduledExecutorService scheduler;
  private final AtomicReference<Snapshot> current = new AtomicReference<>();
  private final List<Consumer<Snapshot>> listeners = new CopyOnWriteArrayList<>();
  private volatile java.util.function.BiConsumer<String, Boolean> outcome = (source, ok) -> { };

  // Guarded by this.
  private final Map<Path, FileState> files = new LinkedHashMap<>();
  private final Map<Path, FileState> seen = new LinkedHashMap<>();
  private final Map<Integer, List<FileDescriptorProto>> reflected = new LinkedHashMap<>();
  private final Map<String, String> errors = new LinkedHashMap<>();

  private Descriptors(GatewayConfig.Transcoding config, Function<String, Channel> clusters) {
    this.config = config;
    this.clusters = clusters;
    this.scheduler = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "meshgate-descriptors");
      t.setDaemon(true);
      return t;
    });
  }

  /**
   * Loads the descriptor files (reflection follows in {@link #start}).
   *
   * @param clusters the channel of a cluster, by name, for reflection
   * @throws DescriptorException naming the file that cannot be read, linked or compiled
   */
  public static Descriptors load(GatewayConfig.Transcoding config,
      Function<String, Channel> clusters) throws DescriptorException {
    Descriptors descriptors = new Descriptors(config, clusters);
    try {
      synchronized (descriptors) {
        for (Path path : config.descriptorFiles()) {
          FileState state = read(path);
          descriptors.files.put(path, state);
          descriptors.seen.put(path, state);
        }
        descriptors.current.set(descriptors.build(descriptors.files, descriptors.reflected));
      }
    } catch (DescriptorException e) {
      descriptors.close();
      throw e;
    }
    return descriptors;
  }

  /**
   * Checks that descriptor files load and compile, without starting anything.
   *
   * @throws DescriptorException naming what is wrong
   */
  public static void validate(GatewayConfig.Transcoding config) throws DescriptorException {
    Map<Path, FileState> states = new LinkedHashMap<>();
    for (Path path : config.descriptorFiles()) {
      states.put(path, read(path));
    }
    build(states, Map.of(), config);
  }

  /**
   * Fetches reflection once (waiting up to the fetch timeout, so that a gateway whose upstreams
   * are up serves their routes from the start) and starts watching files and refreshing
   * reflection.
   */
  public void start() {
    List<CompletableFuture<?>> first = new ArrayList<>();
    for (int i = 0; i < config.reflection().size(); i++) {
      first.add(fetch(i, Duration.ofSeconds(1)));
    }
    try {
      CompletableFuture.allOf(first.toArray(new CompletableFuture<?>[0]))
          .get(FETCH_TIMEOUT.toMillis() + 1000, TimeUnit.MILLISECONDS);
    } catch (Exception e) {
      // Logged by the fetch; it retries in the background.
    }
    if (!config.watchInterval().isZero() && !config.descriptorFiles().isEmpty()) {
      long every = config.watchInterval().toMillis();
      scheduler.scheduleWithFixedDelay(this::checkFiles, every, every, TimeUnit.MILLISECONDS);
    }
  }

  /** The current snapshot. */
  public Snapshot snapshot() {
    return current.get();
  }

  /** Told whether each change from a source was applied or rejected, for metrics. */
  public void onOutcome(java.util.function.BiConsumer<String, Boolean> outcome) {
    this.outcome = outcome;
  }

  /** Calls {@code listener} with the current snapshot now and with every new one. */
  public void addListener(Consumer<Snapshot> listener) {
    listeners.add(listener);
    listener.accept(current.get());
  }

  /** Sources whose latest change was rejected (or could not be fetched), with the reason. */
  public synchronized Map<String, String> errors() {
    return Map.copyOf(errors);
  }

  // ---- Files -------------------------------------------------------------------------------

  private static FileState read(Path path) throws DescriptorException {
    BasicFileAttributes attributes;
    try {
      attributes = Files.readAttributes(path, BasicFileAttributes.class);
    } catch (IOException e) {
      throw new DescriptorException(path + ": cannot be read: " + e.getMessage());
    }
    // Each file must link on its own (protoc --include_imports makes it so), which also gives
    // errors that name the file.
    DescriptorPool alone = DescriptorPool.fromFiles(List.of(path));
    List<FileDescriptorProto> protos = new ArrayList<>();
    for (FileDescriptor file : alone.files().values()) {
      protos.add(file.toProto());
    }
    return new FileState(attributes.lastModifiedTime().toMillis(), attributes.size(),
        List.copyOf(protos));
  }

  /** Polls the files; a changed one is read, and if good, applied. */
  private synchronized void checkFiles() {
    for (Path path : config.descriptorFiles()) {
      FileState last = seen.get(path);
      long modified;
      long size;
      try {
        BasicFileAttributes attributes = Files.readAttributes(path, BasicFileAttributes.class);
        modified = attributes.lastModifiedTime().toMillis();
        size = attributes.size();
      } catch (IOException e) {
        if (last == null || last.size() != -1) {
          seen.put(path, new FileState(0, -1, List.of()));
          reject(path.toString(), path + ": cannot be read: " + e.getMessage());
        }
        continue;
      }
      if (last != null && last.modified() == modified && last.size() == size
          && System.currentTimeMillis() - modified > RECENT_MILLIS) {
        continue;
      }
      seen.put(path, new FileState(modified, size, List.of()));
      FileState state;
      try {
        state = read(path);
      } catch (DescriptorException e) {
        reject(path.toString(), e.getMessage());
        continue;
      }
      FileState good = files.get(path);
      if (good != null && good.protos().equals(state.protos())) {
        errors.remove(path.toString());
        continue;
      }
      Map<Path, FileState> candidate = new LinkedHashMap<>(files);
      candidate.put(path, state);
      apply(path.toString(), candidate, reflected);
    }
  }

  // ---- Reflection --------------------------------------------------------------------------

  /** Fetches source {@code index}; schedules the next fetch (a retry with backoff on failure). */
  private CompletableFuture<?> fetch(int index, Duration retry) {
    GatewayConfig.ReflectionSource source = config.reflection().get(index);
    String name = "reflection from cluster '" + source.cluster() + "'";
    Channel channel = clusters.apply(source.cluster());
    // Linking runs on the descriptor thread, never on the event loop that delivered the answer.
    return ReflectionClient.fetch(channel, source.services(), FETCH_TIMEOUT)
        .whenCompleteAsync((protos, error) -> {
          if (error != null) {
            Status status = Status.fromThrowable(error);
            reject(name, name + " failed: " + status.getCode() + ": "
                + status.getDescription() + " (retrying in " + retry.toSeconds() + "s)");
            schedule(() -> fetch(index, min(retry.multipliedBy(2), MAX_RETRY)), retry);
            return;
          }
          synchronized (this) {
            if (!protos.equals(reflected.get(index))) {
              Map<Integer, List<FileDescriptorProto>> candidate = new LinkedHashMap<>(reflected);
              candidate.put(index, protos);
              apply(name, files, candidate);
            } else {
              errors.remove(name);
            }
          }
          if (!source.refreshInterval().isZero()) {
            schedule(() -> fetch(index, Duration.ofSeconds(1)), source.refreshInterval());
          }
        }, scheduler);
  }

  private void schedule(Runnable task, Duration delay) {
    if (!scheduler.isShutdown()) {
      try {
        scheduler.schedule(task, delay.toMillis(), TimeUnit.MILLISECONDS);
      } catch (java.util.concurrent.RejectedExecutionException closing) {
        // Closed meanwhile.
      }
    }
  }

  private static Duration min(Duration a, Duration b) {
    return a.compareTo(b) <= 0 ? a : b;
  }

  // ---- Snapshots ---------------------------------------------------------------------------

  /** Builds from the candidate sources; commits them and swaps the snapshot if it works. */
  private synchronized void apply(String source, Map<Path, FileState> candidateFiles,
      Map<Integer, List<FileDescriptorProto>> candidateReflected) {
    Snapshot next;
    try {
      next = build(candidateFiles, candidateReflected);
    } catch (DescriptorException e) {
      reject(source, e.getMessage());
      return;
    }
    if (candidateFiles != files) {
      files.clear();
      files.putAll(candidateFiles);
    }
    if (candidateReflected != reflected) {
      reflected.clear();
      reflected.putAll(candidateReflected);
    }
    errors.remove(source);
    current.set(next);
    outcome.accept(source, true);
    logger.info("descriptors from " + source + " applied: " + next.pool().services().size()
        + " services, " + next.table().routes().size() + " REST routes");
    for (Consumer<Snapshot> listener : listeners) {
      try {
        listener.accept(next);
      } catch (RuntimeException e) {
        logger.log(Level.WARNING, "descriptor listener failed", e);
      }
    }
  }

  private synchronized void reject(String source, String error) {
    String previous = errors.put(source, error);
    outcome.accept(source, false);
    if (!Objects.equals(previous, error)) {
      logger.warning("rejected descriptors from " + source + "; still serving the previous"
          + " ones: " + error);
    }
  }

  private Snapshot build(Map<Path, FileState> fileStates,
      Map<Integer, List<FileDescriptorProto>> reflectedProtos) throws DescriptorException {
    return build(fileStates, reflectedProtos, config);
  }

  /**
   * Links every source's files into one pool (a file name that several sources hold is taken
   * from the first: files before reflection, in configured order) and compiles its rules.
   */
  private static Snapshot build(Map<Path, FileState> fileStates,
      Map<Integer, List<FileDescriptorProto>> reflectedProtos,
      GatewayConfig.Transcoding config) throws DescriptorException {
    Map<String, FileDescriptorProto> byName = new LinkedHashMap<>();
    for (FileState state : fileStates.values()) {
      for (FileDescriptorProto proto : state.protos()) {
        byName.putIfAbsent(proto.getName(), proto);
      }
    }
    for (int i = 0; i < config.reflection().size(); i++) {
      for (FileDescriptorProto proto : reflectedProtos.getOrDefault(i, List.of())) {
        byName.putIfAbsent(proto.getName(), proto);
      }
    }
    return Snapshot.of(DescriptorPool.fromProtos(byName.values()));
  }

  @Override
  public void close() {
    scheduler.shutdownNow();
  }
}
