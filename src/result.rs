//! The MCP result of a call, and its size bound (docs/security.md, "Result bound").
//!
//! `MOLECULE_MCP_MAX_RESULT_BYTES` bounds the *encoded* `CallToolResult` — the JSON
//! that goes on the wire, text content and `structuredContent` together, escapes
//! included — for errors as for successes. A success over the bound becomes
//! `RESULT_TOO_LARGE` (never cut JSON); an error over it is fitted by clipping its
//! largest pieces, each with a marker, until it fits.

use crate::error::ToolError;
use crate::tools::Entry;
use rmcp::model::{CallToolResult, ContentBlock};
use serde_json::Value;

pub use crate::config::MIN_BOUND;

pub use crate::clip::{CUT, clip, clipped};

/// A successful call.
#[derive(Debug, Clone, PartialEq)]
pub struct Success {
    /// What the text shows: the decoded JSON body, or `{"raw", "status"}` for an empty
    /// or non-JSON body (the TypeScript server's wrapper).
    pub value: Value,
    /// The result's `structuredContent`: present exactly when the tool declares an
    /// `outputSchema`, and then valid against it (the official SDK clients reject a
    /// success without it). An empty body gives `{}`.
    pub structured: Option<Value>,
    /// `value` pretty-printed: the result's text content.
    pub text: String,
}

/// The result of a successful call: the text, plus `structuredContent` when the tool
/// declares an output schema.
pub fn success(success: &Success) -> CallToolResult {
    let mut result = CallToolResult::success(vec![ContentBlock::text(success.text.clone())]);
    result.structured_content = success.structured.clone();
    result
}

/// The bytes `value` takes as compact JSON, without building the string.
pub fn encoded_len(value: &impl serde::Serialize) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    match serde_json::to_writer(&mut count, value) {
        Ok(()) => count.0,
        Err(_) => usize::MAX,
    }
}

/// The error result of `error` from the tool `entry` (its envelope with the hint of
/// src/hints.rs), within `bound` bytes encoded.
pub fn error(entry: &Entry, error: &ToolError, bound: usize) -> CallToolResult {
    let mut envelope = crate::hints::envelope(entry, error);
    for _ in 0..32 {
        let result = error_result(&envelope);
        let size = encoded_len(&result);
        if size <= bound {
            return result;
        }
        shrink(&mut envelope, size - bound);
    }
    // Unreachable with a bound of at least MIN_BOUND; a last resort all the same.
    let mut code = error.code();
    clip(&mut code, 200);
    error_result(&serde_json::json!({
        "error": code,
        "detail": "the error was too large to return (MOLECULE_MCP_MAX_RESULT_BYTES)",
    }))
}

/// A call's outcome as an MCP result within `bound`.
pub fn to_call_result(
    entry: &Entry,
    outcome: Result<Success, ToolError>,
    bound: usize,
) -> CallToolResult {
    match outcome {
        Ok(s) => success(&s),
        Err(e) => {
            tracing::info!(code = %clipped(&e.code(), 200), "tool call failed");
            error(entry, &e, bound)
        }
    }
}

fn error_result(envelope: &Value) -> CallToolResult {
    let text = serde_json::to_string_pretty(envelope).unwrap_or_else(|_| envelope.to_string());
    CallToolResult::error(vec![ContentBlock::text(text)])
}

