package io.skippipe.model.data;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.skippipe.model.weights.FolderOutput;
import java.io.IOException;
import java.nio.file.Path;

/**
 * The tokenizer files of a Hugging Face model folder, so that {@code
 * AutoTokenizer.from_pretrained(dir)} gives the tokenizer the model was trained with: {@code
 * tokenizer.json} (the run's bytes, unchanged), {@code tokenizer_config.json} ({@code
 * PreTrainedTokenizerFast} with the special tokens by content and {@code added_tokens_decoder}) and
 * {@code special_tokens_map.json}. Every token named there is a special added token of {@code
 * tokenizer.json} (they come from {@link TextTokenizer#specialTokens}), so transformers never falls
 * back to defaults such as LLaMA's {@code <s>}/{@code </s>} that the vocabulary lacks.
 *
 * <p>BOS is the document separator (EOS): the packer puts it before every document, so that is the
 * token a trained model has seen at the start of a text; prompts should start with it.
 */
public final class HfTokenizerFiles {
  private HfTokenizerFiles() {}

  public static final String TOKENIZER = "tokenizer.json";
  public static final String CONFIG = "tokenizer_config.json";
  public static final String SPECIAL_TOKENS_MAP = "special_tokens_map.json";

  private static final ObjectMapper JSON = new ObjectMapper();

  /** As {@link #write(FolderOutput, byte[], TextTokenizer.SpecialTokens, int)} into a local folder. */
  public static void write(Path dir, byte[] tokenizerJson, TextTokenizer.SpecialTokens s,
      int modelMaxLength) throws IOException {
    write(FolderOutput.local(dir), tokenizerJson, s, modelMaxLength);
  }

  /**
   * Writes the three files into the folder {@code dir} (local or any Hadoop file system).
   *
   * @param tokenizerJson the run's {@code tokenizer.json} bytes (copied unchanged)
   * @param s its special tokens ({@link TextTokenizer#specialTokens})
   * @param modelMaxLength the longest sequence the model was trained on (its seqLen)
   */
  public static void write(FolderOutput dir, byte[] tokenizerJson, TextTokenizer.SpecialTokens s,
      int modelMaxLength) throws IOException {
    dir.write(TOKENIZER, tokenizerJson);

    ObjectNode map = JSON.createObjectNode();
    map.put("bos_token", s.eos().content());
    map.put("eos_token", s.eos().content());
    map.put("pad_token", s.pad().content());
    if (s.unk() != null) {
      map.put("unk_token", s.unk().content());
    }
    dir.write(SPECIAL_TOKENS_MAP, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(map));

    ObjectNode cfg = JSON.createObjectNode();
    cfg.put("tokenizer_class", "PreTrainedTokenizerFast");
    cfg.setAll(map);
    cfg.put("model_max_length", modelMaxLength);
    cfg.put("clean_up_tokenization_spaces", false);
    ObjectNode decoder = cfg.putObject("added_tokens_decoder");
    for (TextTokenizer.Token t : new TextTokenizer.Token[] {s.eos(), s.pad()}) {
      if (!decoder.has(Integer.toString(t.id()))) {
        ObjectNode o = decoder.putObject(Integer.toString(t.id()));
        o.put("content", t.content());
        o.put("lstrip", false);
        o.put("normalized", false);
        o.put("rstrip", false);
        o.put("single_word", false);
        o.put("special", true);
      }
    }
    dir.write(CONFIG, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(cfg));
  }
}
