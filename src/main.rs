//! The `thaw` command line.
//!
//! Exit codes (also in the README):
//! - 0: equivalent — every layer within tolerance, or verdict `drift` (every
//!   layer right in isolation, cumulative differences within the graph's own
//!   sensitivity to float32 rounding); or: converted, inspected;
//! - 1: diverged — at least one layer out of tolerance;
//! - 2: bad input or usage — unreadable/invalid graph, bad flag, unknown shape,
//!   a tensor over `--max-memory` (also inside tract's preparation), a
//!   `--keras` file that crashes the HDF5 library or outgrows its reader's
//!   memory limit;
//! - 3: unsupported ops — the graph holds nodes thaw cannot convert (all listed);
//! - 4: internal failure — thaw failed on a graph it accepted (please report);
//! - 5: budget exceeded — `--timeout` ran out while preparing or running the
//!   original graph, or reading the `--keras` file; no verdict either way. Its own code because it is none of
//!   the others: not a fault of the input (2), not a missing op (3), not
//!   necessarily a bug (4); CI can tell "raise the budget" from a failure.

mod inspect;
mod supported;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use thaw::compare::Tolerance;
use thaw::compare::overrides::Overrides;
use thaw::convert::ConvertOptions;
use thaw::report::Verdict;
use thaw::report::baseline::{self, GateRule};
use thaw::report::progress::Progress;
use thaw::report::view::ReportView;
use thaw::verify::{self, InputDist, VerifyError, VerifyOptions, VerifySettings};

#[derive(Parser)]
#[command(
    name = "thaw",
    version,
    about = "Turn a TensorFlow frozen graph into a Keras model, and prove they compute the same thing"
)]
struct Cli {
    /// Log what conversion rules match and refuse (debug level).
    #[arg(short, long, global = true)]
    verbose: bool,
    /// Memory budget: no tensor read from a file, fed as input or computed by
    /// either side may exceed it (bytes, or with K/M/G/T); over it, exit 2.
    #[arg(long, global = true, value_name = "BYTES", default_value = "4G", value_parser = thaw::budget::parse_bytes)]
    max_memory: u64,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Convert, run both sides on seeded inputs, and compare every layer.
    Verify(Box<VerifyArgs>),
    /// Convert a frozen graph into a Keras model: .h5 (Keras 3 and tf-keras),
    /// .keras (Keras 3 archive) or .py (Functional-API source + its .h5).
    Convert {
        #[command(flatten)]
        graph: GraphArgs,
        /// Where to write the Keras model; the extension picks the format
        /// (.h5, .keras or .py).
        #[arg(short, long, value_name = "FILE.h5|.keras|.py")]
        output: PathBuf,
    },
    /// Show inputs, outputs, op histogram, and which nodes map to which Keras layer;
    /// or, with --supported (no model), everything thaw supports.
    Inspect {
        #[command(flatten)]
        graph: Option<GraphArgs>,
        /// Print what thaw supports (conversion rules, Keras classes, interpreter
        /// classes, ops added to tract, fallback ops) instead of inspecting a model.
        #[arg(long, conflicts_with_all = ["model", "inputs", "outputs"])]
        supported: bool,
        /// Print JSON: the same facts as the text (fields in the README).
        #[arg(long)]
        json: bool,
    },
    /// Compare two report.json files (baseline, then new): print what changed;
    /// exit 1 if anything regressed (rule in reports/README.md), else 0.
    Diff {
        #[arg(value_name = "OLD.json")]
        old: PathBuf,
        #[arg(value_name = "NEW.json")]
        new: PathBuf,
        #[command(flatten)]
        gate: GateArgs,
    },
    /// (internal) Read a Keras file and write it to stdout as CBOR: how
    /// `verify --keras` reads a user's file in a child process.
    #[command(name = "__read-keras", hide = true)]
    ReadKeras { file: PathBuf },
}

/// The CI gate's error-growth rule (see `thaw::report::baseline`).
#[derive(Args)]
struct GateArgs {
    /// Regression when a layer's max abs error > FACTOR x max(baseline's, --gate-floor).
    #[arg(long, value_name = "FACTOR", default_value_t = GateRule::default().factor)]
    gate_factor: f64,
    /// Errors below this count as this (float noise floor of the gate).
    #[arg(long, value_name = "ABS", default_value_t = GateRule::default().floor)]
    gate_floor: f64,
}

