//! Build script: vendored spec + overrides -> patched spec -> progenitor clients.
//!
//! 1. Load `spec/management.yaml` (tenant) and `spec/cp-admin.yaml` (control plane),
//!    OpenAPI 3.0 or 3.1, normalised to the 3.0 subset (`src/spec/normalise.rs`).
//! 2. Apply `overrides/*.yaml` to the tenant spec in file-name order, then check the
//!    specs against the crate (`src/spec/landing.rs`): a redundant override (the spec
//!    already holds the live shape) is a warning to delete it; a conflicting override,
//!    an operation the code uses that the specs lost, or a spec operation nothing binds
//!    stops the build with every step to do, each naming the file and line to edit.
//! 3. Write both patched specs as JSON to `OUT_DIR` (the binary embeds them: tool
//!    schemas and the drift report are derived from them).
//! 4. Generate one client per spec with progenitor from a *transport view* of the
//!    patched spec (see `transport_view`), format it with prettyplease, write it to
//!    `OUT_DIR`; a progenitor panic becomes an error naming the operation.
//! 5. Write `operations.rs`: the `Operation` enum over both specs (the tool table
//!    binds or skips each one), and the glue that calls each operation's generated
//!    client method with the call's arguments read by location (`Operation::send`),
//!    generated from the same parameter list the tool schemas are derived from.

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

#[allow(dead_code)]
#[path = "src/spec/mod.rs"]
mod spec;

fn main() -> Result<()> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    // Cargo watches a directory recursively. The rest of `src/` is not watched: a
    // failed build script always runs again, and the checks below read it only to
    // explain a failure the compiler would otherwise report.
    for watched in ["spec", "overrides", "src/spec"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }

    // 1-2. Load (OpenAPI 3.0 or 3.1, normalised), apply the overrides.
    let tenant = load_spec(&root, "spec/management.yaml")?;
    let overrides = spec::overrides::load_dir(&root.join("overrides"))?;
    let applied = spec::overrides::apply_all(&tenant, &overrides);
    let cp = load_spec(&root, "spec/cp-admin.yaml")?;

    // What the maintainer must do next, if the specs changed: warn, or stop with all of it.
    let tenant_ops = spec::inventory::operations(&applied.doc);
    let cp_ops = spec::inventory::operations(&cp);
    check_operation_ids("management", &tenant_ops)?;
    check_operation_ids("cp-admin", &cp_ops)?;
    let plan = spec::landing::Plan::new(
        &[
            ("spec/management.yaml", &tenant_ops),
            ("spec/cp-admin.yaml", &cp_ops),
        ],
        &applied,
        &spec::landing::crate_sources(&root).context("reading src/")?,
    );
    if plan.blocks() {
        fail(&plan.failure(last_good_binary(&out).as_deref()));
    }
    for warning in plan.warnings() {
        println!("cargo:warning={warning}");
    }

    let mut all_ops = Vec::new();
    for (name, doc, file) in [
        ("management", &applied.doc, "management.patched.json"),
        ("cp-admin", &cp, "cp-admin.patched.json"),
    ] {
        let text = serde_json::to_string_pretty(doc)?;
        std::fs::write(out.join(file), text).with_context(|| format!("writing {file}"))?;
        let ops = spec::inventory::operations(doc);
        check_operation_ids(name, &ops)?;
        all_ops.extend(ops.into_iter().map(|o| (name, o)));
    }

    let mut methods = generate(
        &transport_view(&applied.doc)?,
        &out.join("tenant_client.rs"),
        "management",
    )?;
    methods.extend(generate(
        &transport_view(&cp)?,
        &out.join("cp_client.rs"),
        "cp-admin",
    )?);
    let docs = [("management", &applied.doc), ("cp-admin", &cp)];
    let mut source = operations_source(&all_ops)?;
    source += &send_source(&all_ops, &docs, &methods)?;
    std::fs::write(out.join("operations.rs"), source).context("writing operations.rs")?;
    std::fs::write(
        out.join("overrides_embedded.rs"),
        embedded_overrides(&overrides, &root)?,
    )
    .context("writing overrides_embedded.rs")?;
    Ok(())
}

/// Stops the build with a message for the maintainer, printed as is: no `Error:`
/// prefix and no backtrace around a list of things to do.
fn fail(message: &str) -> ! {
    eprintln!("{}", message.trim_end());
    std::process::exit(1);
}

