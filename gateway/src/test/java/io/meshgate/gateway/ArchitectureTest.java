package io.meshgate.gateway;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchRule;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The rules of the house (docs/architecture.md): packages import only packages below them, a
 * protocol adapter knows no other adapter, a policy knows no wire format, and the libraries know
 * nothing of the gateway.
 */
class ArchitectureTest {
  private static final JavaClasses GATEWAY = new ClassFileImporter()
      .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
      .importPackages("io.meshgate.gateway");
  private static final JavaClasses LIBRARIES = new ClassFileImporter()
      .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
      .importPackages("io.meshgate.resolver", "io.meshgate.transcoder");

  private static final ArchRule NO_CYCLES =
      slices().matching("io.meshgate.gateway.(*)..").should().beFreeOfCycles();

  @Test
  void gatewayPackagesHaveNoCycles() {
    NO_CYCLES.check(GATEWAY);
  }

  @Test
  void theCycleRuleFindsACycle() {
    // The rule above, on two test packages that import each other: it must not pass them.
    JavaClasses fixture = new ClassFileImporter()
        .importPackages("io.meshgate.archfixture.cycle");
    assertTrue(slices().matching("io.meshgate.archfixture.cycle.(*)..").should()
        .beFreeOfCycles().evaluate(fixture).hasViolation());
  }

  @Test
  void protocolAdaptersDoNotKnowEachOther() {
    List<String> adapters = List.of("proxy", "rest", "grpcweb", "connect", "websocket");
    for (String adapter : adapters) {
      for (String other : adapters) {
        if (!other.equals(adapter)) {
          noClasses().that().resideInAPackage("io.meshgate.gateway." + adapter + "..")
              .should().dependOnClassesThat()
              .resideInAPackage("io.meshgate.gateway." + other + "..")
              .check(GATEWAY);
        }
      }
    }
    // The whole-request exchanges serve every HTTP adapter and know none of them.
    noClasses().that().resideInAPackage("io.meshgate.gateway.http..")
        .should().dependOnClassesThat().resideInAnyPackage("io.meshgate.gateway.rest..",
            "io.meshgate.gateway.grpcweb..", "io.meshgate.gateway.connect..",
            "io.meshgate.gateway.websocket..", "io.meshgate.gateway.proxy..")
        .check(GATEWAY);
  }

  @Test
  void policiesAndTheChainKnowNoWireFormat() {
    noClasses().that().resideInAnyPackage("io.meshgate.gateway.route..",
            "io.meshgate.gateway.auth..", "io.meshgate.gateway.ratelimit..",
            "io.meshgate.gateway.access..",
            "io.meshgate.gateway.resilience..")
        .should().dependOnClassesThat().resideInAnyPackage("io.netty.handler.codec..",
            "io.meshgate.gateway.proxy..", "io.meshgate.gateway.rest..",
            "io.meshgate.gateway.grpcweb..", "io.meshgate.gateway.connect..",
            "io.meshgate.gateway.websocket..", "io.meshgate.gateway.http..",
            "io.meshgate.gateway.front..")
        .check(GATEWAY);
  }

  @Test
  void librariesDoNotDependOnTheGateway() {
    noClasses().should().dependOnClassesThat().resideInAPackage("io.meshgate.gateway..")
        .check(LIBRARIES);
    noClasses().that().resideInAPackage("io.meshgate.resolver..")
        .should().dependOnClassesThat().resideInAPackage("io.meshgate.transcoder..")
        .check(LIBRARIES);
    noClasses().that().resideInAPackage("io.meshgate.transcoder..")
        .should().dependOnClassesThat().resideInAPackage("io.meshgate.resolver..")
        .check(LIBRARIES);
  }
}
