package io.skippipe.job.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.skippipe.job.testing.MiniHdfs;
import io.skippipe.job.testing.TestPlans;
import io.skippipe.scheduler.plan.PlanCodec;
import io.skippipe.scheduler.timeline.Span;
import io.skippipe.scheduler.timeline.SpanJson;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bin/skippipe timeline} on run directories read through Hadoop FileSystem: a two-chunk
 * run on HDFS (one span file per chunk, iteration windows, a recorded time scale), a run with the
 * older single {@code measured-spans.jsonl}, a plan file, and bad input.
 */
class TimelineCommandTest {
  static final long ORIGIN = 1_700_000_000_000_000L;
  @TempDir Path tmp;

  /** Spans of iteration {@code it} starting at {@code at} µs after the origin. */
  static List<Span> iteration(long at) {
    List<Span> s = new ArrayList<>();
    s.add(new Span(0, 0, 0, Span.Kind.FWD, at, at + 100_000));
    s.add(new Span(0, 0, 1, Span.Kind.FWD, at + 100_000, at + 200_000));
    s.add(new Span(2, 1, 0, Span.Kind.FWD, at + 210_000, at + 300_000));
    s.add(new Span(2, 1, 1, Span.Kind.FWD, at + 300_000, at + 400_000));
    s.add(new Span(0, 0, 0, Span.Kind.BWD, at + 500_000, at + 650_000));
    for (int node = 0; node < 6; node++) {
      s.add(new Span(node, TestPlans.skippipe().stageOf(node), -1, Span.Kind.WAIT,
          at + 650_000, at + 700_000));
    }
    return s;
  }

  static void write(FileSystem fs, String path, String text) throws Exception {
    try (OutputStream o = fs.create(new org.apache.hadoop.fs.Path(path), true)) {
      o.write(text.getBytes(StandardCharsets.UTF_8));
    }
  }

  static String lines(List<Span> spans) {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    SpanJson.write(spans, b);
    return b.toString(StandardCharsets.UTF_8);
  }

  static String iterationLine(int it, long start, long end) {
    return "{\"iteration\":" + it + ",\"loss\":6.9,\"iterationSeconds\":" + (end - start) / 1e6
        + ",\"startEpochMicros\":" + (ORIGIN + start) + ",\"endEpochMicros\":" + (ORIGIN + end)
        + "}\n";
  }

  @Test
  void drawsAChunkedRunFromHdfsWithItsTimeScale() throws Exception {
    try (MiniHdfs hdfs = MiniHdfs.start()) {
      String run = hdfs.uri() + "/runs/r1";
      FileSystem fs = FileSystem.get(java.net.URI.create(hdfs.uri()), new Configuration());
      write(fs, run + "/plan.json", PlanCodec.toJsonString(TestPlans.skippipe()));
      write(fs, run + "/run.json", "{\"format\":\"skippipe-run/1\",\"lineage\":\"x\","
          + "\"originMicros\":" + ORIGIN + "}");
      write(fs, run + "/trace/network.json", "{\"mode\":\"emulated\",\"timeScale\":2.0}");
      // chunk 1: iterations 0, 1; 1.3 s later chunk 2: iterations 2, 3
      long[] starts = {1_000_000, 1_700_000, 3_700_000, 4_400_000};
      List<Span> c1 = new ArrayList<>(iteration(starts[0]));
      c1.addAll(iteration(starts[1]));
      List<Span> c2 = new ArrayList<>(iteration(starts[2]));
      c2.addAll(iteration(starts[3]));
      write(fs, run + "/trace/measured-spans-000000.jsonl", lines(c1));
      write(fs, run + "/trace/measured-spans-000002.jsonl", lines(c2));
      StringBuilder its = new StringBuilder();
      for (int i = 0; i < 4; i++) {
        its.append(iterationLine(i, starts[i], starts[i] + 700_000));
      }
      write(fs, run + "/metrics/iterations.jsonl", its.toString());

      Path html = tmp.resolve("t.html");
      Path trace = tmp.resolve("t.json");
      CliTest.Result r = CliTest.run("timeline", run, "--out", html.toString(), "--trace",
          trace.toString());
      assertEquals(0, r.code(), r.err());
      assertTrue(r.out().contains("predicted and measured"), r.out());
      String page = Files.readString(html);
      assertTrue(page.contains("chunk 1/2 (from iteration 0)")
          && page.contains("chunk 2/2 (from iteration 2)"), "chunk markers");
      assertTrue(page.contains("x time scale 2 (the run's spark.skippipe.network.timeScale)"),
          "recorded time scale");
      // 0 = first span (1.0 s after the origin); last end 5.1 s: total 4.1 s = 4 x 0.7 + 1.3
      assertTrue(page.contains("4.100 s from the first span to the last = 4 iterations 2.800 s"
          + " + 1.300 s outside iterations"), page.substring(page.indexOf("measured (")));
      JsonNode t = new ObjectMapper().readTree(trace.toFile());
      Set<Integer> pids = new HashSet<>();
      t.get("traceEvents").forEach(e -> pids.add(e.get("pid").asInt()));
      assertEquals(Set.of(1, 2), pids, "predicted and measured processes");

      // --time-scale overrides; a plan file alone draws the prediction
      r = CliTest.run("timeline", run, "--out", html.toString(), "--time-scale", "0.5");
      assertEquals(0, r.code(), r.err());
      assertTrue(Files.readString(html).contains("x time scale 0.500 (--time-scale)"));
      r = CliTest.run("timeline", run + "/plan.json", "--out", html.toString());
      assertEquals(0, r.code(), r.err());
      assertTrue(r.out().contains("predicted timeline of the plan"), r.out());
      assertFalse(Files.readString(html).contains("measured ("));
    }
  }

  @Test
  void readsTheOlderSingleSpanFileAndRejectsBadInput() throws Exception {
    Path run = tmp.resolve("old-run");
    Files.createDirectories(run.resolve("trace"));
    Files.writeString(run.resolve("plan.json"), PlanCodec.toJsonString(TestPlans.skippipe()));
    Files.writeString(run.resolve("trace/measured-spans.jsonl"), lines(iteration(0)));
    Path html = tmp.resolve("old.html");
    CliTest.Result r = CliTest.run("timeline", run.toString(), "--out", html.toString());
    assertEquals(0, r.code(), r.err());
    String page = Files.readString(html);
    assertTrue(page.contains("measured (") && page.contains("not recorded by this run"), page);

    for (String[] bad : new String[][] {{tmp.resolve("nowhere").toString()},
        {run.toString(), "--time-scale", "0"}, {run.toString(), "--width", "-5"},
        {tmp.toString()}}) {
      List<String> args = new ArrayList<>(List.of("timeline"));
      args.addAll(List.of(bad));
      args.addAll(List.of("--out", html.toString()));
      CliTest.Result b = CliTest.run(args.toArray(String[]::new));
      assertEquals(2, b.code(), args + ": " + b.err());
      assertFalse(b.err().contains("\tat "), b.err());
    }
  }
}
