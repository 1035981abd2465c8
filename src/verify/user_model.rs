//! `--keras FILE`: a user's Keras model checked in place of thaw's own
//! conversion. Read it and fit its inputs to the graph's ([`read`]), align its
//! layers with the converted ones and map each aligned layer to its twin's TF
//! tensor ([`align`]), then, after the shared stages, give the report the
//! user's outputs and unaligned layers ([`finish_report`]).

use super::{VerifyError, VerifyOptions};
use crate::compare::align::{self, Alignment, Unaligned};
use crate::compare::diagnose::{self, WeightCheck};
use crate::convert::{self, Conversion, LayerTensor};
use crate::graph::Graph;
use crate::keras::isolate::{ChildError, Reader};
use crate::keras::{self, Model};
use crate::report::{OutputSpec, Report, Verdict};
use serde::Serialize;
use std::path::Path;

/// How a user's model lines up with the converted one (`alignment.json`).
#[derive(Clone, Debug, Serialize)]
pub struct KerasAlignment {
    pub keras_file: String,
    #[serde(flatten)]
    pub alignment: Alignment,
    /// Per aligned weighted layer: its weights vs the graph's constants.
    pub weights: Vec<LayerWeights>,
}

#[derive(Clone, Debug, Serialize)]
pub struct LayerWeights {
    pub user: String,
    pub converted: String,
    pub checks: Vec<WeightCheck>,
}

/// The user's model as the shared stages run it, with what the report needs
/// afterwards.
pub(super) struct Aligned {
    /// The user's model, its inputs renamed to the graph's, with the TF
    /// tensor of every layer that has one.
    pub conv: Conversion,
    pub info: KerasAlignment,
    pub unaligned: Vec<Unaligned>,
    /// Per user output, the converted layer (or input) it is compared with.
    pub output_twins: Vec<Option<String>>,
    /// The config and weight diff against the conversion (compare::findings).
    pub findings: Vec<crate::compare::findings::Finding>,
}

/// Reads the user's model (`.keras` archive, else `.h5`); both sides are fed
/// the same arrays, so its inputs must take the graph's shapes (a dimension
/// one side leaves open takes the other's).
///
/// `reader` says where: in this process, or in a child process
/// ([`keras::isolate`]) that a crash, a loop or a blow-up of the HDF5
/// library on a damaged file cannot take down (out of `timeout`: exit 5).
pub(super) fn read(
    keras_file: &Path,
    conv: &Conversion,
    reader: &Reader,
    timeout: std::time::Duration,
) -> Result<Model, VerifyError> {
    let refused = |e: String| VerifyError::Usage(format!("--keras {}: {e}", keras_file.display()));
    let mut user = match reader {
        Reader::InProcess => {
            keras::isolate::read_file(keras_file).map_err(|e| refused(e.to_string()))?
        }
        Reader::Child(exe) => {
            keras::isolate::read_in_child(exe, keras_file, timeout).map_err(|e| match e {
                ChildError::Refused(m) => refused(m),
                ChildError::Crashed { .. } | ChildError::OutOfMemory { .. } => {
                    VerifyError::Usage(e.to_string())
                }
                ChildError::Timeout { seconds, .. } => VerifyError::Timeout {
                    stage: "reading the --keras file (the HDF5 library can loop forever on a \
                            damaged file)",
                    seconds,
                },
                ChildError::Failed { .. } => VerifyError::KerasReader(e.to_string()),
            })?
        }
    };
    if user.inputs.len() != conv.model.inputs.len() {
        return Err(VerifyError::Usage(format!(
            "--keras {}: the model has {} input(s), the graph {}",
            keras_file.display(),
            user.inputs.len(),
            conv.model.inputs.len()
        )));
    }
    fit_inputs(&mut user, conv, keras_file)?;
    Ok(user)
}

fn fit_inputs(user: &mut Model, conv: &Conversion, keras_file: &Path) -> Result<(), VerifyError> {
    let dims = |s: &[Option<usize>]| {
        let d: Vec<String> = s
            .iter()
            .map(|d| d.map_or("None".into(), |v| v.to_string()))
            .collect();
        format!("(batch, {})", d.join(", "))
    };
    for (ui, ci) in user.inputs.iter_mut().zip(&conv.model.inputs) {
        let fits = ui.shape.len() == ci.shape.len()
            && ui
                .shape
                .iter()
                .zip(&ci.shape)
                .all(|(u, c)| u.is_none() || c.is_none() || u == c);
        if !fits {
            return Err(VerifyError::Usage(format!(
                "--keras {}: input '{}' has shape {}, the graph's input '{}' {}",
                keras_file.display(),
                ui.name,
                dims(&ui.shape),
                ci.name,
                dims(&ci.shape)
            )));
        }
        for (u, c) in ui.shape.iter_mut().zip(&ci.shape) {
            *u = u.or(*c);
        }
    }
    Ok(())
}

/// Aligns the user's layers with the converted ones, renames the user's
/// inputs to the graph's (the oracle feeds the graph's placeholders by the
/// Keras input names) and maps every aligned user layer to its twin's TF
/// tensor, checking the weights of weighted pairs.
pub(super) fn align(mut user: Model, conv: &Conversion, keras_file: &Path) -> Aligned {
    let alignment = align::align(&user, &conv.model);
    let unaligned = align::unaligned(&alignment, &user, &conv.model);
    let findings = crate::compare::findings::findings(&user, &conv.model, &alignment);
    let output_twins: Vec<Option<String>> = user
        .outputs
        .iter()
        .map(|o| {
            alignment.pair(o).map(|p| p.output.clone()).or_else(|| {
                let p = alignment.pass_through.iter().find(|p| p.user == *o);
                p.map(|p| p.same_as.clone())
            })
        })
        .collect();
    rename_inputs(&mut user, conv);
    let (tensors, weights) = twin_tensors(&user, conv, &alignment);
    Aligned {
        conv: Conversion {
            model: user,
            tensors,
            unsupported: conv.unsupported.clone(),
        },
        info: KerasAlignment {
            keras_file: keras_file.display().to_string(),
            alignment,
            weights,
        },
        unaligned,
        output_twins,
        findings,
    }
}

