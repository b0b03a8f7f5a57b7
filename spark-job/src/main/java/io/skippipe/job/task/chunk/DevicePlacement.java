package io.skippipe.job.task.chunk;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.engine.StandardCapabilities;
import java.util.Map;
import org.apache.spark.TaskContext;
import org.apache.spark.resource.ResourceInformation;

/**
 * The device of a task's stage from {@code spark.skippipe.device}: {@code auto} takes the first
 * address of the {@code gpu} resource Spark assigned to the task (the resource {@code deploy/}
 * requests per executor) and falls back to the CPU; {@code gpu} requires that resource; {@code
 * cpu} ignores it. {@link #check} then fails early, with the fix, when the device is a GPU that
 * this executor's libtorch cannot use.
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
