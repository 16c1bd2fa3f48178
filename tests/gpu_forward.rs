//! The forward-trajectory pass (shaders/forward.wgsl) vs its f64 CPU twin, and the twin's
//! marginals vs the schedule's closed form.
#![cfg(not(target_arch = "wasm32"))]

use molplay::gpu::forward::{cpu_trajectory, Batch, ForwardKernel};
use molplay::gpu::shared_native_context;
use molplay::molecules::{Dataset, Modality};
use molplay::rng::XorShift64;
use molplay::schedules::Schedule;

fn qm9() -> Dataset {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/www/data/qm9_subset.xyz")).unwrap();
    Dataset::from_xyz(&text, 4).unwrap()
}

/// The first molecules of the bundled QM9 subset plus a 100-atom blob (several atoms per
/// invocation), side by side.
fn batch() -> Batch {
    let data = qm9();
    let mut b = Batch::positions();
    for i in 0..6 {
        b.push(&data.block(i, Modality::Positions).0, &[8.0 * i as f64, 0.0, 0.0]);
    }
    let mut r = XorShift64::new(2);
    let mut blob: Vec<f64> = (0..300).map(|_| 2.0 * r.normal()).collect();
    molplay::molecules::centre_columns(&mut blob, 100, 3);
    b.push(&blob, &[0.0, 10.0, 0.0]);
    b
}

#[test]
fn forward_pass_handles_every_modality_block() {
    let Some(ctx) = shared_native_context() else { return };
    let data = qm9();
    let schedule = Schedule::cosine(100);
    for m in [Modality::Types, Modality::Charges] {
        let (_, cols) = data.block(0, m);
        let mut b = Batch { cols, z0: Vec::new(), layout: Vec::new(), shift: Vec::new() };
        for i in 0..5 {
            b.push(&data.block(i, m).0, &vec![0.0; cols]);
        }
        let cpu = cpu_trajectory(&b, &schedule, 3).unwrap();
        let gpu = pollster::block_on(ForwardKernel::new(&ctx.device).run(ctx, &b, &schedule, 3).unwrap().read(ctx)).unwrap();
        let worst = gpu.iter().zip(&cpu).map(|(g, c)| (g - c).abs()).fold(0.0, f64::max);
        assert!(worst < 1e-3, "{m:?} ({cols} columns): |GPU − CPU| up to {worst}");
    }
    // seven columns: two workgroups per molecule, the second partly used
    let mut r = XorShift64::new(8);
    let mut b = Batch { cols: 7, z0: Vec::new(), layout: Vec::new(), shift: Vec::new() };
    for n in [4, 9] {
        let mut v: Vec<f64> = (0..n * 7).map(|_| r.normal()).collect();
        molplay::molecules::centre_columns(&mut v, n, 7);
        b.push(&v, &[0.0; 7]);
    }
    let cpu = cpu_trajectory(&b, &schedule, 4).unwrap();
    let gpu = pollster::block_on(ForwardKernel::new(&ctx.device).run(ctx, &b, &schedule, 4).unwrap().read(ctx)).unwrap();
    assert!(gpu.iter().zip(&cpu).all(|(g, c)| (g - c).abs() < 1e-3));
}

#[test]
fn forward_pass_matches_its_cpu_twin_frame_by_frame() {
    let Some(ctx) = shared_native_context() else { return };
    let b = batch();
    let schedule = Schedule::polynomial2(200, 1e-5);
    let cpu = cpu_trajectory(&b, &schedule, 9).unwrap();
    let traj = ForwardKernel::new(&ctx.device).run(ctx, &b, &schedule, 9).unwrap();
    let gpu = pollster::block_on(traj.read(ctx)).unwrap();
    assert_eq!(gpu.len(), cpu.len());
    let worst = gpu.iter().zip(&cpu).map(|(g, c)| (g - c).abs()).fold(0.0, f64::max);
    assert!(worst < 2e-3, "largest |GPU − CPU| over 201 frames: {worst}");
    // frame 0 is the data, every frame stays centred on its display offset
    let atoms = b.atoms();
    assert!(cpu[..atoms * 3].iter().zip(&b.z0).enumerate().all(|(c, (f, z))| (f - z - b.shift[b.layout.iter().position(|&(s, n)| c / 3 >= s && c / 3 < s + n).unwrap()][c % 3]).abs() < 1e-12));
    for t in [1, 100, 200] {
        for (m, &(first, n)) in b.layout.iter().enumerate() {
            for k in 0..3 {
                let mean = (first..first + n).map(|i| cpu[t * atoms * 3 + i * 3 + k]).sum::<f64>() / n as f64;
                assert!((mean - b.shift[m][k]).abs() < 1e-9, "t = {t}, molecule {m}: centre {mean}");
            }
        }
    }
}

#[test]
fn the_markov_chain_has_the_schedules_marginals() {
    let schedule = Schedule::polynomial2(100, 1e-5);
    let n = 2000;
    let mut r = XorShift64::new(4);
    // two molecules of 1000 atoms (a molecule has at most MAX_ATOMS_PER_MOLECULE), each CoM-free
    let mut z0: Vec<f64> = (0..3 * n).map(|_| r.normal()).collect();
    let mut b = Batch::positions();
    for half in z0.chunks_mut(3 * n / 2) {
        molplay::molecules::centre_columns(half, n / 2, 3);
        b.push(half, &[0.0; 3]);
    }
    let frames = cpu_trajectory(&b, &schedule, 1).unwrap();
    for t in [25usize, 55, 100] {
        let (a, s2) = (schedule.alpha(t as f64), schedule.sigma2(t as f64));
        let resid: f64 = (0..3 * n).map(|c| (frames[t * 3 * n + c] - a * z0[c]).powi(2)).sum::<f64>() / (3 * n) as f64;
        let want = s2 * (n as f64 / 2.0 - 1.0) / (n as f64 / 2.0);
        assert!((resid / want - 1.0).abs() < 0.06, "t = {t}: residual variance {resid} vs σ² {want}");
    }
}

/// Issue 16, case 3: a dropped XYZ with one 150 000-atom molecule made the page's CPU path
/// allocate the whole trajectory (and panic) where the GPU pass refused it; both refuse it now,
/// as they refuse a trajectory beyond one storage binding.
#[test]
fn the_cpu_twin_refuses_what_the_pass_refuses_before_allocating() {
    let schedule = Schedule::polynomial2(1000, 1e-5);
    let mut b = Batch::positions();
    b.push(&vec![0.0; 3 * 150_000], &[0.0; 3]);
    assert!(cpu_trajectory(&b, &schedule, 1).unwrap_err().to_string().contains("at most 1024 atoms"));
    let mut b = Batch::positions();
    for _ in 0..20 {
        b.push(&vec![0.0; 3 * 1000], &[0.0; 3]);
    }
    assert!(cpu_trajectory(&b, &schedule, 1).unwrap_err().to_string().contains("trajectory values"));
}

#[test]
fn bad_batches_are_refused() {
    let mut b = batch();
    b.z0[4] = f64::NAN;
    assert!(b.check().unwrap_err().to_string().contains("finite"));
    let mut b = batch();
    b.layout[1].0 += 1;
    assert!(b.check().unwrap_err().to_string().contains("bad atom range"));
    let mut b = batch();
    b.shift[0].pop();
    assert!(b.check().unwrap_err().to_string().contains("one offset per column"));
}
