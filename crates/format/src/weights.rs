//! Weight shards: TF.js-identical quantization, cutting into shards, and verified decoding.

use std::collections::HashMap;

use half::f16;
use sha2::{Digest, Sha256};

use crate::json::{DType, Quantization, ShardInfo, WeightEntry, WeightsGroup};
use crate::tensor::Tensor;
use crate::Error;

/// Default shard size (4 MiB), the size browsers cache well.
pub const DEFAULT_SHARD_SIZE: usize = 4 * 1024 * 1024;

/// How float32 weights may be stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuantizeTo {
    Float16,
    Uint8,
    Uint16,
}

impl QuantizeTo {
    pub fn dtype(self) -> DType {
        match self {
            QuantizeTo::Float16 => DType::Float16,
            QuantizeTo::Uint8 => DType::Uint8,
            QuantizeTo::Uint16 => DType::Uint16,
        }
    }
}

/// A weight ready to be written: its name, tensor and requested storage.
pub struct WeightToWrite<'a> {
    pub name: &'a str,
    pub tensor: &'a Tensor,
    pub quantize: Option<QuantizeTo>,
}

/// The encoded weights: one manifest group and its shard files' bytes.
pub struct EncodedWeights {
    pub group: WeightsGroup,
    pub shards: Vec<Vec<u8>>,
}

/// Lowercase hex sha256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    Sha256::digest(bytes)
        .iter()
        .flat_map(|&b| [HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]])
        .map(char::from)
        .collect()
}

/// Affine quantization exactly as tensorflowjs' `quantize_weights`: float64 range, zero point nudged onto
/// the grid when 0 lies inside the range, round half to even. Returns (codes, min, scale).
pub fn quantize_affine(data: &[f32], levels: u32) -> (Vec<u32>, f64, f64) {
    let (lo, hi) =
        data.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| (lo.min(x as f64), hi.max(x as f64)));
    if data.is_empty() || lo == hi {
        return (vec![0; data.len()], if data.is_empty() { 0.0 } else { lo }, 1.0);
    }
    let quant_max = levels as f64;
    let scale = (hi - lo) / quant_max;
    let (min, max) = if lo <= 0.0 && 0.0 <= hi {
        let zero_point = ((0.0 - lo) / scale).round_ties_even();
        let nudged_min = -zero_point * scale;
        (nudged_min, quant_max * scale + nudged_min)
    } else {
        (lo, hi)
    };
    let codes = data
        .iter()
        .map(|&x| (((x as f64).clamp(min, max) - min) / scale).round_ties_even().clamp(0.0, quant_max) as u32)
        .collect();
    (codes, min, scale)
}

/// Dequantizes one affine code the way TF.js does (double arithmetic, stored as float32).
pub fn dequantize_affine(code: u32, min: f64, scale: f64) -> f32 {
    (code as f64 * scale + min) as f32
}

/// Appends bytes into shards of at most `size` bytes, starting a new shard when one fills.
struct ShardWriter {
    size: usize,
    shards: Vec<Vec<u8>>,
}

impl ShardWriter {
    fn extend_from_slice(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if self.shards.last().is_none_or(|s| s.len() == self.size) {
                self.shards.push(Vec::with_capacity(self.size.min(bytes.len().max(64 << 10))));
            }
            let shard = self.shards.last_mut().expect("pushed above");
            let take = (self.size - shard.len()).min(bytes.len());
            shard.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
        }
    }

    fn push(&mut self, byte: u8) {
        self.extend_from_slice(&[byte]);
    }
}

