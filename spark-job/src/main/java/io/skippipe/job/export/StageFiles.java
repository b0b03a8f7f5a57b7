package io.skippipe.job.export;

import io.skippipe.job.checkpoint.CheckpointStore;
import io.skippipe.job.checkpoint.StageState;
import io.skippipe.model.weights.HfConfig;
import io.skippipe.model.weights.LlamaTensors;
import io.skippipe.model.weights.Safetensors;
import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/**
 * The weights of every stage of one committed step, read as a stream in Hugging Face model order
 * for {@code ModelExport}: each stage's file is opened once and read front to back (a stage file's
 * tensor order is a subsequence of the model order: embedding, its layers, norm, head), so export
 * holds one chunk at a time, never a tensor, a stage or the model.
 */
final class StageFiles implements Safetensors.ChunkSource, AutoCloseable {
  private final CheckpointStore store;
  private final long step;
  private final HfConfig config;
  private final int layersPerStage;
  private final List<Reader> readers = new ArrayList<>();

  /** One stage file being read: its stream and the tensors still ahead, in file order. */
  private static final class Reader {
    final String source;
    final DataInputStream in;
    final Iterator<Safetensors.Entry> ahead;
    Safetensors.Entry current;
    long read;

    Reader(String source, DataInputStream in, Iterator<Safetensors.Entry> ahead) {
      this.source = source;
      this.in = in;
      this.ahead = ahead;
    }
  }

  StageFiles(CheckpointStore store, long step, HfConfig config, int stages, int layersPerStage) {
    this.store = store;
    this.step = step;
    this.config = config;
    this.layersPerStage = layersPerStage;
    for (int s = 0; s < stages; s++) {
      readers.add(null);
    }
  }

  @Override
  public void fill(String name, long from, float[] chunk, int n) throws IOException {
    Reader r = reader(stageOf(name));
    if (from == 0) {
      if (r.current != null && r.read != LlamaTensors.numel(r.current.shape())) {
        throw new IllegalStateException("export asked for " + name + " before the rest of "
            + r.current.name());
      }
      r.current = r.ahead.hasNext() ? r.ahead.next() : null;
      r.read = 0;
      if (r.current == null || !r.current.name().equals(name)) {
        throw new IllegalStateException(r.source + ": expected tensor " + name + " next, found "
            + (r.current == null ? "the end of the file" : r.current.name()));
      }
    }
    byte[] bytes = new byte[4 * n];
    try {
      r.in.readFully(bytes);
    } catch (EOFException e) {
      throw new IllegalArgumentException(r.source + " is truncated inside tensor " + name
          + "; the checkpoint is damaged, export an earlier step", e);
    }
    ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(chunk, 0, n);
    r.read += n;
  }

  private Reader reader(int stage) throws IOException {
    Reader r = readers.get(stage);
    if (r == null) {
      String rel = CheckpointStore.replicaFile(stage, 0, StageState.WEIGHTS);
      String source = StageState.where(store, step, rel);
      DataInputStream in = new DataInputStream(new BufferedInputStream(store.open(step, rel),
          1 << 20));
      Safetensors.Header h = Safetensors.readHeader(in, -1, source);
      Safetensors.checkShapes(Safetensors.shapes(h),
          LlamaTensors.stage(config, stage, layersPerStage), source, "stage " + stage + " ("
              + layersPerStage + " layers per stage, hidden " + config.hiddenSize() + ", vocab "
              + config.vocabSize() + ")");
      r = new Reader(source, in, h.entries().values().iterator());
      readers.set(stage, r);
    }
    return r;
  }

  /** The stage holding tensor {@code name} (HF naming). */
  private int stageOf(String name) {
    if (name.startsWith("model.layers.")) {
      int layer = Integer.parseInt(name.substring("model.layers.".length(),
          name.indexOf('.', "model.layers.".length())));
      return layer / layersPerStage;
    }
    return 0;
  }

  /** Closes every stage file (the store verifies each file's checksum when it is closed). */
  @Override
  public void close() throws IOException {
    IOException first = null;
    for (Reader r : readers) {
      if (r != null) {
        try {
          r.in.close();
        } catch (IOException e) {
          if (first == null) {
            first = e;
          } else {
            first.addSuppressed(e);
          }
        }
      }
    }
    if (first != null) {
      throw first;
    }
  }
}
