// One reverse-sampler update (DDPM ancestral, Euler–Maruyama, or a stage of Heun; equivariant
// treatment) for a batch of same-size molecules (preceded by philox.wgsl). Workgroup m owns
// molecule m:
//   x' = c_x x + c_d D + c_e D₂ + s P ε,   then x' − mean(x')  (the centre of mass stays at 0)
// with D the denoiser's output at x, D₂ a second one (Heun's corrector: at its predictor; the
// same buffer with c_e = 0 otherwise), ε from Philox (value index i·3 + k in blocks of 4,
// molecule, step, 5) and P removing ε's mean over the molecule's atoms. The coefficients come
// from samplers::update_coefficients / heun_coefficients, which the CPU samplers use too.
// CPU twin: gpu::sampler::cpu_step.

struct Params {
    molecules: u32,
    atoms: u32,
    step: u32,
    pad0: u32,
    key: vec2<u32>,
    pad1: vec2<u32>,
    coef: vec4<f32>,   // c_x, c_d, s, c_e
}

const WG: u32 = 64u;
const MAX_OWN: u32 = 16u;
const STREAM_SAMPLER: u32 = 5u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> den: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read> den2: array<f32>;

var<workgroup> red: array<vec4<f32>, WG>;

// The sum of every invocation's `v` (all 64 must call it).
fn workgroup_sum(lid: u32, v: vec3<f32>) -> vec3<f32> {
    red[lid] = vec4<f32>(v, 0.0);
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (lid < s) {
            red[lid] += red[lid + s];
        }
        workgroupBarrier();
    }
    let total = red[0].xyz;
    workgroupBarrier();
    return total;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let m = wg.x;
    if (m >= params.molecules) {
        return;
    }
    let n = params.atoms;
    let base = m * n * 3u;
    var eps: array<vec3<f32>, MAX_OWN>;
    var y: array<vec3<f32>, MAX_OWN>;
    var sum = vec3<f32>(0.0);
    var j = 0u;
    for (var i = lid; i < n; i += WG) {
        var e = vec3<f32>(0.0);
        for (var k = 0u; k < 3u; k++) {
            let c = i * 3u + k;
            e[k] = philox_normals(vec4<u32>(c / 4u, m, params.step, STREAM_SAMPLER), params.key)[c % 4u];
        }
        eps[j] = e;
        sum += e;
        j++;
    }
    let mean_eps = workgroup_sum(lid, sum) / f32(n);
    var ysum = vec3<f32>(0.0);
    j = 0u;
    for (var i = lid; i < n; i += WG) {
        let a = base + i * 3u;
        let xi = vec3<f32>(x[a], x[a + 1u], x[a + 2u]);
        let di = vec3<f32>(den[a], den[a + 1u], den[a + 2u]);
        let ei = vec3<f32>(den2[a], den2[a + 1u], den2[a + 2u]);
        let v = params.coef.x * xi + params.coef.y * di + params.coef.w * ei + params.coef.z * (eps[j] - mean_eps);
        y[j] = v;
        ysum += v;
        j++;
    }
    let mean_y = workgroup_sum(lid, ysum) / f32(n);
    j = 0u;
    for (var i = lid; i < n; i += WG) {
        let a = base + i * 3u;
        let v = y[j] - mean_y;
        out[a] = v.x;
        out[a + 1u] = v.y;
        out[a + 2u] = v.z;
        j++;
    }
}
