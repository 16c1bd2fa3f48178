//! Adjoint Sampling learns from the energy alone: a few minutes' worth of the demo recipe,
//! shrunk, moves DW-4 samples from the untrained controller's energies to the Boltzmann ones.
#![cfg(not(target_arch = "wasm32"))]

use molplay::adjoint::{AdjointConfig, AdjointSampler};
use molplay::metrics::mean_sd;

/// Mean energy of the field's DW-4 test set (spec §3; our own MCMC agrees within 0.1).
const DW4_MEAN_ENERGY: f64 = -22.45;

/// Energy standard deviation of the field's DW-4 test set (spec §3).
const DW4_ENERGY_SD: f64 = 1.90;

fn mean_energy(a: &mut AdjointSampler, count: usize) -> f64 {
    let (xs, _) = pollster::block_on(a.simulate(count, 0)).unwrap();
    mean_sd(&a.system.energies(&xs).unwrap()).0
}

/// DW-4's pair potential has two wells, at distances d0 ∓ 1.49 = 2.51 and 5.49 (d0 = 4): the
/// fraction of pair distances below d0 (the inner well) of 2-D configurations of 4 particles.
fn inner_well_fraction(xs: &[f64]) -> f64 {
    let (mut inner, mut pairs) = (0, 0);
    for x in xs.chunks(8) {
        for i in 0..4 {
            for j in i + 1..4 {
                let d = ((x[2 * i] - x[2 * j]).powi(2) + (x[2 * i + 1] - x[2 * j + 1]).powi(2)).sqrt();
                inner += (d < 4.0) as usize;
                pairs += 1;
            }
        }
    }
    inner as f64 / pairs as f64
}

/// DW-4 samples spread as Boltzmann's do (energy sd 1.90, 52 % of pair distances in the inner
/// well for the field's test set): a sampler collapsed onto one configuration fails this.
fn not_collapsed(sys: &molplay::energies::System, xs: &[f64]) -> Result<(), String> {
    let (_, sd) = mean_sd(&sys.energies(xs).unwrap());
    let inner = inner_well_fraction(xs);
    if sd < 0.5 * DW4_ENERGY_SD {
        return Err(format!("energy sd {sd:.2} (Boltzmann {DW4_ENERGY_SD})"));
    }
    if !(0.15..=0.85).contains(&inner) {
        return Err(format!("pair distances in the inner well: {inner:.2} (Boltzmann 0.52)"));
    }
    Ok(())
}

#[test]
fn dw4_energies_move_to_the_boltzmann_ones_and_gradient_steps_outnumber_nothing_else() {
    let mut c = AdjointConfig::demo("dw4").unwrap();
    c.nfe = 50;
    c.new_per_epoch = 32;
    c.batch = 32;
    c.grad_steps = 10;
    c.hidden = 16;
    c.layers = 2;
    let mut a = AdjointSampler::new(c, 1).unwrap();
    let before = mean_energy(&mut a, 300);
    let mut losses = Vec::new();
    for _ in 0..60 {
        losses.push(pollster::block_on(a.epoch()).unwrap());
    }
    let (xs, _) = pollster::block_on(a.simulate(300, 0)).unwrap();
    let (after, sd) = mean_sd(&a.system.energies(&xs).unwrap());
    let inner = inner_well_fraction(&xs);
    eprintln!("mean energy {before:.2} → {after:.2} (sd {sd:.2}, inner-well pair fraction {inner:.2}); loss {:.1} → {:.1}", losses[0], losses[59]);
    assert!((after - DW4_MEAN_ENERGY).abs() + 2.0 < (before - DW4_MEAN_ENERGY).abs(), "mean energy {before:.2} → {after:.2} (target {DW4_MEAN_ENERGY})");
    // this shrunk recipe (hidden 16, 2 layers, 60 epochs) lands at −16 … −21 over seeds 1–4;
    // the untrained controller's samples sit at +60 … +760
    assert!((after - DW4_MEAN_ENERGY).abs() < 7.0, "mean energy after training {after:.2}");
    // not collapsed onto one configuration (the ground state would give the right mean with
    // no spread): the energies spread as Boltzmann's do and both wells of the pair potential
    // are occupied; the check refuses a collapsed set
    not_collapsed(&a.system, &xs).unwrap();
    let collapsed: Vec<f64> = (0..300).flat_map(|_| xs[..8].to_vec()).collect();
    assert!(not_collapsed(&a.system, &collapsed).is_err());
    let (first, last) = (losses[..5].iter().sum::<f64>() / 5.0, losses[55..].iter().sum::<f64>() / 5.0);
    assert!(last < first, "the regression loss falls: {first:.1} → {last:.1}");
    assert_eq!(a.counters.energy_evaluations, 60 * 32);
    assert_eq!(a.counters.gradient_steps, 600);
}

