//! `TensorProto` → ndarray, for every dtype frozen graphs keep weights in.
//!
//! Values come either from `tensor_content` (raw little-endian bytes) or from
//! the typed repeated fields; TensorFlow lets those be shorter than the shape,
//! repeating the last value ("splat"), and an empty field means zeros.
//! float16 and bfloat16 are widened to f32 (they arrive as 16-bit patterns in
//! `half_val`). Hostile shapes (negative, overflowing, absurdly large) are
//! refused before anything is allocated.

use super::pb::{self, DataType};
use half::{bf16, f16};
use ndarray::{ArrayD, IxDyn};

/// A decoded constant.
#[derive(Clone, Debug, PartialEq)]
pub enum Tensor {
    F32(ArrayD<f32>),
    F64(ArrayD<f64>),
    I32(ArrayD<i32>),
    I64(ArrayD<i64>),
    Bool(ArrayD<bool>),
}

impl Tensor {
    pub fn shape(&self) -> &[usize] {
        match self {
            Tensor::F32(a) => a.shape(),
            Tensor::F64(a) => a.shape(),
            Tensor::I32(a) => a.shape(),
            Tensor::I64(a) => a.shape(),
            Tensor::Bool(a) => a.shape(),
        }
    }

    /// Values as f32 (integers and bools converted).
    pub fn to_f32(&self) -> ArrayD<f32> {
        match self {
            Tensor::F32(a) => a.clone(),
            Tensor::F64(a) => a.mapv(|v| v as f32),
            Tensor::I32(a) => a.mapv(|v| v as f32),
            Tensor::I64(a) => a.mapv(|v| v as f32),
            Tensor::Bool(a) => a.mapv(|v| v as u8 as f32),
        }
    }

    /// Integer values (shapes, axes, paddings); `None` for float/bool tensors.
    pub fn to_i64(&self) -> Option<ArrayD<i64>> {
        match self {
            Tensor::I32(a) => Some(a.mapv(i64::from)),
            Tensor::I64(a) => Some(a.clone()),
            _ => None,
        }
    }

    /// Checks a `TensorProto` without decoding it: dimensions non-negative,
    /// the element count within the size budget ([`crate::budget`]), and raw
    /// or typed values consistent with the shape. Cheap (no allocation of
    /// the values), so loading runs it on every `Const`.
    pub fn check_proto(t: &pb::TensorProto) -> Result<(), String> {
        let Some(s) = &t.tensor_shape else {
            return Ok(());
        };
        if s.unknown_rank {
            return Err("constant has unknown rank".into());
        }
        let dims: Vec<i64> = s.dim.iter().map(|d| d.size).collect();
        let n = crate::budget::elements_i64(&dims).map_err(|e| format!("constant: {e}"))?;
        let width = match DataType::try_from(t.dtype) {
            Ok(DataType::DtFloat | DataType::DtInt32) => Some(4),
            Ok(DataType::DtDouble | DataType::DtInt64) => Some(8),
            Ok(
                DataType::DtHalf | DataType::DtBfloat16 | DataType::DtInt16 | DataType::DtUint16,
            ) => Some(2),
            Ok(DataType::DtBool | DataType::DtInt8 | DataType::DtUint8) => Some(1),
            _ => None,
        };
        if let Some(w) = width
            && !t.tensor_content.is_empty()
            && t.tensor_content.len() as u64 != n as u64 * w
        {
            return Err(format!(
                "tensor_content holds {} bytes, the shape {dims:?} needs {}",
                t.tensor_content.len(),
                n as u64 * w
            ));
        }
        let typed = [
            t.float_val.len(),
            t.double_val.len(),
            t.int_val.len(),
            t.int64_val.len(),
            t.bool_val.len(),
            t.half_val.len(),
        ];
        if let Some(&m) = typed.iter().find(|&&m| m > n) {
            return Err(format!(
                "constant holds {m} values, its shape {dims:?} has {n}"
            ));
        }
        Ok(())
    }

