package io.meshgate.archfixture.cycle.a;

import io.meshgate.archfixture.cycle.b.Downstairs;

/** Half of a deliberate package cycle, for ArchitectureTest to find. */
public final class Upstairs {
  Downstairs below;
}
