//! Orbit camera (glam): orbit around a target, pan in the view plane, zoom by distance.

use glam::{Mat4, Vec3};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Camera {
    pub target: Vec3,
    pub distance: f32,
    /// Rotation about the world y axis, radians.
    pub yaw: f32,
    /// Elevation, radians, kept inside (−π/2, π/2).
    pub pitch: f32,
    pub fov_y: f32,
    pub aspect: f32,
}

const PITCH_LIMIT: f32 = 1.55;
const MIN_DISTANCE: f32 = 0.05;
const MAX_DISTANCE: f32 = 1.0e4;

impl Default for Camera {
    fn default() -> Self {
        Camera { target: Vec3::ZERO, distance: 10.0, yaw: 0.5, pitch: 0.35, fov_y: 0.8, aspect: 1.0 }
    }
}

impl Camera {
    pub fn eye(&self) -> Vec3 {
        let (sy, cy) = self.yaw.sin_cos();
        let (sp, cp) = self.pitch.sin_cos();
        self.target + self.distance * Vec3::new(cp * sy, sp, cp * cy)
    }

    pub fn view(&self) -> Mat4 {
        glam::camera::rh::view::look_at_mat4(self.eye(), self.target, Vec3::Y)
    }

    /// Perspective with wgpu's 0..1 depth range; near/far follow the distance.
    pub fn proj(&self) -> Mat4 {
        let near = (self.distance * 0.01).max(1e-3);
        let far = self.distance * 10.0 + 100.0;
        glam::camera::rh::proj::directx::perspective(self.fov_y, self.aspect.max(1e-3), near, far)
    }

    /// Frames a ball of `radius` around `centre`.
    pub fn fit(&mut self, centre: Vec3, radius: f32) {
        self.target = centre;
        let r = if radius.is_finite() && radius > 0.0 { radius } else { 1.0 };
        let half = 0.5 * self.fov_y * self.aspect.min(1.0);
        self.distance = (r * 1.15 / half.sin()).clamp(MIN_DISTANCE, MAX_DISTANCE);
    }

    /// Drag by (dx, dy) pixels on a viewport `height` pixels tall.
    pub fn orbit(&mut self, dx: f32, dy: f32, height: f32) {
        if !(dx.is_finite() && dy.is_finite()) {
            return;
        }
        let k = std::f32::consts::PI / height.max(1.0);
        self.yaw -= dx * k;
        self.pitch = (self.pitch + dy * k).clamp(-PITCH_LIMIT, PITCH_LIMIT);
    }

    /// Moves the target with the pointer (dx, dy in pixels).
    pub fn pan(&mut self, dx: f32, dy: f32, height: f32) {
        if !(dx.is_finite() && dy.is_finite()) {
            return;
        }
        let world_per_px = 2.0 * self.distance * (0.5 * self.fov_y).tan() / height.max(1.0);
        let view = self.view();
        let right = view.row(0).truncate();
        let up = view.row(1).truncate();
        self.target += (-dx * right + dy * up) * world_per_px;
    }

    /// Multiplies the distance by `factor` (< 1 zooms in).
    pub fn zoom(&mut self, factor: f32) {
        if factor.is_finite() && factor > 0.0 {
            self.distance = (self.distance * factor).clamp(MIN_DISTANCE, MAX_DISTANCE);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_puts_the_target_in_the_middle_of_the_screen() {
        let mut cam = Camera::default();
        cam.fit(Vec3::new(1.0, 2.0, 3.0), 2.0);
        let clip = cam.proj() * cam.view() * Vec3::new(1.0, 2.0, 3.0).extend(1.0);
        assert!((clip.x / clip.w).abs() < 1e-5 && (clip.y / clip.w).abs() < 1e-5);
        // the whole ball projects inside the viewport
        for p in [Vec3::X, Vec3::Y, Vec3::Z, -Vec3::X, -Vec3::Y, -Vec3::Z] {
            let c = cam.proj() * cam.view() * (Vec3::new(1.0, 2.0, 3.0) + 2.0 * p).extend(1.0);
            assert!((c.x / c.w).abs() < 1.0 && (c.y / c.w).abs() < 1.0 && c.z / c.w > 0.0 && c.z / c.w < 1.0);
        }
    }

    #[test]
    fn orbit_keeps_distance_and_clamps_pitch() {
        let mut cam = Camera::default();
        let d0 = (cam.eye() - cam.target).length();
        cam.orbit(120.0, 10_000.0, 600.0);
        assert!(((cam.eye() - cam.target).length() - d0).abs() < 1e-4);
        assert!(cam.pitch <= PITCH_LIMIT);
        cam.orbit(f32::NAN, 1.0, 600.0);
        assert!(cam.yaw.is_finite());
    }

    #[test]
    fn pan_moves_target_across_the_view_and_zoom_is_bounded() {
        let mut cam = Camera::default();
        let fwd = (cam.target - cam.eye()).normalize();
        cam.pan(50.0, -20.0, 600.0);
        assert!(cam.target.length() > 0.0);
        assert!(cam.target.dot(fwd).abs() < 1e-5, "pan stays in the view plane");
        cam.zoom(0.0);
        cam.zoom(f32::INFINITY);
        assert_eq!(cam.distance, 10.0);
        cam.zoom(1e-9);
        assert_eq!(cam.distance, MIN_DISTANCE);
    }
}
