//! What a maintainer must do after a new spec lands in `spec/`: the build's own to-do
//! list, each step naming the file (and line) to edit.
//!
//! build.rs computes a [`Checklist`] from the patched specs, the override verdicts and the
//! crate's source text, prints the non-blocking steps as `cargo:warning`s and stops
//! with every step when one blocks, *before* rustc would report the same problems as
//! "no variant named …" at each use or as the tool table's compile-time check. The
//! walkthrough test (`tests/it/landing.rs`) runs the same function on fixtures.
//!
//! The one place that decides an operation is the tool table ([`TABLE`]): an arm
//! `O::X => Tool(&ToolRow { .. })`, or an arm
//! `Decision::Skipped("why")`. Everything else per operation is
//! generated (the call glue) or optional (a stateful sandbox handler).
//!
//! The source is read with `syn` ([`super::source`]): the tool table's arms, and every
//! `O::Variant` / `Operation::Variant` path elsewhere, each described by what encloses
//! it (the table row, the `const` or the function).

use super::inventory::Endpoint;
use super::overrides::{Applied, Status};
use super::source::{SourceFile, Use};
use heck::{ToSnakeCase, ToUpperCamelCase};
use std::collections::BTreeSet;

/// One thing to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The spec holds the live shape: the override file can go.
    DeleteOverride {
        /// File name under `overrides/`.
        file: String,
        /// Its id.
        id: String,
    },
    /// The spec changed where the override patches it.
    FixOverride {
        /// File name under `overrides/`.
        file: String,
        /// Its id.
        id: String,
        /// Where and how (pointer and both values).
        conflict: String,
    },
    /// The source uses an operation the specs no longer have.
    LostOperation {
        /// The operationId it had (from the variant name).
        operation_id: String,
        /// The enum variant.
        variant: String,
        /// Every use, rows first.
        uses: Vec<Use>,
    },
    /// A spec operation the tool table does not decide.
    Unbound {
        /// The spec file.
        spec: String,
        /// The operation.
        operation: Endpoint,
        /// The enum variant it gets.
        variant: String,
        /// The line of the table before which its arm is written, when the table is
        /// among the sources and reads.
        at: Option<usize>,
    },
}

/// The tool table's path, relative to the crate root.
pub const TABLE: &str = "src/tools/table.rs";

impl Step {
    /// Whether the build must stop until it is done.
    pub fn blocks(&self) -> bool {
        !matches!(self, Step::DeleteOverride { .. })
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::DeleteOverride { file, id } => write!(
                f,
                "overrides/{file} ({id}) is redundant: spec/management.yaml already holds the \
                 live shape. Delete {}.",
                super::overrides::delete_instruction(file)
            ),
            Step::FixOverride { file, id, conflict } => write!(
                f,
                "overrides/{file} ({id}) conflicts with spec/management.yaml: {conflict}. \
                 Edit overrides/{file}: if the spec now says the live shape another way, delete \
                 the file; otherwise point its `test` ops at the spec's new shape."
            ),
            Step::LostOperation {
                operation_id,
                variant,
                uses,
            } => {
                let rows: Vec<&Use> = uses
                    .iter()
                    .filter(|u| u.within.starts_with("row"))
                    .collect();
                write!(
                    f,
                    "operation `{operation_id}` is gone from spec/, but the code still uses \
                     `{variant}`: "
                )?;
                let others: Vec<&Use> = uses
                    .iter()
                    .filter(|u| !u.within.starts_with("row"))
                    .collect();
                if !rows.is_empty() {
                    write!(f, "its tool lost its operation: rebind or delete ")?;
                    write_list(f, &rows)?;
                    if !others.is_empty() {
                        write!(f, "; then ")?;
                    }
                }
                if !others.is_empty() {
                    write!(f, "delete ")?;
                    write!(
                        f,
                        "{}",
                        if others.len() > 1 {
                            "the uses at "
                        } else {
                            "the use at "
                        }
                    )?;
                    write_list(f, &others)?;
                }
                write!(f, ".")
            }
            Step::Unbound {
                spec,
                operation,
                variant,
                at,
            } => {
                write!(
                    f,
                    "operation `{}` ({} {}, {spec}) is new and nothing decides it. Decide in \
                     {TABLE}, the one place to write: ",
                    operation.id, operation.method, operation.path
                )?;
                match at {
                    Some(line) => write!(
                        f,
                        "before {TABLE}:{line}, the end of the `match` in `decide`, write"
                    )?,
                    None => write!(f, "in the `match` of `decide`, write")?,
                }
                write!(
                    f,
                    " `O::{variant} => Tool(&ToolRow {{ name: \"{}\", .., route: One(O::{variant}), .. }}),` \
                     to serve it as a tool (a row like its neighbours'), or \
                     `O::{variant} => Decision::Skipped(\"<why>\"),` to leave it out. Nothing \
                     else: build.rs generates its call and its tool definition, and the sandbox \
                     answers it from the spec.",
                    operation.id
                )
            }
        }
    }
}

