//! thaw: turn a TensorFlow frozen graph back into a Keras model, and prove,
//! layer by layer, that the two compute the same thing.
//!
//! See `ARCHITECTURE.md` in the repository for the parts and what may import what.

pub mod budget;
pub mod compare;
pub mod convert;
pub mod graph;
pub mod interp;
pub mod keras;
pub mod oracle;
pub mod report;
pub mod verify;

#[cfg(test)]
mod completeness;
