package io.meshgate.gateway.proxy;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.Grpc;
import io.grpc.InternalMetadata;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.meshgate.gateway.call.GrpcMetadata;
import io.meshgate.gateway.call.OutboundHeaders;
import io.meshgate.gateway.call.GrpcTimeout;
import io.meshgate.gateway.call.RequestView;
import io.meshgate.gateway.netty.Channels;
import io.meshgate.gateway.netty.ConnectionGuard;
import io.meshgate.gateway.netty.FrontStream;
import io.meshgate.gateway.netty.Http2StreamHandler;
import io.meshgate.gateway.resilience.RetryPolicy;
import io.meshgate.gateway.route.Admission;
import io.meshgate.gateway.telemetry.CallRecord;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufOutputStream;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2Stream;
import io.netty.util.AsciiString;
import java.io.IOException;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.zip.GZIPOutputStream;

/**
 * Proxies one gRPC call: the client's HTTP/2 stream on one side, a grpc-java {@link ClientCall}
 * on the other, messages passed through as bytes.
 *
 * <p>Flow control is end to end. The stream reads (and so grants the client HTTP/2 window) only
 * while the upstream call {@link ClientCall#isReady() is ready}; it asks the upstream call for the
 * next response message only while the client stream is writable. A slow side therefore stalls
 * the other side's sender instead of growing a buffer.
 *
 * <p>Threading: the handler runs on the stream's event loop; the call goes out on the cluster's
 * channel for that same loop and its callbacks are delivered on that loop
 * ({@link CallOptions#withExecutor}), inline when they arise there. Every field is confined to
 * the loop.
 */
final class GrpcProxyStream extends Http2StreamHandler {
  private static final Logger logger = Logger.getLogger(GrpcProxyStream.class.getName());
  private static final AsciiString STATUS_405 = AsciiString.cached("405");
  private static final AsciiString WWW_AUTHENTICATE = AsciiString.cached("www-authenticate");
  /**
   * Request messages (or, streamed, DATA chunks) kept for a retry, a hedge or a mirror as byte
   * copies (the pooled buffer is released).
   */
  private static final RetryPolicy.Replay<ByteBuf> REPLAY = new RetryPolicy.Replay<>() {
    @Override
    public byte[] save(ByteBuf message) {
      return io.netty.buffer.ByteBufUtil.getBytes(message);
    }

    @Override
    public ByteBuf restore(byte[] saved) {
      return Unpooled.wrappedBuffer(saved);
    }
  };
  /**
   * Response messages kept by a route's cache: the bytes after the spare prefix
   * {@link RawMarshaller#parse} leaves, brought back in the same shape.
   */
  private static final RetryPolicy.Replay<ByteBuf> RESPONSES = new RetryPolicy.Replay<>() {
    @Override
    public byte[] save(ByteBuf message) {
      return io.netty.buffer.ByteBufUtil.getBytes(message,
          message.readerIndex() + RawMarshaller.HEADER_BYTES,
          message.readableBytes() - RawMarshaller.HEADER_BYTES);
    }

    @Override
    public ByteBuf restore(byte[] saved) {
      ByteBuf buf = Unpooled.buffer(RawMarshaller.HEADER_BYTES + saved.length);
      buf.writerIndex(RawMarshaller.HEADER_BYTES);
      return buf.writeBytes(saved);
    }
  };
  private static final AsciiString STATUS_DETAILS =
      AsciiString.cached("grpc-status-details-bin");
  private static final long EARLY_BYTES = 32 * 1024;

  private final ProxyService service;

  // All fields below: only on the stream's event loop.
  private ClientCall<ByteBuf, ByteBuf> call;
  private CallRecord record;
  private Admission admission;
  private GrpcDeframer deframer;
  private String fullMethod;
  private MethodDescriptor<ByteBuf, ByteBuf> descriptor;
  private boolean started;
  private boolean responseHeadersSent;
  private boolean finished;
  private boolean inboundDone;
  private boolean responseWanted;
  private boolean gzipResponses;
  private boolean clientAcceptsGzip;
  private long bytesSentBeforeReady;
  /** Response bytes written while the client stream was unwritable: parked for its window. */
  private long parkedBytes;
  private final GrpcDeframer.Sink toUpstream = this::sendUpstream;
  /** Whether the call is streamed through: DATA chunks forwarded, message boundaries counted. */
  private boolean streamed;
  private MessageBoundaries requestBounds;
  private MessageBoundaries responseBounds;
  private final MessageBoundaries.Sink requestCounter = length -> record.requestMessage(length);
  private final MessageBoundaries.Sink responseCounter =
      length -> record.responseMessage(length);

