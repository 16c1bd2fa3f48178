// Parallel-tempering MALA as compute passes (preceded by pair_terms.wgsl and philox.wgsl).
// The algorithm and its notation are in src/mcmc.rs; CpuReplicas there is this file's f64 twin
// and draws the same Philox numbers: noise (c/4, slot, sweep, 0), accept (0, slot, sweep, 1),
// swap (level, chain, sweep, 2).
//
// Entry points, dispatched in this order every sweep:
//   mala    one workgroup per replica slot: reset if insane, propose, energy and gradient of the
//           proposal (pair_terms), Metropolis–Hastings, write back when accepted;
//   swap    one invocation per chain: temperature exchange between neighbouring levels;
//   advance one invocation: sweep += 1;
// and, when samples are wanted, collect: one workgroup per chain copies the base-level slot.

struct MalaParams {
    replicas: u32,
    chains: u32,
    levels: u32,
    dim: u32,
    key: vec2<u32>,
    groups_x: u32,
    pad0: u32,
    limit: f32,
    start_e: f32,
    pad1: u32,
    pad2: u32,
    ladder: array<vec4<f32>, 32>,   // x = temperature, y = step size h
}

const MAX_OWN: u32 = 16u;   // particles per invocation: n ≤ 1024 = 16 · 64

@group(0) @binding(1) var<uniform> mp: MalaParams;
@group(0) @binding(2) var<storage, read_write> xs: array<f32>;        // slot-major positions
@group(0) @binding(3) var<storage, read_write> gs: array<f32>;        // CoM-projected ∇E
@group(0) @binding(4) var<storage, read_write> es: array<f32>;        // energies
@group(0) @binding(5) var<storage, read_write> perm: array<u32>;      // level_of[R], slot_at[R]
@group(0) @binding(6) var<storage, read_write> counters: array<atomic<u32>>; // sweep, resets, accepted[L], swaps[L]
@group(0) @binding(7) var<storage, read> start: array<f32>;           // x (dim), projected ∇E (dim)
@group(0) @binding(8) var<storage, read_write> samples: array<f32>;   // per chain: x (dim), E

var<workgroup> red: array<vec4<f32>, WG>;
var<workgroup> accept_flag: u32;

fn reduce(lid: u32, v: vec4<f32>) -> vec4<f32> {
    red[lid] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (lid < s) {
            red[lid] += red[lid + s];
        }
        workgroupBarrier();
    }
    let out = red[0];
    workgroupBarrier();
    return out;
}

fn finite(v: f32) -> bool {
    return (bitcast<u32>(v) & 0x7f800000u) != 0x7f800000u;
}

fn noise(c: u32, slot: u32, sweep: u32) -> f32 {
    let z = philox_normals(vec4<u32>(c / 4u, slot, sweep, 0u), mp.key);
    return z[c % 4u];
}