impl GateArgs {
    fn rule(&self) -> Result<GateRule, Failure> {
        let ok = self.gate_factor.is_finite()
            && self.gate_factor >= 1.0
            && self.gate_floor.is_finite()
            && self.gate_floor >= 0.0;
        if !ok {
            return Err(Failure(
                2,
                anyhow::anyhow!("--gate-factor must be >= 1 and --gate-floor >= 0 (finite)"),
            ));
        }
        Ok(GateRule {
            factor: self.gate_factor,
            floor: self.gate_floor,
        })
    }
}

#[derive(Args)]
struct GraphArgs {
    /// The frozen graph (.pb binary, or .pbtxt text format).
    #[arg(value_name = "MODEL.pb")]
    model: PathBuf,
    /// Shape of an input, batch included: NAME:D1,D2,... (repeatable).
    #[arg(long = "input", value_name = "NAME:D1,D2,..", value_parser = parse_input)]
    inputs: Vec<(String, Vec<usize>)>,
    /// A graph output tensor (repeatable, in order); default: every tensor
    /// nothing consumes, in natural name order (Identity, Identity_1, ...).
    /// An output W:k of a While loop (lowered at load) is its k-th Exit. The
    /// Keras model keeps only the layers these outputs need.
    #[arg(long = "output-tensor", value_name = "TENSOR")]
    outputs: Vec<String>,
    /// Give a scalar placeholder a value (repeatable), e.g. keras_learning_phase=1
    /// for the training branch of learning-phase conditionals; by default a
    /// PlaceholderWithDefault takes its default.
    #[arg(long = "set", value_name = "NAME=VALUE")]
    sets: Vec<thaw::graph::Binding>,
}

