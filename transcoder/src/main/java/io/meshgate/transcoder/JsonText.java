package io.meshgate.transcoder;

import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * A JSON body as text. JSON is UTF-8 (RFC 8259), and protobuf's JSON mapping refuses a string
 * that is not valid UTF-8: bytes that are not are a 400 naming the field they are in, not text
 * quietly replaced with U+FFFD. Stateless.
 */
final class JsonText {
  private static final char REPLACEMENT = '\uFFFD';

  private JsonText() {}

  /**
   * Decodes {@code body}.
   *
   * @throws TranscodingException (400) naming the byte offset and, when it can tell, the field
   *     of the first malformed sequence
   */
  static String decode(byte[] body) throws TranscodingException {
    String text = new String(body, StandardCharsets.UTF_8);
    if (text.indexOf(REPLACEMENT) < 0) {
      return text; // the common case: nothing was replaced, so every byte was valid
    }
    // A U+FFFD may also have been sent as such (valid UTF-8): only a strict decoder can tell.
    CharsetDecoder strict = StandardCharsets.UTF_8.newDecoder()
        .onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT);
    ByteBuffer in = ByteBuffer.wrap(body);
    CharBuffer out = CharBuffer.allocate(body.length);
    if (!strict.decode(in, out, true).isError()) {
      return text;
    }
    int offset = in.position();
    String where = fieldAt(new String(body, 0, offset, StandardCharsets.UTF_8));
    throw TranscodingException.badRequest((where == null ? "" : "field '" + where + "': ")
        + "the request body is not valid UTF-8 (byte " + offset + " is not part of a UTF-8"
        + " character; JSON text must be UTF-8)");
  }

  /** The field whose value {@code prefix} (the valid start of a document) ends inside. */
  private static String fieldAt(String prefix) {
    JsonReader reader = JsonToProto.reader(prefix);
    String path = "$";
    try {
      while (true) {
        path = reader.getPath();
        JsonToken token = reader.peek();
        switch (token) {
          case BEGIN_OBJECT -> reader.beginObject();
          case END_OBJECT -> reader.endObject();
          case BEGIN_ARRAY -> reader.beginArray();
          case END_ARRAY -> reader.endArray();
          case NAME -> reader.nextName();
          case END_DOCUMENT -> {
            return null;
          }
          default -> reader.skipValue();
        }
      }
    } catch (IOException | IllegalStateException e) {
      // The prefix ends inside a name or a value: the path says which.
    }
    path = reader.getPath();
    return path.equals("$") ? null : path.replaceFirst("^\\$\\.?", "");
  }
}
