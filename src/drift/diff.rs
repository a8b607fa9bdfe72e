//! Structural comparison of two OpenAPI documents, operation by operation, with each
//! change classified breaking or not for a client of this server.

use crate::spec::inventory::{self, Endpoint};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Declares [`Kind`] with each variant's stable name (the report's `kind`). A variant
/// may carry what decides whether it breaks a caller (the side of the wire, and for a
/// constraint whether it tightens); its name is the same whatever it carries.
macro_rules! kinds {
    ($($(#[$doc:meta])* $variant:ident $(($($carried:ty),+))? = $name:literal,)*) => {
        /// What changed: one stable name per kind, as the report spells it, and whether it
        /// can break a caller of this server ([`Kind::breaking`]).
        ///
        /// Where that depends on more than what changed, the kind carries it: the side
        /// of the wire (a new `null` loosens a request but can break a response reader)
        /// and, for a changed constraint, whether it refuses values the old one accepted
        /// (a higher maximum accepts more).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Kind {
            $($(#[$doc])* $variant $(($($carried),+))?,)*
        }

        impl Kind {
            /// The stable name (`snake_case`), as in every format of the report.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Kind::$variant { .. } => $name,)*
                }
            }
        }
    };
}

kinds! {
    /// The `operationId` changed.
    OperationIdChanged = "operation_id_changed",
    /// The path template changed.
    PathChanged = "path_changed",
    /// The first tag changed.
    TagChanged = "tag_changed",
    /// A parameter is gone (or renamed).
    ParameterRemoved = "parameter_removed",
    /// An optional parameter was added.
    ParameterAdded = "parameter_added",
    /// A required parameter was added.
    RequiredParameterAdded = "required_parameter_added",
    /// An optional parameter became required.
    ParameterNowRequired = "parameter_now_required",
    /// The operation now takes a JSON body.
    RequestBodyAdded = "request_body_added",
    /// The operation no longer takes a JSON body.
    RequestBodyRemoved = "request_body_removed",
    /// The success response now has a JSON body.
    ResponseBodyAdded = "response_body_added",
    /// The success response no longer has a JSON body.
    ResponseBodyRemoved = "response_body_removed",
    /// The success status changed.
    SuccessStatusChanged = "success_status_changed",
    /// A schema's type changed.
    TypeChanged = "type_changed",
    /// `null` is no longer allowed.
    NullableRemoved = "nullable_removed",
    /// `null` is now allowed: breaking in a response (a reader may not expect it), not
    /// in a request.
    NullableAdded(Direction) = "nullable_added",
    /// An enum lost a value.
    EnumValueRemoved = "enum_value_removed",
    /// An enum gained a value.
    EnumValueAdded = "enum_value_added",
    /// Values are now restricted to an enum: breaking in a request, not in a response.
    EnumAdded(Direction) = "enum_added",
    /// A description changed.
    DescriptionChanged = "description_changed",
    /// A constraint (`minimum`, `pattern`...) was added or changed: breaking in a
    /// request when it is tighter, never in a response.
    ConstraintChanged(Direction, Strictness) = "constraint_changed",
    /// A constraint was removed.
    ConstraintRemoved = "constraint_removed",
    /// Unknown fields are now refused.
    AdditionalPropertiesClosed = "additional_properties_closed",
    /// A field is gone (and no field with its schema replaced it).
    FieldRemoved = "field_removed",
    /// An optional field was added.
    FieldAdded = "field_added",
    /// A field was added to a `required` list that did not have it.
    RequiredFieldAdded = "required_field_added",
    /// An existing optional field became required.
    FieldNowRequired = "field_now_required",
    /// A response field may now be absent.
    FieldNowOptional = "field_now_optional",
    /// A field has a new name and otherwise the same schema.
    FieldRenamed = "field_renamed",
    /// A combinator has a different number of branches.
    CombinatorChanged = "combinator_changed",
    /// A combinator rule was added: breaking in a request, not in a response.
    CombinatorAdded(Direction) = "combinator_added",
    /// A combinator rule was removed: breaking in a response, not in a request.
    CombinatorRemoved(Direction) = "combinator_removed",
    /// A tool's operation is not in the candidate.
    OperationMissing = "operation_missing",
    /// A tool's row can no longer be derived from the candidate.
    BindingBroken = "binding_broken",
    /// A tool argument is gone.
    ArgumentRemoved = "argument_removed",
    /// An optional tool argument was added.
    ArgumentAdded = "argument_added",
    /// A required tool argument was added.
    RequiredArgumentAdded = "required_argument_added",
    /// An optional tool argument became required.
    ArgumentNowRequired = "argument_now_required",
    /// A tool argument has a new name and otherwise the same schema.
    ArgumentRenamed = "argument_renamed",
    /// A tool argument is sent elsewhere on the wire.
    ArgumentMoved = "argument_moved",
    /// The tool gained an `outputSchema`.
    OutputSchemaAdded = "output_schema_added",
    /// The tool lost its `outputSchema`.
    OutputSchemaRemoved = "output_schema_removed",
}

impl Kind {
    /// Whether a change of this kind can break a caller of this server built against
    /// the old shape (an override that already serves the new shape aside: see
    /// [`crate::drift::ChangeFinding::breaking`]).
    pub const fn breaking(self) -> bool {
        use Direction::{Request, Response};
        match self {
            Kind::NullableAdded(side) | Kind::CombinatorRemoved(side) => {
                matches!(side, Response)
            }
            Kind::EnumAdded(side) | Kind::CombinatorAdded(side) => matches!(side, Request),
            Kind::ConstraintChanged(side, strictness) => {
                matches!((side, strictness), (Request, Strictness::Tighter))
            }
            Kind::OperationIdChanged
            | Kind::PathChanged
            | Kind::ParameterRemoved
            | Kind::RequiredParameterAdded
            | Kind::ParameterNowRequired
            | Kind::RequestBodyAdded
            | Kind::RequestBodyRemoved
            | Kind::ResponseBodyRemoved
            | Kind::SuccessStatusChanged
            | Kind::TypeChanged
            | Kind::NullableRemoved
            | Kind::EnumValueRemoved
            | Kind::AdditionalPropertiesClosed
            | Kind::FieldRemoved
            | Kind::RequiredFieldAdded
            | Kind::FieldNowRequired
            | Kind::FieldNowOptional
            | Kind::FieldRenamed
            | Kind::CombinatorChanged
            | Kind::OperationMissing
            | Kind::BindingBroken
            | Kind::ArgumentRemoved
            | Kind::RequiredArgumentAdded
            | Kind::ArgumentNowRequired
            | Kind::ArgumentRenamed
            | Kind::ArgumentMoved
            | Kind::OutputSchemaRemoved => true,
            Kind::TagChanged
            | Kind::ParameterAdded
            | Kind::ResponseBodyAdded
            | Kind::EnumValueAdded
            | Kind::DescriptionChanged
            | Kind::ConstraintRemoved
            | Kind::FieldAdded
            | Kind::ArgumentAdded
            | Kind::OutputSchemaAdded => false,
        }
    }

    /// Whether several changes of this kind can share one pointer (enum values,
    /// constraints): their detail then tells them apart.
    pub fn shares_pointers(self) -> bool {
        matches!(
            self,
            Kind::EnumValueRemoved
                | Kind::EnumValueAdded
                | Kind::ConstraintChanged(..)
                | Kind::ConstraintRemoved
        )
    }

    /// The name this kind has for a field directly under a tool's `/input`: a tool
    /// argument.
    pub fn as_argument(self) -> Kind {
        match self {
            Kind::FieldRemoved => Kind::ArgumentRemoved,
            Kind::FieldAdded => Kind::ArgumentAdded,
            Kind::RequiredFieldAdded => Kind::RequiredArgumentAdded,
            Kind::FieldNowRequired => Kind::ArgumentNowRequired,
            Kind::FieldRenamed => Kind::ArgumentRenamed,
            other => other,
        }
    }

    /// The kind a body field's change has, for the same change seen as a parameter or a
    /// tool argument: what makes the views of one change comparable.
    pub fn as_field(self) -> Kind {
        match self {
            Kind::ArgumentRemoved | Kind::ParameterRemoved => Kind::FieldRemoved,
            Kind::ArgumentAdded | Kind::ParameterAdded => Kind::FieldAdded,
            Kind::RequiredArgumentAdded | Kind::RequiredParameterAdded => Kind::RequiredFieldAdded,
            Kind::ArgumentNowRequired | Kind::ParameterNowRequired => Kind::FieldNowRequired,
            Kind::ArgumentRenamed => Kind::FieldRenamed,
            other => other,
        }
    }

    /// Whether the change names something no longer there (it is located at its parent).
    pub fn removes(self) -> bool {
        matches!(self, Kind::FieldRemoved | Kind::ArgumentRemoved)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// One difference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// What kind of change (and so whether it is breaking).
    pub kind: Kind,
    /// Where: a logical JSON pointer inside the operation or tool.
    pub pointer: String,
    /// What changed, for people.
    pub detail: String,
}

/// Which side of the wire a schema describes: requests get stricter, responses looser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Sent by this server.
    Request,
    /// Received by this server.
    Response,
}

/// Whether a changed constraint may refuse a value the old one accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Strictness {
    /// It may: a new constraint, a higher minimum, a lower maximum, another pattern.
    Tighter,
    /// It accepts every value the old one did: a lower minimum, a higher maximum.
    NotTighter,
}

