//! Classes that are the identity at inference, read as
//! [`LayerKind::InferenceIdentity`] keeping the user's class for reports:
//! `Dropout`, `SpatialDropout1D/2D/3D`, `GaussianNoise`, `GaussianDropout`,
//! `AlphaDropout`, `ActivityRegularization`, `Identity` (all exist in Keras
//! 3.15 and tf-keras 2.21), whatever their rate.
//!
//! Dialect quirks handled: they are only read from users' models and written
//! back at zero strength (`rate`, `stddev`, `l1`/`l2` = 0: the value the user
//! chose changes training only); Keras 3's SpatialDropout1D/2D/3D take no
//! `trainable` argument (tf-keras's do), so it is left out for them.
//! No weights, no floats. Not handled yet: nothing known.

use serde_json::json;

use super::shape::same_shape;
use super::{Cfg, ClassInfo, ConfigOut, no_floats, no_shape_check, no_weights};
use crate::keras::ir::{IdentityClass, Layer, LayerKind};

/// An identity-at-inference class (its name is also `IdentityClass::keras_name`).
macro_rules! identity_class {
    ($class:literal) => {
        ClassInfo {
            family: "identity",
            class: $class,
            written: $class,
            aliases: &[],
            read: read_identity,
            write: write_identity,
            weight_names: no_weights,
            check_shapes: no_shape_check,
            floats: no_floats,
            output_shape: same_shape,
        }
    };
}

pub(crate) static DROPOUT: ClassInfo = identity_class!("Dropout");
pub(crate) static SPATIAL_DROPOUT1D: ClassInfo = identity_class!("SpatialDropout1D");
pub(crate) static SPATIAL_DROPOUT2D: ClassInfo = identity_class!("SpatialDropout2D");
pub(crate) static SPATIAL_DROPOUT3D: ClassInfo = identity_class!("SpatialDropout3D");
pub(crate) static GAUSSIAN_NOISE: ClassInfo = identity_class!("GaussianNoise");
pub(crate) static GAUSSIAN_DROPOUT: ClassInfo = identity_class!("GaussianDropout");
pub(crate) static ALPHA_DROPOUT: ClassInfo = identity_class!("AlphaDropout");
pub(crate) static ACTIVITY_REGULARIZATION: ClassInfo = identity_class!("ActivityRegularization");
pub(crate) static IDENTITY: ClassInfo = identity_class!("Identity");

fn read_identity(c: &Cfg) -> Result<LayerKind, String> {
    match IdentityClass::from_keras_name(c.e.class) {
        Some(class) => Ok(LayerKind::InferenceIdentity { class }),
        None => Err(c.err(format!("class '{}' is not supported yet", c.e.class))),
    }
}

/// Written at zero strength (the value the user chose is not kept: it changes
/// training only).
fn write_identity(layer: &Layer, c: &mut ConfigOut) {
    let LayerKind::InferenceIdentity { class } = layer.kind else {
        return;
    };
    match class {
        IdentityClass::GaussianNoise => c.put("stddev", json!(0.0)),
        IdentityClass::ActivityRegularization => {
            c.put("l1", json!(0.0));
            c.put("l2", json!(0.0));
        }
        IdentityClass::Identity => {}
        _ => c.put("rate", json!(0.0)),
    }
    // Keras 3's SpatialDropout1D/2D/3D take no `trainable` argument (tf-keras's do).
    if matches!(
        class,
        IdentityClass::SpatialDropout1D
            | IdentityClass::SpatialDropout2D
            | IdentityClass::SpatialDropout3D
    ) {
        c.remove("trainable");
    }
}
