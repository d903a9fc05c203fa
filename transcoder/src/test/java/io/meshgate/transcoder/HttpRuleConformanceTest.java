package io.meshgate.transcoder;

import static io.meshgate.transcoder.Conformance.TABLE;
import static io.meshgate.transcoder.Conformance.request;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The examples of {@code google/api/http.proto}'s own documentation, and the path rules it
 * states, as tests.
 */
class HttpRuleConformanceTest {
  @ParameterizedTest(name = "{0}")
  @MethodSource("io.meshgate.transcoder.ConformanceCases#all")
  void conformance(ConformanceCases.Case c) throws Exception {
    assertEquals(c.expected(), request(c.method(), c.pathAndQuery(), c.body()));
  }

  @Test
  void customMethodKinds() throws Exception {
    assertEquals("HeadShelf(shelf: \"s\")", request("HEAD", "/v1/shelves/s", null));
  }

  @Test
  void nestedFieldPathsInTheTemplate() throws Exception {
    assertEquals("Nested(inner { id: \"x\" })", request("GET", "/v1/nested/x", null));
  }

  @Test
  void unknownPathsAreNotFoundAndWrongMethodsListWhatIsAllowed() {
    assertEquals(RouteMatch.Kind.NOT_FOUND, TABLE.match("GET", "/v2/nothing").kind());
    assertEquals(RouteMatch.Kind.NOT_FOUND, TABLE.match("GET", "/v1/shelves/").kind());
    RouteMatch wrong = TABLE.match("PUT", "/v1/shelves/s");
    assertEquals(RouteMatch.Kind.METHOD_NOT_ALLOWED, wrong.kind());
    assertEquals(Set.of("GET", "DELETE", "HEAD"), wrong.allowedMethods());
  }
}
