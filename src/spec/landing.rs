//! What a maintainer must do after a new spec lands in `spec/`: the build's own to-do
//! list, each step naming the file (and line) to edit.
//!
//! build.rs computes a [`Plan`] from the patched specs, the override verdicts and the
//! crate's source text, prints the non-blocking steps as `cargo:warning`s and stops
//! with every step when one blocks, *before* rustc would report the same problems as
//! "no variant named …" at each use or as the tool table's compile-time check. The
//! walkthrough test (`tests/it/landing.rs`) runs the same function on fixtures.
//!
//! The one place that decides an operation is the tool table ([`TABLE`]): a row whose
//! route names it, or an entry of `SKIPPED`. Everything else per operation is
//! generated (the call glue) or optional (a stateful sandbox handler).
//!
//! The source scan is textual: every `O::Variant` (in a file that says
//! `use Operation as O`) or `Operation::Variant` outside a comment is a use of a
//! generated operation; a use on a line with `=>` is a match arm. Each use is described
//! by what encloses it: the tool row (`row!(` and its name), the `const` list or the
//! function.

use super::inventory::Endpoint;
use super::overrides::{Applied, Status};
use std::collections::{BTreeMap, BTreeSet};

/// A source file of the crate, as text.
#[derive(Debug, Clone)]
pub struct Source {
    /// Path relative to the crate root, e.g. `src/tools/table.rs`.
    pub path: String,
    /// Its text.
    pub text: String,
}

/// One use of a generated operation in the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Use {
    /// The file.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// What encloses it: ``row `name` `` or ``fn `name` ``.
    pub within: String,
    /// Whether it is a match arm.
    pub arm: bool,
}

impl std::fmt::Display for Use {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{} ({})", self.file, self.line, self.within)
    }
}

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
        /// Where to write the decision, when the table is among the sources.
        table: Option<Table>,
    },
}

/// The lines of the tool table where a decision is written (1-based): the closing
/// `];` of `TOOLS` (a row goes before it) and of `SKIPPED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Table {
    /// Where a new row goes.
    pub row_line: usize,
    /// Where a new skip goes.
    pub skip_line: usize,
}

/// The tool table's path, relative to the crate root.
pub const TABLE: &str = "src/tools/table.rs";

