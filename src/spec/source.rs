//! What the crate's Rust source says about operations, read with `syn`: the arms and
//! rows of the tool table, and every other use of a generated operation.
//!
//! build.rs reads the table here to derive every tool definition at build time, and the
//! landing plan ([`super::landing`]) to say what to write where when the specs change.
//! The table's grammar is deliberately small (docs/architecture.md, "Build time"): the
//! arms of the `match` in `fn decide`, each `O::Variant` (or several joined by `|`)
//! `=> Tool(&ToolRow { .. })` or `=> Decision::Skipped("why")`, and rows made of string
//! literals, enum paths, tuple and struct variants, `&[..]` lists and the file's own
//! `const`s. Anything else is an error naming the line, never a guess.

use crate::Operation;
use crate::tools::row::{Access, ArgRule, Decision, Route, ToolRow, Toolset};
use std::collections::BTreeMap;
use syn::spanned::Spanned;

/// A Rust source file of the crate.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path relative to the crate root, e.g. `src/tools/table.rs`.
    pub path: String,
    /// Its text.
    pub text: String,
}

/// One arm of the table's `match`.
#[derive(Debug, Clone)]
pub struct Arm {
    /// The operation variants it matches.
    pub variants: Vec<String>,
    /// 1-based line of the arm.
    pub line: usize,
    /// The tool's name, when the arm serves one.
    pub tool: Option<String>,
    body: syn::Expr,
}

/// The tool table as written.
#[derive(Debug, Clone)]
pub struct Table {
    /// The arms, in order (the order of `tools/list`).
    pub arms: Vec<Arm>,
    /// 1-based line of the `}` that closes the `match`: a new arm is written before it.
    pub end_line: usize,
    consts: BTreeMap<String, syn::Expr>,
}

/// Line of a syntax node (1-based).
fn line_of(node: &impl Spanned) -> usize {
    node.span().start().line
}

fn error_at(node: &impl Spanned, message: impl std::fmt::Display) -> String {
    format!("{}:{}: {message}", super::landing::TABLE, line_of(node))
}

impl Table {
    /// Reads the table from the text of `src/tools/table.rs`.
    pub fn parse(text: &str) -> Result<Table, String> {
        let file = syn::parse_file(text).map_err(|e| format!("{}: {e}", super::landing::TABLE))?;
        let mut consts = BTreeMap::new();
        let mut decide = None;
        for item in &file.items {
            match item {
                syn::Item::Const(c) => {
                    consts.insert(c.ident.to_string(), (*c.expr).clone());
                }
                syn::Item::Fn(f) if f.sig.ident == "decide" => decide = Some(f),
                _ => {}
            }
        }
        let decide = decide.ok_or_else(|| format!("{}: no `fn decide`", super::landing::TABLE))?;
        let matched = decide
            .block
            .stmts
            .iter()
            .find_map(|stmt| match stmt {
                syn::Stmt::Expr(syn::Expr::Match(m), _) => Some(m),
                _ => None,
            })
            .ok_or_else(|| error_at(&decide.sig, "`fn decide` does not end in a `match`"))?;
        let mut arms = Vec::new();
        for arm in &matched.arms {
            let variants = pattern_variants(&arm.pat)?;
            let tool = match tool_row(&arm.body) {
                Some(syn::Expr::Struct(row)) => field(row, "name").and_then(string).ok(),
                _ => None,
            };
            arms.push(Arm {
                variants,
                line: line_of(&arm.pat),
                tool,
                body: (*arm.body).clone(),
            });
        }
        Ok(Table {
            arms,
            end_line: matched.brace_token.span.close().start().line,
            consts,
        })
    }

