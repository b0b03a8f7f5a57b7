package io.skippipe.model.weights;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A pure-Java reader and writer of the <a href="https://github.com/huggingface/safetensors">
 * safetensors</a> format. It writes float32 and reads float32, bfloat16 and float16 (the dtypes
 * Hugging Face checkpoints ship in), widening each value exactly to float32. The format: an 8-byte little-endian header length {@code N}, {@code N}
 * bytes of UTF-8 JSON (padded with spaces to a multiple of 8) mapping each tensor name to
 * {@code {"dtype","shape","data_offsets":[begin,end]}} plus an optional {@code "__metadata__"}
 * string map, then the tensors' little-endian bytes, contiguous, offsets relative to the end of the
 * header. Reading validates strictly (the rules of the Rust reference implementation: offsets in
 * range, contiguous, sized by dtype and shape, no trailing bytes) and every error names the file,
 * the tensor, what was found, what was expected and how to fix it.
 */
public final class Safetensors {
  private Safetensors() {}

  /** The dtype we write (and read). */
  public static final String F32 = "F32";

  /** bfloat16, read and widened to float32 (exact). */
  public static final String BF16 = "BF16";

  /** IEEE half precision, read and widened to float32 (exact). */
  public static final String F16 = "F16";

  /** Largest header we accept (the Rust implementation's limit is 100 MB as well). */
  static final long MAX_HEADER_BYTES = 100_000_000L;

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int CHUNK_FLOATS = 1 << 16;

  /**
   * A float32 tensor on the Java heap, row-major.
   *
   * @param shape dimensions, outermost first
   * @param data {@code numel(shape)} values
   */
  public record Tensor(long[] shape, float[] data) {
    public Tensor {
      for (long s : shape) {
        if (s < 0) {
          throw new IllegalArgumentException(
              "negative dimension in shape " + Arrays.toString(shape));
        }
      }
      if (LlamaTensors.numel(shape) != data.length) {
        throw new IllegalArgumentException(
            "shape " + Arrays.toString(shape) + " holds " + LlamaTensors.numel(shape)
                + " values but the data has " + data.length);
      }
    }
  }

  /**
   * One header entry.
   *
   * @param name tensor name
   * @param dtype safetensors dtype string, e.g. {@code F32}
   * @param shape dimensions
   * @param begin first byte, relative to the end of the header
   * @param end one past the last byte
   */
  public record Entry(String name, String dtype, long[] shape, long begin, long end) {}

  /**
   * A parsed header.
   *
   * @param entries tensors in file (offset) order
   * @param metadata the {@code __metadata__} map (empty if absent)
   * @param dataStart byte position of the data area in the file ({@code 8 + N})
   */
  public record Header(Map<String, Entry> entries, Map<String, String> metadata, long dataStart) {
    /** Bytes of tensor data that follow the header. */
    public long dataBytes() {
      long end = 0;
      for (Entry e : entries.values()) {
        end = Math.max(end, e.end());
      }
      return end;
    }
  }

  /**
   * The content of a file.
   *
   * @param tensors every tensor, in file order
   * @param metadata the {@code __metadata__} map
   */
  public record Contents(Map<String, Tensor> tensors, Map<String, String> metadata) {}

  // ---------------------------------------------------------------------------------------------
  // Writing

  /** Writes tensors (in map order) and metadata to a stream; does not close it. */
  public static void write(
      OutputStream out, Map<String, Tensor> tensors, Map<String, String> metadata)
      throws IOException {
    write(out, shapesOf(tensors), metadata, (name, from, chunk, n) ->
        System.arraycopy(tensors.get(name).data(), Math.toIntExact(from), chunk, 0, n));
  }

  /**
   * Fills a chunk of a tensor's values for the streaming writer: {@code n} values starting at
   * element {@code from} (row-major) into {@code chunk[0..n)}.
   */
  @FunctionalInterface
  public interface ChunkSource {
    void fill(String name, long from, float[] chunk, int n) throws IOException;
  }

