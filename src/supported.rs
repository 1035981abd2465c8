//! `thaw inspect --supported`: what thaw converts, writes, interprets and runs,
//! printed straight from the registries (no list of its own), as text or JSON.
//!
//! Sections: the conversion rules (`convert::rules::FAMILIES`, by priority),
//! the Keras classes (`keras::layers::classes()`), the interpreter's classes
//! (`interp::supported_classes()`), the ops thaw adds to tract
//! (`oracle::thaw_ops()`) and the fallback ops (`convert::fallback`).

use serde_json::{Value, json};
use thaw::convert::{fallback, rules};

/// The five sections as one JSON object (the `--json` form; the text form
/// prints the same data).
pub fn supported() -> Value {
    let mut rule_rows: Vec<(&str, rules::RuleEntry)> = rules::FAMILIES
        .iter()
        .flat_map(|(family, entries)| entries.iter().map(move |r| (*family, *r)))
        .collect();
    rule_rows.sort_by_key(|(_, r)| (r.op, r.priority));
    let rules: Vec<Value> = rule_rows
        .iter()
        .map(|(family, r)| json!({"op": r.op, "rule": r.name, "priority": r.priority, "family": family}))
        .collect();
    let keras: Vec<Value> = thaw::keras::layers::classes()
        .map(|c| json!({"class": c.class, "family": c.family, "written": c.written, "aliases": c.aliases}))
        .collect();
    json!({
        "conversion_rules": rules,
        "keras_classes": keras,
        "interpreter_classes": thaw::interp::supported_classes(),
        "tract_ops": thaw::oracle::thaw_ops(),
        "fallback_ops": fallback::fallback_ops(),
    })
}

/// The text form of [`supported`].
pub fn print_text(v: &Value) {
    let rows = |key: &str| v[key].as_array().cloned().unwrap_or_default();
    let words = |key: &str| -> Vec<String> {
        rows(key)
            .iter()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect()
    };
    let s = |x: &Value| x.as_str().unwrap_or("").to_string();
    let rules = rows("conversion_rules");
    println!(
        "conversion rules ({}; op, priority, rule, family file):",
        rules.len()
    );
    for r in &rules {
        println!(
            "  {:<24} {:>4}  {:<48} {}",
            s(&r["op"]),
            r["priority"],
            s(&r["rule"]),
            s(&r["family"])
        );
    }
    let keras = rows("keras_classes");
    println!(
        "keras classes ({}; class, family, written as, also read):",
        keras.len()
    );
    for c in &keras {
        let aliases: Vec<String> = c["aliases"]
            .as_array()
            .map(|a| a.iter().map(s).collect())
            .unwrap_or_default();
        println!(
            "  {:<28} {:<12} {:<28} {}",
            s(&c["class"]),
            s(&c["family"]),
            s(&c["written"]),
            aliases.join(", ")
        );
    }
    for (key, title) in [
        ("interpreter_classes", "interpreter classes"),
        ("tract_ops", "ops thaw adds to tract"),
        ("fallback_ops", "fallback ops (ThawTfOp layers)"),
    ] {
        let w = words(key);
        println!("{title} ({}):", w.len());
        for chunk in w.chunks(6) {
            println!("  {}", chunk.join(", "));
        }
    }
}