    /// Every arm's decision, with `resolve` turning a variant name into an operation.
    /// An unknown variant or a row outside the table's grammar is an error naming its
    /// line; so is a row whose route does not reach exactly the arm's operations.
    pub fn decisions(
        &self,
        resolve: &dyn Fn(&str) -> Option<Operation>,
    ) -> Result<Vec<(Vec<Operation>, Decision)>, String> {
        let reader = Reader {
            consts: &self.consts,
            resolve,
        };
        let mut out = Vec::new();
        for arm in &self.arms {
            let ops = arm
                .variants
                .iter()
                .map(|v| {
                    resolve(v).ok_or_else(|| {
                        format!(
                            "{}:{}: no operation `O::{v}` in the specs",
                            super::landing::TABLE,
                            arm.line
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let decision = reader.decision(&arm.body)?;
            if let Decision::Tool(row) = decision {
                let mut routed = row.route.operations();
                let mut matched = ops.clone();
                routed.sort_by_key(|op| op.operation_id());
                matched.sort_by_key(|op| op.operation_id());
                if routed != matched {
                    return Err(format!(
                        "{}:{}: the arm of tool `{}` matches {} but its route reaches {}: \
                         an arm matches exactly the operations its row routes",
                        super::landing::TABLE,
                        arm.line,
                        row.name,
                        names(&matched),
                        names(&routed),
                    ));
                }
            }
            out.push((ops, decision));
        }
        Ok(out)
    }
}

fn names(ops: &[Operation]) -> String {
    ops.iter()
        .map(|op| format!("`{}`", op.operation_id()))
        .collect::<Vec<_>>()
        .join(" and ")
}

/// `O::A` or `O::A | O::B`: the variant names.
fn pattern_variants(pat: &syn::Pat) -> Result<Vec<String>, String> {
    match pat {
        syn::Pat::Or(or) => {
            let mut out = Vec::new();
            for case in &or.cases {
                out.extend(pattern_variants(case)?);
            }
            Ok(out)
        }
        syn::Pat::Path(p) => operation_variant(&p.path)
            .map(|v| vec![v])
            .ok_or_else(|| error_at(pat, "an arm matches `O::Variant` paths only")),
        _ => Err(error_at(pat, "an arm matches `O::Variant` paths only")),
    }
}

/// The variant of `O::Variant` / `Operation::Variant`.
fn operation_variant(path: &syn::Path) -> Option<String> {
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    match segments.as_slice() {
        [prefix, variant] if prefix == "O" || prefix == "Operation" => Some(variant.clone()),
        _ => None,
    }
}

/// The `ToolRow { .. }` of `Tool(&ToolRow { .. })`, when the arm serves a tool.
fn tool_row(body: &syn::Expr) -> Option<&syn::Expr> {
    let syn::Expr::Call(call) = body else {
        return None;
    };
    let syn::Expr::Path(f) = &*call.func else {
        return None;
    };
    if f.path.segments.last()?.ident != "Tool" {
        return None;
    }
    match call.args.first()? {
        syn::Expr::Reference(r) => Some(&r.expr),
        _ => None,
    }
}

fn field<'a>(row: &'a syn::ExprStruct, name: &str) -> Result<&'a syn::Expr, String> {
    row.fields
        .iter()
        .find(|f| matches!(&f.member, syn::Member::Named(n) if n == name))
        .map(|f| &f.expr)
        .ok_or_else(|| error_at(row, format!("the row has no field `{name}`")))
}

fn string(expr: &syn::Expr) -> Result<String, String> {
    match expr {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(s),
            ..
        }) => Ok(s.value()),
        _ => Err(error_at(expr, "expected a string literal")),
    }
}

/// The last segment of a path expression (`Access::Read` → `Read`).
fn last_ident(expr: &syn::Expr) -> Option<String> {
    match expr {
        syn::Expr::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}

/// Text that lives as long as the build script (rows are `&'static`).
fn keep(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

/// Reads rows into the row types, resolving the file's `const`s.
struct Reader<'a> {
    consts: &'a BTreeMap<String, syn::Expr>,
    resolve: &'a dyn Fn(&str) -> Option<Operation>,
}

impl Reader<'_> {
    /// A `const` of the file, when `expr` names one.
    fn deref<'e>(&'e self, expr: &'e syn::Expr) -> &'e syn::Expr {
        match expr {
            syn::Expr::Path(p) if p.path.segments.len() == 1 => self
                .consts
                .get(&p.path.segments[0].ident.to_string())
                .unwrap_or(expr),
            _ => expr,
        }
    }

    fn decision(&self, body: &syn::Expr) -> Result<Decision, String> {
        if let Some(row) = tool_row(body) {
            let row = self.row(row)?;
            return Ok(Decision::Tool(Box::leak(Box::new(row))));
        }
        if let syn::Expr::Call(call) = body
            && let syn::Expr::Path(f) = &*call.func
            && f.path.segments.last().is_some_and(|s| s.ident == "Skipped")
            && let Some(reason) = call.args.first()
        {
            return Ok(Decision::Skipped(keep(string(reason)?)));
        }
        Err(error_at(
            body,
            "an arm is `Tool(&ToolRow { .. })` or `Decision::Skipped(\"why\")`",
        ))
    }

    fn row(&self, expr: &syn::Expr) -> Result<ToolRow, String> {
        let syn::Expr::Struct(row) = self.deref(expr) else {
            return Err(error_at(expr, "expected `ToolRow { .. }`"));
        };
        let text = |name| field(row, name).and_then(string).map(keep);
        let access = field(row, "access")?;
        let toolset = field(row, "toolset")?;
        Ok(ToolRow {
            name: text("name")?,
            title: text("title")?,
            description: text("description")?,
            route: self.route(field(row, "route")?)?,
            access: match last_ident(access).as_deref() {
                Some("Read") => Access::Read,
                Some("Write") => Access::Write,
                Some("Replace") => Access::Replace,
                Some("Destructive") => Access::Destructive,
                _ => return Err(error_at(access, "expected an `Access::..` variant")),
            },
            toolset: last_ident(toolset)
                .and_then(|name| Toolset::ALL.into_iter().find(|t| format!("{t:?}") == name))
                .ok_or_else(|| error_at(toolset, "expected a `Toolset::..` variant"))?,
            args: self.args(field(row, "args")?)?,
        })
    }

    fn operation(&self, expr: &syn::Expr) -> Result<Operation, String> {
        let syn::Expr::Path(p) = expr else {
            return Err(error_at(expr, "expected `O::Variant`"));
        };
        let variant =
            operation_variant(&p.path).ok_or_else(|| error_at(expr, "expected `O::Variant`"))?;
        (self.resolve)(&variant)
            .ok_or_else(|| error_at(expr, format!("no operation `O::{variant}` in the specs")))
    }

    fn route(&self, expr: &syn::Expr) -> Result<Route, String> {
        match self.deref(expr) {
            syn::Expr::Call(call) if last_ident(&call.func).as_deref() == Some("One") => {
                let op = call
                    .args
                    .first()
                    .ok_or_else(|| error_at(call, "`One` takes an operation"))?;
                Ok(Route::One(self.operation(op)?))
            }
            syn::Expr::Struct(s)
                if s.path
                    .segments
                    .last()
                    .is_some_and(|l| l.ident == "ByPresence") =>
            {
                Ok(Route::ByPresence {
                    arg: keep(string(field(s, "arg")?)?),
                    present: self.operation(field(s, "present")?)?,
                    absent: self.operation(field(s, "absent")?)?,
                })
            }
            other => Err(error_at(
                other,
                "expected `One(O::Variant)` or `Route::ByPresence { .. }`",
            )),
        }
    }

    fn args(&self, expr: &syn::Expr) -> Result<&'static [ArgRule], String> {
        let list = match self.deref(expr) {
            syn::Expr::Reference(r) => match &*r.expr {
                syn::Expr::Array(a) => a,
                other => return Err(error_at(other, "expected `&[..]`")),
            },
            other => return Err(error_at(other, "expected `&[..]`")),
        };
        let rules = list
            .elems
            .iter()
            .map(|e| self.arg_rule(e))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Box::leak(rules.into_boxed_slice()))
    }

    fn arg_rule(&self, expr: &syn::Expr) -> Result<ArgRule, String> {
        let expr = self.deref(expr);
        let text = |e: &syn::Expr| string(e).map(keep);
        match expr {
            syn::Expr::Call(call) => {
                let value = call
                    .args
                    .first()
                    .ok_or_else(|| error_at(call, "expected one argument"))?;
                match last_ident(&call.func).as_deref() {
                    Some("BodyAs") => Ok(ArgRule::BodyAs(text(value)?)),
                    Some("Opaque") => Ok(ArgRule::Opaque(text(value)?)),
                    _ => Err(error_at(call, "unknown `ArgRule` variant")),
                }
            }
            syn::Expr::Struct(s) => {
                let variant = s.path.segments.last().map(|l| l.ident.to_string());
                let get = |name| field(s, name).and_then(text);
                match variant.as_deref() {
                    Some("Rename") => Ok(ArgRule::Rename {
                        spec: get("spec")?,
                        tool: get("tool")?,
                    }),
                    Some("OrgIdFallback") => Ok(ArgRule::OrgIdFallback {
                        spec: get("spec")?,
                        tool: get("tool")?,
                    }),
                    Some("Describe") => Ok(ArgRule::Describe {
                        tool: get("tool")?,
                        text: get("text")?,
                    }),
                    _ => Err(error_at(s, "unknown `ArgRule` variant")),
                }
            }
            other => Err(error_at(other, "expected an `ArgRule`")),
        }
    }
}

