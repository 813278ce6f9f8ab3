//! Exact resume, in a test binary of its own: the comparison needs two training runs to start
//! from the same seeded initialisation, and burn's random generator is shared by every thread
//! of a process, so a test running beside it in `core` could draw from it in between.

mod common;

use burn::tensor::Device;
use common::*;

/// Training 4 steps straight and training 2, stopping, and resuming for 2 more give the same
/// weights only when the Adam moments travel with the checkpoint: without `optimizer.bpk`
/// the resumed run restarts Adam from zero and lands elsewhere.
#[test]
fn resuming_from_a_checkpoint_continues_the_run_exactly() {
    use transference::bundle::weights;
    use transference::train::{checkpoint, trainer};
    let data = tiny_speech_data();
    let tmp = tempfile::tempdir().unwrap();
    let cfg = |steps: usize| tiny_train_config(steps, tmp.path());
    let all = |m: &transference::train::cmg::CmgModel| {
        weights::collect(m, &|p| !checkpoint::is_frozen(p))
            .into_iter()
            .map(|(k, t)| (k, t.values))
            .collect::<Vec<_>>()
    };
    let dev = Device::flex();
    let straight = trainer::train(&cfg(4), &data, &dev, None, false, false).unwrap();
    let ckpt = tmp.path().join("ckpt");
    trainer::train(&cfg(2), &data, &dev, Some(&ckpt), false, false).unwrap();
    assert!(ckpt.join(checkpoint::OPTIMIZER_FILE).exists());
    let backup = tmp.path().join("ckpt-copy");
    std::fs::create_dir_all(&backup).unwrap();
    for f in [checkpoint::WEIGHTS_FILE, checkpoint::STATE_FILE] {
        std::fs::copy(ckpt.join(f), backup.join(f)).unwrap();
    }
    let resumed = trainer::train(&cfg(4), &data, &dev, Some(&ckpt), true, false).unwrap();
    assert_eq!(resumed.log.len(), 2);
    let (a, b) = (all(&straight.model), all(&resumed.model));
    assert_eq!(a.len(), b.len());
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        let worst = x
            .iter()
            .zip(y)
            .map(|(p, q)| (p - q).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-5, "{name} differs by {worst} after resuming");
    }
    // The same resume without the optimiser record drifts: the comparison above can fail.
    let fresh_adam = trainer::train(&cfg(4), &data, &dev, Some(&backup), true, false).unwrap();
    let c = all(&fresh_adam.model);
    let drift = a
        .iter()
        .zip(&c)
        .flat_map(|((_, x), (_, y))| x.iter().zip(y).map(|(p, q)| (p - q).abs()))
        .fold(0.0f32, f32::max);
    assert!(drift > 1e-4, "restarting Adam changed nothing ({drift})");
}
