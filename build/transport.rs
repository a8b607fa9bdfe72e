//! The clients: progenitor's input (a transport view of each patched spec) and its
//! output, with every path parameter routed through this crate's own encoder.

use crate::generate::Methods;
use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};
use std::path::Path;

/// The document progenitor sees. It differs from the patched spec in four ways,
/// all because docs/decisions.md ("Results and errors") wants exact, status-agnostic
/// wire handling:
/// - responses are dropped, so every method returns the raw body for any 2xx and
///   `UnexpectedResponse` (status + raw body) otherwise; decoding, the envelope and
///   output-schema checks happen once, in `src/call/outcome.rs` and
///   `src/call/present.rs`, against the patched spec;
/// - request bodies are `serde_json::Value`: typify's structs drop an explicit
///   `null` of an optional field (`{"budget_limit": null}` would go out as `{}`) and
///   unknown bundle fields; bodies are validated against the exact schema first;
/// - schema-level `anyOf` lists made only of `required` (e.g. "dir or template") are
///   validation rules, not types; they are dropped for typify;
/// - components no operation reaches any more are dropped, so no type is generated
///   that nothing uses (the call pipeline validates and sends JSON values).
pub fn view(doc: &Value) -> Result<Value> {
    let mut view = doc.clone();
    for op in crate::spec::inventory::operations(doc) {
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
        refs_in(&node, &mut refs);
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
                        crate::spec::inventory::escape_token(name)
                    ))
                });
            }
        }
    }
}

fn refs_in(node: &Value, out: &mut Vec<String>) {
    match node {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                out.push(r.clone());
            }
            map.values().for_each(|v| refs_in(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| refs_in(v, out)),
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

pub fn generate(view: &Value, out_file: &Path, spec_name: &str) -> Result<Methods> {
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
        Err(payload) => Err(crate::spec::text::panic_message(&*payload)
            .map(|s| format!("progenitor panicked: {s}"))
            .unwrap_or_else(|| "progenitor panicked".to_string())),
    }
}

/// Regenerates one operation at a time to name the one progenitor cannot handle.
fn find_panicking_operation(view: &Value) -> Option<String> {
    crate::spec::inventory::operations(view)
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
