//! Reading a GraphDef from binary protobuf (`.pb`) or text format (`.pbtxt`).

use super::{GraphError, pb};
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage};
use std::path::Path;

const DESCRIPTOR: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/tensorflow_descriptor.bin"));

/// Largest graph file read: protobuf messages cannot exceed 2 GiB, so a
/// bigger file (or an endless one such as `/dev/zero`) is not a GraphDef.
pub const MAX_FILE_BYTES: u64 = 2 << 30;

/// Deepest `{ }`/`< >`/`[ ]` nesting accepted in text format: TensorFlow's own
/// parser stops at 100 too; deeper input would overflow the parser's stack.
pub const MAX_TEXT_DEPTH: usize = 100;

/// Reads `path` as a GraphDef: text format when the extension is `.pbtxt`
/// (or `.pbtext`/`.txt`), binary protobuf otherwise.
pub fn load_graph_def(path: &Path) -> Result<pb::GraphDef, GraphError> {
    let file = path.display().to_string();
    let bytes = read_limited(path, MAX_FILE_BYTES)?;
    parse_owned(bytes.into(), is_text(path), &file)
}

/// [`load_graph_def`] on the file's bytes read already ([`read_graph_file`]):
/// the GraphDef's constants are slices of `bytes`, which the caller may
/// share (`verify` hands the same buffer to the oracle's decode).
pub fn graph_def_from_file_bytes(
    bytes: bytes::Bytes,
    path: &Path,
) -> Result<pb::GraphDef, GraphError> {
    parse_owned(bytes, is_text(path), &path.display().to_string())
}

/// The names of a GraphDef's nodes, in file order, without decoding the rest:
/// a binary `.pb`'s attributes and weights are skipped over, not copied (what
/// `model_explorer.json` needs, after the verify pipeline has freed its graph).
pub fn node_names(path: &Path) -> Result<Vec<String>, GraphError> {
    /// A GraphDef with only its nodes' names (field numbers of graph.proto
    /// and node_def.proto); protobuf decoding skips every other field.
    #[derive(Clone, PartialEq, Message)]
    struct Names {
        #[prost(message, repeated, tag = "1")]
        node: Vec<Name>,
    }
    #[derive(Clone, PartialEq, Message)]
    struct Name {
        #[prost(string, tag = "1")]
        name: String,
    }
    if is_text(path) {
        return Ok(load_graph_def(path)?
            .node
            .into_iter()
            .map(|n| n.name)
            .collect());
    }
    let bytes = read_limited(path, MAX_FILE_BYTES)?;
    let names = Names::decode(bytes.as_slice()).map_err(|e| GraphError::NotAGraph {
        file: path.display().to_string(),
        detail: format!("protobuf decoding failed: {e}"),
    })?;
    Ok(names.node.into_iter().map(|n| n.name).collect())
}

/// Whether `path` names a text-format GraphDef (by its extension).
fn is_text(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("pbtxt" | "pbtext" | "txt")
    )
}

/// Reads a graph file's bytes whole, refusing more than [`MAX_FILE_BYTES`].
pub fn read_graph_file(path: &Path) -> Result<Vec<u8>, GraphError> {
    read_limited(path, MAX_FILE_BYTES)
}

/// Reads `path` whole, refusing it when it holds more than `limit` bytes.
/// Reads at most one byte past the limit: the file's length cannot be
/// trusted (a pipe or a device such as `/dev/zero` has none).
fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, GraphError> {
    use std::io::Read;
    let file = path.display().to_string();
    let io = |source| GraphError::Io {
        file: file.clone(),
        source,
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(io)?
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(GraphError::NotAGraph {
            file,
            detail: format!(
                "larger than {limit} bytes, the most a protobuf message (a GraphDef) can hold"
            ),
        });
    }
    Ok(bytes)
}

/// Decodes GraphDef bytes; `origin` names the source in errors.
pub fn parse_graph_def(bytes: &[u8], text: bool, origin: &str) -> Result<pb::GraphDef, GraphError> {
    parse_owned(bytes::Bytes::copy_from_slice(bytes), text, origin)
}

/// [`parse_graph_def`] on a buffer the GraphDef may keep: every Const's
/// `tensor_content` is a slice of `bytes`, not a copy.
fn parse_owned(bytes: bytes::Bytes, text: bool, origin: &str) -> Result<pb::GraphDef, GraphError> {
    let not_a_graph = |detail: String| GraphError::NotAGraph {
        file: origin.to_string(),
        detail,
    };
    let graph = if text {
        let src =
            std::str::from_utf8(&bytes).map_err(|e| not_a_graph(format!("not UTF-8 text: {e}")))?;
        if let Some(at) = too_deep(src) {
            return Err(not_a_graph(format!(
                "text format nests deeper than {MAX_TEXT_DEPTH} levels (at byte {at})"
            )));
        }
        let pool =
            DescriptorPool::decode(DESCRIPTOR).map_err(|e| not_a_graph(format!("schema: {e}")))?;
        let desc = pool
            .get_message_by_name("tensorflow.GraphDef")
            .ok_or_else(|| not_a_graph("schema lacks tensorflow.GraphDef".into()))?;
        let msg = DynamicMessage::parse_text_format(desc, src)
            .map_err(|e| not_a_graph(format!("text format: {e}")))?;
        msg.transcode_to::<pb::GraphDef>()
            .map_err(|e| not_a_graph(format!("text format: {e}")))?
    } else {
        pb::GraphDef::decode(bytes.clone()).map_err(|e| {
            let hint = if looks_like_text(&bytes) {
                "; it looks like text: name it .pbtxt if it is a text-format GraphDef"
            } else {
                ""
            };
            not_a_graph(format!("protobuf decoding failed: {e}{hint}"))
        })?
    };
    // Protobuf is permissive: random bytes or a different message can decode
    // "successfully" into an empty or nameless graph. Refuse those.
    if graph.node.is_empty() {
        return Err(not_a_graph("it holds no nodes".into()));
    }
    if let Some(bad) = graph
        .node
        .iter()
        .find(|n| n.name.is_empty() || n.op.is_empty())
    {
        return Err(not_a_graph(format!(
            "a node has an empty name or op (name '{}', op '{}'): the file is corrupt or not a GraphDef",
            bad.name, bad.op
        )));
    }
    Ok(graph)
}

