package io.skippipe.job.data;

import io.skippipe.model.data.PackedDataset;
import io.skippipe.model.data.SequencePacker;
import io.skippipe.model.data.TextPieces;
import io.skippipe.model.data.TextTokenizer;
import io.skippipe.job.spark.HadoopConfs;
import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;

/**
 * One data-preparation task's writer: tokenizes the split's documents piece by piece ({@link
 * TextPieces}), packs the ids into sequences ({@link SequencePacker}: EOS before each document
 * that starts in the split and after the last one that ends in it) and deals the sequences in
 * turn to the data nodes — the split's k-th sequence goes to data node {@code nodes[(k + split) mod
 * D]} — streaming each node's sequences into its own part file {@code
 * DATA_DIR/node-<id>/part-<split>.bin} (the packed token file format of {@link PackedDataset}).
 *
 * <p>Memory: one text piece, its ids, one sequence and a 64 KiB buffer per data node. The tail of
 * the split's stream that does not fill a sequence (fewer than {@code seqLen} ids) is dropped.
 */
public final class ShardWriter implements DocumentReader.Documents, SequencePacker.Sink,
    Closeable {
  private final String dataDir;
  private final int split;
  private final List<Integer> nodes;
  private final int seqLen;
  private final TextTokenizer tokenizer;
  private final Configuration conf;
  private final SequencePacker packer;
  private final TextPieces pieces;
  private final OutputStream[] outs;
  private final long[] perNode;
  private final ByteBuffer row;
  private long documents;
  private long tokens;
  private boolean lastEnded;

  public ShardWriter(String dataDir, int split, List<Integer> nodes, int seqLen,
      TextTokenizer tokenizer, Configuration conf) {
    this.dataDir = dataDir;
    this.split = split;
    this.nodes = List.copyOf(nodes);
    this.seqLen = seqLen;
    this.tokenizer = tokenizer;
    this.conf = conf;
    this.packer = new SequencePacker(seqLen, tokenizer.eosId(), this);
    this.pieces = new TextPieces(TextPieces.DEFAULT_MAX_CHARS, this::encode);
    this.outs = new OutputStream[nodes.size()];
    this.perNode = new long[nodes.size()];
    this.row = ByteBuffer.allocate(4 * (seqLen + 1)).order(ByteOrder.LITTLE_ENDIAN);
  }

  /** The part file of data node {@code node} written by split {@code split}. */
  public static String partFile(String dataDir, int node, int split) {
    return nodeDir(dataDir, node) + String.format("/part-%05d.bin", split);
  }

  /** The shard directory of data node {@code node}. */
  public static String nodeDir(String dataDir, int node) {
    return dataDir + "/node-" + node;
  }

  @Override
  public void begin(boolean newDocument) throws IOException {
    if (newDocument) {
      packer.separator();
      documents++;
    }
    lastEnded = false;
  }

  @Override
  public void text(char[] chars, int off, int len) {
    pieces.append(chars, off, len);
  }

  @Override
  public void end(boolean documentEnds) {
    pieces.finish();
    lastEnded = documentEnds;
  }

  /** Ends the split's stream (EOS after its last document, if that ended here). */
  public void finish() throws IOException {
    if (lastEnded) {
      packer.separator();
    }
  }

  private void encode(String piece) {
    int[] ids = tokenizer.encode(piece);
    tokens += ids.length;
    try {
      packer.add(ids);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public void sequence(int[] ids) throws IOException {
    int i = (int) ((packer.sequences() + split) % nodes.size());
    if (outs[i] == null) {
      Path p = new Path(HadoopConfs.toUri(partFile(dataDir, nodes.get(i), split)));
      outs[i] = new BufferedOutputStream(p.getFileSystem(conf).create(p, true), 1 << 16);
      outs[i].write(PackedDataset.header(seqLen));
    }
    row.clear();
    row.asIntBuffer().put(ids);
    outs[i].write(row.array());
    perNode[i]++;
  }

  /** What this writer packed, with the reader's counts. */
  public PrepStats stats(DocumentReader.ReadCounts c) {
    return new PrepStats(c.records, documents, tokens, packer.sequences(), perNode.clone(),
        c.missingField, c.empty, c.undecodable, c.tooLong, c.chars, c.nonTextChars,
        c.replacedBytes);
  }

  /** Closes every part file (all of them, even when one fails). */
  @Override
  public void close() throws IOException {
    IOException first = null;
    for (OutputStream o : outs) {
      if (o == null) {
        continue;
      }
      try {
        o.close();
      } catch (IOException e) {
        if (first == null) {
          first = e;
        } else {
          first.addSuppressed(e);
        }
      }
    }
    if (first != null) {
      throw first;
    }
  }
}