/// The key operations are matched by: method plus path with parameter names erased.
pub fn match_key(op: &Endpoint) -> String {
    let mut normalized = String::new();
    let mut in_param = false;
    for c in op.path.chars() {
        match c {
            '{' => {
                in_param = true;
                normalized.push_str("{}");
            }
            '}' => in_param = false,
            _ if in_param => {}
            _ => normalized.push(c),
        }
    }
    format!("{} {}", op.method, normalized)
}

/// Compares one operation of `old_doc` with its match in `new_doc`.
pub fn diff_operation(
    old_doc: &Value,
    old: &Endpoint,
    new_doc: &Value,
    new: &Endpoint,
) -> Vec<Change> {
    let mut out = Vec::new();
    let (Some(o), Some(n)) = (old_doc.pointer(&old.pointer), new_doc.pointer(&new.pointer)) else {
        return out;
    };
    if old.id != new.id {
        out.push(Change {
            kind: Kind::OperationIdChanged,
            pointer: "/operationId".into(),
            detail: format!(
                "`{}` is now `{}`: the generated method and the tool binding are keyed on it",
                old.id, new.id
            ),
        });
    }
    if old.path != new.path {
        out.push(Change {
            kind: Kind::PathChanged,
            pointer: "/path".into(),
            detail: format!("`{}` is now `{}`", old.path, new.path),
        });
    }
    if old.tag != new.tag {
        out.push(Change {
            kind: Kind::TagChanged,
            pointer: "/tags".into(),
            detail: format!("`{}` is now `{}`", old.tag, new.tag),
        });
    }
    diff_parameters(old_doc, o, &old.pointer, new_doc, n, &new.pointer, &mut out);
    diff_body(old_doc, o, new_doc, n, &mut out);
    if old.success_status != new.success_status {
        out.push(Change {
            kind: Kind::SuccessStatusChanged,
            pointer: "/responses".into(),
            detail: format!(
                "success status {} is now {}",
                old.success_status, new.success_status
            ),
        });
    }
    let old_resp = success_schema(old_doc, o);
    let new_resp = success_schema(new_doc, n);
    match (old_resp, new_resp) {
        (Some(a), Some(b)) => {
            let mut ctx = SchemaDiff::new(old_doc, new_doc, Direction::Response);
            ctx.diff(a, b, "/response".into(), &mut out);
        }
        (Some(_), None) => out.push(Change {
            kind: Kind::ResponseBodyRemoved,
            pointer: "/response".into(),
            detail: "the success response no longer has a JSON body".into(),
        }),
        (None, Some(_)) => out.push(Change {
            kind: Kind::ResponseBodyAdded,
            pointer: "/response".into(),
            detail: "the success response now has a JSON body".into(),
        }),
        (None, None) => {}
    }
    out
}

