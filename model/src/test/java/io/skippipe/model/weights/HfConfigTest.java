package io.skippipe.model.weights;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.skippipe.model.LlamaConfig;
import org.junit.jupiter.api.Test;

class HfConfigTest {
  @Test
  void bosEosAndPadIdsAreWrittenAndReadBack() {
    HfConfig c = HfConfig.from(LlamaConfig.preset("llama-tiny"), 7, 7, 3);
    String json = c.toJson().toString();
    assertTrue(json.contains("\"pad_token_id\":3"), json);
    assertEquals(c, HfConfig.parse(json));
    // A config.json without pad_token_id (transformers' default None) pads with EOS.
    HfConfig noPad = HfConfig.parse(json.replace(",\"pad_token_id\":3", ""));
    assertEquals(7, noPad.padTokenId());
    assertEquals(7, HfConfig.parse(json.replace("\"pad_token_id\":3", "\"pad_token_id\":null"))
        .padTokenId());
    String m = assertThrows(IllegalArgumentException.class,
        () -> HfConfig.from(LlamaConfig.preset("llama-tiny"), 0, 0, 5000)).getMessage();
    assertTrue(m.contains("5000"), m);
  }
}
