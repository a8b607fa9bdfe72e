//! Reading an OpenAPI document (YAML or JSON) into a `serde_json::Value`, with errors
//! that name the file and the position, and a check that it is OpenAPI 3.0.

use serde_json::Value;
use std::path::Path;

/// Why a spec document could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The file could not be read at all.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The text is neither YAML nor JSON.
    #[error("{path}: not valid YAML or JSON{position}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// ` at line L, column C` when the parser knows it.
        position: String,
        /// The parser's message.
        message: String,
    },
    /// The document parsed but is not an OpenAPI 3.0.x document.
    #[error("{path}: not an OpenAPI 3.0 document ({found}); only OpenAPI 3.0.x is supported")]
    NotOpenApi30 {
        /// The file.
        path: String,
        /// What the document declares instead.
        found: String,
    },
}

/// Reads and parses `path`, then checks it declares `openapi: 3.0.x`.
pub fn load_openapi(path: &Path) -> Result<Value, SpecError> {
    let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse_openapi(&path.display().to_string(), &text)
}

/// Parses `text` (named `name` in errors) and checks it declares `openapi: 3.0.x`.
pub fn parse_openapi(name: &str, text: &str) -> Result<Value, SpecError> {
    let doc = parse_document(name, text)?;
    check_openapi30(name, &doc)?;
    Ok(doc)
}

/// Parses YAML or JSON text into a JSON value.
pub fn parse_document(name: &str, text: &str) -> Result<Value, SpecError> {
    yaml_serde::from_str::<Value>(text).map_err(|e| SpecError::Parse {
        path: name.to_string(),
        position: e
            .location()
            .map(|l| format!(" at line {}, column {}", l.line(), l.column()))
            .unwrap_or_default(),
        message: e.to_string(),
    })
}

fn check_openapi30(name: &str, doc: &Value) -> Result<(), SpecError> {
    let found = match (doc.get("openapi"), doc.get("swagger")) {
        (Some(Value::String(v)), _) if v.starts_with("3.0.") => return Ok(()),
        (Some(v), _) => format!("openapi: {}", scalar(v)),
        (None, Some(v)) => format!("swagger: {}", scalar(v)),
        (None, None) if doc.is_object() => "no `openapi` field".to_string(),
        (None, None) => "the top level is not a mapping".to_string(),
    };
    Err(SpecError::NotOpenApi30 {
        path: name.to_string(),
        found,
    })
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
