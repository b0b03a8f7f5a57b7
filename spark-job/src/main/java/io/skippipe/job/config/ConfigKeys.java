package io.skippipe.job.config;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Every {@code spark.skippipe.*} key the job reads, with its default and one line of documentation.
 *
 * <p>{@code conf/skippipe-defaults.properties} lists exactly these keys with exactly these defaults
 * ({@code ConfigKeysTest} checks it), so the file is the user's reference and this class is the code's.
 * Keys start with {@code spark.} because spark-submit drops {@code --conf} keys that do not.
 */
public final class ConfigKeys {
  private ConfigKeys() {}

  /** One configuration key: full name, default value (as written in the defaults file) and doc. */
  public record Key(String name, String defaultValue, String doc) {
    public Key {
      if (!name.startsWith("spark.skippipe.")) {
        throw new IllegalStateException("config key must start with spark.skippipe.: " + name);
      }
    }
  }

  private static final Map<String, Key> ALL = new LinkedHashMap<>();

  private static Key key(String name, String defaultValue, String doc) {
    Key k = new Key(name, defaultValue, doc);
    if (ALL.put(name, k) != null) {
      throw new IllegalStateException("duplicate config key " + name);
    }
    return k;
  }

  // --- run ---------------------------------------------------------------------------------------
  public static final Key RUN_DIR = key("spark.skippipe.run.dir", "runs/local",
      "Run directory (Hadoop URI or local path): data shards, plan.json, checkpoints, metrics, traces.");
  public static final Key RUN_OVERWRITE = key("spark.skippipe.run.overwrite", "false",
      "Delete the run that run.dir (and checkpoint.dir) already holds and start a new one; false ="
          + " resume it (checkpoint.resume=true) or refuse (checkpoint.resume=false).");
  public static final Key RUN_SECRET = key("spark.skippipe.run.secret", "",
      "Secret for the block transfer's HMAC challenge; empty = 32 random bytes drawn by the driver per run.");
  public static final Key SEED = key("spark.skippipe.seed", "5",
      "Seed of every random choice: weight init, the planner (GCMA, routing), data order.");

  // --- model, cluster and plan --------------------------------------------------------------------
  public static final Key MODEL = key("spark.skippipe.model", "llama-tiny",
      "Model spec: a preset name under conf/models or a path to a model spec JSON. With model.init"
          + " it gives only the workload (seqLen, samplesPerMicrobatch, microbatchesPerDataNode).");
  public static final Key CLUSTER = key("spark.skippipe.cluster", "laptop-geo-12",
      "Cluster profile: a preset under conf/clusters or a path; its nodes map onto the executors' task slots.");
  public static final Key DEVICE = key("spark.skippipe.device", "auto",
      "Where each stage's tensors live: auto = the GPU Spark assigned to the task (resource 'gpu'), else the CPU; cpu; gpu (fails at preflight without a GPU or with a CPU-only libtorch).");
  public static final Key MODEL_INIT = key("spark.skippipe.model.init", "",
      "Start from a Hugging Face LlamaForCausalLM folder (Hadoop URI or path): its config.json gives"
          + " the architecture, each stage loads only its layers from the (sharded) safetensors, and"
          + " its tokenizer.json is the run's tokenizer unless data.tokenizer is set; empty ="
          + " random init from the seed. The folder must stay readable while the run may resume.");
  public static final Key MODEL_LAYERS_PER_STAGE = key("spark.skippipe.model.layersPerStage", "0",
      "Decoder layers per pipeline stage; 0 = layers / the cluster's stage count (when that does not"
          + " divide, the divisor of the layers nearest the stage count, with the cluster's nodes"
          + " regrouped into that many stages; a warning says so).");
  public static final Key PLAN_METHOD = key("spark.skippipe.plan.method", "skippipe",
      "Planner method: skippipe | skippipe-no-tc2 | dtfm-skip | dtfm.");
  public static final Key PLAN_SKIP_RATIO = key("spark.skippipe.plan.skipRatio", "",
      "Skip ratio k = 1 - pathLength/stages, in [0, 1), within 0.01 of an achievable ratio;"
          + " empty = the planner's default path length K - ceil(K/4) (4 of 6 stages, 6 of 8);"
          + " auto = choose path length, swaps, memory cap and (unless train.activationCheckpointing"
          + " is set) activation checkpointing at job start by predicted iteration time"
          + " (bin/skippipe tune's throughput axis; choice and frontier in RUN_DIR/tune.json);"
          + " ignored when plan.pathLength > 0.");
  public static final Key PLAN_PATH_LENGTH = key("spark.skippipe.plan.pathLength", "0",
      "Stages each microbatch visits (including stage 0); 0 = derive from plan.skipRatio.");
  public static final Key PLAN_FILE = key("spark.skippipe.plan.file", "",
      "Use this plan.json (Hadoop URI or path) instead of planning; empty = plan on the driver."
          + " It is validated like a planned one (structure, convergence rules, memory).");
  public static final Key PLAN_TUNE_PROBE = key("spark.skippipe.plan.tune.probe", "false",
      "With plan.skipRatio=auto: also run short convergence probes on a sample of the run's data"
          + " (the model itself, or a same-depth proxy above 50 M parameters; plan.tune.probeSteps"
          + " steps per path length on the frontier) and choose by predicted time to the probes'"
          + " common loss (see docs/PLANNER.md, Tuning).");
  public static final Key PLAN_TUNE_PROBE_STEPS = key("spark.skippipe.plan.tune.probeSteps", "30",
      "Optimizer steps of each convergence probe of plan.tune.probe.");

