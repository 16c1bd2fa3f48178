//! GPU device and compute kernels (wgpu 30: WebGPU in the browser, Vulkan natively).
//!
//! One code path for three places: [`GpuContext::new`] asks for an adapter (browser WebGPU or
//! native Vulkan/Metal/DX12, lavapipe in CI); when none exists the caller keeps `None` and uses
//! the CPU implementation that sits beside every kernel (e.g. [`energy::cpu_energies_grads`]).

pub mod energy;
pub mod forward;
pub mod mcmc;
pub mod sampler;

use serde::Serialize;
use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum GpuError {
    #[error("no GPU adapter: {0}")]
    NoAdapter(String),
    #[error("the GPU refused the device: {0}")]
    Device(String),
    #[error("reading results back from the GPU failed: {0}")]
    Readback(String),
    #[error("a batch of {bytes} bytes exceeds this GPU's storage-buffer limit of {limit} bytes; use smaller batches")]
    TooLarge { bytes: u64, limit: u64 },
}

/// What the page and the CLI show about the adapter in use.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct AdapterSummary {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
}

impl AdapterSummary {
    fn from_info(info: &wgpu::AdapterInfo) -> Self {
        AdapterSummary {
            // browsers do not name their adapters (wgpu maps only the empty `description`)
            name: match (info.name.is_empty(), info.backend, info.device_type) {
                (false, ..) => info.name.clone(),
                (true, wgpu::Backend::BrowserWebGpu, wgpu::DeviceType::Cpu) => "browser WebGPU, software fallback adapter".into(),
                (true, wgpu::Backend::BrowserWebGpu, _) => "browser WebGPU adapter".into(),
                (true, ..) => "unnamed adapter".into(),
            },
            backend: format!("{:?}", info.backend),
            device_type: format!("{:?}", info.device_type),
            driver: [info.driver.as_str(), info.driver_info.as_str()].iter().filter(|s| !s.is_empty()).copied().collect::<Vec<_>>().join(" "),
        }
    }
}

/// An adapter, its device and queue: shared by the compute kernels and the viewer (cloning
/// shares the same device).
#[derive(Clone)]
pub struct GpuContext {
    pub instance: wgpu::Instance,
    pub adapter: wgpu::Adapter,
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub summary: AdapterSummary,
}

impl GpuContext {
    /// Asks for a compute-capable adapter (browser WebGPU on wasm; Vulkan, Metal or DX12
    /// natively, `WGPU_BACKEND` and friends honoured) and a device on it.
    pub async fn new() -> Result<Self, GpuError> {
        let backends = if cfg!(target_arch = "wasm32") { wgpu::Backends::BROWSER_WEBGPU } else { wgpu::Backends::from_env().unwrap_or(wgpu::Backends::PRIMARY) };
        let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
        desc.backends = backends;
        let instance = wgpu::Instance::new(desc);
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions { power_preference: wgpu::PowerPreference::HighPerformance, ..Default::default() })
            .await
            .map_err(|e| GpuError::NoAdapter(e.to_string()))?;
        Self::with_adapter(instance, adapter).await
    }

    /// Opens a device on `adapter` with the adapter's own limits and features, as cubecl-wgpu
    /// asks for its own devices: burn shares this device and compiles its kernels for the
    /// adapter's features (64-bit integers, say), which must then be enabled.
    pub async fn with_adapter(instance: wgpu::Instance, adapter: wgpu::Adapter) -> Result<Self, GpuError> {
        let summary = AdapterSummary::from_info(&adapter.get_info());
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("molplay"),
                // mappable primary buffers are slow on discrete GPUs and not needed
                required_features: adapter.features().difference(wgpu::Features::MAPPABLE_PRIMARY_BUFFERS),
                required_limits: adapter.limits(),
                ..Default::default()
            })
            .await
            .map_err(|e| GpuError::Device(e.to_string()))?;
        Ok(GpuContext { instance, adapter, device, queue, summary })
    }

    /// Native convenience: [`GpuContext::new`] driven to completion.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn new_blocking() -> Result<Self, GpuError> {
        pollster::block_on(Self::new())
    }

    /// A buffer holding `contents` (at least 16 bytes, `COPY_DST` added to `usage`).
    pub fn buffer_init(&self, label: &str, contents: &[u8], usage: wgpu::BufferUsages) -> wgpu::Buffer {
        let buf =
            self.device.create_buffer(&wgpu::BufferDescriptor { label: Some(label), size: contents.len().max(16) as u64, usage: usage | wgpu::BufferUsages::COPY_DST, mapped_at_creation: false });
        self.queue.write_buffer(&buf, 0, contents);
        buf
    }

    /// A bind group binding `buffers` whole, in order, to bindings 0, 1, 2, …
    pub fn bind_buffers(&self, label: &str, layout: &wgpu::BindGroupLayout, buffers: &[&wgpu::Buffer]) -> wgpu::BindGroup {
        let entries: Vec<wgpu::BindGroupEntry> = buffers.iter().enumerate().map(|(i, b)| wgpu::BindGroupEntry { binding: i as u32, resource: b.as_entire_binding() }).collect();
        self.device.create_bind_group(&wgpu::BindGroupDescriptor { label: Some(label), layout, entries: &entries })
    }

    /// Records one dispatch of `pipeline` over `groups` workgroups with `bind_group` at group 0,
    /// and submits it.
    pub fn dispatch(&self, pipeline: &wgpu::ComputePipeline, bind_group: &wgpu::BindGroup, groups: (u32, u32, u32)) {
        let mut encoder = self.device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, bind_group, &[]);
            pass.dispatch_workgroups(groups.0, groups.1, groups.2);
        }
        self.queue.submit([encoder.finish()]);
    }

    /// Copies `size` bytes of `src` (which needs `COPY_SRC`) into host memory.
    pub async fn read_buffer(&self, src: &wgpu::Buffer, size: u64) -> Result<Vec<u8>, GpuError> {
        Ok(self.read_buffers(&[(src, size)]).await?.remove(0))
    }

    /// Copies several buffers' leading bytes into host memory with one staging buffer and one
    /// map (each map is a round trip to the GPU process in the browser). Sizes must be
    /// multiples of 4.
    pub async fn read_buffers(&self, srcs: &[(&wgpu::Buffer, u64)]) -> Result<Vec<Vec<u8>>, GpuError> {
        read_buffers(&self.device, &self.queue, srcs).await
    }
}

