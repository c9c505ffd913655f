//! Encoders for pool.wgsl: windowed max/average pooling and global pools.

use super::conv::WindowParams;
use super::params::{gpu_params, u};
use super::plan::{grid, Encoder, Job};
use super::Shader;
use crate::ops::pool::Pool;

gpu_params! {
    /// `pool`: one output per invocation; the end pads count toward the divisor when
    /// `count_include_pad` is set.
    pub struct PoolParams {
        n: u32,
        is_max: u32,
        count_include_pad: u32,
        pad_bottom: u32,
        pad_right: u32,
        win: WindowParams,
    }
}

gpu_params! {
    /// `global_pool`: one workgroup per plane of `inner` values.
    pub struct GlobalPoolParams {
        planes: u32,
        inner: u32,
        is_max: u32,
    }
}

impl PoolParams {
    pub fn new(n: usize, p: &Pool) -> Self {
        PoolParams {
            n: u(n),
            is_max: p.max as u32,
            count_include_pad: p.count_include_pad as u32,
            pad_bottom: u(p.pb),
            pad_right: u(p.pr),
            win: (&p.win).into(),
        }
    }
}

pub(super) fn pool(cx: &mut Encoder, p: &Pool) -> Result<(), String> {
    let params = PoolParams::new(cx.n, p);
    cx.flat(Job::new(Shader::Pool, "pool", &params, cx.out).bind(2, cx.ins[0]));
    Ok(())
}

pub(super) fn global_pool(cx: &mut Encoder, inner: usize, max: bool) -> Result<(), String> {
    let params = GlobalPoolParams { planes: u(cx.n), inner: u(inner), is_max: max as u32 };
    cx.dispatch(Job::new(Shader::Pool, "global_pool", &params, cx.out).bind(2, cx.ins[0]).groups(grid(cx.n)));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::params::tests::check;
    use crate::ops::conv::Window;

    #[test]
    fn params_match_their_wgsl_structs() {
        check::<PoolParams>();
        check::<GlobalPoolParams>();
        assert_eq!(std::mem::offset_of!(PoolParams, win), 20);
    }

    #[test]
    fn a_pool_carries_its_window_and_end_pads() {
        let win = Window { h: 4, w: 4, kh: 2, kw: 2, sh: 2, sw: 2, dh: 1, dw: 1, pt: 0, pl: 0, oh: 2, ow: 2 };
        let p = Pool { planes: 3, win, max: false, count_include_pad: true, pb: 1, pr: 0 };
        let params = PoolParams::new(12, &p);
        assert_eq!((params.n, params.is_max, params.count_include_pad, params.pad_bottom), (12, 0, 1, 1));
        assert_eq!(params.win, WindowParams::from(&win));
    }
}
