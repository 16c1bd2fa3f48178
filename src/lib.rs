//! molplay: diffusion models for 3D molecules, energies and samplers on WebGPU, in a browser tab.
#[cfg(feature = "nets")]
pub mod adjoint;
pub mod app;
pub mod chemistry;
#[cfg(feature = "nets")]
pub mod conformers;
pub mod energies;
pub mod gaussianity;
pub mod geometry;
pub mod gpu;
pub mod io;
#[cfg(feature = "nets")]
pub mod joint;
pub mod mcmc;
pub mod metrics;
#[cfg(feature = "nets")]
pub mod models;
pub mod molecules;
pub mod objectives;
pub mod parallel;
pub mod reference;
pub mod rng;
pub mod samplers;
pub mod schedules;
pub mod viewer;

#[cfg(target_arch = "wasm32")]
pub mod facade;

/// Runs the module's static constructors (cubecl registers its IR types with `inventory`)
/// exactly once. On wasm32 this call is what keeps wasm-ld from treating the module as a
/// "command" and re-running every constructor at the top of *every* export, which made each
/// call from the page into the wasm up to seconds slower. Whatever needs the registrations
/// (burn's networks) calls it first, and so does the page's start function. Natively the
/// loader runs constructors: nothing to do.
pub fn run_static_constructors() {
    #[cfg(target_arch = "wasm32")]
    {
        use std::sync::atomic::{AtomicBool, Ordering};
        static DONE: AtomicBool = AtomicBool::new(false);
        unsafe extern "C" {
            fn __wasm_call_ctors();
        }
        if !DONE.swap(true, Ordering::SeqCst) {
            unsafe { __wasm_call_ctors() };
        }
    }
}