fn params_of<'a>(
    doc: &'a Value,
    op_pointer: &str,
    node: &'a Value,
) -> BTreeMap<(String, String), &'a Value> {
    inventory::parameters(doc, op_pointer, node)
        .into_iter()
        .map(|p| {
            let key = (
                p.get("in")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                p.get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            );
            (key, p)
        })
        .collect()
}

fn is_required(p: &Value) -> bool {
    p.get("required").and_then(Value::as_bool).unwrap_or(false)
}

fn diff_parameters(
    old_doc: &Value,
    o: &Value,
    old_ptr: &str,
    new_doc: &Value,
    n: &Value,
    new_ptr: &str,
    out: &mut Vec<Change>,
) {
    let old = params_of(old_doc, old_ptr, o);
    let new = params_of(new_doc, new_ptr, n);
    for ((loc, name), p) in &old {
        let pointer = format!("/parameters/{loc}/{name}");
        match new.get(&(loc.clone(), name.clone())) {
            None => out.push(Change {
                kind: Kind::ParameterRemoved,
                pointer,
                detail: format!("{loc} parameter `{name}` was removed or renamed"),
            }),
            Some(q) => {
                if !is_required(p) && is_required(q) {
                    out.push(Change {
                        kind: Kind::ParameterNowRequired,
                        pointer: pointer.clone(),
                        detail: format!("{loc} parameter `{name}` became required"),
                    });
                }
                if let (Some(a), Some(b)) = (p.get("schema"), q.get("schema")) {
                    SchemaDiff::new(old_doc, new_doc, Direction::Request).diff(a, b, pointer, out);
                }
            }
        }
    }
    for ((loc, name), q) in &new {
        if !old.contains_key(&(loc.clone(), name.clone())) {
            let required = is_required(q);
            out.push(Change {
                kind: if required {
                    Kind::RequiredParameterAdded
                } else {
                    Kind::ParameterAdded
                },
                pointer: format!("/parameters/{loc}/{name}"),
                detail: format!(
                    "new {} {loc} parameter `{name}`",
                    if required { "required" } else { "optional" }
                ),
            });
        }
    }
}