impl Table {
    /// Finds both lists in the table's text.
    fn find(text: &str) -> Option<Table> {
        let end_of = |list: &str| {
            let lines: Vec<&str> = text.lines().collect();
            let start = lines
                .iter()
                .position(|l| l.starts_with(&format!("pub const {list}:")))?;
            lines[start..]
                .iter()
                .position(|l| l.starts_with("];"))
                .map(|offset| start + offset + 1)
        };
        Some(Table {
            row_line: end_of("TOOLS")?,
            skip_line: end_of("SKIPPED")?,
        })
    }
}

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
                table,
            } => {
                write!(
                    f,
                    "operation `{}` ({} {}, {spec}) is new and nothing binds it. Decide in \
                     {TABLE}, the one place to write: ",
                    operation.id, operation.method, operation.path
                )?;
                match table {
                    Some(t) => write!(
                        f,
                        "bind it to a tool with a row written at {TABLE}:{}, the end of \
                         `TOOLS`, whose route is `One(O::{variant})`; or skip it with \
                         `(O::{variant}, \"<why>\"),` written at {TABLE}:{}, the end of \
                         `SKIPPED`.",
                        t.row_line, t.skip_line
                    )?,
                    None => write!(
                        f,
                        "bind it to a tool with a row in `TOOLS` whose route is \
                         `One(O::{variant})`; or skip it with `(O::{variant}, \"<why>\"),` in \
                         `SKIPPED`."
                    )?,
                }
                write!(
                    f,
                    " Nothing else: build.rs generates its call, and the sandbox answers it \
                     from the spec."
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
pub struct Plan {
    /// The steps.
    pub steps: Vec<Step>,
}

impl Plan {
    /// The plan for `specs` (each spec file with its patched operations), the tenant
    /// spec's override verdicts and the crate's `sources` (the tool table first).
    pub fn new(specs: &[(&str, &[Endpoint])], applied: &Applied, sources: &[Source]) -> Plan {
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
        let uses = scan(sources);
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
        // The table decides an operation when it names it: in a row's route, or in
        // `SKIPPED` (the compiler checks the rest: exactly one of the two).
        let table = sources.iter().find(|s| s.path == TABLE);
        for (spec, ops) in specs {
            for op in ops.iter() {
                let name = variant(&op.id);
                let decided = uses
                    .get(&name)
                    .into_iter()
                    .flatten()
                    .any(|u| u.file == TABLE);
                if !decided {
                    steps.push(Step::Unbound {
                        spec: spec.to_string(),
                        operation: op.clone(),
                        variant: name,
                        table: table.and_then(|t| Table::find(&t.text)),
                    });
                }
            }
        }
        Plan { steps }
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
pub fn crate_sources(root: &std::path::Path) -> std::io::Result<Vec<Source>> {
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
            Ok(Source {
                path: relative.display().to_string(),
                text,
            })
        })
        .collect()
}

/// The `Operation` variant build.rs generates for an operationId.
pub fn variant(operation_id: &str) -> String {
    operation_id
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// The operationId a variant came from (operationIds are snake_case).
fn snake(variant: &str) -> String {
    let mut out = String::new();
    for (i, c) in variant.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Every use of each operation variant, by variant name.
pub type Uses = BTreeMap<String, Vec<Use>>;

/// Every use of an operation variant.
pub fn scan(sources: &[Source]) -> Uses {
    let mut out: BTreeMap<String, Vec<Use>> = BTreeMap::new();
    for source in sources {
        let aliased = source.text.contains("Operation as O");
        let lines: Vec<&str> = source.text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for (at, name) in variants_in(code, aliased) {
                out.entry(name).or_default().push(Use {
                    file: source.path.clone(),
                    line: i + 1,
                    within: within(&lines, i),
                    arm: code[at..].contains("=>"),
                });
            }
        }
    }
    out
}

/// `(byte offset after the name, name)` of each `O::Name` / `Operation::Name` in `code`.
fn variants_in(code: &str, aliased: bool) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let bytes = code.as_bytes();
    for prefix in ["Operation::", "O::"] {
        if prefix == "O::" && !aliased {
            continue;
        }
        let mut from = 0;
        while let Some(pos) = code[from..].find(prefix) {
            let start = from + pos;
            from = start + prefix.len();
            // Inside a string literal when an odd number of quotes precede it.
            let quoted = code[..start].matches('"').count() % 2 == 1;
            let boundary = start == 0 || {
                let b = bytes[start - 1];
                !(b.is_ascii_alphanumeric() || b == b'_' || b == b':')
            };
            let name: String = code[from..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let is_variant = name.starts_with(|c: char| c.is_ascii_uppercase())
                && name.chars().any(|c| c.is_ascii_lowercase());
            if boundary && !quoted && is_variant {
                found.push((from + name.len(), name));
            }
        }
    }
    found
}

/// What encloses line `i`: the nearest `row!(` (with its name) or `fn` above it.
fn within(lines: &[&str], i: usize) -> String {
    for j in (0..=i).rev() {
        let t = lines[j].trim_start();
        if let Some(rest) = t
            .strip_prefix("pub const ")
            .or_else(|| t.strip_prefix("const "))
            .filter(|rest| !rest.starts_with("fn "))
        {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            return format!("`{name}`");
        }
        if t.starts_with("row!(") {
            let name = lines[j..]
                .iter()
                .take(3)
                .find_map(|l| l.split('"').nth(1))
                .unwrap_or("?");
            return format!("row `{name}`");
        }
        if let Some(pos) = t.find("fn ") {
            let before = &t[..pos];
            if before.is_empty() || before.ends_with(' ') {
                let name: String = t[pos + 3..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                return format!("`fn {name}`");
            }
        }
    }
    "top level".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variant_and_snake_are_inverse_for_snake_case_ids() {
        for id in ["list_orgs", "get_v2_thing", "set_llm_billing_mode"] {
            assert_eq!(snake(&variant(id)), id);
        }
    }

    #[test]
    fn the_scan_finds_rows_and_arms_and_ignores_comments_and_other_paths() {
        let text = "use Operation as O;\nconst TOOLS: &[ToolRow] = &[\n    row!(\n        \"get_a\",\n        One(O::GetA),\n    ),\n];\npub const SKIPPED: &[(Operation, &str)] = &[\n    (O::GetB, \"why\"),\n    // (O::GetC, \"old\"),\n];\nfn handler(op: Operation) -> u8 {\n    match op {\n        O::GetA => 1,\n        _ => 2,\n    }\n}\nfn f() { PatchOperation::Replace; Operation::ALL; let s = \"O::GetD\"; }\n";
        let uses = scan(&[Source {
            path: "t.rs".into(),
            text: text.into(),
        }]);
        assert_eq!(uses.keys().collect::<Vec<_>>(), ["GetA", "GetB"]);
        assert_eq!(
            uses["GetA"],
            [
                Use {
                    file: "t.rs".into(),
                    line: 5,
                    within: "row `get_a`".into(),
                    arm: false
                },
                Use {
                    file: "t.rs".into(),
                    line: 14,
                    within: "`fn handler`".into(),
                    arm: true
                },
            ]
        );
        assert_eq!(uses["GetB"][0].within, "`SKIPPED`");
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

    fn plan(ops: &[Endpoint], table: &str, other: &str) -> Plan {
        let applied = Applied {
            doc: serde_json::Value::Null,
            statuses: Vec::new(),
        };
        let sources = [
            Source {
                path: TABLE.into(),
                text: table.into(),
            },
            Source {
                path: "src/sandbox/ops.rs".into(),
                text: other.into(),
            },
        ];
        Plan::new(&[("spec/management.yaml", ops)], &applied, &sources)
    }

    const TABLE_TEXT: &str = "use Operation as O;\npub const TOOLS: &[ToolRow] = &[\n    row!(\n        \"a\",\n        One(O::GetA),\n    ),\n];\n\npub const SKIPPED: &[(Operation, &str)] = &[\n    (O::GetB, \"not a tool\"),\n];\n";

    #[test]
    fn an_operation_is_decided_by_the_table_alone_and_named_with_the_lines_to_write() {
        let handlers = "use Operation as O;\nfn handler(op: Operation) -> u8 {\n    match op {\n        O::GetA => 1,\n        _ => 2,\n    }\n}\n";
        assert_eq!(
            plan(&[op("get_a"), op("get_b")], TABLE_TEXT, handlers),
            Plan::default()
        );
        // A use outside the table does not decide an operation.
        let other = "use Operation as O;\nfn f(op: Operation) -> u8 {\n    match op {\n        O::GetC => 1,\n        _ => 2,\n    }\n}\n";
        let p = plan(&[op("get_a"), op("get_b"), op("get_c")], TABLE_TEXT, other);
        assert!(p.blocks());
        let [Step::Unbound { table, variant, .. }] = p.steps.as_slice() else {
            panic!("{p:?}")
        };
        assert_eq!(variant, "GetC");
        assert_eq!(
            *table,
            Some(Table {
                row_line: 7,
                skip_line: 11
            })
        );
        let text = p.steps[0].to_string();
        assert!(
            text.contains("src/tools/table.rs, the one place to write")
                && text.contains("a row written at src/tools/table.rs:7, the end of `TOOLS`")
                && text.contains(
                    "`(O::GetC, \"<why>\"),` written at src/tools/table.rs:11, the end of `SKIPPED`"
                ),
            "{text}"
        );
        let lost = plan(&[op("get_b")], TABLE_TEXT, handlers);
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
             lost its operation: rebind or delete src/tools/table.rs:5 (row `a`); then delete \
             the use at src/sandbox/ops.rs:4 (`fn handler`)."
        );
    }
}