  // --- network ------------------------------------------------------------------------------------
  public static final Key NETWORK_MODE = key("spark.skippipe.network.mode", "emulated",
      "emulated = delay every message by the cluster profile's latency + hopOverhead +"
          + " bytes/bandwidth (x timeScale; per directed link, queued iff linkContention);"
          + " direct = no delay, plan on the given profile; probe = measure all pairs over the block"
          + " transfer at rendezvous, plan on that (no delays added) and write RUN_DIR/profile.json.");
  public static final Key NETWORK_TIME_SCALE = key("spark.skippipe.network.timeScale", "1.0",
      "Factor on emulated link delays and on padded compute time (0.1 = ten times faster than modelled).");
  public static final Key NETWORK_PAD_COMPUTE = key("spark.skippipe.network.padCompute", "false",
      "Pad each forward/backward to the profile's modelled compute time x timeScale (as the reference"
          + " runtime does), and each stage all-reduce to the simulator's ring of the plan's gradient"
          + " bytes x timeScale, so a laptop reproduces the profile's compute/network ratio.");
  public static final Key NETWORK_EMULATED_PROFILE = key(
      "spark.skippipe.network.emulatedProfile", "",
      "network.mode=emulated: the cluster profile (preset or path) whose links, hop overhead and"
          + " node speeds the emulation and padCompute reproduce, while the run plans on"
          + " spark.skippipe.cluster (a network that differs from the profile: slow links,"
          + " stragglers); empty = the planning profile. Same node count and locations.");
  public static final Key NETWORK_PROBE_BYTES = key("spark.skippipe.network.probeBytes", "1048576",
      "network.mode=probe: payload of the one bandwidth message each node sends each other node.");
  public static final Key NETWORK_PROBE_PINGS = key("spark.skippipe.network.probePings", "5",
      "network.mode=probe: ping-pong round trips per node pair; the median gives the latency.");
  public static final Key NETWORK_PROBE_PING_BYTES = key("spark.skippipe.network.probePingBytes",
      "64", "network.mode=probe: payload of each latency ping and its answer.");
  public static final Key NETWORK_PROBE_TIMEOUT_MS = key("spark.skippipe.network.probeTimeoutMs",
      "30000", "network.mode=probe: bound on the whole probe of one node; exceeding it fails the"
          + " rendezvous naming the peer it waited for.");

