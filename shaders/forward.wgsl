// The forward (noising) process of a batch of molecules as one pass (preceded by philox.wgsl).
// One workgroup per molecule walks the Markov chain t = 1..T:
//   z_t = a_t z_{t−1} + s_t Pε_t,   a_t = α_t/α_{t−1},  s_t² = σ_t² − a_t² σ_{t−1}²,
// ε_t from Philox (coordinate block, molecule, t, 4) and P removing the mean over the molecule's
// atoms per axis, so z_t keeps zero centre of mass and has the schedule's marginal
// α_t z_0 + σ_t Pε. Every frame t is written (plus the molecule's display offset) to
// frames[t · atoms · 3 + ...]: the viewer draws any frame straight from this buffer.
// CPU twin: gpu::forward::cpu_trajectory.

struct Params {
    molecules: u32,
    steps: u32,
    total_atoms: u32,
    pad0: u32,
    key: vec2<u32>,
    pad1: vec2<u32>,
}

const WG: u32 = 64u;
const MAX_OWN: u32 = 16u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> steps_ab: array<vec2<f32>>;   // (a_t, s_t), t = 0..T
@group(0) @binding(2) var<storage, read> ranges: array<vec2<u32>>;      // (first atom, atoms) per molecule
@group(0) @binding(3) var<storage, read> z0: array<f32>;               // CoM-free, flat atoms × 3
@group(0) @binding(4) var<storage, read> shift: array<vec4<f32>>;      // display offset per molecule
@group(0) @binding(5) var<storage, read_write> frames: array<f32>;

var<workgroup> red: array<vec3<f32>, WG>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let m = wg.x;
    if (m >= params.molecules) {
        return;
    }
    let first = ranges[m].x;
    let n = ranges[m].y;
    let stride = params.total_atoms * 3u;
    let off = shift[m].xyz;
    var z: array<vec3<f32>, MAX_OWN>;
    var j = 0u;
    for (var i = lid; i < n; i += WG) {
        let a = (first + i) * 3u;
        z[j] = vec3<f32>(z0[a], z0[a + 1u], z0[a + 2u]);
        frames[a] = z[j].x + off.x;
        frames[a + 1u] = z[j].y + off.y;
        frames[a + 2u] = z[j].z + off.z;
        j++;
    }
    for (var t = 1u; t <= params.steps; t++) {
        var eps: array<vec3<f32>, MAX_OWN>;
        var sum = vec3<f32>(0.0);
        j = 0u;
        for (var i = lid; i < n; i += WG) {
            var e = vec3<f32>(0.0);
            for (var k = 0u; k < 3u; k++) {
                let c = i * 3u + k;
                e[k] = philox_normals(vec4<u32>(c / 4u, m, t, 4u), params.key)[c % 4u];
            }
            eps[j] = e;
            sum += e;
            j++;
        }
        red[lid] = sum;
        workgroupBarrier();
        for (var s = WG / 2u; s > 0u; s >>= 1u) {
            if (lid < s) {
                red[lid] += red[lid + s];
            }
            workgroupBarrier();
        }
        let mean = red[0] / f32(n);
        workgroupBarrier();
        let ab = steps_ab[t];
        j = 0u;
        for (var i = lid; i < n; i += WG) {
            z[j] = ab.x * z[j] + ab.y * (eps[j] - mean);
            let a = t * stride + (first + i) * 3u;
            frames[a] = z[j].x + off.x;
            frames[a + 1u] = z[j].y + off.y;
            frames[a + 2u] = z[j].z + off.z;
            j++;
        }
    }
}