/// Loads and normalises one spec; keywords dropped from response-only schemas are
/// said, never dropped silently.
fn load_spec(root: &Path, relative: &str) -> Result<serde_json::Value> {
    let loaded = match spec::load::load(&root.join(relative)) {
        Ok(loaded) => loaded,
        // Printed as is (no `Error:` prefix, no backtrace), naming the file as the
        // maintainer knows it rather than by its absolute path.
        Err(e) => fail(
            &e.to_string()
                .replace(&root.join(relative).display().to_string(), relative),
        ),
    };
    for note in &loaded.dropped {
        println!("cargo:warning={relative}: {note}");
    }
    Ok(loaded.doc)
}

/// `molecule-mcp drift --spec spec/management.yaml` with the binary of the last
/// successful build of this profile, when there is one: it works while this build
/// fails. OUT_DIR is `<target>/<profile>/build/<package>-<hash>/out`.
fn last_good_binary(out: &Path) -> Option<String> {
    let profile_dir = out.ancestors().nth(3)?;
    let binary = profile_dir.join(format!("molecule-mcp{}", std::env::consts::EXE_SUFFIX));
    binary
        .is_file()
        .then(|| format!("{} drift --spec spec/management.yaml", binary.display()))
}

fn check_operation_ids(spec_name: &str, ops: &[spec::inventory::Endpoint]) -> Result<()> {
    let mut seen = std::collections::BTreeSet::new();
    for op in ops {
        if op.id.is_empty() {
            bail!("{spec_name}: {} {} has no operationId", op.method, op.path);
        }
        if !op
            .id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            bail!("{spec_name}: operationId `{}` is not snake_case", op.id);
        }
        if !seen.insert(op.id.clone()) {
            bail!("{spec_name}: operationId `{}` is used twice", op.id);
        }
    }
    Ok(())
}

/// The document progenitor sees. It differs from the patched spec in four ways,
/// all because docs/decisions.md ("Results and errors") wants exact, status-agnostic
/// wire handling:
/// - responses are dropped, so every method returns the raw body for any 2xx and
///   `UnexpectedResponse` (status + raw body) otherwise; decoding, the envelope and
///   output-schema checks happen once, in `src/call.rs`, against the patched spec;
/// - request bodies are `serde_json::Value`: typify's structs drop an explicit
///   `null` of an optional field (`{"budget_limit": null}` would go out as `{}`) and
///   unknown bundle fields; bodies are validated against the exact schema first;
/// - schema-level `anyOf` lists made only of `required` (e.g. "dir or template") are
///   validation rules, not types; they are dropped for typify;
/// - components no operation reaches any more are dropped, so no type is generated
///   that nothing uses (the call pipeline validates and sends JSON values).
fn transport_view(doc: &Value) -> Result<Value> {
    let mut view = doc.clone();
    for op in spec::inventory::operations(doc) {
        let node = view
            .pointer_mut(&op.pointer)
            .ok_or_else(|| anyhow!("operation {} vanished", op.id))?;
        node["responses"] = json!({});
        if let Some(media) = node.pointer_mut("/requestBody/content/application~1json") {
            media["schema"] = json!({ "description": "JSON body, validated before sending" });
        }
    }
    if let Some(schemas) = view
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        for schema in schemas.values_mut() {
            strip_required_only_combinators(schema);
        }
    }
    keep_only_reachable_components(&mut view);
    Ok(view)
}

/// Drops every component the operations no longer reach. With responses dropped and
/// bodies untyped, the component schemas would only become generated types nothing
/// uses; a parameter that refers to one keeps it (and what it refers to).
fn keep_only_reachable_components(view: &mut Value) {
    let mut reached = std::collections::BTreeSet::new();
    let mut todo = vec![view.get("paths").cloned().unwrap_or(Value::Null)];
    while let Some(node) = todo.pop() {
        let mut refs = Vec::new();
        collect_refs(&node, &mut refs);
        for r in refs {
            if reached.insert(r.clone())
                && let Some(target) = r.strip_prefix('#').and_then(|p| view.pointer(p))
            {
                todo.push(target.clone());
            }
        }
    }
    if let Some(components) = view.get_mut("components").and_then(Value::as_object_mut) {
        for (kind, entries) in components.iter_mut() {
            if let Some(entries) = entries.as_object_mut() {
                entries.retain(|name, _| {
                    reached.contains(&format!(
                        "#/components/{kind}/{}",
                        spec::inventory::escape_token(name)
                    ))
                });
            }
        }
    }
}

