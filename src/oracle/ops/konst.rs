//! `Const`: turns a node's `value` TensorProto into a tract constant.
//!
//! Why thaw has its own: tract-tensorflow 0.23's conversion reads the repeated value
//! fields (`float_val`, `int_val`, ...) as either ONE value to broadcast or ALL the
//! values. TensorFlow writes them shorter: an all-zero tensor has NO values, and a
//! tensor ending in a run of equal values stores the run once ("the last value fills
//! the rest"). tract then fails with "ShapeError/OutOfBounds: out of bounds indexing"
//! — the failure seen on EfficientNet, NASNet, U-Net and text-CNN graphs; Keras's
//! dilated convs leave such a Const (`BatchToSpaceND/crops`, all zeros). It also
//! lacks f16, bool and the 8/16-bit integer types.
//!
//! Semantics follow tensorflow/core/framework/tensor.cc (`FromProto`): packed
//! little-endian `tensor_content` if present, else the typed repeated field, padded
//! with its last element (zeros when empty).
//!
//! Not handled: complex, quantized and resource/variant dtypes (refused, naming the
//! dtype); strings are left to tract's own conversion.

use super::Builder;
use tract_tensorflow::model::ParsingContext;
use tract_tensorflow::tfpb::tensorflow::attr_value::Value;
use tract_tensorflow::tfpb::tensorflow::{DataType, NodeDef, TensorProto};
use tract_tensorflow::tract_hir::internal::*;

pub const BUILDERS: &[(&str, Builder)] = &[("Const", konst)];

fn konst(_ctx: &ParsingContext, node: &NodeDef) -> TractResult<Box<dyn InferenceOp>> {
    let Some(Value::Tensor(proto)) = node.attr.get("value").and_then(|a| a.value.as_ref()) else {
        bail!("expected a tensor attribute 'value'");
    };
    let tensor = tensor_from_proto(proto)?;
    let dtype = node.get_attr_datum_type("dtype")?;
    if tensor.datum_type() != dtype && tensor.datum_type() != DatumType::Blob {
        bail!(
            "value is {:?} but the dtype attribute says {:?}",
            tensor.datum_type(),
            dtype
        );
    }
    Ok(Box::new(
        tract_tensorflow::tract_hir::ops::konst::Const::new(tensor.into_arc_tensor())?,
    ))
}

/// A TensorProto as a tract tensor, with TensorFlow's rules for short value lists.
pub fn tensor_from_proto(t: &TensorProto) -> TractResult<Tensor> {
    let shape: Vec<usize> = match &t.tensor_shape {
        Some(s) => s
            .dim
            .iter()
            .map(|d| {
                usize::try_from(d.size).map_err(|_| format_err!("negative dimension {}", d.size))
            })
            .collect::<TractResult<_>>()?,
        None => bail!("the tensor has no shape"),
    };
    let dtype =
        DataType::try_from(t.dtype).map_err(|_| format_err!("unknown dtype number {}", t.dtype))?;
    let content = &t.tensor_content[..];
    let shape = &shape[..];
    use DataType::*;
    Ok(match dtype {
        DtFloat => build(shape, content, &t.float_val, f32::from_le_bytes, |v| *v)?,
        DtDouble => build(shape, content, &t.double_val, f64::from_le_bytes, |v| *v)?,
        DtHalf => build(
            shape,
            content,
            &t.half_val,
            |b| f16::from_bits(u16::from_le_bytes(b)),
            |v| f16::from_bits(*v as u16),
        )?,
        DtInt32 => build(shape, content, &t.int_val, i32::from_le_bytes, |v| *v)?,
        DtInt64 => build(shape, content, &t.int64_val, i64::from_le_bytes, |v| *v)?,
        DtInt16 => build(shape, content, &t.int_val, i16::from_le_bytes, |v| {
            *v as i16
        })?,
        DtInt8 => build(shape, content, &t.int_val, i8::from_le_bytes, |v| *v as i8)?,
        DtUint8 => build(shape, content, &t.int_val, u8::from_le_bytes, |v| *v as u8)?,
        DtUint16 => build(shape, content, &t.int_val, u16::from_le_bytes, |v| {
            *v as u16
        })?,
        DtBool => build(shape, content, &t.bool_val, |b: [u8; 1]| b[0] != 0, |v| *v)?,
        DtString => Tensor::try_from(t)?,
        other => bail!("Const of dtype {other:?} is not supported"),
    })
}

