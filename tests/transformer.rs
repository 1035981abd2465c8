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
