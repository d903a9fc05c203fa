package io.meshgate.gateway.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.meshgate.gateway.config.ConfigLoader;
import io.meshgate.gateway.config.GatewayConfig;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.yaml.snakeyaml.Yaml;

/**
 * What ships to operators cannot rot: the distribution archive unpacks into a launcher that runs
 * (and checks its configuration), and the Kubernetes manifests and the Dockerfile name the ports,
 * probe paths, arguments and configuration the gateway really takes.
 */
class DeploymentIntegrationTest {
  private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
  private static final Path K8S = ROOT.resolve("deploy/kubernetes");

  @TempDir
  Path dir;

  @SuppressWarnings("unchecked")
  private static Map<String, Object> manifest(String file) throws Exception {
    try (InputStream in = Files.newInputStream(K8S.resolve(file))) {
      return (Map<String, Object>) new Yaml().load(in);
    }
  }

  @SuppressWarnings("unchecked")
  private static <T> T at(Object node, String... path) {
    Object current = node;
    for (String step : path) {
      current = current instanceof List<?> list ? list.get(Integer.parseInt(step))
          : ((Map<String, Object>) current).get(step);
    }
    return (T) current;
  }

  private GatewayConfig configMapConfig() throws Exception {
    String yaml = at(manifest("configmap.yaml"), "data", "gateway.yaml");
    Path file = Files.writeString(dir.resolve("gateway.yaml"), yaml);
    return ConfigLoader.load(file);
  }

  @Test
  void theManifestsMatchWhatTheGatewayTakes() throws Exception {
    GatewayConfig config = configMapConfig(); // throws, naming every error, if it is invalid
    Map<String, Object> deployment = manifest("deployment.yaml");
    Map<String, Object> container = at(deployment, "spec", "template", "spec", "containers",
        "0");
    List<Map<String, Object>> ports = at(container, "ports");
    Map<String, Integer> byName = new java.util.HashMap<>();
    ports.forEach(p -> byName.put((String) p.get("name"), (Integer) p.get("containerPort")));
    assertEquals(config.listener().port(), byName.get("http"));
    assertEquals(config.admin().port(), byName.get("admin"));
    assertEquals("/readyz", (String) at(container, "readinessProbe", "httpGet", "path"));
    assertEquals("admin", (String) at(container, "readinessProbe", "httpGet", "port"));
    assertEquals("/healthz", (String) at(container, "livenessProbe", "httpGet", "path"));
    List<String> args = at(container, "args");
    assertEquals(List.of("--config", "/etc/meshgate/gateway.yaml"), args);
    List<Map<String, Object>> mounts = at(container, "volumeMounts");
    assertTrue(mounts.stream().anyMatch(m -> m.get("mountPath").equals("/etc/meshgate")
        && m.get("name").equals("config")), "the ConfigMap is where --config points");
    assertEquals("meshgate", (String) at(deployment, "spec", "template", "spec", "volumes", "0",
        "configMap", "name"));
    int grace = at(deployment, "spec", "template", "spec", "terminationGracePeriodSeconds");
    List<String> command = at(container, "lifecycle", "preStop", "exec", "command");
    String preStop = String.join(" ", command);
    Matcher sleep = Pattern.compile("sleep (\\d+)").matcher(preStop);
    assertTrue(sleep.find(), preStop);
    long needed = Long.parseLong(sleep.group(1)) + config.shutdown().readinessGrace()
        .toSeconds() + config.shutdown().drainTimeout().toSeconds();
    assertTrue(grace > needed, "terminationGracePeriodSeconds " + grace + " covers preStop,"
        + " readinessGrace and drainTimeout (" + needed + " s)");
    assertEquals(Boolean.TRUE, (Boolean) at(deployment, "spec", "template", "spec",
        "securityContext", "runAsNonRoot"));
    assertEquals(Boolean.TRUE, (Boolean) at(container, "securityContext",
        "readOnlyRootFilesystem"));
    assertEquals(Boolean.FALSE, (Boolean) at(container, "securityContext",
        "allowPrivilegeEscalation"));
    assertTrue(at(container, "resources", "requests") != null);

    Map<String, String> podLabels = at(deployment, "spec", "template", "metadata", "labels");
    Map<String, Object> service = manifest("service.yaml");
    Map<String, String> selector = at(service, "spec", "selector");
    assertEquals(podLabels, selector);
    List<Map<String, Object>> servicePorts = at(service, "spec", "ports");
    for (Map<String, Object> port : servicePorts) {
      assertTrue(byName.containsKey((String) port.get("targetPort")), "Service targetPort "
          + port.get("targetPort") + " is a container port's name");
    }
    Map<String, String> pdb = at(manifest("pdb.yaml"), "spec", "selector", "matchLabels");
    assertEquals(podLabels, pdb);
    String name = at(deployment, "metadata", "name");
    String scaled = at(manifest("hpa.yaml"), "spec", "scaleTargetRef", "name");
    assertEquals(name, scaled);
    Map<String, String> matched = at(deployment, "spec", "selector", "matchLabels");
    assertEquals(podLabels, matched);
  }

