//! The execution engine: turns a model into per-input-shape plans (shapes resolved, shape subgraphs
//! folded, buffers assigned by liveness, weights packed) and runs them. `predict` does no graph work
//! once a plan for its input shapes exists.

use std::collections::HashMap;
use std::sync::Arc;

use crate::format::{DType, Dim, ModelJson, Node, ValueInfo};
use crate::ops::{plan_node, Input, Kernel, Planned};
use crate::tensor::{Data, Tensor};
use crate::Error;

/// How many distinct input signatures keep a cached plan (on each backend).
pub(crate) const PLAN_CACHE: usize = 4;

/// A model ready to run on the CPU backend.
pub struct Model {
    inputs: Vec<ValueInfo>,
    outputs: Vec<ValueInfo>,
    nodes: Vec<Node>,
    weights: HashMap<String, Arc<Tensor>>,
    plans: Vec<Plan>,
}

/// Every value's shape, and the values known at plan time, for one set of inputs.
#[derive(Clone, Debug, Default)]
pub struct Analysis {
    pub shapes: HashMap<String, Vec<usize>>,
    pub known: HashMap<String, Arc<Tensor>>,
}

/// Where a graph output comes from in a plan.
#[derive(Clone, Debug)]
pub(crate) enum Source {
    Slot(usize, Vec<usize>),
    Known(Arc<Tensor>),
}

/// One kernel run: the node it comes from, and the (slot, length) it reads and writes.
pub(crate) struct Step {
    pub node: usize,
    pub kernel: Kernel,
    pub reads: Vec<(usize, usize)>,
    pub writes: Vec<(usize, usize)>,
}

/// A model planned for one input signature. Backends execute its steps over its slots.
pub(crate) struct Plan {
    pub key: Vec<PlanKey>,
    pub steps: Vec<Step>,
    /// Length of every buffer slot.
    pub slot_sizes: Vec<usize>,
    /// Slots holding values known at plan time that a step reads.
    pub constants: Vec<(usize, Vec<f32>)>,
    pub input_slots: Vec<Option<usize>>,
    pub outputs: Vec<Source>,
    /// CPU buffers, allocated on the first CPU run.
    slots: Vec<Vec<f32>>,
    scratch: Vec<f32>,
}

impl Model {
    /// Builds a model from a parsed model.json and its decoded weights.
    pub fn new(json: &ModelJson, weights: HashMap<String, Tensor>) -> Result<Self, Error> {
        Self::from_shared(json, weights.into_iter().map(|(k, v)| (k, Arc::new(v))).collect())
    }

    /// As `new`, sharing weights the caller also holds (no copies).
    pub fn from_shared(json: &ModelJson, weights: HashMap<String, Arc<Tensor>>) -> Result<Self, Error> {
        let g = &json.graph;
        let mut known: std::collections::HashSet<&str> = g.inputs.iter().map(|i| i.name.as_str()).collect();
        known.extend(weights.keys().map(String::as_str));
        for node in &g.nodes {
            for inp in node.inputs.iter().filter(|i| !i.is_empty()) {
                if !known.contains(inp.as_str()) {
                    return Err(Error::Format(format!(
                        "{} node {:?} reads {inp:?}, which is neither a graph input, a weight, nor an earlier output",
                        node.op, node.name
                    )));
                }
            }
            known.extend(node.outputs.iter().map(String::as_str));
        }
        for out in &g.outputs {
            if !known.contains(out.name.as_str()) {
                return Err(Error::Format(format!("graph output {:?} is never produced", out.name)));
            }
        }
        Ok(Model {
            inputs: g.inputs.clone(),
            outputs: g.outputs.clone(),
            nodes: g.nodes.clone(),
            weights,
            plans: Vec::new(),
        })
    }

    /// Another model over the same graph and (shared, not copied) weights, with no plans yet.
    pub fn share(&self) -> Model {
        Model {
            inputs: self.inputs.clone(),
            outputs: self.outputs.clone(),
            nodes: self.nodes.clone(),
            weights: self.weights.clone(),
            plans: Vec::new(),
        }
    }

    pub fn inputs(&self) -> &[ValueInfo] {
        &self.inputs
    }

    pub fn outputs(&self) -> &[ValueInfo] {
        &self.outputs
    }

    /// Runs the model on inputs given in graph-input order.
    pub fn predict(&mut self, inputs: &[Tensor]) -> Result<Vec<Tensor>, Error> {
        Ok(self.plan_for(inputs)?.run(inputs))
    }

    /// The nodes, in execution order.
    pub(crate) fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The cached plan for these inputs' signature, built (and cached) on first use.
    pub(crate) fn plan_for(&mut self, inputs: &[Tensor]) -> Result<&mut Plan, Error> {
        self.check_inputs(inputs)?;
        let key: Vec<PlanKey> = inputs.iter().map(PlanKey::of).collect();
        let pos = match self.plans.iter().position(|p| p.key == key) {
            Some(p) => p,
            None => {
                let (plan, _) = self.build_plan(inputs, key, false)?;
                if self.plans.len() >= PLAN_CACHE {
                    self.plans.remove(0);
                }
                self.plans.push(plan);
                self.plans.len() - 1
            }
        };
        Ok(&mut self.plans[pos])
    }

