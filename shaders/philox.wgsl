// Philox4x32-10 (Salmon et al., SC'11), the samplers' counter-based generator; the Rust twin is
// rng::philox4x32 (tested against Random123's known answers, and against this file on the GPU).
// WGSL has no 64-bit integers: the high word of the 32×32 product is built from 16-bit halves.

fn mulhi32(a: u32, b: u32) -> u32 {
    let a0 = a & 0xffffu;
    let a1 = a >> 16u;
    let b0 = b & 0xffffu;
    let b1 = b >> 16u;
    let p00 = a0 * b0;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let p11 = a1 * b1;
    let mid = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
    return p11 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u);
}

fn philox(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
    var c = counter;
    var k = key;
    for (var round = 0u; round < 10u; round++) {
        if (round > 0u) {
            k += vec2<u32>(0x9E3779B9u, 0xBB67AE85u);
        }
        let hi0 = mulhi32(0xD2511F53u, c.x);
        let lo0 = 0xD2511F53u * c.x;
        let hi1 = mulhi32(0xCD9E8D57u, c.z);
        let lo1 = 0xCD9E8D57u * c.z;
        c = vec4<u32>(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
    }
    return c;
}

// (0, 1), 24 bits: exact in f32 and equal to rng::unit_open.
fn unit_open(u: u32) -> f32 {
    return (f32(u >> 8u) + 0.5) * (1.0 / 16777216.0);
}

// Four standard normals from one block, two Box–Muller pairs (rng::philox_normals).
fn philox_normals(counter: vec4<u32>, key: vec2<u32>) -> vec4<f32> {
    let r = philox(counter, key);
    let rad0 = sqrt(-2.0 * log(unit_open(r.x)));
    let th0 = 6.283185307179586 * unit_open(r.y);
    let rad1 = sqrt(-2.0 * log(unit_open(r.z)));
    let th1 = 6.283185307179586 * unit_open(r.w);
    return vec4<f32>(rad0 * cos(th0), rad0 * sin(th0), rad1 * cos(th1), rad1 * sin(th1));
}
