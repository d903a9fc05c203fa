package io.meshgate.gateway;

import java.util.logging.Logger;
import sun.misc.Signal;

/**
 * Runs the graceful drain on SIGTERM and SIGINT. A handler (rather than a shutdown hook) keeps
 * logging and the event loops fully alive while calls in flight finish; a second signal stops at
 * once.
 */
final class Signals {
  private static final Logger logger = Logger.getLogger(Signals.class.getName());

  private Signals() {}

  static void onTermination(Runnable drain) {
    Runnable once = new Runnable() {
      private boolean received;

      @Override
      public synchronized void run() {
        if (received) {
          logger.warning("second signal: stopping now");
          Runtime.getRuntime().halt(1);
        }
        received = true;
        drain.run();
      }
    };
    try {
      Signal.handle(new Signal("TERM"), signal -> once.run());
      Signal.handle(new Signal("INT"), signal -> once.run());
    } catch (IllegalArgumentException | UnsupportedOperationException e) {
      Runtime.getRuntime().addShutdownHook(new Thread(once, "meshgate-drain"));
    }
  }
}