  GrpcProxyStream(ProxyService service, ConnectionGuard guard, long openedNanos) {
    super(guard, openedNanos);
    this.service = service;
  }

  @Override
  protected void onHeaders(Http2Headers headers, boolean endStream) {
    if (!started) {
      started = true;
      start(headers, endStream);
    } else if (endStream) {
      // Request trailers: gRPC clients send none, but they end the stream like an empty DATA.
      onInboundEnd();
    }
  }

  @Override
  protected void onReadComplete() {
    readMoreIfReady();
  }

  @Override
  protected void onWritabilityChanged() {
    boolean writable = stream.isWritable();
    if (writable) {
      parkedBytes = 0;
    }
    if (responseWanted && writable && call != null && !finished) {
      responseWanted = false;
      call.request(1);
    }
  }

  @Override
  protected void onReset(long errorCode) {
    cancelUpstream("the client reset the stream (HTTP/2 error " + errorCode + ")");
  }

  @Override
  protected boolean responseStarted() {
    return responseHeadersSent;
  }

  @Override
  protected void onClosed() {
    cancelUpstream("the client went away");
    if (deframer != null) {
      deframer.close();
    }
  }

  @Override
  public long bufferedBytes() {
    return parkedBytes + (deframer == null ? 0 : deframer.partialBytes());
  }

  @Override
  protected void onShed(String reason) {
    if (call != null && !finished) {
      call.cancel(reason, null);
    }
    finished = true;
    if (record != null) {
      record.finish(Status.Code.RESOURCE_EXHAUSTED, 0);
    }
    if (deframer != null) {
      deframer.close();
    }
  }

  @Override
  protected void onStreamError(Throwable cause) {
    logger.log(Level.FINE, "stream error on " + stream, cause);
    cancelUpstream("stream error: " + cause);
    stream.close();
  }

  // ---- Request side ------------------------------------------------------------------------

  private void start(Http2Headers headers, boolean endStream) {
    // Made once: the record, the policies and x-forwarded-for all read it.
    String client = Channels.clientAddress(stream.connection());
    RequestView request = new GrpcRequest(headers, client,
        Channels.clientIdentity(stream.connection()));
    record = service.admission().record("grpc", request);
    CharSequence method = headers.method();
    if (method == null || !AsciiString.contentEquals("POST", method)) {
      Http2Headers response = GrpcWire.trailersOnly(Status.INTERNAL.withDescription(
          "gRPC requires method POST, got " + method));
      response.status(STATUS_405);
      finishWith(response, Status.Code.INTERNAL);
      return;
    }
    CharSequence path = headers.path();
    int slash = path == null ? -1 : AsciiString.indexOf(path, '/', 1);
    if (path == null || path.length() < 4 || path.charAt(0) != '/' || slash < 2
        || slash == path.length() - 1) {
      fail(Status.UNIMPLEMENTED.withDescription(
          "malformed method name '" + path + "' (expected: /package.Service/Method)"));
      return;
    }
    ProxyService.Method called = service.method(path, slash);
    fullMethod = called.fullMethod();
    descriptor = called.descriptor();
    admission = service.admission().admit(record, request, called.service(), called.method());
    if (admission.refusal() != null) {
      refuse(admission.refusal());
      return;
    }

    long clientTimeout = GrpcTimeout.parseNanos(headers.get(GrpcTimeout.HEADER));
    if (clientTimeout == GrpcTimeout.MALFORMED) {
      fail(Status.INVALID_ARGUMENT.withDescription("grpc-timeout '"
          + headers.get(GrpcTimeout.HEADER) + "' is malformed (expected: "
          + GrpcTimeout.FORMAT + ")"));
      return;
    }
    CharSequence encoding = headers.get(GrpcWire.GRPC_ENCODING);
    streamed = admission.streams(stream.executor());
    boolean gzipRequests = encoding != null && AsciiString.contentEqualsIgnoreCase(encoding,
        GrpcWire.GZIP);
    if (!streamed && encoding != null && !gzipRequests
        && !AsciiString.contentEqualsIgnoreCase(encoding, GrpcWire.IDENTITY)) {
      // Streamed calls pass any encoding to the backend, which answers for it.
      Http2Headers response = GrpcWire.trailersOnly(Status.UNIMPLEMENTED.withDescription(
          "grpc-encoding '" + encoding + "' is not supported (supported: gzip, identity)"));
      response.set(GrpcWire.GRPC_ACCEPT_ENCODING, GrpcWire.ACCEPTED_ENCODINGS);
      finishWith(response, Status.Code.UNIMPLEMENTED);
      return;
    }
    clientAcceptsGzip = GrpcWire.acceptsGzip(headers.get(GrpcWire.GRPC_ACCEPT_ENCODING));

    Metadata metadata = GrpcMetadata.toMetadata(headers, client);
    if (metadata == null) {
      fail(Status.INTERNAL.withDescription("a binary (-bin) header is not valid base64"));
      return;
    }
    if (streamed) {
      requestBounds = new MessageBoundaries(service.limits().maxStreamedMessageBytes(),
          "request");
      responseBounds = new MessageBoundaries(service.limits().maxStreamedMessageBytes(),
          "response");
      CharSequence contentType = headers.get(HttpHeaderNames.CONTENT_TYPE);
      call = admission.openStreamed(descriptor, metadata,
          clientTimeout, new io.meshgate.gateway.upstream.StreamedCall.Request(path,
              contentType != null ? contentType : GrpcWire.CONTENT_TYPE_GRPC, encoding,
              headers.get(GrpcWire.GRPC_ACCEPT_ENCODING)),
          request.authority(), stream.executor(), REPLAY, new UpstreamListener());
    } else {
      deframer = new GrpcDeframer(service.allocator(), service.limits().maxMessageBytes(),
          gzipRequests);
      // Keep the client's compression: the backend sees messages as the client sent them.
      call = admission.open(descriptor, metadata, clientTimeout,
          gzipRequests ? "gzip" : null, request.authority(), stream.executor(), REPLAY,
          RESPONSES, new UpstreamListener());
    }
    if (stream.isWritable()) {
      call.request(1);
    } else {
      responseWanted = true;
    }
    if (endStream) {
      onInboundEnd();
    }
  }

