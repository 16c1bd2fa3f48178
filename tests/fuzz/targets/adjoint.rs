#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| molplay_fuzz::adjoint(data));
