//! TensorFlow SavedModels (from Keras `model.export()` and `tf.saved_model.save()` of a model or a `tf.Module`):
//! saved_model.pb and the variables checkpoint. One signature is resolved, every function call it makes is inlined,
//! variables are frozen to their checkpoint values, and the resulting graph goes through the runtime's
//! TensorFlow translator, as TF.js graph models do.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use prost::Message;
use webinfer::interop::tf_graph::{self, TfAttr, TfGraph, TfNode};
use webinfer::ModelGraph;
use webinfer::Tensor;

use crate::ConvertError;

#[allow(clippy::all)]
pub mod pb {
    include!(concat!(env!("OUT_DIR"), "/tensorflow.rs"));
}

const DT_FLOAT: i32 = 1;
const DT_DOUBLE: i32 = 2;
const DT_INT32: i32 = 3;
const DT_INT64: i32 = 9;
const DT_STRING: i32 = 7;
const DT_BOOL: i32 = 10;
const DT_HALF: i32 = 19;

fn parse_err(source: &str, msg: impl std::fmt::Display) -> ConvertError {
    ConvertError::Parse(format!("{source}: {msg}"))
}

fn dims(shape: Option<&pb::TensorShapeProto>) -> Vec<usize> {
    shape.map(|s| s.dim.iter().map(|d| d.size.max(0) as usize).collect()).unwrap_or_default()
}

/// A tensor from raw little-endian bytes of TensorFlow dtype `dtype`.
fn tensor_from_bytes(dtype: i32, shape: Vec<usize>, b: &[u8], what: &str) -> Result<Tensor, String> {
    let n: usize = shape.iter().product();
    let need = |size: usize| {
        if b.len() == n * size {
            Ok(())
        } else {
            Err(format!("{what}: {} bytes for {n} elements of dtype {dtype}", b.len()))
        }
    };
    Ok(match dtype {
        DT_FLOAT => {
            need(4)?;
            Tensor::f32(shape, b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
        }
        DT_DOUBLE => {
            need(8)?;
            Tensor::f32(shape, b.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap()) as f32).collect())
        }
        DT_HALF => {
            need(2)?;
            Tensor::f32(shape, b.chunks_exact(2).map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32()).collect())
        }
        DT_INT32 => {
            need(4)?;
            Tensor::i64(shape, b.chunks_exact(4).map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64).collect())
        }
        DT_INT64 => {
            need(8)?;
            Tensor::i64(shape, b.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap())).collect())
        }
        DT_BOOL => {
            need(1)?;
            Tensor::i64(shape, b.iter().map(|&x| (x != 0) as i64).collect())
        }
        other => return Err(format!("{what}: dtype {other} is not supported")),
    })
}

/// A Const node's TensorProto (content bytes, or typed values with the last one repeated).
fn tensor_from_proto(t: &pb::TensorProto, what: &str) -> Result<Option<Tensor>, String> {
    let shape = dims(t.tensor_shape.as_ref());
    let n: usize = shape.iter().product();
    if !t.tensor_content.is_empty() {
        return tensor_from_bytes(t.dtype, shape, &t.tensor_content, what).map(Some);
    }
    fn fill<T: Copy>(v: &[T], n: usize, zero: T) -> Vec<T> {
        (0..n).map(|i| *v.get(i).or(v.last()).unwrap_or(&zero)).collect()
    }
    Ok(Some(match t.dtype {
        DT_FLOAT => Tensor::f32(shape, fill(&t.float_val, n, 0.0)),
        DT_DOUBLE => Tensor::f32(shape, fill(&t.double_val, n, 0.0).iter().map(|&x| x as f32).collect()),
        DT_HALF => Tensor::f32(
            shape,
            fill(&t.half_val, n, 0).iter().map(|&h| half::f16::from_bits(h as u16).to_f32()).collect(),
        ),
        DT_INT32 => Tensor::i64(shape, fill(&t.int_val, n, 0).iter().map(|&x| x as i64).collect()),
        DT_INT64 => Tensor::i64(shape, fill(&t.int64_val, n, 0)),
        DT_BOOL => Tensor::i64(shape, fill(&t.bool_val, n, false).iter().map(|&x| x as i64).collect()),
        _ => return Ok(None),
    }))
}

