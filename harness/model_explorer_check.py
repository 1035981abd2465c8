"""Prove that thaw's Model Explorer node data is what the pinned package reads.

    python harness/model_explorer_check.py MODEL.pb=OUT_DIR [MODEL.pb=OUT_DIR ...]

OUT_DIR is a `thaw verify --out` folder holding report.json, model_explorer.json and
model_explorer_cumulative.json. For each pair, with ai-edge-model-explorer (and its
adapter) as pinned in harness/requirements.txt:

1. each file is loaded into the package's own node-data dataclasses (ModelNodeData ->
   GraphNodeData -> NodeDataResult / ThresholdItem) with dacite in strict mode, so an
   unknown field, a missing one or a wrong type fails; the result is serialised back with
   the package's `to_json_string` and must equal the file's data (nothing lost);
2. the package's built-in GraphDef adapter (BuiltinGraphdefAdapter, what `model-explorer
   MODEL.pb` runs) converts MODEL.pb; every graph id in our file must be one of its graph
   ids and every key a node id of that graph;
3. each key names (through the GraphDef's node order, read with TensorFlow) a node of a
   layer in report.json, and its value is that layer's max abs of the matching check
   (-1 when the check could not be made); every layer with a node in the graph has data.

Exit 0 when all pairs pass, 1 otherwise (one line per problem).
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import dacite  # noqa: E402  (a dependency of ai-edge-model-explorer)
from model_explorer import node_data_builder as ndb  # noqa: E402
from model_explorer.builtin_graphdef_adapter import BuiltinGraphdefAdapter  # noqa: E402

FILES = {"model_explorer.json": "isolated", "model_explorer_cumulative.json": "cumulative"}


def load_model_node_data(path: str) -> tuple[ndb.ModelNodeData, dict]:
    raw = json.load(open(path))
    if not isinstance(raw, dict):
        raise ValueError("not an object keyed by graph id")
    cfg = dacite.Config(strict=True, forward_references={
        "NodeDataResult": ndb.NodeDataResult,
        "ThresholdItem": ndb.ThresholdItem,
        "GradientItem": ndb.GradientItem,
        "AggregatedStat": ndb.AggregatedStat,
    })
    graphs = {gid: dacite.from_dict(ndb.GraphNodeData, g, config=cfg) for gid, g in raw.items()}
    model = ndb.ModelNodeData(graphsData=graphs)
    again = json.loads(model.to_json_string())
    # the package's writer drops None and keeps defaults; compare the fields we wrote
    for gid, g in raw.items():
        for k, v in g.items():
            if again[gid].get(k) != v:
                raise ValueError(f"{gid}.{k} does not survive the package's round trip")
    return model, raw


def layer_values(report: dict, check: str) -> list[tuple[set[str], float]]:
    out = []
    for layer in report["layers"]:
        c = layer.get(check) or {}
        v = c.get("max_abs")
        if c.get("status") in (None, "error") or v is None:
            v = -1.0
        out.append((set(layer.get("tf_nodes", [])), float(v)))
    return out


def check(model_pb: str, out_dir: str) -> list[str]:
    import tensorflow as tf

    problems = []
    gd = tf.compat.v1.GraphDef()
    gd.ParseFromString(open(model_pb, "rb").read())
    names = [n.name for n in gd.node]
    graphs = BuiltinGraphdefAdapter().convert(model_pb, {})["graphCollections"][0].graphs
    node_ids = {g["id"]: {n["id"] for n in g["nodes"]} for g in graphs}
    report = json.load(open(os.path.join(out_dir, "report.json")))
    for fname, chk in FILES.items():
        path = os.path.join(out_dir, fname)
        try:
            model, raw = load_model_node_data(path)
        except Exception as e:  # noqa: BLE001  (any failure to load is the finding)
            problems.append(f"{path}: the package's node data classes reject it: {e}")
            continue
        layers = layer_values(report, chk)
        for gid, g in model.graphsData.items():
            if gid not in node_ids:
                problems.append(f"{path}: graph id {gid!r} is not one the adapter gives ({sorted(node_ids)})")
                continue
            for key, res in g.results.items():
                if key not in node_ids[gid]:
                    problems.append(f"{path}: key {key!r} is no node id of graph {gid!r}")
                    continue
                name = names[int(key)]
                owners = [v for nodes, v in layers if name in nodes]
                if not owners:
                    problems.append(f"{path}: node {key} ({name}) belongs to no layer of report.json")
                elif res.value != owners[0]:
                    problems.append(f"{path}: node {key} ({name}) has {res.value}, its layer {owners[0]}")
            covered = {names[int(k)] for k in g.results if k.isdigit() and int(k) < len(names)}
            for nodes, _ in layers:
                in_graph = nodes & set(names)
                if in_graph and not in_graph & covered:
                    problems.append(f"{path}: a layer with nodes {sorted(in_graph)[:3]} has no data")
        n = sum(len(g.results) for g in model.graphsData.values())
        print(f"{path}: {n} nodes, graph ids {sorted(raw)}: "
              f"{'ok' if not problems else 'PROBLEMS'}")
    return problems


def main(argv: list[str]) -> int:
    if not argv or any("=" not in a for a in argv):
        print(__doc__, file=sys.stderr)
        return 2
    problems = []
    for a in argv:
        pb, out = a.split("=", 1)
        problems += check(pb, out)
    for p in problems:
        print("FAIL:", p)
    print(f"model_explorer_check: {len(argv)} model(s), {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
