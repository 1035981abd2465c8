//! The Keras side's data: the model IR, its Keras 3 / tf-keras config JSON and
//! the `.h5` file format (write, and read back for `--keras`), Keras 3 `.keras`
//! archives (read, for `--keras`).

pub mod access;
pub mod archive;
pub mod config;
pub mod error;
pub mod h5;
pub mod ir;
pub mod pymodule;
#[cfg(test)]
pub(crate) mod test_models;

pub use access::{ActFn, Field, FieldRole, KernelSlot};
pub use error::KerasError;
pub use ir::*;
