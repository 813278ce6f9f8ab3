//! The one place that names compute backends. Everything else takes a [`ComputeDevice`].
//!
//! `auto` uses burn's wgpu backend when a real GPU adapter exists and the CPU backend (flex)
//! otherwise. Software adapters (llvmpipe, lavapipe, WARP: adapter type CPU) are ~70x slower
//! than flex, so `auto` never picks them; `gpu` may, on request.

use burn::tensor::{Device, DeviceKind};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What the user asked for. As a command-line value: `auto`, `gpu` (or `wgpu`), `cpu` (or
/// `flex`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum DeviceRequest {
    /// A real GPU when there is one, else the CPU backend.
    #[default]
    Auto,
    /// burn's wgpu backend, on any adapter (software ones included).
    #[value(alias = "wgpu")]
    Gpu,
    /// burn's flex CPU backend.
    #[value(alias = "flex")]
    Cpu,
}

impl std::str::FromStr for DeviceRequest {
    type Err = Error;
    /// Parses a name as the command line does (any case).
    fn from_str(s: &str) -> Result<Self> {
        <Self as clap::ValueEnum>::from_str(s.trim(), true).map_err(|_| {
            Error::InvalidRequest(format!(
                "unknown device `{}`; expected auto, gpu or cpu",
                s.trim()
            ))
        })
    }
}

/// A wgpu adapter as seen by enumeration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdapterSummary {
    pub name: String,
    pub backend: String,
    /// "DiscreteGpu", "IntegratedGpu", "VirtualGpu", "Cpu" or "Other".
    pub device_type: String,
}

impl AdapterSummary {
    /// True for software rasterisers (llvmpipe, lavapipe, WARP, SwiftShader).
    pub fn is_software(&self) -> bool {
        self.device_type == "Cpu"
    }
}

/// Which backend a [`ComputeDevice`] runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    Wgpu,
    Flex,
}

/// A resolved device: the burn device plus a human description of why it was chosen.
#[derive(Clone, Debug)]
pub struct ComputeDevice {
    pub device: Device,
    pub backend: BackendKind,
    /// e.g. "wgpu: NVIDIA H100 (Vulkan, DiscreteGpu)" or
    /// "CPU (flex) fallback: only a software adapter was found (llvmpipe)".
    pub description: String,
}

impl ComputeDevice {
    /// The CPU backend (flex).
    pub fn cpu(reason: &str) -> Self {
        let description = if reason.is_empty() {
            "CPU (flex)".to_string()
        } else {
            format!("CPU (flex) fallback: {reason}")
        };
        ComputeDevice {
            device: Device::flex(),
            backend: BackendKind::Flex,
            description,
        }
    }

    /// True on the GPU backend.
    pub fn is_gpu(&self) -> bool {
        self.backend == BackendKind::Wgpu
    }

    /// An autodiff-enabled copy of this device, for training.
    pub fn autodiff(&self) -> Device {
        self.device.clone().autodiff()
    }
}

/// Name of the environment variable the system's display libraries read.
pub const RUNTIME_DIR_VAR: &str = "XDG_RUNTIME_DIR";

/// A private folder to use as `XDG_RUNTIME_DIR` when it is unset or not a folder (a machine
/// without a desktop session: SSH, CI, containers), or `None` when it is fine. Probing for a
/// GPU loads the system's Wayland client library through EGL, which prints "XDG_RUNTIME_DIR is
/// invalid or not set in the environment" straight to the terminal when the variable is
/// missing; that reads as the command's own error. The folder is
/// `<temp>/transference-runtime-<uid>`, created with mode 0700 (as the variable requires).
/// Call it before any thread starts and set the variable from `main`.
pub fn runtime_dir_fallback() -> Option<std::path::PathBuf> {
    runtime_dir_fallback_in(
        std::env::var_os(RUNTIME_DIR_VAR).as_deref(),
        &std::env::temp_dir(),
    )
}

/// [`runtime_dir_fallback`] for a given current value and temporary folder.
fn runtime_dir_fallback_in(
    current: Option<&std::ffi::OsStr>,
    temp: &std::path::Path,
) -> Option<std::path::PathBuf> {
    if current.is_some_and(|dir| std::path::Path::new(dir).is_dir()) {
        return None;
    }
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt};
        let uid = std::fs::metadata("/proc/self").ok()?.uid();
        let dir = temp.join(format!("transference-runtime-{uid}"));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => Some(dir),
            // Reuse our own folder from an earlier run; never one another user made.
            Err(_) => std::fs::metadata(&dir)
                .ok()
                .filter(|m| m.is_dir() && m.uid() == uid && m.mode() & 0o077 == 0)
                .map(|_| dir),
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = temp;
        None
    }
}

/// Lists wgpu adapters on every backend wgpu was built with. Never panics: a failure to
/// initialise wgpu is logged and yields an empty list (see [`try_enumerate_adapters`]).
pub fn enumerate_adapters() -> Vec<AdapterSummary> {
    try_enumerate_adapters().unwrap_or_else(|e| {
        tracing::warn!("{e}");
        Vec::new()
    })
}

