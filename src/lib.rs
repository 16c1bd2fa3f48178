//! molplay: diffusion models for 3D molecules, energies and samplers on WebGPU, in a browser tab.
pub mod adjoint;
pub mod energies;
pub mod gaussianity;
pub mod geometry;
pub mod gpu;
pub mod io;
pub mod mcmc;
pub mod metrics;
pub mod models;
pub mod molecules;
pub mod rng;
pub mod samplers;
pub mod schedules;
pub mod viewer;

#[cfg(target_arch = "wasm32")]
pub mod facade;
