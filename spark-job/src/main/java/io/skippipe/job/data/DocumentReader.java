package io.skippipe.job.data;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.skippipe.model.data.Corpus;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.io.compress.CompressionCodec;
import org.apache.hadoop.io.compress.CompressionCodecFactory;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.hadoop.ParquetReader;
import org.apache.parquet.hadoop.api.ReadSupport;
import org.apache.parquet.hadoop.example.GroupReadSupport;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.Type;

/**
 * Reads the documents of one {@link InputFiles.Split} as a stream of text, with memory bounded by a
 * few buffers whatever the length of a line, a paragraph or a file (only a JSON line or a Parquet
 * value is held whole, up to {@code maxRecordBytes}).
 *
 * <p><b>Which records a split reads.</b> A record (a line; for {@code paragraph}, the first line
 * of a paragraph; for {@code file}, a line continuing the file's one document) belongs to the split
 * in whose byte range {@code [start, end)} it begins, and is read to its end even past {@code end}.
 * A split that does not start at byte 0 first skips the rest of the line it starts in. So every
 * record is read exactly once, by the same split, whatever the number of executors.
 *
 * <p><b>Documents.</b> Text ({@code textDocument}): {@code line} — each non-blank line, without its
 * line break; {@code paragraph} — lines between empty lines ({@code "\n\n"}, as HF datasets'
 * {@code sample_by="paragraph"}), joined by {@code "\n"}; {@code file} — a whole file verbatim, line
 * breaks included. A {@code file} document split over several splits is continued, without a
 * separator, by the next split. JSON lines: the string field {@code jsonField} of each object, one
 * document per line. Parquet: the string column {@code jsonField}, one document per row. A UTF-8
 * byte-order mark is dropped; malformed UTF-8 in text is replaced by U+FFFD and counted.
 *
 * <p><b>Skipped records</b> (counted in {@link ReadCounts}): a JSON line that is not a JSON object
 * or not UTF-8 ({@code undecodable}), whose field is missing, null or not a string ({@code
 * missingField}) or blank ({@code empty}); a JSON line or Parquet value longer than {@code
 * maxRecordBytes} ({@code tooLong}); a blank file in {@code file} mode or a blank value
 * ({@code empty}). Blank lines and paragraphs of text are separators, not records.
 */
public final class DocumentReader {
  /** Where the documents go (the tokenizer and packer). */
  public interface Documents {
    /** A document's text starts; {@code newDocument} is false when it continues one. */
    void begin(boolean newDocument) throws IOException;

    /** Text of the current document. */
    void text(char[] chars, int off, int len) throws IOException;

    /** The current document's text stops; {@code documentEnds} is false when it continues. */
    void end(boolean documentEnds) throws IOException;
  }

  /** What reading found, besides the documents: records, skips and the text's make-up. */
  public static final class ReadCounts {
    public long records;
    public long missingField;
    public long empty;
    public long undecodable;
    public long tooLong;
    /** Characters of decoded text. */
    public long chars;
    /** Control characters (other than tab, line and page breaks) and U+FFFD among them. */
    public long nonTextChars;
    /** Malformed UTF-8 bytes replaced by U+FFFD. */
    public long replacedBytes;

    public long skipped() {
      return missingField + empty + undecodable + tooLong;
    }
  }

  /** Documents of the bundled corpus taken by one bundled split. */
  private static final int LEADING_WHITESPACE_LIMIT = 1 << 16;
  private static final JsonFactory JSON = new JsonFactory();
  private static final char[] REPLACEMENT = {'\uFFFD'};

  private final String format;
  private final String textDocument;
  private final String field;
  private final int maxRecordBytes;
  private final Configuration conf;
  private final ReadCounts counts = new ReadCounts();

  /**
   * @param format text | jsonl | parquet
   * @param textDocument file | paragraph | line (text only)
   * @param field the JSON field / Parquet column holding the text
   * @param maxRecordBytes longest JSON line or Parquet value read
   */
  public DocumentReader(String format, String textDocument, String field, int maxRecordBytes,
      Configuration conf) {
    this.format = format;
    this.textDocument = textDocument;
    this.field = field;
    this.maxRecordBytes = maxRecordBytes;
    this.conf = conf;
  }

