//! The backend-neutral plan: a model planned for one input signature (every shape resolved, values known at
//! plan time folded, buffer slots assigned by liveness). The CPU executor ([`crate::cpu`]) and the WebGPU
//! executor (`crate::gpu`) both run a [`Plan`]'s steps over its slots.

use std::collections::HashMap;
use std::sync::Arc;

use crate::model::{Analysis, Model};
use crate::ops::{plan_node, Input, Kernel, Planned};
use crate::tensor::{Data, Tensor};
use crate::Error;

/// How many distinct input signatures keep a cached plan (on each backend).
pub const PLAN_CACHE: usize = 4;

/// Where a graph output comes from in a plan.
#[derive(Clone, Debug)]
pub enum Source {
    Slot(usize, Vec<usize>),
    Known(Arc<Tensor>),
}

/// One kernel run: the node it comes from (an index into the model's nodes), and the (slot, length) it reads
/// and writes.
pub struct Step {
    pub node: usize,
    pub kernel: Kernel,
    pub reads: Vec<(usize, usize)>,
    pub writes: Vec<(usize, usize)>,
    /// The shape of the step's first output.
    pub shape: Vec<usize>,
}

/// A model planned for one input signature. Backends execute its steps over its slots.
pub struct Plan {
    pub key: Vec<PlanKey>,
    pub steps: Vec<Step>,
    /// Length of every buffer slot.
    pub slot_sizes: Vec<usize>,
    /// Slots holding values known at plan time that a step reads.
    pub constants: Vec<(usize, Vec<f32>)>,
    pub input_slots: Vec<Option<usize>>,
    pub outputs: Vec<Source>,
    /// The largest scratch buffer any step's CPU kernel needs.
    pub scratch_len: usize,
}

/// What selects a plan: float inputs by shape, integer inputs (plan-time values) by value.
#[derive(Clone, Debug, PartialEq)]
pub enum PlanKey {
    Shape(Vec<usize>),
    Value(Tensor),
}

impl PlanKey {
    pub fn of(t: &Tensor) -> Self {
        match &t.data {
            Data::F32(_) => PlanKey::Shape(t.shape.clone()),
            Data::I64(_) => PlanKey::Value(t.clone()),
        }
    }
}