    /// Decodes a `TensorProto`; the error message says what is wrong (the
    /// caller adds the node name).
    pub fn from_proto(t: &pb::TensorProto) -> Result<Tensor, String> {
        let dims: Vec<usize> = match &t.tensor_shape {
            None => vec![],
            Some(s) if s.unknown_rank => return Err("constant has unknown rank".into()),
            Some(s) => s
                .dim
                .iter()
                .map(|d| {
                    usize::try_from(d.size)
                        .map_err(|_| format!("constant has negative dimension {}", d.size))
                })
                .collect::<Result<_, _>>()?,
        };
        // The size budget (crate::budget), so a hostile file cannot make us
        // allocate terabytes.
        let n = crate::budget::elements(&dims).map_err(|e| format!("constant: {e}"))?;
        let dtype =
            DataType::try_from(t.dtype).map_err(|_| format!("unknown dtype {}", t.dtype))?;
        let raw = &t.tensor_content;
        let shape = IxDyn(&dims);
        Ok(match dtype {
            DataType::DtFloat => Tensor::F32(arr_of(shape.clone(), n, raw, &t.float_val, |b| {
                f32::from_le_bytes([b[0], b[1], b[2], b[3]])
            })?),
            DataType::DtDouble => Tensor::F64(arr_of(shape.clone(), n, raw, &t.double_val, |b| {
                f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
            })?),
            DataType::DtInt32 => Tensor::I32(arr_of(shape.clone(), n, raw, &t.int_val, |b| {
                i32::from_le_bytes([b[0], b[1], b[2], b[3]])
            })?),
            DataType::DtInt64 => Tensor::I64(arr_of(shape.clone(), n, raw, &t.int64_val, |b| {
                i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
            })?),
            DataType::DtBool => {
                let vals = splat(n, raw, &t.bool_val, 1, |b| b[0] != 0, "bool")?;
                Tensor::Bool(ArrayD::from_shape_vec(shape, vals).map_err(|e| e.to_string())?)
            }
            DataType::DtHalf | DataType::DtBfloat16 => {
                let widen = |bits: u16| {
                    if dtype == DataType::DtHalf {
                        f16::from_bits(bits).to_f32()
                    } else {
                        bf16::from_bits(bits).to_f32()
                    }
                };
                let bits: Vec<i32> = t.half_val.clone();
                let vals = splat(
                    n,
                    raw,
                    &bits,
                    2,
                    |b| u16::from_le_bytes([b[0], b[1]]) as i32,
                    "half",
                )?;
                let vals = vals.into_iter().map(|b| widen(b as u16)).collect();
                Tensor::F32(ArrayD::from_shape_vec(shape, vals).map_err(|e| e.to_string())?)
            }
            other => {
                return Err(format!(
                    "constants of type {} are not supported",
                    other.as_str_name()
                ));
            }
        })
    }
}

fn arr_of<T: Copy + Default>(
    shape: IxDyn,
    n: usize,
    raw: &[u8],
    typed: &[T],
    from_le: impl Fn(&[u8]) -> T,
) -> Result<ArrayD<T>, String> {
    let vals = splat(
        n,
        raw,
        typed,
        std::mem::size_of::<T>(),
        from_le,
        std::any::type_name::<T>(),
    )?;
    ArrayD::from_shape_vec(shape, vals).map_err(|e| e.to_string())
}