/// One use of a generated operation in the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Use {
    /// The file.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// What encloses it: ``row `name` `` (an arm of the table) or ``fn `name` ``.
    pub within: String,
}

impl std::fmt::Display for Use {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{} ({})", self.file, self.line, self.within)
    }
}

/// Every use of each operation variant, by variant name.
pub type Uses = BTreeMap<String, Vec<Use>>;

/// Every `O::Variant` (in a file that says `use Operation as O`) or
/// `Operation::Variant` path in `sources`; a file that does not parse is skipped (rustc
/// reports it). In the table, a use inside an arm is ``row `name` `` (or ``skip``).
pub fn uses(sources: &[SourceFile]) -> Uses {
    let mut out = Uses::new();
    for source in sources {
        let Ok(file) = syn::parse_file(&source.text) else {
            continue;
        };
        let table = (source.path == super::landing::TABLE)
            .then(|| Table::parse(&source.text).ok())
            .flatten();
        let mut visitor = Visitor {
            aliased: source.text.contains("Operation as O"),
            within: Vec::new(),
            found: Vec::new(),
        };
        syn::visit::Visit::visit_file(&mut visitor, &file);
        for (variant, line, within) in visitor.found {
            // In the table, a use inside an arm is the arm: the last one starting at or
            // before the line, up to the end of the `match`.
            let arm = table.as_ref().and_then(|t| {
                let arm = t.arms.iter().rev().find(|a| a.line <= line)?;
                (line < t.end_line).then_some(arm)
            });
            let found = match arm {
                Some(arm) => Use {
                    file: source.path.clone(),
                    line: arm.line,
                    within: match &arm.tool {
                        Some(name) => format!("row `{name}`"),
                        None => "skip".to_string(),
                    },
                },
                None => Use {
                    file: source.path.clone(),
                    line,
                    within,
                },
            };
            let list = out.entry(variant).or_default();
            if !list.contains(&found) {
                list.push(found);
            }
        }
    }
    out
}