@compute @workgroup_size(64)
fn mala(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let r = wg.y * mp.groups_x + wg.x;
    if (r >= mp.replicas) {
        return;
    }
    let n = params.n;
    let d = params.d;
    let dim = mp.dim;
    let base = r * dim;
    let k = perm[r];
    let t = mp.ladder[k].x;
    let h = mp.ladder[k].y;
    let sweep = atomicLoad(&counters[0]);
    var ex = es[r];
    let bad = !(finite(ex) && ex <= mp.limit);
    if (bad) {
        ex = mp.start_e;
    }
    storageBarrier();

    // projected noise of the particles this invocation owns (i = lid, lid + 64, ...)
    var z_own: array<vec3<f32>, MAX_OWN>;
    var g_own: array<vec3<f32>, MAX_OWN>;
    var zsum = vec3<f32>(0.0);
    var j = 0u;
    for (var i = lid; i < n; i += WG) {
        var z = vec3<f32>(0.0);
        for (var q = 0u; q < d; q++) {
            z[q] = noise(i * d + q, r, sweep);
        }
        z_own[j] = z;
        zsum += z;
        j++;
    }
    let zmean = reduce(lid, vec4<f32>(zsum, 0.0)).xyz / f32(n);

    // proposal y = x − (a/T) ∇E(x) + √(2h) Pξ into workgroup memory; the drift coefficient a
    // is h, or 0 on every RANDOM_WALK_EVERY-th sweep (a random-walk move: mcmc.rs explains)
    let sq = sqrt(2.0 * h);
    let a = select(h, 0.0, sweep % 10u == 9u);
    j = 0u;
    for (var i = lid; i < n; i += WG) {
        var z = z_own[j] - zmean;
        if (d == 2u) {
            z.z = 0.0;
        }
        z_own[j] = z;
        for (var q = 0u; q < d; q++) {
            let c = base + i * d + q;
            var xc = xs[c];
            var gc = gs[c];
            if (bad) {
                xc = start[i * d + q];
                gc = start[dim + i * d + q];
                xs[c] = xc;
                gs[c] = gc;
            }
            pos[i * d + q] = xc - a / t * gc + sq * z[q];
        }
        j++;
    }
    workgroupBarrier();

    // energy and projected gradient of the proposal
    let mean = tether_centre();
    var acc = vec4<f32>(0.0);
    j = 0u;
    for (var i = lid; i < n; i += WG) {
        let terms = particle_terms(i, mean);
        g_own[j] = terms.xyz;
        acc += terms;
        j++;
    }
    let tot = reduce(lid, acc);
    let ey = tot.w;
    let gmean = tot.xyz / f32(n);

    // S = P∇E(x) + P∇E(y): |S|² and S·Pξ
    var mh = vec4<f32>(0.0);
    j = 0u;
    for (var i = lid; i < n; i += WG) {
        let gy = g_own[j] - gmean;
        g_own[j] = gy;
        for (var q = 0u; q < d; q++) {
            let s = gs[base + i * d + q] + gy[q];
            mh.x += s * s;
            mh.y += s * z_own[j][q];
        }
        j++;
    }
    let m = reduce(lid, mh);

    if (lid == 0u) {
        let log_alpha = -(ey - ex) / t - a * a * m.x / (4.0 * h * t * t) + a * m.y / (t * sq);
        let u = unit_open(philox(vec4<u32>(0u, r, sweep, 1u), mp.key).x);
        let ok = finite(ey) && ey <= mp.limit && finite(log_alpha) && log(u) < log_alpha;
        accept_flag = select(0u, 1u, ok);
        if (ok) {
            es[r] = ey;
            atomicAdd(&counters[2u + k], 1u);
        } else if (bad) {
            es[r] = mp.start_e;
        }
        if (bad) {
            atomicAdd(&counters[1], 1u);
        }
    }
    let accepted = workgroupUniformLoad(&accept_flag);
    if (accepted == 1u) {
        j = 0u;
        for (var i = lid; i < n; i += WG) {
            for (var q = 0u; q < d; q++) {
                xs[base + i * d + q] = pos[i * d + q];
                gs[base + i * d + q] = g_own[j][q];
            }
            j++;
        }
    }
}

@compute @workgroup_size(64)
fn swap(@builtin(global_invocation_id) gid: vec3<u32>) {
    let c = gid.x;
    if (c >= mp.chains) {
        return;
    }
    let sweep = atomicLoad(&counters[0]);
    let nc = mp.chains;
    let nr = mp.replicas;
    for (var k = sweep % 2u; k + 1u < mp.levels; k += 2u) {
        let ia = nr + k * nc + c;
        let ib = nr + (k + 1u) * nc + c;
        let a = perm[ia];
        let b = perm[ib];
        let log_alpha = (1.0 / mp.ladder[k].x - 1.0 / mp.ladder[k + 1u].x) * (es[a] - es[b]);
        let u = unit_open(philox(vec4<u32>(k, c, sweep, 2u), mp.key).x);
        if (log(u) < log_alpha) {
            perm[ia] = b;
            perm[ib] = a;
            perm[a] = k + 1u;
            perm[b] = k;
            atomicAdd(&counters[2u + mp.levels + k], 1u);
        }
    }
}

@compute @workgroup_size(1)
fn advance() {
    atomicAdd(&counters[0], 1u);
}

@compute @workgroup_size(64)
fn collect(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let c = wg.x;
    if (c >= mp.chains) {
        return;
    }
    let slot = perm[mp.replicas + c];
    let out = c * (mp.dim + 1u);
    for (var q = lid; q < mp.dim; q += WG) {
        samples[out + q] = xs[slot * mp.dim + q];
    }
    if (lid == 0u) {
        samples[out + mp.dim] = es[slot];
    }
}
