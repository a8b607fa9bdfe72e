//! The shape of `src/`, read with `syn` (docs/architecture.md, "Stages"): one name per
//! concept, and imports that only point to earlier stages.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use syn::visit::Visit;

/// Every `.rs` file under `src/`, with its module path (`call::select`, `http`, ...).
fn sources() -> Vec<(PathBuf, Vec<String>, syn::File)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&root, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let rel = path.strip_prefix(&root).unwrap().with_extension("");
            let mut module: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(
                module.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                module.pop();
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let file = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let shown = Path::new("src").join(path.strip_prefix(&root).unwrap());
            (shown, module, file)
        })
        .collect()
}

fn is_test_only(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.parse_args::<syn::Meta>()
                .is_ok_and(|m| m.path().is_ident("test"))
            || a.path().is_ident("test")
    })
}

/// Names that are one concept wherever they appear, each with why.
const SAME_CONCEPT: &[(&str, &str)] = &[
    ("main", "a binary's entry point (src/main.rs)"),
    (
        "drift",
        "main.rs's `drift` subcommand runs the `drift` module",
    ),
    ("run", "main.rs's and drift's: do the job the module is for"),
    (
        "admit",
        "each transport's gate: may this message go on (stdio, HTTP, the sandbox)",
    ),
    (
        "serve",
        "accept connections on a listener (HTTP, one HTTP connection, the sandbox)",
    ),
    (
        "banner",
        "the start-up lines on stderr (HTTP server, sandbox ids)",
    ),
    (
        "body",
        "an HTTP request's body (`http::body` limits it, `Arguments::body` builds it)",
    ),
    (
        "error",
        "the error form of what the module answers; `mod error` holds the types",
    ),
    (
        "success",
        "the success form of a response (a tool result, a sandbox reply)",
    ),
    (
        "parse",
        "read this module's input text into its type (CLI, spec, override)",
    ),
    (
        "read",
        "read a bounded HTTP response body in the module that needs it",
    ),
    (
        "render",
        "this module's value as text (inventory lines, metrics, drift report)",
    ),
    (
        "list",
        "the sandbox's `GET /workspaces` handler, named for the endpoint like `get`",
    ),
    (
        "operations",
        "the spec's operations; `mod operations` is their enum",
    ),
    (
        "row",
        "the table's row of an operation; `mod tools::row` is its type",
    ),
    (
        "rfc3339",
        "a time as RFC 3339 text (audit log, sandbox timestamps)",
    ),
    (
        "is",
        "whether a table entry is an operation (hints and diagnose, the same test)",
    ),
];

#[derive(Default)]
struct Names {
    module: Vec<String>,
    file: PathBuf,
    /// name → every "kind path (file)" that declares it.
    seen: BTreeMap<String, BTreeSet<String>>,
}

impl Names {
    fn add(&mut self, kind: &str, name: String) {
        let at = format!(
            "{kind} {} ({})",
            self.module.join("::"),
            self.file.display()
        );
        self.seen.entry(name).or_default().insert(at);
    }
}

impl Names {
    /// A module, counted once whether seen as `mod x;`, `mod x {}` or `x::x`.
    fn add_module(&mut self, name: &str) {
        let at = format!("mod {} ({})", self.module.join("::"), self.file.display());
        let _ = at;
        self.seen
            .entry(name.to_string())
            .or_default()
            .insert(format!("mod {}", self.module.join("::")));
    }
}

impl<'a> Visit<'a> for Names {
    fn visit_item(&mut self, item: &'a syn::Item) {
        match item {
            syn::Item::Struct(s) => self.add("struct", s.ident.to_string()),
            syn::Item::Enum(e) => self.add("enum", e.ident.to_string()),
            syn::Item::Type(t) => self.add("type", t.ident.to_string()),
            syn::Item::Trait(t) => self.add("trait", t.ident.to_string()),
            syn::Item::Union(u) => self.add("union", u.ident.to_string()),
            syn::Item::Fn(f) => {
                if is_test_only(&f.attrs) {
                    return;
                }
                let name = f.sig.ident.to_string();
                // `clip::clip`, `call::validate::validate`: a module named for its function.
                if self.module.last() == Some(&name) {
                    self.add_module(&name);
                } else {
                    self.add("fn", name);
                }
            }
            syn::Item::Mod(m) => {
                if is_test_only(&m.attrs) {
                    return;
                }
                self.module.push(m.ident.to_string());
                self.add_module(&m.ident.to_string());
                self.module.pop();
                if let Some((_, items)) = &m.content {
                    self.module.push(m.ident.to_string());
                    for item in items {
                        self.visit_item(item);
                    }
                    self.module.pop();
                }
                return;
            }
            // Methods are named inside their type (`Audit::open`, `Sealed::open`), and a
            // trait's method implemented again is the trait's concept.
            syn::Item::Impl(_) => return,
            _ => {}
        }
        syn::visit::visit_item(self, item);
    }

