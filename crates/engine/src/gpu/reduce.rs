//! Encoder for reduce.wgsl: reductions over planned offsets, one workgroup per output element; ArgMax and
//! ArgMin, one invocation per output element.

use super::codes;
use super::params::{gpu_params, u};
use super::plan::{constant, grid, Encoder, Job};
use super::Shader;
use crate::ops::reduce::{Reduce, ReduceKind};

gpu_params! {
    /// `reduce`: output o reduces in0[bases[o] + offsets[j]] over j < count (bases and offsets are
    /// bindings 3 and 4).
    pub struct ReduceParams {
        outputs: u32,
        count: u32,
    }
}

pub(super) fn reduce(cx: &mut Encoder, r: &Reduce) -> Result<(), String> {
    if r.bases.is_empty() {
        return Ok(());
    }
    let words = |v: &[usize]| v.iter().map(|&x| u(x)).collect::<Vec<u32>>();
    let bases = cx.gpu.upload_u32("reduce bases", &words(&r.bases));
    let offsets = cx.gpu.upload_u32("reduce offsets", &words(&r.offsets));
    let params = ReduceParams { outputs: u(r.bases.len()), count: u(r.offsets.len()) };
    let kind = constant("KIND", codes::reduce(r.kind));
    let (entry, constants, arg) = match r.kind {
        ReduceKind::ArgMax { last } | ReduceKind::ArgMin { last } => {
            ("arg_reduce", vec![kind, constant("LAST", last as u32)], true)
        }
        _ => ("reduce", vec![kind], false),
    };
    let job = Job::new(Shader::Reduce, entry, &params, cx.out)
        .constants(constants)
        .bind(2, cx.ins[0])
        .bind(3, &bases)
        .bind(4, &offsets);
    if arg {
        cx.flat_n(job, r.bases.len());
    } else {
        cx.dispatch(job.groups(grid(r.bases.len())));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::params::tests::check;

    #[test]
    fn params_match_their_wgsl_structs() {
        check::<ReduceParams>();
        assert_eq!(std::mem::size_of::<ReduceParams>(), 8);
    }
}