struct Visitor {
    aliased: bool,
    within: Vec<String>,
    found: Vec<(String, usize, String)>,
}

impl<'ast> syn::visit::Visit<'ast> for Visitor {
    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        self.within.push(format!("`fn {}`", f.sig.ident));
        syn::visit::visit_item_fn(self, f);
        self.within.pop();
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        self.within.push(format!("`fn {}`", f.sig.ident));
        syn::visit::visit_impl_item_fn(self, f);
        self.within.pop();
    }

    fn visit_item_const(&mut self, c: &'ast syn::ItemConst) {
        self.within.push(format!("`{}`", c.ident));
        syn::visit::visit_item_const(self, c);
        self.within.pop();
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let is_use = path.segments.len() == 2
            && (path.segments[0].ident == "Operation"
                || (self.aliased && path.segments[0].ident == "O"));
        if let (true, Some(variant)) = (is_use, operation_variant(path)) {
            let is_variant = variant.starts_with(|c: char| c.is_ascii_uppercase())
                && variant.chars().any(|c| c.is_ascii_lowercase());
            if is_variant {
                let within = self
                    .within
                    .last()
                    .cloned()
                    .unwrap_or_else(|| "top level".into());
                self.found.push((variant, line_of(path), within));
            }
        }
        syn::visit::visit_path(self, path);
    }
}
