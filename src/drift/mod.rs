//! The drift report: what an upstream spec change means for this server.
//!
//! A candidate spec is analysed as if it replaced `spec/management.yaml`: the overrides
//! are applied to it (each `needed`, `redundant` or `conflict`); the operations section
//! is upstream's own changes (the vendored spec against the candidate, both as written);
//! every tool row is re-derived against the patched candidate; and operations no row
//! binds are listed.
//!
//! The two comparisons are reconciled change by change: a change of the patched specs
//! that upstream did not make is the shadow of an override that no longer applies (the
//! live shape it keeps, lost if it were dropped), listed under that override and never
//! counted as an upstream change; an upstream change the patched specs do not show is
//! one an override already serves (not breaking for this server). A change shown by an
//! operation and by a tool counts once. Every finding carries a fingerprint that stays
//! the same across runs.

pub mod diff;
pub mod locate;
pub mod render;

use crate::spec::inventory::{self, Endpoint};
use crate::spec::overrides::{self, Override, Status};
use crate::tools::derive::{self as schema, Derived};
use crate::tools::table::{self, ToolRow};
use diff::{Change, Direction, Kind, SchemaDiff};
use locate::{Location, Source};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/overrides_embedded.rs"));
}

/// The vendored management spec as written (before overrides).
pub const VENDORED_MANAGEMENT_SPEC: &str = include_str!("../../spec/management.yaml");
/// The vendored control-plane spec as written.
pub const VENDORED_CP_SPEC: &str = include_str!("../../spec/cp-admin.yaml");

/// The override files embedded at build time.
pub fn embedded_overrides() -> Result<Vec<Override>, overrides::OverrideError> {
    embedded::OVERRIDES
        .iter()
        .map(|(file, text)| overrides::parse(file, text))
        .collect()
}

/// What to compare.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// Name of the candidate, for the report.
    pub candidate_name: String,
    /// The candidate management spec, as written upstream (unpatched).
    pub candidate: Value,
    /// The vendored management spec as written (unpatched): upstream's changes are the
    /// candidate against it.
    pub vendored: Value,
    /// The candidate CP spec.
    pub candidate_cp: Value,
    /// The vendored spec with overrides applied (the baseline the binary was built from).
    pub baseline: Value,
    /// The baseline CP spec.
    pub baseline_cp: Value,
    /// The overrides, in order.
    pub overrides: Vec<Override>,
    /// The files the findings point into.
    pub sources: Sources,
}

/// The source files behind the inputs, for `file=`/`line=` in annotations.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// The candidate management spec (`--spec` as given, or `spec/management.yaml`).
    pub candidate: Source,
    /// The candidate CP spec.
    pub candidate_cp: Source,
    /// The vendored management spec (where removed operations were).
    pub baseline: Source,
    /// The vendored CP spec.
    pub baseline_cp: Source,
    /// Each override's file, keyed by [`Override::file`].
    pub overrides: BTreeMap<String, Source>,
}

/// An override's verdict against the candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OverrideStatus {
    /// The stale shape is still there; the override writes the live one.
    Needed,
    /// The candidate already holds the live shape: delete the override.
    Redundant,
    /// The candidate changed the stale shape another way.
    Conflict,
}

impl OverrideStatus {
    /// The stable name, as in every format of the report.
    pub fn as_str(self) -> &'static str {
        match self {
            OverrideStatus::Needed => "needed",
            OverrideStatus::Redundant => "redundant",
            OverrideStatus::Conflict => "conflict",
        }
    }
}

impl From<&Status> for OverrideStatus {
    fn from(status: &Status) -> Self {
        match status {
            Status::Needed => OverrideStatus::Needed,
            Status::Redundant => OverrideStatus::Redundant,
            Status::Conflict(_) => OverrideStatus::Conflict,
        }
    }
}

/// A tool's verdict against the candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolStatus {
    /// Nothing upstream changed reaches the tool.
    Ok,
    /// An operation it binds is gone.
    MissingOperation,
    /// Its arguments or output changed.
    SchemaChanged,
}

impl ToolStatus {
    /// The stable name, as in every format of the report.
    pub fn as_str(self) -> &'static str {
        match self {
            ToolStatus::Ok => "ok",
            ToolStatus::MissingOperation => "missing_operation",
            ToolStatus::SchemaChanged => "schema_changed",
        }
    }
}

/// A live shape an override keeps that the candidate does not hold: what callers would
/// lose if the override were dropped. Upstream did not make this change.
#[derive(Debug, Clone, Serialize)]
pub struct LostShape {
    /// The operation that would change.
    pub operation_id: String,
    /// The change dropping the override would make.
    #[serde(flatten)]
    pub change: ChangeFinding,
    /// The tools that would show it too.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<String>,
}