  // --- data ---------------------------------------------------------------------------------------
  public static final Key DATA_INPUT = key("spark.skippipe.data.input", "",
      "Training text: Hadoop URI or path of text, JSON lines or Parquet; empty = the bundled corpus.");
  public static final Key DATA_FORMAT = key("spark.skippipe.data.format", "auto",
      "auto (by file extension) | text | jsonl | parquet.");
  public static final Key DATA_JSON_FIELD = key("spark.skippipe.data.jsonField", "text",
      "Field holding the text in JSON lines and Parquet input.");
  public static final Key DATA_TOKENIZER = key("spark.skippipe.data.tokenizer", "",
      "HF tokenizer.json (Hadoop URI or path); empty = the bundled tokenizer.");
  public static final Key DATA_TEXT_DOCUMENT = key("spark.skippipe.data.textDocument", "file",
      "What one document is in text input: file (a whole file, line breaks kept; as HF datasets'"
          + " sample_by=document and run_clm's concatenated lines) | paragraph (text between blank"
          + " lines) | line (each line). Documents are packed with EOS before each.");
  public static final Key DATA_SPLIT_BYTES = key("spark.skippipe.data.splitBytes", "67108864",
      "Input bytes per data-preparation task (uncompressed text, JSON lines and Parquet files are"
          + " split at this size); part of the data layout, so the same value gives the same shards.");
  public static final Key DATA_MAX_RECORD_BYTES = key("spark.skippipe.data.maxRecordBytes",
      "16777216", "Longest JSON line or Parquet text value read (it is held in memory whole);"
          + " longer records are skipped and counted. Text input streams and has no limit.");
  public static final Key DATA_MAX_SKIPPED_FRACTION = key(
      "spark.skippipe.data.maxSkippedFraction", "0.01",
      "Largest fraction of input records that may be skipped (missing field, empty, undecodable,"
          + " too long) before data preparation fails; the counts are printed either way.");
  public static final Key DATA_ALLOW_NON_TEXT = key("spark.skippipe.data.allowNonText", "false",
      "Train on input that does not look like UTF-8 text (more than 1% control bytes or invalid"
          + " UTF-8); false = refuse it.");

  // --- training -----------------------------------------------------------------------------------
  public static final Key TRAIN_ITERATIONS = key("spark.skippipe.train.iterations", "6",
      "Iterations (optimizer steps) to train in total, counting those before a resume.");
  public static final Key TRAIN_CHUNK_ITERATIONS = key("spark.skippipe.train.chunkIterations", "2",
      "Iterations per chunk; each chunk is one Spark barrier job and ends with a checkpoint.");
  public static final Key TRAIN_LEARNING_RATE = key("spark.skippipe.train.learningRate", "0.001",
      "AdamW learning rate.");
  public static final Key TRAIN_WARMUP_ITERATIONS = key("spark.skippipe.train.warmupIterations",
      "0", "Iterations of linear learning-rate warmup to learningRate (0 = none); must be below"
          + " train.iterations.");
  public static final Key TRAIN_MIN_LEARNING_RATE = key("spark.skippipe.train.minLearningRate", "",
      "Learning rate the cosine decay reaches at train.iterations (after warmup); empty = the"
          + " learningRate itself, i.e. a constant rate.");
  public static final Key TRAIN_BETA1 = key("spark.skippipe.train.beta1", "0.9", "AdamW beta1.");
  public static final Key TRAIN_BETA2 = key("spark.skippipe.train.beta2", "0.95", "AdamW beta2.");
  public static final Key TRAIN_EPSILON = key("spark.skippipe.train.epsilon", "1.0E-8",
      "AdamW epsilon.");
  public static final Key TRAIN_WEIGHT_DECAY = key("spark.skippipe.train.weightDecay", "0.1",
      "AdamW decoupled weight decay.");
  public static final Key TRAIN_GRAD_CLIP_NORM = key("spark.skippipe.train.gradClipNorm", "1.0",
      "Global gradient-norm clipping threshold over all stages; 0 = no clipping.");
  public static final Key TRAIN_INTRA_OP_THREADS = key("spark.skippipe.train.intraOpThreads", "0",
      "PyTorch intra-op threads of each task's stage; 0 = the task's CPU allotment: spark.task.cpus"
          + " on a cluster, the machine's cores / concurrent task slots in local and local-cluster"
          + " masters (at least 1). Results are bitwise reproducible only at the same value.");
  public static final Key TRAIN_INTER_OP_THREADS = key("spark.skippipe.train.interOpThreads", "0",
      "PyTorch inter-op threads of each executor JVM (process-wide, set by its first task); 0 ="
          + " the task's intra-op thread count.");
  public static final Key TRAIN_MAX_CHUNK_RETRIES = key("spark.skippipe.train.maxChunkRetries", "2",
      "How often the driver re-runs a failed chunk from the last committed checkpoint"
          + " (Spark does not retry a failed barrier result stage by itself).");
  public static final Key TRAIN_PRECISION = key("spark.skippipe.train.precision", "fp32",
      "fp32, or bf16: bfloat16 weights, layer outputs and wire activations (half the bytes per hop) with float32 master weights, gradient sums, AdamW state and loss; the planner's activationBytesPerElement follows it.");
  public static final Key TRAIN_ACTIVATION_CHECKPOINTING = key(
      "spark.skippipe.train.activationCheckpointing", "false",
      "Keep only each microbatch's stage input between forward and backward and recompute the forward in the backward (less memory per microbatch in flight, one more forward of compute); the planner plans with it (longer backwards, more microbatches per node). With plan.skipRatio=auto and this key unset, the tuner chooses it; set, only that value is searched.");

