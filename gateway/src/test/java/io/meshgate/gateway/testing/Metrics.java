package io.meshgate.gateway.testing;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One scrape of a gateway's {@code /metrics}, parsed: samples can be looked up by name and a
 * subset of their labels, whatever order the exposition writes labels in.
 */
public final class Metrics {
  private static final HttpClient CLIENT = HttpClient.newBuilder()
      .connectTimeout(Duration.ofSeconds(5)).build();

  /** One sample line. */
  public record Sample(String name, Map<String, String> labels, double value) {}

  private final String text;
  private final List<Sample> samples;

  private Metrics(String text, List<Sample> samples) {
    this.text = text;
    this.samples = samples;
  }

  /** Scrapes {@code http://127.0.0.1:adminPort/metrics}. */
  public static Metrics scrape(int adminPort) throws Exception {
    HttpResponse<String> response = CLIENT.send(HttpRequest.newBuilder(
        URI.create("http://127.0.0.1:" + adminPort + "/metrics")).timeout(Duration.ofSeconds(10))
        .build(), HttpResponse.BodyHandlers.ofString());
    if (response.statusCode() != 200) {
      throw new AssertionError("/metrics answered " + response.statusCode() + ": "
          + response.body());
    }
    return parse(response.body());
  }

  /** Parses Prometheus text format. */
  public static Metrics parse(String text) {
    List<Sample> samples = new ArrayList<>();
    for (String line : text.split("\n")) {
      if (line.isBlank() || line.startsWith("#")) {
        continue;
      }
      int brace = line.indexOf('{');
      int space = line.lastIndexOf(' ');
      String name;
      Map<String, String> labels = new LinkedHashMap<>();
      if (brace >= 0 && brace < space) {
        name = line.substring(0, brace);
        String body = line.substring(brace + 1, line.lastIndexOf('}'));
        int i = 0;
        while (i < body.length()) {
          int eq = body.indexOf('=', i);
          String key = body.substring(i, eq).trim();
          StringBuilder value = new StringBuilder();
          int j = eq + 2; // past ="
          while (body.charAt(j) != '"') {
            char c = body.charAt(j);
            if (c == '\\') {
              j++;
              c = body.charAt(j) == 'n' ? '\n' : body.charAt(j);
            }
            value.append(c);
            j++;
          }
          labels.put(key, value.toString());
          i = j + 1;
          if (i < body.length() && body.charAt(i) == ',') {
            i++;
          }
        }
      } else {
        name = line.substring(0, space);
      }
      samples.add(new Sample(name, labels, Double.parseDouble(line.substring(space + 1))));
    }
    return new Metrics(text, samples);
  }

  /** The exposition text. */
  public String text() {
    return text;
  }

  /** Samples of {@code name} whose labels include every one of {@code labels} (k, v, k, v...). */
  public List<Sample> find(String name, String... labels) {
    List<Sample> found = new ArrayList<>();
    for (Sample sample : samples) {
      if (!sample.name().equals(name)) {
        continue;
      }
      boolean match = true;
      for (int i = 0; i < labels.length; i += 2) {
        if (!labels[i + 1].equals(sample.labels().get(labels[i]))) {
          match = false;
          break;
        }
      }
      if (match) {
        found.add(sample);
      }
    }
    return found;
  }

  /** The sum of the samples {@link #find} returns (0 when there are none). */
  public double sum(String name, String... labels) {
    return find(name, labels).stream().mapToDouble(Sample::value).sum();
  }
}