/// Serializes weights in order and cuts the bytes into shards of at most `shard_size` bytes.
/// Integer tensors are stored as int32 when every value fits, else int64; only float32 is quantized.
pub fn encode_weights(weights: &[WeightToWrite], shard_size: usize, group_name: &str) -> EncodedWeights {
    let mut bytes = ShardWriter { size: shard_size.max(1), shards: Vec::new() };
    let mut entries = Vec::with_capacity(weights.len());
    for w in weights {
        let shape = w.tensor.shape.iter().map(|&d| d as u64).collect();
        let entry = match (&w.tensor.data, w.quantize) {
            (crate::tensor::Data::F32(v), None) => {
                let mut chunk = Vec::with_capacity(64 << 10);
                for part in v.chunks(16 << 10) {
                    chunk.clear();
                    part.iter().for_each(|x| chunk.extend_from_slice(&x.to_le_bytes()));
                    bytes.extend_from_slice(&chunk);
                }
                WeightEntry { name: w.name.to_string(), shape, dtype: DType::Float32, quantization: None }
            }
            (crate::tensor::Data::F32(v), Some(QuantizeTo::Float16)) => {
                v.iter().for_each(|x| bytes.extend_from_slice(&f16::from_f32(*x).to_le_bytes()));
                let quantization = Quantization {
                    dtype: DType::Float16,
                    min: None,
                    scale: None,
                    original_dtype: Some(DType::Float32),
                };
                WeightEntry { name: w.name.to_string(), shape, dtype: DType::Float32, quantization: Some(quantization) }
            }
            (crate::tensor::Data::F32(v), Some(q)) => {
                let levels = if q == QuantizeTo::Uint8 { u8::MAX as u32 } else { u16::MAX as u32 };
                let (codes, min, scale) = quantize_affine(v, levels);
                for c in codes {
                    if q == QuantizeTo::Uint8 {
                        bytes.push(c as u8);
                    } else {
                        bytes.extend_from_slice(&(c as u16).to_le_bytes());
                    }
                }
                let quantization = Quantization {
                    dtype: q.dtype(),
                    min: Some(min),
                    scale: Some(scale),
                    original_dtype: Some(DType::Float32),
                };
                WeightEntry { name: w.name.to_string(), shape, dtype: DType::Float32, quantization: Some(quantization) }
            }
            (crate::tensor::Data::I64(v), _) => {
                let fits = v.iter().all(|&x| i32::try_from(x).is_ok());
                if fits {
                    v.iter().for_each(|&x| bytes.extend_from_slice(&(x as i32).to_le_bytes()));
                } else {
                    v.iter().for_each(|x| bytes.extend_from_slice(&x.to_le_bytes()));
                }
                let dtype = if fits { DType::Int32 } else { DType::Int64 };
                WeightEntry { name: w.name.to_string(), shape, dtype, quantization: None }
            }
        };
        entries.push(entry);
    }
    let mut shards = bytes.shards;
    if shards.is_empty() && !entries.is_empty() {
        shards.push(Vec::new());
    }
    let count = shards.len();
    let group = WeightsGroup {
        paths: (1..=count).map(|i| format!("{group_name}-shard{i}of{count}.bin")).collect(),
        shards: shards.iter().map(|s| ShardInfo { byte_length: s.len() as u64, sha256: sha256_hex(s) }).collect(),
        weights: entries,
    };
    EncodedWeights { group, shards }
}

/// One shard as loaded: its file name in the manifest and where it was read from (its URL or file path).
#[derive(Clone, Copy, Debug)]
pub struct ShardSource<'a> {
    pub file: &'a str,
    pub location: &'a str,
}

impl std::fmt::Display for ShardSource<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "shard {:?} ({})", self.file, self.location)
    }
}

/// Checks a shard's length and sha256 against the manifest, naming the shard in the error.
pub fn verify_shard(info: Option<&ShardInfo>, bytes: &[u8], shard: ShardSource) -> Result<(), Error> {
    let Some(info) = info else { return Ok(()) };
    if bytes.len() as u64 != info.byte_length {
        return Err(Error::Shard(format!("{shard}: expected {} bytes, got {}", info.byte_length, bytes.len())));
    }
    let digest = sha256_hex(bytes);
    if digest != info.sha256 {
        return Err(Error::Shard(format!("{shard}: sha256 mismatch (expected {}, got {digest})", info.sha256)));
    }
    Ok(())
}

