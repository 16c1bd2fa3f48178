//! Sample files: `.npy` (float32/float64, C order, shape (N, n·d) or (N, n, d)) and multi-frame
//! XYZ / extended XYZ. Every malformed input is a [`IoError`] naming what is wrong and where.

use std::fmt::Write as _;
use thiserror::Error;

/// Refuse headers longer than this (a real .npy header is under 200 bytes).
const MAX_NPY_HEADER: usize = 64 * 1024;

/// Largest |coordinate| read from a sample or molecule file (.npy or XYZ; XYZ charges too).
/// The benchmark systems live within a few units and molecules within tens of ångström, so
/// anything beyond is a corrupt or hostile file; within it every energy, distance and W2 of
/// molplay stays finite in f64 (squares of differences ≤ 4e12 per coordinate) and the f32 the
/// GPU kernels take holds every value.
pub const MAX_COORDINATE: f64 = 1e6;

/// Most atoms one XYZ frame may declare. An allocation is never sized from a count beyond it
/// (nor from one the file's lines cannot hold); bigger structures are out of this playground's
/// reach anyway (the benchmark systems have at most 1024 particles, QM9 molecules 29 atoms).
pub const MAX_XYZ_ATOMS: usize = 100_000;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum IoError {
    #[error("not a .npy file (the magic bytes \\x93NUMPY are missing)")]
    NotNpy,
    #[error(".npy file is truncated: {0}")]
    Truncated(String),
    #[error(".npy header: {0}")]
    BadHeader(String),
    #[error(".npy dtype '{0}' is not supported: use little-endian float32 ('<f4') or float64 ('<f8')")]
    Dtype(String),
    #[error(".npy arrays in Fortran order are not supported; save with order='C'")]
    FortranOrder,
    #[error("shape {shape:?} does not hold configurations of {n} particles in {d}-D: expected (N, {per}) or (N, {n}, {d})")]
    Shape { shape: Vec<usize>, n: usize, d: usize, per: usize },
    #[error("value {index} (configuration {config}) is {value}: samples must be finite")]
    NonFinite { index: usize, config: usize, value: f64 },
    #[error("value {index} (configuration {config}) is {value:.3e}: coordinates beyond ±{limit:e} are refused")]
    TooLarge { index: usize, config: usize, value: f64, limit: f64 },
    #[error(".npy file has {extra} bytes after the {need} data bytes its header declares: it is not the array its header says")]
    TrailingBytes { extra: usize, need: usize },
    #[error("XYZ line {line}: {msg}")]
    Xyz { line: usize, msg: String },
    #[error("XYZ frame {frame} has {got} atoms, expected {n}")]
    AtomCount { frame: usize, got: usize, n: usize },
    #[error("XYZ frame {frame}: the system is 2-D but a z coordinate is {z}")]
    NotPlanar { frame: usize, z: f64 },
    #[error("not UTF-8 text")]
    NotText,
    #[error("unknown file type '{0}': use .npy or .xyz")]
    UnknownType(String),
    #[error("the file holds no configurations")]
    Empty,
}

/// A decoded .npy array: its shape and its values as f64.
#[derive(Clone, Debug, PartialEq)]
pub struct NpyArray {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

/// Parses a little-endian float32/float64 C-order .npy file (format versions 1–3).
pub fn read_npy(bytes: &[u8]) -> Result<NpyArray, IoError> {
    if bytes.len() < 8 || &bytes[..6] != b"\x93NUMPY" {
        return Err(IoError::NotNpy);
    }
    let (header_len, start) = match bytes[6] {
        1 => {
            let b = bytes.get(8..10).ok_or_else(|| IoError::Truncated("no header length".into()))?;
            (u16::from_le_bytes([b[0], b[1]]) as usize, 10)
        }
        2 | 3 => {
            let b = bytes.get(8..12).ok_or_else(|| IoError::Truncated("no header length".into()))?;
            (u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize, 12)
        }
        v => return Err(IoError::BadHeader(format!("unknown format version {v}"))),
    };
    if header_len > MAX_NPY_HEADER {
        return Err(IoError::BadHeader(format!("header of {header_len} bytes is implausibly large")));
    }
    let header = bytes.get(start..start + header_len).ok_or_else(|| IoError::Truncated(format!("header needs {header_len} bytes")))?;
    let header = std::str::from_utf8(header).map_err(|_| IoError::BadHeader("not text".into()))?;
    let descr = dict_value(header, "descr")?;
    let descr = descr.trim_matches(|c| c == '\'' || c == '"');
    let width = match descr {
        "<f4" | "=f4" | "f4" => 4,
        "<f8" | "=f8" | "f8" => 8,
        other => return Err(IoError::Dtype(printable(other))),
    };
    match dict_value(header, "fortran_order")?.trim() {
        "False" => {}
        "True" => return Err(IoError::FortranOrder),
        other => return Err(IoError::BadHeader(format!("fortran_order is '{}'", printable(other)))),
    }
    let shape_text = dict_value(header, "shape")?;
    let inner = shape_text.trim().strip_prefix('(').and_then(|s| s.strip_suffix(')')).ok_or_else(|| IoError::BadHeader(format!("shape '{}' is not a tuple", printable(shape_text))))?;
    let shape = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().map_err(|_| IoError::BadHeader(format!("shape entry '{}' is not a size", printable(s)))))
        .collect::<Result<Vec<_>, _>>()?;
    let count = shape.iter().try_fold(1usize, |acc, &v| acc.checked_mul(v)).ok_or_else(|| IoError::BadHeader("shape overflows".into()))?;
    let body = &bytes[start + header_len..];
    let need = count.checked_mul(width).ok_or_else(|| IoError::BadHeader("shape overflows".into()))?;
    if body.len() < need {
        return Err(IoError::Truncated(format!("shape {shape:?} needs {need} data bytes, found {}", body.len())));
    }
    if body.len() > need {
        return Err(IoError::TrailingBytes { extra: body.len() - need, need });
    }
    let data = if width == 4 {
        body[..need].chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64).collect()
    } else {
        body[..need].chunks_exact(8).map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])).collect()
    };
    Ok(NpyArray { shape, data })
}

