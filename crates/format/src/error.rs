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
    /// An op this engine has no kernel for; `supported` lists the ops it has (the message names them when given).
    #[error("op {op:?} (node {node:?}) is not supported{}", SupportedOps(.supported))]
    UnsupportedOp { op: String, node: String, supported: Vec<&'static str> },
    /// Anything else the model uses that webinfer does not support (a layer, an attribute value, a format).
    #[error("{0}")]
    Unsupported(String),
    /// A file, or model.json fetched over the network, could not be read (in the browser: fetch failed or
    /// answered with an HTTP error status).
    #[error("{0}")]
    Io(String),
    /// The WebGPU backend could not start or run (no adapter, a shader or device error).
    #[error("{0}")]
    Gpu(String),
    /// The GPU device went away (driver reset, GPU crash, tab backgrounded too long).
    #[error("{0}")]
    DeviceLost(String),
    /// The caller's `AbortSignal` aborted a load.
    #[error("{0}")]
    Aborted(String),
    /// A request took longer than the load's `timeoutMs`.
    #[error("{0}")]
    Timeout(String),
}

/// `; supported ops: A, B, …`, or nothing for an empty list.
struct SupportedOps<'a>(&'a [&'a str]);

impl std::fmt::Display for SupportedOps<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        for (i, op) in self.0.iter().enumerate() {
            f.write_str(if i == 0 { "; supported ops: " } else { ", " })?;
            f.write_str(op)?;
        }
        Ok(())
    }
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
            Error::Aborted(_) => "AbortError",
            Error::Timeout(_) => "TimeoutError",
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
        "AbortError",
        "TimeoutError",
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
            Error::UnsupportedOp { op: "Foo".into(), node: "f".into(), supported: Vec::new() },
            Error::Unsupported(String::new()),
            Error::Io(String::new()),
            Error::Gpu(String::new()),
            Error::DeviceLost(String::new()),
            Error::Aborted(String::new()),
            Error::Timeout(String::new()),
        ];
        let names: Vec<&str> = samples.iter().map(Error::name).collect();
        assert_eq!(names, Error::NAMES);
        let msg = Error::UnsupportedOp { op: "Foo".into(), node: "f".into(), supported: Vec::new() }.to_string();
        assert_eq!(msg, "op \"Foo\" (node \"f\") is not supported");
        let msg =
            Error::UnsupportedOp { op: "Foo".into(), node: "f".into(), supported: vec!["Add", "Conv"] }.to_string();
        assert_eq!(msg, "op \"Foo\" (node \"f\") is not supported; supported ops: Add, Conv");
    }
}