fn collect_refs(node: &Value, out: &mut Vec<String>) {
    match node {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                out.push(r.clone());
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

fn strip_required_only_combinators(schema: &mut Value) {
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    for key in ["anyOf", "oneOf"] {
        let only_required = obj
            .get(key)
            .and_then(Value::as_array)
            .is_some_and(|branches| {
                branches.iter().all(|b| {
                    b.as_object()
                        .is_some_and(|m| m.keys().all(|k| k == "required"))
                })
            });
        if only_required {
            obj.remove(key);
        }
    }
}

/// The parameter names of each generated client method, in positional order.
type Methods = std::collections::BTreeMap<String, Vec<String>>;

fn generate(view: &Value, out_file: &Path, spec_name: &str) -> Result<Methods> {
    let api: openapiv3::OpenAPI = serde_json::from_value(view.clone())
        .with_context(|| format!("{spec_name}: the patched spec is not valid OpenAPI 3.0"))?;
    let tokens = match run_progenitor(&api) {
        Ok(tokens) => tokens,
        Err(message) => {
            let culprit = find_panicking_operation(view);
            bail!(
                "progenitor failed on the {spec_name} spec{}: {message}",
                culprit
                    .map(|c| format!(" at operation `{c}`"))
                    .unwrap_or_default()
            );
        }
    };
    let file = syn::parse_file(&tokens.to_string())
        .with_context(|| format!("{spec_name}: progenitor produced unparsable code"))?;
    let code = own_path_encoding(&prettyplease::unparse(&file))
        .with_context(|| format!("{spec_name}: rewriting the generated client's path encoding"))?;
    std::fs::write(out_file, code).with_context(|| format!("writing {}", out_file.display()))?;
    Ok(client_methods(&file))
}

/// `impl Client`'s methods and their parameter names (after `&self`), in order.
fn client_methods(file: &syn::File) -> Methods {
    let mut out = Methods::new();
    for item in &file.items {
        let syn::Item::Impl(block) = item else {
            continue;
        };
        let is_client = block.trait_.is_none()
            && matches!(&*block.self_ty, syn::Type::Path(p) if p.path.is_ident("Client"));
        if !is_client {
            continue;
        }
        for member in &block.items {
            let syn::ImplItem::Fn(method) = member else {
                continue;
            };
            let params = method
                .sig
                .inputs
                .iter()
                .filter_map(|input| match input {
                    syn::FnArg::Typed(typed) => match &*typed.pat {
                        syn::Pat::Ident(p) => Some(p.ident.to_string()),
                        _ => None,
                    },
                    syn::FnArg::Receiver(_) => None,
                })
                .collect();
            out.insert(method.sig.ident.to_string(), params);
        }
    }
    out
}

/// Routes every path parameter of the generated client through this crate's own
/// encoder, `crate::client::path_segment`. progenitor's `encode_path` leaves `\` (and
/// other bytes) unencoded, and the URL parser reads `\` as `/` in http URLs, so an id
/// could climb out of its segment (docs/security.md, "Path parameters"). The rewrite is
/// checked: after it, `encode_path` may only remain in the `use` line, so a progenitor
/// that encodes paths some other way fails the build here instead of bypassing the
/// encoder.
fn own_path_encoding(code: &str) -> Result<String> {
    const THEIRS: &str = "encode_path(";
    const OURS: &str = "crate::client::path_segment(";
    let rewritten = code
        .replace(
            "use progenitor_client::{encode_path, ",
            "use progenitor_client::{",
        )
        .replace(THEIRS, OURS);
    if rewritten.contains("encode_path") {
        bail!(
            "the generated client still names progenitor's encode_path after the rewrite: \
             progenitor changed how it builds paths; update own_path_encoding in build.rs"
        );
    }
    Ok(rewritten)
}

/// Runs progenitor, turning both its errors and its panics into a message.
fn run_progenitor(
    api: &openapiv3::OpenAPI,
) -> std::result::Result<proc_macro2::TokenStream, String> {
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut settings = progenitor_impl::GenerationSettings::default();
        settings.with_interface(progenitor_impl::InterfaceStyle::Positional);
        progenitor_impl::Generator::new(&settings).generate_tokens(api)
    }));
    std::panic::set_hook(previous_hook);
    match result {
        Ok(Ok(tokens)) => Ok(tokens),
        Ok(Err(e)) => Err(e.to_string()),
        Err(payload) => Err(spec::text::panic_message(&*payload)
            .map(|s| format!("progenitor panicked: {s}"))
            .unwrap_or_else(|| "progenitor panicked".to_string())),
    }
}

