//! Translating the engine's plans into GPU dispatches, and running them.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use super::{codes, floats_from_bytes, Gpu, PipelineKey, Shader};
use crate::ops::conv::Window;
use crate::ops::gemm::Activation;
use crate::ops::reduce::ReduceKind;
use crate::ops::{Kernel, MatBias};
use crate::plan::{Plan, PlanKey, Source, Step, PLAN_CACHE};
use crate::tensor::{broadcast_strides, Data, Tensor};
use crate::{Error, Model};

/// Workgroup width of the 1-D kernels.
const WG: usize = 256;
/// Output tile of the GEMM kernel.
const TILE: usize = 64;

enum Command {
    Dispatch { pipeline: wgpu::ComputePipeline, bind_group: wgpu::BindGroup, groups: [u32; 3] },
    Copy { src: wgpu::Buffer, dst: wgpu::Buffer, bytes: u64 },
}

struct GpuPlan {
    key: Vec<PlanKey>,
    commands: Vec<Command>,
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

/// One kernel dispatch being assembled.
struct Job<'a> {
    shader: Shader,
    entry: &'static str,
    constants: Vec<(&'static str, u64)>,
    params: Vec<u32>,
    out: &'a wgpu::Buffer,
    /// (binding, buffer) for bindings 2 and up.
    bind: Vec<(u32, &'a wgpu::Buffer)>,
    groups: [u32; 3],
}

fn grid(workgroups: usize) -> [u32; 3] {
    let x = workgroups.clamp(1, 65535);
    [x as u32, workgroups.div_ceil(x).max(1) as u32, 1]
}

fn bits(v: f32) -> u32 {
    v.to_bits()
}

fn constant(name: &'static str, v: u32) -> (&'static str, u64) {
    (name, (v as f64).to_bits())
}

fn u32s(values: &[usize]) -> Vec<u32> {
    values.iter().map(|&v| v as u32).collect()
}

fn window_params(w: &Window) -> [u32; 12] {
    [w.h, w.w, w.kh, w.kw, w.sh, w.sw, w.dh, w.dw, w.pt, w.pl, w.oh, w.ow].map(|v| v as u32)
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
        self.gpu.check()?;
        let plan = self.plan_for(inputs)?;
        let gpu = &self.gpu;
        for (t, slot) in inputs.iter().zip(&plan.input_slots) {
            if let (Some(slot), Data::F32(v)) = (slot, &t.data) {
                gpu.write_f32(&plan.slots[*slot], v);
            }
        }
        let mut encoder = gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("predict") });
        let mut i = 0;
        while i < plan.commands.len() {
            if let Command::Copy { src, dst, bytes } = &plan.commands[i] {
                encoder.copy_buffer_to_buffer(src, 0, dst, 0, *bytes);
                i += 1;
                continue;
            }
            let mut pass =
                encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: None, timestamp_writes: None });
            while let Some(Command::Dispatch { pipeline, bind_group, groups }) = plan.commands.get(i) {
                pass.set_pipeline(pipeline);
                pass.set_bind_group(0, bind_group, &[]);
                pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
                i += 1;
            }
        }
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

    fn weight(&self, t: &Arc<Tensor>) -> wgpu::Buffer {
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
        for step in &plan.steps {
            self.encode_step(step, &slots, &mut commands).map_err(|msg| (step.node, msg))?;
        }
        Ok(GpuPlan {
            key: plan.key.clone(),
            commands,
            slots,
            input_slots: plan.input_slots.clone(),
            outputs: plan.outputs.clone(),
        })
    }

    fn finish(&self, job: Job) -> Command {
        let gpu = &self.gpu;
        let pipeline = gpu.pipeline(PipelineKey { shader: job.shader, entry: job.entry, constants: job.constants });
        let params = gpu.upload_u32("params", &job.params);
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

    /// A 1-D job of `n` invocations on `WG`-wide workgroups.
    #[allow(clippy::too_many_arguments)]
    fn flat(
        &self,
        shader: Shader,
        entry: &'static str,
        constants: Vec<(&'static str, u64)>,
        params: Vec<u32>,
        out: &wgpu::Buffer,
        bind: Vec<(u32, &wgpu::Buffer)>,
        n: usize,
    ) -> Command {
        self.finish(Job { shader, entry, constants, params, out, bind, groups: grid(n.div_ceil(WG)) })
    }

    fn encode_step(&self, step: &Step, slots: &[wgpu::Buffer], commands: &mut Vec<Command>) -> Result<(), String> {
        let gpu = &self.gpu;
        let ins: Vec<&wgpu::Buffer> = step.reads.iter().map(|&(s, _)| &slots[s]).collect();
        let in_len: Vec<usize> = step.reads.iter().map(|&(_, n)| n).collect();
        let out = &slots[step.writes[0].0];
        let n = step.writes[0].1;
        if n == 0 && !matches!(step.kernel, Kernel::Split { .. }) {
            return Ok(());
        }
        match &step.kernel {
            Kernel::Unary(op) => {
                let (code, a, b) = codes::unary(*op);
                commands.push(self.flat(
                    Shader::Elementwise,
                    "unary",
                    vec![constant("OP", code)],
                    vec![n as u32, bits(a), bits(b)],
                    out,
                    vec![(2, ins[0])],
                    n,
                ));
            }
            Kernel::Binary(op, bc) => {
                let mut params = vec![n as u32, bc.out.len() as u32];
                params.extend(u32s(&bc.out));
                params.extend(u32s(&bc.a_strides));
                params.extend(u32s(&bc.b_strides));
                commands.push(self.flat(
                    Shader::Elementwise,
                    "binary",
                    vec![constant("OP", codes::binary(*op))],
                    params,
                    out,
                    vec![(2, ins[0]), (3, ins[1])],
                    n,
                ));
            }
            Kernel::Where(shape, shapes) => {
                let mut params = vec![n as u32, shape.len() as u32];
                params.extend(u32s(shape));
                for s in shapes {
                    params.extend(u32s(&broadcast_strides(s, shape)));
                }
                commands.push(self.flat(
                    Shader::Elementwise,
                    "where_select",
                    Vec::new(),
                    params,
                    out,
                    vec![(2, ins[0]), (3, ins[1]), (4, ins[2])],
                    n,
                ));
            }
            Kernel::Map(map) | Kernel::MapRuntimePad(map) => {
                let index = gpu.upload_u32("index map", &map.map);
                let runtime = matches!(step.kernel, Kernel::MapRuntimePad(_));
                let mut bind = vec![(2, ins[0]), (3, &index)];
                if runtime {
                    bind.push((4, ins[1]));
                }
                commands.push(self.flat(
                    Shader::Layout,
                    "gather",
                    Vec::new(),
                    vec![n as u32, bits(map.pad), runtime as u32],
                    out,
                    bind,
                    n,
                ));
            }
            Kernel::Copy => commands.push(Command::Copy { src: ins[0].clone(), dst: out.clone(), bytes: n as u64 * 4 }),
            Kernel::Concat { outer, blocks } => {
                let total: usize = blocks.iter().sum();
                let mut offset = 0;
                for (i, &block) in blocks.iter().enumerate() {
                    if block > 0 && *outer > 0 {
                        let params = u32s(&[outer * block, block, block, 0, total, offset]);
                        commands.push(self.flat(
                            Shader::Layout,
                            "copy_block",
                            Vec::new(),
                            params,
                            out,
                            vec![(2, ins[i])],
                            outer * block,
                        ));
                    }
                    offset += block;
                }
            }
            Kernel::Split { outer, block, parts } => {
                let mut offset = 0;
                for (&(slot, _), &part) in step.writes.iter().zip(parts) {
                    if part > 0 && *outer > 0 {
                        let params = u32s(&[outer * part, part, *block, offset, part, 0]);
                        commands.push(self.flat(
                            Shader::Layout,
                            "copy_block",
                            Vec::new(),
                            params,
                            &slots[slot],
                            vec![(2, ins[0])],
                            outer * part,
                        ));
                    }
                    offset += part;
                }
            }
            Kernel::MatMul(mm) => {
                let fused_act = if matches!(mm.bias, MatBias::Broadcast { .. }) { Activation::None } else { mm.act };
                let b = match &mm.b_const {
                    Some(panel) => self.weight(&panel.source),
                    None => ins[1].clone(),
                };
                let bias = match &mm.bias {
                    MatBias::Col(v) => Some(gpu.upload_f32("bias", v)),
                    _ => None,
                };
                if mm.batches.len() > 65535 {
                    return Err(format!(
                        "{} matrix products in one MatMul exceed the 65535 a dispatch allows",
                        mm.batches.len()
                    ));
                }
                let mut params =
                    u32s(&[mm.m, mm.n, mm.k, mm.a_strides.0, mm.a_strides.1, mm.b_strides.0, mm.b_strides.1]);
                params.push(bits(mm.alpha));
                params.push(bias.is_some() as u32);
                params.resize(16, 0);
                for &(a, b, c) in &mm.batches {
                    params.extend(u32s(&[a, b, c]));
                }
                let mut bind = vec![(2, ins[0]), (3, &b)];
                if let Some(bias) = &bias {
                    bind.push((4, bias));
                }
                let groups =
                    [mm.n.div_ceil(TILE).max(1) as u32, mm.m.div_ceil(TILE).max(1) as u32, mm.batches.len() as u32];
                let mut constants = vec![constant("CONV", 0)];
                constants.extend(codes::activation(fused_act));
                commands.push(self.finish(Job {
                    shader: Shader::Gemm,
                    entry: "gemm",
                    constants,
                    params,
                    out,
                    bind,
                    groups,
                }));
                if let MatBias::Broadcast { beta, map, constant: c } = &mm.bias {
                    let src = match c {
                        Some(values) => gpu.upload_f32("gemm C", values),
                        None => ins[ins.len() - 1].clone(),
                    };
                    let index = gpu.upload_u32("gemm C map", &map.map);
                    commands.push(self.flat(
                        Shader::Layout,
                        "add_gathered",
                        codes::activation(mm.act),
                        vec![n as u32, bits(*beta)],
                        out,
                        vec![(2, &src), (3, &index)],
                        n,
                    ));
                }
            }
            Kernel::Conv(conv) => {
                let g = conv.geometry;
                let (weights, bias) = match &conv.constant {
                    Some((w, b)) => (self.weight(w), Some(gpu.upload_f32("conv bias", b))),
                    None => (ins[1].clone(), ins.get(2).map(|b| (*b).clone())),
                };
                let w = &g.win;
                let mut constants = codes::activation(conv.act);
                let mut bind = vec![(2, ins[0]), (3, &weights)];
                if let Some(bias) = &bias {
                    bind.push((4, bias));
                }
                if g.group == g.c_in && g.group == g.c_out && g.group > 1 {
                    let mut params = vec![n as u32, g.c_in as u32];
                    params.extend(window_params(w));
                    params.push(bias.is_some() as u32);
                    commands.push(self.flat(Shader::Conv, "depthwise", constants, params, out, bind, n));
                } else {
                    let (cig, cog) = (g.c_in / g.group, g.c_out / g.group);
                    let (m, cols, k) = (cog, w.oh * w.ow, cig * w.kh * w.kw);
                    if g.n * g.group > 65535 {
                        return Err(format!("batch {} × {} groups exceeds the 65535 a dispatch allows", g.n, g.group));
                    }
                    let params = u32s(&[
                        m,
                        cols,
                        k,
                        cig,
                        w.h,
                        w.w,
                        w.kh,
                        w.kw,
                        w.sh,
                        w.sw,
                        w.dh,
                        w.dw,
                        w.pt,
                        w.pl,
                        w.ow,
                        g.group,
                        g.c_in,
                        g.c_out,
                        bias.is_some() as usize,
                    ]);
                    constants.push(constant("CONV", 1));
                    let groups =
                        [cols.div_ceil(TILE).max(1) as u32, m.div_ceil(TILE).max(1) as u32, (g.n * g.group) as u32];
                    commands.push(self.finish(Job {
                        shader: Shader::Gemm,
                        entry: "gemm",
                        constants,
                        params,
                        out,
                        bind,
                        groups,
                    }));
                }
            }
            Kernel::ConvTranspose(ct) => {
                let (weights, bias) = if ins.len() == 1 {
                    (
                        gpu.upload_f32("conv-transpose weights", &ct.weights),
                        Some(gpu.upload_f32("conv-transpose bias", &ct.bias)),
                    )
                } else {
                    (ins[1].clone(), ins.get(2).map(|b| (*b).clone()))
                };
                let w = &ct.win;
                let params = u32s(&[
                    n,
                    ct.c_in,
                    ct.c_out,
                    ct.group,
                    w.h,
                    w.w,
                    w.kh,
                    w.kw,
                    w.sh,
                    w.sw,
                    w.dh,
                    w.dw,
                    w.pt,
                    w.pl,
                    w.oh,
                    w.ow,
                    bias.is_some() as usize,
                ]);
                let mut bind = vec![(2, ins[0]), (3, &weights)];
                if let Some(bias) = &bias {
                    bind.push((4, bias));
                }
                commands.push(self.flat(Shader::Conv, "conv_transpose", Vec::new(), params, out, bind, n));
            }
            Kernel::Pool(p) => {
                let mut params = vec![n as u32];
                params.extend(window_params(&p.win));
                params.extend(u32s(&[p.max as usize, p.count_include_pad as usize, p.pb, p.pr]));
                commands.push(self.flat(Shader::Pool, "pool", Vec::new(), params, out, vec![(2, ins[0])], n));
            }
            Kernel::GlobalPool { inner, max } => {
                let params = u32s(&[n, *inner, *max as usize]);
                commands.push(self.finish(Job {
                    shader: Shader::Pool,
                    entry: "global_pool",
                    constants: Vec::new(),
                    params,
                    out,
                    bind: vec![(2, ins[0])],
                    groups: grid(n),
                }));
            }
            Kernel::ChannelAffine { scale, shift, inner } => {
                let (s, b) = (gpu.upload_f32("scale", scale), gpu.upload_f32("shift", shift));
                let params = u32s(&[n, (*inner).max(1), scale.len().max(1)]);
                commands.push(self.flat(
                    Shader::Elementwise,
                    "channel_affine",
                    Vec::new(),
                    params,
                    out,
                    vec![(2, ins[0]), (3, &s), (4, &b)],
                    n,
                ));
            }
            Kernel::BatchNormRuntime { eps, inner } => {
                let params = vec![n as u32, (*inner).max(1) as u32, in_len[1].max(1) as u32, bits(*eps)];
                let bind = vec![(2, ins[0]), (3, ins[1]), (4, ins[2]), (5, ins[3]), (6, ins[4])];
                commands.push(self.flat(Shader::Elementwise, "batchnorm", Vec::new(), params, out, bind, n));
            }
            Kernel::ClipRuntime { has_min, has_max } => {
                let mut bind = vec![(2, ins[0])];
                if *has_min {
                    bind.push((3, ins[1]));
                }
                if *has_max {
                    bind.push((4, ins[ins.len() - 1]));
                }
                commands.push(self.flat(
                    Shader::Elementwise,
                    "clip",
                    Vec::new(),
                    u32s(&[n, *has_min as usize, *has_max as usize]),
                    out,
                    bind,
                    n,
                ));
            }
            Kernel::Softmax { outer, len, inner, log } => {
                let lines = outer * inner;
                let params = u32s(&[lines, *len, (*inner).max(1), *log as usize]);
                commands.push(self.finish(Job {
                    shader: Shader::Norm,
                    entry: "softmax",
                    constants: Vec::new(),
                    params,
                    out,
                    bind: vec![(2, ins[0])],
                    groups: grid(lines),
                }));
            }
            Kernel::Normalize { inner, eps, per_element, scale_bias } => {
                let owned;
                let (scale, bias, channels): (Option<&wgpu::Buffer>, Option<&wgpu::Buffer>, usize) = match scale_bias {
                    Some((s, b)) => {
                        owned = (gpu.upload_f32("norm scale", s), gpu.upload_f32("norm bias", b));
                        (Some(&owned.0).filter(|_| !s.is_empty()), Some(&owned.1).filter(|_| !b.is_empty()), s.len())
                    }
                    None => (ins.get(1).copied(), ins.get(2).copied(), in_len.get(1).copied().unwrap_or(0)),
                };
                self.normalize(step, slots, ins[0], scale, bias, channels, *inner, *eps, *per_element, commands);
            }
            Kernel::LayerNormRuntime { inner, eps, scale_map, bias_map } => {
                let scale = gpu.storage("layer-norm scale", *inner);
                let index = gpu.upload_u32("layer-norm scale map", &scale_map.map);
                commands.push(self.flat(
                    Shader::Layout,
                    "gather",
                    Vec::new(),
                    vec![*inner as u32, 0, 0],
                    &scale,
                    vec![(2, ins[1]), (3, &index)],
                    *inner,
                ));
                let bias = bias_map.as_ref().map(|m| {
                    let bias = gpu.storage("layer-norm bias", *inner);
                    let index = gpu.upload_u32("layer-norm bias map", &m.map);
                    commands.push(self.flat(
                        Shader::Layout,
                        "gather",
                        Vec::new(),
                        vec![*inner as u32, 0, 0],
                        &bias,
                        vec![(2, ins[2]), (3, &index)],
                        *inner,
                    ));
                    bias
                });
                self.normalize(step, slots, ins[0], Some(&scale), bias.as_ref(), *inner, *inner, *eps, true, commands);
            }
            Kernel::Reduce(r) => {
                if r.bases.is_empty() {
                    return Ok(());
                }
                let bases = gpu.upload_u32("reduce bases", &u32s(&r.bases));
                let offsets = gpu.upload_u32("reduce offsets", &u32s(&r.offsets));
                let params = u32s(&[r.bases.len(), r.offsets.len()]);
                let mut constants = vec![constant("KIND", codes::reduce(r.kind))];
                let (entry, groups) = match r.kind {
                    ReduceKind::ArgMax { last } | ReduceKind::ArgMin { last } => {
                        constants.push(constant("LAST", last as u32));
                        ("arg_reduce", grid(r.bases.len().div_ceil(WG)))
                    }
                    _ => ("reduce", grid(r.bases.len())),
                };
                let job = Job {
                    shader: Shader::Reduce,
                    entry,
                    constants,
                    params,
                    out,
                    bind: vec![(2, ins[0]), (3, &bases), (4, &offsets)],
                    groups,
                };
                commands.push(self.finish(job));
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn normalize(
        &self,
        step: &Step,
        slots: &[wgpu::Buffer],
        x: &wgpu::Buffer,
        scale: Option<&wgpu::Buffer>,
        bias: Option<&wgpu::Buffer>,
        channels: usize,
        inner: usize,
        eps: f32,
        per_element: bool,
        commands: &mut Vec<Command>,
    ) {
        let groups = step.writes[0].1 / inner.max(1);
        let stats = step.writes.len() >= 3;
        let params = vec![
            groups as u32,
            inner as u32,
            bits(eps),
            channels.max(1) as u32,
            per_element as u32,
            scale.is_some() as u32,
            bias.is_some() as u32,
            stats as u32,
        ];
        let mut bind = vec![(2, x)];
        if let Some(s) = scale {
            bind.push((3, s));
        }
        if let Some(b) = bias {
            bind.push((4, b));
        }
        if stats {
            bind.push((5, &slots[step.writes[1].0]));
            bind.push((6, &slots[step.writes[2].0]));
        }
        let job = Job {
            shader: Shader::Norm,
            entry: "normalize",
            constants: Vec::new(),
            params,
            out: &slots[step.writes[0].0],
            bind,
            groups: grid(groups),
        };
        commands.push(self.finish(job));
    }
}

impl PendingPrediction {
    /// Waits for the GPU and reads the outputs back (asynchronously on the web).
    pub async fn outputs(self) -> Result<Vec<Tensor>, Error> {
        #[cfg(not(target_arch = "wasm32"))]
        if self.staging.is_some() {
            let _ = self.gpu.device.poll(wgpu::PollType::wait_indefinitely());
        }
        let mapped = self.mapped.await.map_err(|_| Error::DeviceLost("the GPU dropped a readback".into()))?;
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
        Ok(self
            .outputs
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
