//! The viewer's render pipeline on lavapipe, offscreen, checked by reading pixels back.
#![cfg(not(target_arch = "wasm32"))]

use glam::Vec3;
use molplay::energies::{preset_configuration, System};
use molplay::gpu::energy::EnergyKernel;
use molplay::gpu::{shared_native_context, GpuContext};
use molplay::viewer::{render_offscreen, AtomSource, AtomStyle, Camera, DrawOptions, Viewer, BACKGROUND};

const SIZE: u32 = 128;

fn is_background(p: &[u8]) -> bool {
    let bg = [BACKGROUND.r, BACKGROUND.g, BACKGROUND.b].map(|c| (c * 255.0).round() as i32);
    (0..3).all(|k| (p[k] as i32 - bg[k]).abs() <= 1)
}

fn covered(pixels: &[u8]) -> usize {
    pixels.chunks_exact(4).filter(|p| !is_background(p)).count()
}

fn lj13_setup(source: AtomSource) -> Option<(Viewer, Vec<f32>, Camera)> {
    let ctx = shared_native_context()?;
    let sys = System::lj13();
    let x: Vec<f32> = preset_configuration(&sys).iter().map(|&v| v as f32).collect();
    let mut viewer = Viewer::new(&ctx.device, wgpu::TextureFormat::Rgba8Unorm, source);
    viewer.set_molecule(&ctx.device, &ctx.queue, &[AtomStyle::particle(true); 13], 3).unwrap();
    let mut camera = Camera::default();
    camera.fit(Vec3::ZERO, 1.4);
    Some((viewer, x, camera))
}

#[test]
fn both_atom_sources_draw_the_same_cluster() {
    let Some(ctx) = shared_native_context() else { return };
    let mut images = Vec::new();
    for source in [AtomSource::Storage, AtomSource::Uniform] {
        let (mut viewer, x, camera) = lj13_setup(source).unwrap();
        viewer.upload_positions(&ctx.device, &ctx.queue, &x).unwrap();
        let px = pollster::block_on(render_offscreen(ctx, &mut viewer, SIZE, SIZE, &camera, &DrawOptions::default())).unwrap();
        let total = (SIZE * SIZE) as usize;
        let c = covered(&px);
        assert!(c > total / 10 && c < total * 9 / 10, "{source:?}: {c} of {total} pixels covered");
        // the centre shows a lit argon-coloured sphere (blue-green dominant), corners are empty
        let mid = ((SIZE / 2 * SIZE + SIZE / 2) * 4) as usize;
        let p = &px[mid..mid + 4];
        assert!(p[2] > p[0] && p[1] > p[0] && p[2] > 80, "{source:?}: centre pixel {p:?}");
        assert!(is_background(&px[0..4]), "{source:?}: corner pixel {:?}", &px[0..4]);
        images.push(px);
    }
    let differing = images[0].chunks_exact(4).zip(images[1].chunks_exact(4)).filter(|(a, b)| a.iter().zip(b.iter()).any(|(u, v)| u.abs_diff(*v) > 8)).count();
    assert!(differing < (SIZE * SIZE / 100) as usize, "storage and uniform paths differ in {differing} pixels");
}

#[test]
fn bonds_are_drawn_between_neighbours_only() {
    let Some(ctx) = shared_native_context() else { return };
    let (mut viewer, x, camera) = lj13_setup(AtomSource::Storage).unwrap();
    viewer.upload_positions(&ctx.device, &ctx.queue, &x).unwrap();
    let small = DrawOptions { radius_scale: 0.3, ..Default::default() };
    let render = |viewer: &mut Viewer, opts: DrawOptions| pollster::block_on(render_offscreen(ctx, viewer, SIZE, SIZE, &camera, &opts)).unwrap();
    let with = covered(&render(&mut viewer, small));
    let without = covered(&render(&mut viewer, DrawOptions { show_bonds: false, ..small }));
    assert!(with > without + 200, "bonds add pixels: {with} vs {without}");
    // pulled far apart, no pair is within bonding reach: bonds vanish
    let spread: Vec<f32> = x.iter().map(|v| v * 4.0).collect();
    viewer.upload_positions(&ctx.device, &ctx.queue, &spread).unwrap();
    let mut far = camera;
    far.fit(Vec3::ZERO, 6.0);
    let a = covered(&pollster::block_on(render_offscreen(ctx, &mut viewer, SIZE, SIZE, &far, &small)).unwrap());
    let b = covered(&pollster::block_on(render_offscreen(ctx, &mut viewer, SIZE, SIZE, &far, &DrawOptions { show_bonds: false, ..small })).unwrap());
    assert_eq!(a, b);
}

