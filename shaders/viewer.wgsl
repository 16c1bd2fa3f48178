// Molecule viewer: atoms as ray-cast sphere impostors, bonds as cylinder impostors.
// Bonds are decided per frame from distances (instance = candidate pair; pairs farther apart
// than reach_i + reach_j collapse to nothing), so moving particles re-bond by themselves.
// The atom source (storage buffer written by compute passes, or a uniform array on WebGL2)
// is spliced in by the host in place of the ATOM_SOURCE line.

struct Uniforms {
    view: mat4x4<f32>,
    proj: mat4x4<f32>,
    // n, d, float offset of the shown configuration, 0
    counts: vec4<u32>,
    // atom radius scale, bond radius, flags (1 = past T*: desaturate), 0
    style: vec4<f32>,
}

@group(0) @binding(0) var<uniform> u: Uniforms;

//ATOM_SOURCE

fn unpack_color(bits: f32) -> vec3<f32> {
    let c = bitcast<u32>(bits);
    return vec3<f32>(f32(c & 255u), f32((c >> 8u) & 255u), f32((c >> 16u) & 255u)) / 255.0;
}

fn shade(color: vec3<f32>, normal: vec3<f32>, pos: vec3<f32>) -> vec4<f32> {
    let light = normalize(vec3<f32>(0.4, 0.6, 1.0));
    let view_dir = normalize(-pos);
    let diffuse = max(dot(normal, light), 0.0);
    let spec = pow(max(dot(reflect(-light, normal), view_dir), 0.0), 32.0);
    var c = color * (0.25 + 0.75 * diffuse) + vec3<f32>(0.35 * spec);
    if (u.style.z > 0.5) {
        let grey = dot(c, vec3<f32>(0.3, 0.59, 0.11));
        c = mix(c, vec3<f32>(grey), 0.7);
    }
    return vec4<f32>(c, 1.0);
}

fn corner(vi: u32) -> vec2<f32> {
    var corners = array<vec2<f32>, 6>(
        vec2<f32>(-1.0, -1.0), vec2<f32>(1.0, -1.0), vec2<f32>(1.0, 1.0),
        vec2<f32>(-1.0, -1.0), vec2<f32>(1.0, 1.0), vec2<f32>(-1.0, 1.0));
    return corners[vi];
}

struct AtomOut {
    @builtin(position) clip: vec4<f32>,
    @location(0) view_pos: vec3<f32>,
    @location(1) center: vec3<f32>,
    @location(2) radius: f32,
    @location(3) color: vec3<f32>,
}

@vertex
fn atom_vs(@builtin(vertex_index) vi: u32, @builtin(instance_index) ii: u32) -> AtomOut {
    let style = atom_style(ii);
    let radius = style.y * u.style.x;
    let center = (u.view * vec4<f32>(atom_pos(ii), 1.0)).xyz;
    // a billboard slightly larger than the sphere, moved in front of it, covers its silhouette
    let p = center + vec3<f32>(corner(vi) * radius * 1.5, radius);
    var out: AtomOut;
    out.clip = u.proj * vec4<f32>(p, 1.0);
    out.view_pos = p;
    out.center = center;
    out.radius = radius;
    out.color = unpack_color(style.x);
    return out;
}

struct FragOut {
    @location(0) color: vec4<f32>,
    @builtin(frag_depth) depth: f32,
}

@fragment
fn atom_fs(in: AtomOut) -> FragOut {
    let dir = normalize(in.view_pos);
    let b = dot(dir, in.center);
    let disc = b * b - dot(in.center, in.center) + in.radius * in.radius;
    if (disc < 0.0) {
        discard;
    }
    let hit = dir * (b - sqrt(disc));
    let clip = u.proj * vec4<f32>(hit, 1.0);
    var out: FragOut;
    out.color = shade(in.color, normalize(hit - in.center), hit);
    out.depth = clip.z / clip.w;
    return out;
}

struct BondOut {
    @builtin(position) clip: vec4<f32>,
    @location(0) across: f32,
    @location(1) along: f32,
    @location(2) view_pos: vec3<f32>,
    @location(3) side: vec3<f32>,
    @location(4) color_a: vec3<f32>,
    @location(5) color_b: vec3<f32>,
}

@vertex
fn bond_vs(@builtin(vertex_index) vi: u32, @location(0) pair: vec2<u32>) -> BondOut {
    var out: BondOut;
    let sa = atom_style(pair.x);
    let sb = atom_style(pair.y);
    let a = (u.view * vec4<f32>(atom_pos(pair.x), 1.0)).xyz;
    let b = (u.view * vec4<f32>(atom_pos(pair.y), 1.0)).xyz;
    let axis = b - a;
    let len = length(axis);
    let cross_dir = cross(axis, -(a + b) * 0.5);
    if (len > sa.z + sb.z || len < 1e-4 || length(cross_dir) < 1e-8) {
        out.clip = vec4<f32>(2.0, 2.0, 2.0, 1.0); // outside the clip volume: no fragments
        return out;
    }
    let side = normalize(cross_dir);
    let c = corner(vi);
    let t = c.x * 0.5 + 0.5;
    let p = mix(a, b, t) + side * (c.y * u.style.y);
    out.clip = u.proj * vec4<f32>(p, 1.0);
    out.across = c.y;
    out.along = t;
    out.view_pos = p;
    out.side = side;
    out.color_a = unpack_color(sa.x);
    out.color_b = unpack_color(sb.x);
    return out;
}

@fragment
fn bond_fs(in: BondOut) -> FragOut {
    let h = sqrt(max(1.0 - in.across * in.across, 0.0));
    let toward = normalize(-in.view_pos);
    let normal = normalize(in.side * in.across + toward * h);
    let surface = in.view_pos + toward * (h * u.style.y);
    let clip = u.proj * vec4<f32>(surface, 1.0);
    var out: FragOut;
    out.color = shade(select(in.color_b, in.color_a, in.along < 0.5), normal, surface);
    out.depth = clip.z / clip.w;
    return out;
}
