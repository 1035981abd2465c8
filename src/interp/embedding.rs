//! Token lookup: the Keras class `Embedding`.
//!
//! Semantics (Keras 3.15 / tf-keras 2.21 on TensorFlow): the input holds
//! integer ids of any shape `(batch, ...)`; the output is `input.shape +
//! (output_dim,)` with `out[..., :] = embeddings[id, :]`. The interpreter works
//! on f32 arrays, so ids arrive as f32 holding whole numbers (exact up to 2^24,
//! far above any vocabulary this handles). A float model input is cast to
//! int32 first, truncating toward zero, as both Kerases' `Embedding.call` do
//! (`ops.cast` / `tf.cast` when the input is not int32/int64).
//!
//! A negative id in `[-input_dim, 0)` counts from the end of the table, as in
//! Keras 3 (its `ops.take` freezes as `SelectV2(Less(ids, 0), AddV2(ids, n),
//! ids)`; tract's Gather wraps the same way). tf-keras's `embedding_lookup`
//! would fail on such an id in TensorFlow on CPU, so verify should draw ids in
//! `[0, input_dim)`. Any other id (`< -input_dim`, `>= input_dim`, not
//! finite) is an error naming the element and its value.
//!
//! Not handled yet: `mask_zero=True` (the mask itself; the lookup would be the
//! same), sparse inputs, LoRA.

use ndarray::{ArrayD, Axis, IxDyn};

use super::{LayerError, input_error, weight};
use crate::keras::{Layer, LayerKind};

/// The Keras `Embedding` layer (weight `embeddings`, `(input_dim, output_dim)`).
pub fn embedding_layer(layer: &Layer, x: &ArrayD<f32>) -> Result<ArrayD<f32>, LayerError> {
    let LayerKind::Embedding {
        input_dim,
        output_dim,
        ..
    } = &layer.kind
    else {
        return Err(LayerError::Config("not an Embedding".into()));
    };
    let table = weight(layer, "embeddings", &[*input_dim, *output_dim])?;
    embedding(x, table)
}

/// Looks every id of `x` up in `table` `(input_dim, output_dim)`.
pub fn embedding(x: &ArrayD<f32>, table: &ArrayD<f32>) -> Result<ArrayD<f32>, LayerError> {
    if table.ndim() != 2 {
        return Err(LayerError::Config(format!(
            "embeddings must have rank 2, got shape {:?}",
            table.shape()
        )));
    }
    if x.ndim() == 0 {
        return Err(input_error(0, x, "Embedding needs a batch axis"));
    }
    let (input_dim, output_dim) = (table.shape()[0], table.shape()[1]);
    let mut data = Vec::with_capacity(x.len() * output_dim);
    for (pos, &v) in x.iter().enumerate() {
        let n = input_dim as f32;
        let id = Some(v.trunc())
            .filter(|v| *v >= -n && *v < n)
            .map(|v| if v < 0.0 { v + n } else { v } as usize)
            .ok_or_else(|| {
                input_error(
                    0,
                    x,
                    format!(
                        "element {pos} is {v}, not an id in [0, {input_dim}) (input_dim; \
                         [-{input_dim}, 0) counts from the end)"
                    ),
                )
            })?;
        data.extend(table.index_axis(Axis(0), id).iter());
    }
    let mut shape = x.shape().to_vec();
    shape.push(output_dim);
    ArrayD::from_shape_vec(IxDyn(&shape), data)
        .map_err(|e| LayerError::Config(format!("output reshape: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn table() -> ArrayD<f32> {
        // Row i is [10*i, 10*i + 1]: every looked-up value tells which row it came from.
        array![[0.0, 1.0], [10.0, 11.0], [20.0, 21.0]].into_dyn()
    }

    #[test]
    fn looks_rows_up_in_id_order_and_appends_the_feature_axis() {
        let x = array![[2.0f32, 0.0, 1.0], [1.0, 1.0, 2.0]].into_dyn();
        let y = embedding(&x, &table()).unwrap();
        assert_eq!(y.shape(), &[2, 3, 2]);
        // Hand-computed: id k → [10k, 10k+1].
        let want = array![
            [[20.0, 21.0], [0.0, 1.0], [10.0, 11.0]],
            [[10.0, 11.0], [10.0, 11.0], [20.0, 21.0]]
        ]
        .into_dyn();
        assert_eq!(y, want);
    }

    #[test]
    fn negative_ids_count_from_the_end_as_in_keras_3() {
        let x = array![[-1.0f32, -3.0]].into_dyn();
        let y = embedding(&x, &table()).unwrap();
        assert_eq!(y, array![[[20.0f32, 21.0], [0.0, 1.0]]].into_dyn());
    }

    #[test]
    fn float_ids_truncate_toward_zero_as_keras_casts_them() {
        // tf.cast(float -> int32) truncates: 2.9 -> 2, -0.7 -> 0, -1.5 -> -1 (last row).
        let x = array![[2.9f32, -0.7, -1.5]].into_dyn();
        let y = embedding(&x, &table()).unwrap();
        assert_eq!(
            y,
            array![[[20.0f32, 21.0], [0.0, 1.0], [20.0, 21.0]]].into_dyn()
        );
    }

    #[test]
    fn out_of_range_and_non_finite_ids_are_errors_naming_the_element() {
        for bad in [3.0f32, -4.0, 3.5, f32::NAN, f32::INFINITY] {
            let x = array![[0.0f32, bad]].into_dyn();
            let e = embedding(&x, &table()).unwrap_err().to_string();
            assert!(e.contains("element 1"), "{e}");
            assert!(e.contains("[0, 3)"), "{e}");
        }
    }

    #[test]
    fn layer_checks_the_table_shape_against_the_config() {
        let layer = Layer {
            name: "emb".into(),
            kind: LayerKind::Embedding {
                input_dim: 4,
                output_dim: 2,
                mask_zero: false,
            },
            inbound: vec!["x".into()],
            weights: vec![crate::keras::Weight {
                name: "embeddings".into(),
                value: table(),
            }],
        };
        let x = array![[0.0f32]].into_dyn();
        let e = embedding_layer(&layer, &x).unwrap_err().to_string();
        assert!(e.contains("embeddings"), "{e}");
    }
}
