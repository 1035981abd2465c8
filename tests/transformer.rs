//! The Transformer encoder block fixtures (`harness/gen_fixtures.py`,
//! `build_transformer_block`: MultiHeadAttention(num_heads=2, key_dim=8) on
//! (8, 16), Add, LayerNormalization(epsilon=1e-6), Dense(32, gelu), Dropout,
//! Dense(16), Add, LayerNormalization(epsilon=1e-6)) convert to the same Keras
//! layers from both Kerases' graphs: the expected values below are that
//! builder's arguments.

use thaw::convert::{ConvertOptions, convert};
use thaw::graph::Graph;
use thaw::keras::{Activation, LayerKind, Model};

fn model(case: &str) -> Model {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("fixtures/{case}/model.pb"));
    let graph = Graph::load(&path).expect("fixture loads");
    let c = convert(&graph, &ConvertOptions::default()).expect("converts");
    assert!(c.unsupported.is_empty(), "{case}: {:?}", c.unsupported);
    c.model
}

#[test]
fn both_kerases_give_the_same_layers_and_configs() {
    for case in ["k3_transformer_block", "tk_transformer_block"] {
        let m = model(case);
        let classes: Vec<_> = m.layers.iter().map(|l| l.kind.class_name()).collect();
        // Dropout is nothing at inference; gelu fused in ffn_1 becomes its own Activation.
        assert_eq!(
            classes,
            [
                "MultiHeadAttention",
                "Add",
                "LayerNormalization",
                "Dense",
                "Activation",
                "Dense",
                "Add",
                "LayerNormalization"
            ],
            "{case}"
        );
        let mha = m.layer("mha").expect("mha");
        assert_eq!(
            mha.kind,
            LayerKind::MultiHeadAttention {
                num_heads: 2,
                key_dim: 8,
                value_dim: 8,
                use_bias: true,
                output_shape: None
            },
            "{case}"
        );
        // Self-attention: query and value are the input (key defaults to value).
        assert_eq!(mha.inbound, ["input", "input"], "{case}");
        let shapes: Vec<(&str, &[usize])> = mha
            .weights
            .iter()
            .map(|w| (w.name.as_str(), w.value.shape()))
            .collect();
        assert_eq!(
            shapes,
            [
                ("query/kernel", &[16, 2, 8][..]),
                ("query/bias", &[2, 8][..]),
                ("key/kernel", &[16, 2, 8][..]),
                ("key/bias", &[2, 8][..]),
                ("value/kernel", &[16, 2, 8][..]),
                ("value/bias", &[2, 8][..]),
                ("attention_output/kernel", &[2, 8, 16][..]),
                ("attention_output/bias", &[16][..]),
            ],
            "{case}"
        );
        for ln in ["ln_attn", "ln_ffn"] {
            let l = m.layer(ln).expect("layer norm");
            assert_eq!(
                l.kind,
                LayerKind::LayerNormalization {
                    axis: -1,
                    epsilon: 1e-6,
                    center: true,
                    scale: true
                },
                "{case} {ln}"
            );
            let names: Vec<_> = l.weights.iter().map(|w| w.name.as_str()).collect();
            assert_eq!(names, ["gamma", "beta"], "{case} {ln}");
        }
        assert_eq!(
            m.layer("ffn_1").expect("ffn_1").kind,
            LayerKind::Dense {
                units: 32,
                use_bias: true,
                activation: Activation::Linear
            },
            "{case}"
        );
        assert_eq!(
            m.layer("ffn_2").expect("ffn_2").kind,
            LayerKind::Dense {
                units: 16,
                use_bias: true,
                activation: Activation::Linear
            },
            "{case}"
        );
    }
}

