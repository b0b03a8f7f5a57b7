package io.skippipe.model.stage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The reason {@link Precision#BF16} is emulated (docs/OPERATIONS.md §3, "bfloat16 on this stack"):
 * DJL 0.36's PyTorch JNI has no bfloat16 case in its data-type switch, so creating or casting to a
 * bfloat16 tensor aborts the JVM. The probe runs in a child JVM; this test fails as soon as a DJL
 * upgrade makes the cast work — the moment to replace the emulation with native bfloat16 compute.
 */
class Bf16SupportTest {
  /** The probe: float16 works, then the bfloat16 cast (which aborts the JVM on DJL 0.36). */
  public static void main(String[] args) {
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray x = m.create(new float[] {1f, 2.5f, 3.14159f, -7f}, new Shape(2, 2));
      NDArray half = x.toType(DataType.FLOAT16, false);
      System.out.println("float16 " + half.matMul(half).getDataType());
      System.out.flush();
      NDArray bf = x.toType(DataType.BFLOAT16, false);
      System.out.println("bfloat16 " + bf.matMul(bf).getDataType());
    }
  }

  @Test
  void djlCannotCastToBfloat16SoBf16StaysEmulated() throws Exception {
    List<String> cmd = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Dai.djl.offline=true", "-cp", System.getProperty("java.class.path"),
        Bf16SupportTest.class.getName());
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(5, TimeUnit.MINUTES), out);
    assertTrue(out.contains("float16 float16"), "the probe did not get to the cast: " + out);
    assertTrue(!out.contains("bfloat16 bfloat16"), "DJL now creates bfloat16 tensors: replace the"
        + " emulated BF16 precision with native bfloat16 compute and update docs/OPERATIONS.md\n"
        + out);
    assertEquals(134, p.exitValue(), "expected SIGABRT from std::terminate: " + out);
    assertTrue(out.contains("terminate called without an active exception"), out);
  }
}
