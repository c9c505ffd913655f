//! The passes every front-end shares, as functions over the IR graph ([`ModelGraph`]): constant folding,
//! BatchNormalization folding, bias and activation fusion, dead-code elimination.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use webinfer::json::{Attr, DType, Dim};
use webinfer::model::Analysis;
use webinfer::tensor::Tensor;
use webinfer::{Limits, ModelGraph};

use crate::ConvertError;

/// How many nodes (and graph outputs) read each value.
fn consumer_counts(g: &ModelGraph) -> HashMap<String, usize> {
    let mut count: HashMap<String, usize> = HashMap::new();
    let reads = g.nodes.iter().flat_map(|n| n.inputs.iter().filter(|i| !i.is_empty()));
    for name in reads.chain(g.outputs.iter().map(|o| &o.name)) {
        *count.entry(name.clone()).or_default() += 1;
    }
    count
}

/// The index of the node producing each value.
fn producers(g: &ModelGraph) -> HashMap<String, usize> {
    g.nodes.iter().enumerate().flat_map(|(i, n)| n.outputs.iter().map(move |o| (o.clone(), i))).collect()
}

fn remove_nodes(g: &mut ModelGraph, removed: &HashSet<usize>) {
    let mut index = 0;
    g.nodes.retain(|_| {
        index += 1;
        !removed.contains(&(index - 1))
    });
}

fn is_output(g: &ModelGraph, name: &str) -> bool {
    g.outputs.iter().any(|o| o.name == name)
}

/// Runs every pass in order; `limits` bound the plans the constant folder makes.
pub fn optimize(g: &mut ModelGraph, limits: &Limits) -> Result<Vec<String>, ConvertError> {
    let mut notes = Vec::new();
    prune(g);
    let probes = match (analyze(g, 2, limits)?, analyze(g, 3, limits)?) {
        (Some(a), Some(b)) => Some((a, b)),
        _ => {
            notes.push("constant folding skipped: the model has non-float inputs".to_string());
            None
        }
    };
    if let Some(note) = probes.as_ref().and_then(|(a, b)| fold_constants(g, a, b)) {
        notes.push(note);
    }
    fold_batchnorm(g);
    fold_channel_affine(g);
    fold_pad_into_conv(g);
    fuse_matmul_bias(g);
    fuse_activations(g);
    prune(g);
    if let Some((a, b)) = &probes {
        infer_output_shapes(g, a, b);
    }
    Ok(notes)
}

/// Inputs with every symbolic dimension set to `size`; None where an input is not a float.
fn probe_inputs(g: &ModelGraph, size: usize, limits: &Limits) -> Result<Option<Vec<Tensor>>, ConvertError> {
    let mut inputs = Vec::with_capacity(g.inputs.len());
    for i in &g.inputs {
        if !matches!(i.dtype, DType::Float32 | DType::Float16) {
            return Ok(None);
        }
        let shape: Vec<usize> =
            i.shape.iter().map(|d| if let Dim::Fixed(n) = d { *n as usize } else { size }).collect();
        let n = limits.check_tensor(&shape, &|| format!("graph input {:?}", i.name))?;
        inputs.push(Tensor::f32(shape, vec![0.0; n]));
    }
    Ok(Some(inputs))
}

fn analyze(g: &ModelGraph, size: usize, limits: &Limits) -> Result<Option<Analysis>, ConvertError> {
    let Some(inputs) = probe_inputs(g, size, limits)? else { return Ok(None) };
    let mut model = webinfer::Model::from_graph(g.clone())?;
    model.set_limits(*limits);
    Ok(Some(model.analyze(&inputs)?))
}

