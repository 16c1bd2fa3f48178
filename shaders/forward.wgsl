// The forward (noising) process of a batch of molecules as one pass (preceded by philox.wgsl),
// for any modality block of `cols` feature columns per atom (positions 3, one-hot types K,
// charges 1). Workgroup (molecule, g) handles columns 4g..4g+3 and walks the Markov chain t = 1..T:
//   z_t = a_t z_{t−1} + s_t Pε_t,   a_t = α_t/α_{t−1},  s_t² = σ_t² − a_t² σ_{t−1}²,
// ε_t from Philox (value index i·cols + k in blocks of 4, molecule, t, 4) and P removing the
// mean over the molecule's atoms per column, so z_t keeps zero mean (centre of mass) and has the
// schedule's marginal α_t z_0 + σ_t Pε. Every frame t is written (plus the molecule's display
// offset, for positions) to frames[t · atoms · cols + ...]: the viewer draws any frame of a
// positions block straight from this buffer.
// CPU twin: gpu::forward::cpu_trajectory.

struct Params {
    molecules: u32,
    steps: u32,
    total_atoms: u32,
    cols: u32,
    key: vec2<u32>,
    pad1: vec2<u32>,
}

const WG: u32 = 64u;
const MAX_OWN: u32 = 16u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> steps_ab: array<vec2<f32>>;   // (a_t, s_t), t = 0..T
@group(0) @binding(2) var<storage, read> ranges: array<vec2<u32>>;      // (first atom, atoms) per molecule
@group(0) @binding(3) var<storage, read> z0: array<f32>;               // zero-mean columns, flat atoms × cols
@group(0) @binding(4) var<storage, read> shift: array<array<f32, 16>>;  // display offset per molecule and column
@group(0) @binding(5) var<storage, read_write> frames: array<f32>;

var<workgroup> red: array<vec4<f32>, WG>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let m = wg.x;
    if (m >= params.molecules) {
        return;
    }
    let first = ranges[m].x;
    let n = ranges[m].y;
    let cols = params.cols;
    let c0 = 4u * wg.y;                     // this workgroup's first column
    let width = min(4u, cols - c0);
    let stride = params.total_atoms * cols;
    let off = shift[m];
    var z: array<vec4<f32>, MAX_OWN>;
    var j = 0u;
    for (var i = lid; i < n; i += WG) {
        var v = vec4<f32>(0.0);
        for (var k = 0u; k < width; k++) {
            let a = (first + i) * cols + c0 + k;
            v[k] = z0[a];
            frames[a] = v[k] + off[c0 + k];
        }
        z[j] = v;
        j++;
    }
    for (var t = 1u; t <= params.steps; t++) {
        var eps: array<vec4<f32>, MAX_OWN>;
        var sum = vec4<f32>(0.0);
        j = 0u;
        for (var i = lid; i < n; i += WG) {
            var e = vec4<f32>(0.0);
            for (var k = 0u; k < width; k++) {
                let c = i * cols + c0 + k;
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
            for (var k = 0u; k < width; k++) {
                frames[t * stride + (first + i) * cols + c0 + k] = z[j][k] + off[c0 + k];
            }
            j++;
        }
    }
}
