package io.meshgate.gateway.upstream;

import io.grpc.Attributes;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ClientStreamTracer;
import io.grpc.Deadline;
import io.grpc.InternalMetadata;
import io.grpc.InternalStatus;
import io.grpc.LoadBalancer;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.meshgate.gateway.call.GrpcMetadata;
import io.meshgate.gateway.call.OutboundHeaders;
import io.meshgate.gateway.call.GrpcTimeout;
import io.netty.buffer.ByteBuf;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import java.util.ArrayDeque;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A gRPC call streamed through: its "messages" are the request's and the response's DATA bytes
 * as they arrive — gRPC length prefixes included, however a message is cut into frames — written
 * to a stream on one of the gateway's own {@link H2Connection}s. The native proxy counts the
 * messages in those bytes itself; nothing here assembles a message, so one of any size passes
 * with no more held than the HTTP/2 windows allow.
 *
 * <p>As a {@link ClientCall} it keeps grpc-java's contract — {@code request(n)} asks for n more
 * chunks, {@code isReady} says whether the stream takes more, {@code onClose} comes exactly once
 * and last — so the cluster's breaker and tracing wrap it as they wrap a grpc-java call. The
 * call's deadline goes upstream as {@code grpc-timeout} and is also enforced here. Only on the
 * event loop of the client's stream, which is the connection's loop.
 */
