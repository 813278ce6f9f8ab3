//! Text preprocessing: a `tokenizer.json` (HuggingFace `tokenizers`) turned into token ids and
//! an attention mask for the frozen text encoder, with a hard cap on the sequence length.
//!
//! Padding configured in the json is disabled (a single text is never padded; a batch is padded
//! to its longest member), and truncation is set to `max_tokens` including the special tokens
//! the post-processor adds (`[CLS] ... [SEP]` for BERT).

use std::path::{Path, PathBuf};

use tokenizers::{
    PostProcessor, Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy,
};

use crate::error::{Error, Result};

/// Default maximum sequence length, special tokens included.
pub const DEFAULT_MAX_TOKENS: usize = 32;

/// Input longer than this many bytes is cut (at a character boundary) before tokenising.
pub const MAX_TEXT_BYTES: usize = 100_000;

/// A loaded tokenizer with a fixed maximum sequence length.
#[derive(Clone)]
pub struct TextTokenizer {
    /// Tokenizer with truncation at `max_tokens` and no padding: what `encode` uses.
    tokenizer: Tokenizer,
    /// Same tokenizer without truncation, only used to count the tokens of a truncated text.
    untruncated: Tokenizer,
    max_tokens: usize,
    pad_id: u32,
    path: PathBuf,
}

impl std::fmt::Debug for TextTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextTokenizer")
            .field("path", &self.path)
            .field("max_tokens", &self.max_tokens)
            .field("pad_id", &self.pad_id)
            .field("vocab_size", &self.vocab_size())
            .finish()
    }
}

/// One tokenized text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenizedText {
    /// Token ids, special tokens included, at most `max_tokens` long.
    pub ids: Vec<u32>,
    /// 1 for every token (a single text carries no padding).
    pub attention_mask: Vec<u32>,
    /// The token strings, aligned with `ids` (e.g. `["[CLS]", "hello", "world", "[SEP]"]`).
    pub tokens: Vec<String>,
    /// True when the text did not fit: tokens were dropped, or the input was cut at
    /// [`MAX_TEXT_BYTES`].
    pub truncated: bool,
    /// Length the encoding would have had without the `max_tokens` limit (special tokens
    /// included; counted over at most [`MAX_TEXT_BYTES`] of input).
    pub n_tokens_untruncated: usize,
}

