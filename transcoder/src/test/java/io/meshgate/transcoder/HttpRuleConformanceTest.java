package io.meshgate.transcoder;

import static io.meshgate.transcoder.Conformance.TABLE;
import static io.meshgate.transcoder.Conformance.request;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The examples of {@code google/api/http.proto}'s own documentation, and the path rules it
 * states, as tests.
 */
class HttpRuleConformanceTest {
  @Test
  void example1VariableWithSegmentsTemplate() throws Exception {
    // get: "/v1/{name=messages/*}"
    assertEquals("GetMessage(name: \"messages/123456\")",
        request("GET", "/e1/v1/messages/123456", null));
  }

  @Test
  void example2QueryParametersFillTheFieldsNotInThePath() throws Exception {
    // get:"/v1/messages/{message_id}"
    assertEquals("GetMessage(message_id: \"123456\" revision: 2 sub { subfield: \"foo\" })",
        request("GET", "/e2/v1/messages/123456?revision=2&sub.subfield=foo", null));
  }

  @Test
  void example3BodyMapsToOneField() throws Exception {
    // patch: "/v1/messages/{message_id}" body: "message"
    assertEquals("UpdateMessage(message_id: \"123456\" message { text: \"Hi!\" })",
        request("PATCH", "/e3/v1/messages/123456", "{ \"text\": \"Hi!\" }"));
  }

  @Test
  void example4StarBodyMapsToEveryFieldNotInThePath() throws Exception {
    // patch: "/v1/messages/{message_id}" body: "*"
    assertEquals("UpdateMessage(message_id: \"123456\" text: \"Hi!\")",
        request("PATCH", "/e4/v1/messages/123456", "{ \"text\": \"Hi!\" }"));
  }

  @Test
  void example5AdditionalBindings() throws Exception {
    assertEquals("GetMessage(message_id: \"123456\")",
        request("GET", "/e5/v1/messages/123456", null));
    assertEquals("GetMessage(message_id: \"123456\" user_id: \"me\")",
        request("GET", "/e5/v1/users/me/messages/123456", null));
  }

  @Test
  void singleSegmentVariablesAreFullyDecoded() throws Exception {
    assertEquals("GetShelf(shelf: \"a/b c\")", request("GET", "/v1/shelves/a%2Fb%20c", null));
  }

  @Test
  void multiSegmentVariablesKeepEncodedSlashes() throws Exception {
    assertEquals("GetAnything(path: \"dir/sub%2Fdir/file name.txt\")",
        request("GET", "/v1/files/dir/sub%2Fdir/file%20name.txt", null));
    assertEquals("GetBook(name: \"shelves/1/books/a%2Fb\")",
        request("GET", "/v1/shelves/1/books/a%2Fb", null));
  }

  @Test
  void doubleStarMatchesZeroOrMoreSegments() throws Exception {
    assertEquals("GetAnything()", request("GET", "/v1/files", null));
    assertEquals("GetAnything(path: \"a/b/c/d\")", request("GET", "/v1/files/a/b/c/d", null));
  }

  @Test
  void literalBeatsStarBeatsDoubleStar() throws Exception {
    assertEquals("GetSpecialShelf()", request("GET", "/v1/shelves/special", null));
    assertEquals("GetShelf(shelf: \"ordinary\")", request("GET", "/v1/shelves/ordinary", null));
    assertEquals("ListBooks(shelf: \"s\")", request("GET", "/v1/shelves/s/books", null));
    assertEquals("GetBook(name: \"shelves/s/books/b\")",
        request("GET", "/v1/shelves/s/books/b", null));
  }

  @Test
  void customVerbsSelectTheirRoute() throws Exception {
    assertEquals("ArchiveShelf(shelf: \"s1\")", request("POST", "/v1/shelves/s1:archive", "{}"));
    assertEquals("WatchShelf(shelf: \"s1\")", request("GET", "/v1/shelves/s1:watch", null));
    // Without a matching verb route the colon is part of the segment.
    assertEquals("GetShelf(shelf: \"s1:other\")", request("GET", "/v1/shelves/s1:other", null));
  }

  @Test
  void customMethodKinds() throws Exception {
    assertEquals("HeadShelf(shelf: \"s\")", request("HEAD", "/v1/shelves/s", null));
    assertEquals("DeleteShelf(shelf: \"s\")", request("DELETE", "/v1/shelves/s", null));
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
