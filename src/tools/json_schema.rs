//! OpenAPI 3.0 schemas (the subset `src/spec/normalise.rs` leaves) as JSON Schema
//! 2020-12, in the three modes the tools need. Used by the derivation of every tool
//! ([`super::derive`]) and by the sandbox, which validates request bodies with
//! [`exact_schema`].
//!
//! Compiled into build.rs too (`#[path]`): tool definitions are derived at build time.

use serde_json::{Map, Value, json};

/// How a spec schema is turned into a JSON Schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Host-safe: refs inlined (cycles cut to `{}`), no formats.
    Advertised,
    /// Exact: refs become `$defs`, every constraint kept.
    Exact,
    /// Structure only: refs inlined, no required/enum/limits, additional properties allowed.
    Output,
}

const OPENAPI_ONLY: [&str; 6] = [
    "example",
    "xml",
    "externalDocs",
    "discriminator",
    "nullable",
    "format",
];
const POLICY: [&str; 10] = [
    "required",
    "enum",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "minProperties",
    "maxProperties",
    "pattern",
    "minItems",
];

/// Converts one OpenAPI 3.0 schema to JSON Schema 2020-12 in `mode`.
pub fn convert(
    doc: &Value,
    schema: &Value,
    mode: Mode,
    stack: &mut Vec<String>,
    defs: &mut Map<String, Value>,
) -> Value {
    let Some(obj) = schema.as_object() else {
        return schema.clone();
    };
    if let Some(reference) = obj.get("$ref").and_then(Value::as_str) {
        let name = reference.rsplit('/').next().unwrap_or_default().to_string();
        let target = reference
            .strip_prefix('#')
            .and_then(|p| doc.pointer(p))
            .unwrap_or(&Value::Null);
        let mut out = match mode {
            Mode::Exact => {
                if !defs.contains_key(&name) {
                    defs.insert(name.clone(), json!({}));
                    let built = convert(doc, target, mode, stack, defs);
                    defs.insert(name.clone(), built);
                }
                json!({ "$ref": format!("#/$defs/{name}") })
            }
            Mode::Advertised | Mode::Output => {
                if stack.contains(&name) {
                    // A cycle is cut, but what it would repeat keeps its type, so a
                    // host is not shown a schema that constrains nothing
                    // (docs/decisions.md, "Schemas hosts accept").
                    match target.get("type") {
                        Some(t @ Value::String(_)) => json!({ "type": t }),
                        _ => json!({}),
                    }
                } else {
                    stack.push(name);
                    let built = convert(doc, target, mode, stack, defs);
                    stack.pop();
                    built
                }
            }
        };
        for (k, v) in obj {
            if k != "$ref" && !OPENAPI_ONLY.contains(&k.as_str()) {
                out[k] = v.clone();
            }
        }
        if obj.get("nullable").and_then(Value::as_bool) == Some(true) {
            return match mode {
                Mode::Exact => json!({ "anyOf": [out, { "type": "null" }] }),
                Mode::Advertised | Mode::Output => null_branch(out),
            };
        }
        return out;
    }
    let mut out = Map::new();
    for (key, value) in obj {
        if OPENAPI_ONLY.contains(&key.as_str())
            || (mode == Mode::Output && POLICY.contains(&key.as_str()))
        {
            continue;
        }
        let converted = match key.as_str() {
            "properties" => Value::Object(
                value
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), convert(doc, v, mode, stack, defs)))
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
            "items" | "not" => convert(doc, value, mode, stack, defs),
            "additionalProperties" => match value {
                Value::Bool(false) if mode == Mode::Output => continue,
                Value::Object(_) => convert(doc, value, mode, stack, defs),
                other => other.clone(),
            },
            "anyOf" | "oneOf" | "allOf" => Value::Array(
                value
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|v| convert(doc, v, mode, stack, defs))
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
            _ => value.clone(),
        };
        out.insert(key.clone(), converted);
    }
    exclusive_bounds(&mut out, mode);
    if obj.get("nullable").and_then(Value::as_bool) == Some(true) {
        return match mode {
            Mode::Exact => allow_null(Value::Object(out)),
            Mode::Advertised | Mode::Output => null_branch(Value::Object(out)),
        };
    }
    Value::Object(out)
}

/// OpenAPI 3.0's boolean `exclusiveMinimum: true` beside `minimum: n` is JSON Schema
/// 2020-12's numeric `exclusiveMinimum: n` (likewise maximum); `false` says nothing.
/// A boolean left in place makes the schema invalid. Output schemas keep no bounds
/// ([`POLICY`] has already dropped their `minimum` and `maximum`).
fn exclusive_bounds(out: &mut Map<String, Value>, mode: Mode) {
    for (exclusive, bound) in [
        ("exclusiveMinimum", "minimum"),
        ("exclusiveMaximum", "maximum"),
    ] {
        match out.get(exclusive) {
            Some(_) if mode == Mode::Output => {
                out.shift_remove(exclusive);
            }
            Some(Value::Bool(true)) => {
                match out.shift_remove(bound) {
                    Some(n) => out.insert(exclusive.to_string(), n),
                    None => out.shift_remove(exclusive),
                };
            }
            Some(Value::Bool(_)) => {
                out.shift_remove(exclusive);
            }
            _ => {}
        }
    }
}

