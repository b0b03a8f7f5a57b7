package io.skippipe.job.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.skippipe.job.checkpoint.HadoopCheckpointStore;
import io.skippipe.job.checkpoint.StageState;
import io.skippipe.job.eval.HeldOutText;
import io.skippipe.job.ml.SkipPipeLanguageModelModel;
import io.skippipe.job.task.chunk.Models;
import io.skippipe.job.testing.LocalSparkExtension;
import io.skippipe.job.testing.TestPlans;
import io.skippipe.model.LlamaConfig;
import io.skippipe.model.data.Corpus;
import io.skippipe.model.data.MicrobatchReader;
import io.skippipe.model.data.PackedDataset;
import io.skippipe.model.data.TextTokenizer;
import io.skippipe.model.eval.Perplexity;
import io.skippipe.model.infer.Generator;
import io.skippipe.model.optim.AdamW;
import io.skippipe.model.optim.AdamWConfig;
import io.skippipe.model.optim.LrSchedule;
import io.skippipe.model.stage.StageModel;
import io.skippipe.model.train.PathTrainer;
import io.skippipe.scheduler.plan.PlanCodec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bin/skippipe eval} on a trained toy checkpoint (4 stages of one layer, trained 4 steps by
 * PathTrainer and written in the runtime's checkpoint format): its all-stage perplexity equals the
 * MLlib model's and {@link Perplexity}'s on the same tokens, every omitted-stage number equals a
 * direct computation on the model with those stages removed from the list, the exported Hugging
 * Face folder evaluates the same, and bad input exits 2 naming the fix. {@code bin/skippipe
 * generate} on the same checkpoint: greedy output is deterministic and equals the {@link
 * Generator} on independently loaded stages.
 */
class EvalAndGenerateCommandTest {
  @RegisterExtension static LocalSparkExtension spark = LocalSparkExtension.local(2);
  @TempDir static Path dir;
  static final LlamaConfig CFG = Models.llama(TestPlans.MODEL);
  static final long STEP = 4;
  static String root;
  static Path data;
  static final List<StageModel> loaded = new ArrayList<>();

  @BeforeAll
  static void trainAndCheckpoint() throws Exception {
    Path run = dir.resolve("run");
    Files.createDirectories(run);
    Files.writeString(run.resolve("plan.json"), PlanCodec.toJsonString(TestPlans.skippipe()));
    // What data preparation records: the tokenizer the run trains with (export ships it).
    try (java.io.InputStream in = Corpus.class.getResourceAsStream(Corpus.TOKENIZER)) {
      Files.copy(in, run.resolve("tokenizer.json"));
    }
    root = run.resolve("checkpoints").toString();
    HadoopCheckpointStore store = new HadoopCheckpointStore(root, new Configuration());
    PackedDataset train;
    try (TextTokenizer tok = TextTokenizer.bundled()) {
      train = PackedDataset.of(tok, Corpus.trainDocuments().subList(0, 20), CFG.seqLen());
    }
    MicrobatchReader reader = new MicrobatchReader(train, 4, 3);
    try (PathTrainer trainer = new PathTrainer(CFG, new PathTrainer.Config(3,
        AdamWConfig.llamaDefaults(), LrSchedule.constant(1e-2, (int) STEP), 1.0))) {
      for (int s = 0; s < STEP; s++) {
        trainer.step(List.of(new PathTrainer.Microbatch(0, reader.next(),
            PathTrainer.fullPath(CFG.stages()))));
      }
      for (int s = 0; s < CFG.stages(); s++) {
        StageState.save(store, STEP, s, 0, trainer.stages().get(s), trainer.optimizers().get(s));
      }
    }
    store.commit(STEP, "test-lineage", "test-plan");
    // Held-out text in the corpus format (two documents), as a user would pass with --data.
    data = dir.resolve("held-out.txt");
    List<String> docs = Corpus.validationDocuments();
    Files.writeString(data, docs.get(3) + "\f\n" + docs.get(8));
    // The same weights, loaded independently of the command's loader.
    for (int s = 0; s < CFG.stages(); s++) {
      StageModel m = StageModel.create(CFG, s, 777);
      loaded.add(m);
      try (AdamW opt = new AdamW(m, AdamWConfig.llamaDefaults())) {
        StageState.load(store, STEP, s, 0, m, opt);
      }
    }
  }

  @AfterAll
  static void close() {
    loaded.forEach(StageModel::close);
  }

  static JsonNode evalJson(String... more) throws Exception {
    List<String> args = new ArrayList<>(List.of("eval", "--data", data.toString(),
        "--sequences", "6", "--json"));
    args.addAll(List.of(more));
    CliTest.Result r = CliTest.run(args.toArray(String[]::new));
    assertEquals(0, r.code(), r.err());
    return new ObjectMapper().readTree(r.out());
  }

  static List<int[]> sequences() throws Exception {
    try (TextTokenizer tok = TextTokenizer.bundled()) {
      return HeldOutText.sequences(HeldOutText.documents(data.toString(), new Configuration()),
          tok, CFG.seqLen(), 6);
    }
  }

  @Test
  void allStagesEqualTheMllibModelAndPerplexityAndOmittedRowsEqualTheReducedModel()
      throws Exception {
    JsonNode j = evalJson("--checkpoint", root, "--omit-stages", "1,3", "--half-subsets", "2");
    assertEquals(STEP, j.get("step").asLong());
    assertEquals(4, j.get("stages").asInt());
    List<int[]> seqs = sequences();
    assertEquals(6, seqs.size());
    assertEquals(6L * CFG.seqLen(), j.get("tokens").asLong());
    double meanNll = j.get("meanNll").asDouble();
    assertEquals(Math.exp(meanNll), j.get("perplexity").asDouble(), 1e-9 * Math.exp(meanNll));

    // Perplexity on independently loaded stages, one sequence per batch.
    assertEquals(Perplexity.evaluate(loaded, seqs, Set.of(), 1).meanNll(), meanNll, 1e-5);

    // The MLlib model on the same token rows (each row one window of seqLen+1 ids).
    StructType schema = new StructType().add("tokens",
        new ArrayType(DataTypes.IntegerType, false));
    List<Row> rows = new ArrayList<>();
    for (int[] s : seqs) {
      rows.add(RowFactory.create((Object) Arrays.stream(s).boxed().toArray(Integer[]::new)));
    }
    Dataset<Row> df = spark.session().createDataFrame(rows, schema);
    SkipPipeLanguageModelModel ml = new SkipPipeLanguageModelModel("eval-test",
        root + "/step-000004", TestPlans.MODEL);
    double mlMean = ml.transform(df).collectAsList().stream()
        .mapToDouble(r -> r.getDouble(r.fieldIndex("loss"))).average().orElseThrow();
    assertEquals(mlMean, meanNll, 1e-5);

    // Rows: each single stage, two distinct seeded half subsets, the given set.
    JsonNode omitted = j.get("omitted");
    List<String> kinds = new ArrayList<>();
    Set<String> halves = new HashSet<>();
    for (JsonNode row : omitted) {
      kinds.add(row.get("kind").asText());
      List<Integer> stages = new ArrayList<>();
      row.get("stages").forEach(x -> stages.add(x.asInt()));
      if (row.get("kind").asText().equals("half")) {
        assertEquals(2, stages.size(), "half of 4 stages");
        assertTrue(halves.add(stages.toString()), "distinct subsets");
      }
      // Direct computation: the model with those stages removed from the list.
      List<StageModel> reduced = new ArrayList<>(loaded);
      reduced.removeIf(m -> stages.contains(m.stage()));
      double direct = Perplexity.evaluate(reduced, seqs, Set.of(), 1).meanNll();
      assertEquals(direct, row.get("meanNll").asDouble(), 1e-5, "omitting " + stages);
      assertNotEquals(meanNll, row.get("meanNll").asDouble(), 1e-6, "omitting " + stages);
    }
    assertEquals(List.of("single", "single", "single", "half", "half", "given"), kinds);
    assertEquals("[1,3]", omitted.get(5).get("stages").toString());
    double halfMean = (omitted.get(3).get("meanNll").asDouble()
        + omitted.get(4).get("meanNll").asDouble()) / 2;
    assertEquals(Math.exp(halfMean), j.get("halfOmittedPerplexity").asDouble(), 1e-9);

    // The table form says the same.
    CliTest.Result table = CliTest.run("eval", "--checkpoint", root, "--data", data.toString(),
        "--sequences", "6", "--half-subsets", "0");
    assertEquals(0, table.code(), table.err());
    assertTrue(table.out().contains("step 4 of") && table.out().contains("single   [2]"),
        table.out());
  }

  @Test
  void theExportedHuggingFaceFolderEvaluatesTheSame() throws Exception {
    Path hf = dir.resolve("hf");
    CliTest.Result r = CliTest.run("export", "--checkpoint", root, "--out", hf.toString());
    assertEquals(0, r.code(), r.err());
    JsonNode fromCheckpoint = evalJson("--checkpoint", root + "/step-000004", "--half-subsets",
        "0");
    JsonNode fromFolder = evalJson("--model-dir", hf.toString(), "--layers-per-stage", "1",
        "--half-subsets", "0");
    assertEquals(-1, fromFolder.get("step").asLong());
    assertEquals(fromCheckpoint.get("meanNll").asDouble(), fromFolder.get("meanNll").asDouble(),
        1e-6);
    assertEquals(fromCheckpoint.get("omitted").size(), fromFolder.get("omitted").size());
    for (int i = 0; i < fromFolder.get("omitted").size(); i++) {
      assertEquals(fromCheckpoint.get("omitted").get(i).get("meanNll").asDouble(),
          fromFolder.get("omitted").get(i).get("meanNll").asDouble(), 1e-6);
    }
  }

  @Test
  void generateIsDeterministicWhenGreedyAndEqualsTheGeneratorOnTheSameWeights() throws Exception {
    String[] args = {"generate", "--checkpoint", root, "--prompt", "And God said", "--temperature",
        "0", "--max-new-tokens", "6", "--json"};
    CliTest.Result a = CliTest.run(args);
    assertEquals(0, a.code(), a.err());
    CliTest.Result b = CliTest.run(args);
    JsonNode j = new ObjectMapper().readTree(a.out());
    assertEquals(j.get("tokens"), new ObjectMapper().readTree(b.out()).get("tokens"));
    assertEquals(STEP, j.get("step").asLong());
    assertTrue(j.get("tokensPerSecond").asDouble() > 0, a.out());
    int[] prompt;
    int[] want;
    try (TextTokenizer tok = TextTokenizer.bundled()) {
      int[] text = tok.encode("And God said");
      prompt = new int[text.length + 1];
      prompt[0] = tok.eosId();
      System.arraycopy(text, 0, prompt, 1, text.length);
      try (Generator g = new Generator(loaded, Set.of())) {
        want = g.generate(prompt, new Generator.Settings(6, 0, 40, 1, tok.eosId())).tokens();
      }
      assertEquals(tok.decode(want), j.get("text").asText());
    }
    int[] got = new int[j.get("tokens").size()];
    for (int i = 0; i < got.length; i++) {
      got[i] = j.get("tokens").get(i).asInt();
    }
    assertTrue(Arrays.equals(want, got), Arrays.toString(want) + " vs " + Arrays.toString(got));

    CliTest.Result text = CliTest.run("generate", "--checkpoint", root, "--prompt", "And God",
        "--omit-stages", "2", "--max-new-tokens", "3", "--seed", "5");
    assertEquals(0, text.code(), text.err());
    assertTrue(text.out().startsWith("And God") && text.out().contains("tokens/s")
        && text.out().contains("stages [2] omitted"), text.out());
    for (String[] bad : new String[][] {{"--omit-stages", "0"}, {"--temperature", "-1"},
        {"--omit-stages", "9"}}) {
      List<String> line = new ArrayList<>(List.of("generate", "--checkpoint", root, "--prompt",
          "x"));
      line.addAll(List.of(bad));
      CliTest.Result r = CliTest.run(line.toArray(String[]::new));
      assertEquals(2, r.code(), line + ": " + r.err());
      assertFalse(r.err().contains("\tat "), r.err());
    }
  }

  @Test
  void badInputExitsTwoWithTheFix() throws Exception {
    Path empty = dir.resolve("empty-run/checkpoints");
    Files.createDirectories(empty);
    String[][] cases = {
        {"--checkpoint", empty.toString()},
        {"--checkpoint", root, "--omit-stages", "0"},
        {"--checkpoint", root, "--omit-stages", "2,7"},
        {"--checkpoint", root, "--omit-stages", "two"},
        {"--checkpoint", root, "--step", "3"},
        {"--checkpoint", dir.resolve("nowhere").toString()},
        {"--checkpoint", root, "--model-dir", dir.toString()},
        {"--checkpoint", root, "--data", dir.resolve("missing.txt").toString()},
        {},
    };
    String[] expected = {"no committed checkpoint", "stage 0 cannot be omitted",
        "omitted stage 7 does not exist; the model has stages 0..3", "--omit-stages 'two'",
        "step 3 under", "does not exist", "mutually exclusive", "missing.txt does not exist",
        "Missing required argument"};
    for (int i = 0; i < cases.length; i++) {
      List<String> args = new ArrayList<>(List.of("eval"));
      args.addAll(List.of(cases[i]));
      CliTest.Result r = CliTest.run(args.toArray(String[]::new));
      assertEquals(2, r.code(), args + ": " + r.out() + r.err());
      assertTrue(r.err().contains(expected[i]), args + ": " + r.err());
      assertFalse(r.err().contains("\tat "), "no stack trace: " + r.err());
    }
  }
}