#[derive(Args)]
struct VerifyArgs {
    #[command(flatten)]
    graph: GraphArgs,
    /// Number of random input samples (the batch size of the run).
    #[arg(long, default_value_t = 4)]
    samples: usize,
    /// Seed of the random inputs.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Range of the random float inputs, LO < HI: uniform in it, or for
    /// --input-dist normal, mean (LO+HI)/2 and standard deviation (HI-LO)/2.
    #[arg(allow_hyphen_values = true, long, value_name = "LO,HI", default_value = "-1,1", value_parser = parse_range)]
    input_range: [f32; 2],
    /// Distribution of the random float inputs: uniform or normal. Integer
    /// inputs are ids in [0, input_dim) of the Embedding they feed, else [0, 10).
    #[arg(long, value_name = "DIST", default_value = "uniform")]
    input_dist: InputDist,
    /// Take the inputs from this .npz (keys: input:<name> or <name>, batch
    /// first; its batch replaces --samples) instead of random ones.
    #[arg(long = "inputs", value_name = "DATA.npz")]
    inputs_file: Option<PathBuf>,
    /// Named tolerance, as (atol, rtol, stol): exact (0, 0, 0), close (1e-5, 1e-4, 1e-6),
    /// approximate (1e-4, 1e-3, 1e-5), very-approximate (1e-2, 1e-2, 1e-3);
    /// --atol/--rtol/--stol override single parts [default: approximate, or thaw.toml's].
    #[arg(long, value_name = "PRESET", value_parser = Tolerance::preset)]
    tolerance: Option<Tolerance>,
    /// Per-class and per-layer tolerances ([tolerance], [tolerance.class.NAME],
    /// [tolerance.layer."NAME"]; see reports/README.md) [default: ./thaw.toml if present].
    #[arg(long, value_name = "FILE.toml")]
    config: Option<PathBuf>,
    /// Absolute tolerance: pass when |keras - graph| <= atol + rtol * |graph| + stol * max|graph| [default: from --tolerance].
    #[arg(long, allow_hyphen_values = true, value_parser = parse_tolerance_part)]
    atol: Option<f32>,
    /// Relative tolerance (see --atol) [default: from --tolerance].
    #[arg(long, allow_hyphen_values = true, value_parser = parse_tolerance_part)]
    rtol: Option<f32>,
    /// Scale tolerance: adds stol * (largest |graph| of the tensor) to the
    /// allowed error [default: from --tolerance].
    #[arg(long, allow_hyphen_values = true, value_parser = parse_tolerance_part)]
    stol: Option<f32>,
    /// Isolated checks' noise bar: an element also fails when it is off by more
    /// than ulps * sqrt(fan-in) float32 ULPs of the tensor's largest |graph|
    /// (reports/README.md, "The isolated noise bar") [default: from --tolerance].
    #[arg(long, allow_hyphen_values = true, value_parser = parse_tolerance_part)]
    ulps: Option<f32>,
    /// Output folder for report.json, report.html, junit.xml, summary.md and
    /// the Keras model [default: reports/<name>/, <name> = file stem, or the folder of a model.pb].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// A baseline report.json (e.g. reports/baselines/<case>.json): exit 1 if
    /// this run regressed against it (see `thaw diff`).
    #[arg(long, value_name = "FILE.json")]
    baseline: Option<PathBuf>,
    /// Verify this hand-built Keras model (.h5) instead of thaw's conversion:
    /// its layers are aligned with the graph's (alignment.json in --out).
    #[arg(long, value_name = "FILE.h5")]
    keras: Option<PathBuf>,
    /// Judge on numbers alone. Differences between the model's config or
    /// weights and the graph's (report.json `findings`: with --keras the
    /// config and weight diff, else the activations against the graph's ops)
    /// are still reported but no longer make the verdict FAIL.
    #[arg(long)]
    numeric_only: bool,
    /// Time budget in seconds for preparing and running the original graph
    /// (tract's analysis and optimisation included); on expiry: one message
    /// naming the stage, exit 5.
    #[arg(long, value_name = "SECONDS", default_value = "300", value_parser = parse_timeout)]
    timeout: std::time::Duration,
    /// Model formats to write into --out besides the .h5 (always written),
    /// comma-separated: h5, keras (Keras 3 archive), py (model.py-style source
    /// loading the .h5's weights). Not with --keras (nothing is converted out).
    #[arg(long, value_name = "h5,keras,py", value_delimiter = ',', value_parser = parse_format, conflicts_with = "keras")]
    formats: Vec<thaw::keras::formats::Format>,
    /// Write both sides' value of every compared tensor into DIR, one
    /// sample_<i>.npz per sample (keys in reports/README.md).
    #[arg(long, value_name = "DIR")]
    dump_values: Option<PathBuf>,
    #[command(flatten)]
    gate: GateArgs,
}

fn parse_format(s: &str) -> Result<thaw::keras::formats::Format, String> {
    use thaw::keras::formats::Format;
    Format::from_name(s)
        .ok_or_else(|| format!("unknown format '{s}', expected one of: {}", Format::names()))
}

fn parse_timeout(s: &str) -> Result<std::time::Duration, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 1e9 => Ok(std::time::Duration::from_secs_f64(v)),
        _ => Err(format!("'{s}' is not a positive number of seconds")),
    }
}

fn parse_input(s: &str) -> Result<(String, Vec<usize>), String> {
    let (name, dims) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("'{s}' is not NAME:D1,D2,..."))?;
    let dims = dims
        .split(',')
        .map(|d| {
            d.trim()
                .parse::<usize>()
                .map_err(|_| format!("'{d}' in '{s}' is not a dimension (a non-negative integer)"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if name.is_empty() || dims.is_empty() || dims.contains(&0) {
        return Err(format!(
            "'{s}' is not NAME:D1,D2,... with positive dimensions"
        ));
    }
    Ok((name.to_string(), dims))
}

/// Name of the default output folder `reports/<name>/`: the file's stem, or,
/// for the generic `model.pb` (how fixtures and exported models are usually
/// laid out, `<case>/model.pb`), its folder's name, so runs on different
/// models do not overwrite each other.
fn report_name(model: &std::path::Path) -> String {
    let stem = model
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("model");
    let parent = model
        .parent()
        .and_then(|p| p.canonicalize().ok().or_else(|| Some(p.to_path_buf())))
        .and_then(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_string));
    match parent {
        Some(dir) if stem == "model" && !dir.is_empty() => dir,
        _ => stem.to_string(),
    }
}

/// The tolerance overrides: `--config FILE`, else `./thaw.toml` if present,
/// else none. A bad file is a usage error (exit 2) naming the file and key.
fn load_config(config: Option<&std::path::Path>) -> Result<Overrides, Failure> {
    let default = std::path::Path::new("thaw.toml");
    let path = match config {
        Some(p) => p,
        None if default.is_file() => default,
        None => return Ok(Overrides::default()),
    };
    Overrides::load(path).map_err(|e| Failure(2, e.into()))
}

/// One line per classifier output: how many samples' top-1 class agrees.
fn top1_lines(report: &thaw::report::Report) -> String {
    let mut s = String::new();
    for l in &report.layers {
        if let Some(t) = l.extra.as_ref().and_then(|e| e.top1_agreement) {
            s.push_str(&format!(
                "top-1 agreement of output {}: {:.1}% ({} samples)\n",
                l.name,
                t * 100.0,
                report.samples
            ));
        }
    }
    s
}

fn parse_tolerance_part(s: &str) -> Result<f32, String> {
    match s.trim().parse::<f32>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("'{s}' is not a finite, non-negative number")),
    }
}

