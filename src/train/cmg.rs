//! The CMG training model: per-modality semantic encoders (the inference model) quantised
//! against one shared codebook, modality-specific encoders, decoders reconstructing each
//! modality's features from both, Cross-CPC predictors and CLUB variational networks.
//!
//! Audio and text sit on frozen pretrained encoders (Whisper tiny.en, all-MiniLM-L6-v2), whose
//! outputs are computed once (the speech cache at data preparation, the prompts' transformer
//! states at start-up): training runs the adapters and everything above them.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

pub use crate::model::mlp::Mlp;
use crate::model::{
    BertConfig, EmbeddingSource, ImageEncoder, ImageEncoderConfig, ModelConfig, MultimodalModel,
    SpeechEncoderConfig, TextEncoderConfig, l2_normalize, masked_mean,
};
use crate::preprocess::image::ImageConfig;
use crate::preprocess::mnist::{MNIST_PIXELS, MNIST_SIDE_PX};
use crate::train::config::TrainConfig;

/// Hidden width of the decoders.
const DECODER_HIDDEN: usize = 256;

/// Gaussian q(s | z) for CLUB: mean and log-variance heads.
#[derive(Module, Debug)]
pub struct ClubNet {
    pub mu: Mlp,
    pub logvar: Mlp,
}

impl ClubNet {
    fn new(d_in: usize, d_out: usize, device: &Device) -> Self {
        ClubNet {
            mu: Mlp::new(d_in, d_out, d_out, device),
            logvar: Mlp::new(d_in, d_out, d_out, device),
        }
    }

    /// `[B, d_in]` -> (mu, logvar) `[B, d_out]` each; logvar squashed to [-4, 4] with tanh.
    pub fn forward(&self, z: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let mu = self.mu.forward(z.clone());
        let logvar = self.logvar.forward(z).tanh().mul_scalar(4.0);
        (mu, logvar)
    }
}

/// The whole training model.
#[derive(Module, Debug)]
pub struct CmgModel {
    /// What ships in the bundle (its `text.bert` stays unused during training: transformer
    /// states are precomputed because it is frozen).
    pub semantic: MultimodalModel,
    pub image_specific: ImageEncoder,
    /// On the pooled frozen speech features.
    pub audio_specific: Linear,
    /// On the pooled frozen transformer states.
    pub text_specific: Linear,
    pub image_decoder: Mlp,
    pub audio_decoder: Mlp,
    pub text_decoder: Mlp,
    /// Cross-CPC predictors, one per ordered pair: image->audio, audio->image,
    /// text->image, text->audio, image->text, audio->text.
    pub cpc: Vec<Linear>,
    pub club_image: ClubNet,
    pub club_audio: ClubNet,
    pub club_text: ClubNet,
}

/// Cross-CPC directions in the order of [`CmgModel::cpc`] (0 image, 1 audio, 2 text).
pub const CPC_PAIRS: [(usize, usize); 6] = [(0, 1), (1, 0), (2, 0), (2, 1), (0, 2), (1, 2)];

impl TrainConfig {
    /// The architecture of the bundle this config trains.
    pub fn model_config(&self, bert: BertConfig) -> ModelConfig {
        ModelConfig {
            d_model: self.d_model,
            codebook_size: self.codebook_size,
            embedding_source: if self.components.codebook {
                EmbeddingSource::Quantized
            } else {
                EmbeddingSource::Continuous
            },
            temperature: self.zero_shot_temperature,
            image: Some(ImageEncoderConfig {
                in_channels: 1,
                input_size: [MNIST_SIDE_PX as usize; 2],
                hidden_channels: self.image_channels.clone(),
                d_model: self.d_model,
                global_context: self.image_global_context,
                blank_cell_max: self
                    .components
                    .blank_cell_mask
                    .then(|| ImageConfig::default().normalised_gray(self.image_blank_cell_ink)),
            }),
            audio: None,
            speech: Some(SpeechEncoderConfig::tiny_en(
                self.speech_adapter_hidden,
                self.d_model,
            )),
            text: Some(TextEncoderConfig {
                bert,
                d_model: self.d_model,
            }),
        }
    }

