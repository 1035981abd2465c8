//! tract alone on a frozen graph: the baseline `thaw verify` is measured
//! against (issue 11, "verify at tract speed").
//!
//! Usage: `tract_alone MODEL.pb INPUTS.npz`
//!
//! Does what any tract user does and nothing more: load the GraphDef with
//! tract-tensorflow (with thaw's op builders registered, [`thaw::oracle::framework`]:
//! stock tract refuses the zoo's graphs, e.g. a `Pad` with int32 paddings, and a
//! baseline that stops at an error measures nothing), set every input to the shape of one batch of the graph
//! (the graph's own fixed batch, else the whole array), `into_optimized` (else
//! `into_decluttered`, else the typed model, as thaw's oracle falls back), and
//! run the inputs, batch after batch, fetching only the graph's own outputs.
//! The inputs come from the `.npz` that `thaw verify --inputs` reads too, so
//! both sides run the same samples (keys `input:<placeholder>` or
//! `<placeholder>`, float32, batch first).
//!
//! It times nothing itself: `benches/ratio.py` runs it and `thaw verify`
//! alternately as whole processes and measures each one's wall time and peak
//! RSS. It prints one line (`outputs: ...`) so that the work cannot be
//! optimised away. Built by `cargo build --all-targets` (harness = false);
//! the binary is `target/<profile>/deps/tract_alone-<hash>` (ratio.py finds it).

use anyhow::{Context, Result, bail};
use ndarray::{ArrayD, Axis, Slice};
use ndarray_npy::NpzReader;
use tract_tensorflow::prelude::*;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo bench` passes `--bench`; with no files there is nothing to do.
    let files: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let [model_path, npz_path] = files.as_slice() else {
        eprintln!("usage: tract_alone MODEL.pb INPUTS.npz (see benches/ratio.py)");
        return Ok(());
    };

    let mut npz = NpzReader::new(std::fs::File::open(npz_path).context("opening the .npz")?)?;
    let mut named: Vec<(String, ArrayD<f32>)> = vec![];
    for key in npz.names()? {
        let array: ArrayD<f32> = npz.by_name(&key).with_context(|| format!("key {key}"))?;
        let name = key.strip_prefix("input:").unwrap_or(&key).to_string();
        named.push((name, array));
    }

    let tf = thaw::oracle::framework();
    let mut model = tf.model_for_path(model_path)?;
    let mut batches = None;
    let mut order = vec![];
    for (i, outlet) in model.input_outlets()?.to_vec().into_iter().enumerate() {
        let name = model.node(outlet.node).name.clone();
        let Some(pos) = named.iter().position(|(n, _)| *n == name) else {
            bail!("{npz_path}: no array for the graph input {name}");
        };
        let array = &named[pos].1;
        // A fixed batch in the graph is run batch after batch, as thaw does.
        let fact = model.input_fact(i)?.clone();
        let graph_batch = fact
            .shape
            .as_concrete_finite()?
            .and_then(|s| s.first().copied());
        let b = graph_batch.unwrap_or(array.shape()[0]);
        let mut shape = array.shape().to_vec();
        shape[0] = b;
        batches = Some(array.shape()[0] / b);
        model.set_input_fact(i, f32::fact(&shape).into())?;
        order.push((pos, b));
    }
    // As thaw's oracle does: tract's optimiser fails on some graphs (ResNet50 and
    // InceptionV3 with only their own outputs: declutter pass ChangeAxes moves a
    // batch-norm bias into a Conv with the wrong rank), then the decluttered,
    // then the typed model runs.
    let typed = model.into_typed()?;
    let model = typed
        .clone()
        .into_optimized()
        .or_else(|_| typed.clone().into_decluttered())
        .unwrap_or(typed);
    let plan = model.into_runnable()?;
    let mut printed = 0usize;
    for c in 0..batches.unwrap_or(1) {
        let values: TVec<TValue> = order
            .iter()
            .map(|&(pos, b)| {
                let chunk = named[pos]
                    .1
                    .slice_axis(Axis(0), Slice::from(c * b..(c + 1) * b))
                    .to_owned();
                Tensor::from(chunk).into_tvalue()
            })
            .collect();
        let out = plan.run(values)?;
        printed += out.iter().map(|t| t.len()).sum::<usize>();
    }
    println!("outputs: {printed} values");
    Ok(())
}
