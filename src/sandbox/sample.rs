//! Values built from a spec schema: the body of a reply answered from the spec
//! ([`super::from_spec`]) and a request body that fits an operation (for tests).

use crate::spec::inventory::deref;
use serde_json::{Map, Value, json};

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
    /// Arrays nest three deep, then sample empty (which ends a recursion through a list);
    /// an array that must have items gets its `minItems` however deep it is.
    #[test]
    fn nested_arrays_stop_at_three_unless_items_are_required() {
        let doc = serde_json::json!({});
        let nest =
            |inner: serde_json::Value| serde_json::json!({ "type": "array", "items": inner });
        let text = serde_json::json!({ "type": "string" });
        let four = nest(nest(nest(nest(text.clone()))));
        assert_eq!(super::sample(&doc, &four, 0), serde_json::json!([[[[]]]]));
        let required = serde_json::json!({ "type": "array", "minItems": 2, "items": text });
        assert_eq!(
            super::sample(&doc, &nest(nest(nest(required))), 0),
            serde_json::json!([[[["x", "x"]]]])
        );
    }

    /// A combinator beside `properties` only constrains them: the object is sampled
    /// whole, every property filled (a body "by dir or by template").
    #[test]
    fn a_combinator_beside_properties_does_not_replace_them() {
        let doc = serde_json::json!({});
        let schema = serde_json::json!({
            "properties": { "dir": { "type": "string" }, "force": { "type": "boolean" } },
            "anyOf": [{ "required": ["dir"] }, { "required": ["template"] }],
        });
        assert_eq!(
            super::sample(&doc, &schema, 0),
            serde_json::json!({ "dir": "x", "force": false })
        );
    }

    /// A reply body the spec leaves untyped is an object (what every tenant reply is);
    /// an untyped field inside one is `null`, the one value that fits any schema.
    #[test]
    fn an_untyped_body_is_an_object_and_an_untyped_field_is_null() {
        let doc = serde_json::json!({});
        let any = serde_json::json!({ "description": "anything" });
        assert_eq!(super::sample(&doc, &any, 0), serde_json::json!({}));
        let outer = serde_json::json!({ "type": "object", "properties": { "meta": any } });
        assert_eq!(
            super::sample(&doc, &outer, 0),
            serde_json::json!({ "meta": null })
        );
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
