//! GEMM throughput at the shapes the bench models run (dense layers at batch 1 and 32, a square): `cargo run
//! --release -p webinfer-kernels --example gemm_shapes`. Native, for iterating on the tile; the browser figures are
//! `make bench`.
use std::time::Instant;
use webinfer_kernels::*;

fn main() {
    for &(m, k, n) in &[(1, 784, 100), (32, 784, 100), (256, 256, 256), (32, 100, 10)] {
        let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i % 5) as f32).collect();
        let pb = pack_b(&b, k, n, n, 1);
        let mut pa = vec![0.0; packed_a_len(m, k)];
        let mut c = vec![0.0; m * n];
        let reps = (2e8 / (m * k * n) as f64).max(10.0) as usize;
        let t = Instant::now();
        for _ in 0..reps {
            pack_a_into(&a, m, k, k, 1, &mut pa);
        }
        let tp = t.elapsed().as_secs_f64() / reps as f64;
        let t = Instant::now();
        for _ in 0..reps {
            pack_a_into(&a, m, k, k, 1, &mut pa);
            gemm_packed(m, n, k, &pa, &pb.data, &mut c, n, Bias::None, Activation::None);
        }
        let s = t.elapsed().as_secs_f64() / reps as f64;
        println!(
            "{m}x{k}x{n}: {:.1} us, pack_a {:.1} us, {:.1} GFLOP/s",
            s * 1e6,
            tp * 1e6,
            2.0 * (m * k * n) as f64 / s / 1e9
        );
    }
    // Convolutions' GEMMs: packed weights times B read in place (im2col columns or a 1x1 conv's activation).
    for &(m, k, n) in &[(32, 288, 784), (64, 576, 196), (64, 288, 196), (96, 16, 12544)] {
        let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i % 5) as f32).collect();
        let pa = pack_a(&a, m, k, k, 1);
        let mut tail = vec![0.0; NR * k];
        let mut c = vec![0.0; m * n];
        let reps = (2e8 / (m * k * n) as f64).max(10.0) as usize;
        let t = Instant::now();
        for _ in 0..reps {
            gemm_rows_b(m, n, k, &pa.data, &b, n, &mut tail, &mut c, n, Bias::None, Activation::Relu);
        }
        let s = t.elapsed().as_secs_f64() / reps as f64;
        println!("rows-B {m}x{k}x{n}: {:.1} us, {:.1} GFLOP/s", s * 1e6, 2.0 * (m * k * n) as f64 / s / 1e9);
    }
}