  // --- checkpoints --------------------------------------------------------------------------------
  public static final Key CHECKPOINT_DIR = key("spark.skippipe.checkpoint.dir", "",
      "Checkpoint root (Hadoop URI or path); empty = RUN_DIR/checkpoints.");
  public static final Key CHECKPOINT_EVERY = key("spark.skippipe.checkpoint.everyIterations", "0",
      "Also checkpoint every N iterations inside a chunk; 0 = only at chunk ends.");
  public static final Key CHECKPOINT_KEEP = key("spark.skippipe.checkpoint.keep", "2",
      "Committed checkpoints to keep (at least 2: the newest may be the one being replaced).");
  public static final Key CHECKPOINT_RESUME = key("spark.skippipe.checkpoint.resume", "true",
      "Resume the run the run directory holds, from its newest intact commit (a finished run is a"
          + " no-op); false = start fresh, refused when the directory holds a run (see run.overwrite).");

  // --- block transfer -----------------------------------------------------------------------------
  public static final Key TRANSFER_BIND_HOST = key("spark.skippipe.transfer.bindHost", "",
      "Address the block server binds and advertises; empty = the executor's host as Spark sees it.");
  public static final Key TRANSFER_PORT = key("spark.skippipe.transfer.port", "0",
      "Block server port; 0 = any free port. A fixed value is a base port: each task slot runs its"
          + " own server on the first free port of base..base+63 (as Spark's fixed ports do).");
  public static final Key TRANSFER_QUEUE_CAPACITY = key("spark.skippipe.transfer.queueCapacity", "64",
      "Received messages buffered per node before the readers stop reading (TCP backpressure).");
  public static final Key TRANSFER_CONNECT_TIMEOUT_MS = key(
      "spark.skippipe.transfer.connectTimeoutMs", "10000",
      "Connect + handshake timeout to a peer; exceeding it fails the task naming the peer.");
  public static final Key TRANSFER_READ_TIMEOUT_MS = key("spark.skippipe.transfer.readTimeoutMs",
      "120000", "Longest silence from a peer (heartbeats included) or wait for an expected message.");
  public static final Key TRANSFER_HEARTBEAT_MS = key("spark.skippipe.transfer.heartbeatMs", "5000",
      "Interval of heartbeats on idle connections; must be below transfer.readTimeoutMs.");
  public static final Key TRANSFER_MAX_FRAME_BYTES = key("spark.skippipe.transfer.maxFrameBytes",
      "268435456", "Largest payload accepted in one message; larger frames drop the connection.");
  public static final Key TRANSFER_WRITE_TIMEOUT_MS = key("spark.skippipe.transfer.writeTimeoutMs",
      "120000", "Longest a send may wait with no byte accepted by the peer (it stopped reading);"
          + " exceeding it fails the task naming the peer.");
  public static final Key TRANSFER_MAX_BUFFERED_BYTES = key(
      "spark.skippipe.transfer.maxBufferedBytes", "1073741824",
      "Bytes a node may hold beyond its inbox: blocks that arrived before it needed them, and"
          + " blocks accepted while its own send waits (so two nodes sending to each other never"
          + " deadlock); at least transfer.maxFrameBytes. Exceeding it fails the task naming the peers.");
  public static final Key TRANSFER_MAX_PENDING_CONNECTIONS = key(
      "spark.skippipe.transfer.maxPendingConnections", "128",
      "Connections a block server holds before they authenticate and reach their session; more"
          + " are closed at once (connection floods cost no thread and bounded memory).");
  public static final Key TRANSFER_IO_THREADS = key("spark.skippipe.transfer.ioThreads", "0",
      "Network threads shared by all block servers of an executor JVM (Netty event loops);"
          + " 0 = min(4, available processors).");
  public static final Key TRANSFER_ENCRYPTION = key("spark.skippipe.transfer.encryption", "auto",
      "auto | true | false: TLS (1.3 where the JVM offers it) with per-slot self-signed"
          + " certificates whose SHA-256 every peer pins at rendezvous; auto = on unless the master"
          + " is local[...] (one JVM, loopback only).");

