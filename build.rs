//! Compiles TensorFlow's GraphDef protos (`proto/`) with prost, using protox
//! (a pure-Rust protobuf compiler) so no system `protoc` is needed. The
//! descriptor set is also kept so `.pbtxt` files can be parsed with
//! prost-reflect's text format against the very same schema.

use prost::Message;
use std::{env, fs, path::PathBuf};

const PROTOS: &[&str] = &[
    "proto/tensorflow/core/framework/graph.proto",
    "proto/tensorflow/core/framework/node_def.proto",
    "proto/tensorflow/core/framework/function.proto",
    "proto/tensorflow/core/framework/attr_value.proto",
    "proto/tensorflow/core/framework/tensor.proto",
    "proto/tensorflow/core/framework/tensor_shape.proto",
    "proto/tensorflow/core/framework/types.proto",
    "proto/tensorflow/core/framework/resource_handle.proto",
    "proto/tensorflow/core/framework/op_def.proto",
    "proto/tensorflow/core/framework/versions.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile(PROTOS, ["proto"])?;
    let out = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(out.join("tensorflow_descriptor.bin"), fds.encode_to_vec())?;
    // A Const's `tensor_content` (the weights: most of a frozen graph's
    // bytes) is decoded as a `bytes::Bytes` slice of the file's buffer, not
    // copied (issue 11: one copy of the weights fewer).
    prost_build::Config::new()
        .bytes([".tensorflow.TensorProto.tensor_content"])
        .compile_fds(fds)?;
    Ok(())
}
