package io.skippipe.scheduler.timeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The span formats shared with the Spark runtime. */
class SpanJsonTest {
  private static final List<Span> SPANS = List.of(
      new Span(0, 0, 3, Span.Kind.FWD, 0, 1_760_000),
      new Span(4, 2, -1, Span.Kind.ALLREDUCE, 5, 9),
      new Span(7, 1, 12, Span.Kind.WAIT, 100, 100));

  @Test
  void jsonLinesRoundTripWithExactlyTheRecordFieldNames() throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    SpanJson.write(SPANS, out);
    String text = out.toString();
    assertEquals("{\"node\":0,\"stage\":0,\"microbatch\":3,\"kind\":\"FWD\",\"startMicros\":0,"
        + "\"endMicros\":1760000}", text.lines().findFirst().orElseThrow());
    assertEquals(SPANS, SpanJson.read(new ByteArrayInputStream(out.toByteArray())));
    for (String line : text.split("\n")) {
      JsonNode j = new ObjectMapper().readTree(line);
      assertEquals(6, j.size());
    }
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> SpanJson.fromLine("{\"node\":1}"));
    assertTrue(e.getMessage().contains("{\"node\":1}"));
  }

  @Test
  void aSpanCannotEndBeforeItStarts() {
    assertThrows(IllegalArgumentException.class, () -> new Span(0, 0, 0, Span.Kind.FWD, 5, 4));
  }
}
