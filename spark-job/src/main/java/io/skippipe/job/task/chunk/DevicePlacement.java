package io.skippipe.job.task.chunk;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.engine.StandardCapabilities;
import io.skippipe.job.config.ConfigException;
import io.skippipe.job.config.ConfigKeys;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.IntStream;
import org.apache.spark.SparkEnv;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.resource.ResourceInformation;

/**
 * The device of a task's stage from {@code spark.skippipe.device}: {@code auto} takes the first
 * address of the {@code gpu} resource Spark assigned to the task (the resource {@code deploy/}
 * requests per executor) and falls back to the CPU; {@code gpu} requires that resource; {@code
 * cpu} ignores it. {@link #check} then fails early, with the fix, when the device is a GPU that
 * this executor's libtorch cannot use; {@link #checkExecutors} runs that check on the executors
 * before the job writes anything, so a CUDA problem is a refused setting, not a failed chunk.
 */
public final class DevicePlacement {
  /** Spark's resource name for GPUs (spark.executor.resource.gpu.*, spark.task.resource.gpu.*). */
  public static final String GPU_RESOURCE = "gpu";

  private DevicePlacement() {}

  /**
   * The device for {@code setting} (auto | cpu | gpu) given the task's resources.
   *
   * @param task the running task, or null outside Spark (no resources)
   * @throws IllegalArgumentException for {@code gpu} without a GPU resource, or an unknown setting
   */
  public static Device resolve(String setting, TaskContext task) {
    String address = null;
    if (task != null) {
      Map<String, ResourceInformation> resources = task.resourcesJMap();
      ResourceInformation gpu = resources.get(GPU_RESOURCE);
      if (gpu != null && gpu.addresses().length > 0) {
        address = gpu.addresses()[0];
      }
    }
    return resolve(setting, address);
  }

  /** As {@link #resolve(String, TaskContext)} with the task's first GPU address (or null). */
  public static Device resolve(String setting, String gpuAddress) {
    switch (setting) {
      case "cpu":
        return Device.cpu();
      case "auto":
        return gpuAddress == null ? Device.cpu() : Device.gpu(index(gpuAddress));
      case "gpu":
        if (gpuAddress == null) {
          throw new IllegalArgumentException("spark.skippipe.device=gpu but Spark assigned this"
              + " task no '" + GPU_RESOURCE + "' resource; request one per executor and task"
              + " (spark.executor.resource.gpu.amount=1, spark.task.resource.gpu.amount=1 and a"
              + " discovery script, as deploy/ does) or set spark.skippipe.device=auto or cpu");
        }
        return Device.gpu(index(gpuAddress));
      default:
        throw new IllegalArgumentException("spark.skippipe.device=" + setting
            + " is not one of auto, cpu, gpu");
    }
  }

  private static int index(String address) {
    try {
      return Integer.parseInt(address.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("Spark's '" + GPU_RESOURCE + "' resource address '"
          + address + "' is not a CUDA device index; make the discovery script print indices"
          + " (e.g. {\"name\":\"gpu\",\"addresses\":[\"0\"]})", e);
    }
  }

  /**
   * Before the run directory is touched: resolves and checks the device in {@code tasks} plain
   * (non-barrier) tasks, each holding the resources a training task would hold, so that a GPU this
   * cluster's libtorch cannot use is refused as a setting instead of failing every attempt of the
   * first chunk. Nothing runs (and the result is empty) for {@code device=cpu}, or for {@code auto}
   * when Spark gives tasks no {@code gpu} resource ({@code spark.task.resource.gpu.amount} unset):
   * every task then computes on the CPU.
   *
   * @param setting {@code spark.skippipe.device}: auto, cpu or gpu
   * @param tasks how many tasks to check (the plan's node count; Spark may place several on one
   *     executor, each is checked where it runs)
   * @return one line per task, "executor ID: DEVICE (FLAVOUR libtorch VERSION)", sorted
   * @throws ConfigException naming {@code spark.skippipe.device}, the first task's reason and the
   *     fix, when a task cannot use its device
   */
  public static List<String> checkExecutors(JavaSparkContext jsc, String setting, int tasks) {
    boolean gpuTasks = jsc.getConf().contains("spark.task.resource." + GPU_RESOURCE + ".amount");
    if (setting.equals("cpu") || (setting.equals("auto") && !gpuTasks)) {
      return List.of();
    }
    List<Integer> ids = IntStream.range(0, tasks).boxed().toList();
    // each task reports instead of throwing: no task retries, and the driver gets one clean line
    List<String> lines = jsc.parallelize(ids, tasks).map(i -> {
      String executor = SparkEnv.get().executorId();
      try {
        Device device = resolve(setting, TaskContext.get());
        check(device);
        return "ok\texecutor " + executor + ": " + device + " (" + libtorchFlavour() + ")";
      } catch (RuntimeException e) {
        return "error\texecutor " + executor + ": " + e.getMessage();
      }
    }).collect();
    TreeSet<String> ok = new TreeSet<>();
    List<String> errors = new ArrayList<>();
    for (String l : lines) {
      String[] f = l.split("\t", 2);
      (f[0].equals("ok") ? ok : errors).add(f[1]);
    }
    if (!errors.isEmpty()) {
      throw new ConfigException(ConfigKeys.DEVICE.name(), setting, errors.size() + " of " + tasks
          + " tasks cannot use their device; " + errors.get(0), "see the message: give the"
          + " executors a libtorch and driver for their GPUs, fix the gpu resource, or set "
          + ConfigKeys.DEVICE.name() + "=cpu");
    }
    return List.copyOf(ok);
  }

  /** "cpu" or "cuda": the flavour of the libtorch this JVM loaded, with its version. */
  public static String libtorchFlavour() {
    Engine engine = Engine.getEngine("PyTorch");
    boolean cuda = engine.hasCapability(StandardCapabilities.CUDA);
    return (cuda ? "cuda" : "cpu") + " libtorch " + engine.getVersion();
  }

  /**
   * Checks that this JVM's libtorch can use {@code device}.
   *
   * @throws IllegalStateException naming the device, what is missing and the fix
   */
  public static void check(Device device) {
    if (!device.isGpu()) {
      return;
    }
    Engine engine = Engine.getEngine("PyTorch");
    if (!engine.hasCapability(StandardCapabilities.CUDA)) {
      throw new IllegalStateException("the stage's device is " + device + " (Spark's '"
          + GPU_RESOURCE + "' resource, spark.skippipe.device) but this executor's libtorch is"
          + " CPU-only (" + libtorchFlavour() + "): give DJL a CUDA libtorch (docs/OPERATIONS.md,"
          + " 'GPU executors': PYTORCH_LIBRARY_PATH, PYTORCH_VERSION, PYTORCH_FLAVOR) or set"
          + " spark.skippipe.device=cpu");
    }
    int gpus = engine.getGpuCount();
    if (device.getDeviceId() >= gpus) {
      throw new IllegalStateException("the stage's device is " + device + " but libtorch sees "
          + gpus + " GPU(s) on this executor (" + libtorchFlavour() + "): the CUDA driver is"
          + " missing or older than the libtorch build needs, or CUDA_VISIBLE_DEVICES hides the"
          + " device; install a matching driver or fix the discovery script's addresses");
    }
  }
}