impl Model {
    /// Plans the model for `inputs`: shapes, plan-time values, kernels and slots; with `analyze`, also every
    /// value's shape and known value.
    pub(crate) fn build_plan(
        &self,
        inputs: &[Tensor],
        key: Vec<PlanKey>,
        analyze: bool,
    ) -> Result<(Plan, Option<Analysis>), Error> {
        let mut ids: HashMap<&str, usize> = HashMap::new();
        let mut shapes: Vec<Vec<usize>> = Vec::new();
        let mut values: Vec<Option<Arc<Tensor>>> = Vec::new();
        let new_value = |shapes: &mut Vec<Vec<usize>>, values: &mut Vec<Option<Arc<Tensor>>>| -> usize {
            shapes.push(Vec::new());
            values.push(None);
            shapes.len() - 1
        };
        let mut graph_input_ids = Vec::new();
        for (info, t) in self.inputs.iter().zip(inputs) {
            let id = new_value(&mut shapes, &mut values);
            ids.insert(info.name.as_str(), id);
            shapes[id] = t.shape.clone();
            if !t.is_float() {
                values[id] = Some(Arc::new(t.clone()));
            }
            graph_input_ids.push(id);
        }
        struct Pending {
            node: usize,
            kernel: Kernel,
            reads: Vec<usize>,
            writes: Vec<usize>,
        }
        let mut pending: Vec<Pending> = Vec::new();
        for (node_index, node) in self.nodes.iter().enumerate() {
            let mut in_ids = Vec::with_capacity(node.inputs.len());
            for name in &node.inputs {
                if name.is_empty() {
                    in_ids.push(None);
                    continue;
                }
                let id = match ids.get(name.as_str()) {
                    Some(&id) => id,
                    None => {
                        let w = self.weights.get(name).expect("checked when the model was built");
                        let id = new_value(&mut shapes, &mut values);
                        shapes[id] = w.shape.clone();
                        values[id] = Some(Arc::clone(w));
                        ids.insert(name.as_str(), id);
                        id
                    }
                };
                in_ids.push(Some(id));
            }
            const EMPTY: &[usize] = &[];
            let plan_inputs: Vec<Input> = in_ids
                .iter()
                .map(|id| match id {
                    Some(id) => {
                        Input { shape: &shapes[*id], value: values[*id].as_deref(), shared: values[*id].as_ref() }
                    }
                    None => Input { shape: EMPTY, value: None, shared: None },
                })
                .collect();
            let planned = crate::ops::params::with_limits(self.limits, || plan_node(node, &plan_inputs))?;
            let out_shapes: Vec<&[usize]> = match &planned {
                Planned::Values(vals) => vals.iter().map(|v| v.shape.as_slice()).collect(),
                Planned::Kernel { out_shapes, .. } => out_shapes.iter().map(Vec::as_slice).collect(),
            };
            for (k, shape) in out_shapes.into_iter().enumerate() {
                let output = || format!("output {:?}", node.outputs.get(k).map_or("", |o| o));
                self.limits.check_tensor(shape, &output).map_err(|e| crate::ops::params::op_err(node, e))?;
            }
            let out_ids: Vec<usize> = node
                .outputs
                .iter()
                .map(|name| {
                    let id = new_value(&mut shapes, &mut values);
                    ids.insert(name.as_str(), id);
                    id
                })
                .collect();
            match planned {
                Planned::Values(vals) => {
                    for (id, v) in out_ids.iter().zip(vals) {
                        shapes[*id] = v.shape.clone();
                        values[*id] = Some(Arc::new(v));
                    }
                }
                Planned::Kernel { kernel, reads, out_shapes } => {
                    if out_shapes.len() < node.outputs.iter().filter(|o| !o.is_empty()).count() {
                        return Err(Error::Op {
                            op: node.op.clone(),
                            node: node.name.clone(),
                            msg: format!(
                                "produces {} outputs, the node names {}",
                                out_shapes.len(),
                                node.outputs.len()
                            ),
                        });
                    }
                    for (id, s) in out_ids.iter().zip(&out_shapes) {
                        shapes[*id] = s.clone();
                    }
                    let read_ids: Vec<usize> =
                        reads.iter().map(|&r| in_ids[r].expect("planner reads present inputs")).collect();
                    if read_ids.iter().all(|&id| values[id].is_some()) {
                        let ins: Vec<&Tensor> = read_ids.iter().map(|&id| values[id].as_deref().unwrap()).collect();
                        let outs = kernel.eval(node, &ins, &out_shapes)?;
                        for (id, v) in out_ids.iter().zip(outs) {
                            values[*id] = Some(Arc::new(v));
                        }
                    } else {
                        pending.push(Pending { node: node_index, kernel, reads: read_ids, writes: out_ids });
                    }
                }
            }
        }

        let analysis = analyze.then(|| {
            let mut a = Analysis::default();
            for (name, &id) in &ids {
                a.shapes.insert(name.to_string(), shapes[id].clone());
                if let Some(v) = &values[id] {
                    a.known.insert(name.to_string(), Arc::clone(v));
                }
            }
            a
        });
        let mut output_ids = Vec::with_capacity(self.outputs.len());
        for o in &self.outputs {
            let id = match (ids.get(o.name.as_str()), self.weights.get(&o.name)) {
                (Some(&id), _) => id,
                (None, Some(w)) => {
                    shapes.push(w.shape.clone());
                    values.push(Some(Arc::clone(w)));
                    shapes.len() - 1
                }
                (None, None) => return Err(Error::Format(format!("graph output {:?} is never produced", o.name))),
            };
            output_ids.push(id);
        }

        let mut last_use = vec![usize::MAX; shapes.len()];
        for (s, p) in pending.iter().enumerate() {
            for &r in &p.reads {
                last_use[r] = s;
            }
        }
        for &o in &output_ids {
            last_use[o] = usize::MAX - 1;
        }
        let mut slot_of: Vec<Option<usize>> = vec![None; shapes.len()];
        let mut slot_sizes: Vec<usize> = Vec::new();
        let mut const_data: Vec<(usize, Vec<f32>)> = Vec::new();
        let mut free: Vec<usize> = Vec::new();
        let len_of = |id: usize| shapes[id].iter().product::<usize>();
        let new_slot = |size: usize, slot_sizes: &mut Vec<usize>, free: &mut Vec<usize>| -> usize {
            if let Some(pos) = free
                .iter()
                .enumerate()
                .filter(|(_, &s)| slot_sizes[s] >= size)
                .min_by_key(|(_, &s)| slot_sizes[s])
                .map(|(i, _)| i)
                .or_else(|| free.iter().enumerate().max_by_key(|(_, &s)| slot_sizes[s]).map(|(i, _)| i))
            {
                let s = free.swap_remove(pos);
                slot_sizes[s] = slot_sizes[s].max(size);
                return s;
            }
            slot_sizes.push(size);
            slot_sizes.len() - 1
        };
        for &id in &graph_input_ids {
            if values[id].is_none() {
                slot_of[id] = Some(new_slot(len_of(id), &mut slot_sizes, &mut free));
            }
        }
        let mut steps = Vec::with_capacity(pending.len());
        for (s, p) in pending.into_iter().enumerate() {
            for &r in &p.reads {
                if slot_of[r].is_none() {
                    let v = values[r].as_ref().expect("a read is either computed or known");
                    let slot = new_slot(0, &mut slot_sizes, &mut Vec::new());
                    slot_sizes[slot] = v.len();
                    const_data.push((slot, v.to_f32s()));
                    slot_of[r] = Some(slot);
                    last_use[r] = usize::MAX;
                }
            }
            let writes: Vec<(usize, usize)> = p
                .writes
                .iter()
                .map(|&w| {
                    let slot = new_slot(len_of(w), &mut slot_sizes, &mut free);
                    slot_of[w] = Some(slot);
                    (slot, len_of(w))
                })
                .collect();
            let reads: Vec<(usize, usize)> = p.reads.iter().map(|&r| (slot_of[r].unwrap(), len_of(r))).collect();
            for &r in &p.reads {
                if last_use[r] == s && !free.contains(&slot_of[r].unwrap()) {
                    free.push(slot_of[r].unwrap());
                }
            }
            for &w in &p.writes {
                if last_use[w] == usize::MAX {
                    free.push(slot_of[w].unwrap());
                }
            }
            let shape = p.writes.first().map(|&w| shapes[w].clone()).unwrap_or_default();
            steps.push(Step { node: p.node, kernel: p.kernel, reads, writes, shape });
        }
        let outputs = output_ids
            .iter()
            .map(|&id| match (&values[id], slot_of[id]) {
                (Some(v), _) => Source::Known(v.clone()),
                (None, Some(slot)) => Source::Slot(slot, shapes[id].clone()),
                (None, None) => unreachable!("every computed value gets a slot"),
            })
            .collect();
        let scratch_len = steps.iter().map(|s| s.kernel.scratch_len()).max().unwrap_or(0);
        let held = slot_sizes.iter().fold(scratch_len as u64, |n, &s| n.saturating_add(s as u64));
        if held > self.limits.max_plan_elements {
            return Err(Error::Shape(format!(
                "the plan for inputs {:?} holds {held} elements in its buffers, over the limit of {} \
                 (limits.maxPlanElements)",
                inputs.iter().map(|t| t.shape.as_slice()).collect::<Vec<_>>(),
                self.limits.max_plan_elements
            )));
        }
        let plan = Plan {
            key,
            steps,
            slot_sizes,
            constants: const_data,
            input_slots: graph_input_ids.iter().map(|&id| slot_of[id]).collect(),
            outputs,
            scratch_len,
        };
        Ok((plan, analysis))
    }
}