fn parse_range(s: &str) -> Result<[f32; 2], String> {
    let (lo, hi) = s
        .split_once(',')
        .ok_or_else(|| format!("'{s}' is not LO,HI"))?;
    let p = |v: &str| {
        v.trim()
            .parse::<f32>()
            .map_err(|_| format!("'{v}' is not a number"))
    };
    let (lo, hi) = (p(lo)?, p(hi)?);
    // LO == HI would make every input constant.
    if !(lo.is_finite() && hi.is_finite() && lo < hi) {
        return Err(format!("'{s}' is not a finite range with LO < HI"));
    }
    Ok([lo, hi])
}

impl GraphArgs {
    fn convert_options(&self) -> ConvertOptions {
        ConvertOptions {
            input_shapes: self.inputs.iter().cloned().collect::<HashMap<_, _>>(),
            outputs: self.outputs.clone(),
            model_name: None,
            bindings: self.sets.clone(),
        }
    }
}

/// An error with the exit code it maps to.
struct Failure(u8, anyhow::Error);

fn classify(e: VerifyError) -> Failure {
    let code = match e {
        _ if e.is_user_error() => 2,
        VerifyError::Timeout { .. } => 5,
        _ => 4,
    };
    Failure(code, anyhow::Error::new(e))
}

fn main() -> ExitCode {
    // A bug (ours or a dependency's) must still end as one clear line and the
    // documented exit code, never a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        // The reader went away (`thaw inspect m.pb | head`): stop quietly,
        // as Unix tools do, instead of calling it a bug.
        if msg.starts_with("failed printing to std") && msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("thaw: internal error: {msg}{at}");
        eprintln!(
            "thaw: this is a failure of thaw; please report it with the model that triggered it"
        );
        std::process::exit(4);
    }));
    let cli = Cli::parse();
    env_logger::Builder::new()
        .filter_level(if cli.verbose {
            log::LevelFilter::Debug
        } else {
            log::LevelFilter::Warn
        })
        .filter_module("tract_core", log::LevelFilter::Warn)
        .filter_module("tract_hir", log::LevelFilter::Warn)
        .format_timestamp(None)
        .init();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(Failure(code, e)) => {
            eprintln!("thaw: error: {}", one_line(&e));
            if code == 4 {
                eprintln!(
                    "thaw: this is a failure of thaw on a graph it accepted; please report it"
                );
            }
            ExitCode::from(code)
        }
    }
}