/// The text after `'key':` in a .npy header dict, up to the next top-level comma.
fn dict_value<'a>(header: &'a str, key: &str) -> Result<&'a str, IoError> {
    let pos = header.find(&format!("'{key}'")).ok_or_else(|| IoError::BadHeader(format!("no '{key}' entry")))?;
    let rest = &header[pos + key.len() + 2..];
    let rest = rest.trim_start().strip_prefix(':').ok_or_else(|| IoError::BadHeader(format!("'{key}' has no value")))?;
    let mut depth = 0i32;
    for (i, c) in rest.char_indices() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ',' | '}' if depth == 0 => return Ok(rest[..i].trim()),
            _ => {}
        }
    }
    Err(IoError::BadHeader(format!("'{key}' value is not terminated")))
}

/// Checks an array as a batch of configurations of `n` particles in `d` dims; returns the flat
/// data (finite values within ±[`MAX_COORDINATE`] only).
pub fn as_configurations(arr: NpyArray, n: usize, d: usize) -> Result<Vec<f64>, IoError> {
    let per = n.saturating_mul(d).max(1);
    let ok = match arr.shape.as_slice() {
        [_, m] => *m == per,
        [_, a, b] => *a == n && *b == d,
        _ => false,
    };
    if !ok {
        return Err(IoError::Shape { shape: arr.shape, n, d, per });
    }
    if arr.data.is_empty() {
        return Err(IoError::Empty);
    }
    if let Some((index, &value)) = arr.data.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(IoError::NonFinite { index, config: index / per, value });
    }
    if let Some((index, &value)) = arr.data.iter().enumerate().find(|(_, v)| v.abs() > MAX_COORDINATE) {
        return Err(IoError::TooLarge { index, config: index / per, value, limit: MAX_COORDINATE });
    }
    Ok(arr.data)
}

/// Writes a float32 .npy of shape (rows, cols) (format 1.0, header padded to 64 bytes).
pub fn write_npy_f32(rows: usize, cols: usize, data: &[f32]) -> Vec<u8> {
    assert_eq!(rows * cols, data.len(), "shape does not match the data");
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + data.len() * 4);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// One XYZ frame: element symbols, flat 3-D positions, and the comment line.
#[derive(Clone, Debug, PartialEq)]
pub struct XyzFrame {
    pub elements: Vec<String>,
    pub positions: Vec<f64>,
    pub comment: String,
    /// Per-atom charges when an extended-XYZ `Properties=` names a `charge` column.
    pub charges: Option<Vec<f64>>,
}

/// Where the atom lines of a frame keep the species, the first of x y z, and the charge
/// (columns counted from 0), from an extended-XYZ `Properties=` or plain XYZ's `El x y z`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Columns {
    species: usize,
    pos: usize,
    charge: Option<usize>,
}

/// The extended-XYZ `Properties=` token of a comment line: the first whitespace-separated word
/// whose key is `properties` (any case), as its byte span and its value. What the reader takes
/// ([`columns`]) and what the writer rewrites ([`write_xyz`]) are the same token.
fn properties_token(comment: &str) -> Option<(std::ops::Range<usize>, &str)> {
    let mut at = 0;
    comment.split_whitespace().find_map(|w| {
        let start = at + comment[at..].find(w)?;
        at = start + w.len();
        let (key, value) = w.split_once('=')?;
        key.eq_ignore_ascii_case("properties").then_some((start..at, value))
    })
}

