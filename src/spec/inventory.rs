//! The operation inventory of a spec: one entry per (method, path), with what the
//! tool table, the generated-operation enum and the drift report need to know.

use serde_json::Value;

/// The HTTP methods an OpenAPI path item can hold, in the order the spec lists them.
pub const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// One operation as a spec document lists it (method, path, operationId); the
/// generated [`crate::Operation`] enum names the same operations in code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `operationId` (empty when the spec has none).
    pub id: String,
    /// Upper-case HTTP method.
    pub method: String,
    /// The path template, e.g. `/workspaces/{id}`.
    pub path: String,
    /// The first tag.
    pub tag: String,
    /// The documented success status (`200`, `201`, `2XX`...), empty when none.
    pub success_status: String,
    /// JSON pointer of the operation object in the document.
    pub pointer: String,
}

/// Escapes one JSON-pointer reference token.
pub fn escape_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Every operation in `doc`, sorted by path then method order.
pub fn operations(doc: &Value) -> Vec<Endpoint> {
    let mut out = Vec::new();
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
        return out;
    };
    let mut keys: Vec<&String> = paths.keys().collect();
    keys.sort();
    for path in keys {
        for method in METHODS {
            let Some(op) = paths[path].get(method) else {
                continue;
            };
            let success_status = op
                .get("responses")
                .and_then(Value::as_object)
                .and_then(|r| r.keys().find(|k| k.starts_with('2')).cloned())
                .unwrap_or_default();
            out.push(Endpoint {
                id: str_at(op, "operationId"),
                method: method.to_ascii_uppercase(),
                path: path.clone(),
                tag: op
                    .get("tags")
                    .and_then(|t| t.get(0))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                success_status,
                pointer: format!("/paths/{}/{}", escape_token(path), method),
            });
        }
    }
    out
}

fn str_at(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Follows a local `$ref` (`#/components/...`) once; other values are returned as is.
pub fn deref<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => r
            .strip_prefix('#')
            .and_then(|p| doc.pointer(p))
            .unwrap_or(v),
        None => v,
    }
}

/// The parameters of the operation at `op_pointer` (`node`), each `$ref` followed once:
/// path-item-level ones first (they apply to every operation under the path) unless the
/// operation redefines the same name and location, then the operation's own.
pub fn parameters<'a>(doc: &'a Value, op_pointer: &str, node: &'a Value) -> Vec<&'a Value> {
    let item_pointer = op_pointer
        .rsplit_once('/')
        .map(|(p, _)| p)
        .unwrap_or_default();
    let shared = doc
        .pointer(&format!("{item_pointer}/parameters"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    let own = node
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    let own: Vec<&Value> = own.map(|p| deref(doc, p)).collect();
    let key = |p: &Value| (p.get("in").cloned(), p.get("name").cloned());
    shared
        .map(|p| deref(doc, p))
        .filter(|p| !own.iter().any(|o| key(o) == key(p)))
        .chain(own.iter().copied())
        .collect()
}

/// The names a schema lists as `required`.
pub fn required_names(schema: &Value) -> std::collections::BTreeSet<String> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// One line per operation: `operationId METHOD path -> status`, for snapshots and reports.
pub fn render(ops: &[Endpoint]) -> String {
    ops.iter()
        .map(|o| format!("{} {} {} -> {}\n", o.id, o.method, o.path, o.success_status))
        .collect()
}
