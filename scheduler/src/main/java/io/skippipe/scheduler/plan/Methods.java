package io.skippipe.scheduler.plan;

import io.skippipe.scheduler.route.CbsRouter;
import io.skippipe.scheduler.route.FullPipelineRouter;
import io.skippipe.scheduler.route.Router;
import java.util.List;

/** The method registry: one router per method, in the order of the comparison table. */
public final class Methods {
  private Methods() {}

  /** Method names, baseline first. */
  public static final List<String> NAMES =
      List.of("dtfm", "dtfm-skip", "skippipe-no-tc2", "skippipe");

  /** The router of a method. */
  public static Router router(String method) {
    return switch (method) {
      case "dtfm" -> new FullPipelineRouter();
      case "dtfm-skip" -> new CbsRouter("dtfm-skip", false, true);
      case "skippipe-no-tc2" -> new CbsRouter("skippipe-no-tc2", false, false);
      case "skippipe" -> new CbsRouter("skippipe", true, false);
      default -> throw PlanningException.of("method '" + method + "'", "unknown method",
          "use one of " + NAMES);
    };
  }

  /** Whether the method sends every microbatch through every stage in order. */
  public static boolean isFullPipeline(String method) {
    return method.equals("dtfm");
  }
}
