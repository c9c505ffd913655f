//! Translating the engine's plans into GPU dispatches, and running them.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use super::params::{self, Params};
use super::{conv, elementwise, floats_from_bytes, gemm, layout, norm, pool, reduce, Gpu, PipelineKey, Shader};
use crate::ops::Kernel;
use crate::plan::{Plan, PlanKey, Source, Step, PLAN_CACHE};
use crate::tensor::{Data, Tensor};
use crate::{Error, Model};

/// Workgroup width of the 1-D kernels.
const WG: usize = 256;

pub(super) enum Command {
    Dispatch { pipeline: wgpu::ComputePipeline, bind_group: wgpu::BindGroup, groups: [u32; 3] },
    Copy { src: wgpu::Buffer, dst: wgpu::Buffer, bytes: u64 },
}

struct GpuPlan {
    key: Vec<PlanKey>,
    commands: Vec<Command>,
    /// Per plan step: its node, its output shape and its commands.
    steps: Vec<(usize, Vec<usize>, std::ops::Range<usize>)>,
    slots: Vec<wgpu::Buffer>,
    input_slots: Vec<Option<usize>>,
    outputs: Vec<Source>,
}

/// A model on the WebGPU backend. Planning (shapes, folding, buffer reuse) is the CPU engine's;
/// execution is WGSL.
pub struct GpuModel {
    gpu: Rc<Gpu>,
    planner: RefCell<Model>,
    plans: RefCell<Vec<Rc<GpuPlan>>>,
    /// Weight buffers by the address of the tensor they were uploaded from (kept alive beside them).
    weights: RefCell<HashMap<usize, (Arc<Tensor>, wgpu::Buffer)>>,
}

/// A submitted prediction whose outputs are on their way back from the GPU.
pub struct PendingPrediction {
    gpu: Rc<Gpu>,
    staging: Option<wgpu::Buffer>,
    outputs: Vec<PendingOutput>,
    mapped: futures_channel::oneshot::Receiver<Result<(), wgpu::BufferAsyncError>>,
}

enum PendingOutput {
    Known(Tensor),
    Staged { offset: usize, shape: Vec<usize> },
}

/// One kernel dispatch being assembled: the entry point, its params buffer (the bytes of its
/// `params::Params` struct) and its bindings.
pub(super) struct Job<'a> {
    shader: Shader,
    entry: &'static str,
    constants: Vec<(&'static str, u64)>,
    params: Vec<u8>,
    out: &'a wgpu::Buffer,
    /// (binding, buffer) for bindings 2 and up.
    bind: Vec<(u32, &'a wgpu::Buffer)>,
    groups: [u32; 3],
}

impl<'a> Job<'a> {
    /// A dispatch of `entry` with `params` as binding 0 and `out` as binding 1.
    pub fn new<P: Params>(shader: Shader, entry: &'static str, params: &P, out: &'a wgpu::Buffer) -> Self {
        Self::with_tail::<P, u32>(shader, entry, params, &[], out)
    }

    /// Like `new`, with the elements of the params struct's trailing runtime-sized array.
    pub fn with_tail<P: Params, T: bytemuck::Pod + Default>(
        shader: Shader,
        entry: &'static str,
        params: &P,
        tail: &[T],
        out: &'a wgpu::Buffer,
    ) -> Self {
        let params = params::bytes(params, tail);
        Job { shader, entry, constants: Vec::new(), params, out, bind: Vec::new(), groups: [1, 1, 1] }
    }

    /// The pipeline-overridable constants.
    pub fn constants(mut self, constants: Vec<(&'static str, u64)>) -> Self {
        self.constants = constants;
        self
    }

    /// Binds `buffer` at `binding` (2 and up; unbound ones get a placeholder).
    pub fn bind(mut self, binding: u32, buffer: &'a wgpu::Buffer) -> Self {
        self.bind.push((binding, buffer));
        self
    }

    /// The workgroup grid.
    pub fn groups(mut self, groups: [u32; 3]) -> Self {
        self.groups = groups;
        self
    }
}

/// One plan step being encoded, as the family encoders see it: its buffers, and where its commands go.
pub(super) struct Encoder<'a> {
    pub model: &'a GpuModel,
    pub gpu: &'a Gpu,
    pub step: &'a Step,
    pub slots: &'a [wgpu::Buffer],
    pub ins: Vec<&'a wgpu::Buffer>,
    /// Elements in each input.
    pub in_len: Vec<usize>,
    /// The first output.
    pub out: &'a wgpu::Buffer,
    /// Elements in the first output.
    pub n: usize,
    commands: &'a mut Vec<Command>,
}

impl Encoder<'_> {
    /// Adds a dispatch on the job's own grid.
    pub fn dispatch(&mut self, job: Job) {
        let command = self.model.finish(job);
        self.commands.push(command);
    }

    /// Adds a 1-D dispatch of `n` invocations (the step's output size) on `WG`-wide workgroups.
    pub fn flat(&mut self, job: Job) {
        self.flat_n(job, self.n);
    }

    /// Adds a 1-D dispatch of `n` invocations on `WG`-wide workgroups.
    pub fn flat_n(&mut self, job: Job, n: usize) {
        self.dispatch(job.groups(grid(n.div_ceil(WG))));
    }

    /// Adds a buffer-to-buffer copy of `bytes`.
    pub fn copy(&mut self, src: &wgpu::Buffer, dst: &wgpu::Buffer, bytes: u64) {
        self.commands.push(Command::Copy { src: src.clone(), dst: dst.clone(), bytes });
    }
}

