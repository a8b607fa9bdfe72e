//! The answer of an operation with no stateful handler in [`super::ops`]: the request
//! is checked against the spec (its exact body schema, its required query parameters
//! and headers), and the reply is the documented success status with a body built
//! from the response schema (its examples first). Binding a new spec operation to a
//! tool therefore never needs a sandbox edit for `--sandbox` to answer it.

use super::http::{Outcome, Reply, Req};
use super::state::State;
use crate::spec::inventory::deref;
use serde_json::{Map, Value, json};

/// Answers `req` from the operation's contract; the state is not touched.
pub(super) fn answer(_st: &mut State, req: &Req) -> Outcome {
    if req.has_request_schema() {
        req.body("request body does not match the spec")?;
    }
    for (location, name) in req.required() {
        let given = match location.as_str() {
            "query" => req.query_param(name).is_some(),
            _ => req.header(name).is_some(),
        };
        if !given {
            return Err(Reply::error(
                400,
                format!("missing {location} parameter {name}"),
            ));
        }
    }
    let (status, body) = req.success();
    let mut body = body.clone();
    // Path parameters echo into the fields of the same name (`{id}` → `"id"`), so a
    // reply names what was asked for.
    if let Some(fields) = body.as_mut().and_then(Value::as_object_mut) {
        for (name, value) in req.params() {
            if let Some(Value::String(field)) = fields.get_mut(name) {
                *field = value.clone();
            }
        }
    }
    Ok(match body {
        Some(body) => Reply::json(status, body),
        None => Reply::bare(status),
    })
}

/// The success status of the operation `node` (`success_status` from the inventory;
/// 200 when it has none) and a body built from its JSON schema, if it documents one.
pub(super) fn success(doc: &Value, node: &Value, success_status: &str) -> (u16, Option<Value>) {
    let status = success_status.parse().unwrap_or(200);
    let media = node
        .get("responses")
        .and_then(|r| r.get(success_status))
        .map(|r| deref(doc, r))
        .and_then(|r| r.pointer("/content/application~1json"));
    let body = media.and_then(|m| {
        m.get("example")
            .cloned()
            .or_else(|| m.get("schema").map(|s| sample(doc, s, 0)))
    });
    (status, body)
}

/// How deep a sample follows nested schemas: arrays below [`ARRAY_DEPTH`] are empty
/// (unless they need items), which ends a recursion through a list such as a bundle's
/// `sub_workspaces`; [`DEPTH`] is the hard stop.
const ARRAY_DEPTH: usize = 3;
const DEPTH: usize = 16;

/// A value that fits `schema`: its `example`, `default` or first `enum` value, else
/// one built from its type (every property of an object, one item of an array).
pub(super) fn sample(doc: &Value, schema: &Value, depth: usize) -> Value {
    let schema = deref(doc, schema);
    for key in ["example", "default"] {
        if let Some(v) = schema.get(key) {
            return v.clone();
        }
    }
    if let Some(first) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.iter().find(|v| !v.is_null()))
    {
        return first.clone();
    }
    if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
        let mut merged = Map::new();
        for part in parts {
            if let Value::Object(fields) = sample(doc, part, depth + 1) {
                merged.extend(fields);
            }
        }
        return Value::Object(merged);
    }
    // A combinator beside a type or properties only constrains them ("dir or template":
    // every property is filled anyway); otherwise it is the type.
    let typed = schema.get("type").is_some() || schema.get("properties").is_some();
    for key in ["oneOf", "anyOf"] {
        if typed {
            break;
        }
        if let Some(first) = schema
            .get(key)
            .and_then(Value::as_array)
            .and_then(|b| b.first())
        {
            return sample(doc, first, depth + 1);
        }
    }
    let min = |key: &str| schema.get(key).and_then(Value::as_u64).unwrap_or(0);
    let properties = schema.get("properties").and_then(Value::as_object);
    match schema.get("type").and_then(Value::as_str) {
        Some("object") | None if properties.is_some() || depth == 0 => {
            let mut out = Map::new();
            if depth < DEPTH {
                for (name, field) in properties.into_iter().flatten() {
                    out.insert(name.clone(), sample(doc, field, depth + 1));
                }
            }
            Value::Object(out)
        }
        Some("object") => json!({}),
        Some("array") => match schema.get("items") {
            Some(items) if depth < ARRAY_DEPTH || (min("minItems") > 0 && depth < DEPTH) => {
                let count = min("minItems").max(1);
                Value::Array((0..count).map(|_| sample(doc, items, depth + 1)).collect())
            }
            _ => json!([]),
        },
        Some("string") => json!(match schema.get("format").and_then(Value::as_str) {
            Some("uuid") => "00000000-0000-4000-8000-000000000000".to_string(),
            Some("date-time") => super::state::now_rfc3339(),
            Some("date") => "2026-01-01".to_string(),
            Some("email") => "someone@example.com".to_string(),
            Some("uri" | "url") => "https://example.com/".to_string(),
            _ => "x".repeat(usize::try_from(min("minLength")).unwrap_or(0).max(1)),
        }),
        Some("integer") => json!(schema.get("minimum").and_then(Value::as_i64).unwrap_or(0)),
        Some("number") => json!(schema.get("minimum").and_then(Value::as_f64).unwrap_or(0.0)),
        Some("boolean") => json!(false),
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::super::contract::contracts;
    use crate::Operation;

    /// Every operation of both specs can be answered from the spec alone, and the answer
    /// fits the spec's own response schema: binding any of them needs no handler.
    #[test]
    fn every_operations_answer_from_the_spec_fits_its_response_schema() {
        let contracts = contracts().unwrap();
        for op in Operation::ALL {
            let contract = &contracts[op];
            let (status, body) = &contract.success;
            assert!((200..300).contains(status), "{op:?}: {status}");
            let Some(body) = body else { continue };
            let validator = contract
                .response(*status)
                .unwrap_or_else(|| panic!("{op:?}: a body but no schema"));
            let errors = super::super::contract::errors(validator, body);
            assert!(
                errors.is_empty(),
                "{op:?}: {body} breaks the spec: {errors:?}"
            );
        }
    }

    /// A sample request fits the exact request schema, so a test can call any
    /// operation answered from the spec.
    #[test]
    fn every_operations_sample_request_fits_its_request_schema() {
        let contracts = contracts().unwrap();
        for op in Operation::ALL {
            let (Some(validator), Some(body)) =
                (&contracts[op].request, super::super::sample_request(*op))
            else {
                assert!(contracts[op].request.is_none(), "{op:?}: no sample");
                continue;
            };
            let errors = super::super::contract::errors(validator, &body);
            assert!(
                errors.is_empty(),
                "{op:?}: {body} breaks the spec: {errors:?}"
            );
        }
    }

    #[test]
    fn a_sample_takes_examples_first_and_fills_every_property() {
        let doc = serde_json::json!({ "components": { "schemas": { "Id": {
            "type": "string", "format": "uuid" } } } });
        let schema = serde_json::json!({ "type": "object", "required": ["id"], "properties": {
            "id": { "$ref": "#/components/schemas/Id" },
            "mode": { "type": "string", "enum": [null, "byok"] },
            "n": { "type": "integer", "minimum": 3 },
            "tags": { "type": "array", "items": { "type": "string", "example": "t" } },
        } });
        assert_eq!(
            super::sample(&doc, &schema, 0),
            serde_json::json!({
                "id": "00000000-0000-4000-8000-000000000000",
                "mode": "byok", "n": 3, "tags": ["t"],
            })
        );
    }
}