/// OpenAPI's `nullable: true` as hosts that allow one `type` per field accept it:
/// `anyOf` of the schema and `{"type": "null"}`, the description outside
/// (docs/decisions.md, "Schemas hosts accept"). A schema with no `type` already admits
/// `null` and is kept.
fn null_branch(mut schema: Value) -> Value {
    let Some(map) = schema.as_object_mut() else {
        return schema;
    };
    if !map.get("type").is_some_and(Value::is_string) {
        return schema;
    }
    if let Some(Value::Array(values)) = map.get_mut("enum") {
        values.retain(|v| !v.is_null());
    }
    let description = map.shift_remove("description");
    let mut out = json!({ "anyOf": [schema, { "type": "null" }] });
    if let Some(d) = description {
        out["description"] = d;
    }
    out
}

/// OpenAPI's `nullable: true` in JSON Schema terms: `null` joins the type and the enum
/// (the exact schema, which only this server reads).
fn allow_null(mut schema: Value) -> Value {
    if let Some(Value::String(t)) = schema.get("type").cloned() {
        schema["type"] = json!([t, "null"]);
    }
    if let Some(Value::Array(values)) = schema.get_mut("enum")
        && !values.contains(&Value::Null)
    {
        values.push(Value::Null);
    }
    schema
}

/// The exact JSON Schema 2020-12 form of one spec schema of `doc`, with the components
/// it references under `$defs` (what the sandbox validates bodies against).
pub fn exact_schema(doc: &Value, schema: &Value) -> Value {
    let mut defs = Map::new();
    let mut out = convert(doc, schema, Mode::Exact, &mut Vec::new(), &mut defs);
    let mut root = json!({ "$schema": "https://json-schema.org/draft/2020-12/schema" });
    if !out.is_object() {
        out = json!({});
    }
    if !defs.is_empty() {
        root["$defs"] = Value::Object(defs);
    }
    root["allOf"] = json!([out]);
    root
}

/// Copies every member of `extra` into `target` (both objects).
pub fn merge(target: &mut Value, extra: &Value) {
    if let (Some(t), Some(e)) = (target.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            t.insert(k.clone(), v.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openapi_3_0_exclusive_bounds_become_json_schema_2020_12_numbers() {
        let doc = json!({});
        let schema = json!({ "type": "integer", "minimum": 0, "exclusiveMinimum": true,
            "maximum": 1000, "exclusiveMaximum": false });
        let exact = convert(&doc, &schema, Mode::Exact, &mut Vec::new(), &mut Map::new());
        assert_eq!(
            exact,
            json!({ "type": "integer", "exclusiveMinimum": 0, "maximum": 1000 })
        );
        let validator = jsonschema::draft202012::new(&exact).unwrap();
        assert!(validator.is_valid(&json!(1)) && validator.is_valid(&json!(1000)));
        assert!(!validator.is_valid(&json!(0)));
        let output = convert(
            &doc,
            &schema,
            Mode::Output,
            &mut Vec::new(),
            &mut Map::new(),
        );
        assert_eq!(output, json!({ "type": "integer" }));
        // A 3.1-style numeric bound is kept in input schemas, dropped in output ones.
        let numeric = json!({ "type": "number", "exclusiveMinimum": 5 });
        let exact = convert(
            &doc,
            &numeric,
            Mode::Exact,
            &mut Vec::new(),
            &mut Map::new(),
        );
        assert_eq!(exact, numeric);
        let output = convert(
            &doc,
            &numeric,
            Mode::Output,
            &mut Vec::new(),
            &mut Map::new(),
        );
        assert_eq!(output, json!({ "type": "number" }));
    }

    /// The schema of a map's values is converted like any other (`nullable` and all);
    /// in an output schema, `additionalProperties: false` is dropped, so a field the
    /// upstream adds is not a contract mismatch.
    #[test]
    fn additional_properties_are_converted_and_closed_maps_open_in_output() {
        let doc = json!({});
        let map = json!({ "type": "object",
            "additionalProperties": { "type": "string", "nullable": true } });
        let exact = convert(&doc, &map, Mode::Exact, &mut Vec::new(), &mut Map::new());
        let validator = jsonschema::draft202012::new(&exact).unwrap();
        assert!(
            validator.is_valid(&json!({ "a": "x", "b": null })),
            "{exact}"
        );
        assert!(!validator.is_valid(&json!({ "a": 1 })), "{exact}");
        let closed = json!({ "type": "object", "additionalProperties": false,
            "properties": { "id": { "type": "string" } } });
        let exact = convert(&doc, &closed, Mode::Exact, &mut Vec::new(), &mut Map::new());
        assert_eq!(exact["additionalProperties"], false);
        let output = convert(
            &doc,
            &closed,
            Mode::Output,
            &mut Vec::new(),
            &mut Map::new(),
        );
        let validator = jsonschema::draft202012::new(&output).unwrap();
        assert!(
            validator.is_valid(&json!({ "id": "w", "new_field": 1 })),
            "{output}"
        );
    }
}