    /// Builds the training model with fresh weights.
    pub fn init_cmg(&self, model: &ModelConfig, device: &Device) -> CmgModel {
        let (d, s) = (self.d_model, self.specific_dim);
        let speech_width = model
            .speech
            .as_ref()
            .map(|s| s.whisper.d_model)
            .unwrap_or(384);
        let bert_hidden = model
            .text
            .as_ref()
            .map(|t| t.bert.hidden_size)
            .unwrap_or(384);
        let half = |c: &Vec<usize>| c.iter().map(|x| (x / 2).max(4)).collect::<Vec<_>>();
        CmgModel {
            semantic: model.init(device),
            image_specific: ImageEncoderConfig {
                in_channels: 1,
                input_size: [MNIST_SIDE_PX as usize; 2],
                hidden_channels: half(&self.image_channels),
                d_model: s,
                global_context: false,
                blank_cell_max: None,
            }
            .init(device),
            audio_specific: LinearConfig::new(speech_width, s).init(device),
            text_specific: LinearConfig::new(bert_hidden, s).init(device),
            image_decoder: Mlp::new(d + s, DECODER_HIDDEN, MNIST_PIXELS, device),
            audio_decoder: Mlp::new(d + s, DECODER_HIDDEN, speech_width, device),
            text_decoder: Mlp::new(d + s, DECODER_HIDDEN, bert_hidden, device),
            cpc: (0..CPC_PAIRS.len())
                .map(|_| LinearConfig::new(d, d).init(device))
                .collect(),
            club_image: ClubNet::new(d, s, device),
            club_audio: ClubNet::new(d, s, device),
            club_text: ClubNet::new(d, s, device),
        }
    }
}

/// Semantic sequences of one paired batch.
pub struct SemanticOutputs {
    /// `[B, T, D]` per modality (image, audio, text).
    pub continuous: [Tensor<3>; 3],
    /// `[B, T]` masks per modality: blank image cells, speech past each clip, text padding.
    pub masks: [Tensor<2>; 3],
}

impl CmgModel {
    /// Semantic encoders.
    ///
    /// - `images`: `[B, 1, 28, 28]`, `speech`: `[B, T, H]` frozen speech features,
    ///   `speech_mask`: `[B, T]` (0 past each clip), `text_hidden`: `[B, L, H]` frozen
    ///   transformer states, `text_mask`: `[B, L]`
    pub fn semantic_forward(
        &self,
        images: Tensor<4>,
        speech: Tensor<3>,
        speech_mask: Tensor<2>,
        text_hidden: Tensor<3>,
        text_mask: Tensor<2>,
    ) -> SemanticOutputs {
        let image_encoder = self.semantic.image.as_ref().expect("image encoder");
        let image_mask = image_encoder.ink_mask(images.clone());
        let image = image_encoder.forward(images);
        let audio = self
            .semantic
            .speech
            .as_ref()
            .expect("speech encoder")
            .adapt(speech);
        let text = self
            .semantic
            .text
            .as_ref()
            .expect("text encoder")
            .project(text_hidden);
        SemanticOutputs {
            masks: [image_mask, speech_mask, text_mask],
            continuous: [image, audio, text],
        }
    }

    /// Modality-specific vectors `[B, S]` (image, audio, text).
    ///
    /// - `speech_pooled`: `[B, H]` masked mean of the frozen speech features,
    ///   `text_pooled_hidden`: `[B, H]` of the frozen transformer states
    pub fn specific_forward(
        &self,
        images: Tensor<4>,
        speech_pooled: Tensor<2>,
        text_pooled_hidden: Tensor<2>,
    ) -> [Tensor<2>; 3] {
        let pool = |x: Tensor<3>| {
            let [b, _, s] = x.dims();
            x.mean_dim(1).reshape([b, s])
        };
        [
            pool(self.image_specific.forward(images)),
            self.audio_specific.forward(speech_pooled),
            self.text_specific.forward(text_pooled_hidden),
        ]
    }

    /// The CLUB network of modality `m`.
    pub fn club(&self, m: usize) -> &ClubNet {
        match m {
            0 => &self.club_image,
            1 => &self.club_audio,
            _ => &self.club_text,
        }
    }

    /// The decoder of modality `m`.
    pub fn decoder(&self, m: usize) -> &Mlp {
        match m {
            0 => &self.image_decoder,
            1 => &self.audio_decoder,
            _ => &self.text_decoder,
        }
    }
}

/// Pooled, normalised embedding of a sequence. `[B, T, D]`, `[B, T]` -> `[B, D]`
pub fn pooled_embedding(x: Tensor<3>, mask: Tensor<2>) -> Tensor<2> {
    l2_normalize(masked_mean(x, mask))
}