impl TextTokenizer {
    /// Load a `tokenizer.json`. A missing or unreadable file is [`Error::Io`]; a file that is
    /// not a valid tokenizer is [`Error::Tokenizer`] naming the path.
    pub fn from_file(path: &Path, max_tokens: usize) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(&bytes, path, max_tokens)
    }

    /// Build from the bytes of a `tokenizer.json`; `path` only names the source in errors.
    /// `max_tokens` includes the special tokens and must leave room for at least one token of
    /// text; a `max_tokens` (the manifest's) that does not is [`Error::Tokenizer`].
    pub fn from_bytes(bytes: &[u8], path: &Path, max_tokens: usize) -> Result<Self> {
        let tok_err = |reason: String| Error::Tokenizer {
            path: path.to_path_buf(),
            reason,
        };
        let mut tokenizer = Tokenizer::from_bytes(bytes).map_err(|e| tok_err(e.to_string()))?;
        let n_special = tokenizer
            .get_post_processor()
            .map_or(0, |p| p.added_tokens(false));
        if max_tokens <= n_special {
            return Err(tok_err(format!(
                "max_tokens = {max_tokens} leaves no room for text: it must be more than the \
                 {n_special} special token(s) this tokenizer adds"
            )));
        }
        let pad_id = tokenizer
            .get_padding()
            .map(|p| p.pad_id)
            .or_else(|| tokenizer.token_to_id("[PAD]"))
            .or_else(|| tokenizer.token_to_id("<pad>"))
            .unwrap_or(0);
        tokenizer.with_padding(None);
        let mut untruncated = tokenizer.clone();
        untruncated
            .with_truncation(None)
            .map_err(|e| tok_err(e.to_string()))?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                direction: TruncationDirection::Right,
                max_length: max_tokens,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
            }))
            .map_err(|e| tok_err(e.to_string()))?;
        Ok(Self {
            tokenizer,
            untruncated,
            max_tokens,
            pad_id,
            path: path.to_path_buf(),
        })
    }

    /// Maximum sequence length, special tokens included.
    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    /// Id used to pad batches (from the json's padding config, else `[PAD]`/`<pad>`, else 0).
    pub fn pad_id(&self) -> u32 {
        self.pad_id
    }

    /// Vocabulary size, added tokens included.
    pub fn vocab_size(&self) -> usize {
        self.tokenizer.get_vocab_size(true)
    }

    /// Where the tokenizer was loaded from (as given to the constructor).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The wrapped `tokenizers::Tokenizer` (truncation at `max_tokens`, no padding).
    pub fn inner(&self) -> &Tokenizer {
        &self.tokenizer
    }

    fn encoding_error(&self, e: &dyn std::fmt::Display) -> Error {
        Error::Tokenizer {
            path: self.path.clone(),
            reason: format!("encoding failed: {e}"),
        }
    }

    /// Tokenize one text. Empty or whitespace-only text (or text with nothing the tokenizer
    /// keeps) is [`Error::EmptyText`]. Longer text is truncated to `max_tokens`, keeping the
    /// special tokens (`[CLS] ... [SEP]`), with `truncated = true`.
    pub fn encode(&self, text: &str) -> Result<TokenizedText> {
        if text.trim().is_empty() {
            return Err(Error::EmptyText);
        }
        let (text, cut) = cut_at_char_boundary(text, MAX_TEXT_BYTES);
        let enc = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| self.encoding_error(&e))?;
        let content = enc
            .get_special_tokens_mask()
            .iter()
            .filter(|&&m| m == 0)
            .count();
        if content == 0 {
            return Err(Error::EmptyText);
        }
        let ids = enc.get_ids().to_vec();
        let over = !enc.get_overflowing().is_empty() || ids.len() > self.max_tokens;
        let n_tokens_untruncated = if over {
            self.untruncated
                .encode(text, true)
                .map_err(|e| self.encoding_error(&e))?
                .len()
        } else {
            ids.len()
        };
        let (ids, tokens) = if ids.len() > self.max_tokens {
            // Defensive: a post-processor that adds more than it declared.
            let mut tokens = enc.get_tokens().to_vec();
            tokens.truncate(self.max_tokens);
            (ids[..self.max_tokens].to_vec(), tokens)
        } else {
            (ids, enc.get_tokens().to_vec())
        };
        Ok(TokenizedText {
            attention_mask: vec![1; ids.len()],
            ids,
            tokens,
            truncated: over || cut,
            n_tokens_untruncated,
        })
    }

    /// Tokenize several texts and pad them to the longest one with [`Self::pad_id`].
    /// Returns `(ids [B, L] row-major, attention mask [B, L], L)`. Any empty text is
    /// [`Error::EmptyText`]; an empty batch is [`Error::Internal`] (callers batch non-empty
    /// chunks).
    pub fn encode_batch(&self, texts: &[&str]) -> Result<(Vec<u32>, Vec<u32>, usize)> {
        if texts.is_empty() {
            return Err(Error::Internal("encode_batch: no texts given".to_string()));
        }
        let encoded = texts
            .iter()
            .map(|t| self.encode(t))
            .collect::<Result<Vec<_>>>()?;
        let len = encoded.iter().map(|e| e.ids.len()).max().unwrap_or(0);
        let mut ids = Vec::with_capacity(len * encoded.len());
        let mut mask = Vec::with_capacity(len * encoded.len());
        for e in &encoded {
            ids.extend_from_slice(&e.ids);
            ids.extend(std::iter::repeat_n(self.pad_id, len - e.ids.len()));
            mask.extend_from_slice(&e.attention_mask);
            mask.extend(std::iter::repeat_n(0, len - e.ids.len()));
        }
        Ok((ids, mask, len))
    }
}