/// The columns an extended-XYZ comment line declares (`Properties=name:type:count:…`, read in
/// order, so `pos` need not come first); plain XYZ without `Properties=`. A declaration that
/// is malformed or lacks `species:S:1` or `pos:R:3` is refused, never guessed.
fn columns(comment: &str, line: usize) -> Result<Columns, IoError> {
    let Some((_, spec)) = properties_token(comment) else { return Ok(Columns { species: 0, pos: 1, charge: None }) };
    let bad = |why: &str| IoError::Xyz { line, msg: format!("Properties={}: {why}", printable(spec)) };
    let spec = spec.trim_matches(|c| c == '"' || c == '\'');
    let parts: Vec<&str> = spec.split(':').collect();
    if !parts.len().is_multiple_of(3) {
        return Err(bad("expected name:type:count triples"));
    }
    let (mut species, mut pos, mut charge) = (None, None, None);
    let mut col = 0usize;
    for t in parts.chunks_exact(3) {
        let (name, kind, count) = (t[0], t[1], t[2]);
        let count: usize = count.parse().ok().filter(|c| (1..=64).contains(c)).ok_or_else(|| bad(&format!("the count of '{}' is not between 1 and 64", printable(name))))?;
        match name.to_ascii_lowercase().as_str() {
            "species" if kind.eq_ignore_ascii_case("S") && count == 1 => species = Some(col),
            "pos" | "positions" if kind.eq_ignore_ascii_case("R") && count == 3 => pos = Some(col),
            "charge" | "charges" if count == 1 => charge = Some(col),
            "species" | "pos" | "positions" | "charge" | "charges" => return Err(bad(&format!("'{}' must be species:S:1, pos:R:3 or charge:R:1", printable(name)))),
            _ => {}
        }
        col += count;
    }
    match (species, pos) {
        (Some(species), Some(pos)) => Ok(Columns { species, pos, charge }),
        _ => Err(bad("it declares no species:S:1 and pos:R:3 columns")),
    }
}

/// An element symbol as written in files (`h`, `CL`) in its standard case (`H`, `Cl`): the
/// first letter upper case, the rest lower case.
pub fn normalise_symbol(symbol: &str) -> String {
    let mut out = String::with_capacity(symbol.len());
    for (k, c) in symbol.chars().enumerate() {
        if k == 0 {
            out.extend(c.to_uppercase());
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// Parses a multi-frame XYZ / extended XYZ file. Columns are read where an extended-XYZ
/// `Properties=` puts them (species, pos, an optional charge; others are ignored), otherwise
/// as `El x y z` (extra columns after x y z are ignored). Element symbols are normalised (`h`
/// → `H`); a UTF-8 byte-order mark at the start is skipped. Frames declare at most
/// [`MAX_XYZ_ATOMS`] atoms, coordinates and charges lie within ±[`MAX_COORDINATE`].
pub fn read_xyz(text: &str) -> Result<Vec<XyzFrame>, IoError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text.lines().collect();
    let mut frames = Vec::new();
    let mut tokens: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim().is_empty() {
            i += 1;
            continue;
        }
        let count_line = lines[i].trim();
        let n: usize = count_line.parse().map_err(|_| {
            let msg = if !count_line.is_empty() && count_line.bytes().all(|b| b.is_ascii_digit()) {
                format!("atom count {} is too large: at most {MAX_XYZ_ATOMS} atoms per frame are read", clip(count_line))
            } else {
                format!("expected an atom count, found '{}'", clip(count_line))
            };
            IoError::Xyz { line: i + 1, msg }
        })?;
        if n == 0 {
            return Err(IoError::Xyz { line: i + 1, msg: "a frame with 0 atoms".into() });
        }
        if n > MAX_XYZ_ATOMS {
            return Err(IoError::Xyz { line: i + 1, msg: format!("a frame of {n} atoms: at most {MAX_XYZ_ATOMS} atoms per frame are read") });
        }
        // n ≤ MAX_XYZ_ATOMS and i < lines.len(): no overflow
        let end = i + 2 + n;
        if end > lines.len() {
            return Err(IoError::Xyz { line: lines.len(), msg: format!("frame starting at line {} promises {n} atoms but the file ends first", i + 1) });
        }
        let comment = lines[i + 1].to_string();
        let cols = columns(&comment, i + 2)?;
        let mut charges = cols.charge.map(|_| Vec::with_capacity(n));
        let mut elements = Vec::with_capacity(n);
        let mut positions = Vec::with_capacity(3 * n);
        for (k, line) in lines[i + 2..end].iter().enumerate() {
            let no = i + 3 + k;
            tokens.clear();
            tokens.extend(line.split_whitespace());
            if tokens.is_empty() {
                return Err(IoError::Xyz { line: no, msg: "empty atom line".into() });
            }
            let el = tokens.get(cols.species).ok_or_else(|| IoError::Xyz { line: no, msg: format!("missing the species column ({})", cols.species + 1) })?;
            if !el.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) || !el.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(IoError::Xyz { line: no, msg: format!("'{}' is not an element symbol", clip(el)) });
            }
            for (a, axis) in ["x", "y", "z"].into_iter().enumerate() {
                let tok = tokens.get(cols.pos + a).ok_or_else(|| IoError::Xyz { line: no, msg: format!("missing {axis} coordinate") })?;
                let v: f64 = tok.parse().map_err(|_| IoError::Xyz { line: no, msg: format!("{axis} coordinate '{}' is not a number", clip(tok)) })?;
                if !v.is_finite() {
                    return Err(IoError::Xyz { line: no, msg: format!("{axis} coordinate is {v}") });
                }
                if v.abs() > MAX_COORDINATE {
                    return Err(IoError::Xyz { line: no, msg: format!("{axis} coordinate {v:e} is beyond ±{MAX_COORDINATE:e}, the largest coordinate read") });
                }
                positions.push(v);
            }
            if let (Some(col), Some(qs)) = (cols.charge, charges.as_mut()) {
                let tok = tokens.get(col).ok_or_else(|| IoError::Xyz { line: no, msg: format!("missing the charge column ({})", col + 1) })?;
                let q: f64 = tok.parse().map_err(|_| IoError::Xyz { line: no, msg: format!("charge '{}' is not a number", clip(tok)) })?;
                if !q.is_finite() {
                    return Err(IoError::Xyz { line: no, msg: format!("charge is {q}") });
                }
                if q.abs() > MAX_COORDINATE {
                    return Err(IoError::Xyz { line: no, msg: format!("charge {q:e} is beyond ±{MAX_COORDINATE:e}") });
                }
                qs.push(q);
            }
            elements.push(normalise_symbol(el));
        }
        frames.push(XyzFrame { elements, positions, comment, charges });
        i = end;
    }
    if frames.is_empty() {
        return Err(IoError::Empty);
    }
    Ok(frames)
}

