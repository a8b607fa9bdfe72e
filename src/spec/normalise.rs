//! OpenAPI 3.1 in, the OpenAPI 3.0 subset progenitor and the rest of the pipeline read
//! out — or an error that names the file, the JSON pointer and the keyword.
//!
//! progenitor and openapiv3 read 3.0 only, and no maintained Rust crate down-converts
//! 3.1 (`oas3` reads 3.1 but does not convert; `@apiture/openapi-down-convert` is a
//! Node tool, which build.rs cannot run). So this module does the small part this
//! server needs, on the `serde_json::Value` every stage already shares:
//!
//! | 3.1 | 3.0 |
//! |---|---|
//! | `type: [T, "null"]` | `type: T`, `nullable: true` (`null` leaves `enum`; an `enum` without `null` keeps the value non-nullable, as JSON Schema says) |
//! | `type: [T1, T2, …]` | `anyOf: [{type: T1}, {type: T2}, …]` |
//! | `anyOf`/`oneOf` with a `{type: "null"}` branch | the other branch (merged, or `$ref` + siblings) or the other branches, `nullable: true` |
//! | `const: v` | `enum: [v]` |
//! | `examples: [a, …]` in a schema | `example: a` |
//! | `exclusiveMinimum: n` (a number) | `minimum: n`, `exclusiveMinimum: true` (likewise maximum) |
//! | `contentEncoding: base64` | `format: byte` |
//! | `$ref` with sibling keywords | kept: `src/tools/json_schema.rs` applies `$ref` siblings as 3.1 does, and progenitor (which ignores them) only types bodies that are sent as validated JSON |
//! | `jsonSchemaDialect`, `webhooks`, `info.summary`, `info.license.identifier`, `$schema`, `$id`, `$anchor`, `$dynamicAnchor`, `$comment`, `contentMediaType`, `contentSchema`, `summary`/`description` beside a non-schema `$ref` | dropped: no wire meaning for a client |
//! | `components.pathItems` | inlined where `paths` refers to them |
//!
//! Keywords 3.0 cannot say (`prefixItems`, `if`/`then`/`else`, `dependentSchemas`,
//! `dependentRequired`, `unevaluatedProperties`/`Items`, `contains`, `patternProperties`,
//! `propertyNames`, `$defs`, `$dynamicRef`, a schema that is only `null`, the
//! `mutualTLS` security scheme) are an error where they shape what is sent (a request
//! schema, or a component a request uses). In a schema only responses use they are
//! dropped with a [`Note`] (output schemas describe structure, not policy, so they only
//! get looser); `$defs`, `$dynamicRef` and a null-only schema are errors everywhere.
//!
//! Both versions get one canonicalisation, so that equivalent 3.0 and 3.1 renderings of
//! an API are the same document: `nullable: false` (the default) goes, and so does
//! `nullable: true` on a schema with no `type`, `$ref`, combinator or `enum` (such a
//! schema already accepts `null`; OpenAPI 3.0.3 gives `nullable` no effect there).

use super::inventory::escape_token;
use serde_json::{Map, Value, json};
// Keys are removed with `shift_remove` throughout: `remove` swaps the last key into the
// hole, and the key order of a schema is what `tools/list` serves.
use std::collections::BTreeSet;