  /** What has been read so far. */
  public ReadCounts counts() {
    return counts;
  }

  /** Reads the split's documents into {@code out}. */
  public void read(InputFiles.Split split, Documents out) throws IOException {
    if (split.bundled()) {
      readBundled(split, out);
    } else if (format.equals("parquet")) {
      readParquet(split, out);
    } else {
      try (LineInput in = LineInput.open(split, conf)) {
        if (format.equals("jsonl")) {
          readJsonLines(in, split, out);
        } else if (textDocument.equals("file")) {
          readFile(in, split, out);
        } else if (textDocument.equals("paragraph")) {
          readParagraphs(in, split, out);
        } else {
          readLines(in, split, out);
        }
      }
    }
  }

  private void readBundled(InputFiles.Split split, Documents out) throws IOException {
    List<String> docs = Corpus.trainDocuments();
    for (int d = (int) split.start(); d < split.end(); d++) {
      counts.records++;
      wholeDocument(docs.get(d), out);
    }
  }

  private void readLines(LineInput in, InputFiles.Split split, Documents out) throws IOException {
    DocumentText doc = new DocumentText(out);
    while (!in.eof() && in.lineStart() < split.end()) {
      if (in.lineIsEmpty()) {
        in.skipLine();
        continue;
      }
      doc.open(true);
      in.readLine(doc, false);
      if (doc.close(true)) {
        counts.records++;
      }
    }
  }

  private void readParagraphs(LineInput in, InputFiles.Split split, Documents out)
      throws IOException {
    DocumentText doc = new DocumentText(out);
    boolean prevBlank = in.previousLineEmpty();
    boolean inDoc = false;
    while (!in.eof()) {
      boolean blank = in.lineIsEmpty();
      if (inDoc) {
        if (blank) {
          in.skipLine();
          inDoc = false;
          prevBlank = true;
          if (doc.close(true)) {
            counts.records++;
          }
        } else {
          doc.chars(new char[] {'\n'}, 0, 1);
          in.readLine(doc, false);
        }
        continue;
      }
      if (blank) {
        in.skipLine();
        prevBlank = true;
        continue;
      }
      if (in.lineStart() >= split.end()) {
        break;
      }
      if (!prevBlank) { // the rest of a paragraph that began in the previous split
        in.skipLine();
        continue;
      }
      doc.open(true);
      in.readLine(doc, false);
      inDoc = true;
      prevBlank = false;
    }
    if (inDoc && doc.close(true)) {
      counts.records++;
    }
  }

  private void readFile(LineInput in, InputFiles.Split split, Documents out) throws IOException {
    DocumentText doc = new DocumentText(out);
    boolean first = split.start() == 0;
    if (first) {
      counts.records++;
    }
    doc.open(first);
    while (!in.eof() && in.lineStart() < split.end()) {
      in.readLine(doc, true);
    }
    boolean ends = in.eof();
    if (!doc.close(ends) && first && ends) {
      counts.empty++;
    }
  }

  private void readJsonLines(LineInput in, InputFiles.Split split, Documents out)
      throws IOException {
    while (!in.eof() && in.lineStart() < split.end()) {
      if (in.lineIsEmpty()) {
        in.skipLine();
        continue;
      }
      counts.records++;
      byte[] line = in.readLineBytes(maxRecordBytes);
      if (line == null) {
        counts.tooLong++;
        continue;
      }
      if (isBlank(line)) {
        counts.records--; // a whitespace-only line is a separator, as an empty one
        continue;
      }
      String text;
      try {
        text = jsonField(line);
      } catch (IOException e) {
        counts.undecodable++;
        continue;
      }
      if (text == null) {
        counts.missingField++;
      } else if (!wholeDocument(text, out)) {
        counts.empty++;
      }
    }
  }

