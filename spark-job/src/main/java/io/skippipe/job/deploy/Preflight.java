package io.skippipe.job.deploy;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.skippipe.job.spark.HadoopConfs;
import java.io.IOException;
import java.io.OutputStream;
import java.io.Serializable;
import java.net.InetAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.stream.IntStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.SparkEnv;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import scala.Function1;
import scala.jdk.javaapi.CollectionConverters;
import scala.reflect.ClassTag$;

/**
 * A cluster check to {@code spark-submit} before a long run, with the same jar and settings:
 *
 * <pre>
 * spark-submit ... --class io.skippipe.job.deploy.Preflight skippipe-spark-job-VERSION-dist.jar \
 *     EXECUTORS RUN_DIR [RUN_DIR ...]
 * </pre>
 *
 * <p>It runs one barrier stage of {@code EXECUTORS} tasks (so every task gets its own slot, as the
 * training job's nodes do). Each task loads DJL's PyTorch engine from the application jar without
 * network, adds two numbers on it, counts the GPUs libtorch sees, and writes a file under each
 * {@code RUN_DIR/preflight/} through a Hadoop configuration built in the task thread (the route
 * that finds S3A under spark-submit). The driver prints one {@code PREFLIGHT} line per task, writes
 * {@code RUN_DIR/preflight/_PREFLIGHT_OK} and exits 0 only when every task succeeded on a distinct
 * executor; 2 for bad arguments, 1 otherwise. Several run directories (say an HDFS and an S3 one)
 * are checked by the same tasks.
 */
public final class Preflight {
  private Preflight() {}

  static final String USAGE = "usage: Preflight EXECUTORS RUN_DIR [RUN_DIR ...]  (EXECUTORS: how"
      + " many executors the training job will use, >= 1; RUN_DIR: a Hadoop URI or path)";

  /** What one task found, tab-separated so it needs no serializer registration. */
  record Report(String executorId, String host, String engine, int gpus, String files) {
    static Report parse(String line) {
      String[] f = line.split("\t", -1);
      return new Report(f[0], f[1], f[2], Integer.parseInt(f[3]), f[4]);
    }

    String line() {
      return String.join("\t", executorId, host, engine, Integer.toString(gpus), files);
    }
  }

  public static void main(String[] args) {
    System.exit(run(args));
  }

  static int run(String[] args) {
    int executors;
    try {
      if (args.length < 2) {
        throw new IllegalArgumentException("expected at least 2 arguments, got " + args.length);
      }
      executors = Integer.parseInt(args[0]);
      if (executors < 1) {
        throw new IllegalArgumentException("EXECUTORS must be >= 1, was " + executors);
      }
    } catch (IllegalArgumentException e) {
      System.err.println("Preflight: " + e.getMessage() + "\n" + USAGE);
      return 2;
    }
    List<String> runDirs = new ArrayList<>();
    for (int i = 1; i < args.length; i++) {
      runDirs.add(HadoopConfs.toUri(args[i]).toString());
    }
    SparkSession spark = SparkSession.builder().appName("skippipe-preflight").getOrCreate();
    io.skippipe.job.transfer.TransferSecurity.sparkRpcWarnings(spark.sparkContext().getConf())
        .forEach(w -> System.out.println("PREFLIGHT WARNING " + w));
    try {
      List<Report> reports = check(JavaSparkContext.fromSparkContext(spark.sparkContext()),
          runDirs, executors);
      reports.forEach(r -> System.out.printf("PREFLIGHT executor=%s host=%s engine=%s gpus=%d"
          + " wrote=%s%n", r.executorId(), r.host(), r.engine(), r.gpus(), r.files()));
      TreeSet<String> distinct = new TreeSet<>();
      reports.forEach(r -> distinct.add(r.executorId()));
      if (distinct.size() != executors) {
        System.err.printf("PREFLIGHT FAILED: %d tasks ran on %d distinct executors %s; the"
            + " training job needs one executor per node (spark.executor.cores ="
            + " spark.task.cpus)%n", executors, distinct.size(), distinct);
        return 1;
      }
      for (String runDir : runDirs) {
        writeMarker(runDir, reports);
      }
      System.out.printf("PREFLIGHT OK %d executors, run dirs %s%n", executors,
          String.join(" ", runDirs));
      return 0;
    } catch (Exception e) {
      System.err.println("PREFLIGHT FAILED: " + e);
      e.printStackTrace();
      return 1;
    } finally {
      spark.stop();
    }
  }