/// The `n` values of a tensor from raw content or from a typed field that
/// TensorFlow allows to be shorter (last value repeated; empty = zeros).
fn splat<T: Copy + Default>(
    n: usize,
    raw: &[u8],
    typed: &[T],
    width: usize,
    from_le: impl Fn(&[u8]) -> T,
    what: &str,
) -> Result<Vec<T>, String> {
    if !raw.is_empty() {
        if raw.len() != n * width {
            return Err(format!(
                "tensor_content holds {} bytes, the shape needs {} ({} {what} values)",
                raw.len(),
                n * width,
                n
            ));
        }
        return Ok(raw.chunks_exact(width).map(from_le).collect());
    }
    if typed.len() > n {
        return Err(format!(
            "constant holds {} values, its shape has {n}",
            typed.len()
        ));
    }
    let mut v = typed.to_vec();
    let fill = typed.last().copied().unwrap_or_default();
    v.resize(n, fill);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pb::tensor_shape_proto::Dim;

    fn proto(dtype: DataType, dims: &[i64]) -> pb::TensorProto {
        pb::TensorProto {
            dtype: dtype as i32,
            tensor_shape: Some(pb::TensorShapeProto {
                dim: dims
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

    #[test]
    fn f32_from_content() {
        let mut t = proto(DataType::DtFloat, &[2, 2]);
        t.tensor_content = [1.0f32, 2.0, 3.0, -4.5]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let Tensor::F32(a) = Tensor::from_proto(&t).unwrap() else {
            panic!()
        };
        assert_eq!(a.shape(), &[2, 2]);
        assert_eq!(a[[1, 1]], -4.5);
    }

    #[test]
    fn splat_of_single_value() {
        let mut t = proto(DataType::DtFloat, &[3]);
        t.float_val = vec![0.5];
        assert_eq!(
            Tensor::from_proto(&t).unwrap().to_f32().as_slice().unwrap(),
            &[0.5, 0.5, 0.5]
        );
    }

    #[test]
    fn short_typed_field_repeats_last_and_empty_means_zero() {
        let mut t = proto(DataType::DtInt32, &[4]);
        t.int_val = vec![1, 2];
        assert_eq!(
            Tensor::from_proto(&t)
                .unwrap()
                .to_i64()
                .unwrap()
                .into_raw_vec_and_offset()
                .0,
            vec![1, 2, 2, 2]
        );
        let t = proto(DataType::DtInt64, &[2]);
        assert_eq!(
            Tensor::from_proto(&t)
                .unwrap()
                .to_i64()
                .unwrap()
                .into_raw_vec_and_offset()
                .0,
            vec![0, 0]
        );
    }

    #[test]
    fn scalar_f64_bool_i64() {
        let mut t = proto(DataType::DtDouble, &[]);
        t.double_val = vec![2.5];
        assert_eq!(
            Tensor::from_proto(&t).unwrap(),
            Tensor::F64(ArrayD::from_elem(IxDyn(&[]), 2.5))
        );
        let mut t = proto(DataType::DtBool, &[2]);
        t.bool_val = vec![true, false];
        assert_eq!(
            Tensor::from_proto(&t).unwrap().to_f32().as_slice().unwrap(),
            &[1.0, 0.0]
        );
        let mut t = proto(DataType::DtInt64, &[2]);
        t.tensor_content = [-1i64, 7].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(
            Tensor::from_proto(&t)
                .unwrap()
                .to_i64()
                .unwrap()
                .as_slice()
                .unwrap(),
            &[-1, 7]
        );
    }

    #[test]
    fn half_and_bfloat16_widen() {
        let mut t = proto(DataType::DtHalf, &[2]);
        t.half_val = vec![
            f16::from_f32(1.5).to_bits() as i32,
            f16::from_f32(-2.0).to_bits() as i32,
        ];
        assert_eq!(
            Tensor::from_proto(&t).unwrap().to_f32().as_slice().unwrap(),
            &[1.5, -2.0]
        );
        let mut t = proto(DataType::DtBfloat16, &[1]);
        t.tensor_content = bf16::from_f32(3.0).to_bits().to_le_bytes().to_vec().into();
        assert_eq!(
            Tensor::from_proto(&t).unwrap().to_f32().as_slice().unwrap(),
            &[3.0]
        );
    }

    #[test]
    fn hostile_shapes_are_refused() {
        let t = proto(DataType::DtFloat, &[1 << 40, 1 << 40]);
        assert!(Tensor::from_proto(&t).unwrap_err().contains("count"));
        assert!(Tensor::check_proto(&t).unwrap_err().contains("count"));
        // A 20-byte splat Const of 16 GiB (issue 15): over the size budget,
        // refused by the cheap check run at load, before any allocation.
        let mut t = proto(DataType::DtFloat, &[1 << 16, 1 << 16]);
        t.float_val = vec![1.0];
        assert!(
            Tensor::check_proto(&t)
                .unwrap_err()
                .contains("--max-memory")
        );
        let t = proto(DataType::DtFloat, &[-3]);
        assert!(Tensor::check_proto(&t).unwrap_err().contains("negative"));
        let t = proto(DataType::DtFloat, &[-3]);
        assert!(Tensor::from_proto(&t).unwrap_err().contains("negative"));
        let mut t = proto(DataType::DtFloat, &[4]);
        t.tensor_content = vec![0; 7].into();
        assert!(
            Tensor::from_proto(&t)
                .unwrap_err()
                .contains("tensor_content")
        );
    }
}