public final class StreamedCall extends ClientCall<ByteBuf, ByteBuf>
    implements H2Balancer.Pick {
  private static final AsciiString POST = AsciiString.cached("POST");
  private static final AsciiString HTTP = AsciiString.cached("http");
  private static final AsciiString HTTPS = AsciiString.cached("https");
  private static final AsciiString TE = AsciiString.cached("te");
  private static final AsciiString TRAILERS = AsciiString.cached("trailers");
  private static final AsciiString CONTENT_TYPE = AsciiString.cached("content-type");
  private static final AsciiString USER_AGENT = AsciiString.cached("user-agent");
  private static final AsciiString MESHGATE = AsciiString.cached("meshgate");
  private static final AsciiString GRPC_ENCODING = AsciiString.cached("grpc-encoding");
  private static final AsciiString GRPC_ACCEPT_ENCODING =
      AsciiString.cached("grpc-accept-encoding");
  private static final AsciiString GRPC_STATUS = AsciiString.cached("grpc-status");

  /**
   * What of the client's request line goes upstream as it came.
   *
   * @param path {@code /package.Service/Method}
   * @param contentType the client's {@code application/grpc[+proto|+json...]}
   * @param encoding the client's {@code grpc-encoding}, or null
   * @param acceptEncoding the client's {@code grpc-accept-encoding}, or null
   */
  public record Request(CharSequence path, CharSequence contentType, CharSequence encoding,
      CharSequence acceptEncoding) {}

  private final H2Balancer balancer;
  private final MethodDescriptor<?, ?> method;
  private final Request request;
  private final CallOptions options;
  private final EventLoop loop;
  private final boolean tls;

  private Listener<ByteBuf> listener;
  private Metadata requestMetadata;
  private Http2Headers requestHeaders;
  /** The stream's id on {@link #connection}; -1 before it opens. */
  private int stream = -1;
  private H2Connection connection;
  private boolean remoteEnded;
  private Attributes attributes = Attributes.EMPTY;
  private ClientStreamTracer tracer;
  private io.netty.util.concurrent.ScheduledFuture<?> deadlineTimer;
  /** Request chunks sent before the stream opened (bounded by the caller: it reads on only while
   *  {@link #isReady} or within a small allowance). */
  private final ArrayDeque<ByteBuf> early = new ArrayDeque<>(2);
  /**
   * What was sent of the request while no response came (up to {@link #REPLAY_BYTES}), to send
   * again once on another connection when the backend never took the stream — as grpc-java's
   * transparent retry does (a GOAWAY racing the call, REFUSED_STREAM).
   */
  private final ArrayDeque<ByteBuf> sent = new ArrayDeque<>(2);
  private static final int REPLAY_BYTES = 64 * 1024;
  private long sentBytes;
  private boolean replayable = true;
  private boolean retried;
  private Http2Headers openedHeaders;
  /** The sink of the current stream: events of an earlier one are not this call's. */
  private Attempt attempt;
  /** The last request chunk, held until the next one, the half-close or the end of the turn, so
   *  that a unary request's message and its end go in one DATA frame. */
  private ByteBuf held;
  private boolean heldFlushScheduled;
  private final Runnable writeHeld = this::writeHeldChunk;
  /** Response chunks read but not yet asked for, then at most the trailers' close. */
  private final ArrayDeque<Object> inbound = new ArrayDeque<>(4);
  private int demand;
  private boolean halfClosed;
  private boolean responseHeaders;
  private boolean closed;
  private boolean picking;
  private long startNanos;

  StreamedCall(H2Balancer balancer, MethodDescriptor<?, ?> method, Request request,
      CallOptions options, EventLoop loop, boolean tls) {
    this.balancer = balancer;
    this.method = method;
    this.request = request;
    this.options = options;
    this.loop = loop;
    this.tls = tls;
  }

  @Override
  public void start(Listener<ByteBuf> listener, Metadata headers) {
    this.listener = listener;
    this.requestMetadata = headers;
    startNanos = System.nanoTime();
    OutboundHeaders out = new OutboundHeaders()
        .add(CONTENT_TYPE, request.contentType())
        .add(TE, TRAILERS)
        .add(USER_AGENT, MESHGATE);
    if (request.encoding() != null) {
      out.add(GRPC_ENCODING, request.encoding());
    }
    if (request.acceptEncoding() != null) {
      out.add(GRPC_ACCEPT_ENCODING, request.acceptEncoding());
    }
    Deadline deadline = options.getDeadline();
    if (deadline != null) {
      long left = deadline.timeRemaining(TimeUnit.NANOSECONDS);
      if (left <= 0) {
        close(Status.DEADLINE_EXCEEDED.withDescription(
            "the deadline passed before the call went upstream"), new Metadata());
        return;
      }
      out.add(GrpcTimeout.HEADER, GrpcTimeout.format(left));
      deadlineTimer = loop.schedule(this::deadlineExceeded, left, TimeUnit.NANOSECONDS);
    }
    GrpcMetadata.addTo(headers, out);
    // Written as built, once per attempt: the encoder only walks them.
    requestHeaders = out.request(POST, tls ? HTTPS : HTTP, request.path(),
        options.getAuthority() != null ? options.getAuthority() : balancer.authority());
    picking = true;
    balancer.pick(this);
  }

  // ---- The balancer's side -----------------------------------------------------------------

  @Override
  public LoadBalancer.PickSubchannelArgs pickArgs() {
    return new LoadBalancer.PickSubchannelArgs() {
      @Override
      public CallOptions getCallOptions() {
        return options;
      }

      @Override
      public Metadata getHeaders() {
        return requestMetadata;
      }

      @Override
      public MethodDescriptor<?, ?> getMethodDescriptor() {
        return method;
      }
    };
  }

  @Override
  public boolean waitForReady() {
    return options.isWaitForReady();
  }

  @Override
  public void refuse(Status status) {
    picking = false;
    if (!closed) {
      close(status, new Metadata());
    }
  }

  @Override
  public void attach(H2Connection chosen, ClientStreamTracer.Factory tracerFactory) {
    picking = false;
    if (closed) {
      return;
    }
    connection = chosen;
    attributes = chosen.attributes();
    if (tracerFactory != null) {
      tracer = tracerFactory.newClientStreamTracer(ClientStreamTracer.StreamInfo.newBuilder()
          .setCallOptions(options).build(), requestMetadata);
    }
    boolean endNow = halfClosed && early.isEmpty();
    Attempt mine = new Attempt();
    attempt = mine;
    openedHeaders = requestHeaders;
    requestHeaders = null;
    int id = chosen.open(mine, openedHeaders, endNow);
    if (attempt != mine || closed) {
      return; // it failed at once: sent again, or ended
    }
    stream = id;
    while (!early.isEmpty() && !closed) {
      ByteBuf chunk = early.poll();
      send(chunk, halfClosed && early.isEmpty());
    }
    chosen.flush();
    if (!closed && chosen.isWritable(stream)) {
      listener.onReady();
    }
  }

  // ---- The caller's side -------------------------------------------------------------------

  @Override
  public void request(int numMessages) {
    demand += numMessages;
    drainInbound();
  }

  /**
   * Sends request bytes. The chunk stays the caller's (as grpc-java's calls copy a message before
   * {@code sendMessage} returns): what is kept is retained here, so that a wrapper that drops a
   * message (an open breaker) leaks nothing.
   */
  @Override
  public void sendMessage(ByteBuf bytes) {
    if (closed || halfClosed) {
      return;
    }
    ByteBuf chunk = bytes.retain();
    if (stream < 0) {
      early.add(chunk);
      return;
    }
    if (held != null) {
      send(held, false);
    }
    held = chunk;
    if (!heldFlushScheduled) {
      heldFlushScheduled = true;
      loop.execute(writeHeld);
    }
  }

  /** Writes request bytes on the stream, keeping a view of them while they may be replayed. */
  private void send(ByteBuf chunk, boolean end) {
    if (replayable) {
      if (sentBytes + chunk.readableBytes() <= REPLAY_BYTES) {
        sent.add(chunk.retainedDuplicate());
        sentBytes += chunk.readableBytes();
      } else {
        stopReplay();
      }
    }
    connection.writeData(stream, chunk, end);
  }

  private void stopReplay() {
    replayable = false;
    openedHeaders = null;
    while (!sent.isEmpty()) {
      sent.poll().release();
    }
  }

  /**
   * Sends the call again, once, on the endpoint the balancer picks now: the backend never took
   * the stream, and nothing of the response came.
   *
   * @return false when the call cannot go again (it did, or too much was sent to keep)
   */
  private boolean retryUnprocessed() {
    if (!replayable || retried || closed || responseHeaders || openedHeaders == null) {
      return false;
    }
    retried = true;
    if (tracer != null) {
      tracer.streamClosed(Status.UNAVAILABLE.withDescription("not processed: sent again"));
      tracer = null;
    }
    stream = -1;
    attempt = null;
    connection = null;
    attributes = Attributes.EMPTY;
    remoteEnded = false;
    requestHeaders = openedHeaders;
    openedHeaders = null;
    ArrayDeque<ByteBuf> again = new ArrayDeque<>(sent);
    sent.clear();
    sentBytes = 0;
    if (held != null) {
      again.add(held);
      held = null;
    }
    again.addAll(early);
    early.clear();
    early.addAll(again);
    picking = true;
    // Not from inside the closing connection's own event: the picker may still name it.
    loop.execute(() -> {
      if (!closed && picking) {
        balancer.pick(this);
      }
    });
    return true;
  }

  private void writeHeldChunk() {
    heldFlushScheduled = false;
    if (held != null && stream >= 0 && !closed) {
      ByteBuf chunk = held;
      held = null;
      send(chunk, false);
      connection.flush();
    }
  }

  @Override
  public void halfClose() {
    if (closed || halfClosed) {
      return;
    }
    halfClosed = true;
    if (stream < 0) {
      return; // the end goes with the headers or the early chunks
    }
    ByteBuf last = held != null ? held : io.netty.buffer.Unpooled.EMPTY_BUFFER;
    held = null;
    send(last, true);
    connection.flush();
  }

  @Override
  public void cancel(String message, Throwable cause) {
    if (closed) {
      return;
    }
    Status status = Status.CANCELLED;
    if (message != null) {
      status = status.withDescription(message);
    }
    close(status.withCause(cause), new Metadata());
  }

  @Override
  public boolean isReady() {
    return stream >= 0 && !closed && connection.isWritable(stream);
  }

  @Override
  public Attributes getAttributes() {
    return attributes;
  }

  private void deadlineExceeded() {
    deadlineTimer = null;
    if (closed) {
      return;
    }
    double seconds = (System.nanoTime() - startNanos) / 1e9;
    close(Status.DEADLINE_EXCEEDED.withDescription(String.format(
        "deadline exceeded after %.3fs (%s)", seconds, stream < 0
            ? "waiting for a connection" : "waiting for the backend")), new Metadata());
  }

  private void close(Status status, Metadata trailers) {
    if (closed) {
      return;
    }
    closed = true;
    if (deadlineTimer != null) {
      deadlineTimer.cancel(false);
      deadlineTimer = null;
    }
    if (picking) {
      balancer.forget(this);
      picking = false;
    }
    release();
    if (stream >= 0 && !(remoteEnded && halfClosed)) {
      connection.reset(stream); // CANCEL: the backend stops; what it sends now is dropped
    }
    if (tracer != null) {
      tracer.streamClosed(status);
    }
    listener.onClose(status, trailers);
  }

  private void release() {
    while (!early.isEmpty()) {
      early.poll().release();
    }
    stopReplay();
    if (held != null) {
      held.release();
      held = null;
    }
    while (!inbound.isEmpty()) {
      Object next = inbound.poll();
      if (next instanceof Chunk chunk) {
        chunk.data.release();
      }
    }
  }

  private void drainInbound() {
    while (demand > 0 && !inbound.isEmpty() && !closed) {
      Object next = inbound.poll();
      if (next instanceof Chunk chunk) {
        demand--;
        connection.consume(stream, chunk.flowControlled);
        listener.onMessage(chunk.data);
      } else {
        Ending end = (Ending) next;
        close(end.status, end.trailers);
      }
    }
    if (!closed && !inbound.isEmpty() && inbound.peek() instanceof Ending end) {
      close(end.status, end.trailers);
    }
  }

  private record Ending(Status status, Metadata trailers) {}

  /** The sink of one stream: forwards its events while it is the call's current stream. */
  private final class Attempt implements H2Connection.Sink {
    @Override
    public void onHeaders(Http2Headers headers, boolean endStream) {
      if (attempt == this) {
        StreamedCall.this.onHeaders(headers, endStream);
      }
    }

    @Override
    public void onData(ByteBuf data, int flowControlled, boolean endStream) {
      if (attempt == this) {
        StreamedCall.this.onData(data, flowControlled, endStream);
      } else {
        data.release();
      }
    }

    @Override
    public void onReset(long errorCode) {
      if (attempt == this) {
        StreamedCall.this.onReset(errorCode);
      }
    }

    @Override
    public void onWritabilityChanged() {
      if (attempt == this) {
        StreamedCall.this.onWritabilityChanged();
      }
    }

    @Override
    public void onClosed(boolean unprocessed) {
      if (attempt == this) {
        StreamedCall.this.onClosed(unprocessed);
      }
    }
  }

  /** Response bytes read before they were asked for, and the window they take. */
  private record Chunk(ByteBuf data, int flowControlled) {}

  // ---- The upstream stream -----------------------------------------------------------------

  private void onData(ByteBuf data, int flowControlled, boolean endStream) {
    if (closed) {
      data.release();
      connection.consume(stream, flowControlled);
      return;
    }
    if (endStream) {
      remoteEnded = true;
    }
    if (data.isReadable()) {
      if (demand > 0 && inbound.isEmpty()) {
        demand--;
        connection.consume(stream, flowControlled);
        listener.onMessage(data);
      } else {
        inbound.add(new Chunk(data, flowControlled));
      }
    } else {
      data.release();
      connection.consume(stream, flowControlled);
    }
    if (endStream && !closed) {
      ending(Status.INTERNAL.withDescription(
          "the backend ended its response without trailers (no grpc-status)"), new Metadata());
    }
  }

  private void onHeaders(Http2Headers headers, boolean endStream) {
    if (closed) {
      return;
    }
    if (endStream) {
      remoteEnded = true;
    }
    onHeadersFrame(headers, endStream);
  }

  private void onWritabilityChanged() {
    if (!closed && stream >= 0 && connection.isWritable(stream)) {
      listener.onReady();
    }
  }

  private void onClosed(boolean unprocessed) {
    if (unprocessed && retryUnprocessed()) {
      return;
    }
    if (!closed) {
      remoteEnded = true;
      halfClosed = true; // nothing more can be sent either
      drainThenClose(Status.UNAVAILABLE.withDescription("the stream to "
          + connection.address() + " closed before the backend sent a status"
          + (connection.usable() ? "" : " (the connection went away)")));
    }
  }

  private void onHeadersFrame(Http2Headers headers, boolean endStream) {
    if (!responseHeaders) {
      responseHeaders = true;
      stopReplay();
      Status problem = httpProblem(headers);
      if (problem != null) {
        close(problem, metadataOf(headers));
        return;
      }
      if (endStream) {
        ending(statusOf(headers), metadataOf(headers)); // trailers-only
        return;
      }
      listener.onHeaders(metadataOf(headers));
      return;
    }
    if (!endStream) {
      close(Status.INTERNAL.withDescription("the backend sent a third HEADERS frame"),
          new Metadata());
      return;
    }
    ending(statusOf(headers), metadataOf(headers));
  }

  /** The call ends once the chunks read before the end were asked for. */
  private void ending(Status status, Metadata trailers) {
    inbound.add(new Ending(status, trailers));
    drainInbound();
  }

  private void drainThenClose(Status status) {
    if (inbound.isEmpty() || !(inbound.peekLast() instanceof Ending)) {
      inbound.add(new Ending(status, new Metadata()));
    }
    drainInbound();
  }

  private void onReset(long errorCode) {
    if (closed) {
      return;
    }
    if (errorCode == Http2Error.REFUSED_STREAM.code() && retryUnprocessed()) {
      return; // RFC 9113 section 8.7: a refused stream was not processed
    }
    remoteEnded = true;
    halfClosed = true;
    Status status;
    if (errorCode == Http2Error.REFUSED_STREAM.code()) {
      status = Status.UNAVAILABLE.withDescription("the backend refused the stream"
          + " (REFUSED_STREAM)");
    } else if (errorCode == Http2Error.CANCEL.code()) {
      Deadline deadline = options.getDeadline();
      // The backend got the deadline as grpc-timeout and keeps it too: its cancel at the
      // deadline may come a moment before our own timer.
      status = deadline != null && deadline.timeRemaining(TimeUnit.MILLISECONDS) <= 20
          ? Status.DEADLINE_EXCEEDED.withDescription(String.format("deadline exceeded after"
              + " %.3fs (the backend cancelled the call at the deadline)",
              (System.nanoTime() - startNanos) / 1e9))
          : Status.CANCELLED.withDescription("the backend cancelled the stream");
    } else if (errorCode == Http2Error.ENHANCE_YOUR_CALM.code()) {
      status = Status.RESOURCE_EXHAUSTED.withDescription("the backend reset the stream:"
          + " ENHANCE_YOUR_CALM");
    } else {
      Http2Error error = Http2Error.valueOf(errorCode);
      status = Status.INTERNAL.withDescription("the backend reset the stream (HTTP/2 error "
          + (error != null ? error.name() : Long.toString(errorCode)) + ")");
    }
    close(status, new Metadata());
  }

  /** A response that is no gRPC response, in grpc-java's terms; null when it is one. */
  private static Status httpProblem(Http2Headers headers) {
    CharSequence status = headers.status();
    CharSequence type = headers.get(CONTENT_TYPE);
    boolean grpcType = type != null && AsciiString.regionMatches(type, true, 0,
        "application/grpc", 0, 16);
    if (status != null && AsciiString.contentEquals("200", status) && grpcType) {
      return null;
    }
    if (status != null && AsciiString.contentEquals("200", status)
        && headers.contains(GRPC_STATUS)) {
      return null; // trailers-only without a content type: grpc-status decides
    }
    int code = 0;
    try {
      code = status == null ? 0 : Integer.parseInt(status.toString());
    } catch (NumberFormatException e) {
      code = 0;
    }
    Status.Code grpc = switch (code) {
      case 400, 431 -> Status.Code.INTERNAL;
      case 401 -> Status.Code.UNAUTHENTICATED;
      case 403 -> Status.Code.PERMISSION_DENIED;
      case 404 -> Status.Code.UNIMPLEMENTED;
      case 429, 502, 503, 504 -> Status.Code.UNAVAILABLE;
      default -> Status.Code.UNKNOWN;
    };
    if (code == 200) {
      grpc = Status.Code.UNKNOWN;
    }
    return Status.fromCode(grpc).withDescription("the backend answered HTTP " + status
        + (grpcType ? "" : " with content-type " + type + ", not a gRPC response"));
  }

  private static Status statusOf(Http2Headers headers) {
    CharSequence code = headers.get(GRPC_STATUS);
    if (code == null) {
      return Status.UNKNOWN.withDescription("the backend's trailers carry no grpc-status");
    }
    int value = -1;
    if (code.length() >= 1 && code.length() <= 2) {
      value = 0;
      for (int i = 0; i < code.length() && value >= 0; i++) {
        char c = code.charAt(i);
        value = c >= '0' && c <= '9' ? value * 10 + (c - '0') : -1;
      }
    }
    if (value < 0 || value > 16) {
      return Status.UNKNOWN.withDescription("the backend sent grpc-status '" + code + "'");
    }
    Status status = Status.fromCodeValue(value);
    CharSequence message = headers.get(InternalStatus.MESSAGE_KEY.name());
    if (message == null || message.length() == 0) {
      return status;
    }
    if (AsciiString.indexOf(message, '%', 0) < 0) {
      return status.withDescription(message.toString());
    }
    // Percent-encoded: decoded as grpc-java decodes it.
    Metadata parsed = InternalMetadata.newMetadata(
        InternalStatus.MESSAGE_KEY.name().getBytes(java.nio.charset.StandardCharsets.US_ASCII),
        AsciiString.of(message).toByteArray());
    return status.withDescription(parsed.get(InternalStatus.MESSAGE_KEY));
  }

  /** Response headers or trailers as grpc-java would hand them over: binary values decoded. */
  private static Metadata metadataOf(Http2Headers headers) {
    byte[][] serialized = new byte[headers.size() * 2][];
    int n = 0;
    for (Map.Entry<CharSequence, CharSequence> header : headers) {
      CharSequence name = header.getKey();
      if (name.length() == 0 || name.charAt(0) == ':') {
        continue;
      }
      AsciiString key = AsciiString.of(name);
      byte[] value;
      if (key.endsWith("-bin")) {
        try {
          value = java.util.Base64.getDecoder().decode(header.getValue().toString());
        } catch (IllegalArgumentException e) {
          continue; // grpc-java drops such a value too
        }
      } else {
        value = GrpcMetadata.wireBytes(AsciiString.of(header.getValue()));
      }
      serialized[n++] = GrpcMetadata.wireBytes(key);
      serialized[n++] = value;
    }
    return InternalMetadata.newMetadata(n / 2, serialized);
  }
}
