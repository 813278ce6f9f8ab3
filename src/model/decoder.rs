//! Generation decoders: an input's pooled embedding (the mean of the code vectors its positions
//! were assigned to, L2-normalised; a function of its codes alone) decoded into a modality's
//! own model input, so one modality's codes can be *shown* as another:
//!
//! - image decoder: `[B, D]` -> `[B, H * W]` pixels in 0..1 (the bundle's image size);
//! - audio decoder: `[B, D]` -> `[B, n_mels * n_frames]` log-mel values *normalised* with the
//!   bundle's feature normalisation (the audio encoder's input space).
//!
//! The CMG trainer's own decoders rebuild encoder *features* from semantic + specific parts
//! (a training signal, not an output a person can see or hear), so these are trained after the
//! model, on the frozen encoders: see [`crate::train::decoders`]. They live in their own file
//! beside the bundle's weights (`[generation]` in the manifest) and are optional.

use crate::error::Invalid;
use crate::invalid;
use burn::module::Module;
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::modality::Modality;
use crate::model::mlp::Mlp;

/// Where a bundle's generation decoders are and how wide they are (`[generation]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerationConfig {
    /// Decoder weights, relative to the bundle folder.
    pub weights: String,
    /// Hidden width of every decoder.
    pub hidden: usize,
    /// Modalities a decoder exists for (`image`, `audio`).
    pub modalities: Vec<Modality>,
}

impl GenerationConfig {
    /// Builds the decoders with fresh weights. `d_model` is the embedding width; `image_len`
    /// and `audio_len` the flat sizes of one image and one log-mel.
    pub fn init(
        &self,
        d_model: usize,
        image_len: usize,
        audio_len: usize,
        device: &Device,
    ) -> GenerationDecoders {
        let make = |m: Modality, out: usize| {
            self.modalities
                .contains(&m)
                .then(|| Mlp::new(d_model, self.hidden, out, device))
        };
        GenerationDecoders {
            image: make(Modality::Image, image_len),
            audio: make(Modality::Audio, audio_len),
        }
    }

    /// Checks the section: a positive width and only image or audio decoders.
    pub fn validate(&self) -> std::result::Result<(), Invalid> {
        if self.hidden == 0 {
            return Err("generation.hidden must be positive".into());
        }
        if self.modalities.is_empty() {
            return Err("generation.modalities is empty; list image and/or audio".into());
        }
        if let Some(m) = self.modalities.iter().find(|m| **m == Modality::Text) {
            return Err(invalid!(
                "generation.modalities: no {m} decoder exists; expected image or audio"
            ));
        }
        Ok(())
    }
}

/// The decoders a bundle has.
#[derive(Module, Debug)]
pub struct GenerationDecoders {
    pub image: Option<Mlp>,
    pub audio: Option<Mlp>,
}

impl GenerationDecoders {
    /// Decodes embeddings into `to`'s model input; `None` without a decoder for `to`.
    ///
    /// - `embedding`: `[B, D]` -> image `[B, H * W]` in 0..1 (sigmoid), or audio
    ///   `[B, n_mels * n_frames]` normalised log-mel.
    pub fn forward(&self, embedding: Tensor<2>, to: Modality) -> Option<Tensor<2>> {
        match to {
            Modality::Image => self.image.as_ref().map(|d| sigmoid(d.forward(embedding))),
            Modality::Audio => self.audio.as_ref().map(|d| d.forward(embedding)),
            Modality::Text => None,
        }
    }

    /// The modalities with a decoder.
    pub fn modalities(&self) -> Vec<Modality> {
        let mut out = Vec::new();
        if self.image.is_some() {
            out.push(Modality::Image);
        }
        if self.audio.is_some() {
            out.push(Modality::Audio);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{float_to_vec, tensor_from_vec};

    fn config(modalities: Vec<Modality>) -> GenerationConfig {
        GenerationConfig {
            weights: "decoders.safetensors".into(),
            hidden: 8,
            modalities,
        }
    }

    #[test]
    fn decoders_give_each_modality_its_own_flat_shape_and_range() {
        let device = Device::default();
        let d = config(vec![Modality::Image, Modality::Audio]).init(4, 6, 10, &device);
        let e = tensor_from_vec(
            vec![0.5, -0.5, 0.5, -0.5, 1.0, 0.0, 0.0, 0.0],
            [2, 4],
            &device,
        );
        let img = d.forward(e.clone(), Modality::Image).unwrap();
        assert_eq!(img.dims(), [2, 6]);
        assert!(float_to_vec(img).iter().all(|v| (0.0..=1.0).contains(v)));
        assert_eq!(
            d.forward(e.clone(), Modality::Audio).unwrap().dims(),
            [2, 10]
        );
        assert!(d.forward(e, Modality::Text).is_none());
    }

    #[test]
    fn only_the_listed_modalities_get_a_decoder() {
        let d = config(vec![Modality::Audio]).init(4, 6, 10, &Device::default());
        assert_eq!(d.modalities(), vec![Modality::Audio]);
        let err = config(vec![Modality::Text]).validate().unwrap_err();
        assert!(err.0.contains("no text decoder"), "{err}");
        assert!(config(vec![]).validate().unwrap_err().0.contains("empty"));
    }
}
