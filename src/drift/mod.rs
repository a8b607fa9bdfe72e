//! The drift report: what an upstream spec change means for this server.
//!
//! A candidate spec is analysed as if it replaced `spec/management.yaml`: the overrides
//! are applied to it (each `needed`, `redundant` or `conflict`), the patched candidate
//! is compared with the patched vendored spec operation by operation, every tool row
//! is re-derived against it, and operations no row binds are listed. Every finding
//! carries a fingerprint that stays the same across runs.

pub mod diff;
pub mod locate;
pub mod render;

use crate::spec::inventory::{self, Endpoint};
use crate::spec::overrides::{self, Override, Status};
use crate::tools::schema::{self, Derived};
use crate::tools::table::{self, ToolRow};
use diff::{Change, Direction, SchemaDiff};
use locate::{Location, Source};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

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

/// One override's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct OverrideFinding {
    /// Override id.
    pub id: String,
    /// File name under `overrides/`.
    pub file: String,
    /// `needed`, `redundant` or `conflict`.
    pub status: &'static str,
    /// What to do, or where it conflicts (pointer and both values).
    pub detail: String,
    /// Stable id of this finding.
    pub fingerprint: String,
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
}

/// One change with its fingerprint.
#[derive(Debug, Clone, Serialize)]
pub struct ChangeFinding {
    /// Stable kind.
    pub kind: &'static str,
    /// Whether it can break callers.
    pub breaking: bool,
    /// Where.
    pub pointer: String,
    /// What.
    pub detail: String,
    /// Stable id.
    pub fingerprint: String,
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
    /// `ok`, `missing_operation` or `schema_changed`.
    pub status: &'static str,
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
    /// Breaking changes over operations and tools (removed operations included).
    pub breaking_changes: usize,
    /// Tools unaffected.
    pub tools_ok: usize,
    /// Tools whose operation is gone.
    pub tools_missing_operation: usize,
    /// Tools whose schema changed.
    pub tools_schema_changed: usize,
    /// Operations no tool binds.
    pub unbound_operations: usize,
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
    let subject = if change.kind.starts_with("enum_value") || change.kind.starts_with("constraint")
    {
        change.detail.as_str()
    } else {
        ""
    };
    let fingerprint = if subject.is_empty() {
        fingerprint(&[scope, change.kind, &change.pointer])
    } else {
        fingerprint(&[scope, change.kind, &change.pointer, subject])
    };
    ChangeFinding {
        fingerprint,
        kind: change.kind,
        breaking: change.breaking,
        pointer: change.pointer,
        detail: change.detail,
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
    }
}

