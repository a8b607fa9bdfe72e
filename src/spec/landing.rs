//! What a maintainer must do after a new spec lands in `spec/`: the build's own to-do
//! list, each step naming the file (and line) to edit.
//!
//! build.rs computes a [`Plan`] from the patched specs, the override verdicts and the
//! crate's source text, prints the non-blocking steps as `cargo:warning`s and stops
//! with every step when one blocks, *before* rustc would report the same problems as
//! "no variant named …" or "non-exhaustive patterns" at each use. The walkthrough test
//! (`tests/it/landing.rs`) runs the same function on fixtures.
//!
//! The source scan is textual: every `O::Variant` (in a file that says
//! `use Operation as O`) or `Operation::Variant` outside a comment is a use of a
//! generated operation; a use on a line with `=>` is a match arm. Each use is described
//! by what encloses it: the tool row (`row!(` and its name) or the function.

use super::inventory::Operation;
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
    /// A spec operation no match binds.
    Unbound {
        /// The spec file.
        spec: String,
        /// The operation.
        operation: Operation,
        /// The enum variant it gets.
        variant: String,
        /// Each exhaustive match that lacks an arm for it (the binding first).
        sites: Vec<Use>,
        /// Whether some match already has one (the binding was decided).
        decided: bool,
    },
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
                 live shape. Delete overrides/{file} and its row in overrides/README.md."
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
                if !rows.is_empty() {
                    write!(f, "its tool lost its operation: rebind or delete ")?;
                    write_list(f, &rows)?;
                    write!(f, "; then ")?;
                }
                let others: Vec<&Use> = uses
                    .iter()
                    .filter(|u| !u.within.starts_with("row"))
                    .collect();
                write!(f, "delete the arm")?;
                if others.len() > 1 {
                    write!(f, "s")?;
                }
                write!(f, " at ")?;
                write_list(f, &others)?;
                write!(f, ".")
            }
            Step::Unbound {
                spec,
                operation,
                variant,
                sites,
                decided,
            } => {
                let at = |s: &Use| format!("{} {} (line {})", s.file, s.within, s.line);
                if *decided {
                    let list: Vec<String> = sites.iter().map(at).collect();
                    return write!(
                        f,
                        "operation `{}` ({} {}, {spec}) has no arm in {}: add `O::{variant} => …` there.",
                        operation.id,
                        operation.method,
                        operation.path,
                        list.join(" and ")
                    );
                }
                write!(
                    f,
                    "operation `{}` ({} {}, {spec}) is new and nothing binds it. ",
                    operation.id, operation.method, operation.path
                )?;
                let Some((decide, rest)) = sites.split_first() else {
                    return write!(f, "Bind or skip `{variant}` in src/tools/table.rs.");
                };
                write!(
                    f,
                    "Decide in {} {} (line {}): bind it to a tool (a row in `TOOLS` and \
                     `O::{variant} => Tool(\"<tool name>\"),`) or skip it \
                     (`O::{variant} => Skipped(\"<why>\"),`)",
                    decide.file, decide.within, decide.line
                )?;
                if !rest.is_empty() {
                    write!(f, "; then give it an arm in ")?;
                    let rest: Vec<String> = rest.iter().map(at).collect();
                    write!(f, "{}", rest.join(" and "))?;
                }
                write!(f, ".")
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
    pub fn new(specs: &[(&str, &[Operation])], applied: &Applied, sources: &[Source]) -> Plan {
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
        let (uses, wildcards) = scan(sources);
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
        // A match site: a function holding arms for operations; it must hold one per
        // operation (the compiler checks that for the exhaustive ones).
        let mut sites: Vec<Use> = Vec::new();
        for u in uses
            .values()
            .flatten()
            .filter(|u| u.arm && !wildcards.contains(&(u.file.clone(), u.within.clone())))
        {
            match sites
                .iter_mut()
                .find(|s| s.file == u.file && s.within == u.within)
            {
                Some(site) => site.line = site.line.min(u.line),
                None => sites.push(u.clone()),
            }
        }
        let order: Vec<&str> = sources.iter().map(|s| s.path.as_str()).collect();
        sites.sort_by_key(|s| {
            (
                order
                    .iter()
                    .position(|p| *p == s.file)
                    .unwrap_or(usize::MAX),
                s.line,
            )
        });
        for (spec, ops) in specs {
            for op in ops.iter() {
                let name = variant(&op.id);
                let armed: BTreeSet<(&str, &str)> = uses
                    .get(&name)
                    .into_iter()
                    .flatten()
                    .filter(|u| u.arm)
                    .map(|u| (u.file.as_str(), u.within.as_str()))
                    .collect();
                let missing: Vec<Use> = sites
                    .iter()
                    .filter(|s| !armed.contains(&(s.file.as_str(), s.within.as_str())))
                    .cloned()
                    .collect();
                if !missing.is_empty() {
                    steps.push(Step::Unbound {
                        spec: spec.to_string(),
                        operation: op.clone(),
                        variant: name,
                        sites: missing,
                        decided: !armed.is_empty(),
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

/// `(file, within)` of the matches with a wildcard arm: not exhaustive, so not a place
/// every operation needs an arm.
pub type Wildcards = BTreeSet<(String, String)>;

/// Every use of an operation variant, and the matches with a wildcard arm.
pub fn scan(sources: &[Source]) -> (Uses, Wildcards) {
    let mut out: BTreeMap<String, Vec<Use>> = BTreeMap::new();
    let mut wildcards = BTreeSet::new();
    for source in sources {
        let aliased = source.text.contains("Operation as O");
        let lines: Vec<&str> = source.text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            if has_wildcard_arm(code) {
                wildcards.insert((source.path.clone(), within(&lines, i)));
            }
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
    (out, wildcards)
}

/// Whether `code` holds a `_ =>` arm (at the start of the line or after `,`/`{`).
fn has_wildcard_arm(code: &str) -> bool {
    code.match_indices("_ =>").any(|(at, _)| {
        code[..at]
            .chars()
            .next_back()
            .is_none_or(|c| c.is_whitespace() || c == ',' || c == '{')
    })
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
        let text = "use Operation as O;\nconst TOOLS: &[ToolRow] = &[\n    row!(\n        \"get_a\",\n        One(O::GetA),\n    ),\n];\npub fn binding(op: Operation) -> Binding {\n    match op {\n        O::GetA | O::GetB => Tool(\"get_a\"),\n        // O::GetC => old\n    }\n}\nfn f() { PatchOperation::Replace; Operation::ALL; let s = \"O::GetD\"; }\n";
        let (uses, wildcards) = scan(&[Source {
            path: "t.rs".into(),
            text: text.into(),
        }]);
        assert!(wildcards.is_empty());
        let one_line = "use Operation as O;\nfn f(op: Operation) -> u8 {\n    match op { O::GetA => 1, _ => 2 }\n}\n";
        let (_, wildcards) = scan(&[Source {
            path: "w.rs".into(),
            text: one_line.into(),
        }]);
        assert_eq!(
            wildcards.into_iter().collect::<Vec<_>>(),
            [("w.rs".to_string(), "`fn f`".to_string())]
        );
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
                    line: 10,
                    within: "`fn binding`".into(),
                    arm: true
                },
            ]
        );
    }

    fn op(id: &str) -> Operation {
        Operation {
            id: id.into(),
            method: "GET".into(),
            path: format!("/{id}"),
            tag: String::new(),
            success_status: "200".into(),
            pointer: String::new(),
        }
    }

    fn plan(ops: &[Operation], text: &str) -> Plan {
        let applied = Applied {
            doc: serde_json::Value::Null,
            statuses: Vec::new(),
        };
        let sources = [Source {
            path: "src/tools/table.rs".into(),
            text: text.into(),
        }];
        Plan::new(&[("spec/management.yaml", ops)], &applied, &sources)
    }

    #[test]
    fn only_exhaustive_matches_need_an_arm_for_a_new_operation() {
        let text = "use Operation as O;\npub fn binding(op: Operation) -> Binding {\n    match op {\n        O::GetA => Tool(\"a\"),\n    }\n}\nfn is_a(op: Operation) -> bool {\n    match op {\n        O::GetA => true,\n        _ => false,\n    }\n}\n";
        assert_eq!(plan(&[op("get_a")], text), Plan::default());
        let p = plan(&[op("get_a"), op("get_b")], text);
        assert!(p.blocks());
        let [Step::Unbound { sites, decided, .. }] = p.steps.as_slice() else {
            panic!("{p:?}")
        };
        assert!(!decided);
        assert_eq!(sites.len(), 1);
        assert_eq!(
            (sites[0].line, sites[0].within.as_str()),
            (4, "`fn binding`")
        );
        let lost = plan(&[], text);
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
    }
}
