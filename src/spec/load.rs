//! Reading an OpenAPI document (YAML or JSON) into a `serde_json::Value`, with errors
//! that name the file and the position, then normalising it (OpenAPI 3.0.x or 3.1.x in,
//! the 3.0 subset out: see [`super::normalise`]). build.rs, the tool schemas (through
//! the patched spec build.rs embeds) and the drift report all read specs through here.

use super::normalise::{self, Note, Version};
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
    /// A Swagger 2.0 document: it must be converted to OpenAPI 3 first.
    #[error(
        "{path}: a Swagger 2.0 document; only OpenAPI 3.0.x and 3.1.x are read. Convert it \
         to OpenAPI 3 first, e.g. `npx swagger2openapi {path} --yaml --outfile openapi.yaml` \
         (or the Swagger Editor's Edit > Convert to OpenAPI 3), then use the result"
    )]
    Swagger2 {
        /// The file.
        path: String,
    },
    /// The document parsed but is neither OpenAPI 3.0.x nor 3.1.x.
    #[error("{path}: not an OpenAPI 3.0 or 3.1 document ({found})")]
    NotOpenApi3 {
        /// The file.
        path: String,
        /// What the document declares instead.
        found: String,
    },
    /// An OpenAPI 3.1 document uses keywords that have no OpenAPI 3.0 form where they
    /// matter.
    #[error(
        "{path}: OpenAPI 3.1 keywords with no OpenAPI 3.0 form:{}\nThey shape what this \
         server sends, and progenitor reads OpenAPI 3.0 only: ask upstream to say them \
         another way (`items` for `prefixItems`, `oneOf` for `if`/`then`), or vendor a copy \
         rewritten by hand and record that in spec/SOURCE.md.",
        bulleted(.problems)
    )]
    Inexpressible {
        /// The file.
        path: String,
        /// Each keyword, with its JSON pointer and why it cannot be dropped.
        problems: Vec<Note>,
    },
}

fn bulleted(problems: &[Note]) -> String {
    problems.iter().map(|p| format!("\n  - {p}")).collect()
}

/// A spec read and normalised.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The document in the OpenAPI 3.0 subset the pipeline reads.
    pub doc: Value,
    /// The version it was written in.
    pub version: Version,
    /// Keywords dropped from schemas only responses use (say them to the maintainer).
    pub dropped: Vec<Note>,
}

/// Reads, parses and normalises `path`.
pub fn load_openapi(path: &Path) -> Result<Value, SpecError> {
    load(path).map(|l| l.doc)
}

/// Reads, parses and normalises `path`, keeping what the normaliser dropped.
pub fn load(path: &Path) -> Result<Loaded, SpecError> {
    let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse(&path.display().to_string(), &text)
}

/// Parses and normalises `text` (named `name` in errors).
pub fn parse_openapi(name: &str, text: &str) -> Result<Value, SpecError> {
    parse(name, text).map(|l| l.doc)
}

/// Parses and normalises `text` (named `name` in errors), keeping what was dropped.
pub fn parse(name: &str, text: &str) -> Result<Loaded, SpecError> {
    let doc = parse_document(name, text)?;
    let version = version(name, &doc)?;
    let n = normalise::normalise(doc, version).map_err(|problems| SpecError::Inexpressible {
        path: name.to_string(),
        problems,
    })?;
    Ok(Loaded {
        doc: n.doc,
        version: n.version,
        dropped: n.dropped,
    })
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

fn version(name: &str, doc: &Value) -> Result<Version, SpecError> {
    let found = match (doc.get("openapi"), doc.get("swagger")) {
        (Some(Value::String(v)), _) if v.starts_with("3.0.") => return Ok(Version::V30),
        (Some(Value::String(v)), _) if v.starts_with("3.1.") => return Ok(Version::V31),
        (Some(v), _) => format!("openapi: {}", scalar(v)),
        (None, Some(_)) => {
            return Err(SpecError::Swagger2 {
                path: name.to_string(),
            });
        }
        (None, None) if doc.is_object() => "no `openapi` field".to_string(),
        (None, None) => "the top level is not a mapping".to_string(),
    };
    Err(SpecError::NotOpenApi3 {
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