/// Builds a tensor from packed bytes or from a (possibly short) repeated field.
fn build<T: Datum + Default, R, const N: usize>(
    shape: &[usize],
    content: &[u8],
    repeated: &[R],
    from_bytes: impl Fn([u8; N]) -> T,
    from_repeated: impl Fn(&R) -> T,
) -> TractResult<Tensor> {
    let Some(len) = crate::budget::product(shape.iter().copied()) else {
        bail!("tensor shape {shape:?} has more elements than a machine can count");
    };
    let values: Vec<T> = if !content.is_empty() {
        if Some(content.len()) != len.checked_mul(N) {
            bail!(
                "tensor_content has {} bytes, shape {shape:?} needs {} element(s) of {N}",
                content.len(),
                len
            );
        }
        content
            .chunks_exact(N)
            .map(|c| from_bytes(c.try_into().unwrap_or([0; N])))
            .collect()
    } else {
        if repeated.len() > len {
            bail!(
                "{} values for shape {shape:?} ({len} elements)",
                repeated.len()
            );
        }
        let mut v: Vec<T> = repeated.iter().map(&from_repeated).collect();
        let fill = v.last().cloned().unwrap_or_default();
        v.resize(len, fill);
        v
    };
    Ok(
        tract_tensorflow::tract_hir::tract_core::ndarray::ArrayD::from_shape_vec(shape, values)?
            .into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_tensorflow::tfpb::tensorflow::{TensorShapeProto, tensor_shape_proto::Dim};

    fn proto(dtype: DataType, shape: &[i64]) -> TensorProto {
        TensorProto {
            dtype: dtype as i32,
            tensor_shape: Some(TensorShapeProto {
                dim: shape
                    .iter()
                    .map(|&size| Dim {
                        size,
                        name: String::new(),
                    })
                    .collect(),
                unknown_rank: false,
            }),
            ..Default::default()
        }
    }

    // The "out of bounds indexing" regression: TF writes an all-zero Const with no values.
    #[test]
    fn empty_values_are_zeros() {
        let t = tensor_from_proto(&proto(DataType::DtInt32, &[2, 2])).unwrap();
        assert_eq!(t, tensor2(&[[0i32, 0], [0, 0]]));
    }

    #[test]
    fn short_values_repeat_the_last() {
        let mut p = proto(DataType::DtFloat, &[5]);
        p.float_val = vec![1.0, 2.0];
        assert_eq!(
            tensor_from_proto(&p).unwrap(),
            tensor1(&[1.0f32, 2.0, 2.0, 2.0, 2.0])
        );
    }

    #[test]
    fn packed_content_and_half() {
        let mut p = proto(DataType::DtInt64, &[2]);
        p.tensor_content = [7i64.to_le_bytes(), (-3i64).to_le_bytes()].concat();
        assert_eq!(tensor_from_proto(&p).unwrap(), tensor1(&[7i64, -3]));
        let mut h = proto(DataType::DtHalf, &[2]);
        h.half_val = vec![f16::from_f32(1.5).to_bits() as i32];
        assert_eq!(
            tensor_from_proto(&h).unwrap(),
            tensor1(&[f16::from_f32(1.5), f16::from_f32(1.5)])
        );
    }

    #[test]
    fn too_many_values_or_bytes_are_errors() {
        let mut p = proto(DataType::DtFloat, &[1]);
        p.float_val = vec![1.0, 2.0];
        assert!(tensor_from_proto(&p).is_err());
        let mut q = proto(DataType::DtFloat, &[2]);
        q.tensor_content = vec![0; 7];
        assert!(tensor_from_proto(&q).is_err());
    }
}
