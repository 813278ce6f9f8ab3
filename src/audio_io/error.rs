//! Why sound could not be recorded or played, in words a user can act on.

/// Errors of the audio devices.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum AudioIoError {
    /// The system reports no input device at all.
    #[error(
        "no microphone found: the system reports no audio input device ({detail}); \
         plug one in, or check that the sound server (PulseAudio/PipeWire) is running"
    )]
    NoInputDevice { detail: String },

    /// The system reports no output device.
    #[error(
        "no audio output device found ({detail}); playback needs speakers or headphones and a \
         running sound server"
    )]
    NoOutputDevice { detail: String },

    /// The device exists but the operating system refused access.
    #[error(
        "access to {device} was denied ({detail}); allow microphone access for this program in \
         the system's privacy settings, or add your user to the `audio` group"
    )]
    AccessDenied { device: String, detail: String },

    /// The chosen device is gone (unplugged) or was never there.
    #[error("{device} is not available ({detail}); pick another device")]
    DeviceUnavailable { device: String, detail: String },

    /// The device is in use by another program.
    #[error("{device} is busy ({detail}); close the other program using it and try again")]
    DeviceBusy { device: String, detail: String },

    /// The device offers no format this program can read or write.
    #[error("{device} offers no usable format ({detail})")]
    UnsupportedFormat { device: String, detail: String },

    /// The stream broke while running, or any other device failure.
    #[error("{device}: {detail}")]
    Stream { device: String, detail: String },

    /// A clip to play could not be read.
    #[error("cannot play {what}: {detail}")]
    Clip { what: String, detail: String },

    /// The audio service has stopped (it should not; this is a bug).
    #[error("the audio service is not running")]
    ServiceStopped,
}

impl AudioIoError {
    /// Maps a cpal error on `device` to what the user can do about it.
    pub fn from_cpal(device: &str, e: &cpal::Error) -> Self {
        use cpal::ErrorKind as K;
        let device = device.to_string();
        let detail = e.to_string();
        match e.kind() {
            K::PermissionDenied => AudioIoError::AccessDenied { device, detail },
            K::DeviceNotAvailable | K::HostUnavailable => {
                AudioIoError::DeviceUnavailable { device, detail }
            }
            K::DeviceBusy => AudioIoError::DeviceBusy { device, detail },
            K::UnsupportedConfig => AudioIoError::UnsupportedFormat { device, detail },
            _ => AudioIoError::Stream { device, detail },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpal_errors_map_to_actionable_messages() {
        let denied = cpal::Error::from(cpal::ErrorKind::PermissionDenied);
        let e = AudioIoError::from_cpal("USB mic", &denied);
        assert!(matches!(e, AudioIoError::AccessDenied { .. }));
        assert!(e.to_string().contains("USB mic"));
        assert!(e.to_string().contains("denied"));
        let gone = cpal::Error::from(cpal::ErrorKind::DeviceNotAvailable);
        assert!(matches!(
            AudioIoError::from_cpal("USB mic", &gone),
            AudioIoError::DeviceUnavailable { .. }
        ));
    }
}
