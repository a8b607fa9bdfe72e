//! Where a finding is, in the files a maintainer edits: JSON pointers resolved to lines of
//! the YAML or JSON source, so GitHub annotations can carry `file=` and `line=`.
//!
//! The specs are parsed into `serde_json::Value`s, which keep no positions; the source text
//! is walked once more with saphyr-parser's event parser (YAML 1.2, so JSON too), recording
//! the line of every node by its JSON pointer. A finding's logical pointer (e.g.
//! `/requestBody/name` inside an operation) is first turned into a document pointer by
//! following the operation's body, parameters, response and `$ref`s.

use crate::spec::inventory::escape_token;
use saphyr_parser::{Event, Parser};
use serde_json::Value;
use std::collections::HashMap;

/// The 1-based line of every node of a YAML or JSON document, by JSON pointer. A mapping
/// value is on its key's line; a sequence item on its own first line.
#[derive(Debug, Clone, Default)]
pub struct LineIndex {
    lines: HashMap<String, usize>,
}

/// A container being walked; `pointer` is `None` under a complex (non-scalar) key, which
/// no JSON pointer can name.
enum Frame {
    Map {
        pointer: Option<String>,
        /// The key just read (its text, `None` for a complex key, and its line).
        key: Option<(Option<String>, usize)>,
    },
    Seq {
        pointer: Option<String>,
        next: usize,
    },
}

impl LineIndex {
    /// Indexes `text`. A syntax error stops the walk: what came before it stays indexed
    /// (the document was already parsed once, so this only matters for odd inputs).
    pub fn new(text: &str) -> Self {
        let mut lines = HashMap::new();
        let mut stack: Vec<Frame> = Vec::new();
        for item in Parser::new_from_str(text) {
            let Ok((event, span)) = item else { break };
            let line = span.start.line();
            let is_node = matches!(
                event,
                Event::Scalar(..)
                    | Event::Alias(_)
                    | Event::MappingStart(..)
                    | Event::SequenceStart(..)
            );
            if is_node {
                // Where this node sits: a key, a mapping value, a sequence item or the root.
                let pointer = match stack.last_mut() {
                    None => Some((String::new(), line)),
                    Some(Frame::Map { pointer, key }) => match key.take() {
                        None => {
                            let name = match &event {
                                Event::Scalar(value, ..) => Some(value.to_string()),
                                _ => None,
                            };
                            *key = Some((name, line));
                            if let Event::Scalar(..) | Event::Alias(_) = event {
                                continue;
                            }
                            // A complex key: walk its insides without naming them.
                            None
                        }
                        Some((name, key_line)) => match (pointer.as_ref(), name) {
                            (Some(p), Some(name)) => {
                                Some((format!("{p}/{}", escape_token(&name)), key_line))
                            }
                            _ => None,
                        },
                    },
                    Some(Frame::Seq { pointer, next }) => {
                        let index = *next;
                        *next += 1;
                        pointer.as_ref().map(|p| (format!("{p}/{index}"), line))
                    }
                };
                if let Some((p, at)) = &pointer {
                    lines.entry(p.clone()).or_insert(*at);
                }
                let pointer = pointer.map(|(p, _)| p);
                match event {
                    Event::MappingStart(..) => stack.push(Frame::Map { pointer, key: None }),
                    Event::SequenceStart(..) => stack.push(Frame::Seq { pointer, next: 0 }),
                    _ => {}
                }
            } else {
                match event {
                    Event::MappingEnd | Event::SequenceEnd => {
                        stack.pop();
                    }
                    // Only the first document counts, as for the parsed value.
                    Event::DocumentEnd | Event::StreamEnd => break,
                    _ => {}
                }
            }
        }
        LineIndex { lines }
    }

    /// The line of `pointer`, or of its nearest indexed ancestor (the root excluded: a
    /// pointer that matches nothing has no line).
    pub fn line(&self, pointer: &str) -> Option<usize> {
        let mut at = pointer;
        loop {
            if let Some(line) = self.lines.get(at) {
                return Some(*line);
            }
            match at.rsplit_once('/') {
                Some((parent, _)) if !parent.is_empty() => at = parent,
                _ => return None,
            }
        }
    }
}

