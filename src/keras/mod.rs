//! The Keras side's data: the model IR, its Keras 3 / tf-keras config JSON and
//! the `.h5` file format (write, and read back for `--keras`), Keras 3 `.keras`
//! archives (write, and read for `--keras`), the generated `model.py`.

pub mod archive;
pub mod config;
pub mod error;
pub mod formats;
pub mod h5;
pub mod ir;
pub mod pycode;
pub mod pymodule;
#[cfg(test)]
pub(crate) mod test_models;

pub use error::KerasError;
pub use ir::*;
