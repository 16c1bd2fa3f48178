//! The viewer on a page's canvas (wasm32 only): the surface on the compute device (WebGPU) or
//! on a WebGL2 device of its own, resizing, drawing a frame, and moving the viewer to a fresh
//! device after a loss. The facade owns one [`Screen`] and says what it shows; this module
//! owns how it gets onto the canvas.

use super::{AtomSource, Camera, DrawOptions, Viewer};
use wasm_bindgen::JsValue;
use web_sys::HtmlCanvasElement;

/// The viewer with its surface, configuration and device.
pub struct Screen {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub surface: wgpu::Surface<'static>,
    pub config: wgpu::SurfaceConfiguration,
    pub viewer: Viewer,
    /// What draws: "WebGPU", "WebGL2", or either "(new device)" after a loss.
    pub api: String,
}

impl Screen {
    /// The viewer on `surface` of `device`, `w` × `h` device pixels (a non-sRGB format where the
    /// surface offers one, FIFO presentation).
    pub fn new(device: wgpu::Device, queue: wgpu::Queue, surface: wgpu::Surface<'static>, adapter: &wgpu::Adapter, w: u32, h: u32, api: &str) -> Screen {
        let caps = surface.get_capabilities(adapter);
        let format = caps.formats.iter().copied().find(|f| !f.is_srgb()).unwrap_or(caps.formats[0]);
        let config = wgpu::SurfaceConfiguration {
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT,
            format,
            width: w.max(1),
            height: h.max(1),
            present_mode: wgpu::PresentMode::Fifo,
            desired_maximum_frame_latency: 2,
            alpha_mode: caps.alpha_modes[0],
            view_formats: vec![],
            color_space: Default::default(),
        };
        surface.configure(&device, &config);
        let viewer = Viewer::new(&device, format, AtomSource::for_adapter(adapter));
        Screen { device, queue, surface, config, viewer, api: api.into() }
    }

    /// The viewer on `canvas`: on the page's WebGPU device `webgpu` (instance, device, queue,
    /// adapter) when there is one, else on a WebGL2 device of its own.
    pub async fn for_canvas(canvas: HtmlCanvasElement, webgpu: Option<(&wgpu::Instance, &wgpu::Device, &wgpu::Queue, &wgpu::Adapter)>) -> Result<Screen, String> {
        match webgpu {
            Some((instance, device, queue, adapter)) => {
                let (w, h) = (canvas.width(), canvas.height());
                let surface = instance.create_surface(wgpu::SurfaceTarget::Canvas(canvas)).map_err(|e| e.to_string())?;
                Ok(Screen::new(device.clone(), queue.clone(), surface, adapter, w, h, "WebGPU"))
            }
            None => Screen::webgl(canvas).await.map_err(|e| format!("WebGL2 unavailable too: {e}")),
        }
    }

    /// The viewer on a WebGL2 device of its own (no WebGPU): positions are uploaded by the host.
    pub async fn webgl(canvas: HtmlCanvasElement) -> Result<Screen, String> {
        let (w, h) = (canvas.width(), canvas.height());
        let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
        desc.backends = wgpu::Backends::GL;
        let instance = wgpu::Instance::new(desc);
        let surface = instance.create_surface(wgpu::SurfaceTarget::Canvas(canvas)).map_err(|e| e.to_string())?;
        let adapter = instance.request_adapter(&wgpu::RequestAdapterOptions { compatible_surface: Some(&surface), ..Default::default() }).await.map_err(|e| e.to_string())?;
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("molplay webgl"),
                required_limits: wgpu::Limits::downlevel_webgl2_defaults().using_resolution(adapter.limits()),
                ..Default::default()
            })
            .await
            .map_err(|e| e.to_string())?;
        Ok(Screen::new(device, queue, surface, &adapter, w, h, "WebGL2"))
    }

    /// A fresh device of `instance` for the viewer after its device was lost. Right after a
    /// loss (during the page's start, say) the browser may have no adapter to give yet: it asks
    /// again a few times, a little later each time.
    pub async fn fresh_device(instance: &wgpu::Instance) -> Result<FreshDevice, String> {
        let mut last = String::new();
        for wait_ms in [0, 100, 300, 1000, 3000] {
            if wait_ms > 0 {
                later(wait_ms).await;
            }
            let adapter = match instance.request_adapter(&wgpu::RequestAdapterOptions::default()).await {
                Ok(adapter) => adapter,
                Err(e) => {
                    last = e.to_string();
                    continue;
                }
            };
            match adapter.request_device(&wgpu::DeviceDescriptor { label: Some("molplay viewer (after a device loss)"), ..Default::default() }).await {
                Ok((device, queue)) => return Ok(FreshDevice { adapter, device, queue }),
                Err(e) => last = e.to_string(),
            }
        }
        Err(last)
    }

    /// The same viewer (the molecules, positions it holds on the host, look) on `fresh`, for the
    /// same canvas. The lost viewer stays in use while the device is found, so what the page set
    /// meanwhile is carried over.
    pub fn on_device(self, fresh: FreshDevice) -> Result<Screen, String> {
        let FreshDevice { adapter, device, queue } = fresh;
        self.surface.configure(&device, &self.config);
        let viewer = self.viewer.rebuilt(&device, &queue, self.config.format, AtomSource::for_adapter(&adapter)).map_err(|e| e.to_string())?;
        let api = format!("{} (new device)", self.api.trim_end_matches(" (new device)"));
        Ok(Screen { device, queue, surface: self.surface, config: self.config, viewer, api })
    }

    /// The canvas's drawing buffer is now `width` × `height` device pixels (clamped to what
    /// the device can draw); returns the new aspect ratio for the camera.
    pub fn resize(&mut self, width: u32, height: u32) -> f32 {
        let max = self.device.limits().max_texture_dimension_2d;
        self.config.width = width.clamp(1, max);
        self.config.height = height.clamp(1, max);
        self.surface.configure(&self.device, &self.config);
        self.config.width as f32 / self.config.height as f32
    }

    /// Draws and presents one frame. When the surface gives no texture it is reconfigured and
    /// the reason returned (the caller tries again on its next frame).
    pub fn draw(&mut self, camera: &Camera, draw: &DrawOptions) -> Result<(), String> {
        let texture = match self.surface.get_current_texture() {
            wgpu::CurrentSurfaceTexture::Success(t) | wgpu::CurrentSurfaceTexture::Suboptimal(t) => t,
            other => {
                let why = match other {
                    wgpu::CurrentSurfaceTexture::Timeout => "timeout",
                    wgpu::CurrentSurfaceTexture::Occluded => "occluded",
                    wgpu::CurrentSurfaceTexture::Outdated => "outdated",
                    wgpu::CurrentSurfaceTexture::Lost => "lost",
                    _ => "other",
                };
                self.surface.configure(&self.device, &self.config);
                return Err(format!("no surface texture ({why}); reconfigured"));
            }
        };
        let view = texture.texture.create_view(&Default::default());
        self.viewer.render(&self.device, &self.queue, &view, self.config.width, self.config.height, camera, draw);
        self.queue.present(texture);
        Ok(())
    }
}

/// A device found for the viewer after a loss ([`Screen::fresh_device`]).
pub struct FreshDevice {
    adapter: wgpu::Adapter,
    device: wgpu::Device,
    queue: wgpu::Queue,
}

/// Resolves after `ms` milliseconds (a timer on the page's event loop; at once without a window).
pub async fn later(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let set = web_sys::window().map(|w| w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms));
        if !matches!(set, Some(Ok(_))) {
            let _ = resolve.call0(&JsValue::NULL);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}
