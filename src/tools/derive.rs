//! Tool schemas derived from the patched spec (never hand-written): at build time for
//! the served tools (build.rs compiles this file through `#[path]`), and at run time
//! by the drift report for a candidate spec.
//!
//! For each row: path, query and header parameters and the JSON body's fields are
//! flattened into one object under their tool names. Three views come out:
//! - the **advertised** input schema: host-safe (no `$ref`, no top-level combinator,
//!   nullable as `"type": [T, "null"]`, opaque objects kept small);
//! - the **exact** validation schema: the same arguments with the full spec schemas
//!   (`$defs` for recursion) and the rules a host-safe schema cannot say (e.g. "dir or
//!   template"); the server validates every call against it;
//! - the **output** schema: structure only (no `required`, no enums, additional
//!   properties allowed), advertised where the success body is an object.
//!
//! Alongside, the *plan* says where each argument goes on the wire, so the call path
//! and the drift report read the mapping from one place.

use super::json_schema::{Mode, convert, merge};
use super::row::{ArgRule, Route, ToolRow};
use crate::Operation;
use crate::spec::inventory::{self, deref};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// Where one tool argument goes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Location {
    /// A path segment (percent-encoded by the generated client).
    Path,
    /// A query parameter.
    Query,
    /// A request header.
    Header,
    /// A field of the JSON body.
    BodyField,
    /// The whole JSON body.
    Body,
}

/// One argument's destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// The tool argument.
    pub tool: String,
    /// The spec's name for it (parameter or body field; empty for a whole body).
    pub spec: String,
    /// Where it goes.
    pub location: Location,
}

/// How one operation is called from tool arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallShape {
    /// The operation.
    pub operation: Operation,
    /// Where each argument goes.
    pub targets: Vec<Target>,
    /// Whether the operation takes a JSON body (sent as `{}` when no field is given).
    pub has_body: bool,
    /// The HTTP method.
    pub method: String,
}

/// Everything derived for one tool (build.rs writes it as JSON for the served tools).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Derived {
    /// The advertised `inputSchema`.
    pub input: Map<String, Value>,
    /// The exact schema every call is validated against.
    pub validation: Value,
    /// The advertised `outputSchema`, when the success body is an object.
    pub output: Option<Map<String, Value>>,
    /// One plan per reachable operation.
    pub plans: Vec<CallShape>,
}

/// Why a row cannot be derived from the spec (a broken binding; the build or the
/// drift report names it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tool `{tool}`: {message}")]
pub struct DeriveError {
    /// The tool.
    pub tool: String,
    /// What is wrong.
    pub message: String,
}

/// Path parameters must be one real segment: URL normalisation would turn `..` into
/// a different route (`DELETE /workspaces/..` → `DELETE /`).
fn path_guard() -> Value {
    json!({ "minLength": 1, "not": { "enum": [".", ".."] } })
}

/// Header values cannot carry control characters.
const HEADER_PATTERN: &str = "^[^\\u0000-\\u0008\\u000a-\\u001f\\u007f]*$";

/// Derives the schemas and plans of `row` from `doc` (the spec that holds its operations).
///
/// `ops` is `inventory::operations(doc)`, computed once by the caller for every row.
pub fn derive(
    doc: &Value,
    ops: &[inventory::Endpoint],
    row: &ToolRow,
) -> Result<Derived, DeriveError> {
    let fail = |message: String| DeriveError {
        tool: row.name.to_string(),
        message,
    };
    let optional_by_route = match row.route {
        Route::ByPresence { arg, .. } => Some(arg),
        Route::One(_) => None,
    };
    let mut collect = Collect {
        doc,
        row,
        args: ArgumentSchemas::default(),
        rules: Vec::new(),
        defs: Map::new(),
    };
    let mut plans = Vec::new();
    let mut output = None;
    for op in row.route.operations() {
        let meta = ops
            .iter()
            .find(|o| o.id == op.operation_id())
            .ok_or_else(|| {
                fail(format!(
                    "operation `{}` is not in the spec",
                    op.operation_id()
                ))
            })?;
        let node = doc
            .pointer(&meta.pointer)
            .ok_or_else(|| fail(format!("operation `{}` has no object", meta.id)))?;
        let mut targets = Vec::new();
        for p in inventory::parameters(doc, &meta.pointer, node) {
            targets.push(collect.parameter(p, optional_by_route).map_err(fail)?);
        }
        let body = node.get("requestBody").map(|b| deref(doc, b));
        if let Some(body) = body {
            targets.extend(collect.body(&meta.id, body).map_err(fail)?);
        }
        if output.is_none() {
            output = output_schema(doc, node);
        }
        plans.push(CallShape {
            operation: op,
            targets,
            has_body: body.is_some(),
            method: meta.method.clone(),
        });
    }
    let (input, validation) = collect.finish();
    Ok(Derived {
        input,
        validation,
        output,
        plans,
    })
}