/// Replaces every node whose outputs are the same whatever the symbolic dimensions are (`a` and `b`:
/// the graph planned at two different sizes) by weights. Shape arithmetic that depends on the batch
/// stays for the runtime planner.
fn fold_constants(g: &mut ModelGraph, a: &Analysis, b: &Analysis) -> Option<String> {
    let mut folded = 0;
    let mut keep = Vec::with_capacity(g.nodes.len());
    for node in std::mem::take(&mut g.nodes) {
        let outs: Vec<&String> = node.outputs.iter().filter(|o| !o.is_empty()).collect();
        let constant = !outs.is_empty()
            && outs.iter().all(|o| matches!((a.known.get(o.as_str()), b.known.get(o.as_str())), (Some(x), Some(y)) if Arc::ptr_eq(x, y) || x == y));
        if constant {
            for o in outs {
                g.weights.insert(o.clone(), Arc::clone(&a.known[o.as_str()]));
            }
            folded += 1;
        } else {
            keep.push(node);
        }
    }
    g.nodes = keep;
    (folded > 0).then(|| format!("folded {folded} constant node(s)"))
}

fn const_f32(g: &ModelGraph, name: &str) -> Option<Vec<f32>> {
    g.weights.get(name).filter(|t| t.is_float()).map(|t| t.to_f32s())
}

/// Gives node `ni` new weight and bias inputs (named `{node}/{tag}_weight`, `{node}/{tag}_bias`) and
/// makes it write `output`, the output of the node folded into it.
fn set_folded_params(g: &mut ModelGraph, ni: usize, tag: &str, weight: Tensor, bias: Vec<f32>, output: String) {
    let name = &g.nodes[ni].name;
    let (w_name, b_name) = (format!("{name}/{tag}_weight"), format!("{name}/{tag}_bias"));
    g.weights.insert(w_name.clone(), Arc::new(weight));
    g.weights.insert(b_name.clone(), Arc::new(Tensor::f32(vec![bias.len()], bias)));
    let node = &mut g.nodes[ni];
    node.inputs.truncate(1);
    node.inputs.push(w_name);
    node.inputs.push(b_name);
    node.outputs[0] = output;
}

/// Folds BatchNormalization into a directly preceding Conv or Gemm whose output nothing else reads.
fn fold_batchnorm(g: &mut ModelGraph) {
    let (consumers, producer) = (consumer_counts(g), producers(g));
    let mut removed = HashSet::new();
    for bi in 0..g.nodes.len() {
        let bn = &g.nodes[bi];
        if bn.op != "BatchNormalization" || bn.inputs.len() < 5 {
            continue;
        }
        let Some(&pi) = producer.get(&bn.inputs[0]) else { continue };
        let prev = &g.nodes[pi];
        if consumers.get(&bn.inputs[0]) != Some(&1) || is_output(g, &bn.inputs[0]) || prev.attr("activation").is_some()
        {
            continue;
        }
        let params: Option<Vec<Vec<f32>>> = bn.inputs[1..5].iter().map(|n| const_f32(g, n)).collect();
        let Some(p) = params else { continue };
        let (scale, shift) =
            webinfer::ops::norm::batchnorm_coefficients(&p[0], &p[1], &p[2], &p[3], bn.float("epsilon", 1e-5));
        let c = scale.len();
        let bn_out = bn.outputs[0].clone();
        let bn_name = bn.name.clone();
        let prev = g.nodes[pi].clone();
        let Some(w) = prev.input(1).and_then(|n| g.weights.get(n)).filter(|t| t.is_float()).map(Arc::clone) else {
            continue;
        };
        let bias = match prev.input(2) {
            Some(b) => match const_f32(g, b) {
                Some(b) if b.len() == c => b,
                _ => continue,
            },
            None => vec![0.0; c],
        };
        let mut wv = w.to_f32s();
        match prev.op.as_str() {
            "Conv" if w.shape.first() == Some(&c) => {
                let per = wv.len() / c;
                wv.chunks_exact_mut(per).zip(&scale).for_each(|(row, &s)| row.iter_mut().for_each(|x| *x *= s));
            }
            "Gemm" if prev.float("beta", 1.0) == 1.0 && w.shape.len() == 2 => {
                let trans_b = prev.int("transB", 0) != 0;
                let (rows, cols) = (w.shape[0], w.shape[1]);
                if (trans_b && rows != c) || (!trans_b && cols != c) {
                    continue;
                }
                for r in 0..rows {
                    for col in 0..cols {
                        wv[r * cols + col] *= scale[if trans_b { r } else { col }];
                    }
                }
            }
            _ => continue,
        }
        let new_bias: Vec<f32> = bias.iter().zip(&scale).zip(&shift).map(|((&b, &s), &t)| b * s + t).collect();
        set_folded_params(g, pi, "bn_folded", Tensor::f32(w.shape.clone(), wv), new_bias, bn_out);
        g.nodes[pi].attrs.insert("folded".into(), Attr::String(bn_name));
        removed.insert(bi);
    }
    remove_nodes(g, &removed);
}

