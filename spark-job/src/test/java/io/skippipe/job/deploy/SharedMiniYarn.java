package io.skippipe.job.deploy;

import io.skippipe.job.testing.MiniYarn;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * Resolves a {@link MiniYarn} parameter with one instance for the whole test run, started on
 * first use under {@code spark-job/target/yarn-it} with the Spark jars and the dist jar that
 * {@code mvn package} produced, and closed when the run ends (root extension store).
 */
final class SharedMiniYarn implements ParameterResolver {
  @Override
  public boolean supportsParameter(ParameterContext p, ExtensionContext e) {
    return p.getParameter().getType() == MiniYarn.class;
  }

  @Override
  public Object resolveParameter(ParameterContext p, ExtensionContext e) {
    return e.getRoot().getStore(ExtensionContext.Namespace.GLOBAL)
        .getOrComputeIfAbsent(MiniYarn.class, k -> start(), MiniYarn.class);
  }

  private static MiniYarn start() {
    try {
      return MiniYarn.start(DistJarIT.TARGET.resolve("yarn-it"), DistJarIT.launcherClasspath(),
          DistJarIT.TARGET.resolve(DeployArtifactsTest.distJarName()));
    } catch (Exception ex) {
      throw new IllegalStateException("MiniYarn did not start: " + ex, ex);
    }
  }
}
