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
    /// Operations the build does not know: no row binds them and none is skipped.
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
    /// Section 1: each override's verdict.
    pub overrides: Vec<OverrideFinding>,
    /// Section 2: the operations added, removed or changed.
    pub operations: Operations,
    /// Section 3: each tool's verdict.
    pub tools: Vec<ToolFinding>,
    /// Section 4: the operations the build does not know.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn report(summary: Counts) -> Report {
        Report {
            candidate: "candidate.yaml".into(),
            overrides: vec![],
            operations: Operations::default(),
            tools: vec![],
            unbound_operations: vec![],
            summary,
        }
    }

    /// Each kind of finding alone, and the least `--fail-on` level it reaches.
    #[test]
    fn each_finding_alone_fails_exactly_the_levels_it_belongs_to() {
        type Set = fn(&mut Counts);
        let cases: [(&str, Set, FailOn); 9] = [
            (
                "overrides_conflict",
                |s| s.overrides_conflict = 1,
                FailOn::Conflict,
            ),
            (
                "tools_missing_operation",
                |s| s.tools_missing_operation = 1,
                FailOn::Conflict,
            ),
            (
                "breaking_changes",
                |s| s.breaking_changes = 1,
                FailOn::Breaking,
            ),
            (
                "overrides_redundant",
                |s| s.overrides_redundant = 1,
                FailOn::Any,
            ),
            ("operations_added", |s| s.operations_added = 1, FailOn::Any),
            (
                "operations_removed",
                |s| s.operations_removed = 1,
                FailOn::Any,
            ),
            (
                "operations_changed",
                |s| s.operations_changed = 1,
                FailOn::Any,
            ),
            (
                "tools_schema_changed",
                |s| s.tools_schema_changed = 1,
                FailOn::Any,
            ),
            (
                "unbound_operations",
                |s| s.unbound_operations = 1,
                FailOn::Any,
            ),
        ];
        for (name, set, least) in cases {
            let mut summary = Counts::default();
            set(&mut summary);
            let r = report(summary);
            for level in [
                FailOn::Never,
                FailOn::Conflict,
                FailOn::Breaking,
                FailOn::Any,
            ] {
                let expected = level != FailOn::Never && level >= least;
                assert_eq!(r.fails(level), expected, "{name} at {level:?}");
            }
        }
        // Needed overrides and unaffected tools are no finding.
        let quiet = report(Counts {
            overrides_needed: 3,
            tools_ok: 30,
            ..Counts::default()
        });
        assert!(!quiet.fails(FailOn::Any));
    }

    /// The fingerprint is FNV-1a (64-bit) over each part followed by a unit separator,
    /// cut to 48 bits: values a CI history may hold, so they must never drift.
    #[test]
    fn fingerprints_are_fnv_1a_over_separated_parts() {
        assert_eq!(
            fingerprint(&[]),
            "D9ce484222325",
            "the FNV offset basis, cut"
        );
        assert_eq!(
            fingerprint(&["tool", "set_org_secret", "schema_changed"]),
            "Dc46fab8bc66c"
        );
        assert_eq!(
            fingerprint(&["override", "001-llm-billing-mode", "needed"]),
            "D23054c2a4986"
        );
        assert_ne!(
            fingerprint(&["ab", "c"]),
            fingerprint(&["a", "bc"]),
            "parts are separated, not concatenated"
        );
    }

    /// A change an override already serves breaks nothing, whatever its kind; otherwise
    /// its kind decides, and the JSON says the same as the method.
    #[test]
    fn a_served_change_is_not_breaking_and_the_json_says_what_the_kind_says() {
        let change = |kind: Kind, served_by: Option<&str>| ChangeFinding {
            kind,
            pointer: "/requestBody/name".into(),
            detail: "d".into(),
            fingerprint: "D0".into(),
            served_by: served_by.map(String::from),
            location: None,
        };
        let renamed = change(Kind::FieldRenamed, None);
        assert!(renamed.breaking());
        assert_eq!(
            serde_json::to_value(&renamed).unwrap(),
            serde_json::json!({
                "kind": "field_renamed", "breaking": true, "pointer": "/requestBody/name",
                "detail": "d", "fingerprint": "D0"
            })
        );
        let served = change(Kind::FieldRenamed, Some("003-x"));
        assert!(!served.breaking());
        assert_eq!(
            serde_json::to_value(&served).unwrap()["breaking"],
            serde_json::json!(false)
        );
        assert_eq!(
            serde_json::to_value(&served).unwrap()["served_by"],
            serde_json::json!("003-x")
        );
        assert!(!change(Kind::FieldAdded, None).breaking());
    }
}