  // --- evaluation during training (io.skippipe.job.eval.TrainingEval) ----------------------------
  public static final Key EVAL_EVERY_COMMITS = key("spark.skippipe.eval.everyCommits", "0",
      "After every N-th checkpoint commit the driver evaluates the committed step as bin/skippipe"
          + " eval does (perplexity with all stages, each stage omitted, half omitted) into"
          + " RUN_DIR/metrics/eval.jsonl; 0 = off.");
  public static final Key EVAL_SEQUENCES = key("spark.skippipe.eval.sequences", "16",
      "Held-out sequences (seqLen+1 tokens, spread over the text) per evaluation.");
  public static final Key EVAL_HALF_SUBSETS = key("spark.skippipe.eval.halfSubsets", "3",
      "Seeded subsets of half of the stages omitted per evaluation (seed: spark.skippipe.seed);"
          + " 0 = none.");
  public static final Key EVAL_OMIT_STAGES = key("spark.skippipe.eval.omitStages", "",
      "Further omitted-stage sets to evaluate, e.g. '2,4;3' (sets separated by ';'); empty = none.");
  public static final Key EVAL_DATA = key("spark.skippipe.eval.data", "",
      "Held-out text (Hadoop URI of a file or directory, documents separated by form-feed lines);"
          + " empty = the bundled corpus's validation split.");

  // --- elasticity (issue 8; docs/OPERATIONS.md "Elasticity and failures") ------------------------
  public static final Key ELASTIC_MIN_NODES = key("spark.skippipe.elastic.minNodes", "1",
      "Fewest live nodes a chunk attempt trains on; with fewer registered task slots after"
          + " elastic.replacementWaitMs the attempt fails (and is retried, train.maxChunkRetries).");
  public static final Key ELASTIC_REPLACEMENT_WAIT_MS = key(
      "spark.skippipe.elastic.replacementWaitMs", "60000",
      "How long each chunk attempt waits for registered executors to offer a task slot per node"
          + " of the run's plan before it re-plans onto fewer nodes (0 = do not wait; local[N]"
          + " never waits: its slots are fixed). Executors that come later join at the next attempt.");
  public static final Key ELASTIC_STAGE_RECOVERY = key("spark.skippipe.elastic.stageRecovery",
      "checkpoint", "When a stage loses every replica: checkpoint = a replica of the stage with the"
          + " most replicas (or a new executor) takes it over with its weights and optimizer state"
          + " from the last commit, every stage rolls back to that commit; neighbours = it is rebuilt"
          + " from the average of its neighbouring stages weighted by their gradient norms (CheckFree)"
          + " with a fresh optimizer state, no stage rolls back. Until a node is free, paths skip it.");
  public static final Key ELASTIC_REPLAN_FACTOR = key("spark.skippipe.elastic.replanFactor", "1.5",
      "After each chunk: when the measured iteration time exceeds the plan's prediction (x"
          + " network.timeScale when emulated) by this factor, fit the profile to the measured hops and"
          + " compute times and re-plan the next chunk if that predicts a gain; 0 = never.");
  public static final Key ELASTIC_CHUNK_TIMEOUT_MS = key("spark.skippipe.elastic.chunkTimeoutMs",
      "0", "Driver deadline of one chunk attempt; past it the attempt is cancelled and retried."
          + " 0 = none for a run's first chunk, then 4 x the slowest completed chunk's seconds per"
          + " iteration x the chunk's iterations + 2 x transfer.readTimeoutMs.");

  // --- metrics and tests --------------------------------------------------------------------------
  public static final Key METRICS_PROGRESS = key("spark.skippipe.metrics.progress", "true",
      "Print a console progress line with ETA after each chunk.");
  public static final Key TEST_FAIL_AT = key("spark.skippipe.test.failAt", "",
      "Test hook 'chunk:iteration:node[:stall]': that node's task throws once at that iteration"
          + " (stall: stops reading and computing instead, until cancelled); empty = off.");

  /** All keys in declaration order. */
  public static List<Key> all() {
    return Collections.unmodifiableList(new ArrayList<>(ALL.values()));
  }

  /** The key with this name, or null. */
  public static Key byName(String name) {
    return ALL.get(name);
  }
}
