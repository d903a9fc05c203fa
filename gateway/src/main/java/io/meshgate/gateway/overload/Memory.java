package io.meshgate.gateway.overload;

import com.sun.management.GarbageCollectionNotificationInfo;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.util.internal.PlatformDependent;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.lang.management.MemoryUsage;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import javax.management.Notification;
import javax.management.NotificationEmitter;
import javax.management.NotificationListener;
import javax.management.openmbean.CompositeData;

/** The memory the overload manager watches: heap and direct, in use and at most. */
public interface Memory extends AutoCloseable {
  /** Heap in use after the last garbage collection (0 before the first). */
  long heapUsed();

  /** The largest the heap may grow ({@code -Xmx}). */
  long heapMax();

  /** Direct memory held by buffers in use (not the pool's free space). */
  long directUsed();

  /** The JVM's limit on direct memory ({@code -XX:MaxDirectMemorySize}). */
  long directMax();

  @Override
  default void close() {}

  /**
   * This JVM's memory: the heap as the last garbage collection left it (heap in use before a
   * collection is mostly garbage and says nothing), and the direct memory pinned by buffers of
   * {@code allocator} — the pool keeps freed chunks, which new buffers reuse, so its size is not
   * the pressure.
   */
  static Memory jvm(PooledByteBufAllocator allocator) {
    return new JvmMemory(allocator);
  }

  /** Listens to the JVM's garbage collections for the heap left after each. */
  final class JvmMemory implements Memory, NotificationListener {
    private final PooledByteBufAllocator allocator;
    private final Set<String> heapPools;
    private final List<NotificationEmitter> emitters = new ArrayList<>();
    private final long heapMax;
    private volatile long heapAfterGc;

    private JvmMemory(PooledByteBufAllocator allocator) {
      this.allocator = allocator;
      this.heapPools = ManagementFactory.getMemoryPoolMXBeans().stream()
          .filter(pool -> pool.getType() == MemoryType.HEAP)
          .map(MemoryPoolMXBean::getName)
          .collect(Collectors.toSet());
      long max = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getMax();
      this.heapMax = max > 0 ? max : Runtime.getRuntime().maxMemory();
      for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
        if (gc instanceof NotificationEmitter emitter) {
          emitter.addNotificationListener(this, null, null);
          emitters.add(emitter);
        }
      }
    }

    @Override
    public void handleNotification(Notification notification, Object handback) {
      if (!GarbageCollectionNotificationInfo.GARBAGE_COLLECTION_NOTIFICATION
          .equals(notification.getType())) {
        return;
      }
      GarbageCollectionNotificationInfo info = GarbageCollectionNotificationInfo
          .from((CompositeData) notification.getUserData());
      long used = 0;
      for (Map.Entry<String, MemoryUsage> pool
          : info.getGcInfo().getMemoryUsageAfterGc().entrySet()) {
        if (heapPools.contains(pool.getKey())) {
          used += pool.getValue().getUsed();
        }
      }
      heapAfterGc = used;
    }

    @Override
    public long heapUsed() {
      return heapAfterGc;
    }

    @Override
    public long heapMax() {
      return heapMax;
    }

    @Override
    public long directUsed() {
      return allocator.pinnedDirectMemory();
    }

    @Override
    public long directMax() {
      return PlatformDependent.maxDirectMemory();
    }

    @Override
    public void close() {
      for (NotificationEmitter emitter : emitters) {
        try {
          emitter.removeNotificationListener(this);
        } catch (javax.management.ListenerNotFoundException e) {
          // already gone
        }
      }
    }
  }
}