  /** The string value of the top-level {@link #field} of the one JSON object in {@code line}. */
  private String jsonField(byte[] line) throws IOException {
    try (JsonParser p = JSON.createParser(line)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        throw new IOException("not a JSON object");
      }
      String value = null;
      boolean found = false;
      for (JsonToken t = p.nextToken(); t != JsonToken.END_OBJECT; t = p.nextToken()) {
        String name = p.currentName();
        JsonToken v = p.nextToken();
        if (!found && field.equals(name)) {
          found = true;
          value = v == JsonToken.VALUE_STRING ? p.getText() : null;
        }
        p.skipChildren();
      }
      if (p.nextToken() != null) {
        throw new IOException("more than one JSON value on the line");
      }
      return value;
    }
  }

  private void readParquet(InputFiles.Split split, Documents out) throws IOException {
    Path path = new Path(split.uri());
    MessageType schema = ParquetInputs.schema(split.uri(), conf, format);
    Type column = ParquetInputs.textColumn(schema, field, split.uri());
    Configuration c = new Configuration(conf);
    c.set(ReadSupport.PARQUET_READ_SCHEMA, new MessageType(schema.getName(), column).toString());
    try (ParquetReader<Group> reader = ParquetReader.builder(new GroupReadSupport(), path)
        .withConf(c).withFileRange(split.start(), split.end()).build()) {
      for (Group g = reader.read(); g != null; g = reader.read()) {
        counts.records++;
        if (g.getFieldRepetitionCount(0) == 0) {
          counts.missingField++;
          continue;
        }
        org.apache.parquet.io.api.Binary b = g.getBinary(0, 0);
        if (b.length() > maxRecordBytes) {
          counts.tooLong++;
        } else if (!wholeDocument(b.toStringUsingUTF8(), out)) {
          counts.empty++;
        }
      }
    }
  }

  /** One whole document from a string; false if it is blank. */
  private boolean wholeDocument(String text, Documents out) throws IOException {
    DocumentText doc = new DocumentText(out);
    doc.open(true);
    char[] c = text.toCharArray();
    doc.chars(c, 0, c.length);
    return doc.close(true);
  }

  private static boolean isBlank(byte[] b) {
    for (byte x : b) {
      if (x != ' ' && x != '\t' && x != '\r' && x != '\n' && x != '\f' && x != 0x0B) {
        return false;
      }
    }
    return true;
  }

  /**
   * The text of one record on its way to {@link Documents}: counts characters, and holds leading
   * whitespace back until a non-whitespace character shows the record is not blank (up to 64 Ki
   * characters of it). UTF-8 bytes are decoded here (malformed ones become U+FFFD).
   */
  private final class DocumentText {
    private final Documents out;
    private final StringBuilder leading = new StringBuilder();
    private final CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
        .onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT);
    private final CharBuffer chars = CharBuffer.allocate(8192);
    private boolean newDocument;
    private boolean begun;

    DocumentText(Documents out) {
      this.out = out;
    }

    void open(boolean newDocument) {
      this.newDocument = newDocument;
      begun = false;
      leading.setLength(0);
    }

    /** Closes the record; returns whether it had any non-whitespace text. */
    boolean close(boolean documentEnds) throws IOException {
      if (begun) {
        out.end(documentEnds);
      } else if (!newDocument && leading.length() > 0) {
        // whitespace continuing a document is kept (it separates words)
        begin();
        out.end(documentEnds);
        return true;
      }
      return begun;
    }

    /**
     * UTF-8 bytes of the record. {@link LineInput} hands over chunks that end on a character
     * boundary, so each chunk decodes on its own; an incomplete sequence is malformed.
     */
    void bytes(byte[] b, int off, int len) throws IOException {
      ByteBuffer in = ByteBuffer.wrap(b, off, len);
      decoder.reset();
      while (true) {
        chars.clear();
        CoderResult r = decoder.decode(in, chars, true);
        chars.flip();
        emit();
        if (r.isError()) {
          in.position(in.position() + r.length());
          counts.replacedBytes += r.length();
          chars(REPLACEMENT, 0, 1);
        } else if (r.isUnderflow()) {
          return;
        }
      }
    }

    private void emit() throws IOException {
      if (chars.hasRemaining()) {
        chars(chars.array(), chars.arrayOffset() + chars.position(), chars.remaining());
        chars.position(chars.limit());
      }
    }

    /** Decoded characters of the record. */
    void chars(char[] c, int off, int len) throws IOException {
      counts.chars += len;
      for (int i = off; i < off + len; i++) {
        char x = c[i];
        if ((x < 0x20 && x != '\t' && x != '\n' && x != '\r' && x != '\f' && x != 0x0B)
            || x == 0x7F || x == '\uFFFD') {
          counts.nonTextChars++;
        }
      }
      if (!begun) {
        int i = off;
        while (i < off + len && Character.isWhitespace(c[i])) {
          i++;
        }
        if (i == off + len && leading.length() + len <= LEADING_WHITESPACE_LIMIT) {
          leading.append(c, off, len);
          return;
        }
        begin();
      }
      out.text(c, off, len);
    }

    private void begin() throws IOException {
      begun = true;
      out.begin(newDocument);
      if (leading.length() > 0) {
        char[] l = leading.toString().toCharArray();
        leading.setLength(0);
        out.text(l, 0, l.length);
      }
    }
  }

  /**
   * A split's bytes read line by line through a 64 KiB buffer; a line's bytes are streamed, so its
   * length is not bounded. {@code lineStart()} is the file offset where the current line starts.
   */
  static final class LineInput implements AutoCloseable {
    private final InputStream in;
    private final byte[] buf = new byte[1 << 16];
    private int pos;
    private int len;
    private long offset; // file offset of buf[pos]
    private long lineStart; // where the current line starts (0 for a first line with a BOM)
    private boolean eof;
    private boolean previousEmpty;

    private LineInput(InputStream in, long offset) {
      this.in = in;
      this.offset = offset;
    }

    /**
     * Opens the split's file at its first record: at byte 0 (after a byte-order mark), else after
     * the first line break at or after {@code start − 1}.
     */
    static LineInput open(InputFiles.Split split, Configuration conf) throws IOException {
      Path path = new Path(split.uri());
      FileSystem fs = path.getFileSystem(conf);
      if (split.compressed()) {
        CompressionCodec codec = new CompressionCodecFactory(conf).getCodec(path);
        LineInput l = new LineInput(codec.createInputStream(fs.open(path)), 0);
        l.skipByteOrderMark();
        l.previousEmpty = true;
        return l;
      }
      FSDataInputStream raw = fs.open(path);
      try {
        long back = Math.min(3, split.start()); // context for "is the previous line empty"
        raw.seek(split.start() - back);
        LineInput l = new LineInput(raw, split.start() - back);
        if (split.start() == 0) {
          l.skipByteOrderMark();
          l.lineStart = 0;
          l.previousEmpty = true; // the start of a file acts as an empty line
          return l;
        }
        byte[] before = new byte[(int) back];
        for (int i = 0; i < back; i++) {
          int b = l.next();
          before[i] = (byte) (b < 0 ? '\n' : b);
        }
        int last = before.length - 1;
        if (before[last] == '\n') { // a line starts right at start
          l.previousEmpty = split.start() == 1
              || before[last - 1] == '\n'
              || (before[last - 1] == '\r' && (split.start() == 2 || before[last - 2] == '\n'));
        } else {
          // "\r\n" beginning at start − 1 after a line break is an empty line
          boolean crLine = before[last] == '\r' && (split.start() == 1 || before[last - 1] == '\n');
          l.skipLine();
          l.previousEmpty = crLine && l.lineStart() == split.start() + 1;
        }
        l.lineStart = l.offset;
        return l;
      } catch (IOException | RuntimeException e) {
        raw.close();
        throw e;
      }
    }

    /** File offset where the current line starts; a byte-order mark belongs to the first line. */
    long lineStart() {
      return lineStart;
    }

    /** Whether the line before the current position was empty (set at open). */
    boolean previousLineEmpty() {
      return previousEmpty;
    }

    boolean eof() throws IOException {
      return !ensure(1);
    }

    /** Whether the line at the current position is empty ({@code "\n"} or {@code "\r\n"}). */
    boolean lineIsEmpty() throws IOException {
      if (!ensure(1)) {
        return true;
      }
      if (buf[pos] == '\n') {
        return true;
      }
      return buf[pos] == '\r' && ensure(2) && buf[pos + 1] == '\n';
    }

    void skipLine() throws IOException {
      while (ensure(1)) {
        int i = indexOfNewline();
        if (i >= 0) {
          advance(i + 1 - pos);
          lineStart = offset;
          return;
        }
        advance(len - pos);
      }
      lineStart = offset;
    }

    /**
     * Streams the current line's bytes to {@code doc} and consumes the line break; {@code verbatim}
     * keeps the line break bytes, else a {@code "\r\n"} or {@code "\n"} break is dropped.
     */
    void readLine(DocumentText doc, boolean verbatim) throws IOException {
      while (ensure(1)) {
        int i = indexOfNewline();
        if (i >= 0) {
          int end = verbatim ? i + 1 : (i > pos && buf[i - 1] == '\r' ? i - 1 : i);
          if (end > pos) {
            doc.bytes(buf, pos, end - pos);
          }
          advance(i + 1 - pos);
          lineStart = offset;
          return;
        }
        // No line break buffered: hand over what surely belongs to the line's text, ending on a
        // character boundary and short of a trailing '\r' (it may start a "\r\n" break).
        int end = !verbatim && buf[len - 1] == '\r' ? len - 1 : len;
        end = characterBoundary(end);
        if (end == pos) {
          if (!ensure(len - pos + 1)) { // the file ends inside the line: hand over the rest
            doc.bytes(buf, pos, len - pos);
            advance(len - pos);
            lineStart = offset;
            return;
          }
          continue;
        }
        doc.bytes(buf, pos, end - pos);
        advance(end - pos);
      }
      lineStart = offset;
    }

    /** {@code end}, or less so that no UTF-8 sequence is cut at the end of buf[pos..end). */
    private int characterBoundary(int end) {
      for (int k = end - 1; k >= Math.max(pos, end - 4); k--) {
        int b = buf[k] & 0xff;
        if ((b & 0xC0) == 0x80) {
          continue; // a continuation byte: look further back for the lead byte
        }
        int need = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
        return k + need > end ? k : end;
      }
      return end;
    }

    /** The current line's bytes without its break, or null (line skipped) if over {@code max}. */
    byte[] readLineBytes(int max) throws IOException {
      java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream(
          Math.min(max, 1 << 12) + 1);
      while (ensure(1)) {
        int i = indexOfNewline();
        int end = i >= 0 ? i : len;
        if (b.size() + (end - pos) > max + 1) { // + 1: a '\r' before the break
          skipLine();
          return null;
        }
        b.write(buf, pos, end - pos);
        advance(end - pos + (i >= 0 ? 1 : 0));
        if (i >= 0) {
          break;
        }
      }
      lineStart = offset;
      byte[] line = b.toByteArray();
      if (line.length > 0 && line[line.length - 1] == '\r') {
        line = java.util.Arrays.copyOf(line, line.length - 1);
      }
      return line.length > max ? null : line;
    }

    private void skipByteOrderMark() throws IOException {
      if (ensure(3) && (buf[pos] & 0xff) == 0xEF && (buf[pos + 1] & 0xff) == 0xBB
          && (buf[pos + 2] & 0xff) == 0xBF) {
        advance(3);
      }
    }

    private int next() throws IOException {
      if (!ensure(1)) {
        return -1;
      }
      int b = buf[pos] & 0xff;
      advance(1);
      return b;
    }

    private int indexOfNewline() {
      for (int i = pos; i < len; i++) {
        if (buf[i] == '\n') {
          return i;
        }
      }
      return -1;
    }

    private void advance(int n) {
      pos += n;
      offset += n;
    }

    /** Whether at least {@code n} bytes are buffered (reading more if needed). */
    private boolean ensure(int n) throws IOException {
      if (len - pos >= n) {
        return true;
      }
      if (eof) {
        return false;
      }
      System.arraycopy(buf, pos, buf, 0, len - pos);
      len -= pos;
      pos = 0;
      while (len < n) {
        int r = in.read(buf, len, buf.length - len);
        if (r < 0) {
          eof = true;
          return false;
        }
        len += r;
      }
      return true;
    }

    @Override
    public void close() throws IOException {
      in.close();
    }
  }
}
