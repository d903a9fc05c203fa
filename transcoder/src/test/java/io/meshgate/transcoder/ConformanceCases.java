package io.meshgate.transcoder;

import java.util.List;

/**
 * The examples of {@code google/api/http.proto}'s own documentation and the path rules it
 * states, as (request → the gRPC request it must become) cases over the conformance protos.
 * The transcoder's tests check them against the route table; the gateway's check them end to
 * end, against a backend that answers with the request it received.
 */
public final class ConformanceCases {
  /**
   * One case.
   *
   * @param name what it shows
   * @param method the HTTP method
   * @param pathAndQuery the request target
   * @param body the JSON body, or null
   * @param expected {@code Method(request in text format)}
   */
  public record Case(String name, String method, String pathAndQuery, String body,
      String expected) {
    @Override
    public String toString() {
      return name;
    }
  }

  /** The descriptor set the cases use, as a classpath resource. */
  public static final String DESCRIPTOR_SET = "/descriptors/conformance.pb";

  private ConformanceCases() {}

  /** Every case. */
  public static List<Case> all() {
    return List.of(
        new Case("example 1: variable with a segments template", "GET",
            "/e1/v1/messages/123456", null, "GetMessage(name: \"messages/123456\")"),
        new Case("example 2: query parameters fill the fields not in the path", "GET",
            "/e2/v1/messages/123456?revision=2&sub.subfield=foo", null,
            "GetMessage(message_id: \"123456\" revision: 2 sub { subfield: \"foo\" })"),
        new Case("example 3: the body maps to one field", "PATCH", "/e3/v1/messages/123456",
            "{ \"text\": \"Hi!\" }", "UpdateMessage(message_id: \"123456\" message { text:"
                + " \"Hi!\" })"),
        new Case("example 4: body * maps to every field not in the path", "PATCH",
            "/e4/v1/messages/123456", "{ \"text\": \"Hi!\" }",
            "UpdateMessage(message_id: \"123456\" text: \"Hi!\")"),
        new Case("example 5: the first binding", "GET", "/e5/v1/messages/123456", null,
            "GetMessage(message_id: \"123456\")"),
        new Case("example 5: an additional binding", "GET", "/e5/v1/users/me/messages/123456",
            null, "GetMessage(message_id: \"123456\" user_id: \"me\")"),
        new Case("single-segment variables are fully decoded", "GET",
            "/v1/shelves/a%2Fb%20c", null, "GetShelf(shelf: \"a/b c\")"),
        new Case("multi-segment variables keep encoded slashes", "GET",
            "/v1/files/dir/sub%2Fdir/file%20name.txt", null,
            "GetAnything(path: \"dir/sub%2Fdir/file name.txt\")"),
        new Case("multi-segment variables keep encoded slashes in a template", "GET",
            "/v1/shelves/1/books/a%2Fb", null, "GetBook(name: \"shelves/1/books/a%2Fb\")"),
        new Case("** matches no segment", "GET", "/v1/files", null, "GetAnything()"),
        new Case("** matches many segments", "GET", "/v1/files/a/b/c/d", null,
            "GetAnything(path: \"a/b/c/d\")"),
        new Case("a literal beats *", "GET", "/v1/shelves/special", null, "GetSpecialShelf()"),
        new Case("* where no literal matches", "GET", "/v1/shelves/ordinary", null,
            "GetShelf(shelf: \"ordinary\")"),
        new Case("a longer literal path", "GET", "/v1/shelves/s/books", null,
            "ListBooks(shelf: \"s\")"),
        new Case("* beats **", "GET", "/v1/shelves/s/books/b", null,
            "GetBook(name: \"shelves/s/books/b\")"),
        new Case("a custom verb selects its route", "POST", "/v1/shelves/s1:archive", "{}",
            "ArchiveShelf(shelf: \"s1\")"),
        new Case("another custom verb", "GET", "/v1/shelves/s1:watch", null,
            "WatchShelf(shelf: \"s1\")"),
        new Case("without a route for the verb the colon is part of the segment", "GET",
            "/v1/shelves/s1:other", null, "GetShelf(shelf: \"s1:other\")"),
        new Case("delete", "DELETE", "/v1/shelves/s", null, "DeleteShelf(shelf: \"s\")"),
        new Case("a nested field path in the template", "GET", "/v1/nested/x", null,
            "Nested(inner { id: \"x\" })"));
  }
}