  @Test
  void theDistributionUnpacksIntoALauncherThatRuns() throws Exception {
    Path archive;
    try (var built = Files.list(Path.of("target"))) {
      archive = built.filter(p -> p.getFileName().toString().matches("meshgate-.+\\.tar\\.gz"))
          .findFirst().orElseThrow(() -> new AssertionError("mvn package builds"
              + " target/meshgate-<version>.tar.gz")).toAbsolutePath();
    }
    String name = archive.getFileName().toString();
    String version = name.substring("meshgate-".length(), name.length() - ".tar.gz".length());
    Process tar = new ProcessBuilder("tar", "xzf", archive.toString(), "-C", dir.toString())
        .inheritIO().start();
    assertEquals(0, tar.waitFor());
    Path home = dir.resolve("meshgate-" + version);
    for (String file : List.of("bin/meshgate", "lib/meshgate.jar", "config/gateway.yaml",
        "systemd/meshgate.service", "THIRD-PARTY.txt")) {
      assertTrue(Files.isRegularFile(home.resolve(file)), file + " in the archive");
    }
    assertTrue(Files.isExecutable(home.resolve("bin/meshgate")));
    assertTrue(Files.readString(home.resolve("THIRD-PARTY.txt")).contains("io.netty"),
        "the bundled libraries and their licenses");
    Process validate = new ProcessBuilder(home.resolve("bin/meshgate").toString(), "validate",
        home.resolve("config/gateway.yaml").toString()).redirectErrorStream(true).start();
    String output = new String(validate.getInputStream().readAllBytes(),
        StandardCharsets.UTF_8);
    assertTrue(validate.waitFor(60, TimeUnit.SECONDS));
    assertEquals(0, validate.exitValue(), output);
    assertTrue(output.contains("ok"), output);
    // The launcher says what Java it needs when the one it finds is too old.
    Path fakeJava = Files.createDirectories(dir.resolve("old-jdk/bin")).resolve("java");
    Files.writeString(fakeJava, "#!/bin/sh\necho 'openjdk version \"11.0.20\" 2023-07-18' >&2\n");
    assertTrue(fakeJava.toFile().setExecutable(true));
    ProcessBuilder old = new ProcessBuilder(home.resolve("bin/meshgate").toString(), "--help")
        .redirectErrorStream(true);
    old.environment().put("JAVA_HOME", dir.resolve("old-jdk").toString());
    Process tooOld = old.start();
    String said = new String(tooOld.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(tooOld.waitFor(30, TimeUnit.SECONDS));
    assertEquals(2, tooOld.exitValue(), said);
    assertTrue(said.contains("needs Java 17 or newer") && said.contains("11.0.20"), said);
  }

  @Test
  void theDockerfileRunsTheDistributionsLauncherOnTheConfiguredPorts() throws Exception {
    String dockerfile = Files.readString(ROOT.resolve("deploy/Dockerfile"));
    GatewayConfig config = configMapConfig();
    assertTrue(dockerfile.contains("EXPOSE " + config.listener().port() + " "
        + config.admin().port()), dockerfile);
    assertTrue(dockerfile.contains("ENTRYPOINT [\"/opt/meshgate/bin/meshgate\"]"));
    assertTrue(dockerfile.contains("CMD [\"--config\", \"/etc/meshgate/gateway.yaml\"]"),
        "the path the Deployment mounts the ConfigMap at");
    Matcher user = Pattern.compile("(?m)^USER (\\d+)").matcher(dockerfile);
    assertTrue(user.find() && !user.group(1).equals("0"), "not root");
    Map<String, Object> deployment = manifest("deployment.yaml");
    assertEquals(Integer.parseInt(user.group(1)), (Integer) at(deployment, "spec", "template",
        "spec", "securityContext", "runAsUser"));
    List<String> adds = new ArrayList<>();
    Matcher add = Pattern.compile("(?m)^ADD (\\S+)").matcher(dockerfile);
    while (add.find()) {
      adds.add(add.group(1));
    }
    assertEquals(List.of("gateway/target/meshgate-${VERSION}.tar.gz"), adds,
        "the image is built from the distribution archive");
  }
}