/// Whether a character would not show in a terminal (controls, byte-order marks, zero-width
/// and direction marks).
fn invisible(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{00ad}' | '\u{034f}' | '\u{061c}' | '\u{115f}' | '\u{1160}' | '\u{17b4}' | '\u{17b5}' | '\u{180e}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{206f}' | '\u{3164}' | '\u{fe00}'..='\u{fe0f}' | '\u{feff}' | '\u{ffa0}' | '\u{fff0}'..='\u{fffb}')
}

/// File content for a message: control and invisible characters written as escapes
/// (`\u{1b}`, `\u{feff}`), so quoting a file never drives the terminal or hides a character.
pub fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if invisible(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// [`printable`], cut to 40 characters.
fn clip(s: &str) -> String {
    if s.chars().count() > 40 {
        format!("{}…", printable(&s.chars().take(40).collect::<String>()))
    } else {
        printable(s)
    }
}

/// Writes frames as multi-frame XYZ; 2-D systems get z = 0. Charges, when a frame has them,
/// follow as a fifth column. A comment's extended-XYZ `Properties=` is rewritten to the columns
/// written (one that named other columns made the file unreadable), and added for charges.
pub fn write_xyz(frames: &[XyzFrame], d: usize) -> String {
    let mut out = String::new();
    for f in frames {
        let charges = f.charges.as_ref().filter(|q| q.len() == f.elements.len());
        let _ = writeln!(out, "{}", f.elements.len());
        let _ = writeln!(out, "{}", comment_for_columns(&f.comment.replace('\n', " "), charges.is_some()));
        for (k, (el, p)) in f.elements.iter().zip(f.positions.chunks_exact(d)).enumerate() {
            let z = if d == 3 { p[2] } else { 0.0 };
            match charges {
                Some(q) => writeln!(out, "{el} {:.8} {:.8} {:.8} {}", p[0], p[1], z, q[k]),
                None => writeln!(out, "{el} {:.8} {:.8} {:.8}", p[0], p[1], z),
            }
            .ok();
        }
    }
    out
}

/// `comment` with its `Properties=` token naming the columns [`write_xyz`] writes: species and
/// positions, then charges if `charges`. A comment without one keeps plain XYZ unless charges
/// need declaring.
fn comment_for_columns(comment: &str, charges: bool) -> String {
    let props = if charges { "Properties=species:S:1:pos:R:3:charge:R:1" } else { "Properties=species:S:1:pos:R:3" };
    match properties_token(comment) {
        Some((span, _)) => format!("{}{props}{}", &comment[..span.start], &comment[span.end..]),
        None if charges => {
            if comment.is_empty() {
                props.to_string()
            } else {
                format!("{props} {comment}")
            }
        }
        None => comment.to_string(),
    }
}

/// Cuts flat coordinates (`elements.len()` atoms × `d` per frame) into XYZ frames, the k-th
/// commented `comment(k)`: what the page and the CLI export trajectories and samples with.
pub fn frames_from_flat(flat: &[f64], elements: &[String], d: usize, comment: impl Fn(usize) -> String) -> Vec<XyzFrame> {
    let per = elements.len() * d;
    if per == 0 {
        return Vec::new();
    }
    flat.chunks_exact(per).enumerate().map(|(k, x)| XyzFrame { elements: elements.to_vec(), positions: x.to_vec(), comment: comment(k), charges: None }).collect()
}

/// Multi-frame XYZ of a trajectory (`elements.len()` atoms × `d` per frame, flat), keeping
/// every `every`-th frame and the last ([`thin_indices`]); frame k is commented `comments[k]`.
pub fn write_xyz_thinned(flat: &[f64], elements: &[String], d: usize, comments: &[String], every: usize) -> String {
    let per = elements.len() * d;
    let keep = thin_indices(flat.len().checked_div(per).unwrap_or(0), every);
    let picked: Vec<f64> = keep.iter().flat_map(|&k| flat[k * per..(k + 1) * per].iter().copied()).collect();
    write_xyz(&frames_from_flat(&picked, elements, d, |j| comments.get(keep[j]).cloned().unwrap_or_default()), d)
}

/// How a sample set is written: the field's `.npy` (float32, shape (samples, atoms·d)) or
/// multi-frame XYZ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SampleFormat {
    Npy,
    Xyz,
}