/// The error and its causes on one line, each cause once: most of thaw's
/// errors already name their cause in their own message (`{e:#}` would
/// print it a second time).
fn one_line(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

fn run(cli: Cli) -> Result<u8, Failure> {
    thaw::budget::set_max_memory(cli.max_memory);
    match cli.cmd {
        Cmd::Verify(a) => {
            let name = report_name(&a.graph.model);
            let overrides = load_config(a.config.as_deref())?;
            // The command line over the file's [tolerance] over the default preset.
            let base = a.tolerance.unwrap_or_else(|| overrides.model_tolerance());
            let opts = VerifyOptions {
                model: a.graph.model.clone(),
                out_dir: a
                    .out
                    .clone()
                    .unwrap_or_else(|| PathBuf::from("reports").join(&name)),
                convert: a.graph.convert_options(),
                samples: a.samples,
                seed: a.seed,
                input_range: a.input_range,
                tolerance: Tolerance {
                    atol: a.atol.unwrap_or(base.atol),
                    rtol: a.rtol.unwrap_or(base.rtol),
                    stol: a.stol.unwrap_or(base.stol),
                    ulps: a.ulps.unwrap_or(base.ulps),
                },
            };
            let rule = a.gate.rule()?;
            let progress = Progress::start(&format!("verifying {}", opts.model.display()));
            let settings = VerifySettings {
                overrides,
                input_dist: a.input_dist,
                inputs_file: a.inputs_file.clone(),
                progress: progress.clone(),
                numeric_only: a.numeric_only,
                timeout: verify::Timeout(a.timeout),
                formats: a.formats.clone(),
                dump_values: a.dump_values.clone(),
                // The user's file is read by a child process of this
                // executable (libhdf5 may crash or loop on a damaged file).
                keras_reader: match std::env::current_exe() {
                    Ok(exe) => thaw::keras::isolate::Reader::Child(exe),
                    Err(_) => thaw::keras::isolate::Reader::InProcess,
                },
            };
            let report = match &a.keras {
                Some(k) => verify::verify_keras_with(&opts, &settings, k).map(|(r, _)| r),
                None => verify::verify_with(&opts, &settings),
            }
            .map_err(classify)?;
            drop(settings);
            drop(progress);
            print!("{}", report.to_table());
            print!("{}", top1_lines(&report));
            println!("report: {}", opts.out_dir.join("report.json").display());
            if let Some(k) = &report.keras_file {
                println!("keras model: {k}");
            }
            let code = match report.verdict {
                Verdict::Pass | Verdict::Drift => 0,
                Verdict::Fail => 1,
                Verdict::Unsupported => 3,
            };
            let regressed =
                renderings_and_gate(&report, &opts.out_dir, a.baseline.as_deref(), rule)?;
            Ok(if regressed && code == 0 { 1 } else { code })
        }
        Cmd::ReadKeras { file } => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            thaw::keras::isolate::child_main(&file, &mut out)
                .map_err(|e| Failure(4, anyhow::anyhow!("{}: {e}", file.display())))?;
            Ok(0)
        }
        Cmd::Diff { old, new, gate } => {
            let rule = gate.rule()?;
            let load = |p: &std::path::Path| ReportView::load(p).map_err(|e| Failure(2, e.into()));
            let d = baseline::diff(&load(&old)?, &load(&new)?, rule);
            println!("thaw diff {} -> {}", old.display(), new.display());
            print!("{}", d.to_text());
            Ok(u8::from(d.regressed()))
        }
        Cmd::Convert { graph, output } => {
            use thaw::keras::formats::{self, Format};
            let format = Format::from_path(&output).ok_or_else(|| {
                Failure(
                    2,
                    anyhow::anyhow!(
                        "-o {}: unknown model format; the extension picks it, one of: {}",
                        output.display(),
                        Format::names()
                    ),
                )
            })?;
            let (_, conv) = verify::load_and_convert(&graph.model, &graph.convert_options())
                .map_err(classify)?;
            if !conv.unsupported.is_empty() {
                eprintln!(
                    "{}: {} node(s) cannot be converted:",
                    graph.model.display(),
                    conv.unsupported.len()
                );
                for u in &conv.unsupported {
                    eprintln!("  {} ({}): {}", u.node, u.op, u.reason);
                }
                eprintln!("nothing was written");
                return Ok(3);
            }
            if let Some(dir) = output.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| {
                        format!(
                            "-o {}: cannot create the folder {}",
                            output.display(),
                            dir.display()
                        )
                    })
                    .map_err(|e| Failure(2, e))?;
            }
            let written = formats::write(&output, &conv.model, format, &conv.origins())
                .with_context(|| format!("writing {}", output.display()))
                .map_err(|e| Failure(4, e))?;
            // Fallback layers and MultiHeadAttention need their Python class next to the model.
            if let Some(m) = written
                .iter()
                .find(|p| p.ends_with(thaw::keras::pymodule::MODULE_FILE))
            {
                println!(
                    "{}: load with `import thaw_fallbacks` from {}",
                    thaw::keras::pymodule::module_use(&conv.model),
                    m.display()
                );
            }
            println!(
                "{}: {} layers written to {}",
                graph.model.display(),
                conv.model.layers.len(),
                output.display()
            );
            Ok(0)
        }
        Cmd::Inspect {
            supported: true,
            json,
            ..
        } => {
            let v = supported::supported();
            if json {
                println!("{v:#}");
            } else {
                supported::print_text(&v);
            }
            Ok(0)
        }
        Cmd::Inspect {
            graph: Some(graph),
            json,
            ..
        } => inspect(&graph, json),
        Cmd::Inspect { graph: None, .. } => Err(Failure(
            2,
            anyhow::anyhow!("inspect needs a MODEL.pb (or --supported)"),
        )),
    }
}

