//! Bounds on what a model may make webinfer allocate. Declared sizes (a weight's shape, the shards' lengths, a
//! planned tensor's shape) are checked against them before any buffer exists, so a hostile or broken model.json
//! gets an error naming the tensor instead of exhausting memory.

use serde::Deserialize;

use crate::json::WeightsGroup;
use crate::Error;

/// The bounds; [`Limits::default`] suits any model a browser tab can hold. Raise them for bigger models.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Limits {
    /// Bytes of one stored weight.
    pub max_weight_bytes: u64,
    /// Bytes of all weights (every shard) of a model.
    pub max_model_bytes: u64,
    /// Elements of any one tensor a plan creates: an activation or a value computed while planning.
    pub max_tensor_elements: u64,
    /// Elements of all the buffers one plan holds together.
    pub max_plan_elements: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_weight_bytes: 1 << 30,
            max_model_bytes: 2 << 30,
            max_tensor_elements: 1 << 28,
            max_plan_elements: 1 << 29,
        }
    }
}

/// The element count of a shape, or `None` when it overflows 64 bits.
pub fn elements(shape: impl IntoIterator<Item = u64>) -> Option<u64> {
    shape.into_iter().try_fold(1u64, |n, d| n.checked_mul(d))
}

impl Limits {
    /// Checks every weight's declared size, and the weights and shards in all, against the limits; `source` names
    /// the model.json in messages.
    pub fn check_manifest(&self, manifest: &[WeightsGroup], source: &str) -> Result<(), Error> {
        let mut total = 0u64;
        for w in manifest.iter().flat_map(|g| &g.weights) {
            let bytes = w.declared_bytes();
            match bytes {
                Some(b) if b <= self.max_weight_bytes => total = total.saturating_add(b),
                _ => {
                    let declared = bytes.map_or_else(|| "more than 2^64".to_string(), |b| b.to_string());
                    return Err(Error::Format(format!(
                        "{source}: weight {:?} declares shape {:?} ({} {}), {declared} bytes: over the limit of {} \
                         bytes for one weight (limits.maxWeightBytes)",
                        w.name,
                        w.shape,
                        w.dtype.name(),
                        if w.quantization.is_some() { "quantized" } else { "stored" },
                        self.max_weight_bytes
                    )));
                }
            }
        }
        let shards: u64 = manifest.iter().flat_map(|g| &g.shards).fold(0u64, |n, s| n.saturating_add(s.byte_length));
        let model = total.max(shards);
        if model > self.max_model_bytes {
            return Err(Error::Format(format!(
                "{source}: the weights declare {model} bytes in all, over the limit of {} bytes for a model \
                 (limits.maxModelBytes)",
                self.max_model_bytes
            )));
        }
        Ok(())
    }

    /// Checks a tensor's shape against `max_tensor_elements`; `what` names it in the message.
    pub fn check_tensor(&self, shape: &[usize], what: &dyn Fn() -> String) -> Result<usize, Error> {
        match elements(shape.iter().map(|&d| d as u64)) {
            Some(n) if n <= self.max_tensor_elements => Ok(n as usize),
            n => Err(Error::Shape(format!(
                "{} has shape {shape:?}, {} elements: over the limit of {} elements for one tensor \
                 (limits.maxTensorElements)",
                what(),
                n.map_or_else(|| "more than 2^64".to_string(), |n| n.to_string()),
                self.max_tensor_elements
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::json::Document;

    fn document(weights: &str, shards: &str) -> Result<Document, crate::Error> {
        let text = format!(
            r#"{{"format":"webinfer-graph/1","graph":{{"inputs":[],"outputs":[],"nodes":[]}},
            "weightsManifest":[{{"paths":["a.bin"],"weights":[{weights}],"shards":[{shards}]}}]}}"#
        );
        Document::parse(&text, "m.json")
    }

    #[test]
    fn a_weight_declaring_2_pow_40_elements_errors_before_anything_is_fetched() {
        let err = document(r#"{"name":"huge","shape":[1099511627776],"dtype":"float32"}"#, "").unwrap_err();
        let msg = err.to_string();
        assert_eq!(err.name(), "FormatError");
        assert!(msg.contains("m.json: weight \"huge\" declares shape [1099511627776]"), "{msg}");
        assert!(msg.contains("4398046511104 bytes") && msg.contains("limits.maxWeightBytes"), "{msg}");
        let overflow = document(r#"{"name":"w","shape":[4294967296,4294967296,4],"dtype":"float16"}"#, "");
        assert!(overflow.unwrap_err().to_string().contains("more than 2^64 bytes"));
    }

    #[test]
    fn the_weights_and_shards_in_all_are_bounded_and_the_limits_can_be_raised() {
        let w = r#"{"name":"a","shape":[268435456],"dtype":"float32"},{"name":"b","shape":[268435456],"dtype":"float32"},
            {"name":"c","shape":[2],"dtype":"float32"}"#;
        let msg = document(w, "").unwrap_err().to_string();
        assert!(msg.contains("2147483656 bytes in all") && msg.contains("limits.maxModelBytes"), "{msg}");
        let shards = r#"{"byteLength":3000000000,"sha256":"00"}"#;
        assert!(document(r#"{"name":"c","shape":[2],"dtype":"float32"}"#, shards).is_err());
        assert!(document(r#"{"name":"c","shape":[2],"dtype":"float32"}"#, "").is_ok());
        let text = r#"{"format":"webinfer-graph/1","graph":{"inputs":[],"outputs":[],"nodes":[]},
            "weightsManifest":[{"paths":["a.bin"],"weights":[{"name":"a","shape":[4294967296],"dtype":"uint8"}]}]}"#;
        let raised = super::Limits { max_weight_bytes: 1 << 33, max_model_bytes: 1 << 33, ..Default::default() };
        assert!(Document::parse(text, "m.json").is_err());
        assert!(Document::parse_with(text, "m.json", &raised).is_ok());
    }
}
