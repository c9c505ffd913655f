//! Encoders for layout.wgsl: gathers through planned index maps (Transpose, Slice, Gather, Pad, Expand,
//! Tile, ...), block copies (Concat, Split), and buffer copies.

use super::params::{gpu_params, u};
use super::plan::{Encoder, Job};
use super::Shader;
use crate::ops::layout::IndexMap;

gpu_params! {
    /// `gather`: out[i] = in0[map[i]], or the pad value where the map says PAD (from `pad_value[0]`
    /// when `runtime_pad` is set, else `pad`).
    pub struct GatherParams {
        n: u32,
        pad: f32,
        runtime_pad: u32,
    }
}

gpu_params! {
    /// `copy_block`: out[o * dst_stride + dst_offset + j] = in0[o * src_stride + src_offset + j] for
    /// j < block, over n = outer * block invocations.
    pub struct CopyBlockParams {
        n: u32,
        block: u32,
        src_stride: u32,
        src_offset: u32,
        dst_stride: u32,
        dst_offset: u32,
    }
}

gpu_params! {
    /// `add_gathered` (Gemm's broadcast C term): out[i] = activate(out[i] + beta * in0[map[i]]).
    pub struct AddGatheredParams {
        n: u32,
        beta: f32,
    }
}

impl CopyBlockParams {
    /// Copies `outer` blocks of `block` values from (src_stride, src_offset) to (dst_stride, dst_offset).
    pub fn new(outer: usize, block: usize, (src_stride, src_offset): (usize, usize), dst: (usize, usize)) -> Self {
        CopyBlockParams {
            n: u(outer * block),
            block: u(block),
            src_stride: u(src_stride),
            src_offset: u(src_offset),
            dst_stride: u(dst.0),
            dst_offset: u(dst.1),
        }
    }
}

/// Map and MapRuntimePad (which reads its pad value from input 1).
pub(super) fn map(cx: &mut Encoder, map: &IndexMap, runtime_pad: bool) -> Result<(), String> {
    let index = cx.gpu.upload_u32("index map", &map.map);
    let params = GatherParams { n: u(cx.n), pad: map.pad, runtime_pad: runtime_pad as u32 };
    let mut job = Job::new(Shader::Layout, "gather", &params, cx.out).bind(2, cx.ins[0]).bind(3, &index);
    if runtime_pad {
        job = job.bind(4, cx.ins[1]);
    }
    cx.flat(job);
    Ok(())
}

/// Gathers `len` values of `src` through `map` into `dst` (no padding).
pub(super) fn gather_into(cx: &mut Encoder, src: &wgpu::Buffer, map: &IndexMap, dst: &wgpu::Buffer, len: usize) {
    let index = cx.gpu.upload_u32("index map", &map.map);
    let params = GatherParams { n: u(len), pad: 0.0, runtime_pad: 0 };
    cx.flat_n(Job::new(Shader::Layout, "gather", &params, dst).bind(2, src).bind(3, &index), len);
}

pub(super) fn copy(cx: &mut Encoder) -> Result<(), String> {
    cx.copy(cx.ins[0], cx.out, cx.n as u64 * 4);
    Ok(())
}

pub(super) fn concat(cx: &mut Encoder, outer: usize, blocks: &[usize]) -> Result<(), String> {
    let total: usize = blocks.iter().sum();
    let mut offset = 0;
    for (i, &block) in blocks.iter().enumerate() {
        if block > 0 && outer > 0 {
            let params = CopyBlockParams::new(outer, block, (block, 0), (total, offset));
            cx.flat_n(Job::new(Shader::Layout, "copy_block", &params, cx.out).bind(2, cx.ins[i]), outer * block);
        }
        offset += block;
    }
    Ok(())
}

pub(super) fn split(cx: &mut Encoder, outer: usize, block: usize, parts: &[usize]) -> Result<(), String> {
    let mut offset = 0;
    for (&(slot, _), &part) in cx.step.writes.iter().zip(parts) {
        if part > 0 && outer > 0 {
            let params = CopyBlockParams::new(outer, part, (block, offset), (part, 0));
            let dst = &cx.slots[slot];
            cx.flat_n(Job::new(Shader::Layout, "copy_block", &params, dst).bind(2, cx.ins[0]), outer * part);
        }
        offset += part;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::params::tests::check;

    #[test]
    fn params_match_their_wgsl_structs() {
        check::<GatherParams>();
        check::<CopyBlockParams>();
        check::<AddGatheredParams>();
        assert_eq!(std::mem::offset_of!(GatherParams, pad), 4);
    }

    #[test]
    fn a_concat_block_lands_at_its_offset() {
        let p = CopyBlockParams::new(2, 3, (3, 0), (5, 2));
        let expected = CopyBlockParams { n: 6, block: 3, src_stride: 3, src_offset: 0, dst_stride: 5, dst_offset: 2 };
        assert_eq!(p, expected);
    }
}