/// A file the report points into: its path as the annotation names it, and its lines.
#[derive(Debug, Clone, Default)]
pub struct FileLines {
    /// The path annotations name: as given on the command line, or relative to the
    /// repository root for the vendored spec and the embedded overrides.
    pub file: String,
    /// Its lines by JSON pointer.
    pub lines: LineIndex,
}

impl FileLines {
    /// Indexes `text`, to be named `file`.
    pub fn new(file: impl Into<String>, text: &str) -> Self {
        FileLines {
            file: file.into(),
            lines: LineIndex::new(text),
        }
    }

    /// The location of `pointer` in this file.
    pub fn at(&self, pointer: &str) -> FileLine {
        FileLine {
            file: self.file.clone(),
            line: self.lines.line(pointer),
        }
    }
}

/// Where a finding is: a file and, when known, a 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileLine {
    /// The file, as the annotation names it.
    pub file: String,
    /// The line, when the pointer could be found in the source.
    pub line: Option<usize>,
}

fn unescape_token(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// Follows `$ref`s from `node` (at `at`), returning where it ends and the node there.
fn follow<'a>(doc: &'a Value, mut at: String, mut node: &'a Value) -> (String, &'a Value) {
    for _ in 0..16 {
        let Some(target) = node
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix('#'))
        else {
            break;
        };
        let Some(next) = doc.pointer(target) else {
            break;
        };
        at = target.to_string();
        node = next;
    }
    (at, node)
}

/// Walks `segments` (property names, `items`, `additionalProperties`, `anyOf/N`...) down
/// the schema `schema` at `at`.
fn walk_schema(doc: &Value, at: String, schema: &Value, segments: &[String]) -> (String, bool) {
    let (mut at, mut schema) = follow(doc, at, schema);
    let mut i = 0;
    while let Some(segment) = segments.get(i) {
        let (next_at, next, step) = if let Some(child) = schema
            .get("properties")
            .and_then(|p| p.get(segment.as_str()))
        {
            (
                format!("{at}/properties/{}", escape_token(segment)),
                child,
                1,
            )
        } else if let ("items" | "additionalProperties", Some(child @ Value::Object(_))) =
            (segment.as_str(), schema.get(segment.as_str()))
        {
            (format!("{at}/{segment}"), child, 1)
        } else if let ("anyOf" | "oneOf" | "allOf", Some(index), Some(Value::Array(branches))) = (
            segment.as_str(),
            segments.get(i + 1).and_then(|s| s.parse::<usize>().ok()),
            schema.get(segment.as_str()),
        ) && let Some(child) = branches.get(index)
        {
            (format!("{at}/{segment}/{index}"), child, 2)
        } else {
            return (at, false);
        };
        (at, schema) = follow(doc, next_at, next);
        i += step;
    }
    (at, true)
}

const JSON_SCHEMA: &str = "/content/application~1json/schema";

