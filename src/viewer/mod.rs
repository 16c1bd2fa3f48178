//! The molecule viewer: a wgpu render pipeline (`shaders/viewer.wgsl`) drawing atoms as
//! ray-cast sphere impostors and bonds as cylinder impostors, recomputed every frame from
//! distances, with CPK colours and an orbit camera.
//!
//! Positions come from one of two sources:
//! * [`AtomSource::Storage`]: the compute pass's own storage buffer (WebGPU, Vulkan), bound
//!   read-only in the vertex stage: nothing is read back per frame;
//! * [`AtomSource::Uniform`]: a uniform array the host uploads (WebGL2 has no storage buffers
//!   and no compute; the CPU path feeds it), up to [`MAX_UNIFORM_ATOMS`] atoms.

pub mod camera;
pub mod layout;
#[cfg(target_arch = "wasm32")]
pub mod screen;

pub use camera::Camera;

use bytemuck::{Pod, Zeroable};

pub const SHADER: &str = include_str!("../../shaders/viewer.wgsl");
pub const MAX_UNIFORM_ATOMS: usize = 512;
pub const DEPTH_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Depth32Float;
pub const BACKGROUND: wgpu::Color = wgpu::Color { r: 0.06, g: 0.07, b: 0.09, a: 1.0 };

/// Where the vertex shader reads positions from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AtomSource {
    Storage,
    Uniform,
}

impl AtomSource {
    /// Storage when the adapter lets vertex shaders read storage buffers (not WebGL2).
    pub fn for_adapter(adapter: &wgpu::Adapter) -> Self {
        let caps = adapter.get_downlevel_capabilities();
        if caps.flags.contains(wgpu::DownlevelFlags::VERTEX_STORAGE) && adapter.limits().max_storage_buffers_per_shader_stage >= 2 {
            AtomSource::Storage
        } else {
            AtomSource::Uniform
        }
    }

    fn prelude(self) -> String {
        match self {
            AtomSource::Storage => "\
@group(0) @binding(1) var<storage, read> positions: array<f32>;
@group(0) @binding(2) var<storage, read> styles: array<vec4<f32>>;
fn atom_pos(i: u32) -> vec3<f32> {
    let o = u.counts.z + i * u.counts.y;
    var p = vec3<f32>(positions[o], positions[o + 1u], 0.0);
    if (u.counts.y == 3u) { p.z = positions[o + 2u]; }
    return p;
}
fn atom_style(i: u32) -> vec4<f32> { return styles[i]; }
"
            .into(),
            AtomSource::Uniform => format!(
                "\
struct AtomArray {{ v: array<vec4<f32>, {MAX_UNIFORM_ATOMS}> }}
@group(0) @binding(1) var<uniform> positions: AtomArray;
@group(0) @binding(2) var<uniform> styles: AtomArray;
fn atom_pos(i: u32) -> vec3<f32> {{ return positions.v[i].xyz; }}
fn atom_style(i: u32) -> vec4<f32> {{ return styles.v[i]; }}
"
            ),
        }
    }
}

/// How one atom is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AtomStyle {
    pub rgb: [u8; 3],
    /// Sphere radius at radius scale 1 (Å or reduced units).
    pub radius: f32,
    /// Two atoms are bonded when their distance is below the sum of their reaches.
    pub reach: f32,
}

impl AtomStyle {
    /// CPK colours; radii ~0.3 × van der Waals; reach 1.15 × covalent radius.
    pub fn element(symbol: &str) -> Self {
        let (rgb, vdw, cov) = match symbol.trim().to_ascii_uppercase().as_str() {
            "H" => ([255, 255, 255], 1.20, 0.31),
            "C" => ([144, 144, 144], 1.70, 0.76),
            "N" => ([48, 80, 248], 1.55, 0.71),
            "O" => ([255, 13, 13], 1.52, 0.66),
            "F" => ([144, 224, 80], 1.47, 0.57),
            "S" => ([255, 255, 48], 1.80, 1.05),
            "P" => ([255, 128, 0], 1.80, 1.07),
            "CL" => ([31, 240, 31], 1.75, 1.02),
            "AR" => ([128, 209, 227], 1.88, 1.06),
            _ => ([255, 20, 147], 1.60, 0.75),
        };
        AtomStyle { rgb, radius: 0.3 * vdw, reach: 1.15 * cov }
    }