/// Folds a constant Mul or Add, per output channel or scalar, that directly follows a Conv (nothing
/// else reading the Conv's output) into the Conv's weights and bias: BatchNormalization as tf2onnx
/// exports it after depthwise convolutions. Runs until nothing more folds, so Mul then Add both go.
fn fold_channel_affine(g: &mut ModelGraph) {
    loop {
        let (consumers, producer) = (consumer_counts(g), producers(g));
        let folded = (0..g.nodes.len()).find_map(|ni| {
            let node = &g.nodes[ni];
            if !matches!(node.op.as_str(), "Mul" | "Add") || node.inputs.len() != 2 {
                return None;
            }
            (0..2).find_map(|side| {
                let (x, k) = (&node.inputs[side], &node.inputs[1 - side]);
                let ci = *producer.get(x)?;
                let conv = &g.nodes[ci];
                if conv.op != "Conv"
                    || conv.attr("activation").is_some()
                    || consumers.get(x) != Some(&1)
                    || is_output(g, x)
                {
                    return None;
                }
                let w = conv.input(1).and_then(|n| g.weights.get(n)).filter(|t| t.is_float())?;
                let constant = g.weights.get(k).filter(|t| t.is_float())?;
                let (c, rank, ks) = (w.shape[0], w.shape.len(), &constant.shape);
                let channel_axis = |i: usize| i + rank - ks.len() == 1;
                let per_channel =
                    ks.len() <= rank && ks.iter().enumerate().all(|(i, &d)| d == 1 || (d == c && channel_axis(i)));
                if !per_channel {
                    return None;
                }
                let bias = match conv.input(2) {
                    Some(b) => const_f32(g, b).filter(|b| b.len() == c)?,
                    None => vec![0.0; c],
                };
                Some((ni, ci, w.clone(), constant.to_f32s(), bias))
            })
        });
        let Some((ni, ci, w, values, mut bias)) = folded else { break };
        let value = |ch: usize| if values.len() == 1 { values[0] } else { values[ch] };
        let op_name = g.nodes[ni].name.clone();
        let mut wv = w.to_f32s();
        if g.nodes[ni].op == "Mul" {
            let per = wv.len() / bias.len();
            wv.chunks_exact_mut(per).enumerate().for_each(|(ch, row)| row.iter_mut().for_each(|x| *x *= value(ch)));
            bias.iter_mut().enumerate().for_each(|(ch, b)| *b *= value(ch));
        } else {
            bias.iter_mut().enumerate().for_each(|(ch, b)| *b += value(ch));
        }
        let out = g.nodes[ni].outputs[0].clone();
        set_folded_params(g, ci, &format!("{op_name}/folded"), Tensor::f32(w.shape.clone(), wv), bias, out);
        remove_nodes(g, &HashSet::from([ni]));
    }
}

