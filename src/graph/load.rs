//! Reading a GraphDef from binary protobuf (`.pb`) or text format (`.pbtxt`).

use super::{GraphError, pb};
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage};
use std::path::Path;

const DESCRIPTOR: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/tensorflow_descriptor.bin"));

/// Reads `path` as a GraphDef: text format when the extension is `.pbtxt`
/// (or `.pbtext`/`.txt`), binary protobuf otherwise.
pub fn load_graph_def(path: &Path) -> Result<pb::GraphDef, GraphError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| GraphError::Io {
        file: file.clone(),
        source,
    })?;
    let text = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("pbtxt" | "pbtext" | "txt")
    );
    parse_graph_def(&bytes, text, &file)
}

/// Decodes GraphDef bytes; `origin` names the source in errors.
pub fn parse_graph_def(bytes: &[u8], text: bool, origin: &str) -> Result<pb::GraphDef, GraphError> {
    let not_a_graph = |detail: String| GraphError::NotAGraph {
        file: origin.to_string(),
        detail,
    };
    let graph = if text {
        let src =
            std::str::from_utf8(bytes).map_err(|e| not_a_graph(format!("not UTF-8 text: {e}")))?;
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
        pb::GraphDef::decode(bytes).map_err(|e| {
            let hint = if looks_like_text(bytes) {
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
    fn empty_file_is_refused() {
        assert!(parse_graph_def(b"", false, "e.pb").is_err());
    }
}