fn write_list(f: &mut std::fmt::Formatter<'_>, uses: &[&Use]) -> std::fmt::Result {
    let text: Vec<String> = uses.iter().map(|u| u.to_string()).collect();
    write!(f, "{}", text.join(", "))
}

/// Everything to do, in order: overrides, lost operations, unbound operations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checklist {
    /// The steps.
    pub steps: Vec<Step>,
}

impl Checklist {
    /// The plan for `specs` (each spec file with its patched operations), the tenant
    /// spec's override verdicts and the crate's `sources` (the tool table first).
    pub fn new(
        specs: &[(&str, &[Endpoint])],
        applied: &Applied,
        sources: &[SourceFile],
    ) -> Checklist {
        let mut steps = Vec::new();
        for (ov, status) in &applied.statuses {
            match status {
                Status::Needed => {}
                Status::Redundant => steps.push(Step::DeleteOverride {
                    file: ov.file.clone(),
                    id: ov.id.clone(),
                }),
                Status::Conflict(c) => steps.push(Step::FixOverride {
                    file: ov.file.clone(),
                    id: ov.id.clone(),
                    conflict: c.to_string(),
                }),
            }
        }
        let known: BTreeSet<String> = specs
            .iter()
            .flat_map(|(_, ops)| ops.iter().map(|o| variant(&o.id)))
            .collect();
        let uses = super::source::uses(sources);
        for (name, list) in &uses {
            if !known.contains(name) {
                let mut list = list.clone();
                list.sort_by_key(|u| !u.within.starts_with("row"));
                steps.push(Step::LostOperation {
                    operation_id: snake(name),
                    variant: name.clone(),
                    uses: list,
                });
            }
        }
        // The table decides an operation when an arm of `decide` matches it (rustc checks
        // that every operation has exactly one arm, and build.rs that the arm's row routes
        // it). A table that does not read is rustc's to report; its mentions stand in.
        let table = sources
            .iter()
            .find(|s| s.path == TABLE)
            .and_then(|t| super::source::Table::parse(&t.text).ok());
        let decided: BTreeSet<String> = match &table {
            Some(t) => t.arms.iter().flat_map(|a| a.variants.clone()).collect(),
            None => uses
                .iter()
                .filter(|(_, list)| list.iter().any(|u| u.file == TABLE))
                .map(|(name, _)| name.clone())
                .collect(),
        };
        for (spec, ops) in specs {
            for op in ops.iter() {
                let name = variant(&op.id);
                if !decided.contains(&name) {
                    steps.push(Step::Unbound {
                        spec: spec.to_string(),
                        operation: op.clone(),
                        variant: name,
                        at: table.as_ref().map(|t| t.end_line),
                    });
                }
            }
        }
        Checklist { steps }
    }