    fn visit_trait_item_fn(&mut self, f: &'a syn::TraitItemFn) {
        self.add("trait fn", f.sig.ident.to_string());
    }

    // Functions inside function bodies are local helpers, not names of the crate.
    fn visit_block(&mut self, _: &'a syn::Block) {}
}

#[test]
fn no_two_types_modules_or_functions_in_src_share_a_name() {
    let mut names = Names::default();
    for (file, module, ast) in sources() {
        names.file = file;
        names.module = module;
        names.visit_file(&ast);
    }
    let allowed: BTreeSet<&str> = SAME_CONCEPT.iter().map(|(n, _)| *n).collect();
    let mut clashes = Vec::new();
    for (name, at) in &names.seen {
        if at.len() > 1 && !allowed.contains(name.as_str()) {
            clashes.push(format!(
                "{name}:\n    {}",
                Vec::from_iter(at)
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join("\n    ")
            ));
        }
    }
    assert!(
        clashes.is_empty(),
        "{} names are declared for more than one thing in src/ (rename one, or add it to SAME_CONCEPT with why):\n{}",
        clashes.len(),
        clashes.join("\n")
    );
}

/// Every `crate::…` path each module names, in `use` items and in other paths: the
/// module path of the file it is in → the path named → where (file: text).
type Imports = BTreeMap<Vec<String>, BTreeMap<Vec<String>, BTreeSet<String>>>;

fn imports() -> Imports {
    struct Uses<'f> {
        from: Vec<String>,
        file: &'f Path,
        out: &'f mut Imports,
    }
    impl Uses<'_> {
        fn note(&mut self, segments: &[String]) {
            let to: Vec<String> = match segments.first().map(String::as_str) {
                Some("crate") => segments[1..].to_vec(),
                // `super::` from a top-level module's file is the crate root.
                Some("super") if self.from.len() == 1 => segments[1..].to_vec(),
                _ => return,
            };
            if to.is_empty() {
                return;
            }
            let shown = format!("{}: {}", self.file.display(), segments.join("::"));
            let entry = self.out.entry(self.from.clone()).or_default();
            entry.entry(to).or_default().insert(shown);
        }
        fn tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
            match tree {
                syn::UseTree::Path(p) => {
                    prefix.push(p.ident.to_string());
                    self.tree(prefix, &p.tree);
                    prefix.pop();
                }
                syn::UseTree::Group(g) => g.items.iter().for_each(|t| self.tree(prefix, t)),
                syn::UseTree::Name(n) => self.leaf(prefix, n.ident.to_string()),
                syn::UseTree::Rename(r) => self.leaf(prefix, r.ident.to_string()),
                syn::UseTree::Glob(_) => self.leaf(prefix, "*".to_string()),
            }
        }
        fn leaf(&mut self, prefix: &[String], last: String) {
            let mut all = prefix.to_vec();
            if last != "self" {
                all.push(last);
            }
            self.note(&all);
        }
    }
    impl<'a> Visit<'a> for Uses<'_> {
        fn visit_item_use(&mut self, u: &'a syn::ItemUse) {
            self.tree(&mut Vec::new(), &u.tree);
        }
        fn visit_path(&mut self, p: &'a syn::Path) {
            let segments: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
            self.note(&segments);
            syn::visit::visit_path(self, p);
        }
        fn visit_item_mod(&mut self, m: &'a syn::ItemMod) {
            if !is_test_only(&m.attrs) {
                syn::visit::visit_item_mod(self, m);
            }
        }
    }
    let mut out = Imports::new();
    for (file, module, ast) in sources() {
        // The crate root declares the modules; src/main.rs is the binary, which reads the
        // library as `molecule_mcp::`.
        if module.is_empty() {
            continue;
        }
        Uses {
            from: module,
            file: &file,
            out: &mut out,
        }
        .visit_file(&ast);
    }
    out
}