/// Takes up to `excess` encoded bytes out of `value`, from its largest piece, but at
/// most half of that piece per round, so that what is left is shared among the large
/// pieces: a string is clipped; a container whose size no one child dominates becomes
/// its clipped compact JSON text.
fn shrink(value: &mut Value, excess: usize) {
    match value {
        Value::String(s) => {
            let size = wire_len(s);
            let keep = size.saturating_sub(excess.min(size / 2) + CUT.len());
            clip_encoded(s, keep);
        }
        Value::Array(_) | Value::Object(_) => {
            let total = encoded_len(value);
            let largest = match value {
                Value::Array(items) => items.iter_mut().max_by_key(|v| encoded_len(&**v)),
                Value::Object(map) => map.values_mut().max_by_key(|v| encoded_len(&**v)),
                _ => None,
            };
            match largest {
                // Descend only into a child that is most of the container; a container
                // of many small pieces becomes one text, clipped at once (clipping its
                // small strings one per round would not converge).
                Some(child) if encoded_len(child) * 2 >= total => shrink(child, excess),
                _ => {
                    let mut text = value.to_string();
                    let size = wire_len(&text);
                    let keep = size.saturating_sub(excess.min(size / 2) + CUT.len());
                    clip_encoded(&mut text, keep);
                    *value = Value::String(text);
                }
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => *value = Value::String(CUT.into()),
    }
}

/// What one character of an envelope string costs on the wire: the envelope is
/// JSON text inside a JSON string, so it is escaped twice (`\n` → `\\n`, a control
/// byte → `\\u0001`).
fn wire_cost(c: char) -> usize {
    match c {
        '"' | '\\' => 4,
        '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 3,
        c if (c as u32) < 0x20 => 7,
        c => c.len_utf8(),
    }
}

/// What `s` costs on the wire as an envelope string.
fn wire_len(s: &str) -> usize {
    s.chars().map(wire_cost).sum()
}

/// Keeps the longest prefix of `s` whose wire cost fits `keep` bytes, then [`CUT`].
fn clip_encoded(s: &mut String, keep: usize) {
    let mut used = 0;
    let mut end = 0;
    for (i, c) in s.char_indices() {
        let cost = wire_cost(c);
        if used + cost > keep {
            break;
        }
        used += cost;
        end = i + c.len_utf8();
    }
    s.truncate(end);
    s.push_str(CUT);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Api;

    fn entry() -> &'static Entry {
        static CATALOG: std::sync::OnceLock<crate::tools::Catalog> = std::sync::OnceLock::new();
        let catalog = CATALOG.get_or_init(|| crate::tools::Catalog::new().unwrap());
        catalog.get("list_workspaces").unwrap()
    }

    fn size_of(e: &ToolError, bound: usize) -> usize {
        encoded_len(&error(entry(), e, bound))
    }

    #[test]
    fn an_error_body_of_control_bytes_fits_the_bound_once_escaped() {
        let e = ToolError::Http {
            api: Api::Tenant,
            status: 500,
            body: "\u{1}".repeat(99_000),
            cut: false,
            attempts: 1,
            seen: None,
        };
        for bound in [MIN_BOUND, 10_000, 100_000] {
            let size = size_of(&e, bound);
            assert!(size <= bound, "{size} > {bound}");
            // Clipped no more than needed: the detail keeps what room there is.
            assert!(size > bound * 9 / 10, "{size} of {bound}");
        }
        let text = error(entry(), &e, MIN_BOUND).content[0]
            .as_text()
            .map(|t| t.text.clone())
            .unwrap_or_default();
        let envelope: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(envelope["error"], "HTTP 500");
        assert_eq!(envelope["status"], 500);
        assert!(envelope["detail"].as_str().unwrap().ends_with(CUT));
    }

    #[test]
    fn a_contract_mismatch_with_a_huge_body_of_small_values_fits() {
        let body: Vec<Value> = (0..40_000).map(|i| serde_json::json!(i)).collect();
        let e = ToolError::ContractMismatch {
            errors: vec!["(body): is not of type object".into(); 300],
            body: Value::Array(body),
        };
        for bound in [MIN_BOUND, 5_000, 20_000] {
            let result = error(entry(), &e, bound);
            let size = encoded_len(&result);
            assert!(size <= bound, "{size} > {bound}");
            let text = result.content[0]
                .as_text()
                .map(|t| t.text.clone())
                .unwrap_or_default();
            assert!(
                !text.contains("too large to return"),
                "fitted, not replaced by the last resort, at {bound}: {text}"
            );
        }
    }

    #[test]
    fn an_error_of_many_small_strings_is_fitted_not_replaced() {
        let e = ToolError::ContractMismatch {
            errors: (0..2_000)
                .map(|i| format!("/items/{i}: is not a string"))
                .collect(),
            body: Value::Array((0..2_000).map(|i| serde_json::json!(i)).collect()),
        };
        let result = error(entry(), &e, MIN_BOUND);
        assert!(encoded_len(&result) <= MIN_BOUND);
        let text = result.content[0]
            .as_text()
            .map(|t| t.text.clone())
            .unwrap_or_default();
        let envelope: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(envelope["error"], "UPSTREAM_CONTRACT_MISMATCH");
        assert!(
            !text.contains("too large to return"),
            "the last resort is for the impossible: {text}"
        );
        assert!(text.contains("/items/0: is not a string"), "{text}");
    }

    #[test]
    fn a_small_error_is_left_whole() {
        let e = ToolError::InvalidArguments(vec!["`tier`: 9 is greater than 4".into()]);
        let text = error(entry(), &e, MIN_BOUND).content[0]
            .as_text()
            .map(|t| t.text.clone())
            .unwrap_or_default();
        assert!(!text.contains(CUT) && text.contains("greater than 4"));
    }

    /// A clipped string keeps every character whose cost still fits, counted as on the
    /// wire: `"` costs 4 (escaped twice), a letter 1.
    #[test]
    fn clip_encoded_keeps_the_longest_prefix_that_fits_exactly() {
        let clipped = |s: &str, keep: usize| {
            let mut s = s.to_string();
            clip_encoded(&mut s, keep);
            s
        };
        assert_eq!(clipped("abcdef", 3), format!("abc{CUT}"));
        assert_eq!(clipped("a\"bc", 5), format!("a\"{CUT}"));
        assert_eq!(clipped("a\"bc", 4), format!("a{CUT}"));
        assert_eq!(clipped("abc", 0), CUT);
    }

    #[test]
    fn clip_keeps_whole_characters() {
        let mut s = "ééé".to_string();
        clip(&mut s, 3);
        assert_eq!(s, format!("é{CUT}"));
        let mut s = "short".to_string();
        clip(&mut s, 10);
        assert_eq!(s, "short");
    }
}
