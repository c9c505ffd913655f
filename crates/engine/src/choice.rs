//! How `backend: "auto"` chooses: a software GPU adapter counts as no GPU, and between a real GPU and the CPU the
//! one measured faster on this model wins. The same rules serve the browser and the native CLI.

/// Names that mark a software renderer exposed as a GPU adapter (compared case-insensitively).
pub const SOFTWARE_RENDERERS: &[&str] = &["swiftshader", "llvmpipe", "lavapipe", "softpipe", "microsoft basic render"];

/// Why an adapter is a software renderer, or `None` for real hardware. `is_fallback` is
/// `GPUAdapterInfo.isFallbackAdapter` (natively: wgpu's `DeviceType::Cpu`) where it is known; `names` are the
/// adapter's vendor, architecture, device, description or driver strings.
pub fn software_renderer(is_fallback: Option<bool>, names: &[&str]) -> Option<String> {
    if is_fallback == Some(true) {
        return Some("it is a fallback adapter".to_string());
    }
    names.iter().find_map(|name| {
        let lower = name.to_ascii_lowercase();
        SOFTWARE_RENDERERS
            .iter()
            .find(|s| lower.contains(*s))
            .map(|s| format!("{name:?} names {s}, a software renderer"))
    })
}

/// Per-run times of both backends on this model: the best of a few warm runs each.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Race {
    pub cpu_ms: f64,
    pub gpu_ms: f64,
    pub runs: usize,
}

impl Race {
    /// Whether the GPU was faster.
    pub fn gpu_wins(&self) -> bool {
        self.gpu_ms < self.cpu_ms
    }

    /// The measured times and the rule, for `backendReason`.
    pub fn reason(&self, adapter: &str) -> String {
        let (winner, loser) = if self.gpu_wins() { ("WebGPU", "the CPU") } else { ("the CPU", "WebGPU") };
        format!(
            "auto: WebGPU on {adapter} took {:.2} ms and the CPU {:.2} ms per run (best of {} warm runs each), so \
             {winner}, the faster; {loser} was slower",
            self.gpu_ms, self.cpu_ms, self.runs
        )
    }
}

/// The most timed runs per backend in a race.
pub const MAX_RUNS: usize = 3;
/// The time budget of a race, in ms.
pub const RACE_BUDGET_MS: f64 = 300.0;

/// Whether a race takes another timed run of each backend: at least one, then until `MAX_RUNS` or the budget.
pub fn another_run(runs: usize, elapsed_ms: f64) -> bool {
    runs < MAX_RUNS && (runs == 0 || elapsed_ms < RACE_BUDGET_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_the_adapter_strings_browsers_and_drivers_report() {
        let software = [
            (None, vec!["google", "swiftshader", "", ""]),
            (None, vec!["", "", "", "SwiftShader Device (Subzero)"]),
            (None, vec!["llvmpipe (LLVM 19.1.7, 256 bits)"]),
            (None, vec!["", "Mesa lavapipe"]),
            (None, vec!["Microsoft Basic Render Driver"]),
            (Some(true), vec!["google", "", "", ""]),
        ];
        for (fallback, names) in &software {
            assert!(software_renderer(*fallback, names).is_some(), "{fallback:?} {names:?} is software");
        }
        let hardware = [
            (Some(false), vec!["nvidia", "ampere", "", "NVIDIA GeForce RTX 3080"]),
            (None, vec!["apple", "metal-3", "", "Apple M2"]),
            (None, vec!["intel", "gen-12lp", "", "Intel(R) UHD Graphics 770"]),
            (None, vec!["AMD Radeon RX 7900 XTX (RADV NAVI31)"]),
            (Some(false), vec!["qualcomm", "adreno-7xx", "", ""]),
        ];
        for (fallback, names) in &hardware {
            assert_eq!(software_renderer(*fallback, names), None, "{names:?} is hardware");
        }
        let why = software_renderer(None, &["google", "swiftshader"]).unwrap();
        assert!(why.contains("\"swiftshader\"") && why.contains("software renderer"), "{why}");
    }

    #[test]
    fn the_faster_backend_wins_and_the_reason_shows_both_times() {
        let race = Race { cpu_ms: 3.0, gpu_ms: 112.0, runs: 3 };
        assert!(!race.gpu_wins());
        let why = race.reason("nvidia / ampere");
        assert!(why.contains("112.00 ms") && why.contains("3.00 ms") && why.contains("so the CPU"), "{why}");
        assert!(why.contains("nvidia / ampere"), "{why}");
        let race = Race { cpu_ms: 85.0, gpu_ms: 4.5, runs: 2 };
        assert!(race.gpu_wins() && race.reason("a").contains("so WebGPU"));
        assert!(another_run(0, 1e9) && another_run(2, 10.0));
        assert!(!another_run(1, RACE_BUDGET_MS) && !another_run(MAX_RUNS, 0.0));
    }
}