/// The stages `src/lib.rs` states: its doc lines `//! N. `a`, `b`: …`, in order.
fn stages() -> Vec<Vec<String>> {
    let lib =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    lib.lines()
        .filter_map(|l| l.strip_prefix("//! "))
        .filter(|l| {
            l.split_once(". ")
                .is_some_and(|(n, _)| n.parse::<u32>().is_ok())
        })
        .map(|l| {
            let names = l.split_once("`: ").map_or(l, |(names, _)| names);
            names
                .split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect()
        })
        .collect()
}

#[test]
fn no_module_imports_a_later_stage_or_one_that_imports_it() {
    let stages = stages();
    let stage_of = |path: &[String]| -> Option<(String, usize)> {
        // The longest stated module that `path` is in.
        let mut best: Option<(String, usize)> = None;
        for (i, stage) in stages.iter().enumerate() {
            for name in stage {
                let parts: Vec<&str> = name.split("::").collect();
                if parts.len() <= path.len()
                    && parts.iter().zip(path).all(|(a, b)| a == b)
                    && best
                        .as_ref()
                        .is_none_or(|(b, _)| b.split("::").count() < parts.len())
                {
                    best = Some((name.clone(), i));
                }
            }
        }
        best
    };
    let mut problems = Vec::new();
    let mut edges: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    let declared: BTreeSet<String> = sources()
        .into_iter()
        .filter(|(_, m, _)| m.len() == 1)
        .map(|(_, m, _)| m[0].clone())
        .collect();
    for module in &declared {
        if stage_of(std::slice::from_ref(module)).is_none() {
            problems.push(format!("src/lib.rs names no stage for `{module}`"));
        }
    }
    for (from, tos) in imports() {
        let Some((from_node, from_stage)) = stage_of(&from) else {
            continue;
        };
        for (to, at) in tos {
            // `crate::Operation` is `operations`'s; the root's own items (`Api`, the
            // embedded spec texts) are below every stage.
            let to = if to[0] == "Operation" {
                vec!["operations".to_string()]
            } else {
                to
            };
            let Some((to_node, to_stage)) = stage_of(&to) else {
                continue;
            };
            if to_node == from_node || from_node.starts_with(&format!("{to_node}::")) {
                continue;
            }
            if to_stage > from_stage {
                problems.push(format!(
                    "`{from_node}` (stage {}) imports `{to_node}` (stage {}), a later stage:\n    {}",
                    from_stage + 1,
                    to_stage + 1,
                    Vec::from_iter(at.iter().cloned()).join("\n    ")
                ));
            }
            edges
                .entry(from_node.clone())
                .or_default()
                .entry(to_node)
                .or_default()
                .extend(at);
        }
    }
    // A cycle: a module that reaches itself through the imports.
    for start in edges.keys() {
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((node, trail)) = stack.pop() {
            for next in edges.get(&node).into_iter().flat_map(|t| t.keys()) {
                if next == start {
                    let mut cycle = trail.clone();
                    cycle.push(next.clone());
                    problems.push(format!(
                        "import cycle {}:\n    {}",
                        cycle.join(" → "),
                        Vec::from_iter(&edges[&node][next])
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join("\n    ")
                    ));
                } else if seen.insert(next.clone()) {
                    let mut longer = trail.clone();
                    longer.push(next.clone());
                    stack.push((next.clone(), longer));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// build.rs compiles these files through `#[path]`, where `crate` is build.rs: there
/// `crate::Operation` is a stand-in and `crate::tools` holds only `row`
/// (docs/architecture.md, "Build time").
#[test]
fn the_files_build_rs_compiles_name_only_what_build_rs_has() {
    let shared = |m: &[String]| {
        m.first().is_some_and(|s| s == "spec")
            || (m.len() >= 2
                && m[0] == "tools"
                && ["row", "derive", "json_schema"].contains(&m[1].as_str()))
    };
    let mut problems = Vec::new();
    for (from, tos) in imports() {
        if !shared(&from) {
            continue;
        }
        for (to, at) in tos {
            let fine = to[0] == "Operation"
                || to[0] == "spec"
                || to.starts_with(&["tools".to_string(), "row".to_string()]);
            if !fine {
                problems.extend(at);
            }
        }
    }
    assert!(
        problems.is_empty(),
        "build.rs cannot compile these names:\n{}",
        problems.join("\n")
    );
}
