//! The application layer: use cases written once, under both faces (the page's wasm facade and
//! the `molplay` CLI), compiled natively and for wasm and tested natively. A use case here owns
//! its loop (in budgeted slices, so the page can interleave frames), its knobs' limits and its
//! typed report (`serde::Serialize`, the CLI's `--json` and the JS API's object alike).

#[cfg(feature = "nets")]
pub mod adjoint;
#[cfg(feature = "nets")]
pub mod conformers;
pub mod gaussianity;
#[cfg(feature = "nets")]
pub mod molecules;
pub mod reference;
pub mod sample;
#[cfg(feature = "nets")]
pub mod score;