/// Lists wgpu adapters, reporting a wgpu initialisation panic as [`Error::Device`] with its
/// message instead of hiding it.
pub fn try_enumerate_adapters() -> Result<Vec<AdapterSummary>> {
    std::panic::catch_unwind(|| {
        let instance = eframe::wgpu::Instance::new(
            eframe::wgpu::InstanceDescriptor::new_without_display_handle_from_env(),
        );
        let adapters =
            pollster::block_on(instance.enumerate_adapters(eframe::wgpu::Backends::all()));
        adapters
            .iter()
            .map(|adapter| {
                let info = adapter.get_info();
                AdapterSummary {
                    name: info.name.clone(),
                    backend: format!("{:?}", info.backend),
                    device_type: format!("{:?}", info.device_type),
                }
            })
            .collect::<Vec<_>>()
    })
    .map_err(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown panic".into());
        Error::Device(format!("wgpu could not list adapters: {message}"))
    })
}

/// Chooses the adapter `auto` would use: the first discrete, integrated or virtual GPU.
pub fn pick_hardware_adapter(adapters: &[AdapterSummary]) -> Option<(DeviceKind, &AdapterSummary)> {
    for (kind_name, kind) in [
        ("DiscreteGpu", DeviceKind::DiscreteGpu(0)),
        ("IntegratedGpu", DeviceKind::IntegratedGpu(0)),
        ("VirtualGpu", DeviceKind::VirtualGpu(0)),
    ] {
        if let Some(adapter) = adapters.iter().find(|a| a.device_type == kind_name) {
            return Some((kind, adapter));
        }
    }
    None
}

/// Resolves a request into a device, saying which adapter or why the CPU was used.
pub fn resolve(request: DeviceRequest) -> Result<ComputeDevice> {
    match request {
        DeviceRequest::Cpu => Ok(ComputeDevice::cpu("")),
        DeviceRequest::Auto => {
            let adapters = enumerate_adapters();
            match pick_hardware_adapter(&adapters) {
                Some((kind, adapter)) => Ok(wgpu_device(kind, adapter)),
                None => {
                    let reason = match adapters.iter().find(|a| a.is_software()) {
                        Some(soft) => format!(
                            "only a software GPU adapter was found ({}), slower than the CPU backend",
                            soft.name
                        ),
                        None => "no GPU adapter found".to_string(),
                    };
                    tracing::info!("device: CPU (flex): {reason}");
                    Ok(ComputeDevice::cpu(&reason))
                }
            }
        }
        DeviceRequest::Gpu => {
            let adapters = enumerate_adapters();
            if let Some((kind, adapter)) = pick_hardware_adapter(&adapters) {
                return Ok(wgpu_device(kind, adapter));
            }
            match adapters.iter().find(|a| a.is_software()) {
                Some(soft) => Ok(wgpu_device(DeviceKind::Cpu, soft)),
                None => Err(Error::Device(
                    "no wgpu adapter found (install a Vulkan driver, e.g. mesa-vulkan-drivers, or use --device cpu)"
                        .into(),
                )),
            }
        }
    }
}

fn wgpu_device(kind: DeviceKind, adapter: &AdapterSummary) -> ComputeDevice {
    let description = format!(
        "GPU (wgpu): {} ({}, {})",
        adapter.name, adapter.backend, adapter.device_type
    );
    tracing::info!("device: {description}");
    ComputeDevice {
        device: Device::wgpu(kind),
        backend: BackendKind::Wgpu,
        description,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn a_missing_runtime_dir_gets_a_private_one_and_a_present_one_is_kept() {
        use std::os::unix::fs::PermissionsExt;
        let temp = tempfile::tempdir().unwrap();
        let present = temp.path().to_path_buf();
        assert_eq!(
            runtime_dir_fallback_in(Some(present.as_os_str()), temp.path()),
            None
        );
        let dir = runtime_dir_fallback_in(None, temp.path()).unwrap();
        assert!(dir.starts_with(temp.path()));
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        // A second run reuses it; a value naming no folder is replaced too.
        let gone = temp.path().join("gone");
        assert_eq!(
            runtime_dir_fallback_in(Some(gone.as_os_str()), temp.path()),
            Some(dir.clone())
        );
        // Someone else's (group- or world-readable) folder is never used.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(runtime_dir_fallback_in(None, temp.path()), None);
    }

    fn adapter(name: &str, device_type: &str) -> AdapterSummary {
        AdapterSummary {
            name: name.into(),
            backend: "Vulkan".into(),
            device_type: device_type.into(),
        }
    }

    #[test]
    fn auto_never_picks_a_software_adapter() {
        let only_soft = [adapter("llvmpipe (LLVM 15.0.6, 256 bits)", "Cpu")];
        assert!(pick_hardware_adapter(&only_soft).is_none());
        let mixed = [
            adapter("llvmpipe", "Cpu"),
            adapter("Intel UHD", "IntegratedGpu"),
            adapter("NVIDIA H100", "DiscreteGpu"),
        ];
        let (kind, chosen) = pick_hardware_adapter(&mixed).unwrap();
        assert_eq!(kind, DeviceKind::DiscreteGpu(0));
        assert_eq!(chosen.name, "NVIDIA H100");
    }

    #[test]
    fn device_request_parses() {
        assert_eq!(
            "AUTO".parse::<DeviceRequest>().unwrap(),
            DeviceRequest::Auto
        );
        assert_eq!("gpu".parse::<DeviceRequest>().unwrap(), DeviceRequest::Gpu);
        assert_eq!("cpu".parse::<DeviceRequest>().unwrap(), DeviceRequest::Cpu);
        let err = "tpu".parse::<DeviceRequest>().unwrap_err().to_string();
        assert!(
            err.contains("tpu") && err.contains("auto, gpu or cpu"),
            "{err}"
        );
    }
}
