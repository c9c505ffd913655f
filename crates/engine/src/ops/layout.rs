//! Data movement (Reshape, Transpose, Slice, Gather, Pad, Expand, Concat, Split, ...): shape logic at plan
//! time, reduced to index maps and block copies that run on float32 at predict time and on int64 when folding.

use super::params::*;
use super::{Input, Kernel, Planned};
use crate::json::Node;
use crate::tensor::{broadcast_shapes, normalize_axis, strides};
use crate::Error;

/// Marks an output element that takes the pad value instead of a source element.
pub const PAD: u32 = u32::MAX;

/// out[i] = src[map[i]] (or `pad` where the map says PAD).
#[derive(Clone, Debug)]
pub struct IndexMap {
    pub map: Vec<u32>,
    pub pad: f32,
}

impl IndexMap {
    pub fn run_f32(&self, src: &[f32], out: &mut [f32]) {
        self.run_with(&self.map, src, out)
    }

    /// Applies `map` with this map's pad value.
    pub fn run_with(&self, map: &[u32], src: &[f32], out: &mut [f32]) {
        for (o, &i) in out.iter_mut().zip(map) {
            *o = if i == PAD { self.pad } else { src[i as usize] };
        }
    }

    pub fn run_i64(&self, src: &[i64]) -> Vec<i64> {
        self.map.iter().map(|&i| if i == PAD { self.pad as i64 } else { src[i as usize] }).collect()
    }
}

