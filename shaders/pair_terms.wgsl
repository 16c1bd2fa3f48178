// Shared by pair_energy.wgsl and mala.wgsl (concatenated in front of them by the Rust side):
// the energy parameters, the configuration in workgroup memory, and one particle's share of
// the energy with its gradient, gathered over all other particles (no float atomics in WGSL).
//
// Families (spec adjoint-sampling.md §3), x_i the particle, d_ij the regularised distance:
//   0 double well:   E = Σ_{i<j} a (d − d0)⁴ + b (d − d0)² + c,   d = sqrt(r² + reg)
//   1 Lennard-Jones: E = ε Σ_{i≠j} [(rm/d)¹² − 2 (rm/d)⁶] + (k/2) Σ_i |x_i − x̄|²,  d² = r² + reg

struct Params {
    batch: u32,
    n: u32,
    d: u32,
    family: u32,
    p0: f32,      // a   | ε
    p1: f32,      // b   | r_m
    p2: f32,      // c   | k
    p3: f32,      // d0  | unused
    reg: f32,
    groups_x: u32,
    want_grad: u32,
    pad: u32,
}

const WG: u32 = 64u;
const MAX_COORDS: u32 = 3072u;

@group(0) @binding(0) var<uniform> params: Params;

var<workgroup> pos: array<f32, MAX_COORDS>;

fn particle(i: u32) -> vec3<f32> {
    let d = params.d;
    var p = vec3<f32>(pos[i * d], pos[i * d + 1u], 0.0);
    if (d == 3u) {
        p.z = pos[i * d + 2u];
    }
    return p;
}

// The centre the Lennard-Jones tether pulls towards (zero when there is no tether).
fn tether_centre() -> vec3<f32> {
    var mean = vec3<f32>(0.0);
    if (params.family == 1u && params.p2 != 0.0) {
        for (var j = 0u; j < params.n; j++) {
            mean += particle(j);
        }
        mean /= f32(params.n);
    }
    return mean;
}

// Particle i's share of the energy (w) and ∂E/∂x_i (xyz); the shares sum to E.
fn particle_terms(i: u32, mean: vec3<f32>) -> vec4<f32> {
    let xi = particle(i);
    var e = 0.0;
    var g = vec3<f32>(0.0);
    for (var j = 0u; j < params.n; j++) {
        if (j == i) {
            continue;
        }
        let diff = xi - particle(j);
        let r2 = dot(diff, diff);
        if (params.family == 0u) {
            let dist = sqrt(r2 + params.reg);
            let u = dist - params.p3;
            let u2 = u * u;
            // each unordered pair is visited from both ends: half its energy each time
            e += 0.5 * (params.p0 * u2 * u2 + params.p1 * u2 + params.p2);
            g += ((4.0 * params.p0 * u2 * u + 2.0 * params.p1 * u) / dist) * diff;
        } else {
            let s = r2 + params.reg;
            let q = params.p1 * params.p1 / s;
            let q3 = q * q * q;
            let q6 = q3 * q3;
            // ordered pair (i, j): energy once here, once more from j's thread
            e += params.p0 * (q6 - 2.0 * q3);
            g += (-24.0 * params.p0 * (q6 - q3) / s) * diff;
        }
    }
    if (params.family == 1u && params.p2 != 0.0) {
        let u = xi - mean;
        e += 0.5 * params.p2 * dot(u, u);
        g += params.p2 * u;
    }
    return vec4<f32>(g, e);
}