    /// Runs the model and times every kernel with `clock` (milliseconds): per node, its op, name and time,
    /// in execution order. Plan-time work (first call for a shape) is not included.
    pub fn profile(
        &mut self,
        inputs: &[Tensor],
        clock: &dyn Fn() -> f64,
    ) -> Result<(Vec<Tensor>, Vec<OpTiming>), Error> {
        let plan = self.plan_for(inputs)?;
        let mut timings = Vec::with_capacity(plan.steps.len());
        let outputs = plan.run_with(inputs, &mut |step, run| {
            let start = clock();
            run();
            timings.push((step, clock() - start));
        });
        let timings = timings
            .into_iter()
            .map(|(node, ms)| OpTiming { op: self.nodes[node].op.clone(), node: self.nodes[node].name.clone(), ms })
            .collect();
        Ok((outputs, timings))
    }

    /// Plans and runs once on zeros with every symbolic dimension set to 1, so the first real prediction
    /// of that shape does no graph work. Models with integer inputs (plan-time values) are left alone.
    pub fn warm_up(&mut self) -> Result<(), Error> {
        match self.warm_up_inputs() {
            Some(inputs) => self.predict(&inputs).map(|_| ()),
            None => Ok(()),
        }
    }

    /// Zeros for every input with symbolic dimensions set to 1; None when an input is an integer
    /// (a plan-time value there is no sensible default for).
    pub fn warm_up_inputs(&self) -> Option<Vec<Tensor>> {
        self.inputs
            .iter()
            .map(|i| {
                let shape: Vec<usize> =
                    i.shape.iter().map(|d| if let Dim::Fixed(n) = d { *n as usize } else { 1 }).collect();
                let n = shape.iter().product();
                matches!(i.dtype, DType::Float32 | DType::Float16).then(|| Tensor::f32(shape, vec![0.0; n]))
            })
            .collect()
    }

    /// Runs with named inputs (any order).
    pub fn predict_named(&mut self, named: Vec<(String, Tensor)>) -> Result<Vec<Tensor>, Error> {
        let inputs = self.order_by_name(named)?;
        self.predict(&inputs)
    }

    /// Puts values given by input name into graph-input order, rejecting unknown and missing names.
    pub fn order_by_name<T>(&self, named: Vec<(String, T)>) -> Result<Vec<T>, Error> {
        let mut slots: Vec<Option<T>> = self.inputs.iter().map(|_| None).collect();
        for (name, t) in named {
            let i = self.inputs.iter().position(|v| v.name == name).ok_or_else(|| {
                let names: Vec<&str> = self.inputs.iter().map(|v| v.name.as_str()).collect();
                Error::Input(format!("unknown input name {name:?}; the model's inputs are {names:?}"))
            })?;
            slots[i] = Some(t);
        }
        slots
            .into_iter()
            .zip(&self.inputs)
            .map(|(t, info)| t.ok_or_else(|| Error::Input(format!("missing input {:?}", info.name))))
            .collect()
    }

    /// Plans for `inputs` and reports every value's shape and every value known at plan time
    /// (weights, shape arithmetic, anything computed only from those); nothing is run.
    pub fn analyze(&self, inputs: &[Tensor]) -> Result<Analysis, Error> {
        self.check_inputs(inputs)?;
        let (_, analysis) = self.build_plan(inputs, Vec::new(), true)?;
        Ok(analysis.expect("requested"))
    }

    fn check_inputs(&self, inputs: &[Tensor]) -> Result<(), Error> {
        if inputs.len() != self.inputs.len() {
            return Err(Error::Input(format!("the model takes {} input(s), got {}", self.inputs.len(), inputs.len())));
        }
        let mut symbols: HashMap<&str, usize> = HashMap::new();
        for (t, info) in inputs.iter().zip(&self.inputs) {
            let float_wanted = matches!(info.dtype, DType::Float32 | DType::Float16);
            if float_wanted != t.is_float() {
                return Err(Error::Input(format!(
                    "input {:?}: expected {}, got {}",
                    info.name,
                    info.dtype.name(),
                    crate::ops::data_kind(t)
                )));
            }
            let shape_err = || {
                let want: Vec<String> = info
                    .shape
                    .iter()
                    .map(|d| match d {
                        Dim::Fixed(n) => n.to_string(),
                        Dim::Symbol(s) => s.clone(),
                    })
                    .collect();
                Error::Input(format!("input {:?}: expected shape [{}], got {:?}", info.name, want.join(", "), t.shape))
            };
            if t.shape.len() != info.shape.len() {
                return Err(shape_err());
            }
            for (&got, want) in t.shape.iter().zip(&info.shape) {
                match want {
                    Dim::Fixed(n) if *n as usize != got => return Err(shape_err()),
                    Dim::Symbol(s) if *symbols.entry(s.as_str()).or_insert(got) != got => {
                        return Err(Error::Input(format!(
                            "input {:?}: dimension {s:?} is {got} here but {} in another input",
                            info.name,
                            symbols[s.as_str()]
                        )));
                    }
                    _ => {}
                }
            }
            if t.shape.iter().product::<usize>() != t.len() {
                return Err(Error::Input(format!(
                    "input {:?}: shape {:?} needs {} values, got {}",
                    info.name,
                    t.shape,
                    t.shape.iter().product::<usize>(),
                    t.len()
                )));
            }
        }
        Ok(())
    }