  /** Answers a call the admission chain refused, trailers-only. */
  private void refuse(Admission.Refusal refusal) {
    Http2Headers response = GrpcWire.trailersOnly(refusal.status());
    if (refusal.challenge() != null) {
      response.set(WWW_AUTHENTICATE, refusal.challenge());
    }
    if (refusal.statusDetails() != null) {
      response.set(STATUS_DETAILS, java.util.Base64.getEncoder().withoutPadding()
          .encodeToString(refusal.statusDetails()));
    }
    finishWith(response, refusal.status().getCode());
  }

  @Override
  protected void onData(ByteBuf content, boolean endStream) {
    if (finished || call == null || inboundDone) {
      return;
    }
    if (streamed) {
      Status failed = requestBounds.feed(content, requestCounter);
      if (failed != null) {
        fail(failed);
        return;
      }
      if (content.isReadable()) {
        if (!call.isReady()) {
          bytesSentBeforeReady += content.readableBytes();
        }
        call.sendMessage(content); // the call retains what it keeps
      }
      if (endStream) {
        onInboundEnd();
      }
      return;
    }
    Status failed = deframer.feed(content, toUpstream);
    if (failed != null) {
      fail(failed);
      return;
    }
    if (endStream) {
      onInboundEnd();
    }
  }

  private void sendUpstream(ByteBuf message) {
    if (finished) {
      message.release();
      return;
    }
    record.requestMessage(message.readableBytes());
    if (call.isReady()) {
      // The call's real stream copies the message into its own frame before sendMessage returns.
      try {
        call.sendMessage(message);
      } finally {
        message.release();
      }
      return;
    }
    // Before the upstream stream exists, grpc-java may hold the message until it does (or drop it
    // unread if the call fails): hand it a heap copy that needs no release, not a pooled buffer.
    bytesSentBeforeReady += message.readableBytes();
    ByteBuf copy = Unpooled.copiedBuffer(message);
    message.release();
    call.sendMessage(copy);
  }

  private void onInboundEnd() {
    if (inboundDone || finished) {
      return;
    }
    inboundDone = true;
    if (deframer != null && deframer.hasPartialMessage()
        || requestBounds != null && requestBounds.midMessage()) {
      fail(Status.INTERNAL.withDescription(
          "the request stream ended in the middle of a message"));
      return;
    }
    if (call != null) {
      call.halfClose();
    }
  }

  /**
   * Reads on while the upstream call takes more. Until its stream exists a call is never "ready",
   * yet waiting for that would cost a unary call a second upstream write (headers, then the
   * message): so up to {@link #EARLY_BYTES} may be sent ahead, which grpc-java holds until the
   * stream opens.
   */
  private void readMoreIfReady() {
    if (finished) {
      // Drain: what the client still sends is released unread, its window given back.
      stream.read();
    } else if (!inboundDone
        && (call == null || call.isReady() || bytesSentBeforeReady < EARLY_BYTES)) {
      stream.read();
    }
  }