pub(super) fn grid(workgroups: usize) -> [u32; 3] {
    let x = workgroups.clamp(1, 65535);
    [x as u32, workgroups.div_ceil(x).max(1) as u32, 1]
}

pub(super) fn constant(name: &'static str, v: u32) -> (&'static str, u64) {
    (name, (v as f64).to_bits())
}

impl GpuModel {
    /// Puts a model on a GPU device. Nothing is planned until the first prediction (or `warm_up`).
    pub fn new(gpu: Rc<Gpu>, model: Model) -> Self {
        GpuModel { gpu, planner: RefCell::new(model), plans: RefCell::default(), weights: RefCell::default() }
    }

    /// The device this model runs on.
    pub fn gpu(&self) -> &Rc<Gpu> {
        &self.gpu
    }

    /// Runs the model; the outputs come back through `PendingPrediction::outputs`.
    pub fn submit(&self, inputs: &[Tensor]) -> Result<PendingPrediction, Error> {
        let plan = self.plan_with_inputs(inputs)?;
        let gpu = &self.gpu;
        let mut encoder = gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("predict") });
        encode(&mut encoder, &plan.commands);
        let mut outputs = Vec::with_capacity(plan.outputs.len());
        let mut staged = 0usize;
        for src in &plan.outputs {
            outputs.push(match src {
                Source::Known(t) => PendingOutput::Known((**t).clone()),
                Source::Slot(_, shape) => {
                    let offset = staged;
                    staged += shape.iter().product::<usize>() * 4;
                    PendingOutput::Staged { offset, shape: shape.clone() }
                }
            });
        }
        let staging = (staged > 0).then(|| {
            gpu.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("readback"),
                size: staged as u64,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        });
        if let Some(staging) = &staging {
            for (src, out) in plan.outputs.iter().zip(&outputs) {
                if let (Source::Slot(slot, shape), PendingOutput::Staged { offset, .. }) = (src, out) {
                    let bytes = shape.iter().product::<usize>() as u64 * 4;
                    if bytes > 0 {
                        encoder.copy_buffer_to_buffer(&plan.slots[*slot], 0, staging, *offset as u64, bytes);
                    }
                }
            }
        }
        gpu.queue.submit([encoder.finish()]);
        let (tx, rx) = futures_channel::oneshot::channel();
        match &staging {
            Some(staging) => staging.slice(..).map_async(wgpu::MapMode::Read, move |r| {
                let _ = tx.send(r);
            }),
            None => {
                let _ = tx.send(Ok(()));
            }
        }
        Ok(PendingPrediction { gpu: Rc::clone(&self.gpu), staging, outputs, mapped: rx })
    }

    /// Runs the model and times every plan step: per node, its op, name, output shape and milliseconds. Where
    /// the device has timestamp queries, the whole run is one submission and each step's time is the GPU's
    /// own, from the start of its first compute pass to the end of its last (copies between them included,
    /// a step of copies alone counts 0); `true` comes back with them. Elsewhere each step's dispatches are
    /// submitted on their own and waited for, timed by `clock` (wall time, one submit and one completion wait
    /// included). Plan-time work is not included.
    pub async fn profile(
        &self,
        inputs: &[Tensor],
        clock: &dyn Fn() -> f64,
    ) -> Result<(Vec<crate::OpTiming>, bool), Error> {
        let plan = self.plan_with_inputs(inputs)?;
        let gpu = &self.gpu;
        let timing = |node: usize, shape: &[usize], ms: f64| {
            let planner = self.planner.borrow();
            let n = &planner.nodes[node];
            crate::OpTiming { op: n.op.clone(), node: n.name.clone(), shape: shape.to_vec(), ms }
        };
        if gpu.has_timestamps() {
            let ticks = self.timestamps(&plan).await?;
            let period_ms = f64::from(gpu.queue.get_timestamp_period()) / 1e6;
            let timings = plan
                .steps
                .iter()
                .zip(ticks.chunks(2))
                .map(|((node, shape, _), t)| timing(*node, shape, t[1].saturating_sub(t[0]) as f64 * period_ms))
                .collect();
            return Ok((timings, true));
        }
        let mut timings = Vec::with_capacity(plan.steps.len());
        for (node, shape, range) in &plan.steps {
            let start = clock();
            let mut encoder =
                gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("profile") });
            encode(&mut encoder, &plan.commands[range.clone()]);
            gpu.queue.submit([encoder.finish()]);
            self.submitted_work_done().await?;
            timings.push(timing(*node, shape, clock() - start));
        }
        Ok((timings, false))
    }

    async fn submitted_work_done(&self) -> Result<(), Error> {
        let (tx, rx) = futures_channel::oneshot::channel();
        self.gpu.queue.on_submitted_work_done(move || {
            let _ = tx.send(());
        });
        #[cfg(not(target_arch = "wasm32"))]
        let _ = self.gpu.device.poll(wgpu::PollType::wait_indefinitely());
        rx.await.map_err(|_| Error::DeviceLost("the GPU dropped a profiled submission".into()))?;
        self.gpu.check()
    }

    /// One run with a timestamp before the first and after the last compute pass of every step: two ticks
    /// per step (both 0 for a step without a pass).
    async fn timestamps(&self, plan: &GpuPlan) -> Result<Vec<u64>, Error> {
        let gpu = &self.gpu;
        let count = (2 * plan.steps.len()).max(2) as u32;
        let queries = gpu.device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("profile"),
            ty: wgpu::QueryType::Timestamp,
            count,
        });
        let bytes = u64::from(count) * 8;
        let resolved = gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("profile ticks"),
            size: bytes,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let readback = gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("profile readback"),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder = gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("profile") });
        let mut written = vec![false; count as usize];
        for (s, (_, _, range)) in plan.steps.iter().enumerate() {
            let commands = &plan.commands[range.clone()];
            let passes = commands.iter().filter(|c| matches!(c, Command::Dispatch { .. })).count();
            let mut seen = 0;
            for command in commands {
                match command {
                    Command::Copy { src, dst, bytes } => encoder.copy_buffer_to_buffer(src, 0, dst, 0, *bytes),
                    Command::Dispatch { pipeline, bind_group, groups } => {
                        seen += 1;
                        let (first, last) = (seen == 1, seen == passes);
                        let index = |yes: bool, i: usize| yes.then_some((2 * s + i) as u32);
                        let writes = wgpu::ComputePassTimestampWrites {
                            query_set: &queries,
                            beginning_of_pass_write_index: index(first, 0),
                            end_of_pass_write_index: index(last, 1),
                        };
                        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                            label: None,
                            timestamp_writes: (first || last).then_some(writes),
                        });
                        pass.set_pipeline(pipeline);
                        pass.set_bind_group(0, bind_group, &[]);
                        pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
                        written[2 * s] |= first;
                        written[2 * s + 1] |= last;
                    }
                }
            }
        }
        encoder.resolve_query_set(&queries, 0..count, &resolved, 0);
        encoder.copy_buffer_to_buffer(&resolved, 0, &readback, 0, bytes);
        gpu.queue.submit([encoder.finish()]);
        let (tx, rx) = futures_channel::oneshot::channel();
        readback.slice(..).map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        #[cfg(not(target_arch = "wasm32"))]
        let _ = gpu.device.poll(wgpu::PollType::wait_indefinitely());
        let mapped = rx.await.map_err(|_| Error::DeviceLost("the GPU dropped the profile's readback".into()))?;
        gpu.check()?;
        mapped.map_err(|e| Error::Gpu(format!("reading the profile's timestamps back failed: {e}")))?;
        let ticks = {
            let view = readback
                .slice(..)
                .get_mapped_range()
                .map_err(|e| Error::Gpu(format!("reading the profile's timestamps back failed: {e}")))?;
            view.chunks_exact(8)
                .zip(&written)
                .map(|(b, &w)| if w { u64::from_le_bytes(b.try_into().expect("8 bytes")) } else { 0 })
                .collect()
        };
        readback.unmap();
        readback.destroy();
        resolved.destroy();
        Ok(ticks)
    }

    /// Runs the model and waits for its outputs.
    pub async fn predict(&self, inputs: &[Tensor]) -> Result<Vec<Tensor>, Error> {
        self.submit(inputs)?.outputs().await
    }

    /// Plans, creates every pipeline and buffer, and runs once on zeros with symbolic dimensions set
    /// to 1, so the first real prediction of that shape compiles nothing.
    pub async fn warm_up(&self) -> Result<(), Error> {
        let inputs = self.planner.borrow().warm_up_inputs();
        match inputs {
            Some(inputs) => self.predict(&inputs).await.map(|_| ()),
            None => Ok(()),
        }
    }

    /// The plan for `inputs` on a live device, with the float inputs written into its slots.
    fn plan_with_inputs(&self, inputs: &[Tensor]) -> Result<Rc<GpuPlan>, Error> {
        self.gpu.check()?;
        let plan = self.plan_for(inputs)?;
        for (t, slot) in inputs.iter().zip(&plan.input_slots) {
            if let (Some(slot), Data::F32(v)) = (slot, &t.data) {
                self.gpu.write_f32(&plan.slots[*slot], v);
            }
        }
        Ok(plan)
    }

    fn plan_for(&self, inputs: &[Tensor]) -> Result<Rc<GpuPlan>, Error> {
        let key: Vec<PlanKey> = inputs.iter().map(PlanKey::of).collect();
        if let Some(plan) = self.plans.borrow().iter().find(|p| p.key == key) {
            return Ok(Rc::clone(plan));
        }
        let plan = {
            let mut planner = self.planner.borrow_mut();
            let translated = self.translate(planner.plan(inputs)?);
            Rc::new(translated.map_err(|(node, msg)| {
                let node = &planner.nodes()[node];
                Error::Op { op: node.op.clone(), node: node.name.clone(), msg: format!("webgpu backend: {msg}") }
            })?)
        };
        self.gpu.check()?;
        let mut plans = self.plans.borrow_mut();
        if plans.len() >= PLAN_CACHE {
            plans.remove(0);
        }
        plans.push(Rc::clone(&plan));
        Ok(plan)
    }

    pub(super) fn weight(&self, t: &Arc<Tensor>) -> wgpu::Buffer {
        let key = Arc::as_ptr(t) as usize;
        let mut weights = self.weights.borrow_mut();
        weights.entry(key).or_insert_with(|| (Arc::clone(t), self.gpu.upload_f32("weight", &t.to_f32s()))).1.clone()
    }

    /// The GPU plan for a CPU plan; a step that cannot run fails with its node index and why.
    fn translate(&self, plan: &Plan) -> Result<GpuPlan, (usize, String)> {
        let gpu = &self.gpu;
        let slots: Vec<wgpu::Buffer> = plan.slot_sizes.iter().map(|&n| gpu.storage("slot", n)).collect();
        for (slot, data) in &plan.constants {
            gpu.write_f32(&slots[*slot], data);
        }
        let mut commands = Vec::new();
        let mut steps = Vec::with_capacity(plan.steps.len());
        for step in &plan.steps {
            let start = commands.len();
            self.encode_step(step, &slots, &mut commands).map_err(|msg| (step.node, msg))?;
            steps.push((step.node, step.shape.clone(), start..commands.len()));
        }
        Ok(GpuPlan {
            key: plan.key.clone(),
            commands,
            steps,
            slots,
            input_slots: plan.input_slots.clone(),
            outputs: plan.outputs.clone(),
        })
    }

    fn finish(&self, job: Job) -> Command {
        let gpu = &self.gpu;
        let pipeline = gpu.pipeline(PipelineKey { shader: job.shader, entry: job.entry, constants: job.constants });
        let params = gpu.upload("params", &job.params, wgpu::BufferUsages::STORAGE);
        let (layout, _) = gpu.layout(job.shader);
        let mut entries = vec![
            wgpu::BindGroupEntry { binding: 0, resource: params.as_entire_binding() },
            wgpu::BindGroupEntry { binding: 1, resource: job.out.as_entire_binding() },
        ];
        for &(binding, writable) in job.shader.extra_bindings() {
            let placeholder = match (writable, binding) {
                (false, _) => &gpu.placeholders[0],
                (true, 5) => &gpu.placeholders[1],
                (true, _) => &gpu.placeholders[2],
            };
            let buffer = job.bind.iter().find(|(b, _)| *b == binding).map_or(placeholder, |(_, buf)| *buf);
            entries.push(wgpu::BindGroupEntry { binding, resource: buffer.as_entire_binding() });
        }
        let bind_group = gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(job.entry),
            layout: &layout,
            entries: &entries,
        });
        Command::Dispatch { pipeline, bind_group, groups: job.groups }
    }

    /// Encodes one step with its op family's encoder (beside the family's WGSL).
    fn encode_step(&self, step: &Step, slots: &[wgpu::Buffer], commands: &mut Vec<Command>) -> Result<(), String> {
        let cx = &mut Encoder {
            model: self,
            gpu: &self.gpu,
            step,
            slots,
            ins: step.reads.iter().map(|&(s, _)| &slots[s]).collect(),
            in_len: step.reads.iter().map(|&(_, n)| n).collect(),
            out: &slots[step.writes[0].0],
            n: step.writes[0].1,
            commands,
        };
        if cx.n == 0 && !matches!(step.kernel, Kernel::Split { .. }) {
            return Ok(());
        }
        match &step.kernel {
            Kernel::Unary(op) => elementwise::unary(cx, *op),
            Kernel::Binary(op, bc) => elementwise::binary(cx, *op, bc),
            Kernel::Where(shape, shapes) => elementwise::where_select(cx, shape, shapes),
            Kernel::ChannelAffine { scale, shift, inner } => elementwise::channel_affine(cx, scale, shift, *inner),
            Kernel::BatchNormRuntime { eps, inner } => elementwise::batchnorm(cx, *eps, *inner),
            Kernel::ClipRuntime { has_min, has_max } => elementwise::clip(cx, *has_min, *has_max),
            Kernel::Map(map) => layout::map(cx, map, false),
            Kernel::MapRuntimePad(map) => layout::map(cx, map, true),
            Kernel::Copy => layout::copy(cx),
            Kernel::Concat { outer, blocks } => layout::concat(cx, *outer, blocks),
            Kernel::Split { outer, block, parts } => layout::split(cx, *outer, *block, parts),
            Kernel::MatMul(mm) => gemm::matmul(cx, mm),
            Kernel::Conv(c) => conv::conv(cx, c),
            Kernel::ConvTranspose(ct) => conv::conv_transpose(cx, ct),
            Kernel::Pool(p) => pool::pool(cx, p),
            Kernel::GlobalPool { inner, max } => pool::global_pool(cx, *inner, *max),
            Kernel::Softmax { outer, len, inner, log } => norm::softmax(cx, *outer, *len, *inner, *log),
            Kernel::Normalize { inner, eps, per_element, scale_bias } => {
                norm::normalize(cx, *inner, *eps, *per_element, scale_bias.as_ref())
            }
            Kernel::LayerNormRuntime { inner, eps, scale_map, bias_map } => {
                norm::layer_norm_runtime(cx, *inner, *eps, scale_map, bias_map.as_ref())
            }
            Kernel::Reduce(r) => reduce::reduce(cx, r),
        }
    }
}

