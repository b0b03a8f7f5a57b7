package io.skippipe.job.cli;

import io.skippipe.job.spark.HadoopConfs;
import io.skippipe.job.trace.RunTrace;
import io.skippipe.scheduler.cli.ExitCodes;
import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.plan.PlanCodec;
import io.skippipe.scheduler.simulate.Simulator;
import io.skippipe.scheduler.timeline.ChromeTrace;
import io.skippipe.scheduler.timeline.HtmlTimeline;
import io.skippipe.scheduler.timeline.TimelineBuilder;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code bin/skippipe timeline}: a plan's predicted iteration, or a run directory's measured
 * spans under their prediction, as one self-contained HTML page ({@link TimelineBuilder}, {@link
 * HtmlTimeline}); optionally also a Chrome/Perfetto trace. Reads through Hadoop FileSystem.
 */
@Command(name = "timeline", sortOptions = false, sortSynopsis = false,
    description = "Draw a plan's predicted iteration, or a run directory's measured timeline "
        + "under its prediction, as one self-contained HTML page (and a Perfetto trace).")
final class TimelineCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Parameters(index = "0", paramLabel = "plan.json|RUN_DIR",
      description = "A plan.json, or a run directory (plan.json, trace/, metrics/); any Hadoop "
          + "URI.")
  String input;

  @Option(names = "--out", required = true, paramLabel = "FILE", order = 1,
      description = "The HTML page to write (local path); open it in a browser.")
  java.nio.file.Path out;

  @Option(names = "--trace", paramLabel = "FILE", order = 2,
      description = "Also write a Chrome trace (open in ui.perfetto.dev or chrome://tracing).")
  java.nio.file.Path trace;

  @Option(names = "--time-scale", paramLabel = "S", order = 3,
      description = "Scale the prediction by S (default: the run's recorded "
          + "spark.skippipe.network.timeScale when it emulated the network, else 1).")
  Double timeScale;

  @Option(names = "--width", paramLabel = "PX", order = 4,
      description = "Width of the time axis in pixels (default: wide enough to label the"
          + " measured compute bars, at most 12000).")
  int width;

  @Mixin HadoopOptions hadoop;

  @Override
  public Integer call() throws IOException {
    if (width < 0) {
      throw new ParameterException(spec.commandLine(), "--width " + width + " must be positive");
    }
    if (timeScale != null && !(timeScale > 0 && Double.isFinite(timeScale))) {
      throw new ParameterException(spec.commandLine(), "--time-scale " + timeScale + " must be a"
          + " positive number");
    }
    Path in = new Path(HadoopConfs.toUri(input));
    FileSystem fs = in.getFileSystem(hadoop.conf());
    if (!fs.exists(in)) {
      throw new IllegalArgumentException(input + " does not exist; pass a plan.json or a run"
          + " directory (spark.skippipe.run.dir)");
    }
    boolean runDir = fs.getFileStatus(in).isDirectory();
    HtmlTimeline.Page page;
    if (runDir) {
      page = RunTrace.page(fs, in, timeScale);
    } else {
      Plan plan;
      try (InputStream s = fs.open(in)) {
        plan = PlanCodec.read(s, in.toString()).withPredicted(null);
      }
      page = TimelineBuilder.plan(plan, Simulator.run(plan));
    }
    boolean measured = page.panels().size() > 1;
    write(out, o -> HtmlTimeline.write(page, o, width));
    if (trace != null) {
      List<ChromeTrace.Process> processes = new ArrayList<>();
      for (HtmlTimeline.Panel p : page.panels()) {
        processes.add(new ChromeTrace.Process(p.title(), page.rows(), p.spans()));
      }
      write(trace, o -> ChromeTrace.write(processes, o));
    }
    int spans = page.panels().stream().mapToInt(p -> p.spans().size()).sum();
    spec.commandLine().getOut().printf("wrote %s (%s, %d spans)%s; open it in a browser%s%n",
        out.toAbsolutePath(), measured ? "predicted and measured timelines of " + in
            : runDir ? "predicted timeline; " + in + " has no measured spans yet"
            : "predicted timeline of the plan", spans,
        trace == null ? "" : " and " + trace.toAbsolutePath(),
        trace == null ? "" : " / ui.perfetto.dev");
    return ExitCodes.OK;
  }

  private interface Body {
    void write(OutputStream o) throws IOException;
  }

  private static void write(java.nio.file.Path file, Body body) throws IOException {
    if (file.toAbsolutePath().getParent() != null) {
      Files.createDirectories(file.toAbsolutePath().getParent());
    }
    try (OutputStream o = Files.newOutputStream(file)) {
      body.write(o);
    }
  }
}