/// One override's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct OverrideFinding {
    /// Override id.
    pub id: String,
    /// File name under `overrides/`.
    pub file: String,
    /// Needed, redundant or conflict.
    pub status: OverrideStatus,
    /// What to do, or where it conflicts (pointer and both values).
    pub detail: String,
    /// Stable id of this finding.
    pub fingerprint: String,
    /// For an override that does not apply: the live shapes it keeps, which the
    /// candidate lacks (empty, and absent from the JSON, otherwise).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lost_if_dropped: Vec<LostShape>,
    /// The override file, at the failing op for a conflict (not in the JSON contract).
    #[serde(skip)]
    pub location: Option<Location>,
}

/// An added or removed operation.
#[derive(Debug, Clone, Serialize)]
pub struct OperationRef {
    /// `operationId`.
    pub operation_id: String,
    /// HTTP method.
    pub method: String,
    /// Path template.
    pub path: String,
    /// Stable id of this finding.
    pub fingerprint: String,
    /// The operation in its spec file (not in the JSON contract).
    #[serde(skip)]
    pub location: Option<Location>,
    /// The operation's match key (method and path, parameter names erased).
    #[serde(skip)]
    pub key: String,
}

/// One change with its fingerprint.
#[derive(Debug, Clone, Serialize)]
pub struct ChangeFinding {
    /// Stable kind.
    pub kind: Kind,
    /// Whether it can break callers of this server.
    pub breaking: bool,
    /// Where.
    pub pointer: String,
    /// What.
    pub detail: String,
    /// Stable id.
    pub fingerprint: String,
    /// For an upstream change an override already made: the override's id (the change
    /// then breaks no caller of this server; absent from the JSON otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub served_by: Option<String>,
    /// The schema or operation in the spec file (not in the JSON contract).
    #[serde(skip)]
    pub location: Option<Location>,
}

/// A changed operation.
#[derive(Debug, Clone, Serialize)]
pub struct ChangedOperation {
    /// `operationId` in the candidate.
    pub operation_id: String,
    /// HTTP method.
    pub method: String,
    /// Path template in the candidate.
    pub path: String,
    /// The changes.
    pub changes: Vec<ChangeFinding>,
    /// The operation's match key (method and path, parameter names erased).
    #[serde(skip)]
    pub key: String,
}

/// The operations section.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Operations {
    /// In the candidate only.
    pub added: Vec<OperationRef>,
    /// In the baseline only.
    pub removed: Vec<OperationRef>,
    /// In both, different.
    pub changed: Vec<ChangedOperation>,
}

/// One tool's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct ToolFinding {
    /// Tool name.
    pub name: String,
    /// The operation it binds (the first, for routed tools).
    pub operation_id: String,
    /// Ok, missing operation or schema changed.
    pub status: ToolStatus,
    /// Argument-level changes.
    pub changes: Vec<ChangeFinding>,
    /// Stable id of this finding.
    pub fingerprint: String,
}

/// Counts, for the last line and for CI.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Overrides still needed.
    pub overrides_needed: usize,
    /// Overrides to delete.
    pub overrides_redundant: usize,
    /// Overrides that conflict.
    pub overrides_conflict: usize,
    /// Operations added.
    pub operations_added: usize,
    /// Operations removed.
    pub operations_removed: usize,
    /// Operations changed.
    pub operations_changed: usize,
    /// Distinct breaking changes upstream made (removed operations included), each
    /// counted once however many views (operation, tools) show it.
    pub breaking_changes: usize,
    /// Tools unaffected.
    pub tools_ok: usize,
    /// Tools whose operation is gone.
    pub tools_missing_operation: usize,
    /// Tools whose schema changed.
    pub tools_schema_changed: usize,
    /// Operations no tool binds.
    pub unbound_operations: usize,
    /// Distinct non-breaking changes, counted like `breaking_changes` (for the verdict;
    /// not in the JSON contract).
    #[serde(skip)]
    pub non_breaking_changes: usize,
}

/// The whole report (its JSON form is the CI contract, documented in the README).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// What was analysed.
    pub candidate: String,
    /// Section 1.
    pub overrides: Vec<OverrideFinding>,
    /// Section 2.
    pub operations: Operations,
    /// Section 3.
    pub tools: Vec<ToolFinding>,
    /// Section 4.
    pub unbound_operations: Vec<OperationRef>,
    /// Counts.
    pub summary: Summary,
}

/// The `--fail-on` level (also its command-line values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum FailOn {
    /// Never fail.
    Never,
    /// An override conflict or a tool whose operation is gone.
    Conflict,
    /// The above, or any breaking change.
    Breaking,
    /// Any finding at all (what CI's self-check uses).
    Any,
}