    /// An atom whose type is not decided yet (a whole-molecule sample on its way to t = 0): dark
    /// slate, a carbon's size and bond reach, so the skeleton shows before the colours do.
    pub fn undecided() -> Self {
        AtomStyle { rgb: [74, 80, 96], radius: 0.42, reach: 1.15 * 0.76 }
    }

    /// Benchmark particles (units of r_m / d0): Lennard-Jones atoms drawn like argon and bonded
    /// to nearest neighbours; double-well particles bonded within the inner well.
    pub fn particle(system_family_is_lj: bool) -> Self {
        if system_family_is_lj {
            AtomStyle { rgb: [128, 209, 227], radius: 0.32, reach: 0.65 }
        } else {
            AtomStyle { rgb: [255, 160, 60], radius: 0.55, reach: 1.6 }
        }
    }

    /// Every particle of a benchmark system, as [`particle`](Self::particle) draws it.
    pub fn particles_of(sys: &crate::energies::System) -> Vec<AtomStyle> {
        vec![AtomStyle::particle(matches!(sys.family, crate::energies::Family::LennardJones { .. })); sys.n]
    }

    fn pack(&self) -> [f32; 4] {
        let bits = self.rgb[0] as u32 | (self.rgb[1] as u32) << 8 | (self.rgb[2] as u32) << 16 | 0xff00_0000;
        [f32::from_bits(bits), self.radius, self.reach, 0.0]
    }
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Uniforms {
    view: [[f32; 4]; 4],
    proj: [[f32; 4]; 4],
    counts: [u32; 4],
    style: [f32; 4],
}

/// Display switches that are not geometry.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DrawOptions {
    pub radius_scale: f32,
    pub bond_radius: f32,
    pub show_bonds: bool,
    /// Desaturated look for frames past the characteristic step T*.
    pub past_t_star: bool,
}