fn type_name(t: i32) -> String {
    match t {
        DT_FLOAT => "DT_FLOAT",
        DT_DOUBLE => "DT_DOUBLE",
        DT_INT32 => "DT_INT32",
        DT_INT64 => "DT_INT64",
        DT_BOOL => "DT_BOOL",
        DT_HALF => "DT_HALF",
        _ => "DT_OTHER",
    }
    .to_string()
}

fn attr_of(a: &pb::AttrValue, what: &str) -> Result<TfAttr, String> {
    use pb::attr_value::Value;
    Ok(match &a.value {
        Some(Value::S(s)) => TfAttr::S(s.to_vec()),
        Some(Value::I(i)) => TfAttr::I(*i),
        Some(Value::F(f)) => TfAttr::F(*f),
        Some(Value::B(b)) => TfAttr::B(*b),
        Some(Value::Type(t)) => TfAttr::Type(type_name(*t)),
        Some(Value::Shape(s)) => TfAttr::Shape((!s.unknown_rank).then(|| s.dim.iter().map(|d| d.size).collect())),
        Some(Value::Tensor(t)) => TfAttr::Tensor(tensor_from_proto(t, what)?),
        Some(Value::List(l)) => {
            TfAttr::List { s: l.s.iter().map(|b| b.to_vec()).collect(), i: l.i.clone(), f: l.f.clone() }
        }
        Some(Value::Func(f)) => TfAttr::S(f.name.as_bytes().to_vec()),
        _ => TfAttr::Other,
    })
}

fn node_of(n: &pb::NodeDef) -> Result<TfNode, String> {
    let mut attrs = HashMap::new();
    for (k, v) in &n.attr {
        attrs.insert(k.clone(), attr_of(v, &format!("node {:?} attribute {k:?}", n.name))?);
        if let Some(pb::attr_value::Value::Tensor(t)) = &v.value {
            if t.dtype == DT_STRING {
                attrs.insert(
                    "__strings".into(),
                    TfAttr::List { s: t.string_val.iter().map(|b| b.to_vec()).collect(), i: vec![], f: vec![] },
                );
            }
        }
    }
    Ok(TfNode { name: n.name.clone(), op: n.op.clone(), inputs: n.input.clone(), attrs })
}

/// Output arguments of ops with several single-tensor outputs, for `node:arg:index` references.
fn output_args(op: &str) -> &'static [&'static str] {
    match op {
        "FusedBatchNorm" | "FusedBatchNormV2" | "FusedBatchNormV3" => {
            &["y", "batch_mean", "batch_variance", "reserve_space_1", "reserve_space_2", "reserve_space_3"]
        }
        _ => &[],
    }
}

const CALL_OPS: [&str; 2] = ["StatefulPartitionedCall", "PartitionedCall"];

/// Inlines every function call (recursively) into one flat node list.
fn inline_calls(
    mut nodes: Vec<TfNode>,
    library: &HashMap<String, pb::FunctionDef>,
    source: &str,
) -> Result<Vec<TfNode>, ConvertError> {
    for _depth in 0..32 {
        let mut changed = false;
        let mut out = Vec::with_capacity(nodes.len());
        for call in nodes {
            if !CALL_OPS.contains(&call.op.as_str()) {
                out.push(call);
                continue;
            }
            changed = true;
            let fname = match call.attrs.get("f") {
                Some(TfAttr::S(s)) => String::from_utf8_lossy(s).into_owned(),
                _ => return Err(parse_err(source, format!("call node {:?} names no function", call.name))),
            };
            let f = library.get(&fname).ok_or_else(|| {
                parse_err(source, format!("call node {:?}: function {fname:?} is not in the library", call.name))
            })?;
            let sig = f
                .signature
                .as_ref()
                .ok_or_else(|| parse_err(source, format!("function {fname:?} has no signature")))?;
            let data_inputs: Vec<&String> = call.inputs.iter().filter(|i| !i.starts_with('^')).collect();
            let args: HashMap<&str, &String> =
                sig.input_arg.iter().map(|a| a.name.as_str()).zip(data_inputs.iter().copied()).collect();
            let prefix = &call.name;
            let ops: HashMap<&str, &str> = f.node_def.iter().map(|n| (n.name.as_str(), n.op.as_str())).collect();
            let rewrite = |r: &str| -> Option<String> {
                if r.starts_with('^') {
                    return None;
                }
                let parts: Vec<&str> = r.split(':').collect();
                match parts.as_slice() {
                    [arg] => Some(args.get(arg).map_or_else(|| format!("{prefix}/{arg}"), |s| s.to_string())),
                    [node, arg, idx] => {
                        let idx: usize = idx.parse().unwrap_or(0);
                        let flat = output_args(ops.get(node).copied().unwrap_or(""))
                            .iter()
                            .position(|a| a == arg)
                            .map_or(idx, |p| p + idx);
                        Some(if flat == 0 { format!("{prefix}/{node}") } else { format!("{prefix}/{node}:{flat}") })
                    }
                    [node, idx] => Some(format!("{prefix}/{node}:{idx}")),
                    _ => Some(r.to_string()),
                }
            };
            for n in &f.node_def {
                let mut inner = node_of(n).map_err(|e| parse_err(source, e))?;
                inner.name = format!("{prefix}/{}", inner.name);
                inner.inputs = inner.inputs.iter().filter_map(|r| rewrite(r)).collect();
                out.push(inner);
            }
            let rets: Vec<String> = sig
                .output_arg
                .iter()
                .map(|a| {
                    f.ret.get(&a.name).and_then(|r| rewrite(r)).ok_or_else(|| {
                        parse_err(source, format!("function {fname:?}: output {:?} has no return value", a.name))
                    })
                })
                .collect::<Result<_, _>>()?;
            out.push(TfNode { name: call.name.clone(), op: "IdentityN".into(), inputs: rets, attrs: HashMap::new() });
        }
        nodes = out;
        if !changed {
            return Ok(nodes);
        }
    }
    Err(parse_err(source, "function calls nest more than 32 deep"))
}

