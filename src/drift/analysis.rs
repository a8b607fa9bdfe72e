//! The run: the overrides applied to the candidate, upstream's changes and those of the
//! patched specs reconciled change by change, each tool re-derived, and the counts.

use super::diff::{self, Change, Direction, Kind, SchemaDiff};
use super::inputs::Inputs;
use super::locate::{self, FileLine, FileLines};
use super::report::{
    ChangeFinding, ChangedOperation, Counts, LostShape, OperationRef, Operations, OverrideFinding,
    OverrideStatus, Report, ToolFinding, ToolStatus, fingerprint,
};
use crate::spec::inventory::{self, Endpoint};
use crate::spec::overrides::{self, Override, Status};
use crate::tools::derive::{self as schema, Derived};
use crate::tools::table::{self, ToolRow};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::mem::Discriminant;

/// Makes the report of `inputs`.
pub fn run(inputs: &Inputs) -> Report {
    let applied = overrides::apply_all(&inputs.candidate, &inputs.overrides);
    let files = &inputs.files;
    let specs = Compared {
        baseline: Indexed::new(&inputs.baseline, &files.baseline),
        baseline_cp: Indexed::new(&inputs.baseline_cp, &files.baseline_cp),
        candidate: Indexed::new(&applied.doc, &files.candidate),
        candidate_cp: Indexed::new(&inputs.candidate_cp, &files.candidate_cp),
    };
    let vendored = Indexed::new(&inputs.vendored, &files.baseline);
    let written = Indexed::new(&inputs.candidate, &files.candidate);

    // Upstream's own changes: the vendored spec against the candidate, both as written
    // (the control-plane spec has no overrides).
    let mut operations = Operations::default();
    compare_operations(&vendored, &written, &mut operations);
    compare_operations(&specs.baseline_cp, &specs.candidate_cp, &mut operations);
    // What callers of this server would see: both with the overrides applied.
    let mut effective = Operations::default();
    compare_operations(&specs.baseline, &specs.candidate, &mut effective);

    let owners = Owners::new(&applied);
    let mut lost: BTreeMap<String, Vec<LostShape>> = BTreeMap::new();
    let mut shadows: HashMap<Identity, (String, usize)> = HashMap::new();
    let mut reaching: HashSet<Identity> = HashSet::new();
    let upstream_ids: HashSet<Identity> = operations
        .changed
        .iter()
        .flat_map(|o| o.changes.iter().map(|c| Identity::of_operation(&o.key, c)))
        .collect();
    let effective_ids: HashSet<Identity> = effective
        .changed
        .iter()
        .flat_map(|o| o.changes.iter().map(|c| Identity::of_operation(&o.key, c)))
        .collect();

    // An upstream change the patched specs do not show is, where an override writes its
    // place, one that override already made: served, so it breaks no caller here.
    for op in &mut operations.changed {
        for c in &mut op.changes {
            let id = Identity::of_operation(&op.key, c);
            if effective_ids.contains(&id) {
                reaching.insert(id);
                continue;
            }
            let at = [&written, &vendored]
                .iter()
                .filter_map(|spec| spec.document_pointer(&op.key, &c.pointer))
                .collect::<Vec<_>>();
            match owners.of(&at) {
                Some(ov) => {
                    c.served_by = Some(ov.id.clone());
                }
                // No override writes its place: shown as upstream made it.
                None => {
                    reaching.insert(id);
                }
            }
        }
    }
    // A change of the patched specs upstream did not make is, where an override writes
    // its place, the shadow of that override: a live shape it keeps.
    for op in effective.changed {
        for c in op.changes {
            let id = Identity::of_operation(&op.key, &c);
            if upstream_ids.contains(&id) {
                continue;
            }
            let at = [&specs.baseline, &specs.candidate]
                .iter()
                .filter_map(|spec| spec.document_pointer(&op.key, &c.pointer))
                .collect::<Vec<_>>();
            match owners.of(&at) {
                Some(ov) => {
                    let list = lost.entry(ov.file.clone()).or_default();
                    shadows.insert(id, (ov.file.clone(), list.len()));
                    list.push(LostShape {
                        operation_id: op.operation_id.clone(),
                        change: c,
                        tools: Vec::new(),
                    });
                }
                // No override explains it: this server's callers see it, so say it.
                None => {
                    reaching.insert(id);
                    match operations.changed.iter_mut().find(|o| o.key == op.key) {
                        Some(existing) => existing.changes.push(c),
                        None => operations.changed.push(ChangedOperation {
                            operation_id: op.operation_id.clone(),
                            method: op.method.clone(),
                            path: op.path.clone(),
                            changes: vec![c],
                            key: op.key.clone(),
                        }),
                    }
                }
            }
        }
    }

    let mut ledger = Ledger::default();
    for o in &operations.removed {
        ledger.add(Identity::removed(&o.key), Kind::OperationMissing.breaking());
    }
    for op in &operations.changed {
        for c in &op.changes {
            ledger.add(Identity::of_operation(&op.key, c), c.breaking());
        }
    }

    let mut tools = Vec::new();
    for row in table::TOOLS {
        let (mut tool, identities) = check_tool(row, &specs);
        let mut kept = Vec::new();
        for (c, ids) in tool.changes.drain(..).zip(identities) {
            if let Some(id) = ids.iter().find(|id| reaching.contains(*id)) {
                ledger.add(id.clone(), c.breaking());
                kept.push(c);
            } else if let Some((file, index)) = ids.iter().find_map(|id| shadows.get(id)) {
                if let Some(shape) = lost.get_mut(file).and_then(|l| l.get_mut(*index))
                    && !shape.tools.iter().any(|t| t == row.name)
                {
                    shape.tools.push(row.name.to_string());
                }
            } else {
                let own = ids.into_iter().next().unwrap_or_else(|| {
                    Identity::new(
                        format!("tool {}", row.name),
                        c.kind,
                        c.pointer.clone(),
                        &c.detail,
                    )
                });
                ledger.add(own, c.breaking());
                kept.push(c);
            }
        }
        tool.changes = kept;
        if tool.status != ToolStatus::MissingOperation {
            tool.status = if tool.changes.is_empty() {
                ToolStatus::Ok
            } else {
                ToolStatus::SchemaChanged
            };
        }
        tool.fingerprint = fingerprint(&["tool", row.name, tool.status.as_str()]);
        tools.push(tool);
    }

    let override_findings: Vec<OverrideFinding> = applied
        .statuses
        .iter()
        .map(|(ov, status)| {
            let verdict = OverrideStatus::from(status);
            OverrideFinding {
                // A conflict is at the op that failed; a redundant file is wholly to delete.
                location: inputs.files.overrides.get(&ov.file).map(|source| {
                    source.at(&match status {
                        Status::Conflict(c) => format!("/patch/{}", c.op_index),
                        _ => "/id".to_string(),
                    })
                }),
                id: ov.id.clone(),
                file: ov.file.clone(),
                status: verdict,
                detail: match status {
                    Status::Needed => {
                        "the stale shape is still there; the override writes the live one".into()
                    }
                    Status::Redundant => format!(
                        "the candidate already holds the live shape: delete {}",
                        overrides::delete_instruction(&ov.file)
                    ),
                    Status::Conflict(c) => c.to_string(),
                },
                fingerprint: fingerprint(&["override", &ov.id, verdict.as_str()]),
                lost_if_dropped: lost.remove(&ov.file).unwrap_or_default(),
            }
        })
        .collect();

    let mut unbound = Vec::new();
    for spec in [&specs.candidate, &specs.candidate_cp] {
        for op in &spec.ops {
            // Every operation the build knows is bound or skipped (the tool table's
            // compile-time check guarantees it); a new operationId is unaccounted for.
            let accounted = crate::Operation::ALL
                .iter()
                .any(|o| o.operation_id() == op.id);
            if !accounted {
                unbound.push(op_ref("unbound", spec, op));
            }
        }
    }

    let count = |s: OverrideStatus| override_findings.iter().filter(|o| o.status == s).count();
    let tool_count = |s: ToolStatus| tools.iter().filter(|t| t.status == s).count();
    let summary = Counts {
        overrides_needed: count(OverrideStatus::Needed),
        overrides_redundant: count(OverrideStatus::Redundant),
        overrides_conflict: count(OverrideStatus::Conflict),
        operations_added: operations.added.len(),
        operations_removed: operations.removed.len(),
        operations_changed: operations.changed.len(),
        breaking_changes: ledger.breaking(),
        tools_ok: tool_count(ToolStatus::Ok),
        tools_missing_operation: tool_count(ToolStatus::MissingOperation),
        tools_schema_changed: tool_count(ToolStatus::SchemaChanged),
        unbound_operations: unbound.len(),
        non_breaking_changes: ledger.non_breaking(),
    };
    Report {
        candidate: inputs.candidate_name.clone(),
        overrides: override_findings,
        operations,
        tools,
        unbound_operations: unbound,
        summary,
    }
}