/// What [`derive`] gathers across a row's operations: the arguments, the rules a
/// host-safe schema cannot say, and the `$defs` of the exact schema.
struct Collect<'a> {
    doc: &'a Value,
    row: &'a ToolRow,
    args: ArgumentSchemas,
    rules: Vec<Value>,
    defs: Map<String, Value>,
}

impl Collect<'_> {
    /// One path, query or header parameter `p` as a tool argument.
    fn parameter(&mut self, p: &Value, optional_by_route: Option<&str>) -> Result<Target, String> {
        let spec_name = str_of(p, "name");
        let location = match str_of(p, "in").as_str() {
            "path" => Location::Path,
            "query" => Location::Query,
            "header" => Location::Header,
            other => {
                return Err(format!(
                    "parameter `{spec_name}` in `{other}` is not supported"
                ));
            }
        };
        let (tool_name, fallback) = tool_name_for(self.row, &spec_name);
        let (mut adv, mut val) = arg_schemas(
            self.doc,
            self.row,
            &tool_name,
            p.get("schema").unwrap_or(&Value::Null),
            &mut self.defs,
        );
        for s in [&mut adv, &mut val] {
            if let Some(d) = p.get("description").and_then(Value::as_str) {
                s["description"] = if fallback {
                    json!(format!("{d} Defaults to MOLECULE_ORG_ID."))
                } else {
                    json!(d)
                };
            }
            match location {
                Location::Path => merge(s, &path_guard()),
                Location::Header => s["pattern"] = json!(HEADER_PATTERN),
                _ => {}
            }
        }
        let is_required = p.get("required").and_then(Value::as_bool).unwrap_or(false)
            && !fallback
            && optional_by_route != Some(tool_name.as_str());
        self.args.add(&tool_name, adv, val, is_required);
        Ok(Target {
            tool: tool_name,
            spec: spec_name,
            location,
        })
    }

    /// The JSON request `body` of operation `id`: one argument for the whole body
    /// (`ArgRule::BodyAs`), or one per field plus the body's "one of" rules.
    fn body(&mut self, id: &str, body: &Value) -> Result<Vec<Target>, String> {
        let (doc, row) = (self.doc, self.row);
        let schema_ref = body
            .pointer("/content/application~1json/schema")
            .ok_or_else(|| format!("`{id}` has a non-JSON request body"))?;
        let body_required = body
            .get("required")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if let Some(name) = whole_body_arg(row) {
            let (adv, val) = arg_schemas(doc, row, name, schema_ref, &mut self.defs);
            self.args.add(name, adv, val, body_required);
            return Ok(vec![Target {
                tool: name.to_string(),
                spec: String::new(),
                location: Location::Body,
            }]);
        }
        let schema = deref(doc, schema_ref);
        let body_req = inventory::required_names(schema);
        let mut targets = Vec::new();
        if let Some(fields) = schema.get("properties").and_then(Value::as_object) {
            for (field, field_schema) in fields {
                let (tool_name, _) = tool_name_for(row, field);
                let (adv, val) = arg_schemas(doc, row, &tool_name, field_schema, &mut self.defs);
                self.args
                    .add(&tool_name, adv, val, body_req.contains(field));
                targets.push(Target {
                    tool: tool_name,
                    spec: field.clone(),
                    location: Location::BodyField,
                });
            }
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(branches) = schema.get(key) {
                let renamed = rename_required(row, branches);
                self.rules.push(json!({ key: renamed }));
            }
        }
        Ok(targets)
    }

    /// The advertised input schema and the exact validation schema.
    fn finish(self) -> (Map<String, Value>, Value) {
        let Collect {
            row,
            args,
            rules,
            defs,
            ..
        } = self;
        let ArgumentSchemas {
            mut advertised,
            mut exact,
            required,
        } = args;
        for (name, schema) in advertised.iter_mut().chain(exact.iter_mut()) {
            if let Some(text) = super::row::arg_description(row, name) {
                schema["description"] = json!(text);
            }
        }
        let mut input = Map::new();
        input.insert("type".into(), json!("object"));
        input.insert("properties".into(), Value::Object(advertised));
        if !required.is_empty() {
            input.insert("required".into(), json!(required));
        }
        input.insert("additionalProperties".into(), json!(false));

        let mut validation = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": exact,
            "additionalProperties": false,
        });
        if !required.is_empty() {
            validation["required"] = json!(required);
        }
        match rules.len() {
            0 => {}
            1 => merge(&mut validation, &rules[0]),
            _ => validation["allOf"] = json!(rules),
        }
        if !defs.is_empty() {
            validation["$defs"] = Value::Object(defs);
        }
        (input, validation)
    }
}

