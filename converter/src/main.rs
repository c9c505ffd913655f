//! `webinfer`: convert trained models to model.json + shards, run them natively, inspect them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use webinfer::json::ModelJson;
use webinfer::weights::{verify_shard, QuantizeTo};
use webinfer_converter::repo::{ModelRepo, Versions};
use webinfer_converter::{convert_path, npy, summary, write_output, ConvertError, ConvertOptions, SourceFormat};

/// Prints to stdout; a closed pipe (`webinfer inspect … | head`) ends the program quietly.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout(), $($arg)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
        }
    }};
}

#[derive(Parser)]
#[command(name = "webinfer", version, about = "Convert trained models for the browser, run and inspect them.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Quantize {
    Float16,
    Uint8,
    Uint16,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum Backend {
    Cpu,
    Webgpu,
    /// The faster of the two for this model here; a software GPU adapter (lavapipe, llvmpipe) counts as none.
    Auto,
}

/// How `convert` and `publish` convert.
#[derive(Args)]
struct ConvertArgs {
    /// Store float32 weights quantized, exactly as TensorFlow.js does.
    #[arg(long, value_enum)]
    quantize: Option<Quantize>,
    /// With --quantize: only weights whose names match these globs.
    #[arg(long, num_args = 1.., value_name = "GLOB")]
    quantize_only: Vec<String>,
    /// Largest shard in bytes.
    #[arg(long, default_value_t = webinfer::weights::DEFAULT_SHARD_SIZE, value_name = "BYTES")]
    shard_size: usize,
    /// Source format (detected from the input when absent).
    #[arg(long, value_enum)]
    from: Option<SourceFormat>,
    /// For a SavedModel: the signature to convert [default: serving_default].
    #[arg(long, value_name = "NAME")]
    signature: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Convert a model into model.json + weight shards.
    #[command(
        after_help = "Examples:\n  webinfer convert mnist.onnx out/mnist\n  webinfer convert model.onnx out/ --quantize float16\n  webinfer convert model.onnx out/ --quantize uint8 --quantize-only 'conv*' --shard-size 1048576\n  webinfer convert model.keras out/\n  webinfer convert my_mnist_model/0001 out/ --signature serving_default"
    )]
    Convert {
        /// The source model: an ONNX .onnx, a Keras .keras or .h5, a SavedModel directory or a TF.js model directory.
        input: PathBuf,
        /// Output directory (created; replaced if it holds an earlier conversion).
        out_dir: PathBuf,
        #[command(flatten)]
        options: ConvertArgs,
    },
    /// Convert a model into a new version of REPO/NAME (TF Serving's `0001/`, `0002/`, …) and list it in
    /// REPO/NAME/versions.json, which Model stores in the browser read.
    #[command(
        after_help = "Examples:\n  webinfer publish mnist.onnx models/mnist\n  webinfer publish mnist_v2.onnx models/mnist --version 2 --quantize float16\n  webinfer publish mnist_v3.onnx models/mnist --latest 2"
    )]
    Publish {
        /// The source model (as for `convert`).
        input: PathBuf,
        /// The model's directory in the repository: REPO/NAME.
        model: PathBuf,
        /// The version number [default: one past the newest].
        #[arg(long)]
        version: Option<u32>,
        /// Keep this version as the latest instead of the new one (stage the new one).
        #[arg(long, value_name = "VERSION")]
        latest: Option<u32>,
        #[command(flatten)]
        options: ConvertArgs,
    },
    /// List the published versions of REPO/NAME.
    Versions { model: PathBuf },
    /// Make VERSION the latest of REPO/NAME (a rollback when it is older).
    Promote { model: PathBuf, version: u32 },
    /// Remove VERSION of REPO/NAME; the latest cannot be retired.
    Retire { model: PathBuf, version: u32 },
    /// Run a converted model on .npy inputs and write .npy outputs.
    #[command(
        after_help = "Examples:\n  webinfer run out/mnist --input digit.npy --output probs.npy\n  webinfer run out/model --input a=a.npy --input b=b.npy --output y=y.npy"
    )]
    Run {
        /// A directory holding model.json and its shards.
        model_dir: PathBuf,
        /// Input .npy, positional (`in.npy`, in graph-input order) or named (`name=in.npy`).
        #[arg(long, required = true)]
        input: Vec<String>,
        /// Output .npy, positional (in graph-output order) or named (`name=out.npy`).
        #[arg(long, required = true)]
        output: Vec<String>,
        #[arg(long, value_enum, default_value = "cpu")]
        backend: Backend,
        /// Also time every op over this many runs (after a warm-up) and print where the time goes.
        #[arg(long, value_name = "RUNS")]
        profile: Option<usize>,
    },
    /// Show a converted model: inputs, outputs, ops, weights, shards and their integrity.
    Inspect { model_dir: PathBuf },
}