/// Runs the analysis.
pub fn run(inputs: &Inputs) -> Report {
    let applied = overrides::apply_all(&inputs.candidate, &inputs.overrides);
    let override_findings: Vec<OverrideFinding> = applied
        .statuses
        .iter()
        .map(|(ov, status)| OverrideFinding {
            // A conflict is at the op that failed; a redundant file is wholly to delete.
            location: inputs.sources.overrides.get(&ov.file).map(|source| {
                source.at(&match status {
                    Status::Conflict(c) => format!("/patch/{}", c.op_index),
                    _ => "/id".to_string(),
                })
            }),
            id: ov.id.clone(),
            file: ov.file.clone(),
            status: status.as_str(),
            detail: match status {
                Status::Needed => {
                    "the stale shape is still there; the override writes the live one".into()
                }
                Status::Redundant => format!(
                    "the candidate already holds the live shape: delete overrides/{}",
                    ov.file
                ),
                Status::Conflict(c) => c.to_string(),
            },
            fingerprint: fingerprint(&["override", &ov.id, status.as_str()]),
        })
        .collect();
    let sources = &inputs.sources;
    let specs = Specs {
        baseline: Indexed::new(&inputs.baseline, &sources.baseline),
        baseline_cp: Indexed::new(&inputs.baseline_cp, &sources.baseline_cp),
        candidate: Indexed::new(&applied.doc, &sources.candidate),
        candidate_cp: Indexed::new(&inputs.candidate_cp, &sources.candidate_cp),
    };

    let mut operations = Operations::default();
    compare_operations(&specs.baseline, &specs.candidate, &mut operations);
    compare_operations(&specs.baseline_cp, &specs.candidate_cp, &mut operations);

    let tools: Vec<ToolFinding> = table::TOOLS
        .iter()
        .map(|row| check_tool(row, &specs))
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

    let breaking = operations.removed.len()
        + operations
            .changed
            .iter()
            .flat_map(|c| &c.changes)
            .filter(|c| c.breaking)
            .count()
        + tools
            .iter()
            .flat_map(|t| &t.changes)
            .filter(|c| c.breaking)
            .count();
    let count = |s: &str| override_findings.iter().filter(|o| o.status == s).count();
    let tool_count = |s: &str| tools.iter().filter(|t| t.status == s).count();
    let summary = Summary {
        overrides_needed: count("needed"),
        overrides_redundant: count("redundant"),
        overrides_conflict: count("conflict"),
        operations_added: operations.added.len(),
        operations_removed: operations.removed.len(),
        operations_changed: operations.changed.len(),
        breaking_changes: breaking,
        tools_ok: tool_count("ok"),
        tools_missing_operation: tool_count("missing_operation"),
        tools_schema_changed: tool_count("schema_changed"),
        unbound_operations: unbound.len(),
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

    /// Where a tool change (`logical` its pointer) is, under operation `id`.
    fn locate_tool_change(&self, id: &str, logical: &str, kind: &str) -> Location {
        let removed = matches!(kind, "field_removed" | "argument_removed");
        match self.ops.iter().find(|o| o.id == id) {
            Some(op) => self.source.at(&locate::tool_pointer(
                self.doc,
                &op.pointer,
                logical,
                removed,
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

fn check_tool(row: &ToolRow, specs: &Specs) -> ToolFinding {
    let ops = row.route.operations();
    let (old, new) = match ops[0].api() {
        crate::Api::Tenant => (&specs.baseline, &specs.candidate),
        crate::Api::ControlPlane => (&specs.baseline_cp, &specs.candidate_cp),
    };
    let scope = format!("tool {}", row.name);
    let mut changes = Vec::new();
    let missing: Vec<&str> = ops
        .iter()
        .map(|o| o.operation_id())
        .filter(|id| !new.ops.iter().any(|c| c.id == *id))
        .collect();
    let status = if !missing.is_empty() {
        for id in &missing {
            changes.push(Change {
                kind: "operation_missing",
                breaking: true,
                pointer: format!("/operations/{id}"),
                detail: format!("operation `{id}` is not in the candidate: the build fails until the row is rebound or the operation skipped"),
            });
        }
        "missing_operation"
    } else {
        match (
            schema::derive(old.doc, &old.ops, row),
            schema::derive(new.doc, &new.ops, row),
        ) {
            (Ok(old), Ok(new)) => changes.extend(compare_tools(&old, &new)),
            (_, Err(e)) => changes.push(Change {
                kind: "binding_broken",
                breaking: true,
                pointer: "/".into(),
                detail: e.message,
            }),
            (Err(_), Ok(_)) => {}
        }
        if changes.is_empty() {
            "ok"
        } else {
            "schema_changed"
        }
    };
    let bound = ops[0].operation_id();
    // A gone operation is shown where it was (the vendored spec); any other change where
    // it is now.
    let locate = |c: &Change| match (c.kind, c.pointer.strip_prefix("/operations/")) {
        ("operation_missing", Some(gone)) => old.locate_tool_change(gone, "/", c.kind),
        _ => new.locate_tool_change(bound, &c.pointer, c.kind),
    };
    ToolFinding {
        name: row.name.to_string(),
        operation_id: bound.to_string(),
        status,
        fingerprint: fingerprint(&["tool", row.name, status]),
        changes: changes
            .into_iter()
            .map(|c| ChangeFinding {
                location: Some(locate(&c)),
                ..finding(&scope, c)
            })
            .collect(),
    }
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
            c.kind = match c.kind {
                "field_removed" => "argument_removed",
                "field_added" => "argument_added",
                "required_field_added" => "required_argument_added",
                "field_now_required" => "argument_now_required",
                other => other,
            };
        }
        c
    }));
    for (o, n) in old.plans.iter().zip(&new.plans) {
        for target in &o.targets {
            if let Some(moved) = n.targets.iter().find(|t| {
                t.tool == target.tool && (t.location != target.location || t.spec != target.spec)
            }) {
                out.push(Change {
                    kind: "argument_moved",
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
            kind: "output_schema_removed",
            breaking: true,
            pointer: "/output".into(),
            detail:
                "the success body is no longer an object: no outputSchema, no structuredContent"
                    .into(),
        }),
        (None, Some(_)) => out.push(Change {
            kind: "output_schema_added",
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
    let (candidate_name, candidate, candidate_source) = match spec {
        Some(path) => {
            let (loaded, source) = load_with_source(path)?;
            (path.display().to_string(), loaded, source)
        }
        None => (
            "the vendored spec/management.yaml (self-check)".to_string(),
            load::parse("spec/management.yaml", VENDORED_MANAGEMENT_SPEC)?,
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