/// A zero, constant-mode Pad on the spatial axes only, read by a Conv alone, becomes the Conv's pads.
fn fold_pad_into_conv(g: &mut ModelGraph) {
    let (consumers, producer) = (consumer_counts(g), producers(g));
    let mut removed = HashSet::new();
    for ci in 0..g.nodes.len() {
        let conv = &g.nodes[ci];
        if conv.op != "Conv" || !matches!(conv.string("auto_pad"), None | Some("NOTSET")) {
            continue;
        }
        let Some(&pi) = producer.get(&conv.inputs[0]) else { continue };
        let pad = &g.nodes[pi];
        if pad.op != "Pad" || consumers.get(&conv.inputs[0]) != Some(&1) || is_output(g, &conv.inputs[0]) {
            continue;
        }
        if !matches!(pad.string("mode"), None | Some("constant")) || pad.input(3).is_some() {
            continue;
        }
        if let Some(v) = pad.input(2) {
            if const_f32(g, v).is_none_or(|v| v.iter().any(|&x| x != 0.0)) {
                continue;
            }
        }
        let Some(pads) = pad.input(1).and_then(|n| g.weights.get(n)).map(|t| t.to_i64s()) else { continue };
        let rank = pads.len() / 2;
        let spatial = rank.saturating_sub(2);
        if rank < 3
            || pads.iter().any(|&p| p < 0)
            || pads[0] != 0
            || pads[1] != 0
            || pads[rank] != 0
            || pads[rank + 1] != 0
        {
            continue;
        }
        let old: Vec<i64> = conv.ints("pads").map_or_else(|| vec![0; 2 * spatial], <[i64]>::to_vec);
        if old.len() != 2 * spatial {
            continue;
        }
        let new: Vec<i64> = (0..2 * spatial).map(|i| old[i] + pads[(i / spatial) * rank + 2 + i % spatial]).collect();
        let input = pad.inputs[0].clone();
        let conv = &mut g.nodes[ci];
        conv.inputs[0] = input;
        conv.attrs.insert("pads".into(), Attr::Ints(new));
        removed.insert(pi);
    }
    remove_nodes(g, &removed);
}

/// MatMul(x, W[K,N]) followed by Add(bias[N]) becomes MatMul(x, W, bias) with the bias in the epilogue.
fn fuse_matmul_bias(g: &mut ModelGraph) {
    let (consumers, producer) = (consumer_counts(g), producers(g));
    let mut removed = HashSet::new();
    for ai in 0..g.nodes.len() {
        let add = &g.nodes[ai];
        if add.op != "Add" || add.inputs.len() != 2 {
            continue;
        }
        let (mm_out, bias_name) = if producer.contains_key(&add.inputs[0]) {
            (&add.inputs[0], &add.inputs[1])
        } else {
            (&add.inputs[1], &add.inputs[0])
        };
        let Some(&mi) = producer.get(mm_out) else { continue };
        let mm = &g.nodes[mi];
        if mm.op != "MatMul" || mm.inputs.len() != 2 || consumers.get(mm_out) != Some(&1) || is_output(g, mm_out) {
            continue;
        }
        let Some(w) = g.weights.get(&mm.inputs[1]).filter(|t| t.is_float() && t.shape.len() == 2) else {
            continue;
        };
        let n = w.shape[1];
        let Some(bias) =
            g.weights.get(bias_name).filter(|t| t.is_float() && t.len() == n && t.shape.last() == Some(&n))
        else {
            continue;
        };
        let bias_shape_ok = bias.shape.iter().rev().skip(1).all(|&d| d == 1);
        if !bias_shape_ok {
            continue;
        }
        let (bias_name, add_out) = (bias_name.clone(), add.outputs[0].clone());
        let node = &mut g.nodes[mi];
        node.inputs.push(bias_name);
        node.outputs[0] = add_out;
        removed.insert(ai);
    }
    remove_nodes(g, &removed);
}

