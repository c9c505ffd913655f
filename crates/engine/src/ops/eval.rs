//! Plan-time evaluation: a kernel whose inputs are all known runs once while planning (float32 through the
//! CPU kernel; int64 for shape arithmetic), so its outputs become constants on every backend.

use super::elementwise::{self, Unary};
use super::layout;
use super::params::op_err;
use super::reduce::ReduceKind;
use super::Kernel;
use crate::json::Node;
use crate::tensor::{Data, Tensor};
use crate::Error;

impl Kernel {
    /// Evaluates on float32 copies of integer inputs (mixed int/float arithmetic, int ops with a float kernel).
    fn eval_as_float(&self, node: &Node, ins: &[&Tensor], out_shapes: &[Vec<usize>]) -> Result<Vec<Tensor>, Error> {
        let floats: Vec<Tensor> = ins.iter().map(|t| Tensor::f32(t.shape.clone(), t.to_f32s())).collect();
        self.eval(node, &floats.iter().collect::<Vec<_>>(), out_shapes)
    }

    /// Evaluates at plan time on known values (float32 through `run`; int64 for shape arithmetic).
    pub fn eval(&self, node: &Node, ins: &[&Tensor], out_shapes: &[Vec<usize>]) -> Result<Vec<Tensor>, Error> {
        if node.op == "Cast" && !ins[0].is_float() {
            let v = &ins[0];
            return Ok(vec![match node.string("to").unwrap_or("float32") {
                "float32" | "float16" | "bfloat16" | "float64" => Tensor::f32(v.shape.clone(), v.to_f32s()),
                "bool" => Tensor::i64(v.shape.clone(), v.to_i64s().iter().map(|&x| i64::from(x != 0)).collect()),
                _ => (*v).clone(),
            }]);
        }
        if ins.iter().all(|t| t.is_float()) {
            let data: Vec<Vec<f32>> = ins.iter().map(|t| t.to_f32s()).collect();
            let refs: Vec<&[f32]> = data.iter().map(Vec::as_slice).collect();
            let mut outs: Vec<Vec<f32>> = out_shapes.iter().map(|s| vec![0.0; s.iter().product()]).collect();
            let mut out_refs: Vec<&mut [f32]> = outs.iter_mut().map(Vec::as_mut_slice).collect();
            self.run(&refs, &mut out_refs, &mut Vec::new());
            let to_int = match self {
                Kernel::Unary(Unary::Trunc | Unary::NonZero) => true,
                Kernel::Reduce(r) => matches!(r.kind, ReduceKind::ArgMax { .. } | ReduceKind::ArgMin { .. }),
                _ => false,
            };
            return Ok(outs
                .into_iter()
                .zip(out_shapes)
                .map(|(v, s)| {
                    if to_int {
                        Tensor::i64(s.clone(), v.iter().map(|&x| x as i64).collect())
                    } else {
                        Tensor::f32(s.clone(), v)
                    }
                })
                .collect());
        }
        let ints: Vec<Vec<i64>> = ins.iter().map(|t| t.to_i64s()).collect();
        let one = |v: Vec<i64>| Ok(vec![Tensor::i64(out_shapes[0].clone(), v)]);
        match self {
            Kernel::Unary(Unary::Clip(..) | Unary::Relu) | Kernel::Pool(_) | Kernel::ClipRuntime { .. }
                if ints.iter().flatten().all(|v| v.unsigned_abs() < 1 << 24) =>
            {
                let outs = self.eval_as_float(node, ins, out_shapes)?;
                Ok(outs.into_iter().map(|t| Tensor::i64(t.shape.clone(), t.to_i64s())).collect())
            }
            Kernel::Unary(u) => match u {
                Unary::Identity | Unary::Trunc => one(ints[0].clone()),
                Unary::NonZero | Unary::Not => {
                    one(ints[0].iter().map(|&v| i64::from((v != 0) != (*u == Unary::Not))).collect())
                }
                Unary::Neg => one(ints[0].iter().map(|v| -v).collect()),
                Unary::Abs => one(ints[0].iter().map(|v| v.abs()).collect()),
                Unary::Sign => one(ints[0].iter().map(|v| v.signum()).collect()),
                _ => Err(op_err(node, "is not defined on int64 values")),
            },
            Kernel::Binary(op, bc) if ins.iter().all(|t| !t.is_float()) => {
                let mut out = vec![0; out_shapes[0].iter().product()];
                let op = *op;
                bc.run(&ints[0], &ints[1], &mut out, |a, b| op.i64(a, b));
                one(out)
            }
            Kernel::Binary(..) if matches!(node.op.as_str(), "Mul" | "Add" | "Sub" | "Div" | "Equal") => {
                self.eval_as_float(node, ins, out_shapes)
            }
            Kernel::Where(shape, shapes) if !ins[1].is_float() && !ins[2].is_float() => {
                let mut out = vec![0; shape.iter().product()];
                elementwise::where_run(
                    shape,
                    [&shapes[0], &shapes[1], &shapes[2]],
                    &ints[0],
                    &ints[1],
                    &ints[2],
                    &mut out,
                    |c| c != 0,
                );
                one(out)
            }
            Kernel::Where(..) => self.eval_as_float(node, ins, out_shapes),
            Kernel::Map(m) => one(m.run_i64(&ints[0])),
            Kernel::Copy => one(ints[0].clone()),
            Kernel::Concat { outer, blocks } => {
                let mut out = vec![0; out_shapes[0].iter().product()];
                let refs: Vec<&[i64]> = ints.iter().map(Vec::as_slice).collect();
                layout::concat_run(&refs, *outer, blocks, &mut out);
                one(out)
            }
            Kernel::Split { outer, block, parts } => {
                let mut outs: Vec<Vec<i64>> = out_shapes.iter().map(|s| vec![0; s.iter().product()]).collect();
                let mut refs: Vec<&mut [i64]> = outs.iter_mut().map(Vec::as_mut_slice).collect();
                layout::split_run(&ints[0], *outer, *block, parts, &mut refs);
                Ok(outs.into_iter().zip(out_shapes).map(|(v, s)| Tensor::i64(s.clone(), v)).collect())
            }
            Kernel::Reduce(r) => one(r.run_i64(&ints[0])),
            _ => Err(op_err(node, "is not defined on int64 values")),
        }
    }
}

/// The element kind a node's outputs have when its inputs are all known.
pub fn data_kind(t: &Tensor) -> &'static str {
    match t.data {
        Data::F32(_) => "float32",
        Data::I64(_) => "int64",
    }
}
