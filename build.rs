//! Build script: vendored spec + overrides -> patched spec -> progenitor clients, the
//! `Operation` enum and its call glue, and every tool definition.
//!
//! 1. Load `spec/management.yaml` (tenant) and `spec/cp-admin.yaml` (control plane),
//!    OpenAPI 3.0 or 3.1, normalised to the 3.0 subset (`src/spec/normalise.rs`), and
//!    check their operation ids once.
//! 2. Apply `overrides/*.yaml` to the tenant spec in file-name order, then check the
//!    specs against the crate (`src/spec/landing.rs`): a redundant override (the spec
//!    already holds the live shape) is a warning to delete it; a conflicting override,
//!    an operation the code uses that the specs lost, or a spec operation the tool table
//!    does not decide stops the build with every step to do, each naming the file and
//!    line to edit.
//! 3. Write both patched specs as JSON to `OUT_DIR` (drift and the sandbox read them).
//! 4. Generate one client per spec with progenitor from a *transport view* of the
//!    patched spec (`build/transport.rs`), formatted with prettyplease; a progenitor
//!    panic becomes an error naming the operation.
//! 5. Generate `operations.rs` with `quote!` (`build/generate.rs`): the `Operation` enum
//!    over both specs and the glue that calls each operation's generated client method
//!    (`Operation::send`), from the same parameter list the tool schemas are derived
//!    from. The traits and types it implements are in `src/operations.rs`.
//! 6. Read the tool table (`src/tools/table.rs`) with `syn` and derive every tool's
//!    schemas and call plans from the patched specs with the crate's own code
//!    (`src/tools/derive.rs`, compiled here through `#[path]`): serving parses no spec
//!    (docs/architecture.md, "Build time").
//! 7. Hand the linker the functions a session runs, to place together
//!    (`build/layout.rs`).

use anyhow::{Context, Result, bail};
use serde_json::Value;
use std::path::{Path, PathBuf};

#[allow(dead_code)]
#[path = "src/spec/mod.rs"]
mod spec;

#[allow(dead_code)]
#[path = "src/tools/row.rs"]
mod row;

#[allow(dead_code)]
#[path = "src/tools/derive.rs"]
mod derive;

#[allow(dead_code)]
#[path = "src/tools/json_schema.rs"]
mod json_schema;

/// The crate's `tools` module, as far as the files compiled here name it.
mod tools {
    pub(crate) use crate::row;
}

#[path = "build/generate.rs"]
mod generate;

#[path = "build/transport.rs"]
mod transport;

#[path = "build/layout.rs"]
mod layout;

/// What the shared files call `crate::Operation`: in the crate, the generated enum; here,
/// before it exists, an operation of the specs by its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Operation {
    id: &'static str,
}

impl Operation {
    /// The spec's `operationId`.
    pub fn operation_id(self) -> &'static str {
        self.id
    }
}

impl serde::Serialize for Operation {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id)
    }
}

/// Which API (and so which generated client) serves a spec's operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// `spec/management.yaml`, the tenant.
    Tenant,
    /// `spec/cp-admin.yaml`, the control plane.
    ControlPlane,
}

/// One vendored spec, patched and inventoried.
pub struct Spec {
    /// Its API.
    pub api: Api,
    /// Its file, relative to the crate root.
    pub file: &'static str,
    /// The patched document.
    pub doc: Value,
    /// Its operations, in spec order.
    pub ops: Vec<spec::inventory::Endpoint>,
}

