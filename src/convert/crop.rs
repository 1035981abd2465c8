//! Spatial slices → `Cropping2D`.
//!
//! Matches, on a rank-4 NHWC layer output whose H and W are known:
//! - `StridedSlice(x, begin, end, strides)` with unit strides, no ellipsis /
//!   new-axis / shrink masks, the batch and channel axes kept whole, and H/W
//!   sliced as Keras 3 and tf-keras `Cropping2D` write it
//!   (`x[:, top:-bottom, left:-right, :]`, `x[:, top:, left:, :]` when a
//!   bottom/right crop is 0; negative ends and `begin_mask`/`end_mask` bits are
//!   resolved against the known H and W);
//! - `Slice(x, begin, size)` (TF1 `tf.slice`), `size` -1 meaning "to the end".
//!
//! Not handled yet: slices with strides, of the batch or channel axis, or on
//! inputs whose H/W are unknown (a crop is only a `Cropping2D` when its
//! amounts are fixed); `Cropping1D`/`Cropping3D`.

use super::consts::BATCH;
use super::ctx::{Ctx, Emit, Match};
use super::rules::{LAYER, RuleEntry};
use crate::graph::NodeExt;
use crate::graph::pb::NodeDef;
use crate::keras::LayerKind;

/// Known (h, w, c) of a rank-4 input.
fn hwc(ctx: &Ctx, node: &NodeDef) -> Result<[usize; 3], String> {
    let x = ctx.layer_input(node, 0)?;
    match ctx.shape(&x).map(Vec::as_slice) {
        Some([_, Some(h), Some(w), Some(c)]) => Ok([*h, *w, *c]),
        Some(s) => Err(format!("input shape {s:?} is not NHWC with known H, W, C")),
        None => Err("input shape unknown".into()),
    }
}

/// `[before, after]` removed from an axis of length `len` by the slice
/// `begin..end` (both already resolved to `0..=len`).
fn crop(len: usize, begin: i64, end: i64) -> Result<[usize; 2], String> {
    let n = len as i64;
    if !(0 <= begin && begin < end && end <= n) {
        return Err(format!(
            "slice {begin}..{end} of an axis of {len} is not a crop"
        ));
    }
    Ok([begin as usize, (n - end) as usize])
}

fn emit(ctx: &Ctx, node: &NodeDef, cropping: [[usize; 2]; 2]) -> Result<Match, String> {
    let x = ctx.layer_input(node, 0)?;
    Ok(Match::one(Emit::single(
        ctx,
        node,
        LayerKind::Cropping2D { cropping },
        vec![x],
    )))
}

/// `StridedSlice` that crops H and W only.
pub fn strided_slice(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    let [h, w, c] = hwc(ctx, node)?;
    let mask = |name: &str| node.attr_int(name).unwrap_or(0);
    for m in ["ellipsis_mask", "new_axis_mask", "shrink_axis_mask"] {
        if mask(m) != 0 {
            return Err(format!("{m} = {} (only plain slices are crops)", mask(m)));
        }
    }
    let (bm, em) = (mask("begin_mask"), mask("end_mask"));
    let begin = ctx.const_ints(node, 1)?;
    let end = ctx.const_shape(node, 2)?;
    let strides = ctx.const_ints(node, 3)?;
    if begin.len() != 4 || end.len() != 4 || strides != [1, 1, 1, 1] {
        return Err(format!(
            "begin {begin:?}, end {end:?}, strides {strides:?} are not a unit-stride 4-D slice"
        ));
    }
    let lens = [None, Some(h), Some(w), Some(c)];
    // Resolves (begin, end) of axis i against its length, TF's way: a masked
    // bound is the full extent, a negative one counts from the end, an end past
    // the length is clamped.
    let bounds = |i: usize| -> Result<(i64, i64), String> {
        let Some(n) = lens[i].map(|n| n as i64) else {
            // The batch axis: only a whole-axis slice is accepted.
            let whole_begin = bm & (1 << i) != 0 || begin[i] == 0;
            let whole_end = em & (1 << i) != 0 || end[i] == BATCH;
            return if whole_begin && whole_end {
                Ok((0, 0))
            } else {
                Err("slices the batch axis".into())
            };
        };
        let b = if bm & (1 << i) != 0 {
            0
        } else if begin[i] < 0 {
            begin[i] + n
        } else {
            begin[i]
        };
        let e = if em & (1 << i) != 0 {
            n
        } else if end[i] < 0 {
            end[i] + n
        } else {
            end[i].min(n)
        };
        Ok((b, e))
    };
    bounds(0)?;
    if bounds(3)? != (0, c as i64) {
        return Err("slices the channel axis".into());
    }
    let (t, b) = bounds(1)?;
    let (l, r) = bounds(2)?;
    emit(ctx, node, [crop(h, t, b)?, crop(w, l, r)?])
}

/// `Slice(x, begin, size)` that crops H and W only.
pub fn slice(ctx: &Ctx, node: &NodeDef) -> Result<Match, String> {
    let [h, w, c] = hwc(ctx, node)?;
    let begin = ctx.const_ints(node, 1)?;
    let size = ctx.const_shape(node, 2)?;
    if begin.len() != 4 || size.len() != 4 {
        return Err(format!("begin {begin:?} / size {size:?} are not 4-D"));
    }
    if begin[0] != 0 || !(size[0] == -1 || size[0] == BATCH) {
        return Err("slices the batch axis".into());
    }
    if begin[3] != 0 || !(size[3] == -1 || size[3] == c as i64) {
        return Err("slices the channel axis".into());
    }
    let end = |len: usize, b: i64, s: i64| if s == -1 { len as i64 } else { b + s };
    emit(
        ctx,
        node,
        [
            crop(h, begin[1], end(h, begin[1], size[1]))?,
            crop(w, begin[2], end(w, begin[2], size[2]))?,
        ],
    )
}

/// This family's conversion rules with their priorities (see [`super::rules`]):
/// among rules anchored on the same op, the lower priority is tried first.
pub(super) const RULES: &[RuleEntry] = &[
    RuleEntry::new("StridedSlice", "cropping2d", LAYER, strided_slice),
    RuleEntry::new("Slice", "cropping2d (Slice)", LAYER, slice),
];
