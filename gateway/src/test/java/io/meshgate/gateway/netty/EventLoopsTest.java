package io.meshgate.gateway.netty;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import io.grpc.CallOptions;
import io.netty.channel.EventLoop;
import org.junit.jupiter.api.Test;

class EventLoopsTest {
  @Test
  void callOptionsCarryTheLoopsExecutorAndTheAuthorityAsked() {
    try (EventLoops loops = new EventLoops(2)) {
      EventLoop first = loops.workerLoops().get(0);
      EventLoop second = loops.workerLoops().get(1);

      CallOptions none = loops.upstreamCallOptions(first, null);
      assertNull(none.getAuthority());
      assertNotNull(none.getExecutor());
      CallOptions a = loops.upstreamCallOptions(first, "a.example:443");
      assertEquals("a.example:443", a.getAuthority());
      assertSame(none.getExecutor(), a.getExecutor());
      assertSame(a, loops.upstreamCallOptions(first, new String("a.example:443")),
          "the authority used last is not made again");
      assertEquals("b.example", loops.upstreamCallOptions(first, "b.example").getAuthority());
      assertEquals("a.example:443",
          loops.upstreamCallOptions(first, "a.example:443").getAuthority());
      assertNull(loops.upstreamCallOptions(first, null).getAuthority());
      assertEquals("a.example:443",
          loops.upstreamCallOptions(second, "a.example:443").getAuthority());
      assertNotSame(none.getExecutor(), loops.upstreamCallOptions(second, null).getExecutor(),
          "each loop has its own executor");
    }
  }
}