/// Mesa's Vulkan device-select layer (VK_LAYER_MESA_device_select, installed with mesa-vulkan-drivers) looks for a
/// Wayland or X display to rank GPUs and prints "XDG_RUNTIME_DIR is invalid" on a machine without one. wgpu picks
/// its adapter itself, so on a headless machine the layer is switched off before any thread or instance exists.
fn quiet_device_select_without_a_display() {
    let headless = ["WAYLAND_DISPLAY", "DISPLAY"].iter().all(|v| std::env::var_os(v).is_none());
    if headless && std::env::var_os("NODEVICE_SELECT").is_none() {
        std::env::set_var("NODEVICE_SELECT", "1");
    }
}

fn main() -> ExitCode {
    quiet_device_select_without_a_display();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), ConvertError> {
    match cli.command {
        Command::Convert { input, out_dir, options } => convert(&input, &out_dir, options),
        Command::Publish { input, model, version, latest, options } => {
            let repo = ModelRepo::new(&model);
            let published = repo.publish(version, latest, |dir| convert(&input, dir, options))?;
            let versions = repo.versions()?;
            say!(
                "published {} version {} ({}); latest is {}",
                repo.name(),
                published.version,
                published.dir,
                versions.latest
            );
            Ok(())
        }
        Command::Versions { model } => {
            print_versions(&ModelRepo::new(&model).versions()?);
            Ok(())
        }
        Command::Promote { model, version } => {
            print_versions(&ModelRepo::new(&model).promote(version)?);
            Ok(())
        }
        Command::Retire { model, version } => {
            print_versions(&ModelRepo::new(&model).retire(version)?);
            Ok(())
        }
        Command::Run { model_dir, input, output, backend, profile } => {
            run_model(&model_dir, &input, &output, backend, profile)
        }
        Command::Inspect { model_dir } => inspect(&model_dir),
    }
}

fn print_versions(versions: &Versions) {
    say!("{}: latest {}", versions.name, versions.latest);
    for v in &versions.versions {
        let mark = if v.version == versions.latest { "*" } else { " " };
        say!("{mark} {:>4}  {}  {:>10} bytes  {}  sha256 {}", v.version, v.dir, v.bytes, v.created, v.sha256);
    }
}