impl Default for DrawOptions {
    fn default() -> Self {
        DrawOptions { radius_scale: 1.0, bond_radius: 0.09, show_bonds: true, past_t_star: false }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ViewerError {
    #[error("the viewer can draw at most {max} atoms on this backend, got {n}")]
    TooManyAtoms { n: usize, max: usize },
    #[error("positions hold {got} numbers, the molecule needs {want} (n × d)")]
    WrongLength { got: usize, want: usize },
    #[error("positions contain a non-finite value; the frame was not drawn")]
    NonFinite,
}

pub struct Viewer {
    pub source: AtomSource,
    pub format: wgpu::TextureFormat,
    atom_pipeline: wgpu::RenderPipeline,
    bond_pipeline: wgpu::RenderPipeline,
    layout: wgpu::BindGroupLayout,
    uniforms: wgpu::Buffer,
    styles: Option<wgpu::Buffer>,
    own_positions: Option<wgpu::Buffer>,
    pairs: Option<(wgpu::Buffer, u32)>,
    bind_group: Option<wgpu::BindGroup>,
    /// The depth texture is kept with its view: on the web, dropping a texture destroys it.
    depth: Option<(wgpu::Texture, wgpu::TextureView, u32, u32)>,
    n: usize,
    d: usize,
    frame_offset: u32,
    /// What is shown, kept on the host so that a viewer on a new device can show it again:
    /// the molecule (styles, d, groups) and the last uploaded configuration.
    molecule: Option<(Vec<AtomStyle>, usize, Vec<usize>)>,
    uploaded: Vec<f32>,
}

impl Viewer {
    pub fn new(device: &wgpu::Device, format: wgpu::TextureFormat, source: AtomSource) -> Self {
        let code = SHADER.replace("//ATOM_SOURCE", &source.prelude());
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor { label: Some("viewer.wgsl"), source: wgpu::ShaderSource::Wgsl(code.into()) });
        let buffer_entry = |binding, ty| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::VERTEX_FRAGMENT,
            ty: wgpu::BindingType::Buffer { ty, has_dynamic_offset: false, min_binding_size: None },
            count: None,
        };
        let atom_ty = match source {
            AtomSource::Storage => wgpu::BufferBindingType::Storage { read_only: true },
            AtomSource::Uniform => wgpu::BufferBindingType::Uniform,
        };
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("viewer"),
            entries: &[
                buffer_entry(0, wgpu::BufferBindingType::Uniform),
                wgpu::BindGroupLayoutEntry { visibility: wgpu::ShaderStages::VERTEX, ..buffer_entry(1, atom_ty) },
                wgpu::BindGroupLayoutEntry { visibility: wgpu::ShaderStages::VERTEX, ..buffer_entry(2, atom_ty) },
            ],
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor { label: Some("viewer"), bind_group_layouts: &[Some(&layout)], immediate_size: 0 });
        let pipeline = |label, vs, fs, buffers: &[Option<wgpu::VertexBufferLayout>]| {
            device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
                label: Some(label),
                layout: Some(&pipeline_layout),
                vertex: wgpu::VertexState { module: &module, entry_point: Some(vs), buffers, compilation_options: Default::default() },
                fragment: Some(wgpu::FragmentState { module: &module, entry_point: Some(fs), targets: &[Some(format.into())], compilation_options: Default::default() }),
                primitive: wgpu::PrimitiveState::default(),
                depth_stencil: Some(wgpu::DepthStencilState {
                    format: DEPTH_FORMAT,
                    depth_write_enabled: Some(true),
                    depth_compare: Some(wgpu::CompareFunction::Less),
                    stencil: Default::default(),
                    bias: Default::default(),
                }),
                multisample: Default::default(),
                multiview_mask: None,
                cache: None,
            })
        };
        let atom_pipeline = pipeline("viewer atoms", "atom_vs", "atom_fs", &[]);
        let pair_layout = wgpu::VertexBufferLayout { array_stride: 8, step_mode: wgpu::VertexStepMode::Instance, attributes: &wgpu::vertex_attr_array![0 => Uint32x2] };
        let bond_pipeline = pipeline("viewer bonds", "bond_vs", "bond_fs", &[Some(pair_layout)]);
        let uniforms = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("viewer uniforms"),
            size: std::mem::size_of::<Uniforms>() as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        Viewer {
            source,
            format,
            atom_pipeline,
            bond_pipeline,
            layout,
            uniforms,
            styles: None,
            own_positions: None,
            pairs: None,
            bind_group: None,
            depth: None,
            n: 0,
            d: 3,
            frame_offset: 0,
            molecule: None,
            uploaded: Vec::new(),
        }
    }

    /// A viewer on another device (after the old one was lost) showing the same molecule and
    /// the last configuration uploaded from the host. A frame the old viewer drew from a
    /// storage buffer of the lost device has to be shown again by the caller.
    pub fn rebuilt(&self, device: &wgpu::Device, queue: &wgpu::Queue, format: wgpu::TextureFormat, source: AtomSource) -> Result<Viewer, ViewerError> {
        let mut v = Viewer::new(device, format, source);
        if let Some((styles, d, groups)) = &self.molecule {
            v.set_molecules(device, queue, styles, *d, groups)?;
            if self.uploaded.len() == v.n * v.d {
                v.upload_positions(device, queue, &self.uploaded)?;
            }
        }
        Ok(v)
    }

    /// Atoms per molecule of what is shown, in drawing order (one group for a single system).
    pub fn groups(&self) -> Option<&[usize]> {
        self.molecule.as_ref().map(|(_, _, g)| g.as_slice())
    }

    pub fn max_atoms(&self) -> usize {
        match self.source {
            AtomSource::Storage => crate::energies::MAX_PARTICLES,
            AtomSource::Uniform => MAX_UNIFORM_ATOMS,
        }
    }

    /// Sets the molecule (one style per atom, dimension `d`); positions follow with
    /// [`Viewer::show_storage`] or [`Viewer::upload_positions`].
    pub fn set_molecule(&mut self, device: &wgpu::Device, queue: &wgpu::Queue, styles: &[AtomStyle], d: usize) -> Result<(), ViewerError> {
        self.set_molecules(device, queue, styles, d, &[styles.len()])
    }

    /// Several molecules drawn together (consecutive atom ranges of `groups` lengths): bonds are
    /// only considered within a molecule, so 64 molecules cost 64 small pair lists, not one huge one.
    pub fn set_molecules(&mut self, device: &wgpu::Device, queue: &wgpu::Queue, styles: &[AtomStyle], d: usize, groups: &[usize]) -> Result<(), ViewerError> {
        let n = styles.len();
        if groups.iter().sum::<usize>() != n {
            return Err(ViewerError::WrongLength { got: groups.iter().sum(), want: n });
        }
        if n > self.max_atoms() {
            return Err(ViewerError::TooManyAtoms { n, max: self.max_atoms() });
        }
        let slots = match self.source {
            AtomSource::Storage => n.max(1),
            AtomSource::Uniform => MAX_UNIFORM_ATOMS,
        };
        let mut packed = vec![[0f32; 4]; slots];
        for (p, s) in packed.iter_mut().zip(styles) {
            *p = s.pack();
        }
        let usage = match self.source {
            AtomSource::Storage => wgpu::BufferUsages::STORAGE,
            AtomSource::Uniform => wgpu::BufferUsages::UNIFORM,
        } | wgpu::BufferUsages::COPY_DST;
        let style_buf = device.create_buffer(&wgpu::BufferDescriptor { label: Some("viewer styles"), size: (slots * 16) as u64, usage, mapped_at_creation: false });
        queue.write_buffer(&style_buf, 0, bytemuck::cast_slice(&packed));
        let mut pairs: Vec<[u32; 2]> = Vec::new();
        let mut first = 0u32;
        for &g in groups {
            let end = first + g as u32;
            pairs.extend((first..end).flat_map(|i| (i + 1..end).map(move |j| [i, j])));
            first = end;
        }
        let pair_buf = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("viewer pairs"),
            size: (pairs.len().max(1) * 8) as u64,
            usage: wgpu::BufferUsages::VERTEX | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        queue.write_buffer(&pair_buf, 0, bytemuck::cast_slice(&pairs));
        self.styles = Some(style_buf);
        self.pairs = Some((pair_buf, pairs.len() as u32));
        self.n = n;
        self.d = d;
        self.molecule = Some((styles.to_vec(), d, groups.to_vec()));
        self.uploaded.clear();
        self.own_positions = None;
        self.bind_group = None;
        Ok(())
    }

    /// Draws configuration `frame` of a storage buffer of flat positions (e.g. the compute
    /// pass's [`crate::gpu::energy::ParticleBatch::positions`]). Storage source only.
    pub fn show_storage(&mut self, device: &wgpu::Device, positions: &wgpu::Buffer, frame: usize) {
        assert_eq!(self.source, AtomSource::Storage, "show_storage needs the storage atom source");
        self.frame_offset = (frame * self.n * self.d) as u32;
        self.uploaded.clear();
        self.bind(device, positions);
    }

    /// Uploads one configuration (`n·d` numbers) from the host; works with both sources.
    pub fn upload_positions(&mut self, device: &wgpu::Device, queue: &wgpu::Queue, xs: &[f32]) -> Result<(), ViewerError> {
        if xs.len() != self.n * self.d {
            return Err(ViewerError::WrongLength { got: xs.len(), want: self.n * self.d });
        }
        if xs.iter().any(|v| !v.is_finite()) {
            return Err(ViewerError::NonFinite);
        }
        let data: Vec<f32> = match self.source {
            AtomSource::Storage => xs.to_vec(),
            AtomSource::Uniform => {
                let mut v = vec![0f32; MAX_UNIFORM_ATOMS * 4];
                for (i, p) in xs.chunks_exact(self.d).enumerate() {
                    v[i * 4..i * 4 + self.d].copy_from_slice(p);
                }
                v
            }
        };
        let size = (data.len().max(4) * 4) as u64;
        if self.own_positions.as_ref().is_none_or(|b| b.size() != size) {
            let usage = match self.source {
                AtomSource::Storage => wgpu::BufferUsages::STORAGE,
                AtomSource::Uniform => wgpu::BufferUsages::UNIFORM,
            } | wgpu::BufferUsages::COPY_DST;
            self.own_positions = Some(device.create_buffer(&wgpu::BufferDescriptor { label: Some("viewer positions"), size, usage, mapped_at_creation: false }));
        }
        let buf = self.own_positions.clone().expect("just created");
        queue.write_buffer(&buf, 0, bytemuck::cast_slice(&data));
        self.uploaded.clear();
        self.uploaded.extend_from_slice(xs);
        self.frame_offset = 0;
        self.bind(device, &buf);
        Ok(())
    }

    fn bind(&mut self, device: &wgpu::Device, positions: &wgpu::Buffer) {
        let Some(styles) = &self.styles else { return };
        self.bind_group = Some(device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("viewer"),
            layout: &self.layout,
            entries: &[
                wgpu::BindGroupEntry { binding: 0, resource: self.uniforms.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 1, resource: positions.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 2, resource: styles.as_entire_binding() },
            ],
        }));
    }

    /// Renders into `target` (a `width × height` view of `self.format`).
    #[allow(clippy::too_many_arguments)] // wgpu's handles, the target and what to draw
    pub fn render(&mut self, device: &wgpu::Device, queue: &wgpu::Queue, target: &wgpu::TextureView, width: u32, height: u32, camera: &Camera, opts: &DrawOptions) {
        let (width, height) = (width.max(1), height.max(1));
        if self.depth.as_ref().is_none_or(|(_, _, w, h)| (*w, *h) != (width, height)) {
            let tex = device.create_texture(&wgpu::TextureDescriptor {
                label: Some("viewer depth"),
                size: wgpu::Extent3d { width, height, depth_or_array_layers: 1 },
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format: DEPTH_FORMAT,
                usage: wgpu::TextureUsages::RENDER_ATTACHMENT,
                view_formats: &[],
            });
            let view = tex.create_view(&Default::default());
            self.depth = Some((tex, view, width, height));
        }
        let mut cam = *camera;
        cam.aspect = width as f32 / height as f32;
        let u = Uniforms {
            view: cam.view().to_cols_array_2d(),
            proj: cam.proj().to_cols_array_2d(),
            counts: [self.n as u32, self.d as u32, self.frame_offset, 0],
            style: [opts.radius_scale, opts.bond_radius, if opts.past_t_star { 1.0 } else { 0.0 }, 0.0],
        };
        queue.write_buffer(&self.uniforms, 0, bytemuck::bytes_of(&u));
        let mut encoder = device.create_command_encoder(&Default::default());
        {
            let depth_view = &self.depth.as_ref().expect("created above").1;
            let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("viewer"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view: target,
                    depth_slice: None,
                    resolve_target: None,
                    ops: wgpu::Operations { load: wgpu::LoadOp::Clear(BACKGROUND), store: wgpu::StoreOp::Store },
                })],
                depth_stencil_attachment: Some(wgpu::RenderPassDepthStencilAttachment {
                    view: depth_view,
                    depth_ops: Some(wgpu::Operations { load: wgpu::LoadOp::Clear(1.0), store: wgpu::StoreOp::Store }),
                    stencil_ops: None,
                }),
                timestamp_writes: None,
                occlusion_query_set: None,
                multiview_mask: None,
            });
            if let Some(bg) = &self.bind_group {
                pass.set_bind_group(0, bg, &[]);
                pass.set_pipeline(&self.atom_pipeline);
                pass.draw(0..6, 0..self.n as u32);
                if let (true, Some((pairs, count))) = (opts.show_bonds, &self.pairs) {
                    if *count > 0 {
                        pass.set_pipeline(&self.bond_pipeline);
                        pass.set_vertex_buffer(0, pairs.slice(..));
                        pass.draw(0..6, 0..*count);
                    }
                }
            }
        }
        queue.submit([encoder.finish()]);
    }
}