/// The byte offset where `src` (text format) first nests deeper than
/// [`MAX_TEXT_DEPTH`], skipping quoted strings and `#` comments; `None` when it
/// never does. Iterative, so hostile input cannot overflow the stack here.
fn too_deep(src: &str) -> Option<usize> {
    let b = src.as_bytes();
    let (mut depth, mut i) = (0usize, 0);
    while i < b.len() {
        match b[i] {
            q @ (b'"' | b'\'') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'{' | b'<' | b'[' => {
                depth += 1;
                if depth > MAX_TEXT_DEPTH {
                    return Some(i);
                }
            }
            b'}' | b'>' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

fn looks_like_text(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(512)];
    !head.is_empty()
        && head
            .iter()
            .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"
node { name: "x" op: "Placeholder" attr { key: "dtype" value { type: DT_FLOAT } } }
node { name: "y" op: "Relu" input: "x" attr { key: "T" value { type: DT_FLOAT } } }
"#;

    #[test]
    fn node_names_are_the_full_decodings_names_in_file_order() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        for path in [
            dir.join("fixtures/k3_lstm_seq/model.pb"),
            dir.join("tests/data/tf1_ta_loop.pbtxt"),
        ] {
            let full: Vec<String> = load_graph_def(&path)
                .unwrap()
                .node
                .into_iter()
                .map(|n| n.name)
                .collect();
            assert!(!full.is_empty());
            assert_eq!(node_names(&path).unwrap(), full, "{}", path.display());
        }
    }

    #[test]
    fn text_format_parses() {
        let g = parse_graph_def(TEXT.as_bytes(), true, "t.pbtxt").unwrap();
        assert_eq!(g.node.len(), 2);
        assert_eq!(g.node[1].input, vec!["x".to_string()]);
    }

    #[test]
    fn binary_round_trip() {
        let g = parse_graph_def(TEXT.as_bytes(), true, "t.pbtxt").unwrap();
        let bytes = g.encode_to_vec();
        assert_eq!(parse_graph_def(&bytes, false, "t.pb").unwrap(), g);
    }

    #[test]
    fn text_renamed_pb_is_refused_with_hint() {
        let err = parse_graph_def(TEXT.as_bytes(), false, "t.pb")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("t.pb: not a TensorFlow GraphDef"), "{err}");
        assert!(err.contains(".pbtxt"), "{err}");
    }

    #[test]
    fn truncated_binary_is_refused() {
        let g = parse_graph_def(TEXT.as_bytes(), true, "t.pbtxt").unwrap();
        let bytes = g.encode_to_vec();
        let err = parse_graph_def(&bytes[..bytes.len() - 7], false, "t.pb").unwrap_err();
        assert!(matches!(err, GraphError::NotAGraph { .. }), "{err}");
    }

    #[test]
    fn deeply_nested_pbtxt_overflowed_stack() {
        let mut s = String::from("node { name: \"x\" op: \"Const\" attr { key: \"v\" value ");
        for _ in 0..100_000 {
            s.push_str("{ list { func { attr { key: \"a\" value ");
        }
        let err = parse_graph_def(s.as_bytes(), true, "d.pbtxt")
            .unwrap_err()
            .to_string();
        assert!(err.contains("nests deeper than 100"), "{err}");
        // Braces inside strings and comments do not count.
        let quoted = format!("# {}\n{TEXT}", "{".repeat(500));
        let quoted = quoted.replace("\"x\"", &format!("\"{}\"", "{".repeat(500)));
        assert!(too_deep(&quoted).is_none());
    }

    #[test]
    fn endless_input_is_cut_at_the_size_limit() {
        // `thaw inspect /dev/zero` read until memory ran out (issue 15); the
        // real limit is 2 GiB, a smaller one keeps the test fast.
        if Path::new("/dev/zero").exists() {
            let err = read_limited(Path::new("/dev/zero"), 1 << 20).unwrap_err();
            assert!(
                err.to_string().contains("larger than 1048576 bytes"),
                "{err}"
            );
        }
    }

    #[test]
    fn empty_file_is_refused() {
        assert!(parse_graph_def(b"", false, "e.pb").is_err());
    }
}