/// Checks that a group's shards hold every byte its weights need. A TF.js manifest records no shard lengths, so a
/// truncated shard shows only here; the error names the short shard, with the bytes expected and received. Every
/// shard of a group but the last has the group's shard size, so a short earlier shard is the one below the largest
/// of them, and otherwise the last shard is short.
pub fn check_group_length(group: &WeightsGroup, index: usize, shards: &[(ShardSource, usize)]) -> Result<(), Error> {
    let needed: usize = group.weights.iter().map(WeightEntry::byte_len).sum();
    let held: usize = shards.iter().map(|(_, len)| len).sum();
    if held >= needed || shards.is_empty() {
        return Ok(());
    }
    let (earlier, last) = shards.split_at(shards.len() - 1);
    let shard_size = earlier.iter().map(|(_, len)| *len).max().unwrap_or(0);
    let (culprit, expected, got) = match earlier.iter().find(|(_, len)| *len < shard_size) {
        Some((shard, len)) => (shard, shard_size, *len),
        None => (&last[0].0, needed - (held - last[0].1), last[0].1),
    };
    Err(Error::Shard(format!(
        "{culprit} is truncated: expected {expected} bytes, got {got} (the weights of group {} need {needed} bytes; \
         its {} shard(s) hold {held})",
        index + 1,
        shards.len()
    )))
}

/// Decodes every weight of the manifest from its groups' concatenated shard bytes (one buffer per group).
pub fn decode_weights(manifest: &[WeightsGroup], group_bytes: &[Vec<u8>]) -> Result<HashMap<String, Tensor>, Error> {
    let mut out = HashMap::new();
    for (g, (group, bytes)) in manifest.iter().zip(group_bytes).enumerate() {
        let mut offset = 0usize;
        for w in &group.weights {
            let n = w.byte_len();
            let end = offset.checked_add(n).filter(|&e| e <= bytes.len()).ok_or_else(|| {
                Error::Shard(format!(
                    "weight {:?} (group {}) needs bytes {offset}..{} but the group's shards hold {} bytes",
                    w.name,
                    g + 1,
                    offset + n,
                    bytes.len()
                ))
            })?;
            out.insert(w.name.clone(), decode_one(w, &bytes[offset..end])?);
            offset = end;
        }
    }
    Ok(out)
}

