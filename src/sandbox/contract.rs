//! The sandbox's view of the patched specs: for every operation its method and path
//! (the routes are built from them, so every spec operation is served: by a stateful
//! handler in [`super::ops`], or from the spec by [`super::from_spec`]), its success
//! status and a body built from its schema, and compiled validators for its request body and for
//! each documented response. The sandbox refuses request bodies that break the spec
//! and logs any response of its own that does.
//!
//! OpenAPI 3.0 schemas become JSON Schema through the same converter the tool
//! schemas use ([`crate::tools::json_schema::exact_schema`]).

use crate::Operation;
use crate::spec::inventory;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// What the specs say about one operation.
#[derive(Debug, Clone)]
pub(super) struct OpContract {
    /// Upper-case HTTP method.
    pub method: String,
    /// Path template, e.g. `/workspaces/{id}` (axum 0.8 uses the same syntax).
    pub path: String,
    /// The request body validator, when the operation takes one.
    pub request: Option<Arc<jsonschema::Validator>>,
    /// Response validators by status key (`200`, `4XX`, ...).
    responses: Vec<(String, Arc<jsonschema::Validator>)>,
    /// The documented success status and a body built from its schema: the answer of
    /// an operation without a stateful handler ([`super::from_spec`]).
    pub success: (u16, Option<Value>),
    /// `(location, name)` of the required query parameters and headers.
    pub required: Vec<(String, String)>,
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
    let specs = crate::embedded::specs().map_err(|e| e.to_string())?;
    let mut out = HashMap::new();
    for doc in [&specs.management, &specs.control_plane] {
        for meta in inventory::operations(doc) {
            let op = Operation::ALL
                .iter()
                .copied()
                .find(|o| o.operation_id() == meta.id)
                .ok_or_else(|| format!("spec operation `{}` has no Operation", meta.id))?;
            let node = doc.pointer(&meta.pointer).unwrap_or(&Value::Null);
            let compile = |schema: &Value| compile(doc, schema, &meta.id);
            let request = node
                .get("requestBody")
                .map(|b| inventory::deref(doc, b))
                .and_then(|b| b.pointer("/content/application~1json/schema"))
                .map(compile)
                .transpose()?;
            let success = super::sample::success(doc, node, &meta.success_status);
            let required = inventory::parameters(doc, &meta.pointer, node)
                .into_iter()
                .filter(|p| p.get("required").and_then(Value::as_bool) == Some(true))
                .filter_map(|p| {
                    let location = p.get("in").and_then(Value::as_str)?;
                    let name = p.get("name").and_then(Value::as_str)?;
                    matches!(location, "query" | "header")
                        .then(|| (location.to_string(), name.to_string()))
                })
                .collect();
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
                    success,
                    required,
                },
            );
        }
    }
    match Operation::ALL.iter().find(|op| !out.contains_key(op)) {
        Some(missing) => Err(format!("`{}` is in no spec", missing.operation_id())),
        None => Ok(out),
    }
}

fn compile(doc: &Value, schema: &Value, op: &str) -> Result<Arc<jsonschema::Validator>, String> {
    jsonschema::draft202012::new(&crate::tools::json_schema::exact_schema(doc, schema))
        .map(Arc::new)
        .map_err(|e| format!("`{op}`: schema does not compile: {e}"))
}

/// The first few validation errors of `value`, for a log line.
pub(super) fn errors(validator: &jsonschema::Validator, value: &Value) -> Vec<String> {
    validator
        .iter_errors(value)
        .take(5)
        // Masked: a reply may carry a freshly minted token.
        .map(|e| format!("{}: {}", e.instance_path(), e.masked()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
