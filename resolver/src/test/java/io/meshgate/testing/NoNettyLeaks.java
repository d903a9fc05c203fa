package io.meshgate.testing;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import io.netty.util.ResourceLeakDetectorFactory;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Fails a test class that leaked a Netty buffer (a pooled buffer garbage-collected without
 * {@code release()}): Netty only logs leaks, which nobody reads. Registered for every test class
 * through JUnit's extension auto-detection; the test JVMs run Netty's leak detection (see
 * {@code netty.leakDetection} in the parent pom, {@code paranoid} checks every buffer).
 */
public final class NoNettyLeaks implements AfterAllCallback {
  private static final List<String> LEAKS = new ArrayList<>();

  static {
    ResourceLeakDetectorFactory.setResourceLeakDetectorFactory(new ResourceLeakDetectorFactory() {
      @Override
      @SuppressWarnings("deprecation")
      public <T> ResourceLeakDetector<T> newResourceLeakDetector(Class<T> resource,
          int samplingInterval, long maxActive) {
        return new RecordingDetector<>(resource, samplingInterval);
      }
    });
  }

  @Override
  public void afterAll(ExtensionContext context) {
    // A leak is reported when its buffer is collected and a later tracked allocation polls the
    // reference queue: collect a few times, allocating in between.
    for (int i = 0; i < 5; i++) {
      System.gc();
      ByteBuf probe = PooledByteBufAllocator.DEFAULT.directBuffer(64);
      probe.release();
    }
    List<String> leaks;
    synchronized (LEAKS) {
      leaks = new ArrayList<>(LEAKS);
      LEAKS.clear();
    }
    if (!leaks.isEmpty()) {
      throw new AssertionError(leaks.size() + " Netty buffer(s) leaked (released never) in "
          + context.getDisplayName() + "; first:\n" + leaks.get(0));
    }
  }

  private static final class RecordingDetector<T> extends ResourceLeakDetector<T> {
    RecordingDetector(Class<T> resource, int samplingInterval) {
      super(resource, samplingInterval);
    }

    @Override
    protected void reportTracedLeak(String resourceType, String records) {
      super.reportTracedLeak(resourceType, records);
      synchronized (LEAKS) {
        LEAKS.add(resourceType + records);
      }
    }

    @Override
    protected void reportUntracedLeak(String resourceType) {
      super.reportUntracedLeak(resourceType);
      synchronized (LEAKS) {
        LEAKS.add(resourceType + " (enable paranoid leak detection for where it was created)");
      }
    }
  }
}