fn inspect(args: &GraphArgs, json: bool) -> Result<u8, Failure> {
    let v = inspect::inspect(&args.model, &args.convert_options()).map_err(classify)?;
    if json {
        let text = serde_json::to_string_pretty(&v)
            .context("serializing the inspection")
            .map_err(|e| Failure(4, e))?;
        println!("{text}");
    } else {
        inspect::print_text(&v);
    }
    Ok(if v.unsupported_ops.is_empty() { 0 } else { 3 })
}

/// Writes the Model Explorer node data (keyed by the GraphDef's node order,
/// so the graph file is read again for its node names).
fn model_explorer_files(view: &ReportView, dir: &std::path::Path) -> Result<(), Failure> {
    use thaw::report::model_explorer;
    let names = thaw::graph::node_names(std::path::Path::new(&view.model))
        .with_context(|| format!("reading {} again for model_explorer.json", view.model))
        .map_err(|e| Failure(4, e))?;
    let paths = model_explorer::write(view, &names, dir)
        .with_context(|| {
            format!(
                "writing {} to {}",
                model_explorer::FILES.join(", "),
                dir.display()
            )
        })
        .map_err(|e| Failure(4, e))?;
    println!(
        "model explorer: model-explorer {} --node_data_paths={}",
        view.model,
        paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
    Ok(())
}

/// Writes report.html, junit.xml and summary.md next to report.json; with a
/// baseline, prints the gate's findings and returns whether it regressed.
fn renderings_and_gate(
    report: &thaw::report::Report,
    dir: &std::path::Path,
    baseline_file: Option<&std::path::Path>,
    rule: GateRule,
) -> Result<bool, Failure> {
    let view = ReportView::of(report)
        .context("reading back the report")
        .map_err(|e| Failure(4, e))?;
    thaw::report::outputs::write_all(&view, dir)
        .with_context(|| {
            format!(
                "writing report.html, junit.xml, summary.md to {}",
                dir.display()
            )
        })
        .map_err(|e| Failure(4, e))?;
    println!("html: {}", dir.join("report.html").display());
    model_explorer_files(&view, dir)?;
    let Some(b) = baseline_file else {
        return Ok(false);
    };
    let old = ReportView::load(b).map_err(|e| Failure(2, e.into()))?;
    let d = baseline::diff(&old, &view, rule);
    println!("baseline {}:", b.display());
    print!("{}", d.to_text());
    Ok(d.regressed())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn default_report_folder_is_named_after_the_model() {
        use std::path::Path;
        assert_eq!(
            report_name(Path::new("fixtures/tk_gelu/model.pb")),
            "tk_gelu"
        );
        assert_eq!(report_name(Path::new("graphs/resnet50.pb")), "resnet50");
    }

    #[test]
    fn input_flag_parses_and_names_bad_parts() {
        assert_eq!(
            parse_input("x:1,8,8,3").unwrap(),
            ("x".to_string(), vec![1, 8, 8, 3])
        );
        assert!(parse_input("x:1,b").unwrap_err().contains("'b'"));
        assert!(parse_input("x1,2").is_err());
        assert!(parse_input("x:0,2").is_err());
        assert_eq!(parse_range("-2,3").unwrap(), [-2.0, 3.0]);
        assert!(parse_range("3,-2").is_err());
    }
}
