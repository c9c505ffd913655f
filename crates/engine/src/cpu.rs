//! The CPU executor: runs a [`Plan`]'s steps with the SIMD CPU kernels in [`crate::ops`], over buffers it
//! allocates on its first run.

use crate::plan::{Plan, Source, Step};
use crate::tensor::{Data, Tensor};

/// A plan with the CPU buffers it runs over.
pub struct CpuPlan {
    pub plan: Plan,
    slots: Vec<Vec<f32>>,
    scratch: Vec<f32>,
}

impl CpuPlan {
    /// Wraps a plan; buffers are allocated on the first run.
    pub fn new(plan: Plan) -> Self {
        CpuPlan { plan, slots: Vec::new(), scratch: Vec::new() }
    }

    pub fn run(&mut self, inputs: &[Tensor]) -> Vec<Tensor> {
        self.run_with(inputs, &mut |_, run| run())
    }

    /// Runs every step through `around(step, run the step)`.
    pub fn run_with(&mut self, inputs: &[Tensor], around: &mut dyn FnMut(&Step, &mut dyn FnMut())) -> Vec<Tensor> {
        if self.slots.is_empty() {
            self.slots = self.plan.slot_sizes.iter().map(|&n| vec![0.0; n]).collect();
            for (slot, data) in &self.plan.constants {
                self.slots[*slot].copy_from_slice(data);
            }
            self.scratch = vec![0.0; self.plan.scratch_len];
        }
        for (t, slot) in inputs.iter().zip(&self.plan.input_slots) {
            if let (Some(slot), Data::F32(v)) = (slot, &t.data) {
                self.slots[*slot][..v.len()].copy_from_slice(v);
            }
        }
        let mut taken: Vec<Vec<f32>> = Vec::new();
        for step in &self.plan.steps {
            taken.clear();
            for &(slot, _) in &step.writes {
                taken.push(std::mem::take(&mut self.slots[slot]));
            }
            {
                let ins: Vec<&[f32]> = step.reads.iter().map(|&(slot, len)| &self.slots[slot][..len]).collect();
                let mut outs: Vec<&mut [f32]> =
                    taken.iter_mut().zip(&step.writes).map(|(buf, &(_, len))| &mut buf[..len]).collect();
                let scratch = &mut self.scratch;
                around(step, &mut || step.kernel.run(&ins, &mut outs, scratch));
            }
            for (&(slot, _), buf) in step.writes.iter().zip(taken.drain(..)) {
                self.slots[slot] = buf;
            }
        }
        self.plan
            .outputs
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
