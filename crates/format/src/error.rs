//! Every failure webinfer reports, one variant per kind, each naming the thing at fault.

/// Everything that can go wrong, each message naming the thing at fault. [`Error::name`] is the kind's
/// stable name, which JavaScript sees as `error.name`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// model.json is malformed, of an unknown format version, or its graph is inconsistent.
    #[error("{0}")]
    Format(String),
    /// A weight shard is missing, unreadable, or fails its length or sha256 check.
    #[error("{0}")]
    Shard(String),
    /// Shapes that cannot work together.
    #[error("{0}")]
    Shape(String),
    /// A node whose attributes or inputs its op cannot accept.
    #[error("{op} node {node:?}: {msg}")]
    Op { op: String, node: String, msg: String },
    /// The caller's inputs do not match the model's (count, name, dtype or shape).
    #[error("{0}")]
    Input(String),
    /// An op this engine has no kernel for.
    #[error("op {op:?} (node {node:?}) is not supported")]
    UnsupportedOp { op: String, node: String },
    /// Anything else the model uses that webinfer does not support (a layer, an attribute value, a format).
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    Io(String),
    /// The WebGPU backend could not start or run (no adapter, a shader or device error).
    #[error("{0}")]
    Gpu(String),
    /// The GPU device went away (driver reset, GPU crash, tab backgrounded too long).
    #[error("{0}")]
    DeviceLost(String),
}

impl Error {
    /// The kind's stable name (`ShardError`, `InputError`, `UnsupportedOpError`, …): callers branch on it.
    pub fn name(&self) -> &'static str {
        match self {
            Error::Format(_) => "FormatError",
            Error::Shard(_) => "ShardError",
            Error::Shape(_) => "ShapeError",
            Error::Op { .. } => "OpError",
            Error::Input(_) => "InputError",
            Error::UnsupportedOp { .. } => "UnsupportedOpError",
            Error::Unsupported(_) => "UnsupportedError",
            Error::Io(_) => "IoError",
            Error::Gpu(_) => "GpuError",
            Error::DeviceLost(_) => "DeviceLostError",
        }
    }

    /// Every kind's name, in declaration order.
    pub const NAMES: &'static [&'static str] = &[
        "FormatError",
        "ShardError",
        "ShapeError",
        "OpError",
        "InputError",
        "UnsupportedOpError",
        "UnsupportedError",
        "IoError",
        "GpuError",
        "DeviceLostError",
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_distinct_listed_name() {
        let samples = [
            Error::Format(String::new()),
            Error::Shard(String::new()),
            Error::Shape(String::new()),
            Error::Op { op: "Conv".into(), node: "c".into(), msg: String::new() },
            Error::Input(String::new()),
            Error::UnsupportedOp { op: "Foo".into(), node: "f".into() },
            Error::Unsupported(String::new()),
            Error::Io(String::new()),
            Error::Gpu(String::new()),
            Error::DeviceLost(String::new()),
        ];
        let names: Vec<&str> = samples.iter().map(Error::name).collect();
        assert_eq!(names, Error::NAMES);
        let msg = Error::UnsupportedOp { op: "Foo".into(), node: "f".into() }.to_string();
        assert_eq!(msg, "op \"Foo\" (node \"f\") is not supported");
    }
}
