//! The tool catalogue: the rows of [`table`] with what build.rs derived for each from
//! the patched specs ([`built`]), read once at start-up without parsing any spec;
//! validators compile on first use.

pub mod built;
pub mod derive;
pub mod doc;
pub mod json_schema;
pub mod row;
pub mod table;

use derive::{CallShape, DeriveError};
use rmcp::model::{Tool, ToolAnnotations};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::sync::{Arc, OnceLock};
use table::{Access, ToolRow};

/// The tools that call the control plane rather than the tenant (`list_orgs`,
/// `get_org`), in table order: the ones every text about the Org API Key excepts.
pub fn control_plane_tools() -> Vec<&'static str> {
    table::TOOLS
        .iter()
        .filter(|row| {
            row.route
                .operations()
                .iter()
                .any(|op| op.api() == crate::Api::ControlPlane)
        })
        .map(|row| row.name)
        .collect()
}

/// A row's [`derive::Derived`] as serving reads it from the JSON build.rs embedded:
/// the advertised schemas shared with the MCP definition (not copied into it), and the
/// exact validation schema kept as that JSON until a call of the tool needs it
/// (docs/performance.md, "Start-up").
#[derive(Debug, serde::Deserialize)]
pub struct Served {
    /// The advertised `inputSchema`.
    pub input: Arc<Map<String, Value>>,
    /// The exact validation schema, unparsed ([`Entry::validation`] parses it).
    validation: Box<RawValue>,
    /// The advertised `outputSchema`, when the success body is an object.
    pub output: Option<Arc<Map<String, Value>>>,
    /// One plan per reachable operation.
    pub plans: Vec<CallShape>,
}

/// One tool, ready to list and call.
#[derive(Debug)]
pub struct Entry {
    /// The hand-written row.
    pub row: &'static ToolRow,
    /// Schemas and plans derived from the spec.
    pub derived: Served,
    /// The MCP definition served by `tools/list`.
    pub tool: Tool,
    validation: OnceLock<Result<Value, String>>,
    validator: OnceLock<Result<Arc<jsonschema::Validator>, String>>,
    output_validator: OnceLock<Option<Arc<jsonschema::Validator>>>,
}

impl Entry {
    /// Whether this tool calls `op` and no other operation.
    pub fn serves(&self, op: crate::Operation) -> bool {
        self.row.route == table::Route::One(op)
    }

    /// The exact schema every call is validated against (parsed once, on first use).
    pub fn validation(&self) -> Result<&Value, String> {
        self.validation
            .get_or_init(|| {
                serde_json::from_str(self.derived.validation.get()).map_err(|e| {
                    format!(
                        "tool {}: the validation schema does not read: {e}",
                        self.row.name
                    )
                })
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The compiled exact input validator (compiled once, on first use).
    pub fn validator(&self) -> Result<Arc<jsonschema::Validator>, String> {
        self.validator
            .get_or_init(|| {
                jsonschema::draft202012::new(self.validation()?)
                    .map(Arc::new)
                    .map_err(|e| format!("tool {}: invalid validation schema: {e}", self.row.name))
            })
            .clone()
    }

    /// The compiled output-structure validator, where an output schema is advertised.
    pub fn output_validator(&self) -> Option<Arc<jsonschema::Validator>> {
        self.output_validator
            .get_or_init(|| {
                let schema = Value::Object(Map::clone(self.derived.output.as_deref()?));
                jsonschema::draft202012::new(&schema).ok().map(Arc::new)
            })
            .clone()
    }
}

/// Every tool of the table, as build.rs derived it.
#[derive(Debug)]
pub struct Catalog {
    /// In table order.
    pub entries: Vec<Entry>,
}

impl Catalog {
    /// Reads every row's derivation, embedded by build.rs.
    pub fn new() -> Result<Catalog, DeriveError> {
        let entries = table::TOOLS
            .iter()
            .zip(built::DERIVED)
            .map(|(&row, json)| {
                let derived: Served = serde_json::from_str(json).map_err(|e| DeriveError {
                    tool: row.name.to_string(),
                    message: format!("the derivation build.rs embedded does not read: {e}"),
                })?;
                let tool = definition(row, &derived);
                Ok(Entry {
                    row,
                    derived,
                    tool,
                    validation: OnceLock::new(),
                    validator: OnceLock::new(),
                    output_validator: OnceLock::new(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Catalog { entries })
    }

    /// The tool called `name`.
    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.row.name == name)
    }
}

/// The MCP tool definition of a row.
fn definition(row: &'static ToolRow, derived: &Served) -> Tool {
    let idempotent = derived
        .plans
        .iter()
        .all(|p| matches!(p.method.as_str(), "GET" | "PUT" | "DELETE" | "HEAD"));
    let annotations = ToolAnnotations::new()
        .read_only(row.access == Access::Read)
        .destructive(matches!(row.access, Access::Destructive | Access::Replace))
        .idempotent(idempotent)
        .open_world(false);
    let mut tool = Tool::new(row.name, row.description, derived.input.clone())
        .with_title(row.title)
        .annotate(annotations);
    if let Some(output) = &derived.output {
        tool = tool.with_raw_output_schema(output.clone());
    }
    tool
}

#[cfg(test)]
mod tests {
    /// The texts that name the control plane's tools (the server instructions, the 401
    /// body, `--help`) are built from this list; it is the rows that route there.
    #[test]
    fn the_control_plane_tools_are_the_rows_routed_there_in_table_order() {
        assert_eq!(super::control_plane_tools(), ["list_orgs", "get_org"]);
    }
}
