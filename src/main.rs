//! The `molplay` command line: the same Rust core as the page, natively (wgpu on Vulkan,
//! lavapipe without a GPU), for benchmarks and reproducible numbers.

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    keep_freed_memory();
    cli::main()
}

/// glibc's malloc serves large blocks (past an adaptive threshold, 32 MiB at most) with fresh
/// `mmap`s and hands them back on free, so a network's forward/backward, allocating and freeing
/// the same megabyte-sized tensors thousands of times, spent half its time in page faults
/// (measured: one paper-size DW-4 epoch at 1/10 of its steps, 14.0 s wall of which 7.7 s
/// system, against 7.0 s and 0.4 s with this). Freed memory stays in the heap for reuse.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_freed_memory() {
    // SAFETY: mallopt only sets malloc's parameters; called before any thread exists
    let (mmap, trim) = unsafe { (libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 30), libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30)) };
    if mmap == 0 || trim == 0 {
        eprintln!("molplay: note: could not tune malloc (mallopt refused); training may be slower");
    }
}

#[cfg(not(any(target_arch = "wasm32", all(target_os = "linux", target_env = "gnu"))))]
fn keep_freed_memory() {}

/// `println!` that ends the program quietly when stdout is closed (`molplay energy ... | head`).
#[cfg(not(target_arch = "wasm32"))]
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        if let Err(e) = writeln!(out, $($arg)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
            eprintln!("molplay: cannot write output: {e}");
            std::process::exit(1);
        }
    }};
}

#[cfg(not(target_arch = "wasm32"))]
mod cli;