    /// Whether the build must stop.
    pub fn blocks(&self) -> bool {
        self.steps.iter().any(Step::blocks)
    }

    /// The message the build stops with: the blocking steps, numbered, then the others.
    /// `drift` is a command that works while the build fails (the binary of the last
    /// good build), if there is one.
    pub fn failure(&self, drift: Option<&str>) -> String {
        let mut s = String::from(
            "The specs in spec/ and this crate disagree. The build stops until these are done:\n",
        );
        let (blocking, rest): (Vec<&Step>, Vec<&Step>) =
            self.steps.iter().partition(|step| step.blocks());
        for (i, step) in blocking.iter().enumerate() {
            s += &format!("  {}. {step}\n", i + 1);
        }
        if !rest.is_empty() {
            s += "Also part of landing this spec (these alone only warn):\n";
            for step in rest {
                s += &format!("  - {step}\n");
            }
        }
        s += "Then `cargo build` again.";
        if let Some(command) = drift {
            s += &format!(
                " Meanwhile the binary of your last successful build still runs, with the \
                 previous spec as its baseline, for the full drift report:\n  {command}"
            );
        }
        s + "\n"
    }

    /// The warnings of a build that does not stop, the last one saying what follows.
    pub fn warnings(&self) -> Vec<String> {
        let mut out: Vec<String> = self.steps.iter().map(ToString::to_string).collect();
        if !out.is_empty() {
            out.push(
                "Then `cargo test` (review snapshot changes with `cargo insta review`) and \
                 `cargo run -- drift --fail-on any`, which CI runs, must be clean."
                    .into(),
            );
        }
        out
    }
}

/// The crate's Rust sources under `root/src/` that can use operations, the tool table
/// first: everything but `src/spec/` (the pipeline itself, which holds the scanner's
/// own test text).
pub fn crate_sources(root: &std::path::Path) -> std::io::Result<Vec<SourceFile>> {
    let mut files = Vec::new();
    let mut dirs = vec![root.join("src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                if !path.ends_with("src/spec") {
                    dirs.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    let table = root.join("src/tools/table.rs");
    files.sort_by_key(|p| *p != table);
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path)?;
            let relative = path.strip_prefix(root).unwrap_or(&path);
            Ok(SourceFile {
                path: relative.display().to_string(),
                text,
            })
        })
        .collect()
}

/// The `Operation` variant build.rs generates for an operationId.
pub fn variant(operation_id: &str) -> String {
    operation_id.to_upper_camel_case()
}