/// The signature `read` takes when none is named.
pub const DEFAULT_SIGNATURE: &str = "serving_default";

/// Reads a SavedModel directory and translates one signature: `signature`, or `serving_default`.
pub fn read(dir: &Path, source: &str, signature: Option<&str>) -> Result<ModelGraph, ConvertError> {
    let pb_path = dir.join("saved_model.pb");
    let bytes = std::fs::read(&pb_path).map_err(|e| ConvertError::Io(format!("{}: {e}", pb_path.display())))?;
    let saved =
        pb::SavedModel::decode(bytes.as_slice()).map_err(|e| parse_err(source, format!("saved_model.pb: {e}")))?;
    let meta = saved
        .meta_graphs
        .iter()
        .find(|m| m.meta_info_def.as_ref().is_some_and(|i| i.tags.iter().any(|t| t == "serve")))
        .or(saved.meta_graphs.first())
        .ok_or_else(|| parse_err(source, "saved_model.pb holds no MetaGraph"))?;
    let wanted = signature.unwrap_or(DEFAULT_SIGNATURE);
    let signature = match meta.signature_def.get(wanted) {
        Some(s) => s,
        None => {
            let mut names: Vec<&str> =
                meta.signature_def.keys().map(String::as_str).filter(|k| !k.starts_with("__")).collect();
            names.sort_unstable();
            return Err(parse_err(
                source,
                format!(
                    "no signature {wanted:?}; the SavedModel has: {} (choose one with --signature NAME)",
                    names.join(", ")
                ),
            ));
        }
    };
    let graph_def = meta.graph_def.as_ref().ok_or_else(|| parse_err(source, "the MetaGraph has no graph"))?;
    let library: HashMap<String, pb::FunctionDef> = graph_def
        .library
        .iter()
        .flat_map(|l| &l.function)
        .filter_map(|f| f.signature.as_ref().map(|s| (s.name.clone(), f.clone())))
        .collect();
    let top: Vec<TfNode> =
        graph_def.node.iter().map(node_of).collect::<Result<_, _>>().map_err(|e| parse_err(source, e))?;
    let nodes = inline_calls(top, &library, source)?;
    let checkpoint = read_checkpoint(&dir.join("variables"), source)?;
    let keys = variable_keys(&nodes, &graph_def.node, meta.object_graph_def.as_ref(), checkpoint.object_graph.as_ref());
    let variables = checkpoint.tensors;
    let mut consts = HashMap::new();
    let mut frozen = Vec::with_capacity(nodes.len());
    for mut n in nodes {
        match n.op.as_str() {
            "VarHandleOp" if keys.contains_key(&n.name) => {
                let key = &keys[&n.name];
                let value = variables.get(key).ok_or_else(|| {
                    parse_err(source, format!("variable {:?}: checkpoint key {key:?} is missing", n.name))
                })?;
                consts.insert(n.name.clone(), value.clone());
                n.op = "Const".into();
                n.inputs.clear();
            }
            "ReadVariableOp" => {
                n.op = "Identity".into();
            }
            _ => {}
        }
        frozen.push(n);
    }
    let tensor = |info: &pb::TensorInfo| info.name.trim_end_matches(":0").to_string();
    let sorted =
        |m: &HashMap<String, pb::TensorInfo>| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<BTreeMap<_, _>>();
    let graph = TfGraph {
        nodes: frozen,
        consts,
        inputs: sorted(&signature.inputs)
            .iter()
            .map(|(k, v)| (tf_graph::producer_of(&tensor(v)).to_string(), k.clone()))
            .collect(),
        outputs: sorted(&signature.outputs).iter().map(|(k, v)| (tensor(v), k.clone())).collect(),
        source: source.to_string(),
    };
    let version = meta.meta_info_def.as_ref().map_or("", |m| m.tensorflow_version.as_str());
    Ok(tf_graph::translate(&graph, format!("TensorFlow {version} SavedModel from {source}"))?)
}

