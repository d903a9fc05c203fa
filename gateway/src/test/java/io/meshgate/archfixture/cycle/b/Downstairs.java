package io.meshgate.archfixture.cycle.b;

import io.meshgate.archfixture.cycle.a.Upstairs;

/** The other half: an import that points back up. */
public final class Downstairs {
  Upstairs above;
}
