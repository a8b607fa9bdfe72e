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
