//! Text semantic encoder: a frozen pretrained BERT-style transformer (all-MiniLM-L6-v2 by
//! default, loaded from Hugging Face safetensors names) followed by a trained projection to
//! the codebook dimension D. Every token position is one position of the sequence.

use burn::module::Module;
use burn::nn::{
    Embedding, EmbeddingConfig, Gelu, LayerNorm, LayerNormConfig, Linear, LinearConfig,
};
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Int, Tensor};
use serde::{Deserialize, Serialize};

/// Hyper-parameters of a BERT encoder (names as in Hugging Face `config.json`). Unknown
/// fields are accepted on purpose: a Hugging Face `config.json` carries many more keys. Every
/// field is required, so a misspelt one in a manifest is still an error ("missing field").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BertConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    pub type_vocab_size: usize,
    pub layer_norm_eps: f64,
}

impl BertConfig {
    /// all-MiniLM-L6-v2.
    pub fn minilm_l6() -> Self {
        BertConfig {
            vocab_size: 30522,
            hidden_size: 384,
            num_hidden_layers: 6,
            num_attention_heads: 12,
            intermediate_size: 1536,
            max_position_embeddings: 512,
            type_vocab_size: 2,
            layer_norm_eps: 1e-12,
        }
    }

    /// Builds the module (weights are lazily initialised; load real ones with
    /// [`crate::bundle::weights`]).
    pub fn init(&self, device: &Device) -> Bert {
        let norm = |d| {
            LayerNormConfig::new(d)
                .with_epsilon(self.layer_norm_eps)
                .init(device)
        };
        let h = self.hidden_size;
        Bert {
            word_embeddings: EmbeddingConfig::new(self.vocab_size, h).init(device),
            position_embeddings: EmbeddingConfig::new(self.max_position_embeddings, h).init(device),
            token_type_embeddings: EmbeddingConfig::new(self.type_vocab_size, h).init(device),
            embeddings_norm: norm(h),
            layers: (0..self.num_hidden_layers)
                .map(|_| BertLayer {
                    query: LinearConfig::new(h, h).init(device),
                    key: LinearConfig::new(h, h).init(device),
                    value: LinearConfig::new(h, h).init(device),
                    attention_output: LinearConfig::new(h, h).init(device),
                    attention_norm: norm(h),
                    intermediate: LinearConfig::new(h, self.intermediate_size).init(device),
                    output: LinearConfig::new(self.intermediate_size, h).init(device),
                    output_norm: norm(h),
                    gelu: Gelu::new(),
                })
                .collect(),
            num_heads: self.num_attention_heads,
        }
    }
}

/// One transformer layer (post-norm, as BERT).
#[derive(Module, Debug)]
pub struct BertLayer {
    pub query: Linear,
    pub key: Linear,
    pub value: Linear,
    pub attention_output: Linear,
    pub attention_norm: LayerNorm,
    pub intermediate: Linear,
    pub output: Linear,
    pub output_norm: LayerNorm,
    pub gelu: Gelu,
}

impl BertLayer {
    /// - `x`: `[B, L, H]`
    /// - `mask_bias`: `[B, 1, 1, L]`, 0 for tokens and a large negative number for padding
    /// - returns `[B, L, H]`
    pub fn forward(&self, x: Tensor<3>, mask_bias: Tensor<4>, num_heads: usize) -> Tensor<3> {
        let [b, l, h] = x.dims();
        let head_dim = h / num_heads;
        let split = |t: Tensor<3>| t.reshape([b, l, num_heads, head_dim]).swap_dims(1, 2);
        let q = split(self.query.forward(x.clone())); // [B, nh, L, hd]
        let k = split(self.key.forward(x.clone()));
        let v = split(self.value.forward(x.clone()));
        let scores = q
            .matmul(k.swap_dims(2, 3))
            .div_scalar((head_dim as f64).sqrt())
            + mask_bias; // [B, nh, L, L]
        let probs = softmax(scores, 3);
        let context = probs.matmul(v).swap_dims(1, 2).reshape([b, l, h]);
        let x = self
            .attention_norm
            .forward(self.attention_output.forward(context) + x);
        let hidden = self.gelu.forward(self.intermediate.forward(x.clone()));
        self.output_norm.forward(self.output.forward(hidden) + x)
    }
}

/// A BERT encoder without pooler.
#[derive(Module, Debug)]
pub struct Bert {
    pub word_embeddings: Embedding,
    pub position_embeddings: Embedding,
    pub token_type_embeddings: Embedding,
    pub embeddings_norm: LayerNorm,
    pub layers: Vec<BertLayer>,
    pub num_heads: usize,
}

/// Additive attention bias for padding: 0 where `mask` is 1, -1e4 where it is 0.
const MASKED_SCORE: f32 = -1.0e4;

