//! `transference info`: describe a bundle, or a frozen text transformer's folder.

use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::json;

use crate::device::DeviceRequest;
use crate::engine::Pipeline;
use crate::error::{Error, Result};

/// Arguments of `info`.
#[derive(Args, Debug, Clone)]
pub struct InfoArgs {
    /// Bundle folder (default: the bundled default model).
    pub bundle: Option<PathBuf>,
}

/// Runs `info` on `args.bundle`, else `model`, else the default model.
pub fn run(
    args: InfoArgs,
    model: Option<&Path>,
    device: DeviceRequest,
    json_out: bool,
) -> Result<()> {
    let model = args.bundle.as_deref().or(model);
    if let Some(dir) = model
        && !dir.join(crate::bundle::MANIFEST_FILE).exists()
        && dir.join("config.json").exists()
    {
        return info_transformer(dir, json_out);
    }
    let p = super::open(model, device)?;
    print_info(&p, json_out);
    Ok(())
}

fn print_info(p: &Pipeline, json_out: bool) {
    let m = &p.bundle.manifest;
    let gallery = p.bundle.gallery.as_ref();
    let stats = gallery.map(|g| {
        crate::index::stats::CodebookStats::compute(
            m.architecture.codebook_size,
            g.items
                .iter()
                .zip(&g.codes)
                .map(|(it, c)| (it.modality, c.as_slice())),
        )
    });
    if json_out {
        let v = json!({
            "bundle": p.bundle.dir,
            "name": m.name,
            "description": m.description,
            "format_version": m.format_version,
            "modalities": m.architecture.modalities(),
            "codebook_size": m.architecture.codebook_size,
            "d_model": m.architecture.d_model,
            "embedding_source": m.architecture.embedding_source,
            "vectors_only": m.is_vectors_only(),
            "vectors": m.vectors,
            "labels": m.labels.names,
            "prompts": m.labels.prompts,
            "gallery_items": gallery.map(|g| g.len()).unwrap_or(0),
            "codebook_stats": stats,
            "metrics": m.metrics,
            "device": p.device.description,
            "provenance": m.provenance,
        });
        println!("{v}");
        return;
    }
    println!("bundle     {}", p.bundle.dir.display());
    println!("name       {} (format v{})", m.name, m.format_version);
    if !m.description.is_empty() {
        println!("about      {}", m.description);
    }
    let mods: Vec<&str> = m
        .architecture
        .modalities()
        .iter()
        .map(|x| x.name())
        .collect();
    match &m.vectors {
        Some(v) => println!(
            "modalities none: vectors-only bundle (imported; no encoders{}{})",
            if v.codes { ", codes" } else { ", no codes" },
            if v.codebook {
                ", codebook"
            } else {
                ", no codebook vectors"
            }
        ),
        None => println!("modalities {}", mods.join(", ")),
    }
    if m.is_vectors_only() {
        println!(
            "codebook   {} codes x {} dims, embeddings imported",
            m.architecture.codebook_size, m.architecture.d_model
        );
    } else {
        println!(
            "codebook   {} codes x {} dims, embedding from {:?} vectors",
            m.architecture.codebook_size, m.architecture.d_model, m.architecture.embedding_source
        );
    }
    if let Some(c) = &m.architecture.image {
        println!(
            "image      {}x{}x{} -> {}x{} positions",
            c.in_channels,
            c.input_size[0],
            c.input_size[1],
            c.grid()[0],
            c.grid()[1]
        );
    }
    if let Some(c) = &m.architecture.audio {
        println!(
            "audio      {} mels x {} frames -> {} steps",
            c.n_mels,
            c.n_frames,
            c.positions()
        );
    }
    if let Some(c) = &m.architecture.text {
        println!(
            "text       BERT {} layers x {} hidden (frozen) -> projection to {}",
            c.bert.num_hidden_layers, c.bert.hidden_size, c.d_model
        );
    }
    if !m.labels.names.is_empty() {
        println!("labels     {}", m.labels.names.join(", "));
    }
    match (gallery, &stats) {
        (Some(g), Some(s)) => {
            println!("gallery    {} items", g.len());
            for u in &s.per_modality {
                println!(
                    "  {:5}  {:>5} items  {:>4} active codes  perplexity {:.1}",
                    u.modality.name(),
                    u.items,
                    u.active,
                    u.perplexity
                );
            }
            println!(
                "  codes: {} active, {} dead, {} shared by >= 2 modalities ({:.0}% of active)",
                s.active_any,
                s.dead,
                s.shared,
                s.shared_fraction * 100.0
            );
        }
        _ => println!("gallery    none"),
    }
    if !m.metrics.is_empty() {
        println!("metrics");
        for (k, v) in &m.metrics {
            println!("  {k:<45} {v:.4}");
        }
    }
    println!("device     {}", p.device.description);
}