/// VarHandleOp name → checkpoint key. Every top-level function call the object graph knows passes its captured
/// variables as its last inputs, in the order of the concrete function's `bound_inputs` (object graph node ids);
/// the checkpoint's object graph, walked from the same root by child name, gives each such node's key. The restore
/// function's RestoreV2 → AssignVariableOp edges cover handles that no call captures (TF 1 style graphs).
fn variable_keys(
    nodes: &[TfNode],
    top: &[pb::NodeDef],
    objects: Option<&pb::SavedObjectGraph>,
    checkpoint: Option<&pb::TrackableObjectGraph>,
) -> HashMap<String, String> {
    let by_name: HashMap<&str, &TfNode> = nodes.iter().map(|n| (n.name.as_str(), n)).collect();
    let resolve = |r: &str| follow_identities(&by_name, r);
    let mut keys = HashMap::new();
    if let (Some(objects), Some(checkpoint)) = (objects, checkpoint) {
        let key_of = checkpoint_keys_by_object(objects, checkpoint);
        for call in top.iter().filter(|n| CALL_OPS.contains(&n.op.as_str())) {
            let function = match call.attr.get("f").and_then(|a| a.value.as_ref()) {
                Some(pb::attr_value::Value::Func(f)) => f.name.as_str(),
                _ => continue,
            };
            let Some(bound) = objects.concrete_functions.get(function).map(|f| &f.bound_inputs) else { continue };
            let data: Vec<&String> = call.input.iter().filter(|i| !i.starts_with('^')).collect();
            let Some(first_capture) = data.len().checked_sub(bound.len()) else { continue };
            for (input, &object) in data[first_capture..].iter().zip(bound) {
                let (Some((var, _)), Some(key)) = (resolve(input), key_of.get(&object)) else { continue };
                if by_name.get(var.as_str()).is_some_and(|n| n.op == "VarHandleOp") {
                    keys.insert(var, key.clone());
                }
            }
        }
    }
    for n in nodes.iter().filter(|n| n.op == "AssignVariableOp") {
        let data: Vec<&String> = n.inputs.iter().filter(|i| !i.starts_with('^')).collect();
        let (Some(handle), Some(value)) = (data.first(), data.get(1)) else { continue };
        let (Some((var, _)), Some((restore, index))) = (resolve(handle), resolve(value)) else { continue };
        let Some(restore_node) = by_name.get(restore.as_str()).filter(|r| r.op == "RestoreV2") else { continue };
        let Some(names_ref) = restore_node.inputs.get(1) else { continue };
        let Some((names_node, _)) = resolve(names_ref) else { continue };
        if let Some(key) =
            by_name.get(names_node.as_str()).and_then(|c| string_list_of(c)).and_then(|list| list.get(index).cloned())
        {
            keys.entry(var).or_insert(key);
        }
    }
    keys
}

