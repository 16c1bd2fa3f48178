// Batched pair energies and gradients for B configurations of n particles in d = 2 or 3 dims.
//
// One workgroup per configuration. The configuration is copied into workgroup memory; thread t
// handles particles t, t + 64, ... and *gathers* the gradient on its particle by looping over
// all others (no float atomics in WGSL). Each thread also sums its particles' share of the
// energy; a shared-memory tree reduction gives the configuration's energy.
//
// Families (spec adjoint-sampling.md §3), x_i the particle, d_ij the regularised distance:
//   0 double well:   E = Σ_{i<j} a (d − d0)⁴ + b (d − d0)² + c,   d = sqrt(r² + reg)
//   1 Lennard-Jones: E = ε Σ_{i≠j} [(rm/d)¹² − 2 (rm/d)⁶] + (k/2) Σ_i |x_i − x̄|²,  d² = r² + reg
// Output: energies[b], grads[b·n·d + i·d + k] = ∂E/∂x_ik (the force is −grad).

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
@group(0) @binding(1) var<storage, read> positions: array<f32>;
@group(0) @binding(2) var<storage, read_write> energies: array<f32>;
@group(0) @binding(3) var<storage, read_write> grads: array<f32>;

var<workgroup> pos: array<f32, MAX_COORDS>;
var<workgroup> partial: array<f32, WG>;

fn particle(i: u32) -> vec3<f32> {
    let d = params.d;
    var p = vec3<f32>(pos[i * d], pos[i * d + 1u], 0.0);
    if (d == 3u) {
        p.z = pos[i * d + 2u];
    }
    return p;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let b = wg.y * params.groups_x + wg.x;
    if (b >= params.batch) {
        return;
    }
    let n = params.n;
    let d = params.d;
    let stride = n * d;
    let base = b * stride;
    for (var c = lid; c < stride; c += WG) {
        pos[c] = positions[base + c];
    }
    workgroupBarrier();

    var mean = vec3<f32>(0.0);
    if (params.family == 1u && params.p2 != 0.0) {
        for (var j = 0u; j < n; j++) {
            mean += particle(j);
        }
        mean /= f32(n);
    }

    var acc = 0.0;
    for (var i = lid; i < n; i += WG) {
        let xi = particle(i);
        var e = 0.0;
        var g = vec3<f32>(0.0);
        for (var j = 0u; j < n; j++) {
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
        acc += e;
        if (params.want_grad != 0u) {
            grads[base + i * d] = g.x;
            grads[base + i * d + 1u] = g.y;
            if (d == 3u) {
                grads[base + i * d + 2u] = g.z;
            }
        }
    }

    partial[lid] = acc;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (lid < s) {
            partial[lid] += partial[lid + s];
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        energies[b] = partial[0];
    }
}
