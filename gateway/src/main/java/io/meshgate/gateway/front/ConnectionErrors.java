package io.meshgate.gateway.front;

import io.meshgate.gateway.netty.Channels;
import io.meshgate.gateway.netty.ConnectionCuts;
import io.meshgate.gateway.netty.ConnectionGuard;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http2.Http2Exception;
import java.io.IOException;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The last word on an exception in a client connection's pipeline: log it, close. Errors a
 * peer can cause at will are logged at FINE; the rest are warnings, counted and rate-limited
 * by {@link ConnectionCuts}. Shared by the handlers of every connection; thread-safe.
 */
final class ConnectionErrors {
  private static final Logger logger = Logger.getLogger(ConnectionErrors.class.getName());

  private final ConnectionCuts cuts;

  ConnectionErrors(ConnectionCuts cuts) {
    this.cuts = cuts;
  }

  void caught(ChannelHandlerContext ctx, Throwable cause) {
    // Peers resetting connections or breaking the protocol is daily life for a gateway (and
    // the peer's problem, which it was told about in a GOAWAY), not a warning.
    if (cause instanceof IOException || cause instanceof Http2Exception) {
      if (logger.isLoggable(Level.FINE)) {
        logger.log(Level.FINE, "connection " + ctx.channel() + ": " + cause, cause);
      }
    } else {
      cuts.cut(ConnectionCuts.Reason.ERROR, Channels.clientAddress(ctx.channel()), Level.WARNING,
          () -> "connection " + ctx.channel() + ": " + cause, cause);
    }
    if (ConnectionGuard.isLingering(ctx.channel())) {
      // Closed for abuse a moment from now, on purpose not at once (see ConnectionGuard).
      return;
    }
    if (!(cause instanceof Http2Exception)) {
      // HTTP/2 errors are already answered by the codec (RST_STREAM, or GOAWAY with the right
      // code and then close); closing here would cut that answer off.
      ctx.close();
    }
  }
}