/// SavedModel object id → checkpoint key of the variable it holds. The two object graphs are walked together from
/// their roots, matching children by name, so the mapping holds however the ids were numbered.
fn checkpoint_keys_by_object(
    objects: &pb::SavedObjectGraph,
    checkpoint: &pb::TrackableObjectGraph,
) -> HashMap<i32, String> {
    let mut keys = HashMap::new();
    let mut seen = std::collections::HashSet::new();
    let mut queue = std::collections::VecDeque::from([(0i32, 0i32)]);
    while let Some((saved_id, ckpt_id)) = queue.pop_front() {
        if !seen.insert(saved_id) {
            continue;
        }
        let (Some(saved), Some(ckpt)) = (objects.nodes.get(saved_id as usize), checkpoint.nodes.get(ckpt_id as usize))
        else {
            continue;
        };
        if matches!(saved.kind, Some(pb::saved_object::Kind::Variable(_))) {
            if let Some(value) = ckpt.attributes.iter().find(|a| a.name == "VARIABLE_VALUE") {
                keys.insert(saved_id, value.checkpoint_key.clone());
            }
        }
        let ckpt_children: HashMap<&str, i32> =
            ckpt.children.iter().map(|c| (c.local_name.as_str(), c.node_id)).collect();
        for child in &saved.children {
            if let Some(&ckpt_child) = ckpt_children.get(child.local_name.as_str()) {
                queue.push_back((child.node_id, ckpt_child));
            }
        }
    }
    keys
}

/// The producing node and output index of reference `r`, looking through Identity and IdentityN.
fn follow_identities<'a>(by_name: &HashMap<&'a str, &'a TfNode>, mut r: &'a str) -> Option<(String, usize)> {
    loop {
        let producer = tf_graph::producer_of(r);
        let node = by_name.get(producer)?;
        let k = r.rsplit_once(':').and_then(|(_, k)| k.parse::<usize>().ok()).unwrap_or(0);
        match node.op.as_str() {
            "Identity" => r = node.inputs.iter().find(|i| !i.starts_with('^'))?,
            "IdentityN" => r = node.inputs.iter().filter(|i| !i.starts_with('^')).nth(k)?,
            _ => return Some((producer.to_string(), k)),
        }
    }
}

/// The strings of a DT_STRING Const node (kept raw on the node by `node_of`).
fn string_list_of(node: &TfNode) -> Option<Vec<String>> {
    match node.attrs.get("__strings") {
        Some(TfAttr::List { s, .. }) => Some(s.iter().map(|b| String::from_utf8_lossy(b).into_owned()).collect()),
        _ => None,
    }
}

/// A TensorFlow checkpoint: its numeric tensors by key and its object graph.
struct Checkpoint {
    tensors: HashMap<String, Tensor>,
    object_graph: Option<pb::TrackableObjectGraph>,
}

/// The checkpoint key holding the serialized `TrackableObjectGraph`.
const OBJECT_GRAPH_KEY: &str = "_CHECKPOINTABLE_OBJECT_GRAPH";

/// Reads a checkpoint (tensor bundle: a LevelDB-format index table plus data shards).
fn read_checkpoint(prefix_dir: &Path, source: &str) -> Result<Checkpoint, ConvertError> {
    let index_path = prefix_dir.join("variables.index");
    let index = std::fs::read(&index_path).map_err(|e| ConvertError::Io(format!("{}: {e}", index_path.display())))?;
    let entries = read_table(&index).map_err(|e| parse_err(source, format!("variables.index: {e}")))?;
    let header = entries
        .iter()
        .find(|(k, _)| k.is_empty())
        .map(|(_, v)| pb::BundleHeaderProto::decode(v.as_slice()))
        .transpose()
        .map_err(|e| parse_err(source, format!("variables.index header: {e}")))?;
    let shards = header.map_or(1, |h| h.num_shards.max(1));
    let mut data: HashMap<i32, Vec<u8>> = HashMap::new();
    let mut tensors = HashMap::new();
    let mut object_graph = None;
    for (key, value) in entries.into_iter().filter(|(k, _)| !k.is_empty()) {
        let key = String::from_utf8_lossy(&key).into_owned();
        let entry = pb::BundleEntryProto::decode(value.as_slice())
            .map_err(|e| parse_err(source, format!("checkpoint entry {key:?}: {e}")))?;
        let is_object_graph = key == OBJECT_GRAPH_KEY && entry.dtype == DT_STRING;
        if !is_object_graph && !matches!(entry.dtype, DT_FLOAT | DT_DOUBLE | DT_HALF | DT_INT32 | DT_INT64 | DT_BOOL) {
            continue;
        }
        let bytes = match data.entry(entry.shard_id) {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                let p = prefix_dir.join(format!("variables.data-{:05}-of-{shards:05}", entry.shard_id));
                v.insert(std::fs::read(&p).map_err(|e| ConvertError::Io(format!("{}: {e}", p.display())))?)
            }
        };
        let (start, end) = (entry.offset as usize, entry.offset.saturating_add(entry.size) as usize);
        let slice = bytes.get(start..end).ok_or_else(|| {
            parse_err(source, format!("checkpoint entry {key:?}: bytes {start}..{end} are past the end of its shard"))
        })?;
        if is_object_graph {
            let serialized = scalar_string(slice)
                .ok_or_else(|| parse_err(source, format!("checkpoint entry {key:?} is not a string scalar")))?;
            let graph = pb::TrackableObjectGraph::decode(serialized)
                .map_err(|e| parse_err(source, format!("checkpoint entry {key:?}: {e}")))?;
            object_graph = Some(graph);
            continue;
        }
        let t = tensor_from_bytes(entry.dtype, dims(entry.shape.as_ref()), slice, &key)
            .map_err(|e| parse_err(source, e))?;
        tensors.insert(key, t);
    }
    Ok(Checkpoint { tensors, object_graph })
}