fn finding(scope: &str, change: Change) -> ChangeFinding {
    // Several enum values or constraints can change at one pointer: their detail (the
    // value or keyword) tells them apart. Other kinds are unique per pointer.
    let fingerprint = if change.kind.shares_pointers() {
        fingerprint(&[scope, change.kind.as_str(), &change.pointer, &change.detail])
    } else {
        fingerprint(&[scope, change.kind.as_str(), &change.pointer])
    };
    ChangeFinding {
        fingerprint,
        kind: change.kind,
        pointer: change.pointer,
        detail: change.detail,
        served_by: None,
        location: None,
    }
}

fn op_ref(section: &str, spec: &Indexed, op: &Endpoint) -> OperationRef {
    OperationRef {
        fingerprint: fingerprint(&[section, &op.method, &op.path]),
        operation_id: op.id.clone(),
        method: op.method.clone(),
        path: op.path.clone(),
        location: Some(spec.source.at(&op.pointer)),
        key: diff::match_key(op),
    }
}

/// What makes two findings one change: the operation (its match key), the kind as a
/// body field's change would be named, the pointer inside the operation, and for kinds
/// that share pointers the detail. Tool changes are mapped onto their operation's
/// pointers; a tool change no operation shows keeps the tool as its scope.
///
/// The kind is compared by variant alone: the views of one change agree on its name but
/// not always on what it carries (a changed constraint may tighten the vendored spec's
/// and not the patched spec's).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Identity {
    scope: String,
    kind: Discriminant<Kind>,
    pointer: String,
    subject: String,
}