fn decode_one(w: &WeightEntry, b: &[u8]) -> Result<Tensor, Error> {
    let shape: Vec<usize> = w.shape.iter().map(|&d| d as usize).collect();
    let stored = w.quantization.as_ref().map_or(w.dtype, |q| q.dtype);
    let floats = |f: &dyn Fn(&[u8]) -> f32, size: usize| b.chunks_exact(size).map(f).collect::<Vec<f32>>();
    let ints = |f: &dyn Fn(&[u8]) -> i64, size: usize| b.chunks_exact(size).map(f).collect::<Vec<i64>>();
    let affine = |q: &Quantization| -> Result<(f64, f64), Error> {
        match (q.min, q.scale) {
            (Some(min), Some(scale)) => Ok((min, scale)),
            _ => {
                Err(Error::Format(format!("weight {:?}: {} quantization needs min and scale", w.name, q.dtype.name())))
            }
        }
    };
    let integer_target = matches!(w.dtype, DType::Int32 | DType::Int64 | DType::Bool);
    Ok(match stored {
        DType::Float32 => Tensor::f32(shape, floats(&|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]), 4)),
        DType::Float16 => Tensor::f32(shape, floats(&|c| f16::from_le_bytes([c[0], c[1]]).to_f32(), 2)),
        DType::Int32 => Tensor::i64(shape, ints(&|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64, 4)),
        DType::Int64 => Tensor::i64(shape, ints(&|c| i64::from_le_bytes(c.try_into().unwrap()), 8)),
        DType::Bool => Tensor::i64(shape, ints(&|c| i64::from(c[0] != 0), 1)),
        DType::Uint8 | DType::Uint16 => {
            let q = w.quantization.as_ref().ok_or_else(|| {
                Error::Format(format!("weight {:?}: dtype {} without quantization parameters", w.name, stored.name()))
            })?;
            let (min, scale) = affine(q)?;
            let size = stored.size();
            let code = |c: &[u8]| if size == 1 { c[0] as u32 } else { u16::from_le_bytes([c[0], c[1]]) as u32 };
            if integer_target {
                Tensor::i64(shape, ints(&|c| (code(c) as f64 * scale + min).round() as i64, size))
            } else {
                Tensor::f32(shape, floats(&|c| dequantize_affine(code(c), min, scale), size))
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_is_exact_after_nudging() {
        let data = [-0.7f32, 0.0, 0.31, 1.9];
        let (codes, min, scale) = quantize_affine(&data, 255);
        assert_eq!(dequantize_affine(codes[1], min, scale), 0.0);
        for (c, x) in codes.iter().zip(data) {
            assert!((dequantize_affine(*c, min, scale) - x).abs() <= scale as f32);
        }
    }

    #[test]
    fn constant_tensor_quantizes_to_zeros_with_unit_scale() {
        let (codes, min, scale) = quantize_affine(&[2.5; 4], 255);
        assert_eq!((codes, min, scale), (vec![0; 4], 2.5, 1.0));
    }

    #[test]
    fn shards_round_trip_and_detect_corruption() {
        let a = Tensor::f32(vec![3, 2], vec![1.0, -2.0, 3.5, 0.0, 1e-3, 7.0]);
        let b = Tensor::i64(vec![2], vec![-1, 784]);
        let enc = encode_weights(
            &[
                WeightToWrite { name: "a", tensor: &a, quantize: None },
                WeightToWrite { name: "b", tensor: &b, quantize: Some(QuantizeTo::Uint8) },
                WeightToWrite { name: "h", tensor: &a, quantize: Some(QuantizeTo::Float16) },
            ],
            10,
            "group1",
        );
        assert_eq!(enc.group.paths.len(), 5);
        assert_eq!(enc.group.paths[0], "group1-shard1of5.bin");
        assert_eq!(enc.group.weights[1].dtype, DType::Int32);
        let joined: Vec<u8> = enc.shards.concat();
        let decoded = decode_weights(std::slice::from_ref(&enc.group), &[joined]).unwrap();
        assert_eq!(decoded["a"], a);
        assert_eq!(decoded["b"], b);
        assert_eq!(decoded["h"].to_f32s()[4], f16::from_f32(1e-3).to_f32());
        let mut bad = enc.shards[0].clone();
        bad[0] ^= 1;
        let shard = ShardSource { file: "group1-shard1of5.bin", location: "models/m/group1-shard1of5.bin" };
        let err = verify_shard(Some(&enc.group.shards[0]), &bad, shard).unwrap_err().to_string();
        assert!(err.contains("sha256 mismatch") && err.contains("group1-shard1of5.bin"), "{err}");
        let short = decode_weights(std::slice::from_ref(&enc.group), &[vec![0; 5]]).unwrap_err().to_string();
        assert!(short.contains("\"a\""), "{short}");
    }

    #[test]
    fn a_short_group_names_the_truncated_shard_with_expected_and_received_bytes() {
        let weight = |name: &str, n: u64| WeightEntry {
            name: name.into(),
            shape: vec![n],
            dtype: DType::Float32,
            quantization: None,
        };
        let group = WeightsGroup {
            paths: vec!["g-shard1of3.bin".into(), "g-shard2of3.bin".into(), "g-shard3of3.bin".into()],
            weights: vec![weight("w", 500)],
            shards: vec![],
        };
        let urls = [
            "https://m.example/a/g-shard1of3.bin",
            "https://m.example/a/g-shard2of3.bin",
            "https://m.example/a/g-shard3of3.bin",
        ];
        let sources: Vec<ShardSource> =
            group.paths.iter().zip(urls).map(|(file, location)| ShardSource { file, location }).collect();
        let with = |lens: [usize; 3]| -> Vec<(ShardSource, usize)> { sources.iter().copied().zip(lens).collect() };
        assert!(check_group_length(&group, 0, &with([800, 800, 400])).is_ok());
        let err = check_group_length(&group, 0, &with([800, 800, 100])).unwrap_err().to_string();
        assert!(err.contains("shard \"g-shard3of3.bin\" (https://m.example/a/g-shard3of3.bin) is truncated"), "{err}");
        assert!(
            err.contains("expected 400 bytes, got 100") && err.contains("need 2000 bytes") && err.contains("hold 1700"),
            "{err}"
        );
        let err = check_group_length(&group, 1, &with([800, 300, 400])).unwrap_err().to_string();
        assert!(
            err.contains("\"g-shard2of3.bin\"")
                && err.contains("expected 800 bytes, got 300")
                && err.contains("group 2"),
            "{err}"
        );
    }
}