  /** Runs the per-executor checks as one barrier stage and returns the tasks' reports. */
  static List<Report> check(JavaSparkContext jsc, List<String> runDirs, int executors) {
    List<Integer> ids = IntStream.range(0, executors).boxed().toList();
    Function1<scala.collection.Iterator<Integer>, scala.collection.Iterator<String>> task =
        (Function1<scala.collection.Iterator<Integer>, scala.collection.Iterator<String>>
            & Serializable) it -> {
              List<String> out = new ArrayList<>();
              while (it.hasNext()) {
                out.add(checkHere(runDirs, it.next()).line());
              }
              return CollectionConverters.asScala(out.iterator());
            };
    String[] lines = (String[]) jsc.parallelize(ids, executors).rdd().barrier()
        .mapPartitions(task, false, ClassTag$.MODULE$.apply(String.class)).collect();
    List<Report> reports = new ArrayList<>();
    for (String l : lines) {
      reports.add(Report.parse(l));
    }
    return reports;
  }

  /** One task's checks: the DJL engine works offline here, and the run directories are writable. */
  static Report checkHere(List<String> runDirs, int task) {
    Engine engine = Engine.getEngine("PyTorch");
    float sum;
    try (NDManager manager = engine.newBaseManager()) {
      NDArray a = manager.create(new float[] {1.5f, 2.5f});
      sum = a.sum().getFloat();
    }
    if (sum != 4.0f) {
      throw new IllegalStateException("libtorch computed 1.5 + 2.5 = " + sum);
    }
    String executorId = SparkEnv.get().executorId();
    String host;
    try {
      host = InetAddress.getLocalHost().getHostName();
    } catch (IOException e) {
      host = "unknown";
    }
    String text = "executor=" + executorId + " host=" + host + " engine=" + engine.getEngineName()
        + " " + engine.getVersion() + "\n";
    List<String> written = new ArrayList<>();
    for (String runDir : runDirs) {
      Path file = new Path(URI.create(runDir + "/preflight/task-" + task + ".txt"));
      try {
        FileSystem fs = file.getFileSystem(HadoopConfs.current());
        try (OutputStream out = fs.create(file, true)) {
          out.write(text.getBytes(StandardCharsets.UTF_8));
        }
      } catch (IOException e) {
        throw new IllegalStateException("cannot write " + file + " from executor " + executorId, e);
      }
      written.add(file.toString());
    }
    // the device a training task here would use, and whether this libtorch can (fails with the fix)
    String setting = SparkEnv.get().conf().get("spark.skippipe.device", "auto");
    ai.djl.Device device = io.skippipe.job.task.chunk.DevicePlacement.resolve(setting,
        org.apache.spark.TaskContext.get());
    io.skippipe.job.task.chunk.DevicePlacement.check(device);
    return new Report(executorId, host, engine.getEngineName() + " " + engine.getVersion()
        + " (" + io.skippipe.job.task.chunk.DevicePlacement.libtorchFlavour() + ", device " + device
        + ")", engine.getGpuCount(), String.join(" ", written));
  }

  private static void writeMarker(String runDir, List<Report> reports) throws IOException {
    Path marker = new Path(URI.create(runDir + "/preflight/_PREFLIGHT_OK"));
    FileSystem fs = marker.getFileSystem(HadoopConfs.current());
    StringBuilder b = new StringBuilder();
    reports.forEach(r -> b.append(r.line()).append('\n'));
    try (OutputStream out = fs.create(marker, true)) {
      out.write(b.toString().getBytes(StandardCharsets.UTF_8));
    }
  }
}