/// The `.h5` thaw writes for the block names the loading shim
/// `ThawMultiHeadAttention` (both Kerases load it with the generated
/// `thaw_fallbacks.py`, checked by `harness/roundtrip.py` in `.ci/run`), reads
/// back to the converted IR, weights included, and `verify --keras` on it
/// aligns every layer with the graph and passes: the class is still a native
/// MultiHeadAttention in the IR and in the report, not a fallback layer.
#[test]
fn written_h5_reads_back_and_verifies_with_keras_flag() {
    use thaw::compare::Tolerance;
    use thaw::report::{Status, Verdict};
    use thaw::verify::{VerifyOptions, verify_keras};
    for case in ["k3_transformer_block", "tk_transformer_block"] {
        let m = model(case);
        let dir = tempfile::tempdir().expect("temp dir");
        let h5 = dir.path().join("model.h5");
        thaw::keras::h5::write(&h5, &m).expect("writes");
        let module = thaw::keras::pymodule::write_beside(&h5, &m).expect("writes the module");
        assert_eq!(
            module,
            Some(dir.path().join(thaw::keras::pymodule::MODULE_FILE)),
            "{case}: MultiHeadAttention needs the module"
        );
        let text = hdf5_metno::File::open(&h5)
            .and_then(|f| f.attr("model_config"))
            .and_then(|a| a.read_scalar::<hdf5_metno::types::VarLenUnicode>())
            .expect("model_config attribute");
        let raw: serde_json::Value = serde_json::from_str(text.as_str()).expect("JSON");
        let mha = raw["config"]["layers"]
            .as_array()
            .and_then(|ls| ls.iter().find(|l| l["name"] == "mha"))
            .expect("mha entry");
        assert_eq!(mha["class_name"], "ThawMultiHeadAttention", "{case}");
        assert_eq!(
            mha["inbound_nodes"],
            serde_json::json!([[["input", 0, 0, {}], ["input", 0, 0, {}]]]),
            "{case}"
        );
        assert_eq!(thaw::keras::h5::read(&h5).expect("reads back"), m, "{case}");

        let opts = VerifyOptions {
            model: std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(format!("fixtures/{case}/model.pb")),
            out_dir: dir.path().join("out"),
            convert: ConvertOptions::default(),
            samples: 2,
            seed: 0,
            input_range: [-1.0, 1.0],
            tolerance: Tolerance::default(),
        };
        let (r, al) = verify_keras(&opts, &h5).expect("verifies");
        assert!(
            al.alignment.unaligned_user.is_empty(),
            "{case}: {:?}",
            al.alignment
        );
        assert!(
            al.alignment.unaligned_converted.is_empty(),
            "{case}: {:?}",
            al.alignment
        );
        assert_eq!(r.verdict, Verdict::Pass, "{case}:\n{}", r.to_table());
        assert!(r.fallback_layers.is_empty(), "{case}: MHA is no fallback");
        let row = r.layers.iter().find(|l| l.name == "mha").expect("mha row");
        assert_eq!(row.class_name, "MultiHeadAttention", "{case}");
        assert_eq!(row.status, Status::Pass, "{case}");
    }
}

/// The cross-attention fixtures (`harness/gen_fixtures.py`,
/// `build_cross_attention`: `MultiHeadAttention(num_heads=3, key_dim=4,
/// value_dim=6, output_shape=7, use_bias=False)(query, memory, key=key)`, then
/// `MultiHeadAttention(num_heads=1, key_dim=5)(a, a)` and `Dense(3)`) convert
/// with query, value and key told apart, in the IR's `[query, value, key]`
/// order, from both Kerases' graphs; expected values are the builder's.
#[test]
fn cross_attention_keeps_query_value_and_key_apart() {
    for case in ["k3_cross_attention", "tk_cross_attention"] {
        let m = model(case);
        let cross = m.layer("cross").expect("cross");
        assert_eq!(
            cross.kind,
            LayerKind::MultiHeadAttention {
                num_heads: 3,
                key_dim: 4,
                value_dim: 6,
                use_bias: false,
                output_shape: Some(7),
            },
            "{case}"
        );
        assert_eq!(cross.inbound, ["query", "memory", "key"], "{case}");
        let shapes: Vec<(&str, &[usize])> = cross
            .weights
            .iter()
            .map(|w| (w.name.as_str(), w.value.shape()))
            .collect();
        // Feature sizes: query 12, key 5, memory (value) 8.
        assert_eq!(
            shapes,
            [
                ("query/kernel", &[12, 3, 4][..]),
                ("key/kernel", &[5, 3, 4][..]),
                ("value/kernel", &[8, 3, 6][..]),
                ("attention_output/kernel", &[3, 6, 7][..]),
            ],
            "{case}"
        );
        let selfa = m.layer("self_attn").expect("self_attn");
        assert_eq!(selfa.inbound, ["cross", "cross"], "{case}");
        assert_eq!(
            selfa.kind,
            LayerKind::MultiHeadAttention {
                num_heads: 1,
                key_dim: 5,
                value_dim: 5,
                use_bias: true,
                output_shape: None,
            },
            "{case}"
        );
    }
}