  private void cancelUpstream(String reason) {
    if (call != null && !finished) {
      finished = true;
      call.cancel(reason, null);
    }
    finished = true;
    if (record != null) {
      record.finish(Status.Code.CANCELLED, 0);
    }
  }

  // ---- Response side -----------------------------------------------------------------------

  private final class UpstreamListener extends ClientCall.Listener<ByteBuf> {
    @Override
    public void onHeaders(Metadata metadata) {
      if (finished) {
        return;
      }
      AsciiString backendEncoding = metadata.get(ENCODING_KEY);
      AsciiString contentType = metadata.get(CONTENT_TYPE_KEY);
      // Written as built: the encoder only walks them.
      OutboundHeaders headers = new OutboundHeaders()
          .add(HttpHeaderNames.CONTENT_TYPE,
              contentType != null && GrpcWire.isGrpcContentType(contentType)
                  ? contentType : GrpcWire.CONTENT_TYPE_GRPC);
      if (streamed) {
        // The bytes pass as the backend wrote them, in the encoding it chose from what the
        // client accepts; the client may compress with what the backend accepts.
        AsciiString accepted = metadata.get(ACCEPT_ENCODING_KEY);
        headers.add(GrpcWire.GRPC_ACCEPT_ENCODING,
            accepted != null ? accepted : GrpcWire.ACCEPTED_ENCODINGS);
        if (backendEncoding != null) {
          headers.add(GrpcWire.GRPC_ENCODING, backendEncoding);
        }
      } else {
        gzipResponses = clientAcceptsGzip && backendEncoding != null
            && AsciiString.contentEqualsIgnoreCase(backendEncoding, GrpcWire.GZIP);
        headers.add(GrpcWire.GRPC_ACCEPT_ENCODING, GrpcWire.ACCEPTED_ENCODINGS);
        if (gzipResponses) {
          headers.add(GrpcWire.GRPC_ENCODING, GrpcWire.GZIP);
        }
      }
      GrpcMetadata.addTo(metadata, headers);
      responseHeadersSent = true;
      // A failed write is a stream error (onStreamError cancels the call).
      stream.writeAndFlush(new DefaultHttp2HeadersFrame(headers.response(GrpcWire.STATUS_200),
          false));
    }

    @Override
    public void onMessage(ByteBuf message) {
      if (finished) {
        message.release();
        return;
      }
      ByteBuf frame;
      if (streamed) {
        Status failed = responseBounds.feed(message, responseCounter);
        if (failed != null) {
          message.release();
          fail(failed);
          return;
        }
        frame = message;
      } else {
        record.responseMessage(message.readableBytes() - RawMarshaller.HEADER_BYTES);
        frame = gzipResponses ? compress(message) : prefix(message);
      }
      int frameBytes = frame.readableBytes();
      // Flushes are coalesced per event-loop turn by the connection's FlushConsolidationHandler.
      stream.writeAndFlush(new DefaultHttp2DataFrame(frame, false));
      if (stream.isWritable()) {
        call.request(1);
      } else {
        parkedBytes += frameBytes;
        responseWanted = true;
      }
    }

    @Override
    public void onReady() {
      readMoreIfReady();
    }

