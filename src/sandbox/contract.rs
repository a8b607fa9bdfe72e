//! The sandbox's view of the patched specs: for every operation its method and path
//! (the routes are built from them, so a new spec operation is served or fails to
//! compile in [`super::ops`]) and compiled validators for its request body and for
//! each documented response. The sandbox refuses request bodies that break the spec
//! and logs any response of its own that does.
//!
//! OpenAPI 3.0 schemas are not JSON Schema: `nullable` becomes a `null` type (or an
//! `anyOf` beside a `$ref`), and the spec's `components` ride along in every compiled
//! schema so `#/components/schemas/...` references resolve unchanged.

use crate::Operation;
use crate::spec::inventory;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// Keys of OpenAPI 3.0 schemas that JSON Schema does not know (or must not see).
const OPENAPI_ONLY: [&str; 5] = [
    "nullable",
    "example",
    "xml",
    "externalDocs",
    "discriminator",
];

/// What the specs say about one operation.
#[derive(Debug)]
pub(super) struct OpContract {
    /// Upper-case HTTP method.
    pub method: String,
    /// Path template, e.g. `/workspaces/{id}` (axum 0.8 uses the same syntax).
    pub path: String,
    /// The request body validator, when the operation takes one.
    pub request: Option<Arc<jsonschema::Validator>>,
    /// Response validators by status key (`200`, `4XX`, ...).
    responses: Vec<(String, Arc<jsonschema::Validator>)>,
}

impl OpContract {
    /// The validator for `status`: the exact code first, then its `NXX` range.
    pub fn response(&self, status: u16) -> Option<&jsonschema::Validator> {
        let exact = status.to_string();
        let range = format!("{}XX", status / 100);
        [exact, range].iter().find_map(|key| {
            self.responses
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_ref())
        })
    }
}

/// Every operation of both specs.
pub(super) type Contracts = HashMap<Operation, OpContract>;

/// The contracts, compiled once per process (the specs are embedded constants).
pub(super) fn contracts() -> Result<&'static Contracts, String> {
    static CONTRACTS: OnceLock<Result<Contracts, String>> = OnceLock::new();
    CONTRACTS.get_or_init(build).as_ref().map_err(Clone::clone)
}

fn build() -> Result<Contracts, String> {
    let (tenant, cp) = crate::tools::specs();
    let mut out = HashMap::new();
    for doc in [tenant, cp] {
        let schemas: Map<String, Value> = doc
            .pointer("/components/schemas")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(name, schema)| (name.clone(), to_json_schema(schema)))
            .collect();
        let components = json!({ "schemas": schemas });
        for meta in inventory::operations(doc) {
            let op = Operation::ALL
                .iter()
                .copied()
                .find(|o| o.operation_id() == meta.id)
                .ok_or_else(|| format!("spec operation `{}` has no Operation", meta.id))?;
            let node = doc.pointer(&meta.pointer).unwrap_or(&Value::Null);
            let compile = |schema: &Value| compile(schema, &components, &meta.id);
            let request = node
                .get("requestBody")
                .map(|b| inventory::deref(doc, b))
                .and_then(|b| b.pointer("/content/application~1json/schema"))
                .map(compile)
                .transpose()?;
            let mut responses = Vec::new();
            if let Some(map) = node.get("responses").and_then(Value::as_object) {
                for (status, response) in map {
                    let response = inventory::deref(doc, response);
                    if let Some(schema) = response.pointer("/content/application~1json/schema") {
                        responses.push((status.clone(), compile(schema)?));
                    }
                }
            }
            out.insert(
                op,
                OpContract {
                    method: meta.method,
                    path: meta.path,
                    request,
                    responses,
                },
            );
        }
    }
    match Operation::ALL.iter().find(|op| !out.contains_key(op)) {
        Some(missing) => Err(format!("`{}` is in no spec", missing.operation_id())),
        None => Ok(out),
    }
}

fn compile(
    schema: &Value,
    components: &Value,
    op: &str,
) -> Result<Arc<jsonschema::Validator>, String> {
    let mut root = Map::new();
    root.insert(
        "$schema".into(),
        json!("https://json-schema.org/draft/2020-12/schema"),
    );
    root.insert("allOf".into(), json!([to_json_schema(schema)]));
    root.insert("components".into(), components.clone());
    jsonschema::draft202012::new(&Value::Object(root))
        .map(Arc::new)
        .map_err(|e| format!("`{op}`: schema does not compile: {e}"))
}

/// Converts an OpenAPI 3.0 schema (and everything under it) to JSON Schema 2020-12.
fn to_json_schema(schema: &Value) -> Value {
    let Some(obj) = schema.as_object() else {
        return schema.clone();
    };
    let mut out = Map::new();
    for (key, value) in obj {
        if OPENAPI_ONLY.contains(&key.as_str()) {
            continue;
        }
        let converted = match (key.as_str(), value) {
            // A map whose keys are property names, not keywords.
            ("properties", Value::Object(m)) => Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), to_json_schema(v)))
                    .collect(),
            ),
            ("items" | "not" | "additionalProperties", v) => to_json_schema(v),
            ("anyOf" | "oneOf" | "allOf", Value::Array(a)) => {
                Value::Array(a.iter().map(to_json_schema).collect())
            }
            _ => value.clone(),
        };
        out.insert(key.clone(), converted);
    }
    if obj.get("nullable").and_then(Value::as_bool) == Some(true) {
        if let Some(reference) = out.remove("$ref") {
            out.insert(
                "anyOf".into(),
                json!([{ "$ref": reference }, { "type": "null" }]),
            );
        }
        if let Some(Value::String(t)) = out.get("type").cloned() {
            out.insert("type".into(), json!([t, "null"]));
        }
        if let Some(Value::Array(values)) = out.get_mut("enum")
            && !values.contains(&Value::Null)
        {
            values.push(Value::Null);
        }
    }
    Value::Object(out)
}

/// The first few validation errors of `value`, for a log line.
pub(super) fn errors(validator: &jsonschema::Validator, value: &Value) -> Vec<String> {
    validator
        .iter_errors(value)
        .take(5)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_compiles_with_its_request_and_error_schemas() {
        let contracts = contracts().unwrap();
        assert_eq!(contracts.len(), Operation::ALL.len());
        let provision = &contracts[&Operation::ProvisionWorkspace];
        assert_eq!(
            (provision.method.as_str(), provision.path.as_str()),
            ("POST", "/workspaces")
        );
        let request = provision.request.as_ref().unwrap();
        assert!(request.is_valid(&json!({ "name": "a", "tier": 2 })));
        assert!(!request.is_valid(&json!({ "name": "a", "tier": 9 })));
        assert!(
            provision
                .response(404)
                .unwrap()
                .is_valid(&json!({ "error": "x" }))
        );
        assert!(provision.response(201).is_some());
        assert!(provision.response(200).is_none());
    }

    #[test]
    fn nullable_fields_accept_null_and_nothing_else_extra() {
        let billing = contracts().unwrap()[&Operation::SetLlmBillingMode]
            .request
            .clone()
            .unwrap();
        assert!(billing.is_valid(&json!({ "mode": null })));
        assert!(billing.is_valid(&json!({ "mode": "byok" })));
        assert!(!billing.is_valid(&json!({ "mode": "free" })));
        assert!(!billing.is_valid(&json!({})));
    }
}
