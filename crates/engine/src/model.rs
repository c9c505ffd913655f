//! The execution engine: turns a model into per-input-shape plans (shapes resolved, shape subgraphs
//! folded, buffers assigned by liveness, weights packed) and runs them. `predict` does no graph work
//! once a plan for its input shapes exists.

use std::collections::HashMap;
use std::sync::Arc;

use crate::cpu::CpuPlan;
use crate::json::{DType, Dim, ModelJson, Node, ValueInfo};
use crate::plan::{Plan, PlanKey, PLAN_CACHE};
use crate::tensor::Tensor;
use crate::{Error, Limits, ModelGraph};

/// A model ready to run on the CPU backend.
pub struct Model {
    pub(crate) inputs: Vec<ValueInfo>,
    pub(crate) outputs: Vec<ValueInfo>,
    pub(crate) nodes: Vec<Node>,
    pub(crate) weights: HashMap<String, Arc<Tensor>>,
    pub(crate) limits: Limits,
    plans: Vec<CpuPlan>,
}

/// Every value's shape, and the values known at plan time, for one set of inputs.
#[derive(Clone, Debug, Default)]
pub struct Analysis {
    pub shapes: HashMap<String, Vec<usize>>,
    pub known: HashMap<String, Arc<Tensor>>,
}

impl Model {
    /// Builds a model from a parsed model.json and its decoded weights.
    pub fn new(json: &ModelJson, weights: HashMap<String, Tensor>) -> Result<Self, Error> {
        Self::from_graph(ModelGraph::from_json(json.clone(), weights))
    }

    /// Builds a model from an IR graph, checking that every value a node reads is defined before it.
    pub fn from_graph(g: ModelGraph) -> Result<Self, Error> {
        let weights = g.weights;
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
            for out in node.outputs.iter().filter(|o| !o.is_empty()) {
                if !known.insert(out.as_str()) {
                    return Err(Error::Format(format!(
                        "{} node {:?} writes {out:?}, which a graph input, a weight or an earlier node already defines",
                        node.op, node.name
                    )));
                }
            }
        }
        for out in &g.outputs {
            if !known.contains(out.name.as_str()) {
                return Err(Error::Format(format!("graph output {:?} is never produced", out.name)));
            }
        }
        Ok(Model {
            inputs: g.inputs,
            outputs: g.outputs,
            nodes: g.nodes,
            weights,
            limits: Limits::default(),
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
            limits: self.limits,
            plans: Vec::new(),
        }
    }

    /// The bounds planning checks every tensor against (see [`Limits`]).
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Replaces the planning bounds; plans already built stay.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
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
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The backend-neutral plan for these inputs' signature, built (and cached) on first use.
    pub fn plan(&mut self, inputs: &[Tensor]) -> Result<&Plan, Error> {
        Ok(&self.plan_for(inputs)?.plan)
    }

    fn plan_for(&mut self, inputs: &[Tensor]) -> Result<&mut CpuPlan, Error> {
        self.check_inputs(inputs)?;
        let key: Vec<PlanKey> = inputs.iter().map(PlanKey::of).collect();
        let pos = match self.plans.iter().position(|p| p.plan.key == key) {
            Some(p) => p,
            None => {
                let (plan, _) = self.build_plan(inputs, key, false)?;
                if self.plans.len() >= PLAN_CACHE {
                    self.plans.remove(0);
                }
                self.plans.push(CpuPlan::new(plan));
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
        let mut timings = Vec::with_capacity(plan.plan.steps.len());
        let outputs = plan.run_with(inputs, &mut |step, run| {
            let start = clock();
            run();
            timings.push((step.node, step.shape.clone(), clock() - start));
        });
        let timings = timings
            .into_iter()
            .map(|(node, shape, ms)| OpTiming {
                op: self.nodes[node].op.clone(),
                node: self.nodes[node].name.clone(),
                shape,
                ms,
            })
            .collect();
        Ok((outputs, timings))
    }

    /// Plans and runs once on zeros with every symbolic dimension set to 1, so the first real prediction
    /// of that shape does no graph work. Models with integer inputs (plan-time values) are left alone.
    pub fn warm_up(&mut self) -> Result<(), Error> {
        for (i, shape) in self.inputs.iter().zip(self.warm_up_shapes()) {
            self.limits.check_tensor(&shape, &|| format!("graph input {:?} at batch 1", i.name))?;
        }
        match self.warm_up_inputs() {
            Some(inputs) => self.predict(&inputs).map(|_| ()),
            None => Ok(()),
        }
    }

    fn warm_up_shapes(&self) -> impl Iterator<Item = Vec<usize>> + '_ {
        self.inputs
            .iter()
            .map(|i| i.shape.iter().map(|d| if let Dim::Fixed(n) = d { *n as usize } else { 1 }).collect())
    }

    /// Zeros for every input with symbolic dimensions set to 1; None when an input is an integer
    /// (a plan-time value there is no sensible default for) or over the limits.
    pub fn warm_up_inputs(&self) -> Option<Vec<Tensor>> {
        self.inputs
            .iter()
            .zip(self.warm_up_shapes())
            .map(|(i, shape)| {
                let n = self.limits.check_tensor(&shape, &String::new).ok()?;
                matches!(i.dtype, DType::Float32 | DType::Float16).then(|| Tensor::f32(shape, vec![0.0; n]))
            })
            .collect()
    }

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
}

/// Time spent in one node's kernel during a profiled run.
#[derive(Clone, Debug)]
pub struct OpTiming {
    pub op: String,
    pub node: String,
    /// The node's (first) output shape.
    pub shape: Vec<usize>,
    pub ms: f64,
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
