package io.skippipe.job.cli;

import io.skippipe.job.spark.HadoopConfs;
import io.skippipe.scheduler.cli.ExitCodes;
import io.skippipe.scheduler.plan.Plan;
import io.skippipe.scheduler.plan.PlanCodec;
import io.skippipe.scheduler.simulate.SimulationResult;
import io.skippipe.scheduler.simulate.Simulator;
import io.skippipe.scheduler.timeline.HtmlTimeline;
import io.skippipe.scheduler.timeline.Span;
import io.skippipe.scheduler.timeline.SpanJson;
import io.skippipe.scheduler.validate.ScheduleValidator;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code bin/skippipe timeline}: the predicted timeline of a plan, and for a run directory also the
 * measured one, as one self-contained HTML page. Reads through Hadoop FileSystem (local paths,
 * hdfs://, s3a://).
 */
@Command(name = "timeline", sortOptions = false, sortSynopsis = false,
    description = "Draw a plan's predicted timeline, and a run directory's measured one next to "
        + "it, as one self-contained HTML page.")
final class TimelineCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Parameters(index = "0", paramLabel = "plan.json|RUN_DIR",
      description = "A plan.json, or a run directory (plan.json + trace/*.jsonl); any Hadoop URI.")
  String input;

  @Option(names = "--out", required = true, paramLabel = "FILE", order = 1,
      description = "The HTML page to write (local path).")
  java.nio.file.Path out;

  @Option(names = "-D", paramLabel = "KEY=VALUE", order = 2,
      description = "A Hadoop setting for reading the input, e.g. -D fs.s3a.endpoint=URL; "
          + "repeatable (HADOOP_CONF_DIR is read too).")
  Map<String, String> hadoop = new java.util.LinkedHashMap<>();

  @Override
  public Integer call() throws IOException {
    Configuration conf = HadoopConfs.current(hadoop);
    Path in = new Path(HadoopConfs.toUri(input));
    FileSystem fs = in.getFileSystem(conf);
    if (!fs.exists(in)) {
      throw new IllegalArgumentException(input + " does not exist; pass a plan.json or a run"
          + " directory (RUN_DIR holding plan.json)");
    }
    boolean runDir = fs.getFileStatus(in).isDirectory();
    Path planFile = runDir ? new Path(in, "plan.json") : in;
    if (!fs.exists(planFile)) {
      throw new IllegalArgumentException(input + " is a directory without plan.json; pass a plan"
          + " file or a run directory");
    }
    Plan plan;
    try (InputStream s = fs.open(planFile)) {
      plan = PlanCodec.read(s, planFile.toString()).withPredicted(null);
    }
    ScheduleValidator.checkPaths(plan).throwIfInvalid();
    SimulationResult sim = Simulator.run(plan);
    List<HtmlTimeline.Section> sections = new ArrayList<>();
    sections.add(new HtmlTimeline.Section("predicted (simulated " + plan.method() + " plan)",
        sim.spans()));
    if (runDir) {
      List<Span> raw = measuredSpans(fs, new Path(in, "trace"));
      if (!raw.isEmpty()) {
        long origin = raw.stream().mapToLong(Span::startMicros).min().orElse(0);
        List<Span> spans = raw.stream().map(x -> new Span(x.node(), x.stage(), x.microbatch(),
            x.kind(), x.startMicros() - origin, x.endMicros() - origin)).toList();
        sections.add(new HtmlTimeline.Section("measured (" + in + "/trace)", spans));
      }
    }
    if (out.toAbsolutePath().getParent() != null) {
      Files.createDirectories(out.toAbsolutePath().getParent());
    }
    try (OutputStream o = Files.newOutputStream(out)) {
      HtmlTimeline.write("SkipPipe timeline: " + plan.method() + " on " + plan.cluster().name()
          + " / " + plan.model().name(), sections, o);
    }
    spec.commandLine().getOut().println("wrote " + out + " (" + sections.size() + " timeline"
        + (sections.size() > 1 ? "s" : "") + ")");
    return ExitCodes.OK;
  }

  /**
   * The measured spans of a run: every {@code *.jsonl} file directly under {@code traceDir} (one
   * {@code measured-spans.jsonl}, or one part per chunk), in name order; none when it is absent.
   */
  static List<Span> measuredSpans(FileSystem fs, Path traceDir) throws IOException {
    List<Span> spans = new ArrayList<>();
    if (!fs.exists(traceDir)) {
      return spans;
    }
    FileStatus[] parts = fs.listStatus(traceDir, p -> p.getName().endsWith(".jsonl"));
    Arrays.sort(parts);
    for (FileStatus part : parts) {
      try (InputStream s = fs.open(part.getPath())) {
        spans.addAll(SpanJson.read(s));
      }
    }
    return spans;
  }
}