/// The operationId a variant came from (operationIds are snake_case).
fn snake(variant: &str) -> String {
    variant.to_snake_case()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variant_and_snake_are_inverse_for_snake_case_ids() {
        for id in ["list_orgs", "get_v2_thing", "set_llm_billing_mode"] {
            assert_eq!(variant(id), id.to_upper_camel_case());
            assert_eq!(snake(&variant(id)), id);
        }
        assert_eq!(variant("get_v2_thing"), "GetV2Thing");
    }

    /// Lines: 4 the arm of `a`, 6 its route, 8 the skip, 9 the end of the `match`.
    const TABLE_TEXT: &str = "use Operation as O;\npub const fn decide(op: Operation) -> Decision {\n    match op {\n        O::GetA => Tool(&ToolRow {\n            name: \"a\",\n            route: One(O::GetA),\n        }),\n        O::GetB => Decision::Skipped(\"not a tool\"),\n    }\n}\n";

    const HANDLERS: &str = "use Operation as O;\nfn handler(op: Operation) -> u8 {\n    match op {\n        O::GetA => 1,\n        _ => 2,\n    }\n}\nfn f() { PatchOperation::Replace; Operation::ALL; let s = \"O::GetD\"; }\n// O::GetE\n";

    fn sources(table: &str, other: &str) -> [SourceFile; 2] {
        [
            SourceFile {
                path: TABLE.into(),
                text: table.into(),
            },
            SourceFile {
                path: "src/sandbox/ops.rs".into(),
                text: other.into(),
            },
        ]
    }

    #[test]
    fn the_scan_finds_rows_skips_and_arms_and_ignores_comments_strings_and_other_paths() {
        let uses = super::super::source::uses(&sources(TABLE_TEXT, HANDLERS));
        assert_eq!(uses.keys().collect::<Vec<_>>(), ["GetA", "GetB"]);
        let at = |file: &str, line, within: &str| Use {
            file: file.into(),
            line,
            within: within.into(),
        };
        assert_eq!(
            uses["GetA"],
            [
                at(TABLE, 4, "row `a`"),
                at("src/sandbox/ops.rs", 4, "`fn handler`"),
            ]
        );
        assert_eq!(uses["GetB"], [at(TABLE, 8, "skip")]);
    }

    fn op(id: &str) -> Endpoint {
        Endpoint {
            id: id.into(),
            method: "GET".into(),
            path: format!("/{id}"),
            tag: String::new(),
            success_status: "200".into(),
            pointer: String::new(),
        }
    }

    fn plan(ops: &[Endpoint], table: &str, other: &str) -> Checklist {
        let applied = Applied {
            doc: serde_json::Value::Null,
            statuses: Vec::new(),
        };
        Checklist::new(
            &[("spec/management.yaml", ops)],
            &applied,
            &sources(table, other),
        )
    }

    #[test]
    fn an_operation_is_decided_by_the_table_alone_and_named_with_the_line_to_write() {
        assert_eq!(
            plan(&[op("get_a"), op("get_b")], TABLE_TEXT, HANDLERS),
            Checklist::default()
        );
        // A use outside the table does not decide an operation.
        let other = "use Operation as O;\nfn f(op: Operation) -> u8 {\n    match op {\n        O::GetC => 1,\n        _ => 2,\n    }\n}\n";
        let p = plan(&[op("get_a"), op("get_b"), op("get_c")], TABLE_TEXT, other);
        assert!(p.blocks());
        let [Step::Unbound { at, variant, .. }] = p.steps.as_slice() else {
            panic!("{p:?}")
        };
        assert_eq!(variant, "GetC");
        assert_eq!(*at, Some(9));
        let text = p.steps[0].to_string();
        assert!(
            text.contains("src/tools/table.rs, the one place to write")
                && text.contains("before src/tools/table.rs:9, the end of the `match` in `decide`")
                && text.contains(
                    "`O::GetC => Tool(&ToolRow { name: \"get_c\", .., route: One(O::GetC), .. }),`"
                )
                && text.contains("`O::GetC => Decision::Skipped(\"<why>\"),`"),
            "{text}"
        );
        let lost = plan(&[op("get_b")], TABLE_TEXT, HANDLERS);
        let [
            Step::LostOperation {
                operation_id, uses, ..
            },
        ] = lost.steps.as_slice()
        else {
            panic!("{lost:?}")
        };
        assert_eq!(operation_id, "get_a");
        assert_eq!(uses.len(), 2);
        assert_eq!(
            lost.steps[0].to_string(),
            "operation `get_a` is gone from spec/, but the code still uses `GetA`: its tool \
             lost its operation: rebind or delete src/tools/table.rs:4 (row `a`); then delete \
             the use at src/sandbox/ops.rs:4 (`fn handler`)."
        );
    }

    #[test]
    fn a_table_that_does_not_read_still_counts_its_mentions_and_names_no_line() {
        let broken = "use Operation as O;\nconst X: &[Operation] = &[O::GetA];\n";
        let p = plan(&[op("get_a"), op("get_b")], broken, HANDLERS);
        let [Step::Unbound { at, variant, .. }] = p.steps.as_slice() else {
            panic!("{p:?}")
        };
        assert_eq!((variant.as_str(), *at), ("GetB", None));
    }
}