impl SampleFormat {
    /// "npy" or "xyz" (any case), as a file's extension or the page's format name.
    pub fn by_name(name: &str) -> Option<SampleFormat> {
        match name.to_ascii_lowercase().as_str() {
            "npy" => Some(SampleFormat::Npy),
            "xyz" => Some(SampleFormat::Xyz),
            _ => None,
        }
    }

    /// By a path's extension.
    pub fn of_path(path: &std::path::Path) -> Option<SampleFormat> {
        path.extension().and_then(|e| e.to_str()).and_then(SampleFormat::by_name)
    }
}

/// Samples (rows of `dim` = atoms·`d` numbers, flat) as a file's bytes; in XYZ, sample k's
/// elements and comment are `frame(k)` (2-D systems get z = 0). The CLI and the page write
/// samples through this.
pub fn write_samples(xs: &[f64], dim: usize, d: usize, format: SampleFormat, frame: impl Fn(usize) -> (Vec<String>, String)) -> Vec<u8> {
    match format {
        SampleFormat::Npy => {
            let f32s: Vec<f32> = xs.iter().map(|&v| v as f32).collect();
            write_npy_f32(xs.len().checked_div(dim).unwrap_or(0), dim, &f32s)
        }
        SampleFormat::Xyz => {
            let frames: Vec<XyzFrame> = xs
                .chunks_exact(dim)
                .enumerate()
                .map(|(k, x)| {
                    let (elements, comment) = frame(k);
                    XyzFrame { elements, positions: x.to_vec(), comment, charges: None }
                })
                .collect();
            write_xyz(&frames, d).into_bytes()
        }
    }
}

/// Indices 0, every, 2·every, … below `count`, and always the last one: which frames of a long
/// trajectory an export keeps.
pub fn thin_indices(count: usize, every: usize) -> Vec<usize> {
    let mut keep: Vec<usize> = (0..count).step_by(every.max(1)).collect();
    if count > 0 && keep.last() != Some(&(count - 1)) {
        keep.push(count - 1);
    }
    keep
}

