//! Escaping text from reports (layer names, TF node names, error details come
//! from user files) for XML/HTML and Markdown.

/// Escapes text for XML 1.0 / HTML element content and quoted attributes.
/// Characters XML 1.0 forbids (control characters other than tab, newline,
/// carriage return) are replaced by U+FFFD so every parser accepts the file.
pub fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Escapes text for a GitHub-flavoured Markdown table cell: no line breaks,
/// no cell separators, no raw HTML, no accidental emphasis or code spans.
pub fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '|' | '\\' | '`' | '*' | '_' | '[' | ']' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escapes_markup_quotes_and_forbidden_controls() {
        assert_eq!(xml("a<b>&\"c'\u{1}"), "a&lt;b&gt;&amp;&quot;c&#39;\u{FFFD}");
        assert_eq!(xml("conv/Relu:0"), "conv/Relu:0");
    }

    #[test]
    fn md_escapes_table_breakers_and_html() {
        assert_eq!(md("a|b\n<script>"), "a\\|b &lt;script&gt;");
        assert_eq!(md("dense_1"), "dense\\_1");
    }
}