/// Regenerates one operation at a time to name the one progenitor cannot handle.
fn find_panicking_operation(view: &Value) -> Option<String> {
    spec::inventory::operations(view)
        .into_iter()
        .find_map(|op| {
            let mut single = view.clone();
            let item = view.pointer(&op.pointer)?.clone();
            single["paths"] = json!({ op.path.clone(): { op.method.to_ascii_lowercase(): item } });
            let api: openapiv3::OpenAPI = serde_json::from_value(single).ok()?;
            run_progenitor(&api)
                .is_err()
                .then(|| format!("{} ({} {})", op.id, op.method, op.path))
        })
}

/// The override files, embedded so that `molecule-mcp drift` works without the repo.
fn embedded_overrides(overrides: &[spec::overrides::Override], root: &Path) -> Result<String> {
    let mut s = String::from(
        "/// `(file name, text)` of every override, in application order.\npub const OVERRIDES: &[(&str, &str)] = &[\n",
    );
    for ov in overrides {
        let path = root.join("overrides").join(&ov.file);
        s += &format!(
            "    ({:?}, include_str!({:?})),\n",
            ov.file,
            path.display().to_string()
        );
    }
    s += "];\n";
    Ok(s)
}

fn operations_source(ops: &[(&str, spec::inventory::Endpoint)]) -> Result<String> {
    let mut seen = std::collections::BTreeSet::new();
    for (_, op) in ops {
        if !seen.insert(&op.id) {
            bail!("operationId `{}` appears in both specs", op.id);
        }
    }
    let mut s = String::from(
        "/// Every operation of the patched specs (generated by build.rs from `spec/`).\n\
         #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]\n\
         pub enum Operation {\n",
    );
    for (api, op) in ops {
        s += &format!(
            "    /// `{} {}` ({api} spec)\n    {},\n",
            op.method,
            op.path,
            spec::landing::variant(&op.id)
        );
    }
    s += "}\n\nimpl Operation {\n    /// All operations, in spec order.\n    pub const ALL: &'static [Operation] = &[\n";
    for (_, op) in ops {
        s += &format!("        Operation::{},\n", spec::landing::variant(&op.id));
    }
    s += "    ];\n\n    /// The spec's `operationId`.\n    pub const fn operation_id(self) -> &'static str {\n        match self {\n";
    for (_, op) in ops {
        s += &format!(
            "            Operation::{} => {:?},\n",
            spec::landing::variant(&op.id),
            op.id
        );
    }
    s += "        }\n    }\n\n    /// The spec's path template (the route, for traces and metrics).\n    pub const fn route(self) -> &'static str {\n        match self {\n";
    for (_, op) in ops {
        s += &format!(
            "            Operation::{} => {:?},\n",
            spec::landing::variant(&op.id),
            op.path
        );
    }
    s += "        }\n    }\n\n    /// Which spec (and so which client and credential) serves it.\n    pub const fn api(self) -> Api {\n        match self {\n";
    for (api, op) in ops {
        let variant = if *api == "management" {
            "Tenant"
        } else {
            "ControlPlane"
        };
        s += &format!(
            "            Operation::{} => Api::{variant},\n",
            spec::landing::variant(&op.id)
        );
    }
    s += "        }\n    }\n}\n";
    Ok(s)
}