fn convert(input: &Path, out_dir: &Path, args: ConvertArgs) -> Result<(), ConvertError> {
    let ConvertArgs { quantize, quantize_only: only, shard_size, from, signature } = args;
    if shard_size == 0 {
        return Err(ConvertError::Io("--shard-size must be at least 1 byte".into()));
    }
    if !only.is_empty() && quantize.is_none() {
        return Err(ConvertError::Io("--quantize-only needs --quantize".into()));
    }
    let quantize_only = only
        .iter()
        .map(|g| glob::Pattern::new(g).map_err(|e| ConvertError::Io(format!("--quantize-only {g:?}: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let options = ConvertOptions {
        from,
        quantize: quantize.map(|q| match q {
            Quantize::Float16 => QuantizeTo::Float16,
            Quantize::Uint8 => QuantizeTo::Uint8,
            Quantize::Uint16 => QuantizeTo::Uint16,
        }),
        quantize_only,
        shard_size,
        signature,
        ..ConvertOptions::default()
    };
    let size = std::fs::metadata(input).map(|m| m.len()).unwrap_or(0);
    let bar = (size > 32 << 20).then(|| {
        let bar = ProgressBar::new(3);
        bar.set_style(ProgressStyle::with_template("{spinner} [{elapsed}] {bar:30} {msg}").expect("valid template"));
        bar.set_message(format!("converting {} ({} MB)", input.display(), size >> 20));
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    });
    let start = Instant::now();
    let converted = convert_path(input, &options)?;
    if let Some(b) = &bar {
        b.set_position(2);
        b.set_message("writing shards");
    }
    write_output(&converted, out_dir)?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    for note in &converted.notes {
        say!("note: {note}");
    }
    say!("{}", summary(&converted.model, &converted.shards).trim_end());
    say!("wrote {} in {:.2} s", out_dir.display(), start.elapsed().as_secs_f64());
    Ok(())
}

fn split_named(arg: &str) -> (Option<&str>, &str) {
    match arg.split_once('=') {
        Some((name, path)) if !name.is_empty() && !name.contains('/') => (Some(name), path),
        _ => (None, arg),
    }
}

/// `--backend auto`: the CPU unless a real (not software) GPU is measured faster on these inputs.
fn run_auto(model: &mut webinfer::Model, inputs: &[webinfer::Tensor]) -> Result<Vec<webinfer::Tensor>, ConvertError> {
    use webinfer::choice::{another_run, Race};
    let gpu = match pollster::block_on(webinfer::gpu::Gpu::request()) {
        Ok(gpu) => gpu,
        Err(e) => {
            say!("backend: cpu (auto: no GPU adapter: {e})");
            return Ok(model.predict(inputs)?);
        }
    };
    if let Some(why) = gpu.software() {
        say!("backend: cpu (auto: {} is a software renderer, slower than the CPU: {why})", gpu.adapter());
        return Ok(model.predict(inputs)?);
    }
    let adapter = gpu.adapter().to_string();
    let gpu_model = webinfer::gpu::GpuModel::new(std::rc::Rc::new(gpu), model.share());
    let mut cpu_out = model.predict(inputs)?;
    let mut gpu_out = pollster::block_on(gpu_model.predict(inputs))?;
    let (mut cpu_ms, mut gpu_ms, mut runs) = (f64::INFINITY, f64::INFINITY, 0);
    let started = Instant::now();
    while another_run(runs, started.elapsed().as_secs_f64() * 1e3) {
        let t = Instant::now();
        cpu_out = model.predict(inputs)?;
        cpu_ms = cpu_ms.min(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        gpu_out = pollster::block_on(gpu_model.predict(inputs))?;
        gpu_ms = gpu_ms.min(t.elapsed().as_secs_f64() * 1e3);
        runs += 1;
    }
    let race = Race { cpu_ms, gpu_ms, runs };
    let backend = if race.gpu_wins() { "webgpu" } else { "cpu" };
    say!("backend: {backend} ({})", race.reason(&adapter));
    Ok(if race.gpu_wins() { gpu_out } else { cpu_out })
}

fn run_model(
    dir: &Path,
    inputs: &[String],
    outputs: &[String],
    backend: Backend,
    profile: Option<usize>,
) -> Result<(), ConvertError> {
    let mut model = webinfer::load_dir(dir).map_err(|e| ConvertError::Io(format!("{}: {e}", dir.display())))?;
    let input_names: Vec<String> = model.inputs().iter().map(|i| i.name.clone()).collect();
    let mut named = Vec::new();
    for (i, arg) in inputs.iter().enumerate() {
        let (name, path) = split_named(arg);
        let name = match name {
            Some(n) => n.to_string(),
            None => input_names.get(i).cloned().ok_or_else(|| {
                ConvertError::Io(format!(
                    "--input {arg}: the model has only {} input(s) {input_names:?}",
                    input_names.len()
                ))
            })?,
        };
        named.push((name, npy::read(Path::new(path))?));
    }
    let ordered = model.order_by_name(named)?;
    let results = match backend {
        Backend::Cpu => model.predict(&ordered)?,
        Backend::Webgpu | Backend::Auto if profile.is_some() => {
            return Err(ConvertError::Unsupported("--profile times CPU kernels; use it with --backend cpu".into()));
        }
        Backend::Webgpu => {
            let gpu = pollster::block_on(webinfer::gpu::Gpu::request())?;
            say!("backend: webgpu on {}", gpu.adapter());
            let gpu_model = webinfer::gpu::GpuModel::new(std::rc::Rc::new(gpu), model.share());
            pollster::block_on(gpu_model.predict(&ordered))?
        }
        Backend::Auto => run_auto(&mut model, &ordered)?,
    };
    if let Some(runs) = profile {
        print_profile(&mut model, &ordered, runs.max(1))?;
    }
    let output_names: Vec<String> = model.outputs().iter().map(|o| o.name.clone()).collect();
    for (i, arg) in outputs.iter().enumerate() {
        let (name, path) = split_named(arg);
        let index = match name {
            Some(n) => output_names.iter().position(|o| o == n).ok_or_else(|| {
                ConvertError::Io(format!("--output {arg}: unknown output {n:?}; outputs are {output_names:?}"))
            })?,
            None if i < output_names.len() => i,
            None => {
                return Err(ConvertError::Io(format!(
                    "--output {arg}: the model has only {} output(s)",
                    output_names.len()
                )))
            }
        };
        npy::write(Path::new(path), &results[index])?;
        say!("{} {:?} -> {path}", output_names[index], results[index].shape);
    }
    Ok(())
}

fn print_profile(model: &mut webinfer::Model, inputs: &[webinfer::Tensor], runs: usize) -> Result<(), ConvertError> {
    let start = Instant::now();
    let clock = move || start.elapsed().as_secs_f64() * 1e3;
    let mut totals: Vec<(String, String, f64)> = Vec::new();
    for _ in 0..runs {
        let (_, timings) = model.profile(inputs, &clock)?;
        if totals.is_empty() {
            totals = timings.iter().map(|t| (t.op.clone(), t.node.clone(), 0.0)).collect();
        }
        for (total, t) in totals.iter_mut().zip(&timings) {
            total.2 += t.ms;
        }
    }
    let sum: f64 = totals.iter().map(|t| t.2).sum::<f64>() / runs as f64;
    totals.sort_by(|a, b| b.2.total_cmp(&a.2));
    say!("profile: {runs} runs, {sum:.3} ms per run in kernels");
    say!("{:>9}  {:>6}  {:<22} node", "ms/run", "share", "op");
    for (op, node, total) in &totals {
        let ms = total / runs as f64;
        say!("{ms:>9.4}  {:>5.1}%  {op:<22} {node}", 100.0 * ms / sum.max(1e-12));
    }
    Ok(())
}

fn inspect(dir: &Path) -> Result<(), ConvertError> {
    let path = dir.join("model.json");
    let text = std::fs::read_to_string(&path).map_err(|e| ConvertError::Io(format!("{}: {e}", path.display())))?;
    let model = ModelJson::parse(&text).map_err(|e| ConvertError::Io(format!("{}: {e}", path.display())))?;
    say!("format: {}", model.format);
    if let Some(g) = &model.generated_by {
        say!("source: {g}");
    }
    let dims = |v: &webinfer::json::ValueInfo| {
        v.shape
            .iter()
            .map(|d| match d {
                webinfer::json::Dim::Fixed(n) => n.to_string(),
                webinfer::json::Dim::Symbol(s) => s.clone(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    for i in &model.graph.inputs {
        say!("input  {} {} [{}]", i.name, i.dtype.name(), dims(i));
    }
    for o in &model.graph.outputs {
        say!("output {} {} [{}]", o.name, o.dtype.name(), dims(o));
    }
    let mut shards = Vec::new();
    let mut all_ok = true;
    for group in &model.weights_manifest {
        for (i, p) in group.paths.iter().enumerate() {
            let sp = dir.join(p);
            let status = match std::fs::read(&sp) {
                Ok(bytes) => {
                    let location = sp.display().to_string();
                    let shard = webinfer::weights::ShardSource { file: p, location: &location };
                    let status = match verify_shard(group.shards.get(i), &bytes, shard) {
                        Ok(()) if group.shards.get(i).is_some() => "ok (length and sha256 match)".to_string(),
                        Ok(()) => "present (no digest recorded)".to_string(),
                        Err(e) => {
                            all_ok = false;
                            format!("CORRUPT: {e}")
                        }
                    };
                    shards.push(bytes);
                    status
                }
                Err(e) => {
                    all_ok = false;
                    format!("MISSING: {e}")
                }
            };
            say!("shard  {p}: {status}");
        }
    }
    let mut by_dtype: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for w in model.weights() {
        let key = match &w.quantization {
            Some(q) => format!("{} stored as {}", w.dtype.name(), q.dtype.name()),
            None => w.dtype.name().to_string(),
        };
        let e = by_dtype.entry(key).or_default();
        e.0 += 1;
        e.1 += w.byte_len();
    }
    for (k, (n, b)) in by_dtype {
        say!("weights {k}: {n} tensors, {b} bytes");
    }
    say!("{}", summary(&model, &shards).trim_end());
    if all_ok {
        say!("integrity: ok");
        Ok(())
    } else {
        Err(ConvertError::Io(format!("{}: integrity check failed", dir.display())))
    }
}
