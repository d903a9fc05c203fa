package io.meshgate.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Installs a Debian package that a test needs when the machine lacks it (the CI machine starts
 * bare; the test command runs as root there), so that such tests never skip.
 */
public final class DebianPackages {
  private DebianPackages() {}

  /**
   * Makes sure {@code check} succeeds, installing {@code pkg} with apt-get first if it fails.
   *
   * @param check a command that exits 0 when the package is usable
   * @throws IllegalStateException with apt-get's output when the install fails
   */
  public static synchronized void ensure(String pkg, List<String> check) {
    if (succeeds(check)) {
      return;
    }
    String output = run(List.of("apt-get", "install", "-y", "--no-install-recommends", pkg));
    if (!succeeds(check)) {
      // The package lists may be missing on a fresh machine: refresh them once and retry.
      run(List.of("apt-get", "update"));
      output = run(List.of("apt-get", "install", "-y", "--no-install-recommends", pkg));
    }
    if (!succeeds(check)) {
      throw new IllegalStateException("Debian package " + pkg + " is needed and could not be"
          + " installed (run as root: apt-get install -y " + pkg + "):\n" + output);
    }
  }

  private static boolean succeeds(List<String> command) {
    try {
      Process p = new ProcessBuilder(command).redirectErrorStream(true)
          .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
      return p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0;
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  private static String run(List<String> command) {
    try {
      ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
      builder.environment().put("DEBIAN_FRONTEND", "noninteractive");
      Process p = builder.start();
      String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(10, TimeUnit.MINUTES)) {
        p.destroyForcibly();
      }
      return output;
    } catch (IOException e) {
      return e.toString();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return e.toString();
    }
  }
}