#[test]
fn buffer_refreshes_take_their_forces_from_our_gpu_kernel_like_from_the_cpu() {
    // what the page and `train-adjoint --device gpu` do when the network is on the GPU
    let Some(ctx) = molplay::gpu::shared_native_context() else { return };
    for system in ["dw4", "lj13"] {
        let mut c = AdjointConfig::demo(system).unwrap();
        c.nfe = 20;
        c.new_per_epoch = 16;
        c.hidden = 8;
        c.layers = 1;
        let mut cpu = AdjointSampler::new(c.clone(), 3).unwrap();
        let mut gpu = AdjointSampler::new(c, 3).unwrap();
        gpu.use_gpu_energies(ctx.clone(), molplay::gpu::energy::EnergyKernel::new(&ctx.device));
        assert_eq!((cpu.energy_engine(), gpu.energy_engine()), ("cpu", "gpu"));
        let (x1, _) = pollster::block_on(cpu.simulate(16, 0)).unwrap();
        let e_cpu = pollster::block_on(cpu.refresh_with(&x1)).unwrap();
        let e_gpu = pollster::block_on(gpu.refresh_with(&x1)).unwrap();
        for (a, b) in e_cpu.iter().zip(&e_gpu) {
            assert!((a - b).abs() < 1e-3 * a.abs().max(1.0), "{system}: energy {a} vs {b}");
        }
        assert_eq!(cpu.counters.energy_evaluations, gpu.counters.energy_evaluations);
        assert_eq!(gpu.buffer().len(), 16);
        for ((x, a), (y, b)) in cpu.buffer().iter().zip(gpu.buffer()) {
            assert_eq!(x, y);
            let scale = a.iter().map(|v| v.abs()).fold(1.0, f64::max);
            for (u, v) in a.iter().zip(b) {
                assert!((u - v).abs() < 1e-3 * scale, "{system}: adjoint {u} vs {v}");
            }
        }
        gpu.drop_gpu_energies();
        assert_eq!(gpu.energy_engine(), "cpu");
    }
}

/// A checkpoint holds everything a run needs (weights, Adam's state, the replay buffer, the
/// random generator, counters and history): training 2 epochs, writing a checkpoint, reading it
/// back and training 2 more gives bit for bit what 4 epochs in one go give. Evaluations draw
/// their own random numbers, so they do not change the run. A weights-only file does not
/// resume exactly. With a moving average of the weights (`ema`) the average is in the
/// checkpoint too.
#[test]
fn a_checkpoint_resumes_training_bit_for_bit() {
    for ema in [0.0, 0.9] {
        resumes_bit_for_bit(ema);
    }
}

