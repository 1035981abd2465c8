//! The Keras side's data: the model IR, its Keras 3 / tf-keras config JSON and
//! the `.h5` file format (write, and read back for `--keras`), Keras 3 `.keras`
//! archives (write, and read for `--keras`), the generated `model.py`.
//!
//! | file | holds |
//! |---|---|
//! | `ir.rs` | the IR: [`Model`], [`Layer`], [`LayerKind`] |
//! | `access.rs` | accessors by capability (kernels, bias, activation, padding, window, epsilon, fields) |
//! | `slots.rs` | which of those slots each class has: one exhaustive match behind the accessors |
//! | `layers/` | one file per class family (config, weights, output shape) and the registry of every class ([`layers::classes`]); `layers/shape.rs` the shared shape maths |
//! | `config.rs` | `model_config` writing, and the entry points callers use |
//! | `read.rs` | `model_config` JSON → IR (Functional, Sequential) |
//! | `inbound.rs` | inbound nodes (legacy and Keras 3 forms), call arity |
//! | `mask_ops.rs` | Keras 3's recorded masks (`NotEqual`/`Any` layers, `mask=` arguments): checked against thaw's mask propagation, then dropped |
//! | `cfg.rs` | a layer entry and typed access to its config keys |
//! | `order.rs` | the order Keras rebuilds `model.layers` in |
//! | `validate.rs` | everything Keras would refuse, all at once |
//! | `h5.rs`, `archive.rs`, `pymodule.rs` | `.h5`, `.keras`, the generated `thaw_fallbacks.py` |
//! | `pycode.rs` | the generated `model.py` |
//! | `formats.rs` | which of those `-o`/`--formats` asks for, and writing it |
//! | `error.rs` | [`KerasError`] |
//! | `isolate.rs` | reading a user's file in a child process (`verify --keras`) |
//! | `test_models.rs` | (tests only) small models holding a layer of every class |

pub mod access;
pub mod archive;
pub(crate) mod cfg;
pub mod config;
pub mod error;
pub mod formats;
pub mod h5;
pub(crate) mod inbound;
pub mod ir;
pub mod isolate;
pub mod layers;
pub(crate) mod mask_ops;
pub mod order;
pub mod pycode;
pub mod pymodule;
pub mod read;
mod slots;
#[cfg(test)]
pub(crate) mod test_models;
pub mod validate;

pub use access::{ActFn, Field, FieldRole, KernelSlot};
pub use error::KerasError;
pub use ir::*;
