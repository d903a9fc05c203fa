package io.meshgate.gateway.front;

/**
 * Fired down every client connection's pipeline when the gateway starts draining: HTTP/2
 * connections answer with GOAWAY and close once their streams finish, HTTP/1.1 connections close
 * after the response in progress, connections that have not spoken yet close at once.
 */
final class DrainEvent {
  static final DrainEvent INSTANCE = new DrainEvent();

  private DrainEvent() {}
}