/// The tool arguments collected so far: advertised and exact schemas, and which are
/// required. The first operation to declare an argument wins.
#[derive(Default)]
struct ArgumentSchemas {
    advertised: Map<String, Value>,
    exact: Map<String, Value>,
    required: Vec<String>,
}

impl ArgumentSchemas {
    fn add(&mut self, name: &str, advertised: Value, exact: Value, required: bool) {
        if self.advertised.contains_key(name) {
            return;
        }
        self.advertised.insert(name.to_string(), advertised);
        self.exact.insert(name.to_string(), exact);
        if required {
            self.required.push(name.to_string());
        }
    }
}

fn str_of(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// The tool name for a spec name, and whether it falls back to `MOLECULE_ORG_ID`.
pub fn tool_name_for(row: &ToolRow, spec_name: &str) -> (String, bool) {
    for rule in row.args {
        match *rule {
            ArgRule::Rename { spec, tool } if spec == spec_name => {
                return (tool.to_string(), false);
            }
            ArgRule::OrgIdFallback { spec, tool } if spec == spec_name => {
                return (tool.to_string(), true);
            }
            _ => {}
        }
    }
    (spec_name.to_string(), false)
}

fn whole_body_arg(row: &ToolRow) -> Option<&'static str> {
    row.args.iter().find_map(|r| match r {
        ArgRule::BodyAs(name) => Some(*name),
        _ => None,
    })
}

fn is_opaque(row: &ToolRow, tool_name: &str) -> bool {
    row.args
        .iter()
        .any(|r| matches!(r, ArgRule::Opaque(n) if *n == tool_name))
}

/// Both views of one argument's spec schema: the advertised one (a plain object for an
/// opaque argument, keeping `tools/list` small) and the exact one.
fn arg_schemas(
    doc: &Value,
    row: &ToolRow,
    tool_name: &str,
    schema: &Value,
    defs: &mut Map<String, Value>,
) -> (Value, Value) {
    let exact = convert(doc, schema, Mode::Exact, &mut Vec::new(), defs);
    let advertised = if is_opaque(row, tool_name) {
        let mut s = json!({ "type": "object" });
        if let Some(d) = schema
            .get("description")
            .or_else(|| deref(doc, schema).get("description"))
        {
            s["description"] = d.clone();
        }
        s
    } else {
        convert(doc, schema, Mode::Advertised, &mut Vec::new(), defs)
    };
    (advertised, exact)
}

fn rename_required(row: &ToolRow, branches: &Value) -> Value {
    let mut branches = branches.clone();
    if let Some(list) = branches.as_array_mut() {
        for branch in list {
            if let Some(req) = branch.get_mut("required").and_then(Value::as_array_mut) {
                for name in req.iter_mut() {
                    if let Some(s) = name.as_str() {
                        *name = json!(tool_name_for(row, s).0);
                    }
                }
            }
        }
    }
    branches
}

fn output_schema(doc: &Value, node: &Value) -> Option<Map<String, Value>> {
    let responses = node.get("responses")?.as_object()?;
    let (_, response) = responses.iter().find(|(k, _)| k.starts_with('2'))?;
    let schema = deref(doc, response).pointer("/content/application~1json/schema")?;
    let converted = convert(doc, schema, Mode::Output, &mut Vec::new(), &mut Map::new());
    match converted.get("type") {
        Some(Value::String(t)) if t == "object" => converted.as_object().cloned(),
        _ => None,
    }
}