impl Identity {
    fn new(scope: String, kind: Kind, pointer: String, detail: &str) -> Self {
        Identity {
            scope,
            kind: std::mem::discriminant(&kind.as_field()),
            pointer,
            subject: if kind.shares_pointers() {
                detail.to_string()
            } else {
                String::new()
            },
        }
    }

    fn of_operation(key: &str, c: &ChangeFinding) -> Self {
        Identity::new(format!("op {key}"), c.kind, c.pointer.clone(), &c.detail)
    }

    /// A removed operation, and a tool's `operation_missing` for it.
    fn removed(key: &str) -> Self {
        Identity::new(
            format!("op {key}"),
            Kind::OperationMissing,
            String::new(),
            "",
        )
    }
}

/// The distinct changes counted for the summary, each breaking if any view says so.
#[derive(Default)]
struct Ledger(HashMap<Identity, bool>);

impl Ledger {
    fn add(&mut self, id: Identity, breaking: bool) {
        *self.0.entry(id).or_default() |= breaking;
    }

    fn breaking(&self) -> usize {
        self.0.values().filter(|b| **b).count()
    }

    fn non_breaking(&self) -> usize {
        self.0.len() - self.breaking()
    }
}

/// The places each override writes, to tell which one a change is the shadow of.
struct Owners<'a> {
    writes: Vec<(&'a Override, Vec<String>)>,
}

impl<'a> Owners<'a> {
    fn new(applied: &'a overrides::Applied) -> Self {
        use json_patch::PatchOperation as P;
        let writes = applied
            .statuses
            .iter()
            .map(|(ov, _)| {
                let paths = ov
                    .patch
                    .0
                    .iter()
                    .filter_map(|op| match op {
                        P::Test(_) => None,
                        P::Add(a) => Some(a.path.as_str()),
                        P::Remove(r) => Some(r.path.as_str()),
                        P::Replace(r) => Some(r.path.as_str()),
                        P::Move(m) => Some(m.path.as_str()),
                        P::Copy(c) => Some(c.path.as_str()),
                    })
                    .map(String::from)
                    .collect();
                (ov, paths)
            })
            .collect();
        Owners { writes }
    }

    /// The override that writes the node at one of `pointers` (document pointers), if
    /// any.
    fn of(&self, pointers: &[String]) -> Option<&'a Override> {
        pointers.iter().find_map(|at| {
            self.writes.iter().find_map(|(ov, paths)| {
                paths
                    .iter()
                    .any(|p| at == p || at.starts_with(&format!("{p}/")))
                    .then_some(*ov)
            })
        })
    }
}

