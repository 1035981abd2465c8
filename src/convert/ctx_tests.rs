//! Tests of the matching context's helpers and of the rule registry's choices,
//! on small graphs made with [`GraphBuilder`].

use super::*;
use crate::convert::test_graph::GraphBuilder;
use crate::convert::{ConvertOptions, convert};
use crate::keras::{Activation, Padding};

fn ctx(g: &Graph) -> Ctx<'_> {
    Ctx::new(g, &ConvertOptions::default()).expect("context")
}

fn node<'g>(g: &'g Graph, name: &str) -> &'g NodeDef {
    g.node(name).unwrap_or_else(|| panic!("no node {name}"))
}

fn t(name: &str) -> TensorId {
    TensorId::new(name, 0)
}

/// x (batch, 3) → MatMul by a constant read through an Identity → BiasAdd,
/// all in scope `m/dense`.
fn dense_graph() -> Graph {
    GraphBuilder::new()
        .placeholder("x", &[-1, 3])
        .const_f32("m/dense/kernel", &[3, 2], &[1., 2., 3., 4., 5., 6.])
        .op("Identity", "m/dense/kernel/read", &["m/dense/kernel"])
        .const_f32("m/dense/bias", &[2], &[0.5, -0.5])
        .op("MatMul", "m/dense/MatMul", &["x", "m/dense/kernel/read"])
        .op(
            "BiasAdd",
            "m/dense/BiasAdd",
            &["m/dense/MatMul", "m/dense/bias"],
        )
        .build()
}

#[test]
fn constants_are_read_through_identity_and_inputs_must_be_layer_outputs() {
    let g = dense_graph();
    let c = ctx(&g);
    let mm = node(&g, "m/dense/MatMul");
    let w = c.const_f32(mm, 1).unwrap();
    assert_eq!(w.shape(), &[3, 2]);
    assert_eq!(
        w.iter().copied().collect::<Vec<_>>(),
        [1., 2., 3., 4., 5., 6.]
    );
    let err = c.const_f32(mm, 0).unwrap_err();
    assert!(
        err.contains("input 0 ('x") && err.contains("not a constant"),
        "{err}"
    );
    // The placeholder is an input layer's output; the constant is not.
    assert_eq!(c.layer_input(mm, 0), Ok(t("x")));
    assert!(c.is_layer_output(&t("x")));
    let err = c.layer_input(mm, 1).unwrap_err();
    assert!(err.contains("not the output of a converted layer"), "{err}");
    // Inputs get their Keras shape, batch first and unknown.
    assert_eq!(c.shape(&t("x")), Some(&vec![None, Some(3)]));
    assert_eq!(c.static_batch(), None);
}

#[test]
fn integer_constants_and_target_shapes() {
    let g = GraphBuilder::new()
        .placeholder("x", &[2, 6])
        .const_i32("m/r/shape", &[3], &[2, 3, 2])
        .op("Reshape", "m/r/Reshape", &["x", "m/r/shape"])
        .build();
    let c = ctx(&g);
    let r = node(&g, "m/r/Reshape");
    assert_eq!(c.static_batch(), Some(2));
    assert_eq!(c.const_ints(r, 1), Ok(vec![2, 3, 2]));
    // As a target shape, the leading fixed batch is the batch axis.
    assert_eq!(c.const_shape(r, 1), Ok(vec![consts::BATCH, 3, 2]));
}

#[test]
fn consumers_are_walked_through_pass_through_nodes_but_not_past_outputs() {
    let g = GraphBuilder::new()
        .placeholder("x", &[-1, 4])
        .op("Relu", "m/a/Relu", &["x"])
        .op("Identity", "m/a/Identity", &["m/a/Relu"])
        .op("Sigmoid", "m/b/Sigmoid", &["m/a/Identity"])
        .op("Tanh", "m/c/Tanh", &["x"])
        .build();
    let c = ctx(&g);
    let next = c.sole_consumer(&t("m/a/Relu")).map(|n| n.name.as_str());
    assert_eq!(next, Some("m/b/Sigmoid"), "Identity is passed through");
    // x feeds two nodes: no sole consumer.
    assert!(c.sole_consumer(&t("x")).is_none());
    // A graph output (a sink here) has no consumer to fuse with.
    assert!(c.sole_consumer(&t("m/b/Sigmoid")).is_none());
}

#[test]
fn layer_names_come_from_the_scope_under_the_root() {
    let g = dense_graph();
    let c = ctx(&g);
    let mm = node(&g, "m/dense/MatMul");
    let add = node(&g, "m/dense/BiasAdd");
    assert_eq!(c.layer_name(mm), "dense");
    assert!(c.same_layer(mm, add));
    assert!(!c.same_layer(mm, node(&g, "x")));
}