    fn build_plan(
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
            let planned = plan_node(node, &plan_inputs)?;
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
            steps.push(Step { node: p.node, kernel: p.kernel, reads, writes });
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
        let plan = Plan {
            key,
            steps,
            slot_sizes,
            constants: const_data,
            input_slots: graph_input_ids.iter().map(|&id| slot_of[id]).collect(),
            outputs,
            slots: Vec::new(),
            scratch: vec![0.0; scratch_len],
        };
        Ok((plan, analysis))
    }
}

/// What selects a plan: float inputs by shape, integer inputs (plan-time values) by value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum PlanKey {
    Shape(Vec<usize>),
    Value(Tensor),
}

impl PlanKey {
    pub(crate) fn of(t: &Tensor) -> Self {
        match &t.data {
            Data::F32(_) => PlanKey::Shape(t.shape.clone()),
            Data::I64(_) => PlanKey::Value(t.clone()),
        }
    }
}

/// Time spent in one node's kernel during a profiled run.
#[derive(Clone, Debug)]
pub struct OpTiming {
    pub op: String,
    pub node: String,
    pub ms: f64,
}

impl Plan {
    fn run(&mut self, inputs: &[Tensor]) -> Vec<Tensor> {
        self.run_with(inputs, &mut |_, run| run())
    }

    /// Runs every step through `around(node index, run the step)`.
    fn run_with(&mut self, inputs: &[Tensor], around: &mut dyn FnMut(usize, &mut dyn FnMut())) -> Vec<Tensor> {
        if self.slots.is_empty() {
            self.slots = self.slot_sizes.iter().map(|&n| vec![0.0; n]).collect();
            for (slot, data) in &self.constants {
                self.slots[*slot].copy_from_slice(data);
            }
        }
        for (t, slot) in inputs.iter().zip(&self.input_slots) {
            if let (Some(slot), Data::F32(v)) = (slot, &t.data) {
                self.slots[*slot][..v.len()].copy_from_slice(v);
            }
        }
        let mut taken: Vec<Vec<f32>> = Vec::new();
        for step in &self.steps {
            taken.clear();
            for &(slot, _) in &step.writes {
                taken.push(std::mem::take(&mut self.slots[slot]));
            }
            {
                let ins: Vec<&[f32]> = step.reads.iter().map(|&(slot, len)| &self.slots[slot][..len]).collect();
                let mut outs: Vec<&mut [f32]> =
                    taken.iter_mut().zip(&step.writes).map(|(buf, &(_, len))| &mut buf[..len]).collect();
                let scratch = &mut self.scratch;
                around(step.node, &mut || step.kernel.run(&ins, &mut outs, scratch));
            }
            for (&(slot, _), buf) in step.writes.iter().zip(taken.drain(..)) {
                self.slots[slot] = buf;
            }
        }
        self.outputs
            .iter()
            .map(|src| match src {
                Source::Known(t) => (**t).clone(),
                Source::Slot(slot, shape) => {
                    Tensor::f32(shape.clone(), self.slots[*slot][..shape.iter().product()].to_vec())
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relu_model() -> Model {
        let json = ModelJson::parse(
            r#"{"format":"webinfer-graph/1","graph":{"inputs":[{"name":"x","dtype":"float32","shape":["batch",3]}],
            "outputs":[{"name":"y","dtype":"float32","shape":["batch",3]}],
            "nodes":[{"name":"r","op":"Relu","inputs":["x"],"outputs":["y"]}]},"weightsManifest":[]}"#,
        )
        .unwrap();
        Model::new(&json, HashMap::new()).unwrap()
    }

    #[test]
    fn warm_up_plans_batch_one_so_predict_reuses_it() {
        let mut model = relu_model();
        model.warm_up().unwrap();
        assert_eq!(model.plans.len(), 1);
        let out = model.predict(&[Tensor::f32(vec![1, 3], vec![-1.0, 0.5, 2.0])]).unwrap();
        assert_eq!(out[0].to_f32s(), vec![0.0, 0.5, 2.0]);
        assert_eq!(model.plans.len(), 1, "batch 1 should reuse the warm-up plan");
        model.predict(&[Tensor::f32(vec![2, 3], vec![0.0; 6])]).unwrap();
        assert_eq!(model.plans.len(), 2);
    }
}