fn compare_operations(old_spec: &Indexed, new_spec: &Indexed, out: &mut Operations) {
    let by_key = |spec: &Indexed| -> BTreeMap<String, Endpoint> {
        spec.ops
            .iter()
            .map(|o| (diff::match_key(o), o.clone()))
            .collect()
    };
    let (old, new) = (by_key(old_spec), by_key(new_spec));
    let (old_doc, new_doc) = (old_spec.doc, new_spec.doc);
    for (key, o) in &old {
        match new.get(key) {
            None => out.removed.push(op_ref("removed", old_spec, o)),
            Some(n) => {
                let changes = diff::diff_operation(old_doc, o, new_doc, n);
                if !changes.is_empty() {
                    let scope = format!("op {key}");
                    let locate = |c: Change| {
                        let (at, _) = locate::document_pointer(new_doc, &n.pointer, &c.pointer);
                        ChangeFinding {
                            location: Some(new_spec.source.at(&at)),
                            ..finding(&scope, c)
                        }
                    };
                    out.changed.push(ChangedOperation {
                        operation_id: n.id.clone(),
                        method: n.method.clone(),
                        path: n.path.clone(),
                        changes: changes.into_iter().map(locate).collect(),
                        key: key.clone(),
                    });
                }
            }
        }
    }
    for (key, n) in &new {
        if !old.contains_key(key) {
            out.added.push(op_ref("added", new_spec, n));
        }
    }
}

/// A spec, its operation inventory (walked once per report) and its source file.
struct Indexed<'a> {
    doc: &'a Value,
    ops: Vec<Endpoint>,
    source: &'a FileLines,
}

impl<'a> Indexed<'a> {
    fn new(doc: &'a Value, source: &'a FileLines) -> Self {
        Indexed {
            doc,
            ops: inventory::operations(doc),
            source,
        }
    }

    /// The operation with match key `key`.
    fn by_key(&self, key: &str) -> Option<&Endpoint> {
        self.ops.iter().find(|o| diff::match_key(o) == key)
    }

    /// Where the change at `logical` of the operation with match key `key` is in this
    /// document (the deepest node that exists).
    fn document_pointer(&self, key: &str, logical: &str) -> Option<String> {
        let op = self.by_key(key)?;
        Some(locate::document_pointer(self.doc, &op.pointer, logical).0)
    }

    /// Where a tool change (`logical` its pointer) is, under operation `id`.
    fn locate_tool_change(&self, id: &str, logical: &str, kind: Kind) -> FileLine {
        match self.ops.iter().find(|o| o.id == id) {
            Some(op) => self.source.at(&locate::tool_pointer(
                self.doc,
                &op.pointer,
                logical,
                kind.removes(),
            )),
            None => FileLine {
                file: self.source.file.clone(),
                line: None,
            },
        }
    }
}

/// The baseline and candidate specs, tenant and CP.
struct Compared<'a> {
    baseline: Indexed<'a>,
    baseline_cp: Indexed<'a>,
    candidate: Indexed<'a>,
    candidate_cp: Indexed<'a>,
}

/// The operation-level pointer a tool change's pointer stands for, under `plan`'s
/// operation: an argument is a parameter or a body field (by the plan's targets), the
/// output is the success response.
fn operation_pointer(tool_pointer: &str, plan: &schema::CallShape) -> Option<String> {
    use schema::Location as L;
    if let Some(rest) = tool_pointer.strip_prefix("/output") {
        return Some(format!("/response{rest}"));
    }
    let rest = tool_pointer.strip_prefix("/input/")?;
    let (arg, tail) = match rest.split_once('/') {
        Some((arg, tail)) => (arg, format!("/{tail}")),
        None => (rest, String::new()),
    };
    if matches!(arg, "anyOf" | "oneOf" | "allOf") {
        return Some(format!("/requestBody/{rest}"));
    }
    let target = plan
        .targets
        .iter()
        .find(|t| inventory::escape_token(&t.tool) == arg)?;
    let spec = inventory::escape_token(&target.spec);
    Some(match target.location {
        L::Path => format!("/parameters/path/{spec}{tail}"),
        L::Query => format!("/parameters/query/{spec}{tail}"),
        L::Header => format!("/parameters/header/{spec}{tail}"),
        L::BodyField => format!("/requestBody/{spec}{tail}"),
        L::Body => format!("/requestBody{tail}"),
    })
}