#[cfg(test)]
mod tests {
    use crate::json::ModelJson;
    use crate::tensor::Tensor;
    use crate::{Limits, Model};
    use std::collections::HashMap;

    fn model(nodes: &str, weights: Vec<(&str, Tensor)>) -> Model {
        build(nodes, weights).unwrap()
    }

    fn build(nodes: &str, weights: Vec<(&str, Tensor)>) -> Result<Model, crate::Error> {
        let text = format!(
            r#"{{"format":"webinfer-graph/1","graph":{{"inputs":[{{"name":"x","dtype":"float32","shape":[2]}}],
            "outputs":[{{"name":"y","dtype":"float32","shape":[]}}],"nodes":[{nodes}]}},"weightsManifest":[]}}"#
        );
        let json = ModelJson::parse(&text).unwrap();
        let weights: HashMap<String, Tensor> = weights.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        Model::new(&json, weights)
    }

    #[test]
    fn duplicate_outputs_cycles_and_undefined_reads_name_the_node() {
        let twice = r#"{"name":"a","op":"Relu","inputs":["x"],"outputs":["y"]},
            {"name":"b","op":"Relu","inputs":["x"],"outputs":["y"]}"#;
        let err = build(twice, vec![]).err().unwrap().to_string();
        assert!(err.contains("Relu node \"b\" writes \"y\""), "{err}");
        let over_input = r#"{"name":"c","op":"Relu","inputs":["x"],"outputs":["x"]}"#;
        assert!(build(over_input, vec![]).err().unwrap().to_string().contains("node \"c\" writes \"x\""));
        let cycle = r#"{"name":"a","op":"Relu","inputs":["z"],"outputs":["y"]},
            {"name":"b","op":"Relu","inputs":["y"],"outputs":["z"]}"#;
        let err = build(cycle, vec![]).err().unwrap().to_string();
        assert!(err.contains("Relu node \"a\" reads \"z\""), "{err}");
    }

    fn plan_error(m: &mut Model) -> String {
        let err = m.predict(&[Tensor::f32(vec![2], vec![1.0, 2.0])]).expect_err("planning fails");
        format!("{} {err}", err.name())
    }

    #[test]
    fn a_reshape_to_2_pow_35_or_past_2_pow_64_elements_fails_at_plan_time_naming_the_node() {
        for target in [vec![1 << 20, 1 << 15], vec![1 << 40, 1 << 40, 1 << 40]] {
            let shape = Tensor::i64(vec![target.len()], target);
            let nodes = r#"{"name":"big","op":"Reshape","inputs":["x","s"],"outputs":["y"]}"#;
            let err = plan_error(&mut model(nodes, vec![("s", shape)]));
            assert!(err.starts_with("OpError Reshape node \"big\": cannot reshape [2] (2 elements)"), "{err}");
        }
    }

    #[test]
    fn an_expand_to_2_pow_35_elements_fails_before_its_index_map_is_built() {
        let shape = Tensor::i64(vec![2], vec![1 << 34, 2]);
        let mut m = model(r#"{"name":"wide","op":"Expand","inputs":["x","s"],"outputs":["y"]}"#, vec![("s", shape)]);
        let err = plan_error(&mut m);
        assert!(err.starts_with("OpError Expand node \"wide\""), "{err}");
        assert!(err.contains("limits.maxTensorElements"), "{err}");
        let overflow = Tensor::i64(vec![3], vec![1 << 40, 1 << 40, 2]);
        let mut m =
            model(r#"{"name":"wider","op":"Expand","inputs":["x","s"],"outputs":["y"]}"#, vec![("s", overflow)]);
        assert!(plan_error(&mut m).contains("more than 2^64"));
    }

    #[test]
    fn constant_of_shape_and_plan_totals_are_bounded_and_the_limits_can_be_raised() {
        let shape = Tensor::i64(vec![1], vec![1 << 30]);
        let nodes = r#"{"name":"fill","op":"ConstantOfShape","inputs":["s"],"outputs":["y"]}"#;
        let mut m = model(nodes, vec![("s", shape.clone())]);
        assert!(plan_error(&mut m).starts_with("OpError ConstantOfShape node \"fill\""));
        let nodes = r#"{"name":"t","op":"Tile","inputs":["x","r"],"outputs":["y"]}"#;
        let mut m = model(nodes, vec![("r", Tensor::i64(vec![1], vec![1000]))]);
        m.set_limits(Limits { max_plan_elements: 1000, ..Limits::default() });
        let err = plan_error(&mut m);
        assert!(err.starts_with("ShapeError") && err.contains("limits.maxPlanElements"), "{err}");
        m.set_limits(Limits { max_plan_elements: 10_000, ..Limits::default() });
        let out = m.predict(&[Tensor::f32(vec![2], vec![1.0, 2.0])]).unwrap();
        assert_eq!(out[0].shape, vec![2000]);
    }
}