/// A name compared across the spec and the generated code: progenitor turns
/// `X-Confirm-Name` into `x_confirm_name` and `workspaceId` into `workspace_id`.
fn loose(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The glue from the call pipeline to the generated clients: `Operation::send` calls
/// each operation's generated method with every parameter the spec gives it, read by
/// location under its spec name. It is generated from the same parameter list the tool
/// schemas are derived from (`src/tools/schema.rs`), so an argument a tool accepts
/// always reaches the request; a generated method whose parameters do not match the
/// spec's stops the build here.
fn send_source(
    ops: &[(&str, spec::inventory::Endpoint)],
    docs: &[(&str, &Value)],
    methods: &Methods,
) -> Result<String> {
    let mut s = String::from(
        r#"
/// Where [`Operation::send`] reads one call's arguments: by location, under their spec
/// names. Implemented by the call pipeline (`src/call/args.rs`).
pub trait Arguments {
    /// Why an argument cannot be read.
    type Error;
    /// The path parameter `name` (its value becomes exactly one path segment).
    fn path(&self, name: &'static str) -> Result<&str, Self::Error>;
    /// The query parameter `name`, when given.
    fn query<'a, T: serde::Deserialize<'a>>(
        &'a self,
        name: &'static str,
    ) -> Result<Option<T>, Self::Error>;
    /// The header `name`, when given.
    fn header<'a, T: serde::Deserialize<'a>>(
        &'a self,
        name: &'static str,
    ) -> Result<Option<T>, Self::Error>;
    /// The JSON request body.
    fn body(&self) -> Result<&serde_json::Value, Self::Error>;
    /// The error for a required query parameter or header that is not given.
    fn missing(&self, location: &'static str, name: &'static str) -> Self::Error;
}

/// A request in flight: the generated client method's future.
pub type Pending<'a> = std::pin::Pin<
    Box<
        dyn std::future::Future<
                Output = Result<
                    progenitor_client::ResponseValue<progenitor_client::ByteStream>,
                    progenitor_client::Error<()>,
                >,
            > + Send
            + 'a,
    >,
>;

impl Operation {
    /// Calls this operation's generated client method (`tenant` or `cp`) with every
    /// parameter of its spec, read from `a`.
    pub fn send<'a, A: Arguments>(
        self,
        tenant: &'a crate::client::tenant::Client,
        cp: &'a crate::client::cp::Client,
        a: &'a A,
    ) -> Result<Pending<'a>, A::Error> {
        Ok(match self {
"#,
    );
    for (api, op) in ops {
        let doc = docs
            .iter()
            .find(|(name, _)| name == api)
            .map(|(_, doc)| *doc)
            .ok_or_else(|| anyhow!("no document for the {api} spec"))?;
        let node = doc
            .pointer(&op.pointer)
            .ok_or_else(|| anyhow!("operation {} vanished", op.id))?;
        let params = spec::inventory::parameters(doc, &op.pointer, node);
        let has_body = node.get("requestBody").is_some();
        let generated = methods.get(&op.id).ok_or_else(|| {
            anyhow!(
                "progenitor generated no method `{}` for operation `{}`",
                op.id,
                op.id
            )
        })?;
        let mut used = std::collections::BTreeSet::new();
        let mut args = Vec::new();
        for ident in generated {
            let found = params.iter().enumerate().find(|(_, p)| {
                p.get("name").and_then(Value::as_str).map(loose) == Some(loose(ident))
            });
            let Some((index, p)) = found else {
                if ident == "body" && has_body {
                    args.push("a.body()?".to_string());
                    used.insert(usize::MAX);
                    continue;
                }
                bail!(
                    "the generated method `{}` takes `{ident}`, which is no parameter of operation `{}` in the {api} spec",
                    op.id,
                    op.id
                );
            };
            if !used.insert(index) {
                bail!(
                    "two parameters of `{}` are both named like `{ident}`",
                    op.id
                );
            }
            let name = p.get("name").and_then(Value::as_str).unwrap_or_default();
            let location = p.get("in").and_then(Value::as_str).unwrap_or_default();
            let required = p.get("required").and_then(Value::as_bool).unwrap_or(false);
            args.push(match (location, required) {
                ("path", _) => format!("a.path({name:?})?"),
                ("query" | "header", false) => format!("a.{location}({name:?})?"),
                ("query" | "header", true) => format!(
                    "a.{location}({name:?})?.ok_or_else(|| a.missing({location:?}, {name:?}))?"
                ),
                _ => bail!(
                    "`{}`: parameter `{name}` in `{location}` is not supported",
                    op.id
                ),
            });
        }
        if used.len() != params.len() + usize::from(has_body) {
            bail!(
                "the generated method `{}` does not take every parameter of operation `{}` \
                 (it takes {generated:?})",
                op.id,
                op.id
            );
        }
        let client = if *api == "management" { "tenant" } else { "cp" };
        s += &format!(
            "            Operation::{} => Box::pin({client}.{}({})),\n",
            spec::landing::variant(&op.id),
            op.id,
            args.join(", ")
        );
    }
    s += "        })\n    }\n}\n";
    Ok(s)
}