/// A tool's finding, and for each of its changes the identities it may have as an
/// operation's change (first the candidate's plans, then the baseline's).
fn check_tool(row: &ToolRow, specs: &Compared) -> (ToolFinding, Vec<Vec<Identity>>) {
    let ops = row.route.operations();
    let (old, new) = match ops[0].api() {
        crate::Api::Tenant => (&specs.baseline, &specs.candidate),
        crate::Api::ControlPlane => (&specs.baseline_cp, &specs.candidate_cp),
    };
    let scope = format!("tool {}", row.name);
    let mut changes = Vec::new();
    let mut plans = Vec::new();
    let missing: Vec<&str> = ops
        .iter()
        .map(|o| o.operation_id())
        .filter(|id| !new.ops.iter().any(|c| c.id == *id))
        .collect();
    let status = if !missing.is_empty() {
        for id in &missing {
            changes.push(Change {
                kind: Kind::OperationMissing,
                pointer: format!("/operations/{id}"),
                detail: format!("operation `{id}` is not in the candidate: the build fails until the row is rebound or the operation skipped"),
            });
        }
        ToolStatus::MissingOperation
    } else {
        match (
            schema::derive(old.doc, &old.ops, row),
            schema::derive(new.doc, &new.ops, row),
        ) {
            (Ok(old), Ok(new)) => {
                changes.extend(compare_tools(&old, &new));
                plans.extend(new.plans);
                plans.extend(old.plans);
            }
            (_, Err(e)) => changes.push(Change {
                kind: Kind::BindingBroken,
                pointer: "/".into(),
                detail: e.message,
            }),
            (Err(_), Ok(_)) => {}
        }
        if changes.is_empty() {
            ToolStatus::Ok
        } else {
            ToolStatus::SchemaChanged
        }
    };
    let key_of = |id: &str| {
        new.ops
            .iter()
            .chain(&old.ops)
            .find(|o| o.id == id)
            .map(diff::match_key)
    };
    let identities = changes
        .iter()
        .map(|c| match (c.kind, c.pointer.strip_prefix("/operations/")) {
            (Kind::OperationMissing, Some(gone)) => key_of(gone)
                .map(|k| Identity::removed(&k))
                .into_iter()
                .collect(),
            _ => plans
                .iter()
                .filter_map(|plan| {
                    let key = key_of(plan.operation.operation_id())?;
                    let pointer = operation_pointer(&c.pointer, plan)?;
                    Some(Identity::new(
                        format!("op {key}"),
                        c.kind,
                        pointer,
                        &c.detail,
                    ))
                })
                .collect(),
        })
        .collect();
    let bound = ops[0].operation_id();
    // A gone operation is shown where it was (the vendored spec); any other change where
    // it is now.
    let locate = |c: &Change| match (c.kind, c.pointer.strip_prefix("/operations/")) {
        (Kind::OperationMissing, Some(gone)) => old.locate_tool_change(gone, "/", c.kind),
        _ => new.locate_tool_change(bound, &c.pointer, c.kind),
    };
    let finding = ToolFinding {
        name: row.name.to_string(),
        operation_id: bound.to_string(),
        status,
        fingerprint: fingerprint(&["tool", row.name, status.as_str()]),
        changes: changes
            .into_iter()
            .map(|c| ChangeFinding {
                location: Some(locate(&c)),
                ..finding(&scope, c)
            })
            .collect(),
    };
    (finding, identities)
}

/// Argument-level differences between two derivations of the same row.
fn compare_tools(old: &Derived, new: &Derived) -> Vec<Change> {
    let mut out = Vec::new();
    // The exact validation schemas: they carry everything the advertised ones do, plus
    // the full shape of opaque arguments and the rules a host-safe schema cannot say.
    let (a, b) = (&old.validation, &new.validation);
    let mut input = Vec::new();
    SchemaDiff::new(a, b, Direction::Request).diff(a, b, "/input".into(), &mut input);
    out.extend(input.into_iter().map(|mut c| {
        // A field directly under /input is a tool argument.
        if c.pointer.matches('/').count() == 2 {
            c.kind = c.kind.as_argument();
        }
        c
    }));
    for (o, n) in old.plans.iter().zip(&new.plans) {
        for target in &o.targets {
            if let Some(moved) = n.targets.iter().find(|t| {
                t.tool == target.tool && (t.location != target.location || t.spec != target.spec)
            }) {
                out.push(Change {
                    kind: Kind::ArgumentMoved,
                    pointer: format!("/input/{}", target.tool),
                    detail: format!(
                        "`{}` was sent as {:?} `{}`, now as {:?} `{}`",
                        target.tool, target.location, target.spec, moved.location, moved.spec
                    ),
                });
            }
        }
    }
    match (&old.output, &new.output) {
        (Some(a), Some(b)) => {
            let (a, b) = (Value::Object(a.clone()), Value::Object(b.clone()));
            SchemaDiff::new(&a, &b, Direction::Response).diff(&a, &b, "/output".into(), &mut out);
        }
        (Some(_), None) => out.push(Change {
            kind: Kind::OutputSchemaRemoved,
            pointer: "/output".into(),
            detail:
                "the success body is no longer an object: no outputSchema, no structuredContent"
                    .into(),
        }),
        (None, Some(_)) => out.push(Change {
            kind: Kind::OutputSchemaAdded,
            pointer: "/output".into(),
            detail: "the success body is now an object with an outputSchema".into(),
        }),
        (None, None) => {}
    }
    out
}