fn main() -> Result<()> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    // Cargo watches a directory recursively. Of the rest of `src/`, the files compiled
    // here and the table are watched; the others are read only to explain a failure
    // the compiler would otherwise report (and a failed build script always reruns).
    for watched in [
        "spec",
        "overrides",
        "build",
        "src/spec",
        "src/tools/row.rs",
        "src/tools/derive.rs",
        "src/tools/json_schema.rs",
        "src/tools/table.rs",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }

    // The binary's code layout: what a session runs, placed together.
    layout::link_args(&root);

    // 1-2. Load (OpenAPI 3.0 or 3.1, normalised), apply the overrides.
    let tenant = load_spec(&root, "spec/management.yaml")?;
    let overrides = spec::overrides::load_dir(&root.join("overrides"))?;
    let applied = spec::overrides::apply_all(&tenant, &overrides);
    let specs = [
        inventoried(Api::Tenant, "spec/management.yaml", applied.doc.clone())?,
        inventoried(
            Api::ControlPlane,
            "spec/cp-admin.yaml",
            load_spec(&root, "spec/cp-admin.yaml")?,
        )?,
    ];

    // What the maintainer must do next, if the specs changed: warn, or stop with all of it.
    let sources = spec::landing::crate_sources(&root).context("reading src/")?;
    let checklist = spec::landing::Checklist::new(
        &specs
            .iter()
            .map(|s| (s.file, s.ops.as_slice()))
            .collect::<Vec<_>>(),
        &applied,
        &sources,
    );
    if checklist.blocks() {
        fail(&checklist.failure(last_good_binary(&out).as_deref()));
    }
    for warning in checklist.warnings() {
        println!("cargo:warning={warning}");
    }

    // 3. The patched specs.
    for spec in &specs {
        let file = patched_file(spec.api);
        let text = serde_json::to_string_pretty(&spec.doc)?;
        std::fs::write(out.join(file), text).with_context(|| format!("writing {file}"))?;
    }

    // 4. The clients.
    let mut methods = generate::Methods::new();
    for spec in &specs {
        let (file, name) = match spec.api {
            Api::Tenant => ("tenant_client.rs", "management"),
            Api::ControlPlane => ("cp_client.rs", "cp-admin"),
        };
        methods.extend(transport::generate(
            &transport::view(&spec.doc)?,
            &out.join(file),
            name,
        )?);
    }

    // 5. The operations and their glue.
    write_rust(
        &out.join("operations.rs"),
        generate::operations(&specs, &methods)?,
    )?;
    write_rust(
        &out.join("overrides_embedded.rs"),
        generate::embedded_overrides(&overrides, &root),
    )?;

    // 6. The tools.
    let table_text = sources
        .iter()
        .find(|s| s.path == spec::landing::TABLE)
        .map(|s| s.text.as_str())
        .context("reading src/tools/table.rs")?;
    match generate::tools(table_text, &specs) {
        Ok(tokens) => write_rust(&out.join("tools.rs"), tokens)?,
        Err(message) => fail(&message),
    }
    Ok(())
}

/// The patched spec's file name in `OUT_DIR` (embedded by `src/lib.rs`).
fn patched_file(api: Api) -> &'static str {
    match api {
        Api::Tenant => "management.patched.json",
        Api::ControlPlane => "cp-admin.patched.json",
    }
}

/// Formats generated tokens with prettyplease and writes them.
fn write_rust(path: &Path, tokens: proc_macro2::TokenStream) -> Result<()> {
    let file = syn::parse2(tokens)
        .with_context(|| format!("build.rs generated unparsable code for {}", path.display()))?;
    std::fs::write(path, prettyplease::unparse(&file))
        .with_context(|| format!("writing {}", path.display()))
}

/// Stops the build with a message for the maintainer, printed as is: no `Error:`
/// prefix and no backtrace around a list of things to do.
fn fail(message: &str) -> ! {
    eprintln!("{}", message.trim_end());
    std::process::exit(1);
}

/// Loads and normalises one spec; keywords dropped from response-only schemas are
/// said, never dropped silently.
fn load_spec(root: &Path, relative: &str) -> Result<Value> {
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

/// The spec's operations, each with an id that is present, snake_case and unique.
fn inventoried(api: Api, file: &'static str, doc: Value) -> Result<Spec> {
    let ops = spec::inventory::operations(&doc);
    let mut seen = std::collections::BTreeSet::new();
    for op in &ops {
        if op.id.is_empty() {
            bail!("{file}: {} {} has no operationId", op.method, op.path);
        }
        if !op
            .id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            bail!("{file}: operationId `{}` is not snake_case", op.id);
        }
        if !seen.insert(op.id.clone()) {
            bail!("{file}: operationId `{}` is used twice", op.id);
        }
    }
    Ok(Spec {
        api,
        file,
        doc,
        ops,
    })
}

impl<'de> serde::Deserialize<'de> for Operation {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let id = String::deserialize(d)?;
        Ok(Operation {
            id: Box::leak(id.into_boxed_str()),
        })
    }
}