/// Gives the user's inputs the graph's input names, in every reference.
fn rename_inputs(user: &mut Model, conv: &Conversion) {
    for (ui, ci) in user.inputs.iter_mut().zip(&conv.model.inputs) {
        let old = std::mem::replace(&mut ui.name, ci.name.clone());
        for l in &mut user.layers {
            for i in &mut l.inbound {
                if *i == old {
                    *i = ci.name.clone();
                }
            }
        }
        for o in &mut user.outputs {
            if *o == old {
                *o = ci.name.clone();
            }
        }
    }
}

/// The TF tensor of every user layer that has a twin (inputs first), and the
/// weight checks of the weighted pairs.
fn twin_tensors(
    user: &Model,
    conv: &Conversion,
    alignment: &Alignment,
) -> (Vec<LayerTensor>, Vec<LayerWeights>) {
    let mut tensors = Vec::new();
    let mut weights = Vec::new();
    for lt in conv.tensors.iter().filter(|t| t.class_name == "InputLayer") {
        tensors.push(lt.clone());
    }
    for u in &user.layers {
        // A weightless user layer with no twin is compared, as an identity,
        // with the graph tensor of its input's twin (align.rs): an extra
        // layer that is not one (a ReLU the graph lacks) is located there.
        if let Some(p) = alignment.pass_through.iter().find(|p| p.user == u.name)
            && let Some(lt) = conv.tensors.iter().find(|t| t.layer == p.same_as)
        {
            tensors.push(LayerTensor {
                layer: u.name.clone(),
                class_name: u.kind.class_name().to_string(),
                tensor: lt.tensor.clone(),
                nodes: Vec::new(),
            });
            continue;
        }
        let Some(pair) = alignment.pair(&u.name) else {
            continue;
        };
        let c = pair.converted.as_str();
        let Some(lt) = conv.tensors.iter().find(|t| t.layer == pair.output) else {
            continue;
        };
        tensors.push(LayerTensor {
            layer: u.name.clone(),
            class_name: u.kind.class_name().to_string(),
            tensor: lt.tensor.clone(),
            nodes: lt.nodes.clone(),
        });
        // Its other outputs (a recurrent layer's states) that pair too.
        for k in 1..u.kind.outputs() {
            let uk = keras::output_name(&u.name, k);
            if let Some(p) = alignment.pair(&uk)
                && let Some(lt) = conv.tensors.iter().find(|t| t.layer == p.output)
            {
                tensors.push(LayerTensor {
                    layer: uk,
                    class_name: u.kind.class_name().to_string(),
                    tensor: lt.tensor.clone(),
                    nodes: Vec::new(),
                });
            }
        }
        if let Some(cl) = conv.model.layer(c)
            && !cl.weights.is_empty()
        {
            weights.push(LayerWeights {
                user: u.name.clone(),
                converted: c.to_string(),
                checks: diagnose::weight_check(u, cl),
            });
        }
    }
    (tensors, weights)
}

/// The user's outputs, each with the graph tensor its twin stands for (the
/// user may list them in another order than the graph's sinks), and the
/// unaligned layers: a model result nothing compares is not verified,
/// whatever the layers that are compared say.
pub(super) fn finish_report(
    report: &mut Report,
    aligned: &Aligned,
    graph: &Graph,
    conv: &Conversion,
    opts: &VerifyOptions,
    numeric_only: bool,
) -> Result<(), VerifyError> {
    let (_, sinks) = convert::graph_io(graph, &opts.convert)?;
    // Nothing was run when unsupported; verify_models leaves the outputs
    // empty then.
    if report.verdict != Verdict::Unsupported {
        report.outputs = aligned
            .conv
            .model
            .outputs
            .iter()
            .zip(&aligned.output_twins)
            .map(|(layer, twin)| OutputSpec {
                tensor: twin_tensor(conv, &sinks, twin.as_deref()),
                layer: layer.clone(),
            })
            .collect();
    }
    report.unaligned = aligned.unaligned.clone();
    let unchecked = report
        .unaligned
        .iter()
        .any(|u| u.coverage == align::Coverage::Unchecked);
    if unchecked && report.verdict != Verdict::Unsupported {
        report.verdict = Verdict::Fail;
    }
    // A config or weight difference changes the function even where the
    // random inputs do not show it (issue 10: no silent pass).
    report.findings = aligned.findings.clone();
    if !report.findings.is_empty() && !numeric_only && report.verdict != Verdict::Unsupported {
        report.verdict = Verdict::Fail;
    }
    Ok(())
}

/// The graph tensor a converted layer `twin` stands for: the graph output it
/// computes, else its mapped tensor.
fn twin_tensor(conv: &Conversion, sinks: &[impl ToString], twin: Option<&str>) -> String {
    let sink = conv
        .model
        .outputs
        .iter()
        .position(|o| Some(o.as_str()) == twin)
        .and_then(|i| sinks.get(i))
        .map(|t| t.to_string());
    let mapped = || {
        conv.tensors
            .iter()
            .find(|t| Some(t.layer.as_str()) == twin)
            .map(|t| t.tensor.to_string())
    };
    sink.or_else(mapped).unwrap_or_default()
}
