package io.meshgate.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Runs {@link EchoLoad} in a JVM of its own against a gateway and measures, over exactly the
 * measured interval, the CPU time the gateway process spent (from /proc): one {@link Result}
 * per run.
 */
final class EchoRuns {
  /** One measured run. */
  record Result(long qps, long p50, long p99, double gatewayMicrosPerRequest) {}

  private final String javaCmd;
  private final String benchJar;
  private final int warmup;
  private final int duration;
  private final long ticksPerSecond;

  EchoRuns(int warmup, int duration) throws Exception {
    this.javaCmd = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    this.benchJar = Path.of(EchoRuns.class.getProtectionDomain().getCodeSource().getLocation()
        .getPath()).toString();
    this.warmup = warmup;
    this.duration = duration;
    Process getconf = new ProcessBuilder("getconf", "CLK_TCK").start();
    this.ticksPerSecond = Long.parseLong(new String(getconf.getInputStream().readAllBytes(),
        StandardCharsets.US_ASCII).strip());
  }

  String javaCmd() {
    return javaCmd;
  }

  /**
   * Drives EchoService/Echo at {@code port} (4 channels x 10 calls in flight).
   *
   * @param gateway the gateway process whose CPU is measured
   * @param headers extra request headers, {@code name:value}
   */
  Result run(int port, int size, Process gateway, List<String> headers) throws Exception {
    List<String> command = new ArrayList<>(List.of(javaCmd, "-cp", benchJar,
        "io.meshgate.bench.EchoLoad", "--address=127.0.0.1:" + port, "--size=" + size,
        "--channels=4", "--outstanding=10", "--warmup=" + warmup, "--duration=" + duration));
    headers.forEach(h -> command.add("--header=" + h));
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    StringBuilder output = new StringBuilder();
    long cpuStart = -1;
    long cpuEnd = -1;
    try (BufferedReader reader = new BufferedReader(new InputStreamReader(p.getInputStream(),
        StandardCharsets.UTF_8))) {
      String line;
      while ((line = reader.readLine()) != null) {
        output.append(line).append('\n');
        if (line.equals("MEASURE-START")) {
          cpuStart = cpuTicks(gateway);
        } else if (line.equals("MEASURE-END")) {
          cpuEnd = cpuTicks(gateway);
        }
      }
    }
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0 || cpuEnd < 0
        || !output.toString().contains("failed: 0")) {
      throw new IllegalStateException("EchoLoad failed:\n" + output);
    }
    long qps = find(Pattern.compile("QPS: (\\d+)"), output);
    return new Result(qps, find(Pattern.compile("p50 us: (\\d+)"), output),
        find(Pattern.compile("p99 us: (\\d+)"), output), cpuMicros(cpuEnd - cpuStart, qps));
  }

  /** CPU microseconds per request, from clock ticks over the measured duration. */
  double cpuMicros(long ticks, long qps) {
    double seconds = (double) ticks / ticksPerSecond;
    return seconds * 1_000_000 / Math.max(1, qps * (long) duration);
  }

  /** A process's user + system CPU time, in clock ticks. */
  static long cpuTicks(Process process) throws IOException {
    return cpuTicks(process.pid());
  }

  /** The user + system CPU time of process {@code pid} (all its threads), in clock ticks. */
  static long cpuTicks(long pid) throws IOException {
    String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
    String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    return Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
  }

  /** The median of the runs' gateway CPU per request, taken on its own. */
  static double medianCpu(List<Result> results) {
    double[] values = results.stream().mapToDouble(Result::gatewayMicrosPerRequest).sorted()
        .toArray();
    return values[values.length / 2];
  }

  /** The median run by QPS. */
  static Result median(List<Result> results) {
    List<Result> sorted = new ArrayList<>(results);
    sorted.sort((a, b) -> Long.compare(a.qps(), b.qps()));
    return sorted.get(sorted.size() / 2);
  }

  static long find(Pattern pattern, CharSequence output) {
    return Long.parseLong(findText(pattern, output));
  }

  static String findText(Pattern pattern, CharSequence output) {
    Matcher m = pattern.matcher(output);
    if (!m.find()) {
      throw new IllegalStateException("no " + pattern + " in:\n" + output);
    }
    return m.group(1);
  }
}
