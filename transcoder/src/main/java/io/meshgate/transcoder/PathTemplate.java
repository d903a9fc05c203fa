package io.meshgate.transcoder;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * A parsed {@code google.api.http} path template:
 *
 * <pre>
 * Template = "/" Segments [ Verb ] ;
 * Segments = Segment { "/" Segment } ;
 * Segment  = "*" | "**" | LITERAL | Variable ;
 * Variable = "{" FieldPath [ "=" Segments ] "}" ;
 * FieldPath = IDENT { "." IDENT } ;
 * Verb     = ":" LITERAL ;
 * </pre>
 *
 * <p>Variables are flattened into the segment list: {@code /v1/{name=shelves/*}/books} is the
 * segments {@code v1, shelves, *, books} with variable {@code name} spanning segments 1..3.
 * {@code {field}} means {@code {field=*}}; {@code **} may only end the template. Immutable.
 */
final class PathTemplate {
  /** A segment: a literal (text), {@code *} or {@code **}. */
  record Segment(Kind kind, String literal) {
    enum Kind { LITERAL, SINGLE, MULTI }

    String shape() {
      return switch (kind) {
        case LITERAL -> literal;
        case SINGLE -> "*";
        case MULTI -> "**";
      };
    }
  }

  /** A variable: its field path and the segments [start, end) it binds. */
  record Variable(List<String> fieldPath, int start, int end, boolean multiSegment) {}

  private final String text;
  private final List<Segment> segments;
  private final List<Variable> variables;
  private final String verb;

  private PathTemplate(String text, List<Segment> segments, List<Variable> variables,
      String verb) {
    this.text = text;
    this.segments = Collections.unmodifiableList(segments);
    this.variables = Collections.unmodifiableList(variables);
    this.verb = verb;
  }

  String text() {
    return text;
  }

  List<Segment> segments() {
    return segments;
  }

  List<Variable> variables() {
    return variables;
  }

  /** The custom verb (without the colon), or null. */
  String verb() {
    return verb;
  }

  /** Whether the template ends in {@code **} (and so matches any number of trailing segments). */
  boolean endsWithMulti() {
    return !segments.isEmpty()
        && segments.get(segments.size() - 1).kind() == Segment.Kind.MULTI;
  }

  /** The template with variables replaced by what they match: two rules clash if equal. */
  String shape() {
    StringBuilder sb = new StringBuilder();
    for (Segment segment : segments) {
      sb.append('/').append(segment.shape());
    }
    if (verb != null) {
      sb.append(':').append(verb);
    }
    return sb.toString();
  }

  @Override
  public String toString() {
    return text;
  }

  /**
   * Parses a template.
   *
   * @throws IllegalArgumentException saying where the template breaks the grammar
   */
  static PathTemplate parse(String text) {
    return new Parser(text).parse();
  }

  private static final class Parser {
    private final String text;
    private int pos;
    private final List<Segment> segments = new ArrayList<>();
    private final List<Variable> variables = new ArrayList<>();

    Parser(String text) {
      this.text = text;
    }

    PathTemplate parse() {
      if (!text.startsWith("/")) {
        throw error("must start with '/'");
      }
      pos = 1;
      segments(false);
      String verb = null;
      if (pos < text.length() && text.charAt(pos) == ':') {
        pos++;
        verb = literal();
        if (verb.isEmpty()) {
          throw error("empty verb after ':'");
        }
      }
      if (pos != text.length()) {
        throw error("unexpected '" + text.charAt(pos) + "'");
      }
      for (int i = 0; i < segments.size() - 1; i++) {
        if (segments.get(i).kind() == Segment.Kind.MULTI) {
          throw error("'**' may only be the last segment");
        }
      }
      for (int i = 0; i < variables.size(); i++) {
        for (int j = 0; j < i; j++) {
          if (variables.get(i).fieldPath().equals(variables.get(j).fieldPath())) {
            throw error("variable '" + String.join(".", variables.get(i).fieldPath())
                + "' appears twice");
          }
        }
      }
      return new PathTemplate(text, new ArrayList<>(segments), new ArrayList<>(variables),
          verb);
    }

    /** Segments until the end, a ':' verb, or (inside a variable) a '}'. */
    private void segments(boolean inVariable) {
      while (true) {
        segment(inVariable);
        if (pos < text.length() && text.charAt(pos) == '/') {
          pos++;
          continue;
        }
        return;
      }
    }

    private void segment(boolean inVariable) {
      if (pos >= text.length()) {
        throw error("expected a segment");
      }
      char c = text.charAt(pos);
      if (text.startsWith("**", pos)) {
        pos += 2;
        segments.add(new Segment(Segment.Kind.MULTI, null));
      } else if (c == '*') {
        pos++;
        segments.add(new Segment(Segment.Kind.SINGLE, null));
      } else if (c == '{') {
        if (inVariable) {
          throw error("variables cannot nest");
        }
        variable();
      } else {
        String literal = literal();
        if (literal.isEmpty()) {
          throw error("empty segment");
        }
        segments.add(new Segment(Segment.Kind.LITERAL, literal));
      }
    }

    private void variable() {
      pos++; // '{'
      int start = pos;
      while (pos < text.length() && text.charAt(pos) != '=' && text.charAt(pos) != '}') {
        pos++;
      }
      String path = text.substring(start, pos);
      List<String> fieldPath = List.of(path.split("\\.", -1));
      for (String part : fieldPath) {
        if (!part.matches("[A-Za-z_][A-Za-z0-9_]*")) {
          throw error("'" + path + "' is not a field path (expected: field or field.sub)");
        }
      }
      int first = segments.size();
      if (pos < text.length() && text.charAt(pos) == '=') {
        pos++;
        segments(true);
      } else {
        segments.add(new Segment(Segment.Kind.SINGLE, null));
      }
      if (pos >= text.length() || text.charAt(pos) != '}') {
        throw error("variable '" + path + "' is not closed with '}'");
      }
      pos++;
      boolean multi = segments.size() - first > 1
          || segments.get(first).kind() == Segment.Kind.MULTI;
      variables.add(new Variable(fieldPath, first, segments.size(), multi));
    }

    private String literal() {
      int start = pos;
      while (pos < text.length()) {
        char c = text.charAt(pos);
        if (c == '/' || c == ':' || c == '{' || c == '}' || c == '=' || c == '*') {
          break;
        }
        pos++;
      }
      return text.substring(start, pos);
    }

    private IllegalArgumentException error(String what) {
      return new IllegalArgumentException("path template '" + text + "' at position " + pos
          + ": " + what);
    }
  }
}