fn body_schema<'a>(doc: &'a Value, node: &'a Value) -> Option<&'a Value> {
    let body = inventory::deref(doc, node.get("requestBody")?);
    body.pointer("/content/application~1json/schema")
}

fn diff_body(old_doc: &Value, o: &Value, new_doc: &Value, n: &Value, out: &mut Vec<Change>) {
    match (body_schema(old_doc, o), body_schema(new_doc, n)) {
        (Some(a), Some(b)) => SchemaDiff::new(old_doc, new_doc, Direction::Request).diff(
            a,
            b,
            "/requestBody".into(),
            out,
        ),
        (Some(_), None) => out.push(Change {
            kind: Kind::RequestBodyRemoved,
            pointer: "/requestBody".into(),
            detail: "the operation no longer takes a JSON body".into(),
        }),
        (None, Some(_)) => out.push(Change {
            kind: Kind::RequestBodyAdded,
            pointer: "/requestBody".into(),
            detail: "the operation now takes a JSON body".into(),
        }),
        (None, None) => {}
    }
}

fn success_schema<'a>(doc: &'a Value, node: &'a Value) -> Option<&'a Value> {
    let responses = node.get("responses")?.as_object()?;
    let (_, response) = responses.iter().find(|(k, _)| k.starts_with('2'))?;
    inventory::deref(doc, response).pointer("/content/application~1json/schema")
}

/// A recursive schema comparison over two documents (refs followed, cycles cut).
pub struct SchemaDiff<'a> {
    old_doc: &'a Value,
    new_doc: &'a Value,
    direction: Direction,
    visiting: BTreeSet<(String, String)>,
}

/// Constraints whose tightening breaks a request.
const CONSTRAINTS: [&str; 10] = [
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "pattern",
    "multipleOf",
];

impl<'a> SchemaDiff<'a> {
    /// A comparison of schemas of `old_doc` with schemas of `new_doc`.
    pub fn new(old_doc: &'a Value, new_doc: &'a Value, direction: Direction) -> Self {
        SchemaDiff {
            old_doc,
            new_doc,
            direction,
            visiting: BTreeSet::new(),
        }
    }

    fn resolve(doc: &'a Value, mut schema: &'a Value) -> (&'a Value, String) {
        let mut name = String::new();
        for _ in 0..16 {
            match schema.get("$ref").and_then(Value::as_str) {
                Some(r) => {
                    name = r.to_string();
                    schema = r
                        .strip_prefix('#')
                        .and_then(|p| doc.pointer(p))
                        .unwrap_or(&Value::Null);
                }
                None => break,
            }
        }
        (schema, name)
    }

    /// Appends the differences between `old` and `new` found at `pointer`.
    pub fn diff(&mut self, old: &'a Value, new: &'a Value, pointer: String, out: &mut Vec<Change>) {
        let (o, oref) = Self::resolve(self.old_doc, old);
        let (n, nref) = Self::resolve(self.new_doc, new);
        let pair = (oref.clone(), nref.clone());
        if !oref.is_empty() && !self.visiting.insert(pair.clone()) {
            return;
        }
        self.diff_resolved(o, n, &pointer, out);
        if !oref.is_empty() {
            self.visiting.remove(&pair);
        }
    }