/// The longest prefix of `text` of at most `max_bytes` bytes that ends at a char boundary, and
/// whether anything was cut.
fn cut_at_char_boundary(text: &str, max_bytes: usize) -> (&str, bool) {
    if text.len() <= max_bytes {
        return (text, false);
    }
    let mut end = max_bytes;
    while end > 0 && !text.is_char_boundary(end) {
        end -= 1;
    }
    (&text[..end], true)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLS: u32 = 101;
    const SEP: u32 = 102;

    fn tokenizer_path() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("models/minilm/tokenizer.json")
    }

    fn bert(max_tokens: usize) -> TextTokenizer {
        let path = tokenizer_path();
        TextTokenizer::from_file(&path, max_tokens)
            .unwrap_or_else(|e| panic!("load {}: {e}", path.display()))
    }

    #[test]
    fn hello_world_has_the_known_ids() {
        let tok = bert(DEFAULT_MAX_TOKENS);
        let t = tok.encode("hello world").expect("encode");
        assert_eq!(t.ids, vec![CLS, 7592, 2088, SEP]);
        assert_eq!(t.attention_mask, vec![1, 1, 1, 1]);
        assert_eq!(t.tokens, vec!["[CLS]", "hello", "world", "[SEP]"]);
        assert!(!t.truncated);
        assert_eq!(t.n_tokens_untruncated, 4);
        assert_eq!(tok.pad_id(), 0);
        assert_eq!(tok.max_tokens(), DEFAULT_MAX_TOKENS);
        assert_eq!(tok.vocab_size(), 30522);
    }

    #[test]
    fn text_is_lowercased() {
        let tok = bert(DEFAULT_MAX_TOKENS);
        let upper = tok.encode("Seven").expect("upper");
        let lower = tok.encode("seven").expect("lower");
        assert_eq!(upper.ids, lower.ids);
        assert_eq!(upper.ids.len(), 3);
        assert_eq!(tok.encode("  SEVEN\n").expect("padded").ids, lower.ids);
    }

    #[test]
    fn empty_and_whitespace_text_is_refused() {
        let tok = bert(DEFAULT_MAX_TOKENS);
        for text in ["", " ", "\n\t  \r\n", "\u{3000}"] {
            match tok.encode(text) {
                Err(e @ Error::EmptyText) => {
                    assert_eq!(e.to_string(), "text is empty; type a word or a sentence");
                }
                other => panic!("{text:?}: expected EmptyText, got {other:?}"),
            }
        }
        // Only characters the normaliser removes (control characters): nothing to encode.
        assert!(matches!(tok.encode("\u{0}\u{1}"), Err(Error::EmptyText)));
        assert!(matches!(
            tok.encode_batch(&["seven", " "]),
            Err(Error::EmptyText)
        ));
    }

    #[test]
    fn long_text_is_truncated_keeping_cls_and_sep() {
        let tok = bert(DEFAULT_MAX_TOKENS);
        let words = ["seven", "three", "digit", "spoken", "written"];
        let text: Vec<&str> = (0..1000).map(|i| words[i % words.len()]).collect();
        let text = text.join(" ");
        let t = tok.encode(&text).expect("encode");
        assert_eq!(t.ids.len(), DEFAULT_MAX_TOKENS);
        assert_eq!(t.attention_mask.len(), DEFAULT_MAX_TOKENS);
        assert_eq!(t.tokens.len(), DEFAULT_MAX_TOKENS);
        assert_eq!(t.ids[0], CLS);
        assert_eq!(t.ids.last(), Some(&SEP));
        assert!(t.truncated);
        assert_eq!(t.n_tokens_untruncated, 1002);
        // The kept prefix equals the start of the untruncated encoding.
        let full = bert(2000).encode(&text).expect("full");
        assert!(!full.truncated);
        assert_eq!(full.ids.len(), 1002);
        assert_eq!(
            t.ids[..DEFAULT_MAX_TOKENS - 1],
            full.ids[..DEFAULT_MAX_TOKENS - 1]
        );

        // Exactly at the limit is not truncated.
        let exact: Vec<&str> = (0..DEFAULT_MAX_TOKENS - 2).map(|_| "seven").collect();
        let t = tok.encode(&exact.join(" ")).expect("exact");
        assert_eq!(t.ids.len(), DEFAULT_MAX_TOKENS);
        assert!(!t.truncated);
    }

    #[test]
    fn oversized_input_is_cut_at_a_char_boundary() {
        let tok = bert(8);
        // Multi-byte characters straddling the cut (3-byte units: 'é' is 2 bytes, then a space).
        let text = "é ".repeat(MAX_TEXT_BYTES / 2);
        let t = tok.encode(&text).expect("encode");
        assert!(t.truncated);
        assert_eq!(t.ids.len(), 8);
        assert_eq!(t.ids.last(), Some(&SEP));
        let (cut, was_cut) = cut_at_char_boundary(&text, MAX_TEXT_BYTES - 1);
        assert!(was_cut);
        assert!(cut.len() < MAX_TEXT_BYTES);
        assert_eq!(cut_at_char_boundary("abc", 10), ("abc", false));
        assert_eq!(cut_at_char_boundary("éa", 1), ("", true));
        assert_eq!(cut_at_char_boundary("aé", 2), ("a", true));
        // Cut by size alone (the kept part fits in max_tokens): still reported as truncated.
        let padded = format!("seven{}three", " ".repeat(MAX_TEXT_BYTES));
        let t = tok.encode(&padded).expect("encode");
        assert_eq!(t.tokens, vec!["[CLS]", "seven", "[SEP]"]);
        assert!(t.truncated);
    }

    #[test]
    fn batch_is_padded_to_the_longest() {
        let tok = bert(DEFAULT_MAX_TOKENS);
        let (ids, mask, len) = tok
            .encode_batch(&["hello world", "seven", "a photo of the digit seven"])
            .expect("batch");
        let longest = tok.encode("a photo of the digit seven").expect("one");
        assert_eq!(len, longest.ids.len());
        assert_eq!(ids.len(), 3 * len);
        assert_eq!(mask.len(), 3 * len);
        assert_eq!(ids[..4], [CLS, 7592, 2088, SEP]);
        assert!(ids[4..len].iter().all(|&i| i == tok.pad_id()));
        assert_eq!(mask[..len].iter().sum::<u32>(), 4);
        assert!(mask[..4].iter().all(|&m| m == 1) && mask[4..len].iter().all(|&m| m == 0));
        assert_eq!(ids[len], CLS);
        assert_eq!(ids[len + 2], SEP);
        assert_eq!(mask[len..2 * len].iter().sum::<u32>(), 3);
        assert_eq!(ids[2 * len..], longest.ids[..]);
        assert!(mask[2 * len..].iter().all(|&m| m == 1));
        assert!(matches!(tok.encode_batch(&[]), Err(Error::Internal(_))));
    }

    #[test]
    fn padding_in_the_json_is_ignored() {
        // The MiniLM tokenizer.json pads to 128 by itself; a single text must not be padded.
        let tok = bert(DEFAULT_MAX_TOKENS);
        assert!(tok.inner().get_padding().is_none());
        assert_eq!(tok.encode("seven").expect("encode").ids.len(), 3);
    }

    #[test]
    fn bad_tokenizer_files_are_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bad = dir.path().join("tokenizer.json");
        std::fs::write(&bad, b"{ \"this\": \"is not a tokenizer\" }").expect("write");
        match TextTokenizer::from_file(&bad, DEFAULT_MAX_TOKENS) {
            Err(e @ Error::Tokenizer { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains("tokenizer.json"), "{msg}");
                if let Error::Tokenizer { path, .. } = e {
                    assert_eq!(path, bad);
                }
            }
            other => panic!("expected Tokenizer error, got {other:?}"),
        }
        std::fs::write(&bad, b"\x00\xffnot json").expect("write");
        assert!(matches!(
            TextTokenizer::from_file(&bad, DEFAULT_MAX_TOKENS),
            Err(Error::Tokenizer { .. })
        ));
        let missing = dir.path().join("missing.json");
        match TextTokenizer::from_file(&missing, DEFAULT_MAX_TOKENS) {
            Err(Error::Io { path, .. }) => assert_eq!(path, missing),
            other => panic!("expected Io, got {other:?}"),
        }
    }

    #[test]
    fn max_tokens_must_leave_room_for_text() {
        let bytes = std::fs::read(tokenizer_path()).expect("read tokenizer");
        let path = tokenizer_path();
        for max in [0, 1, 2] {
            assert!(matches!(
                TextTokenizer::from_bytes(&bytes, &path, max),
                Err(Error::Tokenizer { .. })
            ));
        }
        let tok = TextTokenizer::from_bytes(&bytes, &path, 3).expect("3 is enough");
        let t = tok.encode("hello world").expect("encode");
        assert_eq!(t.ids, vec![CLS, 7592, SEP]);
        assert!(t.truncated);
        assert_eq!(t.n_tokens_untruncated, 4);
    }
}
