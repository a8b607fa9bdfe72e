//! The last step of a call: a 2xx body as the tool's success, redacted, and checked
//! against the tool's output schema.

use crate::error::ToolError;
use crate::redact::Redactor;
use crate::result::Success;
use crate::tools::Entry;
use serde_json::{Value, json};

/// A 2xx body as a success (docs/security.md, "Every 2xx"), redacted. For a tool with
/// an output schema: an object that fits it, or an empty body (`{}`); anything else
/// (not JSON, an array, a scalar, an object of the wrong shape) is a deliberate
/// `UPSTREAM_CONTRACT_MISMATCH`, never a success a validating client would reject.
pub(super) fn present(
    entry: &Entry,
    status: u16,
    bytes: &[u8],
    redactor: &Redactor,
) -> Result<Success, ToolError> {
    let declared = entry.derived.output.is_some();
    let (value, structured) = if bytes.iter().all(u8::is_ascii_whitespace) {
        (
            json!({ "raw": "", "status": status }),
            declared.then(|| json!({})),
        )
    } else {
        match serde_json::from_slice::<Value>(bytes) {
            Ok(mut body) => {
                redactor.value(&mut body);
                if declared {
                    check_output(entry, &body)?;
                }
                (body.clone(), declared.then_some(body))
            }
            Err(e) => {
                let mut text = String::from_utf8_lossy(bytes).into_owned();
                redactor.text(&mut text);
                if declared {
                    return Err(ToolError::ContractMismatch {
                        errors: vec![format!("(body): not JSON ({e})")],
                        body: Value::String(text),
                    });
                }
                (json!({ "raw": text, "status": status }), None)
            }
        }
    };
    // The pretty text is made once: it is both what counts against the bound and the
    // result's text content.
    let text = serde_json::to_string_pretty(&value).unwrap_or_else(|_| value.to_string());
    Ok(Success {
        value,
        structured,
        text,
    })
}

fn check_output(entry: &Entry, value: &Value) -> Result<(), ToolError> {
    let Some(validator) = entry.output_validator() else {
        return Ok(());
    };
    if validator.is_valid(value) {
        return Ok(());
    }
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{}: {}", pointer_or_root(e.instance_path().as_str()), e))
        .collect();
    Err(ToolError::ContractMismatch {
        errors,
        body: value.clone(),
    })
}

fn pointer_or_root(pointer: &str) -> String {
    if pointer.is_empty() {
        "(body)".into()
    } else {
        pointer.trim_start_matches('/').replace('/', ".")
    }
}