    /// The fields of `old` that `new` only renamed: gone under one name, added under
    /// another, with the same schema (descriptions aside, as they often name the field)
    /// and the same requiredness. Only unambiguous pairs count: a removed field whose
    /// schema matches exactly one added field, which matches no other removed one.
    fn renames(
        &self,
        old: Option<&'a serde_json::Map<String, Value>>,
        new: Option<&'a serde_json::Map<String, Value>>,
        old_required: &BTreeSet<String>,
        new_required: &BTreeSet<String>,
    ) -> Vec<(String, String)> {
        let (Some(old), Some(new)) = (old, new) else {
            return Vec::new();
        };
        let removed: Vec<(&String, &'a Value)> =
            old.iter().filter(|(k, _)| !new.contains_key(*k)).collect();
        let added: Vec<(&String, &'a Value)> =
            new.iter().filter(|(k, _)| !old.contains_key(*k)).collect();
        let same = |(a, x): (&String, &'a Value), (b, y): (&String, &'a Value)| {
            old_required.contains(a) == new_required.contains(b)
                && crate::spec::overrides::same_shape(
                    Self::resolve(self.old_doc, x).0,
                    Self::resolve(self.new_doc, y).0,
                )
        };
        let mut pairs = Vec::new();
        for &r in &removed {
            let matches: Vec<(&String, &'a Value)> =
                added.iter().copied().filter(|&a| same(r, a)).collect();
            if let [a] = matches[..]
                && removed.iter().filter(|&&other| same(other, a)).count() == 1
            {
                pairs.push((r.0.clone(), a.0.clone()));
            }
        }
        pairs
    }

    fn diff_resolved(&mut self, o: &'a Value, n: &'a Value, pointer: &str, out: &mut Vec<Change>) {
        let side = self.direction;
        let request = side == Direction::Request;
        let mut push = |kind: Kind, detail: String| {
            out.push(Change {
                kind,
                pointer: pointer.to_string(),
                detail,
            });
        };
        let (ot, onull) = type_of(o);
        let (nt, nnull) = type_of(n);
        if ot != nt && !(ot.is_empty() && nt.is_empty()) {
            push(
                Kind::TypeChanged,
                format!("type `{}` is now `{}`", show(&ot), show(&nt)),
            );
        }
        if onull && !nnull {
            push(Kind::NullableRemoved, "null is no longer allowed".into());
        } else if !onull && nnull {
            push(Kind::NullableAdded(side), "null is now allowed".into());
        }
        let oe = enum_of(o);
        let ne = enum_of(n);
        if let (Some(oe), Some(ne)) = (&oe, &ne) {
            for v in oe.iter().filter(|v| !ne.contains(v)) {
                push(
                    Kind::EnumValueRemoved,
                    format!("enum value {v} was removed"),
                );
            }
            for v in ne.iter().filter(|v| !oe.contains(v)) {
                push(Kind::EnumValueAdded, format!("enum value {v} was added"));
            }
        } else if oe.is_none() && ne.is_some() {
            push(
                Kind::EnumAdded(side),
                "values are now restricted to an enum".into(),
            );
        }
        if o.get("description") != n.get("description") && o.get("description").is_some() {
            push(Kind::DescriptionChanged, "description changed".into());
        }
        for c in CONSTRAINTS {
            match (o.get(c), n.get(c)) {
                (a, b) if a == b => {}
                (a, Some(b)) => push(
                    Kind::ConstraintChanged(side, strictness(c, a, b)),
                    format!("`{c}` is now {b}"),
                ),
                (Some(a), None) => push(Kind::ConstraintRemoved, format!("`{c}` {a} was removed")),
                (None, None) => {}
            }
        }
        if request
            && o.get("additionalProperties") != Some(&Value::Bool(false))
            && n.get("additionalProperties") == Some(&Value::Bool(false))
        {
            push(
                Kind::AdditionalPropertiesClosed,
                "unknown fields are now refused".into(),
            );
        }
        let op = o.get("properties").and_then(Value::as_object);
        let np = n.get("properties").and_then(Value::as_object);
        let oreq = inventory::required_names(o);
        let nreq = inventory::required_names(n);
        let renamed = self.renames(op, np, &oreq, &nreq);
        for (name, os) in op.into_iter().flatten() {
            let child = format!("{pointer}/{}", inventory::escape_token(name));
            match np.and_then(|m| m.get(name)) {
                None => match renamed.iter().find(|(old, _)| old == name) {
                    Some((_, new)) => out.push(Change {
                        kind: Kind::FieldRenamed,
                        pointer: format!("{pointer}/{}", inventory::escape_token(new)),
                        detail: format!("field `{name}` was renamed to `{new}`"),
                    }),
                    None => out.push(Change {
                        kind: Kind::FieldRemoved,
                        pointer: child,
                        detail: format!("field `{name}` was removed or renamed"),
                    }),
                },
                Some(ns) => {
                    if request && !oreq.contains(name) && nreq.contains(name) {
                        out.push(Change {
                            kind: Kind::FieldNowRequired,
                            pointer: child.clone(),
                            detail: format!("field `{name}` became required"),
                        });
                    }
                    if !request && oreq.contains(name) && !nreq.contains(name) {
                        out.push(Change {
                            kind: Kind::FieldNowOptional,
                            pointer: child.clone(),
                            detail: format!("field `{name}` may now be absent"),
                        });
                    }
                    self.diff(os, ns, child, out);
                }
            }
        }
        let described_before = |name: &String| op.is_some_and(|m| m.contains_key(name));
        for name in np
            .into_iter()
            .flat_map(|m| m.keys())
            .filter(|k| !described_before(k) && !renamed.iter().any(|(_, new)| new == *k))
        {
            // Required only if this `required` list gained it: a field the list already
            // named (e.g. an `anyOf` branch's `required: [template]`) that only gains its
            // description here asks nothing new of a caller.
            let required = request && nreq.contains(name) && !oreq.contains(name);
            out.push(Change {
                kind: if required {
                    Kind::RequiredFieldAdded
                } else {
                    Kind::FieldAdded
                },
                pointer: format!("{pointer}/{}", inventory::escape_token(name)),
                detail: format!(
                    "new {} field `{name}`",
                    if required { "required" } else { "optional" }
                ),
            });
        }
        // A `required` list can gain a name it does not describe (a combinator branch
        // is often only a `required` list): still a new requirement on what is sent.
        let described_now = |name: &String| np.is_some_and(|m| m.contains_key(name));
        for name in nreq
            .iter()
            .filter(|k| request && !oreq.contains(*k) && !described_before(k) && !described_now(k))
        {
            out.push(Change {
                kind: Kind::RequiredFieldAdded,
                pointer: format!("{pointer}/{}", inventory::escape_token(name)),
                detail: format!("new required field `{name}`"),
            });
        }
        if let (Some(oi), Some(ni)) = (o.get("items"), n.get("items")) {
            self.diff(oi, ni, format!("{pointer}/items"), out);
        }
        if let (Some(oa @ Value::Object(_)), Some(na @ Value::Object(_))) =
            (o.get("additionalProperties"), n.get("additionalProperties"))
        {
            self.diff(oa, na, format!("{pointer}/additionalProperties"), out);
        }
        for key in ["anyOf", "oneOf", "allOf"] {
            let at = format!("{pointer}/{key}");
            match (
                o.get(key).and_then(Value::as_array),
                n.get(key).and_then(Value::as_array),
            ) {
                (Some(a), Some(b)) if a.len() == b.len() => {
                    for (i, (x, y)) in a.iter().zip(b).enumerate() {
                        self.diff(x, y, format!("{at}/{i}"), out);
                    }
                }
                (Some(a), Some(b)) => out.push(Change {
                    kind: Kind::CombinatorChanged,
                    pointer: at,
                    detail: format!("`{key}` had {} branches, now {}", a.len(), b.len()),
                }),
                (None, Some(_)) => out.push(Change {
                    kind: Kind::CombinatorAdded(side),
                    pointer: at,
                    detail: format!("a `{key}` rule was added"),
                }),
                (Some(_), None) => out.push(Change {
                    kind: Kind::CombinatorRemoved(side),
                    pointer: at,
                    detail: format!("the `{key}` rule was removed"),
                }),
                (None, None) => {}
            }
        }
    }
}

/// Whether a constraint change may refuse values the old one accepted (a new constraint
/// always may; a lower minimum or a higher maximum never does).
fn strictness(keyword: &str, old: Option<&Value>, new: &Value) -> Strictness {
    let tighter = match old.map(|old| (old.as_f64(), new.as_f64())) {
        None => true,
        Some((Some(a), Some(b))) if keyword.starts_with("min") => b > a,
        Some((Some(a), Some(b))) if keyword.starts_with("max") => b < a,
        Some(_) => true,
    };
    if tighter {
        Strictness::Tighter
    } else {
        Strictness::NotTighter
    }
}

/// The schema's type (as a sorted list, null split out), whichever way nullability is written.
fn type_of(s: &Value) -> (Vec<String>, bool) {
    let mut nullable = s.get("nullable").and_then(Value::as_bool).unwrap_or(false);
    let mut types: Vec<String> = match s.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect(),
        _ => Vec::new(),
    };
    if types.iter().any(|t| t == "null") {
        nullable = true;
        types.retain(|t| t != "null");
    }
    types.sort();
    (types, nullable)
}

fn enum_of(s: &Value) -> Option<Vec<Value>> {
    s.get("enum")
        .and_then(Value::as_array)
        .map(|values| values.iter().filter(|v| !v.is_null()).cloned().collect())
}

fn show(types: &[String]) -> String {
    if types.is_empty() {
        "any".into()
    } else {
        types.join("|")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::inventory::operations;
    use serde_json::json;

    /// A one-operation spec whose GET takes these parameters.
    fn with_parameters(parameters: Value) -> Value {
        json!({
            "openapi": "3.0.3",
            "info": { "title": "t", "version": "1" },
            "paths": { "/things": { "get": {
                "operationId": "listThings",
                "parameters": parameters,
                "responses": { "200": { "description": "ok" } }
            } } }
        })
    }

    /// The changes between two parameter lists, as (kind, breaking).
    fn parameter_changes(old: Value, new: Value) -> Vec<(String, bool)> {
        let (old, new) = (with_parameters(old), with_parameters(new));
        let (a, b) = (operations(&old), operations(&new));
        diff_operation(&old, &a[0], &new, &b[0])
            .into_iter()
            .map(|c| (c.kind.to_string(), c.kind.breaking()))
            .collect()
    }

    /// An optional parameter added is not breaking; a required one is; an optional one
    /// becoming required is.
    #[test]
    fn parameters_added_or_made_required_are_classified_by_whether_they_are_required() {
        let limit = |required: Option<bool>| {
            let mut p = json!({ "name": "limit", "in": "query", "schema": { "type": "integer" } });
            if let Some(r) = required {
                p["required"] = json!(r);
            }
            p
        };
        let none = json!([]);
        assert_eq!(
            parameter_changes(none.clone(), json!([limit(None)])),
            [("parameter_added".to_string(), false)]
        );
        assert_eq!(
            parameter_changes(none.clone(), json!([limit(Some(false))])),
            [("parameter_added".to_string(), false)]
        );
        assert_eq!(
            parameter_changes(none, json!([limit(Some(true))])),
            [("required_parameter_added".to_string(), true)]
        );
        assert_eq!(
            parameter_changes(json!([limit(None)]), json!([limit(Some(true))])),
            [("parameter_now_required".to_string(), true)]
        );
        assert_eq!(
            parameter_changes(json!([limit(Some(true))]), json!([limit(Some(true))])),
            []
        );
    }

    /// A parameter's schema change, as the drift report classifies it.
    fn schema_change(old: Value, new: Value) -> Vec<(String, bool)> {
        let param = |schema| json!([{ "name": "q", "in": "query", "schema": schema }]);
        parameter_changes(param(old), param(new))
    }

    /// What the server sends must still be accepted: a lower maximum or a higher minimum
    /// refuses values it sent before (breaking); the reverse never does.
    #[test]
    fn a_tighter_limit_on_what_is_sent_is_breaking_and_a_looser_one_is_not() {
        let s =
            |max: u64, min: u64| json!({ "type": "string", "maxLength": max, "minLength": min });
        let breaking = |changes: Vec<(String, bool)>| -> Vec<bool> {
            changes.into_iter().map(|(_, b)| b).collect()
        };
        assert_eq!(breaking(schema_change(s(10, 1), s(5, 1))), [true]);
        assert_eq!(breaking(schema_change(s(10, 1), s(20, 1))), [false]);
        assert_eq!(breaking(schema_change(s(10, 1), s(10, 3))), [true]);
        assert_eq!(breaking(schema_change(s(10, 3), s(10, 1))), [false]);
        assert_eq!(schema_change(s(10, 1), s(10, 1)), []);
        // The same limit written as a float is not tighter.
        let float = json!({ "type": "string", "maxLength": 10.0, "minLength": 1.0 });
        assert_eq!(breaking(schema_change(s(10, 1), float)), [false, false]);
    }

    /// A changed type, or a value that may no longer be null, is a change the report
    /// names; the same type written the 3.1 way is none.
    #[test]
    fn type_and_nullability_changes_are_found_however_they_are_written() {
        let int = json!({ "type": "integer" });
        let string = json!({ "type": "string" });
        assert!(!schema_change(int.clone(), string).is_empty());
        let nullable = json!({ "type": "integer", "nullable": true });
        assert!(!schema_change(nullable.clone(), int.clone()).is_empty());
        let nullable_3_1 = json!({ "type": ["null", "integer"] });
        assert_eq!(schema_change(nullable, nullable_3_1), []);
        assert_eq!(schema_change(int.clone(), int), []);
    }

    /// An operation's own parameter replaces the path item's shared one of the same place
    /// and name (OpenAPI's rule), so the diff compares the one the operation uses; the
    /// other shared ones stay.
    #[test]
    fn an_operations_own_parameter_overrides_the_shared_one() {
        use crate::spec::inventory::parameters;
        let doc = json!({ "paths": { "/things": {
            "parameters": [
                { "name": "limit", "in": "query", "schema": { "type": "integer" } },
                { "name": "tenant", "in": "header", "schema": { "type": "string" } }
            ],
            "get": { "parameters": [
                { "name": "limit", "in": "query", "schema": { "type": "string" } }
            ] }
        } } });
        let op = "/paths/~1things/get";
        let found = parameters(&doc, op, doc.pointer(op).unwrap());
        let seen: Vec<(String, String)> = found
            .iter()
            .map(|p| (p["name"].to_string(), p["schema"]["type"].to_string()))
            .collect();
        assert_eq!(
            seen,
            [
                ("\"tenant\"".to_string(), "\"string\"".to_string()),
                ("\"limit\"".to_string(), "\"string\"".to_string())
            ]
        );
    }

    /// Where a kind's effect depends on the side of the wire or on the values, the kind
    /// carries it and says whether it breaks; its name is the same either way.
    #[test]
    fn kinds_that_depend_on_the_side_of_the_wire_break_on_one_side_only() {
        use Direction::{Request, Response};
        let on =
            |kind: fn(Direction) -> Kind| (kind(Request).breaking(), kind(Response).breaking());
        assert_eq!(on(Kind::NullableAdded), (false, true));
        assert_eq!(on(Kind::EnumAdded), (true, false));
        assert_eq!(on(Kind::CombinatorAdded), (true, false));
        assert_eq!(on(Kind::CombinatorRemoved), (false, true));
        let constraint = |side, strictness| Kind::ConstraintChanged(side, strictness).breaking();
        assert!(constraint(Request, Strictness::Tighter));
        assert!(!constraint(Request, Strictness::NotTighter));
        assert!(!constraint(Response, Strictness::Tighter));
        assert!(!constraint(Response, Strictness::NotTighter));
        assert_eq!(Kind::NullableAdded(Request).as_str(), "nullable_added");
        assert_eq!(Kind::NullableAdded(Response).to_string(), "nullable_added");
        assert_eq!(
            Kind::ConstraintChanged(Response, Strictness::NotTighter).as_str(),
            "constraint_changed"
        );
    }

    /// A new constraint on a response schema breaks no reader; on a request it refuses
    /// what was sent before.
    #[test]
    fn a_constraint_added_to_a_response_breaks_nothing() {
        let (old, new) = (
            json!({ "type": "string" }),
            json!({ "type": "string", "maxLength": 3 }),
        );
        let doc = json!({});
        let kinds = |direction, at: &str| {
            let mut found = Vec::new();
            SchemaDiff::new(&doc, &doc, direction).diff(&old, &new, at.into(), &mut found);
            found
                .iter()
                .map(|c| (c.kind.as_str(), c.kind.breaking()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            kinds(Direction::Response, "/response"),
            [("constraint_changed", false)]
        );
        assert_eq!(
            kinds(Direction::Request, "/requestBody"),
            [("constraint_changed", true)]
        );
    }
}