fn resumes_bit_for_bit(ema: f64) {
    let mut c = AdjointConfig::demo("dw4").unwrap();
    c.ema = ema;
    c.nfe = 20;
    c.new_per_epoch = 16;
    c.batch = 16;
    c.grad_steps = 5;
    c.buffer = 40; // wraps around within the run
    c.hidden = 8;
    c.layers = 2;
    let mut straight = AdjointSampler::new(c.clone(), 11).unwrap();
    let mut losses = Vec::new();
    for _ in 0..4 {
        losses.push(pollster::block_on(straight.epoch()).unwrap());
    }
    let mut first = AdjointSampler::new(c.clone(), 11).unwrap();
    for _ in 0..2 {
        pollster::block_on(first.epoch()).unwrap();
    }
    pollster::block_on(first.simulate_detached(50, 3)).unwrap(); // an evaluation in between
    let checkpoint = pollster::block_on(first.checkpoint_bytes()).unwrap();
    let mut resumed = AdjointSampler::from_bytes(&checkpoint, Some("dw4")).unwrap();
    assert!(resumed.resumed_exactly());
    assert_eq!(resumed.buffer(), first.buffer());
    for _ in 0..2 {
        pollster::block_on(resumed.epoch()).unwrap();
    }
    assert_eq!(resumed.history.losses, losses, "the same losses, epoch by epoch");
    assert_eq!(resumed.counters, straight.counters);
    assert_eq!(resumed.buffer(), straight.buffer(), "the same replay buffer");
    // the same weights and the same random stream: the next simulation agrees to the last bit
    // (the weights files differ only in burn's random parameter ids)
    assert_eq!(pollster::block_on(resumed.simulate(5, 0)).unwrap().0, pollster::block_on(straight.simulate(5, 0)).unwrap().0);
    // weights only: no exact resume (empty buffer), but the history and counters come along
    let weights = AdjointSampler::from_bytes(&pollster::block_on(first.to_bytes()).unwrap(), None).unwrap();
    assert!(!weights.resumed_exactly() && weights.buffer().is_empty());
    assert_eq!(weights.history.losses.len(), 2);
    assert_eq!(weights.counters.epochs, 2);
    // a checkpoint whose sections do not add up is refused, not read short
    for cut in [checkpoint.len() - 1, checkpoint.len() - 8 * 8] {
        let err = AdjointSampler::from_bytes(&checkpoint[..cut], None).err().expect("a cut checkpoint is refused");
        assert!(err.to_string().contains("do not add up"), "{err}");
    }
    let mut longer = checkpoint.clone();
    longer.extend_from_slice(&[0; 16]);
    assert!(AdjointSampler::from_bytes(&longer, None).is_err());
}

/// A moving average of the weights changes what the sampler draws (evaluations, samples, the
/// shipped weights), not what training does: buffer refreshes simulate the trained weights, so
/// the losses are those of the same run without an average.
#[test]
fn a_weights_average_samples_without_changing_the_training_run() {
    let mut c = AdjointConfig::demo("dw4").unwrap();
    (c.nfe, c.new_per_epoch, c.batch, c.grad_steps, c.hidden, c.layers) = (20, 16, 16, 5, 8, 2);
    let mut plain = AdjointSampler::new(c.clone(), 5).unwrap();
    let mut averaged = AdjointSampler::new(AdjointConfig { ema: 0.9, ..c }, 5).unwrap();
    for _ in 0..3 {
        assert_eq!(pollster::block_on(plain.epoch()).unwrap(), pollster::block_on(averaged.epoch()).unwrap());
    }
    assert_eq!(plain.buffer(), averaged.buffer());
    let (a, b) = (pollster::block_on(plain.simulate_detached(8, 1)).unwrap(), pollster::block_on(averaged.simulate_detached(8, 1)).unwrap());
    let largest = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
    assert!(largest > 1e-4, "the average's samples are the trained weights' ({largest})");
    // the preset's weights are the average's: a learner read from them samples as the average does
    let mut shipped = AdjointSampler::from_bytes(&pollster::block_on(averaged.to_bytes()).unwrap(), None).unwrap();
    assert_eq!(pollster::block_on(shipped.simulate_detached(8, 1)).unwrap(), b);
    // and the configuration says so
    assert!(AdjointConfig::demo("dw4").unwrap().with_overrides(&["ema=1".into()]).is_err());
    assert_eq!(AdjointConfig::demo("dw4").unwrap().with_overrides(&["ema=0.999".into()]).unwrap().ema, 0.999);
}