/// Configurations of n particles in d dimensions from a sample file, flat: `.npy` (by the magic
/// bytes or the name) or multi-frame `.xyz` (2-D systems need z = 0). The CLI and the page
/// read users' files through this.
pub fn read_configurations(file_name: &str, bytes: &[u8], n: usize, d: usize) -> Result<Vec<f64>, IoError> {
    let lower = file_name.to_ascii_lowercase();
    if bytes.starts_with(b"\x93NUMPY") || lower.ends_with(".npy") {
        return as_configurations(read_npy(bytes)?, n, d);
    }
    if !lower.ends_with(".xyz") && !lower.ends_with(".extxyz") {
        return Err(IoError::UnknownType(clip(file_name.rsplit('.').next().unwrap_or(""))));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| IoError::NotText)?;
    let mut xs = Vec::new();
    for (f, frame) in read_xyz(text)?.iter().enumerate() {
        if frame.elements.len() != n {
            return Err(IoError::AtomCount { frame: f, got: frame.elements.len(), n });
        }
        for p in frame.positions.chunks_exact(3) {
            if d == 2 && p[2] != 0.0 {
                return Err(IoError::NotPlanar { frame: f, z: p[2] });
            }
            xs.extend_from_slice(&p[..d]);
        }
    }
    if xs.is_empty() {
        return Err(IoError::Empty);
    }
    Ok(xs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_written_as_npy_rows_or_as_xyz_frames() {
        let xs = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0];
        let npy = read_npy(&write_samples(&xs, 4, 2, SampleFormat::Npy, |_| unreachable!())).unwrap();
        assert_eq!((npy.shape.clone(), npy.data.clone()), (vec![2, 4], xs.to_vec()));
        let text = String::from_utf8(write_samples(&xs, 4, 2, SampleFormat::Xyz, |k| (vec!["Ar".into(); 2], format!("s{k}")))).unwrap();
        let frames = read_xyz(&text).unwrap();
        assert_eq!(frames.len(), 2);
        assert_eq!((frames[1].comment.as_str(), frames[1].positions[3..6].to_vec()), ("s1", vec![6.0, 7.0, 0.0]));
        assert_eq!(SampleFormat::of_path(std::path::Path::new("a/b.NPY")), Some(SampleFormat::Npy));
        assert_eq!(SampleFormat::by_name("pdb"), None);
    }

    #[test]
    fn a_thinned_trajectory_keeps_every_kth_frame_and_the_last() {
        let flat: Vec<f64> = (0..5 * 3).map(|v| v as f64).collect();
        let comments: Vec<String> = (0..5).map(|k| format!("f{k}")).collect();
        let frames = read_xyz(&write_xyz_thinned(&flat, &["C".into()], 3, &comments, 3)).unwrap();
        let kept: Vec<&str> = frames.iter().map(|f| f.comment.as_str()).collect();
        assert_eq!(kept, ["f0", "f3", "f4"]);
        assert_eq!(frames[2].positions, vec![12.0, 13.0, 14.0]);
    }

    #[test]
    fn npy_round_trips_and_accepts_both_shapes() {
        let data: Vec<f32> = (0..24).map(|v| v as f32 * 0.5).collect();
        let bytes = write_npy_f32(3, 8, &data);
        assert_eq!((bytes.len() - data.len() * 4) % 64, 0, "header is padded to 64 bytes");
        let arr = read_npy(&bytes).unwrap();
        assert_eq!(arr.shape, vec![3, 8]);
        assert_eq!(as_configurations(arr.clone(), 4, 2).unwrap()[5], 2.5);
        let three_d = NpyArray { shape: vec![3, 4, 2], data: arr.data.clone() };
        assert!(as_configurations(three_d, 4, 2).is_ok());
        assert!(matches!(as_configurations(arr, 13, 3), Err(IoError::Shape { .. })));
    }

    #[test]
    fn malformed_npy_files_are_explained() {
        let good = write_npy_f32(2, 3, &[1.0; 6]);
        assert_eq!(read_npy(b"hello world"), Err(IoError::NotNpy));
        assert!(matches!(read_npy(&good[..good.len() - 3]), Err(IoError::Truncated(_))));
        assert!(matches!(read_npy(&good[..12]), Err(IoError::Truncated(_))));
        let mut ints = good.clone();
        let pos = ints.windows(3).position(|w| w == b"<f4").unwrap();
        ints[pos..pos + 3].copy_from_slice(b"<i4");
        assert_eq!(read_npy(&ints), Err(IoError::Dtype("<i4".into())));
        let mut fortran = good.clone();
        let pos = fortran.windows(5).position(|w| w == b"False").unwrap();
        fortran[pos..pos + 5].copy_from_slice(b"True ");
        assert_eq!(read_npy(&fortran), Err(IoError::FortranOrder));
        let mut bad_shape = good.clone();
        let pos = bad_shape.windows(6).position(|w| w == b"(2, 3)").unwrap();
        bad_shape[pos..pos + 6].copy_from_slice(b"(2, x)");
        assert!(matches!(read_npy(&bad_shape), Err(IoError::BadHeader(_))));
        assert!(matches!(read_npy(&good[..8]), Err(IoError::Truncated(_))), "found by tests/parser_fuzz.rs");
        let mut huge = good.clone();
        huge[8] = 0xff;
        huge[9] = 0xff;
        assert!(matches!(read_npy(&huge), Err(IoError::Truncated(_)) | Err(IoError::BadHeader(_))));
        let nan = write_npy_f32(1, 8, &[0.0, 1.0, f32::NAN, 0.0, 0.0, 0.0, 0.0, 0.0]);
        assert!(matches!(as_configurations(read_npy(&nan).unwrap(), 4, 2), Err(IoError::NonFinite { index: 2, .. })));
    }

    #[test]
    fn flat_frames_write_as_multi_frame_xyz() {
        let els: Vec<String> = vec!["C".into(), "H".into()];
        let flat = [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 9.0];
        let frames = frames_from_flat(&flat, &els, 3, |k| format!("t={}", 10 * k));
        assert_eq!(frames.len(), 2, "the incomplete tail is not a frame");
        let back = read_xyz(&write_xyz(&frames, 3)).unwrap();
        assert_eq!(back[1].positions, vec![0.0, 0.0, 0.0, 2.0, 0.0, 0.0]);
        assert_eq!(back[1].comment, "t=10");
        assert!(frames_from_flat(&flat, &[], 3, |_| String::new()).is_empty());
        assert_eq!(thin_indices(11, 5), vec![0, 5, 10]);
        assert_eq!(thin_indices(12, 5), vec![0, 5, 10, 11]);
        assert_eq!(thin_indices(1, 5), vec![0]);
        assert!(thin_indices(0, 5).is_empty());
    }

    #[test]
    fn xyz_round_trips_multi_frame_and_2d() {
        let frames = vec![
            XyzFrame { elements: vec!["Ar".into(), "Ar".into()], positions: vec![0.0, 0.0, 0.0, 1.0, 0.5, -0.25], comment: "frame 0 energy=-1".into(), charges: None },
            XyzFrame { elements: vec!["Ar".into(), "Ar".into()], positions: vec![0.0, 0.0, 0.0, 1.5, 0.0, 0.0], comment: "frame 1".into(), charges: None },
        ];
        let back = read_xyz(&write_xyz(&frames, 3)).unwrap();
        assert_eq!(back, frames);
        let flat = XyzFrame { elements: vec!["X".into(); 2], positions: vec![1.0, 2.0, 3.0, 4.0], comment: String::new(), charges: None };
        let text = write_xyz(&[flat], 2);
        assert_eq!(read_xyz(&text).unwrap()[0].positions, vec![1.0, 2.0, 0.0, 3.0, 4.0, 0.0]);
        // extended XYZ with a charge column (QM9 subset format)
        let q = "2\nProperties=species:S:1:pos:R:3:charge:R:1 smiles=\"O\"\nO 0 0 0 -0.5\nH 1 0 0 0.5\n";
        assert_eq!(read_xyz(q).unwrap()[0].charges, Some(vec![-0.5, 0.5]));
        let bad_q = "1\nProperties=species:S:1:pos:R:3:charge:R:1\nO 0 0 0 x\n";
        assert!(read_xyz(bad_q).unwrap_err().to_string().contains("charge 'x' is not a number"));
        // extended XYZ: extra columns after x y z are ignored
        let ext = "1\nLattice=\"\" Properties=species:S:1:pos:R:3:forces:R:3\nC 1 2 3 0.1 0.2 0.3\n";
        assert_eq!(read_xyz(ext).unwrap()[0].positions, vec![1.0, 2.0, 3.0]);
        // what is read is written back readable: charges kept, Properties= naming the columns
        // written (a QM9 frame written without its charge column used to be unreadable)
        let frames = read_xyz(q).unwrap();
        assert_eq!(read_xyz(&write_xyz(&frames, 3)).unwrap(), frames);
        let mut dropped = frames[0].clone();
        dropped.charges = None;
        let text = write_xyz(&[dropped.clone()], 3);
        assert!(text.contains("Properties=species:S:1:pos:R:3 smiles=\"O\""), "{text}");
        assert_eq!(read_xyz(&text).unwrap()[0], XyzFrame { comment: "Properties=species:S:1:pos:R:3 smiles=\"O\"".into(), ..dropped.clone() });
        let mut added = dropped;
        (added.comment, added.charges) = ("water".into(), Some(vec![-0.5, 0.5]));
        let back = read_xyz(&write_xyz(&[added], 3)).unwrap();
        assert_eq!((back[0].comment.as_str(), back[0].charges.clone()), ("Properties=species:S:1:pos:R:3:charge:R:1 water", Some(vec![-0.5, 0.5])));
        // the token the reader takes is the one rewritten: any case, not a longer key
        assert_eq!(comment_for_columns("MyProperties=x properties=charge:R:1:species:S:1:pos:R:3 e=1", false), "MyProperties=x Properties=species:S:1:pos:R:3 e=1");
    }

    #[test]
    fn malformed_xyz_files_are_explained_with_line_numbers() {
        let err = |t: &str| read_xyz(t).unwrap_err().to_string();
        assert!(err("two\ncomment\n").contains("line 1: expected an atom count"));
        assert!(err("2\ncomment\nC 0 0 0\n").contains("promises 2 atoms"));
        assert!(err("1\nc\nC 0 zero 0\n").contains("line 3: y coordinate 'zero' is not a number"));
        assert!(err("1\nc\nC 0 0\n").contains("missing z"));
        assert!(err("1\nc\n7 0 0 0\n").contains("not an element symbol"));
        assert!(err("1\nc\nC 0 NaN 0\n").contains("y coordinate is NaN"));
        assert!(err("").contains("no configurations"));
        assert!(err("0\nempty\n").contains("0 atoms"));
    }

    /// Issue 16, case 2: a count near usize::MAX (first or later frame) wrapped the length
    /// check and aborted with a capacity overflow.
    #[test]
    fn huge_atom_counts_are_refused_before_anything_is_sized_from_them() {
        let err = |t: &str| read_xyz(t).unwrap_err().to_string();
        for count in ["18446744073709551615", "18446744073709551614", "4294967295", "100001"] {
            let e = err(&format!("{count}\nc\nC 0 0 0\n"));
            assert!(e.contains("line 1") && e.contains("at most 100000 atoms per frame"), "{count}: {e}");
            let later = err(&format!("1\nc\nC 0 0 0\n{count}\nc\nC 0 0 0\n"));
            assert!(later.contains("line 4") && later.contains("at most 100000"), "{count}: {later}");
        }
        assert!(err("99999999999999999999999\nc\n").contains("atom count 99999999999999999999999 is too large"));
        assert!(read_configurations("a.xyz", b"18446744073709551615\nc\nAr 0 0 0\n", 1, 3).is_err());
    }

    /// Issue 16, case 1: finite but huge coordinates are refused where files are read.
    #[test]
    fn coordinates_beyond_the_limit_are_refused_in_xyz_and_npy() {
        let e = read_xyz("1\nc\nC 0 1e300 0\n").unwrap_err().to_string();
        assert!(e.contains("line 3: y coordinate 1e300 is beyond ±1e6"), "{e}");
        assert!(read_xyz("1\nc\nC 0 -1000000 0\n").is_ok(), "the limit itself is read");
        let q = read_xyz("1\nProperties=species:S:1:pos:R:3:charge:R:1\nC 0 0 0 1e9\n").unwrap_err().to_string();
        assert!(q.contains("charge 1e9 is beyond"), "{q}");
        let mut xs = vec![0.5f32; 8];
        xs[5] = 1e30;
        let e = read_configurations("big.npy", &write_npy_f32(1, 8, &xs), 4, 2).unwrap_err();
        assert!(matches!(e, IoError::TooLarge { index: 5, config: 0, .. }), "{e}");
        assert!(e.to_string().contains("beyond ±1e6"), "{e}");
        let xyz = "2\nc\nAr 0 0 0\nAr 1e200 0 0\n";
        assert!(read_configurations("big.xyz", xyz.as_bytes(), 2, 3).unwrap_err().to_string().contains("beyond ±1e6"));
    }

    /// Issue 16, case 6: bytes after the declared data were silently ignored.
    #[test]
    fn bytes_after_the_npy_data_are_refused() {
        let mut bytes = write_npy_f32(2, 3, &[1.0; 6]);
        bytes.extend_from_slice(&[0, 0, 0, 0]);
        let e = read_npy(&bytes).unwrap_err();
        assert_eq!(e, IoError::TrailingBytes { extra: 4, need: 24 });
        assert!(e.to_string().contains("4 bytes after the 24 data bytes"));
    }

    /// Issue 16, case 6: `pos` after another property read that column as x; lower-case symbols
    /// made second vocabulary entries.
    #[test]
    fn extended_xyz_columns_are_read_where_properties_puts_them_and_symbols_are_normalised() {
        let t = "2\nProperties=charge:R:1:species:S:1:pos:R:3 e=1\n-0.5 O 1 2 3\n0.5 h 4 5 6\n";
        let f = &read_xyz(t).unwrap()[0];
        assert_eq!(f.positions, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(f.elements, vec!["O", "H"]);
        assert_eq!(f.charges, Some(vec![-0.5, 0.5]));
        let t = "1\nproperties=species:S:1:forces:R:3:pos:R:3\nC 9 9 9 1 2 3\n";
        assert_eq!(read_xyz(t).unwrap()[0].positions, vec![1.0, 2.0, 3.0]);
        assert_eq!(read_xyz("2\nc\ncl 0 0 0\nCL 1 0 0\n").unwrap()[0].elements, vec!["Cl", "Cl"]);
        let err = |t: &str| read_xyz(t).unwrap_err().to_string();
        assert!(err("1\nProperties=species:S:1:pos:R:2\nC 0 0\n").contains("line 2: Properties=species:S:1:pos:R:2: 'pos' must be"));
        assert!(err("1\nProperties=species:S:1:forces:R:3\nC 0 0 0 0 0 0\n").contains("no species:S:1 and pos:R:3"));
        assert!(err("1\nProperties=species:S:1:pos:R\nC 0 0 0\n").contains("triples"));
        assert!(err("1\nProperties=species:S:1:pos:R:3:x:R:99999999999999999999\nC 0 0 0\n").contains("not between 1 and 64"));
        assert!(err("1\nProperties=charge:R:1:species:S:1:pos:R:3\n0 C 0 0\n").contains("line 3: missing z coordinate"));
    }

    /// Issue 16, case 8: messages quoted control bytes raw (ESC[2J cleared the terminal); a BOM
    /// before the count showed as an invisible character.
    #[test]
    fn messages_escape_control_bytes_and_a_leading_bom_is_skipped() {
        let e = read_xyz("\x1b[2J\x1b[H\nc\n").unwrap_err().to_string();
        assert!(!e.chars().any(|c| c.is_control()), "{e:?}");
        assert!(e.contains("\\u{1b}[2J"), "{e}");
        let e = read_xyz("1\nc\nC\x07 0 0 0\n").unwrap_err().to_string();
        assert!(e.contains("'C\\u{7}' is not an element symbol"), "{e}");
        let e = read_xyz("1\nc\nC 0 \x1b[31m 0\n").unwrap_err().to_string();
        assert!(!e.contains('\x1b') && e.contains("\\u{1b}"), "{e}");
        assert_eq!(read_xyz("\u{feff}1\nc\nC 0 0 0\n").unwrap()[0].elements, vec!["C"]);
        assert_eq!(read_configurations("bom.xyz", b"\xef\xbb\xbf1\nc\nAr 0 0 0\n", 1, 3).unwrap(), vec![0.0; 3]);
        let e = read_xyz("1\nc\nC 0 0 0\n\u{feff}1\nc\nC 0 0 0\n").unwrap_err().to_string();
        assert!(e.contains("line 4") && e.contains("'\\u{feff}1'"), "{e}");
        let mut bad = write_npy_f32(1, 2, &[0.0; 2]);
        let pos = bad.windows(3).position(|w| w == b"<f4").unwrap();
        bad[pos..pos + 3].copy_from_slice(b"\x1bf4");
        let e = read_npy(&bad).unwrap_err().to_string();
        assert!(!e.contains('\x1b') && e.contains("\\u{1b}"), "{e}");
        assert_eq!(printable("a\u{200b}b\u{202e}"), "a\\u{200b}b\\u{202e}");
    }
}
