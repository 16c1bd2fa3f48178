//! The application layer: use cases written once, under both faces (the page's wasm facade and
//! the `molplay` CLI), compiled natively and for wasm and tested natively. A use case here owns
//! its loop (in budgeted slices, so the page can interleave frames), its knobs' limits and its
//! typed report (`serde::Serialize`, the CLI's `--json` and the JS API's object alike).

#[cfg(feature = "nets")]
pub mod adjoint;
pub mod bench;
#[cfg(feature = "nets")]
pub mod conformers;
pub mod forward;
pub mod gaussianity;
pub mod generation;
pub mod held;
#[cfg(feature = "nets")]
pub mod molecules;
pub mod reference;
pub mod sample;
#[cfg(feature = "nets")]
pub mod score;

/// Why a use case refused its knobs or inputs, or its work failed. Messages are shown to users
/// as they are (the CLI prints them, the page rejects its promise with them); the causes below
/// the layer stay typed, so a lost GPU device is still a `GpuError` underneath.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum AppError {
    /// A knob or an input out of range, or inputs that do not fit each other, in words.
    #[error("{0}")]
    Invalid(String),
    /// A call that must wait or come later: a slice already running, nothing started yet.
    #[error("{0}")]
    NotNow(String),
    /// An Adjoint Sampling mode other than train, refresh or regress (made printable).
    #[error("mode must be \"train\", \"refresh\" or \"regress\", got \"{0}\"")]
    UnknownMode(String),
    /// The network a score source samples with was dropped.
    #[error("the score network is gone")]
    NetworkGone,
    #[error(transparent)]
    Sampler(#[from] crate::samplers::SamplerError),
    #[error(transparent)]
    Input(#[from] crate::energies::InputError),
    #[error(transparent)]
    Schedule(#[from] crate::schedules::ScheduleError),
    #[error(transparent)]
    Study(#[from] crate::gaussianity::StudyError),
    #[error(transparent)]
    Energy(#[from] crate::gpu::energy::EnergyError),
    #[error(transparent)]
    Reference(#[from] crate::reference::ReferenceError),
    #[cfg(feature = "nets")]
    #[error(transparent)]
    Model(#[from] crate::models::ModelError),
    #[cfg(feature = "nets")]
    #[error(transparent)]
    Joint(#[from] crate::joint::JointError),
}