impl Report {
    /// Whether the report reaches `level`.
    pub fn fails(&self, level: FailOn) -> bool {
        let s = &self.summary;
        let conflict = s.overrides_conflict > 0 || s.tools_missing_operation > 0;
        let breaking = conflict || s.breaking_changes > 0;
        let any = breaking
            || s.overrides_redundant > 0
            || s.operations_added + s.operations_removed + s.operations_changed > 0
            || s.tools_schema_changed > 0
            || s.unbound_operations > 0;
        match level {
            FailOn::Never => false,
            FailOn::Conflict => conflict,
            FailOn::Breaking => breaking,
            FailOn::Any => any,
        }
    }
}

/// A short stable id: FNV-1a over the finding's identity (never its changing detail).
pub fn fingerprint(parts: &[&str]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain(std::iter::once(0x1f)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("D{:012x}", hash & 0xffff_ffff_ffff)
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
        breaking: change.breaking,
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
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Identity {
    scope: String,
    kind: Kind,
    pointer: String,
    subject: String,
}

impl Identity {
    fn new(scope: String, kind: Kind, pointer: String, detail: &str) -> Self {
        Identity {
            scope,
            kind: kind.as_field(),
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
struct Ledger(BTreeMap<Identity, bool>);

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

/// Runs the analysis.
pub fn run(inputs: &Inputs) -> Report {
    let applied = overrides::apply_all(&inputs.candidate, &inputs.overrides);
    let sources = &inputs.sources;
    let specs = Specs {
        baseline: Indexed::new(&inputs.baseline, &sources.baseline),
        baseline_cp: Indexed::new(&inputs.baseline_cp, &sources.baseline_cp),
        candidate: Indexed::new(&applied.doc, &sources.candidate),
        candidate_cp: Indexed::new(&inputs.candidate_cp, &sources.candidate_cp),
    };
    let vendored = Indexed::new(&inputs.vendored, &sources.baseline);
    let written = Indexed::new(&inputs.candidate, &sources.candidate);

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
    let mut shadows: BTreeMap<Identity, (String, usize)> = BTreeMap::new();
    let mut reaching: BTreeSet<Identity> = BTreeSet::new();
    let upstream_ids: BTreeSet<Identity> = operations
        .changed
        .iter()
        .flat_map(|o| o.changes.iter().map(|c| Identity::of_operation(&o.key, c)))
        .collect();
    let effective_ids: BTreeSet<Identity> = effective
        .changed
        .iter()
        .flat_map(|o| o.changes.iter().map(|c| Identity::of_operation(&o.key, c)))
        .collect();

    // An upstream change the patched specs do not show is one an override already made.
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
                    c.breaking = false;
                    c.served_by = Some(ov.id.clone());
                }
                // Found by neither comparison's overrides: shown as upstream made it.
                None => {
                    reaching.insert(id);
                }
            }
        }
    }
    // A change of the patched specs upstream did not make is the shadow of an override.
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
        ledger.add(Identity::removed(&o.key), true);
    }
    for op in &operations.changed {
        for c in &op.changes {
            ledger.add(Identity::of_operation(&op.key, c), c.breaking);
        }
    }

    let mut tools = Vec::new();
    for row in table::TOOLS {
        let (mut tool, identities) = check_tool(row, &specs);
        let mut kept = Vec::new();
        for (c, ids) in tool.changes.drain(..).zip(identities) {
            if let Some(id) = ids.iter().find(|id| reaching.contains(*id)) {
                ledger.add(id.clone(), c.breaking);
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
                ledger.add(own, c.breaking);
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
                location: inputs.sources.overrides.get(&ov.file).map(|source| {
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
    let summary = Summary {
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
    source: &'a Source,
}

impl<'a> Indexed<'a> {
    fn new(doc: &'a Value, source: &'a Source) -> Self {
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
    fn locate_tool_change(&self, id: &str, logical: &str, kind: Kind) -> Location {
        match self.ops.iter().find(|o| o.id == id) {
            Some(op) => self.source.at(&locate::tool_pointer(
                self.doc,
                &op.pointer,
                logical,
                kind.removes(),
            )),
            None => Location {
                file: self.source.file.clone(),
                line: None,
            },
        }
    }
}

/// The baseline and candidate specs, tenant and CP.
struct Specs<'a> {
    baseline: Indexed<'a>,
    baseline_cp: Indexed<'a>,
    candidate: Indexed<'a>,
    candidate_cp: Indexed<'a>,
}

/// The operation-level pointer a tool change's pointer stands for, under `plan`'s
/// operation: an argument is a parameter or a body field (by the plan's targets), the
/// output is the success response.
fn operation_pointer(tool_pointer: &str, plan: &schema::Plan) -> Option<String> {
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
fn check_tool(row: &ToolRow, specs: &Specs) -> (ToolFinding, Vec<Vec<Identity>>) {
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
                breaking: true,
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
                breaking: true,
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
                    breaking: true,
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
            breaking: true,
            pointer: "/output".into(),
            detail:
                "the success body is no longer an object: no outputSchema, no structuredContent"
                    .into(),
        }),
        (None, Some(_)) => out.push(Change {
            kind: Kind::OutputSchemaAdded,
            breaking: false,
            pointer: "/output".into(),
            detail: "the success body is now an object with an outputSchema".into(),
        }),
        (None, None) => {}
    }
    out
}

/// Why the drift inputs could not be read (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum DriftError {
    /// A spec file is unreadable, unparsable, not OpenAPI 3.0/3.1, or uses 3.1
    /// keywords with no 3.0 form where they matter.
    #[error(transparent)]
    Spec(#[from] crate::spec::load::SpecError),
    /// An override file is unreadable or invalid.
    #[error(transparent)]
    Override(#[from] overrides::OverrideError),
    /// An embedded document is broken (a build problem).
    #[error("embedded {0} is not valid JSON")]
    Embedded(&'static str),
}

fn warn_dropped(name: &str, loaded: &crate::spec::load::Loaded) {
    for note in &loaded.dropped {
        tracing::warn!("{name}: {note}");
    }
}

/// Reads the inputs: the candidate (default: the vendored spec, i.e. a self-check),
/// the CP candidate (default: the embedded CP spec) and the overrides (default: the
/// embedded ones). Candidates may be OpenAPI 3.0 or 3.1: they are normalised exactly as
/// build.rs normalises `spec/` (keywords dropped from response-only schemas are logged
/// as warnings on stderr), so a 3.1 document and its 3.0 rendering give one report.
pub fn load_inputs(
    spec: Option<&std::path::Path>,
    cp_spec: Option<&std::path::Path>,
    overrides_dir: Option<&std::path::Path>,
) -> Result<Inputs, DriftError> {
    use crate::spec::load;
    let baseline = Source::new("spec/management.yaml", VENDORED_MANAGEMENT_SPEC);
    let baseline_cp = Source::new("spec/cp-admin.yaml", VENDORED_CP_SPEC);
    let vendored = load::parse("spec/management.yaml", VENDORED_MANAGEMENT_SPEC)?;
    let (candidate_name, candidate, candidate_source) = match spec {
        Some(path) => {
            let (loaded, source) = load_with_source(path)?;
            (path.display().to_string(), loaded, source)
        }
        None => (
            "the vendored spec/management.yaml (self-check)".to_string(),
            vendored.clone(),
            baseline.clone(),
        ),
    };
    let baseline_cp_doc: Value = serde_json::from_str(crate::PATCHED_CP_SPEC)
        .map_err(|_| DriftError::Embedded("cp-admin spec"))?;
    let (candidate_cp, candidate_cp_source) = match cp_spec {
        Some(path) => {
            let (loaded, source) = load_with_source(path)?;
            warn_dropped(&path.display().to_string(), &loaded);
            (loaded.doc, source)
        }
        None => (baseline_cp_doc.clone(), baseline_cp.clone()),
    };
    warn_dropped(&candidate_name, &candidate);
    let candidate = candidate.doc;
    let (overrides, override_sources) = match overrides_dir {
        Some(dir) => {
            let overrides = overrides::load_dir(dir)?;
            // Read again for positions: the loader keeps values only. A file that vanished
            // in between just has no lines.
            let sources = overrides
                .iter()
                .map(|ov| {
                    let path = dir.join(&ov.file);
                    let text = std::fs::read_to_string(&path).unwrap_or_default();
                    (
                        ov.file.clone(),
                        Source::new(path.display().to_string(), &text),
                    )
                })
                .collect();
            (overrides, sources)
        }
        None => (
            embedded_overrides()?,
            embedded::OVERRIDES
                .iter()
                .map(|(file, text)| {
                    (
                        file.to_string(),
                        Source::new(format!("overrides/{file}"), text),
                    )
                })
                .collect(),
        ),
    };
    Ok(Inputs {
        candidate_name,
        candidate,
        vendored: vendored.doc,
        candidate_cp,
        baseline: serde_json::from_str(crate::PATCHED_MANAGEMENT_SPEC)
            .map_err(|_| DriftError::Embedded("management spec"))?,
        baseline_cp: baseline_cp_doc,
        overrides,
        sources: Sources {
            candidate: candidate_source,
            candidate_cp: candidate_cp_source,
            baseline,
            baseline_cp,
            overrides: override_sources,
        },
    })
}

/// Loads a spec file, keeping its lines for annotations (named by `path` as given).
fn load_with_source(
    path: &std::path::Path,
) -> Result<(crate::spec::load::Loaded, Source), DriftError> {
    let doc = crate::spec::load::load(path)?;
    // The file was just read; a second read that fails only costs the line numbers.
    let text = std::fs::read_to_string(path).unwrap_or_default();
    Ok((doc, Source::new(path.display().to_string(), &text)))
}
