// Batched pair energies and gradients for B configurations of n particles in d = 2 or 3 dims
// (preceded by pair_terms.wgsl).
//
// One workgroup per configuration. The configuration is copied into workgroup memory; thread t
// handles particles t, t + 64, ... and gathers the gradient on its particle. Each thread also
// sums its particles' share of the energy; a shared-memory tree reduction gives the energy.
// Output: energies[b], grads[b·n·d + i·d + k] = ∂E/∂x_ik (the force is −grad).

@group(0) @binding(1) var<storage, read> positions: array<f32>;
@group(0) @binding(2) var<storage, read_write> energies: array<f32>;
@group(0) @binding(3) var<storage, read_write> grads: array<f32>;

var<workgroup> partial: array<f32, WG>;

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

    let mean = tether_centre();
    var acc = 0.0;
    for (var i = lid; i < n; i += WG) {
        let t = particle_terms(i, mean);
        acc += t.w;
        if (params.want_grad != 0u) {
            grads[base + i * d] = t.x;
            grads[base + i * d + 1u] = t.y;
            if (d == 3u) {
                grads[base + i * d + 2u] = t.z;
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