/// The readback buffer is destroyed with the prediction, read or not: dropping a buffer's handle alone leaves the
/// browser's GPUBuffer to the garbage collector, one per prediction.
impl Drop for PendingPrediction {
    fn drop(&mut self) {
        if let Some(staging) = &self.staging {
            staging.destroy();
        }
    }
}

/// Records `commands` into `encoder`: consecutive dispatches share one compute pass.
fn encode(encoder: &mut wgpu::CommandEncoder, commands: &[Command]) {
    let mut i = 0;
    while i < commands.len() {
        if let Command::Copy { src, dst, bytes } = &commands[i] {
            encoder.copy_buffer_to_buffer(src, 0, dst, 0, *bytes);
            i += 1;
            continue;
        }
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: None, timestamp_writes: None });
        while let Some(Command::Dispatch { pipeline, bind_group, groups }) = commands.get(i) {
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, bind_group, &[]);
            pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
            i += 1;
        }
    }
}

impl PendingPrediction {
    /// Waits for the GPU and reads the outputs back (asynchronously on the web).
    pub async fn outputs(mut self) -> Result<Vec<Tensor>, Error> {
        #[cfg(not(target_arch = "wasm32"))]
        if self.staging.is_some() {
            let _ = self.gpu.device.poll(wgpu::PollType::wait_indefinitely());
        }
        let mapped = (&mut self.mapped).await.map_err(|_| Error::DeviceLost("the GPU dropped a readback".into()))?;
        if let Err(e) = mapped {
            self.gpu.check()?;
            return Err(Error::Gpu(format!("reading outputs back failed: {e}")));
        }
        self.gpu.check()?;
        let bytes = match &self.staging {
            Some(staging) => {
                let view = staging
                    .slice(..)
                    .get_mapped_range()
                    .map_err(|e| Error::Gpu(format!("reading outputs back failed: {e}")))?;
                let bytes = view.to_vec();
                drop(view);
                staging.unmap();
                bytes
            }
            None => Vec::new(),
        };
        Ok(std::mem::take(&mut self.outputs)
            .into_iter()
            .map(|o| match o {
                PendingOutput::Known(t) => t,
                PendingOutput::Staged { offset, shape } => {
                    let len: usize = shape.iter().product();
                    Tensor::f32(shape, floats_from_bytes(&bytes[offset..offset + len * 4]))
                }
            })
            .collect())
    }
}