/// `info` on a Hugging Face BERT folder (e.g. models/minilm): validates and describes the
/// frozen text transformer that bundles reference.
fn info_transformer(dir: &Path, json_out: bool) -> Result<()> {
    use crate::bundle::weights::{self, HuggingFaceBert, WeightFile};
    let config_path = dir.join("config.json");
    let text = std::fs::read_to_string(&config_path).map_err(|e| Error::io(&config_path, e))?;
    let cfg: crate::model::BertConfig =
        serde_json::from_str(&text).map_err(|e| Error::Manifest {
            path: config_path.clone(),
            reason: format!("not a BERT config.json: {e}"),
        })?;
    let weights_path = dir.join("model.safetensors");
    let bytes = std::fs::read(&weights_path).map_err(|e| Error::io(&weights_path, e))?;
    let dtypes: std::collections::BTreeSet<String> = safetensors::SafeTensors::deserialize(&bytes)
        .map_err(|e| Error::Safetensors {
            path: weights_path.clone(),
            reason: e.to_string(),
        })?
        .tensors()
        .iter()
        .map(|(_, v)| format!("{:?}", v.dtype()))
        .collect();
    let file = WeightFile::from_bytes(&bytes, &weights_path, &HuggingFaceBert)?;
    let device = burn::tensor::Device::flex();
    // Validates every tensor's name, shape, dtype and finiteness against the config.
    let bert = weights::load_into(
        cfg.init(&device),
        &file,
        &HuggingFaceBert,
        "",
        true,
        &device,
    )?;
    let params: usize = weights::param_shapes(&bert)
        .values()
        .map(|s| s.iter().product::<usize>())
        .sum();
    let tokenizer = dir.join("tokenizer.json");
    if json_out {
        println!(
            "{}",
            json!({"kind": "huggingface_bert", "dir": dir, "config": cfg, "parameters": params,
                   "dtypes": dtypes, "tokenizer": tokenizer.exists(), "weights_bytes": bytes.len()})
        );
    } else {
        println!(
            "folder     {} (a frozen text transformer, not a bundle)",
            dir.display()
        );
        println!(
            "model      BERT: {} layers, hidden {}, {} heads, intermediate {}, vocab {}, max {} positions",
            cfg.num_hidden_layers,
            cfg.hidden_size,
            cfg.num_attention_heads,
            cfg.intermediate_size,
            cfg.vocab_size,
            cfg.max_position_embeddings
        );
        println!(
            "weights    {} parameters ({:.1} M), stored as {}, {:.1} MB; every tensor checked",
            params,
            params as f64 / 1e6,
            dtypes.into_iter().collect::<Vec<_>>().join("+"),
            bytes.len() as f64 / 1e6
        );
        println!(
            "tokenizer  {}",
            if tokenizer.exists() {
                "tokenizer.json present"
            } else {
                "missing tokenizer.json"
            }
        );
        println!(
            "use        referenced by a bundle's preprocess.text.transformer_weights (e.g. models/digits)"
        );
    }
    Ok(())
}
