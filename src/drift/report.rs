//! The drift report: its findings, its counts, the `--fail-on` levels and the
//! fingerprints that name each finding across runs (the JSON form is the CI contract).

use super::diff::Kind;
use super::locate::FileLine;
use crate::spec::overrides::Status;
use serde::Serialize;

/// Declares a verdict with each variant's stable name: the value in the JSON, the word in
/// the text, Markdown and annotations, and a part of the finding's fingerprint.
macro_rules! verdict {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
        }

        impl $name {
            /// The stable name, as in every format of the report.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
    };
}

verdict! {
    /// An override's verdict against the candidate.
    OverrideStatus {
        /// The stale shape is still there; the override writes the live one.
        Needed = "needed",
        /// The candidate already holds the live shape: delete the override.
        Redundant = "redundant",
        /// The candidate changed the stale shape another way.
        Conflict = "conflict",
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

verdict! {
    /// A tool's verdict against the candidate.
    ToolStatus {
        /// Nothing upstream changed reaches the tool.
        Ok = "ok",
        /// An operation it binds is gone.
        MissingOperation = "missing_operation",
        /// Its arguments or output changed.
        SchemaChanged = "schema_changed",
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
    pub location: Option<FileLine>,
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
    pub location: Option<FileLine>,
    /// The operation's match key (method and path, parameter names erased).
    #[serde(skip)]
    pub key: String,
}

/// One change with its fingerprint.
#[derive(Debug, Clone)]
pub struct ChangeFinding {
    /// Stable kind.
    pub kind: Kind,
    /// Where.
    pub pointer: String,
    /// What.
    pub detail: String,
    /// Stable id.
    pub fingerprint: String,
    /// For an upstream change an override already made: the override's id (the change
    /// then breaks no caller of this server; absent from the JSON otherwise).
    pub served_by: Option<String>,
    /// The schema or operation in the spec file (not in the JSON contract).
    pub location: Option<FileLine>,
}

impl ChangeFinding {
    /// Whether it can break callers of this server: its kind says, unless an override
    /// already serves the new shape.
    pub fn breaking(&self) -> bool {
        self.served_by.is_none() && self.kind.breaking()
    }
}

/// A change as the JSON contract has it: `breaking` beside the kind it follows from.
impl Serialize for ChangeFinding {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Contract<'a> {
            kind: Kind,
            breaking: bool,
            pointer: &'a str,
            detail: &'a str,
            fingerprint: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            served_by: Option<&'a str>,
        }
        Contract {
            kind: self.kind,
            breaking: self.breaking(),
            pointer: &self.pointer,
            detail: &self.detail,
            fingerprint: &self.fingerprint,
            served_by: self.served_by.as_deref(),
        }
        .serialize(serializer)
    }
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

/// The report's counts (its `summary`), for the last line and for CI.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
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
    /// The counts.
    pub summary: Counts,
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
