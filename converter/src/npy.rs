//! .npy input and output for `webinfer run`.

use std::path::Path;

use npyz::{DType, TypeChar, WriterBuilder};
use webinfer::tensor::{Data, Tensor};

use crate::ConvertError;

/// Reads a .npy file (float16/32/64, signed/unsigned integers, bool) as a tensor.
pub fn read(path: &Path) -> Result<Tensor, ConvertError> {
    let bytes = std::fs::read(path).map_err(|e| ConvertError::Io(format!("{}: {e}", path.display())))?;
    read_bytes(&bytes, &path.display().to_string())
}

/// Decodes .npy bytes (see [`read`]); `source` names them in messages.
pub fn read_bytes(bytes: &[u8], source: &str) -> Result<Tensor, ConvertError> {
    let err = |e: &dyn std::fmt::Display| ConvertError::Io(format!("{source}: {e}"));
    if let Some(end) = declared_header_bytes(bytes) {
        if end > bytes.len() as u64 {
            return Err(err(&format!("the header declares {end} bytes, more than the file's {} bytes", bytes.len())));
        }
        let header = &bytes[..end as usize];
        if header.contains(&b'[') {
            return Err(err(&"structured arrays are not supported"));
        }
        let count = |c: u8| header.iter().filter(|&&b| b == c).count();
        if count(b'(') > 1 || count(b'{') > 1 {
            return Err(err(&"the header is not one dict with a flat shape tuple"));
        }
    }
    let npy = npyz::NpyFile::new(bytes).map_err(|e| err(&format!("not a .npy file ({e})")))?;
    if npy.order() == npyz::Order::Fortran {
        return Err(err(&"Fortran-ordered arrays are not supported; save with np.ascontiguousarray"));
    }
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    let DType::Plain(ts) = npy.dtype() else { return Err(err(&"structured arrays are not supported")) };
    let declared = webinfer::limits::elements(npy.shape().iter().copied())
        .and_then(|n| n.checked_mul(ts.num_bytes().unwrap_or(1) as u64));
    if declared.is_none_or(|b| b > bytes.len() as u64) {
        return Err(err(&format!(
            "the header declares shape {:?} of {} bytes per element, more than the file's {} bytes hold",
            npy.shape(),
            ts.num_bytes().unwrap_or(1),
            bytes.len()
        )));
    }
    let tensor = match (ts.type_char(), ts.size_field()) {
        (TypeChar::Float, 4) => Tensor::f32(shape, npy.into_vec::<f32>().map_err(|e| err(&e))?),
        (TypeChar::Float, 8) => {
            Tensor::f32(shape, npy.into_vec::<f64>().map_err(|e| err(&e))?.into_iter().map(|v| v as f32).collect())
        }
        (TypeChar::Float, 2) => Tensor::f32(
            shape,
            npy.into_vec::<half::f16>().map_err(|e| err(&e))?.into_iter().map(|v| v.to_f32()).collect(),
        ),
        (TypeChar::Int, 8) => Tensor::i64(shape, npy.into_vec::<i64>().map_err(|e| err(&e))?),
        (TypeChar::Int, 4) => {
            Tensor::i64(shape, npy.into_vec::<i32>().map_err(|e| err(&e))?.into_iter().map(i64::from).collect())
        }
        (TypeChar::Int, 2) => {
            Tensor::i64(shape, npy.into_vec::<i16>().map_err(|e| err(&e))?.into_iter().map(i64::from).collect())
        }
        (TypeChar::Int, 1) => {
            Tensor::i64(shape, npy.into_vec::<i8>().map_err(|e| err(&e))?.into_iter().map(i64::from).collect())
        }
        (TypeChar::Uint, 2) => {
            Tensor::i64(shape, npy.into_vec::<u16>().map_err(|e| err(&e))?.into_iter().map(i64::from).collect())
        }
        (TypeChar::Uint, 4) => {
            Tensor::i64(shape, npy.into_vec::<u32>().map_err(|e| err(&e))?.into_iter().map(i64::from).collect())
        }
        (TypeChar::Uint, 1) => {
            Tensor::i64(shape, npy.into_vec::<u8>().map_err(|e| err(&e))?.into_iter().map(i64::from).collect())
        }
        (TypeChar::Bool, 1) => {
            Tensor::i64(shape, npy.into_vec::<bool>().map_err(|e| err(&e))?.into_iter().map(i64::from).collect())
        }
        (c, s) => return Err(err(&format!("unsupported dtype {c:?}{s}"))),
    };
    Ok(tensor)
}

/// The end of the header a .npy file declares (magic, version, length field and header), which npyz allocates
/// before reading; None where the bytes are not a .npy preamble.
fn declared_header_bytes(bytes: &[u8]) -> Option<u64> {
    let rest = bytes.strip_prefix(b"\x93NUMPY")?;
    match *rest {
        [1, _, a, b, ..] => Some(10 + u64::from(u16::from_le_bytes([a, b]))),
        [2 | 3, _, a, b, c, d, ..] => Some(12 + u64::from(u32::from_le_bytes([a, b, c, d]))),
        _ => None,
    }
}

/// Writes a tensor as .npy (float32 or int64).
pub fn write(path: &Path, t: &Tensor) -> Result<(), ConvertError> {
    let err = |e: &dyn std::fmt::Display| ConvertError::Io(format!("{}: {e}", path.display()));
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).map_err(|e| err(&e))?);
    let shape: Vec<u64> = t.shape.iter().map(|&d| d as u64).collect();
    match &t.data {
        Data::F32(v) => {
            let mut w = npyz::WriteOptions::<f32>::new()
                .default_dtype()
                .shape(&shape)
                .writer(&mut file)
                .begin_nd()
                .map_err(|e| err(&e))?;
            w.extend(v.iter().copied()).map_err(|e| err(&e))?;
            w.finish().map_err(|e| err(&e))?;
        }
        Data::I64(v) => {
            let mut w = npyz::WriteOptions::<i64>::new()
                .default_dtype()
                .shape(&shape)
                .writer(&mut file)
                .begin_nd()
                .map_err(|e| err(&e))?;
            w.extend(v.iter().copied()).map_err(|e| err(&e))?;
            w.finish().map_err(|e| err(&e))?;
        }
    }
    Ok(())
}
