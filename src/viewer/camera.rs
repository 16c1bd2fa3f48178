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

    /// Frames `points` as they look from the current direction: the target at the centre of
    /// their bounding box in view axes, the distance such that the box, grown by `pad` on every
    /// side (an atom's radius), fills the viewport's width or height, whichever binds (with the
    /// camera's aspect). The view direction is kept.
    pub fn fit_points(&mut self, points: &[Vec3], pad: f32) {
        let pts: Vec<Vec3> = points.iter().copied().filter(|p| p.is_finite()).collect();
        if pts.is_empty() {
            return self.fit(Vec3::ZERO, 1.0);
        }
        let (sy, cy) = self.yaw.sin_cos();
        let (sp, cp) = self.pitch.sin_cos();
        let back = Vec3::new(cp * sy, sp, cp * cy);
        let right = Vec3::Y.cross(back).normalize();
        let up = back.cross(right);
        let (mut lo, mut hi) = (Vec3::splat(f32::INFINITY), Vec3::splat(f32::NEG_INFINITY));
        for p in &pts {
            let q = Vec3::new(p.dot(right), p.dot(up), p.dot(back));
            lo = lo.min(q);
            hi = hi.max(q);
        }
        let mid = 0.5 * (lo + hi);
        let half = 0.5 * (hi - lo) + Vec3::splat(pad.max(0.0));
        self.target = right * mid.x + up * mid.y + back * mid.z;
        let tan_v = (0.5 * self.fov_y).tan();
        let tan_h = tan_v * self.aspect.max(1e-3);
        // the box's front face is `half.z` nearer than the target
        let d = (half.x / tan_h).max(half.y / tan_v) * 1.05 + half.z;
        self.distance = if d.is_finite() && d > 0.0 { d.clamp(MIN_DISTANCE, MAX_DISTANCE) } else { 10.0 };
    }

    /// The fractions of the viewport's width and height spanned by the projected bounding box
    /// of `points` (clipped to the viewport): how much of the viewer the shown atoms fill.
    pub fn fill(&self, points: &[Vec3]) -> glam::Vec2 {
        let m = self.proj() * self.view();
        let (mut lo, mut hi) = (glam::Vec2::splat(f32::INFINITY), glam::Vec2::splat(f32::NEG_INFINITY));
        for p in points.iter().filter(|p| p.is_finite()) {
            let c = m * p.extend(1.0);
            if c.w <= 0.0 {
                continue;
            }
            let ndc = glam::Vec2::new(c.x / c.w, c.y / c.w).clamp(glam::Vec2::splat(-1.0), glam::Vec2::splat(1.0));
            lo = lo.min(ndc);
            hi = hi.max(ndc);
        }
        if lo.x > hi.x {
            return glam::Vec2::ZERO;
        }
        (hi - lo) / 2.0
    }

    /// The point of `points` drawn nearest the viewport position `ndc` (−1..1, y up), if one
    /// is drawn within `within` (a fraction of the viewport's height) of it: what a click hits.
    pub fn pick(&self, points: &[Vec3], ndc: glam::Vec2, within: f32) -> Option<usize> {
        let m = self.proj() * self.view();
        let aspect = self.aspect.max(1e-3);
        let mut best: Option<(f32, usize)> = None;
        for (i, p) in points.iter().enumerate().filter(|(_, p)| p.is_finite()) {
            let c = m * p.extend(1.0);
            if c.w <= 0.0 {
                continue;
            }
            // distances in units of half the viewport's height
            let d = glam::Vec2::new((c.x / c.w - ndc.x) * aspect, c.y / c.w - ndc.y).length();
            if d <= 2.0 * within && best.is_none_or(|(b, _)| d < b) {
                best = Some((d, i));
            }
        }
        best.map(|(_, i)| i)
    }

    /// Frames flat positions (`d` coordinates each; z = 0 in 2-D) as [`fit_points`](Self::fit_points)
    /// does: their bounding box, grown by `pad` (a particle's radius and some room), fills the
    /// viewer's width or height (issue 19: a ball around the centre left a row of samples a thin
    /// strip in a wide viewer).
    pub fn fit_flat(&mut self, positions: &[f32], d: usize, pad: f32) {
        self.fit_points(&points(positions, d), pad);
    }

    /// [`fill`](Self::fill) of flat positions with `d` coordinates each.
    pub fn fill_flat(&self, positions: &[f32], d: usize) -> [f32; 2] {
        self.fill(&points(positions, d)).to_array()
    }

    /// A click at `ndc` on a view of several molecules (`groups`: their atom counts, in drawing
    /// order, adding up to the points): frames the molecule whose atom was hit alone and returns
    /// its index; `None` (camera unchanged) when nothing is drawn there or the view holds one
    /// molecule only.
    pub fn focus_group(&mut self, points: &[Vec3], groups: &[usize], ndc: glam::Vec2) -> Option<usize> {
        if groups.len() < 2 || groups.iter().sum::<usize>() != points.len() {
            return None;
        }
        let atom = self.pick(points, ndc, 0.04)?;
        let (mut first, mut k) = (0, 0);
        while first + groups[k] <= atom {
            first += groups[k];
            k += 1;
        }
        self.fit_points(&points[first..first + groups[k]], 0.8);
        Some(k)
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

/// Flat positions with `d` coordinates each as 3-D points (z = 0 in 2-D).
pub fn points(positions: &[f32], d: usize) -> Vec<Vec3> {
    positions.chunks_exact(d.max(1)).map(|p| Vec3::new(p[0], p.get(1).copied().unwrap_or(0.0), if d > 2 { p[2] } else { 0.0 })).collect()
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
    fn fitting_points_fills_a_wide_viewport_with_a_row_of_samples() {
        // a row of 8 samples side by side (the Learn panel's layout), 16 wide and 2 tall
        let row: Vec<Vec3> = (0..8).flat_map(|k| [Vec3::new(2.0 * k as f32, 0.0, 0.0), Vec3::new(2.0 * k as f32 + 1.0, 2.0, 0.0)]).collect();
        let mut cam = Camera { aspect: 1.6, yaw: 0.0, pitch: 0.0, ..Camera::default() };
        cam.fit(Vec3::new(7.5, 1.0, 0.0), 8.1);
        let ball = cam.fill(&row);
        cam.fit_points(&row, 0.5);
        let fitted = cam.fill(&row);
        assert!(fitted.x > 1.5 * ball.x && fitted.x > 0.8, "a box fit spans {fitted}, the ball {ball}");
        // every point inside the viewport, and the binding side spans most of it
        let m = cam.proj() * cam.view();
        let xs: Vec<f32> = row
            .iter()
            .map(|p| {
                let c = m * p.extend(1.0);
                c.x / c.w
            })
            .collect();
        assert!(xs.iter().all(|x| x.abs() < 1.0));
        let span = xs.iter().cloned().fold(f32::MIN, f32::max) - xs.iter().cloned().fold(f32::MAX, f32::min);
        assert!(span > 1.6, "the row spans {span} of the viewport's 2 in width");
        // a single compact cluster fills most of a square viewport
        let blob: Vec<Vec3> = [Vec3::X, -Vec3::X, Vec3::Y, -Vec3::Y, Vec3::Z, -Vec3::Z].iter().map(|v| *v * 1.5).collect();
        let mut sq = Camera::default();
        sq.fit_points(&blob, 0.3);
        let f = sq.fill(&blob);
        assert!(f.x.max(f.y) > 0.5, "{f}");
        assert_eq!(sq.fill(&[]), glam::Vec2::ZERO);
    }

    #[test]
    fn a_click_picks_the_point_drawn_under_it() {
        let row: Vec<Vec3> = (0..8).map(|k| Vec3::new(2.0 * k as f32, 0.0, 0.0)).collect();
        let mut cam = Camera { aspect: 1.6, yaw: 0.0, pitch: 0.0, ..Camera::default() };
        cam.fit_points(&row, 0.5);
        let m = cam.proj() * cam.view();
        for (k, p) in row.iter().enumerate() {
            let c = m * p.extend(1.0);
            let at = glam::Vec2::new(c.x / c.w, c.y / c.w);
            assert_eq!(cam.pick(&row, at + glam::Vec2::new(0.01, -0.01), 0.05), Some(k));
        }
        // nothing drawn there
        assert_eq!(cam.pick(&row, glam::Vec2::new(0.0, 0.9), 0.05), None);
        assert_eq!(cam.pick(&[], glam::Vec2::ZERO, 0.05), None);
    }

    #[test]
    fn a_click_on_one_of_several_molecules_frames_it_alone() {
        // three molecules of 2, 3 and 2 atoms in a row (flat, 3 coordinates each)
        let flat: Vec<f32> = [0.0, 1.0, 5.0, 6.0, 7.0, 12.0, 13.0].iter().flat_map(|&x| [x, 0.0, 0.0]).collect();
        let pts = points(&flat, 3);
        assert_eq!(pts.len(), 7);
        let mut cam = Camera { aspect: 1.6, yaw: 0.0, pitch: 0.0, ..Camera::default() };
        cam.fit_flat(&flat, 3, 0.5);
        let m = cam.proj() * cam.view();
        let c = m * pts[3].extend(1.0);
        let at = glam::Vec2::new(c.x / c.w, c.y / c.w);
        let before = cam;
        assert_eq!(cam.focus_group(&pts, &[2, 3, 2], at), Some(1));
        // the middle molecule alone: its centre in the middle, nearer than before
        assert!((cam.target.x - 6.0).abs() < 1e-4, "{:?}", cam.target);
        assert!(cam.distance < before.distance);
        assert!(cam.fill_flat(&flat[6..15], 3)[0] > 2.0 * before.fill_flat(&flat[6..15], 3)[0]);
        // one molecule, groups that do not add up, or nothing under the click: no change
        let mut same = before;
        assert_eq!(same.focus_group(&pts, &[7], at), None);
        assert_eq!(same.focus_group(&pts, &[2, 3], at), None);
        assert_eq!(same.focus_group(&pts, &[2, 3, 2], glam::Vec2::new(0.0, 0.9)), None);
        assert_eq!(same, before);
        // 2-D positions get z = 0
        assert_eq!(points(&[1.0, 2.0, 3.0, 4.0], 2), vec![Vec3::new(1.0, 2.0, 0.0), Vec3::new(3.0, 4.0, 0.0)]);
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