/// The compute pipeline of WGSL `source`'s entry point `main`, its layout taken from the shader.
pub fn compute_pipeline(device: &wgpu::Device, label: &str, source: &str) -> wgpu::ComputePipeline {
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor { label: Some(label), source: wgpu::ShaderSource::Wgsl(source.into()) });
    device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(label),
        layout: None,
        module: &module,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: None,
    })
}

/// [`GpuContext::read_buffers`] for holders of a device and queue (both are cheap clones).
pub async fn read_buffers(device: &wgpu::Device, queue: &wgpu::Queue, srcs: &[(&wgpu::Buffer, u64)]) -> Result<Vec<Vec<u8>>, GpuError> {
    let total: u64 = srcs.iter().map(|(_, size)| size).sum();
    let staging = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("molplay readback"),
        size: total.max(4),
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut encoder = device.create_command_encoder(&Default::default());
    let mut offset = 0;
    for (src, size) in srcs {
        encoder.copy_buffer_to_buffer(src, 0, &staging, offset, *size);
        offset += size;
    }
    queue.submit([encoder.finish()]);
    let slice = staging.slice(..);
    let (tx, rx) = futures_channel::oneshot::channel();
    slice.map_async(wgpu::MapMode::Read, move |r| {
        let _ = tx.send(r);
    });
    // natively the callback fires from poll; in the browser from the event loop
    #[cfg(not(target_arch = "wasm32"))]
    device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| GpuError::Readback(e.to_string()))?;
    rx.await.map_err(|_| GpuError::Readback("the map callback was dropped".into()))?.map_err(|e| GpuError::Readback(e.to_string()))?;
    let bytes = slice.get_mapped_range().map_err(|e| GpuError::Readback(e.to_string()))?.to_vec();
    staging.unmap();
    let mut out = Vec::with_capacity(srcs.len());
    let mut start = 0usize;
    for (_, size) in srcs {
        out.push(bytes[start..start + *size as usize].to_vec());
        start += *size as usize;
    }
    Ok(out)
}

/// The process-wide native context: one device, opened once, or why there is none (the CLI's
/// GPU paths report it; they never panic on a machine without an adapter).
#[cfg(not(target_arch = "wasm32"))]
pub fn native_context() -> Result<&'static GpuContext, GpuError> {
    use std::sync::OnceLock;
    static CTX: OnceLock<Result<GpuContext, GpuError>> = OnceLock::new();
    CTX.get_or_init(GpuContext::new_blocking).as_ref().map_err(Clone::clone)
}

/// The process-wide context for native tests and benchmarks ([`native_context`]). Without an
/// adapter it panics, unless `MOLPLAY_ALLOW_NO_GPU=1` lets GPU tests pass vacuously on
/// machines without any; CI installs lavapipe and does not set it.
#[cfg(not(target_arch = "wasm32"))]
pub fn shared_native_context() -> Option<&'static GpuContext> {
    match native_context() {
        Ok(ctx) => Some(ctx),
        Err(e) => {
            if std::env::var_os("MOLPLAY_ALLOW_NO_GPU").is_none() {
                panic!("{e} (install mesa-vulkan-drivers for lavapipe, or set MOLPLAY_ALLOW_NO_GPU=1)");
            }
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| eprintln!("molplay: {e}; GPU tests are skipped because MOLPLAY_ALLOW_NO_GPU is set"));
            None
        }
    }
}