/// Renders one frame into an offscreen RGBA8 texture and reads the pixels back (row-major,
/// 4 bytes a pixel). For tests, thumbnails and image export, never for the live view.
pub async fn render_offscreen(ctx: &crate::gpu::GpuContext, viewer: &mut Viewer, width: u32, height: u32, camera: &Camera, opts: &DrawOptions) -> Result<Vec<u8>, crate::gpu::GpuError> {
    assert_eq!(viewer.format, wgpu::TextureFormat::Rgba8Unorm, "offscreen rendering uses Rgba8Unorm");
    let texture = ctx.device.create_texture(&wgpu::TextureDescriptor {
        label: Some("offscreen"),
        size: wgpu::Extent3d { width, height, depth_or_array_layers: 1 },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format: wgpu::TextureFormat::Rgba8Unorm,
        usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
        view_formats: &[],
    });
    viewer.render(&ctx.device, &ctx.queue, &texture.create_view(&Default::default()), width, height, camera, opts);
    let row = (width * 4).div_ceil(256) * 256;
    let buffer = ctx.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("offscreen pixels"),
        size: (row * height) as u64,
        usage: wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut encoder = ctx.device.create_command_encoder(&Default::default());
    encoder.copy_texture_to_buffer(
        texture.as_image_copy(),
        wgpu::TexelCopyBufferInfo { buffer: &buffer, layout: wgpu::TexelCopyBufferLayout { offset: 0, bytes_per_row: Some(row), rows_per_image: Some(height) } },
        wgpu::Extent3d { width, height, depth_or_array_layers: 1 },
    );
    ctx.queue.submit([encoder.finish()]);
    let padded = ctx.read_buffer(&buffer, (row * height) as u64).await?;
    Ok(padded.chunks_exact(row as usize).flat_map(|r| r[..(width * 4) as usize].to_vec()).collect())
}