impl Bert {
    /// - `ids`: `[B, L]` token ids
    /// - `mask`: `[B, L]` 1 for tokens, 0 for padding
    /// - returns the last hidden state `[B, L, H]`
    pub fn forward(&self, ids: Tensor<2, Int>, mask: Tensor<2>) -> Tensor<3> {
        let [b, l] = ids.dims();
        let device = ids.device();
        let positions = Tensor::<1, Int>::arange(0..l as i64, &device)
            .reshape([1, l])
            .expand([b, l]);
        let types = Tensor::<2, Int>::zeros([b, l], &device);
        let x = self.word_embeddings.forward(ids)
            + self.position_embeddings.forward(positions)
            + self.token_type_embeddings.forward(types);
        let mut x = self.embeddings_norm.forward(x);
        let mask_bias = (mask.neg().add_scalar(1.0))
            .mul_scalar(MASKED_SCORE)
            .reshape([b, 1, 1, l]);
        for layer in &self.layers {
            x = layer.forward(x, mask_bias.clone(), self.num_heads);
        }
        x
    }

    /// Sentence embedding as sentence-transformers computes it for MiniLM: mean of the last
    /// hidden state over tokens, L2-normalised.
    ///
    /// - `ids`, `mask`: `[B, L]`
    /// - returns `[B, H]`
    pub fn sentence_embedding(&self, ids: Tensor<2, Int>, mask: Tensor<2>) -> Tensor<2> {
        let hidden = self.forward(ids, mask.clone());
        crate::model::l2_normalize(crate::model::masked_mean(hidden, mask))
    }
}

/// Hugging Face tensor name for a path inside [`Bert`], and whether the stored matrix is
/// transposed relative to burn's `Linear` (`[out, in]` in PyTorch vs `[in, out]` in burn).
pub fn hf_bert_name(path: &str) -> Option<(String, bool)> {
    let (module, param) = path.rsplit_once('.')?;
    let param_hf = match param {
        "gamma" => "weight",
        "beta" => "bias",
        other => other,
    };
    let module_hf = match module {
        "word_embeddings" | "position_embeddings" | "token_type_embeddings" => {
            return Some((format!("embeddings.{module}.{param_hf}"), false));
        }
        "embeddings_norm" => return Some((format!("embeddings.LayerNorm.{param_hf}"), false)),
        _ => module,
    };
    let rest = module_hf.strip_prefix("layers.")?;
    let (index, sub) = rest.split_once('.')?;
    let sub_hf = match sub {
        "query" | "key" | "value" => format!("attention.self.{sub}"),
        "attention_output" => "attention.output.dense".to_string(),
        "attention_norm" => "attention.output.LayerNorm".to_string(),
        "intermediate" => "intermediate.dense".to_string(),
        "output" => "output.dense".to_string(),
        "output_norm" => "output.LayerNorm".to_string(),
        _ => return None,
    };
    let is_linear_weight = param == "weight" && !sub.ends_with("norm");
    Some((
        format!("encoder.layer.{index}.{sub_hf}.{param_hf}"),
        is_linear_weight,
    ))
}

/// Configuration of the text tower: the frozen transformer plus the projection.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextEncoderConfig {
    pub bert: BertConfig,
    /// Output dimension D (= codebook dimension).
    pub d_model: usize,
}

impl TextEncoderConfig {
    /// Builds the module (transformer weights lazily initialised).
    pub fn init(&self, device: &Device) -> TextEncoder {
        let h = self.bert.hidden_size;
        TextEncoder {
            bert: self.bert.init(device),
            projection_hidden: LinearConfig::new(h, h).init(device),
            projection: LinearConfig::new(h, self.d_model).init(device),
            gelu: Gelu::new(),
        }
    }
}

/// The text tower: frozen transformer + trained two-layer projection.
#[derive(Module, Debug)]
pub struct TextEncoder {
    pub bert: Bert,
    pub projection_hidden: Linear,
    pub projection: Linear,
    pub gelu: Gelu,
}

impl TextEncoder {
    /// Projects transformer states into the shared space.
    ///
    /// - `hidden`: `[B, L, H]` transformer output
    /// - returns `[B, L, D]`
    pub fn project(&self, hidden: Tensor<3>) -> Tensor<3> {
        let x = self
            .gelu
            .forward(self.projection_hidden.forward(hidden.clone()));
        self.projection.forward(x)
    }

    /// - `ids`, `mask`: `[B, L]`
    /// - returns `[B, L, D]` (padding positions are computed too; mask them when pooling)
    pub fn forward(&self, ids: Tensor<2, Int>, mask: Tensor<2>) -> Tensor<3> {
        let hidden = self.bert.forward(ids, mask);
        self.project(hidden)
    }
}

#[cfg(test)]
mod tests {
    use super::hf_bert_name;

    #[test]
    fn hugging_face_names() {
        assert_eq!(
            hf_bert_name("layers.3.query.weight"),
            Some(("encoder.layer.3.attention.self.query.weight".into(), true))
        );
        assert_eq!(
            hf_bert_name("layers.0.attention_norm.gamma"),
            Some((
                "encoder.layer.0.attention.output.LayerNorm.weight".into(),
                false
            ))
        );
        assert_eq!(
            hf_bert_name("layers.5.output.bias"),
            Some(("encoder.layer.5.output.dense.bias".into(), false))
        );
        assert_eq!(
            hf_bert_name("embeddings_norm.beta"),
            Some(("embeddings.LayerNorm.bias".into(), false))
        );
        assert_eq!(
            hf_bert_name("word_embeddings.weight"),
            Some(("embeddings.word_embeddings.weight".into(), false))
        );
    }
}