  /**
   * Writes a file whose tensors (in {@code shapes} order) are produced chunk by chunk, so no tensor
   * (and no file) needs to be in memory at once: files and tensors of any size. Does not close
   * {@code out}.
   */
  public static void write(
      OutputStream out, Map<String, long[]> shapes, Map<String, String> metadata,
      ChunkSource source) throws IOException {
    byte[] header = headerBytes(shapes, metadata);
    ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length);
    out.write(len.array());
    out.write(header);
    ByteBuffer buf = ByteBuffer.allocate(4 * CHUNK_FLOATS).order(ByteOrder.LITTLE_ENDIAN);
    float[] chunk = new float[CHUNK_FLOATS];
    for (Map.Entry<String, long[]> t : shapes.entrySet()) {
      long numel = LlamaTensors.numel(t.getValue());
      for (long i = 0; i < numel; i += CHUNK_FLOATS) {
        int n = (int) Math.min(CHUNK_FLOATS, numel - i);
        source.fill(t.getKey(), i, chunk, n);
        buf.clear();
        buf.asFloatBuffer().put(chunk, 0, n);
        out.write(buf.array(), 0, 4 * n);
      }
    }
    out.flush();
  }

  /** Writes a file through a temporary sibling renamed into place (no half-written file). */
  public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata)
      throws IOException {
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 20)) {
      write(out, tensors, metadata);
    }
    Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
  }

  /** Size in bytes of the file {@link #write} would produce, without writing it. */
  public static long serializedSize(Map<String, long[]> shapes, Map<String, String> metadata) {
    long data = 0;
    for (long[] shape : shapes.values()) {
      data += 4L * LlamaTensors.numel(shape);
    }
    return 8 + headerBytes(shapes, metadata).length + data;
  }

  /** The JSON header, padded with spaces to a multiple of 8 bytes (as the Python writer does). */
  private static byte[] headerBytes(Map<String, long[]> tensors, Map<String, String> metadata) {
    ObjectNode h = JSON.createObjectNode();
    if (metadata != null && !metadata.isEmpty()) {
      ObjectNode meta = h.putObject("__metadata__");
      new TreeMap<>(metadata).forEach(meta::put);
    }
    long offset = 0;
    for (Map.Entry<String, long[]> t : tensors.entrySet()) {
      if (t.getKey().equals("__metadata__") || t.getKey().isEmpty()) {
        throw new IllegalArgumentException(
            "tensor name \"" + t.getKey() + "\" is reserved or empty; rename the tensor");
      }
      ObjectNode e = h.putObject(t.getKey());
      e.put("dtype", F32);
      var shape = e.putArray("shape");
      for (long s : t.getValue()) {
        shape.add(s);
      }
      long bytes = 4L * LlamaTensors.numel(t.getValue());
      e.putArray("data_offsets").add(offset).add(offset + bytes);
      offset += bytes;
    }
    byte[] json;
    try {
      json = JSON.writeValueAsBytes(h);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
    int padded = (json.length + 7) / 8 * 8;
    byte[] header = Arrays.copyOf(json, padded);
    Arrays.fill(header, json.length, padded, (byte) ' ');
    return header;
  }

  // ---------------------------------------------------------------------------------------------
  // Reading

  /** Reads and validates the header of a file. */
  public static Header readHeader(Path file) throws IOException {
    try (InputStream in = new BufferedInputStream(Files.newInputStream(file))) {
      return readHeader(in, Files.size(file), file.toString());
    }
  }

  /** Reads and validates a whole file. */
  public static Contents read(Path file) throws IOException {
    try (InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 20)) {
      return read(in, Files.size(file), file.toString());
    }
  }

  /**
   * Reads and validates a whole file from a stream.
   *
   * @param totalLength the file's length if known (checked against the header), or -1
   * @param source the file name for messages
   */
  public static Contents read(InputStream in, long totalLength, String source) throws IOException {
    Map<String, Tensor> tensors = new LinkedHashMap<>();
    Header h = read(in, totalLength, source, null, new TensorSink() {
      private float[] data;

      @Override
      public void chunk(Entry e, long from, float[] chunk, int n) {
        if (from == 0) {
          data = new float[Math.toIntExact(LlamaTensors.numel(e.shape()))];
        }
        System.arraycopy(chunk, 0, data, (int) from, n);
        if (from + n == data.length) {
          tensors.put(e.name(), new Tensor(e.shape(), data));
        }
      }

      @Override
      public void empty(Entry e) {
        tensors.put(e.name(), new Tensor(e.shape(), new float[0]));
      }
    });
    return new Contents(tensors, h.metadata());
  }

  /** Receives a file's tensor values chunk by chunk, in file order (the streaming reader). */
  public interface TensorSink {
    /** Values {@code [from, from + n)} of tensor {@code e} (row-major), in {@code chunk[0..n)}. */
    void chunk(Entry e, long from, float[] chunk, int n) throws IOException;

    /** A tensor with no elements. */
    default void empty(Entry e) throws IOException {}
  }

  /**
   * Reads and validates a file from a stream without holding it: the header is checked (and, if
   * {@code check} is given, passed to it before any data is read), then every tensor's values go to
   * {@code sink} in chunks. Files and tensors of any size. Returns the header.
   *
   * @param totalLength the file's length if known (checked against the header), or -1 (then
   *     trailing bytes are detected by reading one more byte)
   */
  public static Header read(InputStream in, long totalLength, String source,
      java.util.function.Consumer<Header> check, TensorSink sink) throws IOException {
    return read(in, totalLength, source, check, e -> true, sink);
  }

  /**
   * As {@link #read(InputStream, long, String, java.util.function.Consumer, TensorSink)}, but only
   * the tensors {@code wanted} accepts go to {@code sink}; the bytes of the others are skipped
   * ({@link InputStream#skip}, a seek on file and Hadoop streams), and reading stops after the last
   * wanted tensor: a pipeline stage reads its own layers out of a whole-model file.
   */
  public static Header read(InputStream in, long totalLength, String source,
      java.util.function.Consumer<Header> check, java.util.function.Predicate<Entry> wanted,
      TensorSink sink) throws IOException {
    Header h = readHeader(in, totalLength, source);
    if (check != null) {
      check.accept(h);
    }
    List<Entry> entries = new ArrayList<>(h.entries().values());
    int last = -1;
    for (int i = 0; i < entries.size(); i++) {
      if (wanted.test(entries.get(i))) {
        last = i;
      }
    }
    DataInputStream din = new DataInputStream(in);
    byte[] bytes = new byte[4 * CHUNK_FLOATS];
    float[] chunk = new float[CHUNK_FLOATS];
    for (int k = 0; k <= last; k++) {
      Entry e = entries.get(k);
      if (!wanted.test(e)) {
        skipFully(din, e.end() - e.begin(), source, e);
        continue;
      }
      int width = bytesPerElement(e.dtype());
      long numel = LlamaTensors.numel(e.shape());
      if (numel == 0) {
        sink.empty(e);
      }
      for (long i = 0; i < numel; i += CHUNK_FLOATS) {
        int n = (int) Math.min(CHUNK_FLOATS, numel - i);
        try {
          din.readFully(bytes, 0, width * n);
        } catch (EOFException eof) {
          throw truncated(source, e, eof);
        }
        decode(e.dtype(), bytes, chunk, n);
        sink.chunk(e, i, chunk, n);
      }
    }
    if (last == entries.size() - 1 && totalLength < 0 && in.read() != -1) {
      throw new IllegalArgumentException(
          source + " has bytes after the last tensor (the header describes "
              + h.dataBytes() + " data bytes); the file is corrupt or not a safetensors file");
    }
    return h;
  }

  /** Bytes per element of a dtype we read. */
  static int bytesPerElement(String dtype) {
    return switch (dtype) {
      case F32 -> 4;
      case BF16, F16 -> 2;
      default -> throw new IllegalStateException("unsupported dtype " + dtype);
    };
  }

  /** Little-endian {@code dtype} values in {@code bytes} → float32 {@code chunk[0..n)}. */
  private static void decode(String dtype, byte[] bytes, float[] chunk, int n) {
    ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    switch (dtype) {
      case F32 -> b.asFloatBuffer().get(chunk, 0, n);
      case BF16 -> {
        for (int i = 0; i < n; i++) {
          chunk[i] = Float.intBitsToFloat((b.getShort(2 * i) & 0xffff) << 16);
        }
      }
      case F16 -> {
        for (int i = 0; i < n; i++) {
          chunk[i] = halfToFloat(b.getShort(2 * i));
        }
      }
      default -> throw new IllegalStateException("unsupported dtype " + dtype);
    }
  }

  /**
   * IEEE 754 binary16 → float32, exact (every half is a float): sign, 5-bit exponent (bias 15),
   * 10-bit fraction; subnormals are renormalised, infinities and NaN keep their class.
   */
  static float halfToFloat(short h) {
    int sign = (h & 0x8000) << 16;
    int exp = (h >>> 10) & 0x1f;
    int frac = h & 0x3ff;
    if (exp == 0x1f) {
      return Float.intBitsToFloat(sign | 0x7f800000 | (frac << 13));
    }
    if (exp == 0) {
      if (frac == 0) {
        return Float.intBitsToFloat(sign);
      }
      float v = frac * 0x1p-24f; // 2^-14 · frac/1024
      return sign == 0 ? v : -v;
    }
    return Float.intBitsToFloat(sign | ((exp - 15 + 127) << 23) | (frac << 13));
  }

  private static void skipFully(InputStream in, long n, String source, Entry e)
      throws IOException {
    long left = n;
    while (left > 0) {
      long s = in.skip(left);
      if (s <= 0) {
        if (in.read() == -1) {
          throw truncated(source, e, null);
        }
        s = 1;
      }
      left -= s;
    }
  }

  private static IllegalArgumentException truncated(String source, Entry e, EOFException cause) {
    return new IllegalArgumentException(
        source + " is truncated: the data of tensor \"" + e.name() + "\" (bytes "
            + e.begin() + ".." + e.end() + " after the header) ends early. The file was"
            + " cut off while being written or copied; write or copy it again", cause);
  }

  /** Reads and validates a header from a stream positioned at the file start. */
  public static Header readHeader(InputStream in, long totalLength, String source)
      throws IOException {
    DataInputStream din = new DataInputStream(in);
    byte[] lenBytes = new byte[8];
    try {
      din.readFully(lenBytes);
    } catch (EOFException e) {
      throw new IllegalArgumentException(
          source + " is truncated: it is shorter than the 8-byte header length of a safetensors"
              + " file. Write or copy the file again", e);
    }
    long n = ByteBuffer.wrap(lenBytes).order(ByteOrder.LITTLE_ENDIAN).getLong();
    if (n < 2 || n > MAX_HEADER_BYTES) {
      throw new IllegalArgumentException(
          source + " declares a header of " + n + " bytes; a safetensors header is 2.."
              + MAX_HEADER_BYTES + " bytes. The file is corrupt or not a safetensors file");
    }
    if (totalLength >= 0 && 8 + n > totalLength) {
      throw new IllegalArgumentException(
          source + " is truncated: its header declares " + n + " bytes but the file has only "
              + (totalLength - 8) + " after the length. Write or copy the file again");
    }
    byte[] json = new byte[(int) n];
    try {
      din.readFully(json);
    } catch (EOFException e) {
      throw new IllegalArgumentException(
          source + " is truncated inside its " + n + "-byte header. Write or copy it again", e);
    }
    JsonNode root;
    try {
      root = JSON.readTree(new String(json, StandardCharsets.UTF_8));
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException(
          source + " has a header that is not valid JSON (" + e.getOriginalMessage()
              + "); the file is corrupt or not a safetensors file", e);
    }
    if (root == null || !root.isObject()) {
      throw new IllegalArgumentException(
          source + " has a header that is not a JSON object; the file is corrupt");
    }
    Map<String, String> metadata = new LinkedHashMap<>();
    List<Entry> entries = new ArrayList<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> f = it.next();
      if (f.getKey().equals("__metadata__")) {
        if (!f.getValue().isObject()) {
          throw new IllegalArgumentException(
              source + ": __metadata__ must be an object of strings; found " + f.getValue());
        }
        f.getValue().fields().forEachRemaining(m -> {
          if (!m.getValue().isTextual()) {
            throw new IllegalArgumentException(
                source + ": __metadata__ value \"" + m.getKey() + "\" is " + m.getValue()
                    + "; safetensors metadata values must be strings");
          }
          metadata.put(m.getKey(), m.getValue().asText());
        });
        continue;
      }
      entries.add(entry(f.getKey(), f.getValue(), source));
    }
    entries.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
    long expected = 0;
    for (Entry e : entries) {
      if (e.begin() != expected) {
        throw new IllegalArgumentException(
            source + ": tensor \"" + e.name() + "\" starts at data offset " + e.begin()
                + " but the previous tensor ends at " + expected + " (tensors must be contiguous"
                + " and must not overlap). The header is corrupt; write the file again");
      }
      expected = e.end();
    }
    if (totalLength >= 0 && 8 + n + expected != totalLength) {
      String what = 8 + n + expected > totalLength ? "is truncated" : "has trailing bytes";
      throw new IllegalArgumentException(
          source + " " + what + ": the header describes " + expected + " data bytes, the file"
              + " holds " + (totalLength - 8 - n) + " after the header"
              + (entries.isEmpty() ? "" : " (last tensor \""
                  + entries.get(entries.size() - 1).name() + "\" ends at " + expected + ")")
              + ". Write or copy the file again");
    }
    Map<String, Entry> byOffset = new LinkedHashMap<>();
    for (Entry e : entries) {
      byOffset.put(e.name(), e);
    }
    return new Header(byOffset, metadata, 8 + n);
  }

  private static Entry entry(String name, JsonNode v, String source) {
    String where = source + ": tensor \"" + name + "\"";
    if (!v.isObject()) {
      throw new IllegalArgumentException(where + " has header value " + v + "; expected an object"
          + " with dtype, shape and data_offsets");
    }
    JsonNode dtype = v.get("dtype");
    JsonNode shape = v.get("shape");
    JsonNode offsets = v.get("data_offsets");
    if (dtype == null || !dtype.isTextual() || shape == null || !shape.isArray()
        || offsets == null || !offsets.isArray() || offsets.size() != 2) {
      throw new IllegalArgumentException(where + " has header value " + v + "; expected"
          + " {\"dtype\": \"F32\", \"shape\": [...], \"data_offsets\": [begin, end]}");
    }
    String type = dtype.asText();
    if (!type.equals(F32) && !type.equals(BF16) && !type.equals(F16)) {
      throw new IllegalArgumentException(where + " has dtype " + type
          + "; only F32, BF16 and F16 are read. Convert the model to float32 before saving (in"
          + " Python: model.float().save_pretrained(dir, safe_serialization=True))");
    }
    long[] dims = new long[shape.size()];
    for (int i = 0; i < dims.length; i++) {
      if (!shape.get(i).canConvertToLong() || shape.get(i).asLong() < 0) {
        throw new IllegalArgumentException(where + " has shape " + shape
            + "; dimensions must be non-negative integers");
      }
      dims[i] = shape.get(i).asLong();
    }
    if (!offsets.get(0).canConvertToLong() || !offsets.get(1).canConvertToLong()) {
      throw new IllegalArgumentException(where + " has data_offsets " + offsets
          + "; expected two integers [begin, end]");
    }
    long begin = offsets.get(0).asLong();
    long end = offsets.get(1).asLong();
    long numel = LlamaTensors.numel(dims);
    if (begin < 0 || end < begin) {
      throw new IllegalArgumentException(where + " has data_offsets " + offsets
          + "; expected 0 <= begin <= end. The header is corrupt; write the file again");
    }
    long bytes = bytesPerElement(type) * numel;
    if (end - begin != bytes) {
      throw new IllegalArgumentException(where + " has data_offsets " + offsets + " ("
          + (end - begin) + " bytes) but dtype " + type + " and shape " + Arrays.toString(dims)
          + " need " + bytes + " bytes. The header is corrupt; write the file again");
    }
    return new Entry(name, type, dims, begin, end);
  }

  // ---------------------------------------------------------------------------------------------
  // Checking against a configuration

  /**
   * Checks that a file's tensors are exactly the expected names with the expected shapes.
   *
   * @param found tensors read from the file, by name
   * @param expected expected shape by name (e.g. {@link LlamaTensors#stage})
   * @param source the file, for messages
   * @param what what the expectation comes from, e.g. "stage 2 of llama-tiny"
   */
  public static void checkShapes(
      Map<String, long[]> found, Map<String, long[]> expected, String source, String what) {
    for (Map.Entry<String, long[]> e : expected.entrySet()) {
      long[] f = found.get(e.getKey());
      if (f == null) {
        throw new IllegalArgumentException(source + " lacks tensor \"" + e.getKey() + "\" (shape "
            + Arrays.toString(e.getValue()) + ") that " + what + " needs. The file belongs to a"
            + " different model or stage; load the file written for " + what);
      }
      if (!Arrays.equals(f, e.getValue())) {
        throw new IllegalArgumentException(source + ": tensor \"" + e.getKey() + "\" has shape "
            + Arrays.toString(f) + " but " + what + " expects " + Arrays.toString(e.getValue())
            + ". The file was written for a different model configuration; use the matching"
            + " config.json / model preset or the matching file");
      }
    }
    for (String name : found.keySet()) {
      if (!expected.containsKey(name)) {
        throw new IllegalArgumentException(source + " has tensor \"" + name + "\" that " + what
            + " does not have. The file belongs to a different model or stage; load the file"
            + " written for " + what);
      }
    }
  }

  /** Shapes by name of a header. */
  public static Map<String, long[]> shapes(Header h) {
    Map<String, long[]> m = new LinkedHashMap<>();
    h.entries().forEach((k, e) -> m.put(k, e.shape()));
    return m;
  }

  /** Shapes by name of a tensor map. */
  public static Map<String, long[]> shapesOf(Map<String, Tensor> tensors) {
    Map<String, long[]> m = new LinkedHashMap<>();
    tensors.forEach((k, t) -> m.put(k, t.shape()));
    return m;
  }
}