#[test]
fn attribute_reads_name_the_node() {
    let g = GraphBuilder::new()
        .placeholder("x", &[-1, 4, 4, 1])
        .op("MaxPool", "m/p/MaxPool", &["x"])
        .attr_ints("ksize", &[1, 2, 2, 1])
        .attr_ints("strides", &[1, 2, 2, 1])
        .attr_str("padding", "VALID")
        .attr_bool("flag", true)
        .build();
    let p = node(&g, "m/p/MaxPool");
    assert_eq!(p.attr_ints("ksize").unwrap(), [1, 2, 2, 1]);
    assert_eq!(p.attr_str("padding").unwrap(), "VALID");
    assert!(p.attr_bool("flag").unwrap());
    assert_eq!(super::super::conv::padding(p), Ok(Padding::Valid));
    let err = p.attr_int("missing").unwrap_err().to_string();
    assert!(err.contains("m/p/MaxPool"), "{err}");
}

#[test]
fn matmul_then_bias_add_is_one_dense_layer() {
    let conv = convert(&dense_graph(), &ConvertOptions::default()).unwrap();
    assert!(conv.unsupported.is_empty(), "{:?}", conv.unsupported);
    let [l] = &conv.model.layers[..] else {
        panic!("one layer expected: {:?}", conv.model.layers);
    };
    assert_eq!(l.name, "dense");
    assert!(matches!(
        l.kind,
        LayerKind::Dense {
            units: 2,
            use_bias: true,
            activation: Activation::Linear
        }
    ));
    let names: Vec<&str> = l.weights.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(names, ["kernel", "bias"]);
    assert_eq!(conv.tensor_of("dense"), Some(&t("m/dense/BiasAdd")));
}

/// x (batch, 5, 5, 2) → 1×1 Conv2D to 3 channels → BiasAdd → `act`, all in
/// scope `m/conv`.
fn conv_graph(act: &str) -> Graph {
    GraphBuilder::new()
        .placeholder("x", &[-1, 5, 5, 2])
        .const_f32(
            "m/conv/kernel",
            &[1, 1, 2, 3],
            &[0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
        )
        .const_f32("m/conv/bias", &[3], &[0.1, 0.2, 0.3])
        .op("Conv2D", "m/conv/Conv2D", &["x", "m/conv/kernel"])
        .attr_ints("strides", &[1, 1, 1, 1])
        .attr_str("padding", "SAME")
        .attr_str("data_format", "NHWC")
        .op(
            "BiasAdd",
            "m/conv/BiasAdd",
            &["m/conv/Conv2D", "m/conv/bias"],
        )
        .op(act, &format!("m/conv/{act}"), &["m/conv/BiasAdd"])
        .build()
}

#[test]
fn conv2d_bias_add_relu_in_one_scope_is_one_conv2d_with_relu() {
    let conv = convert(&conv_graph("Relu"), &ConvertOptions::default()).unwrap();
    let [l] = &conv.model.layers[..] else {
        panic!("one layer expected: {:?}", conv.model.layers);
    };
    assert!(
        matches!(
            l.kind,
            LayerKind::Conv2D {
                filters: 3,
                kernel_size: [1, 1],
                strides: [1, 1],
                padding: Padding::Same,
                use_bias: true,
                activation: Activation::Relu,
                ..
            }
        ),
        "{:?}",
        l.kind
    );
    assert_eq!(conv.tensor_of(&l.name), Some(&t("m/conv/Relu")));
}

#[test]
fn conv2d_bias_add_relu6_keeps_relu6_as_its_own_relu_layer() {
    // Relu6 is no `activation=` string tf-keras loads, so the Conv2D chain
    // stops at the bias and the `relu6` rule emits ReLU(max_value=6).
    let conv = convert(&conv_graph("Relu6"), &ConvertOptions::default()).unwrap();
    let [c, r] = &conv.model.layers[..] else {
        panic!("two layers expected: {:?}", conv.model.layers);
    };
    assert!(
        matches!(
            c.kind,
            LayerKind::Conv2D {
                use_bias: true,
                activation: Activation::Linear,
                ..
            }
        ),
        "{:?}",
        c.kind
    );
    assert_eq!(conv.tensor_of(&c.name), Some(&t("m/conv/BiasAdd")));
    assert_eq!(
        r.kind,
        LayerKind::ReLU {
            max_value: Some(6.0),
            negative_slope: 0.0,
            threshold: 0.0
        }
    );
}

#[test]
fn a_refused_rule_says_why_and_the_rest_still_converts() {
    // MatMul by another input: the dense rule refuses (no constant weight),
    // nothing else matches, and the node is reported with the reason.
    let g = GraphBuilder::new()
        .placeholder("x", &[-1, 3])
        .placeholder("y", &[3, 2])
        .op("MatMul", "m/mm/MatMul", &["x", "y"])
        .op("Relu", "m/act/Relu", &["x"])
        .build();
    let conv = convert(&g, &ConvertOptions::default()).unwrap();
    let [u] = &conv.unsupported[..] else {
        panic!("one unsupported node expected: {:?}", conv.unsupported);
    };
    assert_eq!((u.node.as_str(), u.op.as_str()), ("m/mm/MatMul", "MatMul"));
    assert!(u.reason.contains("not a constant"), "{}", u.reason);
}