/// Resolves a change's logical pointer (as the report gives it: `/requestBody/...`,
/// `/parameters/{in}/{name}/...`, `/response/...`, `/operationId`...) under the operation
/// at `op_pointer` to a pointer into `doc`: the deepest node it can follow, `$ref`s
/// included. The flag says whether every segment was followed (a removed field is not:
/// the pointer then names the schema that lost it).
pub fn document_pointer(doc: &Value, op_pointer: &str, logical: &str) -> (String, bool) {
    let segments: Vec<String> = logical.split('/').skip(1).map(unescape_token).collect();
    let unresolved = || (op_pointer.to_string(), false);
    let Some(op) = doc.pointer(op_pointer) else {
        return unresolved();
    };
    let Some((first, rest)) = segments.split_first() else {
        return (op_pointer.to_string(), true);
    };
    match first.as_str() {
        "requestBody" => {
            let Some(body) = op.get("requestBody") else {
                return unresolved();
            };
            let (at, body) = follow(doc, format!("{op_pointer}/requestBody"), body);
            match body.pointer(JSON_SCHEMA) {
                Some(schema) => walk_schema(doc, format!("{at}{JSON_SCHEMA}"), schema, rest),
                None => (at, rest.is_empty()),
            }
        }
        "response" => {
            let Some((status, response)) = op
                .get("responses")
                .and_then(Value::as_object)
                .and_then(|r| r.iter().find(|(k, _)| k.starts_with('2')))
            else {
                return unresolved();
            };
            let at = format!("{op_pointer}/responses/{}", escape_token(status));
            let (at, response) = follow(doc, at, response);
            match response.pointer(JSON_SCHEMA) {
                Some(schema) => walk_schema(doc, format!("{at}{JSON_SCHEMA}"), schema, rest),
                None => (at, rest.is_empty()),
            }
        }
        "parameters" => {
            let (Some(location), Some(name)) = (rest.first(), rest.get(1)) else {
                return unresolved();
            };
            // The operation's own parameters win over the path item's shared ones.
            let item = op_pointer
                .rsplit_once('/')
                .map(|(p, _)| p)
                .unwrap_or_default();
            for owner in [op_pointer, item] {
                let list = format!("{owner}/parameters");
                let Some(Value::Array(params)) = doc.pointer(&list) else {
                    continue;
                };
                for (i, param) in params.iter().enumerate() {
                    let (at, param) = follow(doc, format!("{list}/{i}"), param);
                    let matches = param.get("in").and_then(Value::as_str) == Some(location)
                        && param.get("name").and_then(Value::as_str) == Some(name);
                    if matches {
                        return match param.get("schema") {
                            Some(schema) => {
                                walk_schema(doc, format!("{at}/schema"), schema, &rest[2..])
                            }
                            None => (at, rest.len() == 2),
                        };
                    }
                }
            }
            unresolved()
        }
        "operationId" | "tags" | "responses" if op.get(first.as_str()).is_some() => {
            (format!("{op_pointer}/{first}"), rest.is_empty())
        }
        _ => unresolved(),
    }
}