    @Override
    public void onClose(Status status, Metadata trailers) {
      if (finished) {
        return;
      }
      finished = true;
      status = admission.upstreamClosed(status, responseHeadersSent, trailers);
      Http2Headers headers;
      if (responseHeadersSent) {
        OutboundHeaders built = new OutboundHeaders();
        GrpcWire.addStatus(built, status);
        GrpcMetadata.addTo(trailers, built);
        headers = built.trailers();
      } else {
        headers = GrpcWire.trailersOnly(status);
        GrpcMetadata.addTo(trailers, headers);
      }
      if (logger.isLoggable(Level.FINE)) {
        logger.fine(String.format("/%s -> %s (%s, %s): %s", fullMethod,
            admission.cluster().name(), admission.route().name(),
            call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR), status));
      }
      finishWith(headers, status.getCode());
    }
  }

  private static ByteBuf prefix(ByteBuf message) {
    int length = message.readableBytes() - RawMarshaller.HEADER_BYTES;
    message.setByte(0, 0);
    message.setInt(1, length);
    return message;
  }

  private ByteBuf compress(ByteBuf message) {
    ByteBuf out = stream.alloc().buffer(message.readableBytes() / 2 + 64);
    out.writerIndex(RawMarshaller.HEADER_BYTES);
    try (GZIPOutputStream gzip = new GZIPOutputStream(new ByteBufOutputStream(out), 8192)) {
      message.skipBytes(RawMarshaller.HEADER_BYTES);
      message.readBytes(gzip, message.readableBytes());
    } catch (IOException e) {
      throw new IllegalStateException("gzip into a memory buffer failed", e);
    } finally {
      message.release();
    }
    out.setByte(0, 1);
    out.setInt(1, out.readableBytes() - RawMarshaller.HEADER_BYTES);
    return out;
  }

  // ---- Ending the stream -------------------------------------------------------------------

  /** Ends the call with a status the gateway makes itself. */
  private void fail(Status status) {
    boolean cancelUpstream = call != null && !finished;
    // The upstream call's own end, which cancel() may deliver before it returns, is not the
    // answer: the client gets this status.
    finished = true;
    if (cancelUpstream) {
      call.cancel("the gateway failed the call: " + status.getDescription(), null);
    }
    if (responseHeadersSent) {
      Http2Headers trailers = new DefaultHttp2Headers(false);
      GrpcWire.addStatus(trailers, status);
      finishWith(trailers, status.getCode());
    } else {
      finishWith(GrpcWire.trailersOnly(status), status.getCode());
    }
  }

  private void finishWith(Http2Headers finalHeaders, Status.Code code) {
    finished = true;
    record.finish(code, 0);
    if (deframer != null) {
      deframer.close();
    }
    FrontStream stream = this.stream;
    if (!stream.isActive()) {
      return;
    }
    readMoreIfReady();
    Http2HeadersFrame last = new DefaultHttp2HeadersFrame(finalHeaders, true);
    if (inboundDone) {
      // The client has finished sending (every unary call): nothing to reset afterwards.
      stream.writeAndFlush(last);
      return;
    }
    stream.writeAndFlushWithFuture(last).addListener(written -> {
      if (!written.isSuccess() || !stream.isActive()) {
        return;
      }
      Http2Stream.State state = stream.state();
      if (state == Http2Stream.State.OPEN || state == Http2Stream.State.HALF_CLOSED_LOCAL) {
        // The response is complete but the client may still be sending: ask it to stop without
        // calling the response an error (RFC 9113 section 8.1). Only once the trailers are
        // written, so that the reset cannot discard response data still waiting for window.
        stream.reset(Http2Error.NO_ERROR);
      }
    });
  }

  /**
   * A gRPC call's request headers and peer, for the admission chain. The authority is read as a
   * string once: the route match and the upstream call both want it.
   */
  private static final class GrpcRequest implements RequestView {
    private final Http2Headers headers;
    private final String peerAddress;
    private final String authority;
    private final io.meshgate.gateway.call.ClientIdentity identity;

    GrpcRequest(Http2Headers headers, String peerAddress,
        io.meshgate.gateway.call.ClientIdentity identity) {
      this.headers = headers;
      this.peerAddress = peerAddress;
      this.identity = identity;
      CharSequence value = headers.authority();
      this.authority = value == null ? null : value.toString();
    }

    @Override
    public String header(String name) {
      CharSequence value = headers.get(name);
      return value == null ? null : value.toString();
    }

    @Override
    public String rawQuery() {
      return null;
    }

    @Override
    public String peerAddress() {
      return peerAddress;
    }

    @Override
    public String authority() {
      return authority;
    }

    @Override
    public io.meshgate.gateway.call.ClientIdentity clientIdentity() {
      return identity;
    }
  }

  /**
   * Values read as the bytes the metadata holds, wrapped, not copied into a string: they are
   * written on as they are.
   */
  private static final InternalMetadata.TrustedAsciiMarshaller<AsciiString> AS_BYTES =
      new InternalMetadata.TrustedAsciiMarshaller<>() {
        @Override
        public byte[] toAsciiString(AsciiString value) {
          return value.toByteArray();
        }

        @Override
        public AsciiString parseAsciiString(byte[] serialized) {
          return new AsciiString(serialized, false);
        }
      };
  private static final Metadata.Key<AsciiString> ENCODING_KEY =
      InternalMetadata.keyOf("grpc-encoding", AS_BYTES);
  private static final Metadata.Key<AsciiString> CONTENT_TYPE_KEY =
      InternalMetadata.keyOf("content-type", AS_BYTES);
  private static final Metadata.Key<AsciiString> ACCEPT_ENCODING_KEY =
      InternalMetadata.keyOf("grpc-accept-encoding", AS_BYTES);

}