/// One keyword the normaliser could not carry over, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// JSON pointer of the schema holding it, in the document as written.
    pub pointer: String,
    /// The keyword.
    pub keyword: String,
    /// Why it matters, or what was done instead.
    pub reason: String,
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` at `{}`: {}",
            self.keyword, self.pointer, self.reason
        )
    }
}

/// The OpenAPI versions the pipeline reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `openapi: 3.0.x`, used as written (after the canonicalisation).
    V30,
    /// `openapi: 3.1.x`, converted.
    V31,
}

/// A document in the 3.0 subset, with what was dropped from response-only schemas.
#[derive(Debug, Clone)]
pub struct Normalised {
    /// The document, `openapi: 3.0.3` when it was 3.1.
    pub doc: Value,
    /// The version it was written in.
    pub version: Version,
    /// Keywords dropped from schemas that only responses use (each loosens an output
    /// schema); empty for a 3.0 document.
    pub dropped: Vec<Note>,
}

/// Keywords with validation meaning that OpenAPI 3.0 has no way to say.
const INEXPRESSIBLE: [&str; 13] = [
    "prefixItems",
    "if",
    "then",
    "else",
    "dependentSchemas",
    "dependentRequired",
    "unevaluatedProperties",
    "unevaluatedItems",
    "contains",
    "minContains",
    "maxContains",
    "patternProperties",
    "propertyNames",
];

/// 3.1 schema keywords that annotate only.
const ANNOTATIONS: [&str; 7] = [
    "$schema",
    "$id",
    "$anchor",
    "$dynamicAnchor",
    "$comment",
    "contentMediaType",
    "contentSchema",
];

/// Keywords whose value is one subschema.
const ONE_SUBSCHEMA: [&str; 9] = [
    "items",
    "additionalProperties",
    "not",
    "contains",
    "if",
    "then",
    "else",
    "propertyNames",
    "unevaluatedProperties",
];

/// Keywords whose value is a map of subschemas.
const MAP_OF_SUBSCHEMAS: [&str; 3] = ["properties", "patternProperties", "dependentSchemas"];

/// Keywords whose value is a list of subschemas.
const LIST_OF_SUBSCHEMAS: [&str; 4] = ["allOf", "anyOf", "oneOf", "prefixItems"];

/// Whether a schema position shapes what the client sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Request,
    Response,
}

/// Normalises a parsed document. `Err` holds every problem found (file-less: the
/// caller adds the file name), so the maintainer sees them all at once.
pub fn normalise(mut doc: Value, version: Version) -> Result<Normalised, Vec<Note>> {
    let mut walker = Walker {
        v31: version == Version::V31,
        errors: Vec::new(),
        dropped: Vec::new(),
        request_components: BTreeSet::new(),
    };
    if walker.v31 {
        walker.top_level(&mut doc);
    }
    walker.request_components = request_components(&doc);
    walker.document(&mut doc);
    if walker.errors.is_empty() {
        Ok(Normalised {
            doc,
            version,
            dropped: walker.dropped,
        })
    } else {
        Err(walker.errors)
    }
}

struct Walker {
    v31: bool,
    errors: Vec<Note>,
    dropped: Vec<Note>,
    /// Component schema names a request reaches (directly or through `$ref`s).
    request_components: BTreeSet<String>,
}

fn note(pointer: &str, keyword: &str, reason: &str) -> Note {
    Note {
        pointer: pointer.to_string(),
        keyword: keyword.to_string(),
        reason: reason.to_string(),
    }
}

fn child(pointer: &str, token: &str) -> String {
    format!("{pointer}/{}", escape_token(token))
}

impl Walker {
    /// Document-level 3.1 keywords.
    fn top_level(&mut self, doc: &mut Value) {
        let Some(root) = doc.as_object_mut() else {
            return;
        };
        root.insert("openapi".into(), json!("3.0.3"));
        root.shift_remove("jsonSchemaDialect");
        root.shift_remove("webhooks");
        if let Some(info) = root.get_mut("info").and_then(Value::as_object_mut) {
            info.shift_remove("summary");
            if let Some(license) = info.get_mut("license").and_then(Value::as_object_mut) {
                license.shift_remove("identifier");
            }
        }
        if !root.contains_key("paths") {
            root.insert("paths".into(), json!({}));
        }
        // Path items kept in components (3.1) are inlined where `paths` refers to them.
        let path_items = root
            .get_mut("components")
            .and_then(Value::as_object_mut)
            .and_then(|c| c.shift_remove("pathItems"))
            .unwrap_or(Value::Null);
        if let Some(paths) = root.get_mut("paths").and_then(Value::as_object_mut) {
            for (path, item) in paths.iter_mut() {
                let target = item
                    .get("$ref")
                    .and_then(Value::as_str)
                    .and_then(|r| r.strip_prefix("#/components/pathItems/"))
                    .map(String::from);
                if let Some(name) = target {
                    match path_items.get(&name) {
                        Some(found) => *item = found.clone(),
                        None => self.errors.push(note(
                            &child("/paths", path),
                            "$ref",
                            &format!("refers to components/pathItems/{name}, which does not exist"),
                        )),
                    }
                }
            }
        }
        if let Some(schemes) = root
            .get("components")
            .and_then(|c| c.get("securitySchemes"))
            .and_then(Value::as_object)
        {
            for (name, scheme) in schemes {
                if scheme.get("type").and_then(Value::as_str) == Some("mutualTLS") {
                    self.errors.push(note(
                        &child("/components/securitySchemes", name),
                        "mutualTLS",
                        "client-certificate authentication has no OpenAPI 3.0 form and this client cannot present one",
                    ));
                }
            }
        }
    }

    /// Every schema position of the document.
    fn document(&mut self, doc: &mut Value) {
        let request_components = std::mem::take(&mut self.request_components);
        if let Some(schemas) = doc
            .pointer_mut("/components/schemas")
            .and_then(Value::as_object_mut)
        {
            for (name, schema) in schemas.iter_mut() {
                let side = if request_components.contains(name) {
                    Side::Request
                } else {
                    Side::Response
                };
                self.schema(schema, &child("/components/schemas", name), side);
            }
        }
        self.request_components = request_components;
        for (section, side) in [
            ("parameters", Side::Request),
            ("requestBodies", Side::Request),
            ("responses", Side::Response),
            ("headers", Side::Response),
        ] {
            let base = format!("/components/{section}");
            if let Some(entries) = doc.pointer_mut(&base).and_then(Value::as_object_mut) {
                for (name, entry) in entries.iter_mut() {
                    let at = child(&base, name);
                    match section {
                        "headers" => self.parameter(entry, &at, side),
                        "parameters" => self.parameter(entry, &at, side),
                        "requestBodies" => self.content(entry, &at, side),
                        _ => self.response(entry, &at),
                    }
                }
            }
        }
        if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
            for (path, item) in paths.iter_mut() {
                let at = child("/paths", path);
                let Some(item) = item.as_object_mut() else {
                    continue;
                };
                for (key, node) in item.iter_mut() {
                    let at = child(&at, key);
                    if key == "parameters" {
                        self.parameters(node, &at);
                    } else if super::inventory::METHODS.contains(&key.as_str()) {
                        self.operation(node, &at);
                    }
                }
            }
        }
    }

    fn operation(&mut self, op: &mut Value, at: &str) {
        let Some(op) = op.as_object_mut() else {
            return;
        };
        if let Some(params) = op.get_mut("parameters") {
            self.parameters(params, &child(at, "parameters"));
        }
        if let Some(body) = op.get_mut("requestBody") {
            self.content(body, &child(at, "requestBody"), Side::Request);
        }
        if let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) {
            for (status, response) in responses.iter_mut() {
                self.response(response, &child(&child(at, "responses"), status));
            }
        }
    }

    fn parameters(&mut self, params: &mut Value, at: &str) {
        if let Some(list) = params.as_array_mut() {
            for (i, p) in list.iter_mut().enumerate() {
                self.parameter(p, &format!("{at}/{i}"), Side::Request);
            }
        }
    }

    /// A parameter or header object (a `$ref` to one is left alone, siblings aside).
    fn parameter(&mut self, p: &mut Value, at: &str, side: Side) {
        if self.reference(p) {
            return;
        }
        if let Some(schema) = p.get_mut("schema") {
            self.schema(schema, &child(at, "schema"), side);
        }
        self.content(p, at, side);
    }

    fn response(&mut self, r: &mut Value, at: &str) {
        if self.reference(r) {
            return;
        }
        self.content(r, at, Side::Response);
        if let Some(headers) = r.get_mut("headers").and_then(Value::as_object_mut) {
            for (name, h) in headers.iter_mut() {
                self.parameter(h, &child(&child(at, "headers"), name), Side::Response);
            }
        }
    }

    /// The `content` map of a request body, response or parameter.
    fn content(&mut self, holder: &mut Value, at: &str, side: Side) {
        if self.reference(holder) {
            return;
        }
        let Some(content) = holder.get_mut("content").and_then(Value::as_object_mut) else {
            return;
        };
        for (media, m) in content.iter_mut() {
            if let Some(schema) = m.get_mut("schema") {
                self.schema(
                    schema,
                    &child(&child(&child(at, "content"), media), "schema"),
                    side,
                );
            }
        }
    }

    /// A non-schema `$ref`: 3.1 allows `summary`/`description` beside it, 3.0 does not.
    fn reference(&mut self, v: &mut Value) -> bool {
        let Some(obj) = v.as_object_mut() else {
            return false;
        };
        if !obj.contains_key("$ref") {
            return false;
        }
        if self.v31 {
            obj.shift_remove("summary");
            obj.shift_remove("description");
        }
        true
    }

    fn schema(&mut self, schema: &mut Value, at: &str, side: Side) {
        let Some(obj) = schema.as_object_mut() else {
            return;
        };
        if self.v31 {
            self.rewrite_as_30(obj, at, side);
        } else {
            self.subschemas(obj, at, side);
        }
        canonical_nullable(obj);
    }

    fn subschemas(&mut self, obj: &mut Map<String, Value>, at: &str, side: Side) {
        for key in ONE_SUBSCHEMA {
            if let Some(sub) = obj.get_mut(key) {
                self.schema(sub, &child(at, key), side);
            }
        }
        for key in MAP_OF_SUBSCHEMAS {
            if let Some(map) = obj.get_mut(key).and_then(Value::as_object_mut) {
                for (name, sub) in map.iter_mut() {
                    self.schema(sub, &child(&child(at, key), name), side);
                }
            }
        }
        for key in LIST_OF_SUBSCHEMAS {
            if let Some(list) = obj.get_mut(key).and_then(Value::as_array_mut) {
                for (i, sub) in list.iter_mut().enumerate() {
                    self.schema(sub, &format!("{}/{i}", child(at, key)), side);
                }
            }
        }
    }

    /// One 3.1 schema object, subschemas first.
    fn rewrite_as_30(&mut self, obj: &mut Map<String, Value>, at: &str, side: Side) {
        // `{type: "null"}` branches are consumed here, before the branches are walked.
        let null_branch = self.null_branches(obj, at);
        self.subschemas(obj, at, side);
        if null_branch && let Some(branch) = single_remaining_branch(obj) {
            // The branch's keywords first, then the parent's (its description, usually):
            // the order a 3.0 author writes, so even the served JSON text is the same.
            let parent = std::mem::replace(obj, branch);
            for (k, v) in parent {
                obj.entry(k).or_insert(v);
            }
        }

        for key in ANNOTATIONS {
            obj.shift_remove(key);
        }
        for key in ["$defs", "$dynamicRef"] {
            if obj.contains_key(key) {
                self.errors.push(note(
                    at,
                    key,
                    "OpenAPI 3.0 has no such keyword; move the definitions into components/schemas",
                ));
            }
        }
        for key in INEXPRESSIBLE {
            if !obj.contains_key(key) {
                continue;
            }
            match side {
                Side::Request => self.errors.push(note(
                    at,
                    key,
                    "OpenAPI 3.0 cannot say this, and it shapes what the client sends: dropping it would change the wire",
                )),
                Side::Response => {
                    obj.shift_remove(key);
                    self.dropped.push(note(
                        at,
                        key,
                        "dropped: OpenAPI 3.0 cannot say it; only responses use this schema, so its output schema is looser",
                    ));
                }
            }
        }
        if obj.get("contentEncoding").and_then(Value::as_str) == Some("base64") {
            obj.entry("format").or_insert(json!("byte"));
        }
        obj.shift_remove("contentEncoding");
        if let Some(examples) = obj.shift_remove("examples")
            && let Some(first) = examples.as_array().and_then(|e| e.first())
        {
            obj.entry("example").or_insert(first.clone());
        }
        if let Some(value) = obj.shift_remove("const") {
            if obj.contains_key("enum") {
                self.errors.push(note(
                    at,
                    "const",
                    "`const` beside `enum`: write one of them",
                ));
            }
            obj.insert("enum".into(), json!([value]));
        }
        exclusive_bound(obj, "exclusiveMinimum", "minimum", |bound, min| {
            bound >= min
        });
        exclusive_bound(obj, "exclusiveMaximum", "maximum", |bound, max| {
            bound <= max
        });

        let mut null_type = false;
        match obj.get("type").cloned() {
            Some(Value::Array(types)) => {
                let mut names: Vec<Value> =
                    types.iter().filter(|t| *t != "null").cloned().collect();
                null_type = types.len() > names.len();
                match names.len() {
                    0 => {
                        self.errors.push(note(
                            at,
                            "type",
                            "a schema that allows only `null` has no OpenAPI 3.0 form",
                        ));
                    }
                    1 => {
                        obj.insert("type".into(), names.remove(0));
                    }
                    _ => {
                        obj.shift_remove("type");
                        let branches: Vec<Value> =
                            names.into_iter().map(|t| json!({ "type": t })).collect();
                        obj.insert("anyOf".into(), Value::Array(branches));
                    }
                }
            }
            Some(Value::String(t)) if t == "null" => {
                self.errors.push(note(
                    at,
                    "type",
                    "a schema that allows only `null` has no OpenAPI 3.0 form",
                ));
            }
            _ => {}
        }
        // JSON Schema: an `enum` without `null` refuses `null` whatever `type` says; a
        // `{type: "null"}` branch admits it whatever the other branch's `enum` says.
        let refuses_null = obj
            .get("enum")
            .and_then(Value::as_array)
            .is_some_and(|values| !values.contains(&Value::Null));
        if null_branch || (null_type && !refuses_null) {
            obj.insert("nullable".into(), json!(true));
        }
        if obj.get("nullable") == Some(&json!(true))
            && let Some(values) = obj.get_mut("enum").and_then(Value::as_array_mut)
        {
            values.retain(|v| !v.is_null());
        }
    }

    /// Removes `{type: "null"}` branches from `anyOf`/`oneOf`; true when any was there.
    fn null_branches(&mut self, obj: &mut Map<String, Value>, at: &str) -> bool {
        let mut found = false;
        for key in ["anyOf", "oneOf"] {
            let Some(branches) = obj.get_mut(key).and_then(Value::as_array_mut) else {
                continue;
            };
            let before = branches.len();
            branches.retain(|b| !is_null_schema(b));
            if branches.len() == before {
                continue;
            }
            found = true;
            if branches.is_empty() {
                obj.shift_remove(key);
                self.errors.push(note(
                    &child(at, key),
                    "type",
                    "a schema that allows only `null` has no OpenAPI 3.0 form",
                ));
            }
        }
        found
    }
}

/// After the null branch left, an `anyOf`/`oneOf` of one branch is that branch: its
/// keywords join the parent's (a `$ref` stays a `$ref`, the parent's keywords its
/// siblings). Returns the branch, having removed the combinator from the parent.
fn single_remaining_branch(obj: &mut Map<String, Value>) -> Option<Map<String, Value>> {
    for key in ["anyOf", "oneOf"] {
        let single = obj
            .get(key)
            .and_then(Value::as_array)
            .filter(|b| b.len() == 1)
            .and_then(|b| b[0].as_object())
            .cloned();
        if let Some(branch) = single {
            // Merge only when nothing the parent says is contradicted.
            let clash = branch
                .iter()
                .any(|(k, v)| k != "description" && obj.get(k).is_some_and(|p| p != v));
            if !clash {
                obj.shift_remove(key);
                return Some(branch);
            }
        }
    }
    None
}

fn is_null_schema(v: &Value) -> bool {
    let Some(obj) = v.as_object() else {
        return false;
    };
    let null_type = match obj.get("type") {
        Some(Value::String(t)) => t == "null",
        Some(Value::Array(ts)) => ts.len() == 1 && ts[0] == "null",
        _ => false,
    };
    null_type
        && obj
            .keys()
            .all(|k| matches!(k.as_str(), "type" | "description" | "title"))
}

/// 3.1's numeric `exclusiveMinimum: n` as 3.0's `minimum: n, exclusiveMinimum: true`,
/// keeping whichever bound is stricter when both are given.
fn exclusive_bound(
    obj: &mut Map<String, Value>,
    exclusive: &str,
    inclusive: &str,
    exclusive_is_stricter: fn(f64, f64) -> bool,
) {
    let Some(bound) = obj.get(exclusive).filter(|v| v.is_number()).cloned() else {
        return;
    };
    obj.shift_remove(exclusive);
    let stricter = match (bound.as_f64(), obj.get(inclusive).and_then(Value::as_f64)) {
        (Some(b), Some(i)) => exclusive_is_stricter(b, i),
        _ => true,
    };
    if stricter {
        obj.insert(inclusive.into(), bound);
        obj.insert(exclusive.into(), json!(true));
    }
}

/// `nullable: false` is the default; `nullable: true` on a schema that constrains
/// nothing about the type already accepts `null`.
fn canonical_nullable(obj: &mut Map<String, Value>) {
    match obj.get("nullable") {
        Some(Value::Bool(false)) => {
            obj.shift_remove("nullable");
        }
        Some(Value::Bool(true)) => {
            let typed = ["type", "$ref", "allOf", "anyOf", "oneOf", "enum"]
                .iter()
                .any(|k| obj.contains_key(*k));
            if !typed {
                obj.shift_remove("nullable");
            }
        }
        _ => {}
    }
}

/// Names of the component schemas a request reaches: from every parameter and request
/// body (inline or in components), following `#/components/schemas/` refs.
fn request_components(doc: &Value) -> BTreeSet<String> {
    let mut roots = Vec::new();
    for section in ["parameters", "requestBodies"] {
        if let Some(v) = doc.pointer(&format!("/components/{section}")) {
            roots.push(v);
        }
    }
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        for item in paths.values() {
            let Some(item) = item.as_object() else {
                continue;
            };
            for (key, node) in item {
                if key == "parameters" {
                    roots.push(node);
                } else if super::inventory::METHODS.contains(&key.as_str()) {
                    for part in ["parameters", "requestBody"] {
                        if let Some(v) = node.get(part) {
                            roots.push(v);
                        }
                    }
                }
            }
        }
    }
    let schemas = doc.pointer("/components/schemas");
    let mut seen = BTreeSet::new();
    let mut queue: Vec<String> = Vec::new();
    for root in roots {
        collect_refs(root, &mut queue);
    }
    while let Some(name) = queue.pop() {
        if seen.insert(name.clone())
            && let Some(schema) = schemas.and_then(|s| s.get(&name))
        {
            collect_refs(schema, &mut queue);
        }
    }
    seen
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            if let Some(name) = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
            {
                out.push(name.replace("~1", "/").replace("~0", "~"));
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Normalises one schema placed in a request body (or a response with `side`).
    fn one(schema: Value, response: bool) -> Result<(Value, Vec<Note>), Vec<Note>> {
        let place = if response {
            json!({ "responses": { "200": { "description": "ok", "content": { "application/json": { "schema": schema } } } } })
        } else {
            json!({ "requestBody": { "content": { "application/json": { "schema": schema } } }, "responses": {} })
        };
        let doc = json!({ "openapi": "3.1.0", "info": { "title": "t", "version": "1" }, "paths": { "/x": { "post": place } } });
        let n = normalise(doc, Version::V31)?;
        let pointer = if response {
            "/paths/~1x/post/responses/200/content/application~1json/schema"
        } else {
            "/paths/~1x/post/requestBody/content/application~1json/schema"
        };
        Ok((
            n.doc.pointer(pointer).cloned().unwrap_or_default(),
            n.dropped,
        ))
    }

    #[test]
    fn each_3_1_schema_form_becomes_its_3_0_form() {
        let cases = [
            (
                json!({"type": ["string", "null"]}),
                json!({"type": "string", "nullable": true}),
            ),
            (
                json!({"type": ["null", "integer"], "format": "int64"}),
                json!({"type": "integer", "format": "int64", "nullable": true}),
            ),
            (json!({"type": ["string"]}), json!({"type": "string"})),
            (
                json!({"type": ["string", "null"], "enum": ["a", "b", null]}),
                json!({"type": "string", "enum": ["a", "b"], "nullable": true}),
            ),
            // JSON Schema: an enum without null refuses null, whatever type says.
            (
                json!({"type": ["string", "null"], "enum": ["a"]}),
                json!({"type": "string", "enum": ["a"]}),
            ),
            (
                json!({"type": ["string", "integer"]}),
                json!({"anyOf": [{"type": "string"}, {"type": "integer"}]}),
            ),
            (
                json!({"type": ["string", "integer", "null"]}),
                json!({"anyOf": [{"type": "string"}, {"type": "integer"}], "nullable": true}),
            ),
            (
                json!({"anyOf": [{"$ref": "#/components/schemas/A"}, {"type": "null"}], "description": "d"}),
                json!({"$ref": "#/components/schemas/A", "description": "d", "nullable": true}),
            ),
            (
                json!({"oneOf": [{"type": "null"}, {"type": "string", "maxLength": 3}]}),
                json!({"type": "string", "maxLength": 3, "nullable": true}),
            ),
            (
                json!({"anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}]}),
                json!({"anyOf": [{"type": "string"}, {"type": "integer"}], "nullable": true}),
            ),
            (
                json!({"anyOf": [{"enum": ["a"]}, {"type": "null"}]}),
                json!({"enum": ["a"], "nullable": true}),
            ),
            (
                json!({"const": "x", "type": "string"}),
                json!({"enum": ["x"], "type": "string"}),
            ),
            (
                json!({"type": "string", "examples": ["a", "b"]}),
                json!({"type": "string", "example": "a"}),
            ),
            (
                json!({"type": "string", "example": "z", "examples": ["a"]}),
                json!({"type": "string", "example": "z"}),
            ),
            (
                json!({"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 10}),
                json!({"type": "integer", "minimum": 0, "exclusiveMinimum": true, "maximum": 10, "exclusiveMaximum": true}),
            ),
            // The stricter of the two bounds wins.
            (
                json!({"type": "number", "minimum": 5, "exclusiveMinimum": 1}),
                json!({"type": "number", "minimum": 5}),
            ),
            (
                json!({"type": "number", "minimum": 1, "exclusiveMinimum": 5}),
                json!({"type": "number", "minimum": 5, "exclusiveMinimum": true}),
            ),
            // A 3.0-style boolean in a 3.1 document is left as it is.
            (
                json!({"type": "number", "minimum": 1, "exclusiveMinimum": true}),
                json!({"type": "number", "minimum": 1, "exclusiveMinimum": true}),
            ),
            (
                json!({"type": "string", "contentEncoding": "base64"}),
                json!({"type": "string", "format": "byte"}),
            ),
            (
                json!({"$ref": "#/components/schemas/A", "description": "kept: json_schema.rs applies it"}),
                json!({"$ref": "#/components/schemas/A", "description": "kept: json_schema.rs applies it"}),
            ),
            (
                json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "x", "$comment": "c", "type": "object", "contentMediaType": "text/plain"}),
                json!({"type": "object"}),
            ),
            (
                json!({"type": "object", "properties": {"a": {"type": ["string", "null"]}, "b": {"items": {"const": 1}}}}),
                json!({"type": "object", "properties": {"a": {"type": "string", "nullable": true}, "b": {"items": {"enum": [1]}}}}),
            ),
            (
                json!({"description": "any JSON"}),
                json!({"description": "any JSON"}),
            ),
        ];
        for (input, expected) in cases {
            let (got, dropped) = one(input.clone(), false).unwrap();
            assert_eq!(got, expected, "{input}");
            assert!(dropped.is_empty());
        }
    }

    #[test]
    fn inexpressible_keywords_in_a_request_are_errors_naming_pointer_and_keyword() {
        for keyword in INEXPRESSIBLE {
            let schema = json!({ "type": "object", "properties": { "p": { "type": "array", keyword: {} } } });
            let errors = one(schema, false).unwrap_err();
            assert_eq!(
                errors,
                [Note {
                    pointer: "/paths/~1x/post/requestBody/content/application~1json/schema/properties/p".into(),
                    keyword: keyword.into(),
                    reason: "OpenAPI 3.0 cannot say this, and it shapes what the client sends: dropping it would change the wire".into(),
                }],
                "{keyword}"
            );
        }
        for schema in [
            json!({"type": "null"}),
            json!({"type": ["null"]}),
            json!({"anyOf": [{"type": "null"}]}),
            json!({"$defs": {"a": {}}}),
            json!({"$dynamicRef": "#meta"}),
        ] {
            assert!(one(schema.clone(), true).is_err(), "{schema}");
        }
    }

    #[test]
    fn inexpressible_keywords_only_responses_use_are_dropped_with_a_note() {
        let (got, dropped) = one(
            json!({"type": "array", "prefixItems": [{"type": "string"}]}),
            true,
        )
        .unwrap();
        assert_eq!(got, json!({"type": "array"}));
        assert_eq!(dropped.len(), 1);
        assert_eq!(dropped[0].keyword, "prefixItems");
        assert!(dropped[0].reason.starts_with("dropped"));
    }

    #[test]
    fn a_component_a_request_reaches_through_refs_counts_as_request_side() {
        let doc = json!({
            "openapi": "3.1.0", "info": {"title": "t", "version": "1"},
            "paths": {"/x": {"post": {
                "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Outer"}}}},
                "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Reply"}}}}}
            }}},
            "components": {"schemas": {
                "Outer": {"type": "object", "properties": {"inner": {"$ref": "#/components/schemas/Inner"}}},
                "Inner": {"type": "object", "dependentRequired": {"a": ["b"]}},
                "Reply": {"type": "object", "unevaluatedProperties": false}
            }}
        });
        let errors = normalise(doc, Version::V31).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].pointer, "/components/schemas/Inner");
        assert_eq!(errors[0].keyword, "dependentRequired");
    }

    #[test]
    fn document_level_3_1_keywords_go_and_path_items_are_inlined() {
        let doc = json!({
            "openapi": "3.1.0",
            "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
            "info": {"title": "t", "version": "1", "summary": "s", "license": {"name": "MIT", "identifier": "MIT"}},
            "webhooks": {"ping": {"post": {"responses": {"200": {"description": "ok"}}}}},
            "paths": {"/x": {"$ref": "#/components/pathItems/X"}},
            "components": {
                "pathItems": {"X": {"get": {"operationId": "get_x", "parameters": [{"$ref": "#/components/parameters/P", "description": "overrides"}], "responses": {}}}},
                "parameters": {"P": {"name": "p", "in": "query", "schema": {"type": ["string", "null"]}}}
            }
        });
        let n = normalise(doc, Version::V31).unwrap();
        assert_eq!(
            n.doc,
            json!({
                "openapi": "3.0.3",
                "info": {"title": "t", "version": "1", "license": {"name": "MIT"}},
                "paths": {"/x": {"get": {"operationId": "get_x", "parameters": [{"$ref": "#/components/parameters/P"}], "responses": {}}}},
                "components": {
                    "parameters": {"P": {"name": "p", "in": "query", "schema": {"type": "string", "nullable": true}}}
                }
            })
        );
        let no_paths = json!({"openapi": "3.1.1", "info": {"title": "t", "version": "1"}});
        assert_eq!(
            normalise(no_paths, Version::V31).unwrap().doc["paths"],
            json!({})
        );
        let mtls = json!({"openapi": "3.1.0", "info": {}, "paths": {}, "components": {"securitySchemes": {"m": {"type": "mutualTLS"}}}});
        assert_eq!(
            normalise(mtls, Version::V31).unwrap_err()[0].keyword,
            "mutualTLS"
        );
    }

    #[test]
    fn a_3_0_document_is_kept_apart_from_its_no_op_nullables() {
        let doc = json!({
            "openapi": "3.0.3", "info": {}, "paths": {},
            "components": {"schemas": {"A": {"type": "object", "properties": {
                "any": {"nullable": true, "description": "any JSON"},
                "s": {"type": "string", "nullable": true},
                "r": {"$ref": "#/components/schemas/A", "nullable": true},
                "f": {"type": "string", "nullable": false},
                "c": {"const": 1, "examples": [1]}
            }}}}
        });
        let n = normalise(doc, Version::V30).unwrap();
        assert_eq!(
            n.doc["components"]["schemas"]["A"]["properties"],
            json!({
                "any": {"description": "any JSON"},
                "s": {"type": "string", "nullable": true},
                "r": {"$ref": "#/components/schemas/A", "nullable": true},
                "f": {"type": "string"},
                "c": {"const": 1, "examples": [1]}
            })
        );
    }
}