/// Resolves a tool change's pointer (`/input/...`, `/output/...`) under the operation the
/// tool binds: an argument that is a body field lands on that field, an output field on
/// the response's, and a `removed` one on the schema that lost it; anything else (path
/// and query arguments) on the operation.
pub fn tool_pointer(doc: &Value, op_pointer: &str, logical: &str, removed: bool) -> String {
    let mapped = if let Some(rest) = logical.strip_prefix("/input/") {
        format!("/requestBody/{rest}")
    } else if let Some(rest) = logical.strip_prefix("/output") {
        format!("/response{rest}")
    } else {
        return op_pointer.to_string();
    };
    let mapped = match (removed, mapped.rsplit_once('/')) {
        (true, Some((parent, _))) => parent.to_string(),
        _ => mapped,
    };
    match document_pointer(doc, op_pointer, &mapped) {
        (at, true) => at,
        _ => op_pointer.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const YAML: &str = "\
openapi: 3.0.3
paths:
  /secrets/{id}:
    parameters:
      - name: id
        in: path
        required: true
        schema: {type: string}
    put:
      operationId: set_secret
      requestBody:
        content:
          application/json:
            schema:
              $ref: '#/components/schemas/Secret'
      responses:
        '200':
          description: ok
components:
  schemas:
    Secret:
      type: object
      properties:
        key:
          type: string
        tags:
          type: array
          items:
            type: string
? [complex, key]
: ignored
";

    #[test]
    fn every_node_gets_the_line_of_its_key_or_item() {
        let index = LineIndex::new(YAML);
        assert_eq!(index.line("/openapi"), Some(1));
        assert_eq!(index.line("/paths/~1secrets~1{id}"), Some(3));
        assert_eq!(index.line("/paths/~1secrets~1{id}/parameters/0"), Some(5));
        assert_eq!(
            index.line("/paths/~1secrets~1{id}/parameters/0/in"),
            Some(6)
        );
        assert_eq!(
            index.line("/paths/~1secrets~1{id}/parameters/0/schema/type"),
            Some(8),
            "flow mappings too"
        );
        assert_eq!(index.line("/paths/~1secrets~1{id}/put"), Some(9));
        assert_eq!(
            index.line("/paths/~1secrets~1{id}/put/responses/200"),
            Some(17)
        );
        assert_eq!(
            index.line("/components/schemas/Secret/properties/key"),
            Some(24)
        );
        assert_eq!(
            index.line("/components/schemas/Secret/properties/tags/items/type"),
            Some(29)
        );
    }

    #[test]
    fn a_missing_pointer_falls_back_to_its_nearest_ancestor_but_never_the_root() {
        let index = LineIndex::new(YAML);
        assert_eq!(
            index.line("/components/schemas/Secret/properties/name"),
            Some(23),
            "the properties of Secret"
        );
        assert_eq!(index.line("/nothing/here"), None);
        assert_eq!(index.line("/ignored"), None, "a complex key names nothing");
    }

    #[test]
    fn json_is_indexed_like_yaml() {
        let text = "{\n  \"a\": {\n    \"b/c\": [\n      1,\n      {\"d\": 2}\n    ]\n  }\n}\n";
        let index = LineIndex::new(text);
        assert_eq!(index.line("/a"), Some(2));
        assert_eq!(index.line("/a/b~1c"), Some(3));
        assert_eq!(index.line("/a/b~1c/1"), Some(5));
        assert_eq!(index.line("/a/b~1c/1/d"), Some(5));
    }

    fn doc() -> Value {
        // The complex key has no JSON form.
        yaml_serde::from_str(YAML.split("? [").next().unwrap()).unwrap()
    }

    #[test]
    fn logical_pointers_follow_bodies_parameters_and_refs() {
        let doc = doc();
        let op = "/paths/~1secrets~1{id}/put";
        assert_eq!(
            document_pointer(&doc, op, "/requestBody/key"),
            (
                "/components/schemas/Secret/properties/key".to_string(),
                true
            )
        );
        assert_eq!(
            document_pointer(&doc, op, "/requestBody/tags/items"),
            (
                "/components/schemas/Secret/properties/tags/items".to_string(),
                true
            )
        );
        assert_eq!(
            document_pointer(&doc, op, "/requestBody/name"),
            ("/components/schemas/Secret".to_string(), false),
            "a removed field: the schema that lost it"
        );
        assert_eq!(
            document_pointer(&doc, op, "/parameters/path/id"),
            (
                "/paths/~1secrets~1{id}/parameters/0/schema".to_string(),
                true
            )
        );
        assert_eq!(
            document_pointer(&doc, op, "/responses"),
            (format!("{op}/responses"), true)
        );
        assert_eq!(document_pointer(&doc, op, "/path"), (op.to_string(), false));
        assert_eq!(
            document_pointer(&doc, "/paths/none/get", "/requestBody"),
            ("/paths/none/get".to_string(), false)
        );
    }

    #[test]
    fn tool_arguments_land_on_body_fields_or_the_operation() {
        let doc = doc();
        let op = "/paths/~1secrets~1{id}/put";
        assert_eq!(
            tool_pointer(&doc, op, "/input/key", false),
            "/components/schemas/Secret/properties/key"
        );
        assert_eq!(
            tool_pointer(&doc, op, "/input/gone", true),
            "/components/schemas/Secret",
            "a removed argument: the body schema that lost it"
        );
        assert_eq!(tool_pointer(&doc, op, "/input/secret_id", false), op);
        assert_eq!(tool_pointer(&doc, op, "/", false), op);
        let cyclic = json!({"paths": {"/x": {"get": {"requestBody": {"$ref": "#/paths/~1x/get/requestBody"}}}}});
        assert!(
            !document_pointer(&cyclic, "/paths/~1x/get", "/requestBody/a").1,
            "a $ref cycle ends"
        );
    }

    /// A finding about one of two query parameters points at that parameter's own line.
    #[test]
    fn a_parameter_finding_points_at_the_parameter_with_that_name() {
        let doc = json!({
            "openapi": "3.0.3",
            "paths": { "/things": { "get": {
                "operationId": "listThings",
                "parameters": [
                    { "name": "limit", "in": "query", "schema": { "type": "integer" } },
                    { "name": "cursor", "in": "query", "schema": { "type": "string" } },
                    { "name": "cursor", "in": "header", "schema": { "type": "string" } },
                ],
                "responses": { "200": { "description": "ok" } }
            } } }
        });
        let op = "/paths/~1things/get";
        assert_eq!(
            document_pointer(&doc, op, "/parameters/query/cursor"),
            (format!("{op}/parameters/1/schema"), true)
        );
        assert_eq!(
            document_pointer(&doc, op, "/parameters/header/cursor"),
            (format!("{op}/parameters/2/schema"), true)
        );
    }
}