#[test]
fn viewer_draws_straight_from_the_compute_buffer() {
    let Some(ctx) = shared_native_context() else { return };
    let (mut viewer, x, camera) = lj13_setup(AtomSource::Storage).unwrap();
    let sys = System::lj13();
    // two configurations in one batch; frame 1 is frame 0 shifted right
    let mut xs = x.clone();
    xs.extend(x.chunks(3).flat_map(|p| [p[0] + 1.2, p[1], p[2]]));
    let kernel = EnergyKernel::new(&ctx.device);
    let batch = kernel.new_batch(ctx, &sys, 2).unwrap();
    batch.upload(ctx, &xs);
    let out = pollster::block_on(kernel.run(ctx, &batch, false)).unwrap();
    assert!((out.energies[0] - out.energies[1]).abs() < 1e-3, "translation leaves E unchanged");
    let centroid = |px: &[u8]| {
        let (mut sx, mut cnt) = (0.0, 0.0);
        for (i, p) in px.chunks_exact(4).enumerate() {
            if !is_background(p) {
                sx += (i as u32 % SIZE) as f64;
                cnt += 1.0;
            }
        }
        sx / cnt
    };
    let opts = DrawOptions::default();
    viewer.show_storage(&ctx.device, batch.positions(), 0);
    let c0 = centroid(&pollster::block_on(render_offscreen(ctx, &mut viewer, SIZE, SIZE, &camera, &opts)).unwrap());
    viewer.show_storage(&ctx.device, batch.positions(), 1);
    let c1 = centroid(&pollster::block_on(render_offscreen(ctx, &mut viewer, SIZE, SIZE, &camera, &opts)).unwrap());
    assert!((c1 - c0).abs() > 3.0, "frame 1 is drawn elsewhere: centroids {c0} vs {c1}");
}

#[test]
fn bad_positions_are_refused_and_the_last_frame_kept() {
    let Some(ctx) = shared_native_context() else { return };
    let (mut viewer, x, _) = lj13_setup(AtomSource::Uniform).unwrap();
    viewer.upload_positions(&ctx.device, &ctx.queue, &x).unwrap();
    let mut bad = x.clone();
    bad[5] = f32::NAN;
    assert!(viewer.upload_positions(&ctx.device, &ctx.queue, &bad).is_err());
    assert!(viewer.upload_positions(&ctx.device, &ctx.queue, &x[..30]).is_err());
    let too_many = vec![AtomStyle::element("C"); 600];
    assert!(viewer.set_molecule(&ctx.device, &ctx.queue, &too_many, 3).is_err());
}

#[test]
fn a_viewer_rebuilt_on_a_new_device_after_a_loss_draws_the_same_image() {
    // the page's WebGPU device-loss path: a fresh device, the same molecule and configuration
    let Some(first) = GpuContext::new_blocking().ok() else { return };
    let sys = System::lj13();
    let x: Vec<f32> = preset_configuration(&sys).iter().map(|&v| v as f32).collect();
    let mut camera = Camera::default();
    camera.fit(Vec3::ZERO, 1.4);
    let mut viewer = Viewer::new(&first.device, wgpu::TextureFormat::Rgba8Unorm, AtomSource::Storage);
    viewer.set_molecule(&first.device, &first.queue, &[AtomStyle::particle(true); 13], 3).unwrap();
    viewer.upload_positions(&first.device, &first.queue, &x).unwrap();
    let before = pollster::block_on(render_offscreen(&first, &mut viewer, SIZE, SIZE, &camera, &DrawOptions::default())).unwrap();
    first.device.destroy();
    let second = GpuContext::new_blocking().unwrap();
    let mut again = viewer.rebuilt(&second.device, &second.queue, wgpu::TextureFormat::Rgba8Unorm, AtomSource::Storage).unwrap();
    let after = pollster::block_on(render_offscreen(&second, &mut again, SIZE, SIZE, &camera, &DrawOptions::default())).unwrap();
    assert!(covered(&after) > (SIZE * SIZE / 10) as usize);
    assert_eq!(before, after, "the rebuilt viewer shows the same frame");
    // a viewer that showed a storage buffer has no host copy of that frame: the caller re-shows it
    let batch_viewer = Viewer::new(&second.device, wgpu::TextureFormat::Rgba8Unorm, AtomSource::Uniform);
    assert!(batch_viewer.rebuilt(&second.device, &second.queue, wgpu::TextureFormat::Rgba8Unorm, AtomSource::Uniform).is_ok(), "an empty viewer rebuilds too");
}