/// Records a following activation in Conv/Gemm/MatMul's `activation` attribute.
fn fuse_activations(g: &mut ModelGraph) {
    let (consumers, producer) = (consumer_counts(g), producers(g));
    let mut removed = HashSet::new();
    for ai in 0..g.nodes.len() {
        let act = &g.nodes[ai];
        let Some(input) = act.input(0) else { continue };
        let Some(&pi) = producer.get(input) else { continue };
        let prev = &g.nodes[pi];
        if !matches!(prev.op.as_str(), "Conv" | "Gemm" | "MatMul")
            || prev.attr("activation").is_some()
            || consumers.get(input) != Some(&1)
            || is_output(g, input)
        {
            continue;
        }
        let mut attrs: BTreeMap<String, Attr> = BTreeMap::new();
        match act.op.as_str() {
            "Relu" | "Sigmoid" | "Tanh" | "HardSwish" => {}
            "LeakyRelu" => {
                attrs.insert("activation_alpha".into(), Attr::Float(act.float("alpha", 0.01)));
            }
            "Clip" => {
                let bound = |i: usize, attr: &str, default: f32| -> Option<f32> {
                    match act.input(i) {
                        Some(n) => const_f32(g, n).and_then(|v| v.first().copied()),
                        None => Some(act.float(attr, default)),
                    }
                };
                let (Some(lo), Some(hi)) = (bound(1, "min", f32::NEG_INFINITY), bound(2, "max", f32::INFINITY)) else {
                    continue;
                };
                attrs.insert("activation_min".into(), Attr::Float(lo));
                attrs.insert("activation_max".into(), Attr::Float(hi));
            }
            _ => continue,
        }
        attrs.insert("activation".into(), Attr::String(act.op.clone()));
        let out = act.outputs[0].clone();
        let node = &mut g.nodes[pi];
        node.attrs.extend(attrs);
        node.outputs[0] = out;
        removed.insert(ai);
    }
    remove_nodes(g, &removed);
}

/// Drops nodes and weights that no graph output depends on.
pub fn prune(g: &mut ModelGraph) {
    let mut live: HashSet<String> = g.outputs.iter().map(|o| o.name.clone()).collect();
    let mut keep = vec![false; g.nodes.len()];
    for (i, node) in g.nodes.iter().enumerate().rev() {
        if node.outputs.iter().any(|o| live.contains(o)) {
            keep[i] = true;
            live.extend(node.inputs.iter().filter(|n| !n.is_empty()).cloned());
        }
    }
    let mut i = 0;
    g.nodes.retain(|_| {
        i += 1;
        keep[i - 1]
    });
    g.weights.retain(|name, _| live.contains(name));
}

/// Fills in output shapes from the two planned sizes: dims that vary with the symbolic input dims
/// become symbols, the rest fixed. Folding and fusion keep graph outputs and their shapes, so the
/// analyses taken before them still hold.
fn infer_output_shapes(g: &mut ModelGraph, a: &Analysis, b: &Analysis) {
    let symbol =
        g.inputs.iter().flat_map(|i| &i.shape).find_map(
            |d| {
                if let Dim::Symbol(s) = d {
                    Some(s.clone())
                } else {
                    None
                }
            },
        );
    for out in &mut g.outputs {
        let (Some(sa), Some(sb)) = (a.shapes.get(&out.name), b.shapes.get(&out.name)) else { continue };
        if sa.len() != sb.len() {
            continue;
        }
        let inferred: Vec<Dim> = sa
            .iter()
            .zip(sb)
            .enumerate()
            .map(|(d, (&x, &y))| {
                if x == y {
                    Dim::Fixed(x as u64)
                } else {
                    match out.shape.get(d) {
                        Some(Dim::Symbol(s)) => Dim::Symbol(s.clone()),
                        _ => Dim::Symbol(symbol.clone().unwrap_or_else(|| "batch".into())),
                    }
                }
            })
            .collect();
        out.shape = inferred;
    }
}
