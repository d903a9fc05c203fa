package io.meshgate.gateway.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;

import io.netty.buffer.ByteBufAllocator;
import io.netty.util.AsciiString;
import org.junit.jupiter.api.Test;

class ProxyServiceTest {
  private final ProxyService service = new ProxyService(null, null, ByteBufAllocator.DEFAULT);

  @Test
  void aPathNamesItsServiceMethodAndDescriptor() {
    String path = "/pkg.v1.Users/GetUser";
    ProxyService.Method method = service.method(new AsciiString(path), path.indexOf('/', 1));

    assertEquals("pkg.v1.Users/GetUser", method.fullMethod());
    assertEquals("pkg.v1.Users", method.service());
    assertEquals("GetUser", method.method());
    assertEquals("pkg.v1.Users/GetUser", method.descriptor().getFullMethodName());
    assertEquals("pkg.v1.Users", method.descriptor().getServiceName());
  }

  @Test
  void aRepeatedPathIsTheSameMethodWhateverStringCarriesIt() {
    String path = "/a.B/C";
    ProxyService.Method first = service.method(new AsciiString(path), 4);

    assertSame(first, service.method(new AsciiString(path), 4));
    assertSame(first, service.method(path, 4), "a String path finds it too");
    assertNotSame(first, service.method(new AsciiString("/a.B/D"), 4));
  }

  @Test
  void pathsPastTheBoundAreAnsweredButNotKept() {
    for (int i = 0; i < 10_000; i++) {
      service.method(new AsciiString("/a.B/M" + i), 4);
    }
    ProxyService.Method late = service.method(new AsciiString("/a.B/Late"), 4);

    assertEquals("Late", late.method());
    assertNotSame(late, service.method(new AsciiString("/a.B/Late"), 4),
        "a client inventing method names cannot grow the cache");
    assertSame(service.method(new AsciiString("/a.B/M7"), 4),
        service.method(new AsciiString("/a.B/M7"), 4));
  }
}