fn index_map(out_shape: &[usize], source_of: impl Fn(&[usize]) -> Option<usize>) -> Result<Vec<u32>, Error> {
    let n = super::params::planned_len(out_shape)?;
    if n > u32::MAX as usize - 1 {
        return Err(Error::Shape(format!("tensor of {n} elements is too large")));
    }
    let mut idx = vec![0usize; out_shape.len()];
    let mut map = Vec::with_capacity(n);
    for _ in 0..n {
        map.push(source_of(&idx).map_or(PAD, |s| s as u32));
        for d in (0..out_shape.len()).rev() {
            idx[d] += 1;
            if idx[d] < out_shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    Ok(map)
}

/// Transpose by `perm` (default: reverse the axes).
pub fn transpose(shape: &[usize], perm: Option<&[i64]>) -> Result<(IndexMap, Vec<usize>), Error> {
    let rank = shape.len();
    let perm: Vec<usize> = match perm {
        Some(p) => p.iter().map(|&a| normalize_axis(a, rank, "perm")).collect::<Result<_, _>>()?,
        None => (0..rank).rev().collect(),
    };
    let mut seen = vec![false; rank];
    if perm.len() != rank || perm.iter().any(|&a| std::mem::replace(&mut seen[a], true)) {
        return Err(Error::Shape(format!("perm {perm:?} is not a permutation of {rank} axes")));
    }
    let out: Vec<usize> = perm.iter().map(|&a| shape[a]).collect();
    let st = strides(shape);
    let map = index_map(&out, |i| Some(i.iter().zip(&perm).map(|(&x, &a)| x * st[a]).sum()))?;
    Ok((IndexMap { map, pad: 0.0 }, out))
}

/// ONNX Slice: starts/ends/axes/steps with clamping and negative steps.
pub fn slice(
    shape: &[usize],
    starts: &[i64],
    ends: &[i64],
    axes: Option<&[i64]>,
    steps: Option<&[i64]>,
) -> Result<(IndexMap, Vec<usize>), Error> {
    let rank = shape.len();
    if starts.len() != ends.len() {
        return Err(Error::Shape(format!("starts has {} values but ends has {}", starts.len(), ends.len())));
    }
    let axes: Vec<usize> = match axes {
        Some(a) => a.iter().map(|&x| normalize_axis(x, rank, "Slice axes")).collect::<Result<_, _>>()?,
        None => (0..starts.len()).collect(),
    };
    if axes.len() != starts.len() || steps.is_some_and(|s| s.len() != starts.len()) || axes.iter().any(|&a| a >= rank) {
        return Err(Error::Shape(format!(
            "Slice of shape {shape:?}: {} starts, {} axes and {} steps do not match",
            starts.len(),
            axes.len(),
            steps.map_or(starts.len(), <[i64]>::len)
        )));
    }
    let mut begin = vec![0i64; rank];
    let mut step = vec![1i64; rank];
    let mut out: Vec<usize> = shape.to_vec();
    for (i, &ax) in axes.iter().enumerate() {
        let dim = shape[ax] as i64;
        let st = steps.map_or(1, |s| s[i]);
        if st == 0 {
            return Err(Error::Shape("Slice step must not be 0".into()));
        }
        let clamp_idx = |v: i64, lo: i64, hi: i64| {
            let v = if v < 0 { v.saturating_add(dim) } else { v };
            v.clamp(lo, hi)
        };
        let (s, e) = if st > 0 {
            (clamp_idx(starts[i], 0, dim), clamp_idx(ends[i], 0, dim))
        } else {
            (clamp_idx(starts[i], -1, dim - 1), clamp_idx(ends[i], -1, dim - 1))
        };
        let len = if st > 0 { (e - s + st - 1).div_euclid(st) } else { (s - e + (-st) - 1).div_euclid(-st) };
        out[ax] = len.max(0) as usize;
        begin[ax] = s;
        step[ax] = st;
    }
    let st = strides(shape);
    let map =
        index_map(&out, |i| Some((0..rank).map(|d| ((begin[d] + i[d] as i64 * step[d]) as usize) * st[d]).sum()))?;
    Ok((IndexMap { map, pad: 0.0 }, out))
}

/// ONNX Gather along `axis` with constant indices (negative indices count from the end).
pub fn gather(
    shape: &[usize],
    axis: i64,
    indices: &[i64],
    indices_shape: &[usize],
) -> Result<(IndexMap, Vec<usize>), Error> {
    let rank = shape.len();
    let axis = normalize_axis(axis, rank, "Gather")?;
    let dim = shape[axis] as i64;
    let idx: Vec<usize> = indices
        .iter()
        .map(|&i| {
            let j = if i < 0 { i + dim } else { i };
            if j < 0 || j >= dim {
                Err(Error::Shape(format!("Gather index {i} is out of range for axis {axis} of size {dim}")))
            } else {
                Ok(j as usize)
            }
        })
        .collect::<Result<_, _>>()?;
    let mut out = shape[..axis].to_vec();
    out.extend_from_slice(indices_shape);
    out.extend_from_slice(&shape[axis + 1..]);
    let st = strides(shape);
    let ist = strides(indices_shape);
    let q = indices_shape.len();
    let map = index_map(&out, |i| {
        let flat: usize = (0..q).map(|d| i[axis + d] * ist[d]).sum();
        let mut s = idx[flat] * st[axis];
        s += (0..axis).map(|d| i[d] * st[d]).sum::<usize>();
        s += (axis + 1..rank).map(|d| i[d + q - 1] * st[d]).sum::<usize>();
        Some(s)
    })?;
    Ok((IndexMap { map, pad: 0.0 }, out))
}

/// Broadcast to a target shape (ONNX Expand: bidirectional broadcast of the two shapes).
pub fn expand(shape: &[usize], target: &[i64]) -> Result<(IndexMap, Vec<usize>), Error> {
    let target: Vec<usize> = target.iter().map(|&d| d.max(0) as usize).collect();
    let out = broadcast_shapes(shape, &target)
        .ok_or_else(|| Error::Shape(format!("cannot broadcast {shape:?} to {target:?}")))?;
    broadcast_to(shape, &out).map(|m| (m, out))
}

/// The map reading `shape` broadcast to `out`.
pub fn broadcast_to(shape: &[usize], out: &[usize]) -> Result<IndexMap, Error> {
    let offset = out.len().checked_sub(shape.len());
    if offset.is_none_or(|o| shape.iter().zip(&out[o..]).any(|(&s, &d)| s != 1 && s != d)) {
        return Err(Error::Shape(format!("cannot broadcast {shape:?} to {out:?}")));
    }
    let bs = crate::tensor::broadcast_strides(shape, out);
    let map = index_map(out, |i| Some(i.iter().zip(&bs).map(|(a, b)| a * b).sum()))?;
    Ok(IndexMap { map, pad: 0.0 })
}

/// ONNX Tile.
pub fn tile(shape: &[usize], repeats: &[i64]) -> Result<(IndexMap, Vec<usize>), Error> {
    if repeats.len() != shape.len() {
        return Err(Error::Shape(format!("repeats has {} values for rank {}", repeats.len(), shape.len())));
    }
    let out: Vec<usize> = shape.iter().zip(repeats).map(|(&d, &r)| d.saturating_mul(r.max(0) as usize)).collect();
    let st = strides(shape);
    let map = index_map(&out, |i| Some((0..shape.len()).map(|d| (i[d] % shape[d]) * st[d]).sum()))?;
    Ok((IndexMap { map, pad: 0.0 }, out))
}

/// Padding modes of ONNX Pad.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PadMode {
    Constant,
    Reflect,
    Edge,
    Wrap,
}

/// ONNX Pad: `pads` = [begin per axis..., end per axis...] over `axes` (negative pads crop).
pub fn pad(
    shape: &[usize],
    pads: &[i64],
    axes: Option<&[i64]>,
    mode: PadMode,
    value: f32,
) -> Result<(IndexMap, Vec<usize>), Error> {
    let rank = shape.len();
    let axes: Vec<usize> = match axes {
        Some(a) => a.iter().map(|&x| normalize_axis(x, rank, "Pad axes")).collect::<Result<_, _>>()?,
        None => (0..rank).collect(),
    };
    if pads.len() != 2 * axes.len() {
        return Err(Error::Shape(format!(
            "pads has {} values, expected {} for {} axes",
            pads.len(),
            2 * axes.len(),
            axes.len()
        )));
    }
    let mut begin = vec![0i64; rank];
    let mut end = vec![0i64; rank];
    for (i, &a) in axes.iter().enumerate() {
        begin[a] = pads[i];
        end[a] = pads[i + axes.len()];
    }
    let out: Vec<usize> = (0..rank)
        .map(|d| {
            let v = (shape[d] as i64).checked_add(begin[d]).and_then(|v| v.checked_add(end[d])).unwrap_or(-1);
            if v < 0 {
                Err(Error::Shape(format!("pads {pads:?} take axis {d} of size {} below zero or past 2^63", shape[d])))
            } else {
                Ok(v as usize)
            }
        })
        .collect::<Result<_, _>>()?;
    let st = strides(shape);
    let map = index_map(&out, |i| {
        let mut s = 0usize;
        for d in 0..rank {
            let n = shape[d] as i64;
            let mut x = i[d] as i64 - begin[d];
            if x < 0 || x >= n {
                x = match mode {
                    PadMode::Constant => return None,
                    PadMode::Edge => x.clamp(0, n - 1),
                    PadMode::Wrap => x.rem_euclid(n),
                    PadMode::Reflect => {
                        if n == 1 {
                            0
                        } else {
                            let period = 2 * (n - 1);
                            let m = x.rem_euclid(period);
                            if m >= n {
                                period - m
                            } else {
                                m
                            }
                        }
                    }
                };
            }
            s += x as usize * st[d];
        }
        Some(s)
    })?;
    Ok((IndexMap { map, pad: value }, out))
}

/// ONNX Reshape target resolution (0 copies the input dim unless `allowzero`; one -1 is inferred).
pub fn reshape_shape(shape: &[usize], target: &[i64], allowzero: bool) -> Result<Vec<usize>, Error> {
    let total: usize = shape.iter().product();
    let mut out = Vec::with_capacity(target.len());
    let mut infer = None;
    for (i, &t) in target.iter().enumerate() {
        match t {
            -1 if infer.is_none() => {
                infer = Some(i);
                out.push(1);
            }
            0 if !allowzero => out.push(
                *shape.get(i).ok_or_else(|| Error::Shape(format!("Reshape 0 at position {i} has no input dim")))?,
            ),
            t if t >= 0 => out.push(t as usize),
            _ => return Err(Error::Shape(format!("invalid Reshape target {target:?}"))),
        }
    }
    let mismatch = || Error::Shape(format!("cannot reshape {shape:?} ({total} elements) to {target:?}"));
    let known = out.iter().try_fold(1usize, |n, &d| n.checked_mul(d)).ok_or_else(mismatch)?;
    if let Some(i) = infer {
        if known == 0 || total % known != 0 {
            return Err(Error::Shape(format!("cannot reshape {shape:?} ({total} elements) to {target:?}")));
        }
        out[i] = total / known;
    }
    if out.iter().try_fold(1usize, |n, &d| n.checked_mul(d)) != Some(total) {
        return Err(mismatch());
    }
    Ok(out)
}

/// Concat of several shapes along `axis`: output shape and (outer, per-input inner block sizes).
pub fn concat_shape(shapes: &[&[usize]], axis: i64) -> Result<(Vec<usize>, usize, Vec<usize>), Error> {
    let first = shapes.first().ok_or_else(|| Error::Shape("Concat needs at least one input".into()))?;
    let rank = first.len();
    if rank == 0 {
        return Err(Error::Shape("Concat cannot join scalars (rank-0 inputs)".into()));
    }
    let axis = normalize_axis(axis, rank, "Concat")?;
    let mut out = first.to_vec();
    out[axis] = 0;
    for s in shapes {
        if s.len() != rank || (0..rank).any(|d| d != axis && s[d] != first[d]) {
            return Err(Error::Shape(format!("Concat inputs {first:?} and {s:?} differ outside axis {axis}")));
        }
        out[axis] += s[axis];
    }
    let outer: usize = first[..axis].iter().product();
    let blocks = shapes.iter().map(|s| s[axis..].iter().product()).collect();
    Ok((out, outer, blocks))
}

/// Copies concatenation blocks: for each outer index, each input's block in turn.
pub fn concat_run<T: Copy>(inputs: &[&[T]], outer: usize, blocks: &[usize], out: &mut [T]) {
    let mut o = 0;
    for i in 0..outer {
        for (src, &b) in inputs.iter().zip(blocks) {
            out[o..o + b].copy_from_slice(&src[i * b..(i + 1) * b]);
            o += b;
        }
    }
}

/// A split along one axis: `outer` repetitions of an input block cut into per-output parts.
pub struct SplitPlan {
    pub outer: usize,
    pub block: usize,
    pub parts: Vec<usize>,
    pub shapes: Vec<Vec<usize>>,
}

/// Split along `axis` into the given sizes.
pub fn split_shape(shape: &[usize], axis: i64, sizes: &[usize]) -> Result<SplitPlan, Error> {
    let axis = normalize_axis(axis, shape.len(), "Split")?;
    if sizes.iter().sum::<usize>() != shape[axis] {
        return Err(Error::Shape(format!("Split sizes {sizes:?} do not add up to axis {axis} of {shape:?}")));
    }
    let inner: usize = shape[axis + 1..].iter().product();
    let outer: usize = shape[..axis].iter().product();
    let shapes = sizes
        .iter()
        .map(|&s| {
            let mut o = shape.to_vec();
            o[axis] = s;
            o
        })
        .collect();
    Ok(SplitPlan { outer, block: shape[axis] * inner, parts: sizes.iter().map(|s| s * inner).collect(), shapes })
}

pub fn split_run<T: Copy>(src: &[T], outer: usize, block: usize, parts: &[usize], outs: &mut [&mut [T]]) {
    for i in 0..outer {
        let mut off = i * block;
        for (o, &p) in outs.iter_mut().zip(parts) {
            o[i * p..(i + 1) * p].copy_from_slice(&src[off..off + p]);
            off += p;
        }
    }
}

/// Reshape.
pub(crate) fn plan_reshape(node: &Node, inputs: &[Input]) -> Result<Planned, Error> {
    let x = inputs.first().map(|i| i.shape).unwrap_or(&[]);
    need(node, inputs, 1)?;
    let target = int_param(node, inputs, 1, "shape")?.ok_or_else(|| op_err(node, "missing shape"))?;
    let out = reshape_shape(x, &target, node.int("allowzero", 0) != 0)?;
    kernel(Kernel::Copy, vec![0], vec![out])
}

/// Flatten.
pub(crate) fn plan_flatten(node: &Node, inputs: &[Input]) -> Result<Planned, Error> {
    let x = inputs.first().map(|i| i.shape).unwrap_or(&[]);
    need(node, inputs, 1)?;
    let axis = node.int("axis", 1);
    let axis = if axis < 0 { axis + x.len() as i64 } else { axis };
    if axis < 0 || axis > x.len() as i64 {
        return Err(op_err(node, format!("axis {axis} out of range for rank {}", x.len())));
    }
    let a = axis as usize;
    kernel(Kernel::Copy, vec![0], vec![vec![x[..a].iter().product(), x[a..].iter().product()]])
}

/// Squeeze.
pub(crate) fn plan_squeeze(node: &Node, inputs: &[Input]) -> Result<Planned, Error> {
    let x = inputs.first().map(|i| i.shape).unwrap_or(&[]);
    need(node, inputs, 1)?;
    let axes = int_param(node, inputs, 1, "axes")?;
    let out: Vec<usize> = match axes {
        Some(axes) => {
            let axes: Vec<usize> =
                axes.iter().map(|&a| normalize_axis(a, x.len(), "Squeeze")).collect::<Result<_, _>>()?;
            if let Some(&a) = axes.iter().find(|&&a| x[a] != 1) {
                return Err(op_err(node, format!("cannot squeeze axis {a} of size {} in {x:?}", x[a])));
            }
            x.iter().enumerate().filter(|(i, _)| !axes.contains(i)).map(|(_, &d)| d).collect()
        }
        None => x.iter().copied().filter(|&d| d != 1).collect(),
    };
    kernel(Kernel::Copy, vec![0], vec![out])
}

/// Unsqueeze.
pub(crate) fn plan_unsqueeze(node: &Node, inputs: &[Input]) -> Result<Planned, Error> {
    let x = inputs.first().map(|i| i.shape).unwrap_or(&[]);
    need(node, inputs, 1)?;
    let axes = int_param(node, inputs, 1, "axes")?.ok_or_else(|| op_err(node, "missing axes"))?;
    let rank = x.len() + axes.len();
    let axes: Vec<usize> = axes.iter().map(|&a| normalize_axis(a, rank, "Unsqueeze")).collect::<Result<_, _>>()?;
    let mut dims = x.iter();
    let out = (0..rank)
        .map(|i| if axes.contains(&i) { Some(1) } else { dims.next().copied() })
        .collect::<Option<Vec<usize>>>()
        .ok_or_else(|| op_err(node, "axes repeat an axis"))?;
    kernel(Kernel::Copy, vec![0], vec![out])
}

/// Transpose.
pub(crate) fn plan_transpose(node: &Node, inputs: &[Input]) -> Result<Planned, Error> {
    let x = inputs.first().map(|i| i.shape).unwrap_or(&[]);
    need(node, inputs, 1)?;
    let (map, out) = transpose(x, node.ints("perm"))?;
    kernel(Kernel::Map(map), vec![0], vec![out])
}

/// Slice.
pub(crate) fn plan_slice(node: &Node, inputs: &[Input]) -> Result<Planned, Error> {
    let x = inputs.first().map(|i| i.shape).unwrap_or(&[]);
    need(node, inputs, 1)?;
    let starts = int_param(node, inputs, 1, "starts")?.ok_or_else(|| op_err(node, "missing starts"))?;
    let ends = int_param(node, inputs, 2, "ends")?.ok_or_else(|| op_err(node, "missing ends"))?;
    let axes = int_param(node, inputs, 3, "axes")?;
    let steps = int_param(node, inputs, 4, "steps")?;
    let (map, out) = slice(x, &starts, &ends, axes.as_deref(), steps.as_deref())?;
    kernel(Kernel::Map(map), vec![0], vec![out])
}

/// Gather.
pub(crate) fn plan_gather(node: &Node, inputs: &[Input]) -> Result<Planned, Error> {
    let x = inputs.first().map(|i| i.shape).unwrap_or(&[]);
    need(node, inputs, 2)?;
    let idx = inputs[1].value.ok_or_else(|| op_err(node, "indices must be known when planning"))?;
    let (map, out) = gather(x, node.int("axis", 0), &idx.to_i64s(), inputs[1].shape)?;
    kernel(Kernel::Map(map), vec![0], vec![out])
}

/// Expand.
pub(crate) fn plan_expand(node: &Node, inputs: &[Input]) -> Result<Planned, Error> {
    let x = inputs.first().map(|i| i.shape).unwrap_or(&[]);
    need(node, inputs, 2)?;
    let target = int_param(node, inputs, 1, "shape")?.unwrap_or_default();
    let (map, out) = expand(x, &target)?;
    kernel(Kernel::Map(map), vec![0], vec![out])
}

/// Tile.
pub(crate) fn plan_tile(node: &Node, inputs: &[Input]) -> Result<Planned, Error> {
    let x = inputs.first().map(|i| i.shape).unwrap_or(&[]);
    need(node, inputs, 2)?;
    let repeats = int_param(node, inputs, 1, "repeats")?.unwrap_or_default();
    let (map, out) = tile(x, &repeats)?;
    kernel(Kernel::Map(map), vec![0], vec![out])
}

/// Pad.
pub(crate) fn plan_pad(node: &Node, inputs: &[Input]) -> Result<Planned, Error> {
    let x = inputs.first().map(|i| i.shape).unwrap_or(&[]);
    need(node, inputs, 1)?;
    let pads = int_param(node, inputs, 1, "pads")?.ok_or_else(|| op_err(node, "missing pads"))?;
    let runtime_value = node.input(2).is_some() && inputs.get(2).is_some_and(|i| i.value.is_none());
    let value = if runtime_value { 0.0 } else { float_param(node, inputs, 2, "value", 0.0)? };
    let axes = int_param(node, inputs, 3, "axes_")?;
    let mode = match node.string("mode").unwrap_or("constant") {
        "constant" => PadMode::Constant,
        "reflect" => PadMode::Reflect,
        "edge" => PadMode::Edge,
        "wrap" => PadMode::Wrap,
        m => return Err(op_err(node, format!("unknown mode {m:?}"))),
    };
    let (map, out) = pad(x, &pads, axes.as_deref(), mode, value)?;
    if runtime_value {
        kernel(Kernel::MapRuntimePad(map), vec![0, 2], vec![out])
    } else {
        kernel(Kernel::Map(map), vec![0], vec![out])
    }
}

/// Concat.
pub(crate) fn plan_concat(node: &Node, inputs: &[Input]) -> Result<Planned, Error> {
    let present: Vec<usize> = (0..inputs.len()).filter(|&i| node.input(i).is_some()).collect();
    let shapes: Vec<&[usize]> = present.iter().map(|&i| inputs[i].shape).collect();
    let (out, outer, blocks) = concat_shape(&shapes, node.int("axis", 0))?;
    kernel(Kernel::Concat { outer, blocks }, present, vec![out])
}

/// Split.
pub(crate) fn plan_split(node: &Node, inputs: &[Input]) -> Result<Planned, Error> {
    let x = inputs.first().map(|i| i.shape).unwrap_or(&[]);
    need(node, inputs, 1)?;
    if x.is_empty() {
        return Err(op_err(node, "cannot split a scalar".to_string()));
    }
    let axis = node.int("axis", 0);
    let a = normalize_axis(axis, x.len(), "Split")?;
    let n_out = node.outputs.len();
    let sizes: Vec<usize> = match int_param(node, inputs, 1, "split")? {
        Some(s) => s.iter().map(|&v| v.max(0) as usize).collect(),
        None => {
            let parts = node.int("num_outputs", n_out as i64).max(1) as usize;
            let each = x[a].div_ceil(parts);
            (0..parts).map(|i| each.min(x[a].saturating_sub(i * each))).collect()
        }
    };
    let sp = split_shape(x, axis, &sizes)?;
    kernel(Kernel::Split { outer: sp.outer, block: sp.block, parts: sp.parts }, vec![0], sp.shapes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_handles_negative_steps_and_clamping() {
        let (m, out) = slice(&[5], &[-1], &[i64::MIN], None, Some(&[-2])).unwrap();
        assert_eq!(out, vec![3]);
        assert_eq!(m.map, vec![4, 2, 0]);
        let (m, out) = slice(&[2, 4], &[0, 1], &[i64::MAX, 3], None, None).unwrap();
        assert_eq!(out, vec![2, 2]);
        assert_eq!(m.map, vec![1, 2, 5, 6]);
    }

    #[test]
    fn reflect_pad_mirrors_without_edge() {
        let (m, out) = pad(&[3], &[2, 2], None, PadMode::Reflect, 0.0).unwrap();
        assert_eq!(out, vec![7]);
        assert_eq!(m.map, vec![2, 1, 0, 1, 2, 1, 0]);
    }

    #[test]
    fn reshape_infers_and_copies() {
        assert_eq!(reshape_shape(&[2, 3, 4], &[0, -1], false).unwrap(), vec![2, 12]);
        assert!(reshape_shape(&[2, 3], &[4, -1], false).is_err());
    }
}