/// The CPU controller's batches run in parts on several threads; the parts do not depend on
/// the number of threads, so neither does the run.
#[test]
fn a_run_is_the_same_on_one_thread_and_on_several() {
    let mut c = AdjointConfig::demo("dw4").unwrap();
    (c.nfe, c.new_per_epoch, c.batch, c.grad_steps, c.hidden, c.layers) = (10, 70, 70, 3, 8, 2); // three parts, one short
    let run = |threads: usize| {
        let mut a = AdjointSampler::new(c.clone(), 2).unwrap();
        a.set_threads(threads);
        let losses: Vec<f64> = (0..2).map(|_| pollster::block_on(a.epoch()).unwrap()).collect();
        (losses, a.buffer().to_vec(), pollster::block_on(a.simulate_detached(40, 4)).unwrap())
    };
    let one = run(1);
    assert!(one.0.iter().all(|l| l.is_finite() && *l > 0.0));
    assert_eq!(run(3), one);
}

/// The page's learner (`app::adjoint::Learner`: an epoch a unit at a time between frames, or
/// one sub-step on request) does the CLI's `epoch()` work exactly: the same buffer, weights,
/// counters and losses after the same epochs, whichever modes drove it.
#[test]
fn the_pages_learner_in_sub_steps_is_the_clis_epoch() {
    use molplay::app::adjoint::{Learner, Mode, Step};
    let mut c = AdjointConfig::demo("dw4").unwrap();
    c.nfe = 18; // 17 Euler–Maruyama steps: refreshes end inside a unit of 4
    c.new_per_epoch = 16;
    c.batch = 16;
    c.grad_steps = 5;
    c.buffer = 40;
    c.hidden = 8;
    c.layers = 2;
    let mut cli = AdjointSampler::new(c.clone(), 7).unwrap();
    let mut cli_losses = Vec::new();
    for _ in 0..3 {
        cli_losses.push(pollster::block_on(cli.epoch()).unwrap());
    }
    let mut page = Learner::new(AdjointSampler::new(c.clone(), 7).unwrap(), 4);
    assert_eq!(page.phase(), "ready to refresh the buffer");
    // epoch 1 in train mode: units until the epoch ends, a refresh on the way
    let mut steps = Vec::new();
    loop {
        let s = pollster::block_on(page.work(Mode::Train)).unwrap();
        steps.push(s);
        if s == Step::EpochDone {
            break;
        }
    }
    assert_eq!(steps.iter().filter(|&&s| s == Step::Refreshed).count(), 1);
    assert_eq!(steps.len(), 17usize.div_ceil(4) + 5);
    // epoch 2 by sub-steps: a refresh, then the regression steps
    while pollster::block_on(page.work(Mode::Refresh)).unwrap() != Step::Refreshed {}
    assert_eq!(page.phase(), "regression steps: 5 left in this epoch");
    while pollster::block_on(page.work(Mode::Regress)).unwrap() != Step::EpochDone {}
    // epoch 3 in train mode again
    while pollster::block_on(page.work(Mode::Train)).unwrap() != Step::EpochDone {}
    assert_eq!(page.sampler.counters, cli.counters);
    assert_eq!(page.sampler.buffer(), cli.buffer());
    let mean = |l: &[f64]| l.iter().sum::<f64>() / l.len() as f64;
    for (e, chunk) in page.losses.chunks(5).enumerate() {
        assert_eq!(mean(chunk), cli_losses[e], "epoch {}", e + 1);
    }
    // the run's history of epoch means is the native runs' record (the page keeps each step's loss)
    assert!(page.sampler.history.losses.is_empty());
    // the same weights (the same samples for one seed), and the same optimiser and generator
    // (the same next epoch); parameter ids differ between two networks, so bytes cannot be compared
    let draw = |a: &mut AdjointSampler| pollster::block_on(a.simulate_detached(20, 5)).unwrap();
    assert_eq!(draw(&mut page.sampler), draw(&mut cli));
    assert_eq!(pollster::block_on(page.sampler.epoch()).unwrap(), pollster::block_on(cli.epoch()).unwrap());
    // the newest refresh's trajectory: 18 frames (u = 0 and each step) of 4 kept samples
    assert_eq!((page.keep, page.trajectory.len()), (4, 18 * 4 * 8));
    assert_eq!((page.frame_len(), page.frame_count(), page.u_of(0), page.u_of(17)), (32, 18, 0.0, 1.0));
    // laid out for the viewer: the kept samples in a row, shifted along x only
    let shown = page.laid_out();
    assert_eq!(shown.len(), page.trajectory.len());
    let last = 17 * 32;
    let shift = |k: usize, c: usize| shown[last + k * 8 + c] as f64 - page.trajectory[last + k * 8 + c];
    assert!(shift(0, 0) < 0.0 && shift(3, 0) > 0.0 && (shift(0, 0) + shift(3, 0)).abs() < 1e-4);
    assert!((0..4).all(|k| shift(k, 1).abs() < 1e-5));
    // exported: every 5th frame and the last, u in the comments
    let xyz = molplay::io::read_xyz(&page.export_trajectory(5)).unwrap();
    assert_eq!(
        xyz.iter().map(|f| f.comment.clone()).collect::<Vec<_>>(),
        ["molplay adjoint dw4 u=0.0000", "molplay adjoint dw4 u=0.2941", "molplay adjoint dw4 u=0.5882", "molplay adjoint dw4 u=0.8824", "molplay adjoint dw4 u=1.0000"]
    );
    assert_eq!(xyz[0].elements.len(), 16);
    // (DW-4 is 2-D: the file's z is 0)
    assert!(xyz[4].positions.chunks(3).zip(shown[last..].chunks(2)).all(|(a, b)| (a[0] - b[0] as f64).abs() < 1e-6 && (a[1] - b[1] as f64).abs() < 1e-6 && a[2] == 0.0));
    assert_eq!(page.samples.len(), 16 * 8);
    assert_eq!(page.energies.len(), 16);
    assert!(Mode::by_name("sideways").unwrap_err().to_string().contains("\"train\", \"refresh\" or \"regress\""));

    // slices (the page's loop): each mode stops when its unit is done, whatever the budget
    let slice = |l: &mut Learner, mode: Mode, budget: f64| {
        let t = std::cell::Cell::new(0.0);
        let clock = move || {
            t.set(t.get() + 1.0);
            t.get()
        };
        pollster::block_on(l.slice(mode, budget, &clock, &|| false))
    };
    let epochs = page.sampler.counters.epochs;
    let out = slice(&mut page, Mode::Train, 1e9);
    assert_eq!((out.refreshed, out.stopped, page.sampler.counters.epochs), (true, None, epochs + 1));
    let out = slice(&mut page, Mode::Refresh, 1e9);
    assert!(out.refreshed && page.phase() == "regression steps: 5 left in this epoch");
    assert_eq!(page.sampler.counters.epochs, epochs + 1);
    let out = slice(&mut page, Mode::Regress, 1e9);
    assert!(!out.refreshed && page.phase() == "ready to refresh the buffer");
    assert_eq!(page.sampler.counters.epochs, epochs + 2);
    // a budget of one clock tick does one unit of training, and no more
    slice(&mut page, Mode::Train, 1.5);
    assert_eq!(page.phase(), "refreshing the buffer: step 4/17");
}
