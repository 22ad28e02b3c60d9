//! How a failed command is reported: the error and its causes on one line.

/// An error and its causes on one line, each cause once: a cause whose text an outer
/// message already shows (a thiserror message with `{source}` and the same source in the
/// chain) is not repeated.
pub fn report(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if text.is_empty() || out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}