/// The bytes of a string scalar in a tensor bundle: its varint length, a 4-byte checksum of the lengths, the bytes.
fn scalar_string(b: &[u8]) -> Option<&[u8]> {
    let mut pos = 0;
    let len = usize::try_from(varint(b, &mut pos).ok()?).ok()?;
    b.get(pos + 4..(pos + 4).checked_add(len)?)
}

fn varint(b: &[u8], pos: &mut usize) -> Result<u64, String> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*pos).ok_or("truncated varint")?;
        *pos += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err("varint too long".into())
}

/// One key/value entry of a table.
type TableEntry = (Vec<u8>, Vec<u8>);

/// The key/value entries of one uncompressed table block.
fn read_block(table: &[u8], offset: u64, size: u64) -> Result<Vec<TableEntry>, String> {
    let (start, end) = (offset as usize, (offset + size) as usize);
    let block = table.get(start..end).ok_or("block past the end of the table")?;
    match table.get(end) {
        Some(0) => {}
        Some(c) => return Err(format!("compressed blocks (type {c}) are not supported")),
        None => return Err("block trailer missing".into()),
    }
    if block.len() < 4 {
        return Err("block too short".into());
    }
    let restarts = u32::from_le_bytes(block[block.len() - 4..].try_into().unwrap()) as usize;
    let data_end = block.len().checked_sub(4 + 4 * restarts).ok_or("bad restart count")?;
    let mut entries = Vec::new();
    let mut key: Vec<u8> = Vec::new();
    let mut pos = 0;
    while pos < data_end {
        let shared = varint(block, &mut pos)? as usize;
        let unshared = varint(block, &mut pos)? as usize;
        let vlen = varint(block, &mut pos)? as usize;
        if shared > key.len() || pos + unshared + vlen > data_end {
            return Err("corrupt block entry".into());
        }
        key.truncate(shared);
        key.extend_from_slice(&block[pos..pos + unshared]);
        pos += unshared;
        entries.push((key.clone(), block[pos..pos + vlen].to_vec()));
        pos += vlen;
    }
    Ok(entries)
}

/// Every entry of a LevelDB-format table (footer → index block → data blocks).
fn read_table(table: &[u8]) -> Result<Vec<TableEntry>, String> {
    const MAGIC: u64 = 0xdb47_7524_8b80_fb57;
    if table.len() < 48 || u64::from_le_bytes(table[table.len() - 8..].try_into().unwrap()) != MAGIC {
        return Err("not a table (bad footer magic)".into());
    }
    let footer = &table[table.len() - 48..];
    let mut pos = 0;
    let (_meta_off, _meta_size) = (varint(footer, &mut pos)?, varint(footer, &mut pos)?);
    let (index_off, index_size) = (varint(footer, &mut pos)?, varint(footer, &mut pos)?);
    let mut out = Vec::new();
    for (_, handle) in read_block(table, index_off, index_size)? {
        let mut p = 0;
        let (off, size) = (varint(&handle, &mut p)?, varint(&handle, &mut p)?);
        out.extend(read_block(table, off, size)?);
    }
    Ok(out)
}
