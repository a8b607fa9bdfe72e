//! The README's "When the spec lands on main", step by step, on the fixtures in
//! `tests/fixtures/landing/`: OpenAPI 3.1 in, overrides judged on the normalised
//! document, and the build's to-do list.
//!
//! "The build" here is build.rs's pipeline run in-process — load and normalise, apply
//! the overrides, the checks against the crate's source (`landing::Checklist`, the very
//! function build.rs calls) — then the schema derivation the server does at start-up.
//! A real `cargo build` of a copy of the crate is the ignored test at the end (minutes
//! on two cores).

use crate::overrides::{patched, root};
use molecule_mcp::drift;
use molecule_mcp::spec::inventory;
use molecule_mcp::spec::landing::{self, Checklist, Step};
use molecule_mcp::spec::load;
use molecule_mcp::spec::overrides::{self, Applied};
use molecule_mcp::spec::source::SourceFile;
use molecule_mcp::tools::{Catalog, derive as schema, table};
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    root().join("tests/fixtures/landing")
}

fn work_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("landing");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// What build.rs computes for a `spec/management.yaml` with this text.
pub struct Build {
    pub applied: Applied,
    pub plan: Checklist,
}

fn build_with(text: &str, overrides: &[overrides::Override], sources: &[SourceFile]) -> Build {
    let tenant = load::parse("spec/management.yaml", text).unwrap().doc;
    build_doc(&tenant, overrides, sources)
}

/// What build.rs computes for the (normalised) tenant spec `tenant`.
pub fn build_doc(
    tenant: &Value,
    overrides: &[overrides::Override],
    sources: &[SourceFile],
) -> Build {
    let applied = overrides::apply_all(tenant, overrides);
    let cp = load::load_openapi(&root().join("spec/cp-admin.yaml")).unwrap();
    let (tenant_ops, cp_ops) = (
        inventory::operations(&applied.doc),
        inventory::operations(&cp),
    );
    let plan = Checklist::new(
        &[
            ("spec/management.yaml", &tenant_ops),
            ("spec/cp-admin.yaml", &cp_ops),
        ],
        &applied,
        sources,
    );
    Build { applied, plan }
}

fn build(text: &str) -> Build {
    build_with(text, &repo_overrides(), &sources())
}

fn repo_overrides() -> Vec<overrides::Override> {
    overrides::load_dir(&root().join("overrides")).unwrap()
}

fn sources() -> Vec<SourceFile> {
    landing::crate_sources(&root()).unwrap()
}

/// Line numbers move whenever those files are edited; the steps do not.
fn without_line_numbers(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(pos) = rest.find(|c: char| c.is_ascii_digit()) {
        let (head, tail) = rest.split_at(pos);
        let digits = tail.len() - tail.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        out += head;
        if head.ends_with(".rs:") || head.ends_with("(line ") {
            out += "N";
        } else {
            out += &tail[..digits];
        }
        rest = &tail[digits..];
    }
    out + rest
}

fn fixture_text(name: &str) -> String {
    std::fs::read_to_string(fixtures().join(name)).unwrap()
}

/// `management.3.1.yaml` with a fixture patch applied, written as a file; its path.
fn with_patch(patch_file: &str) -> (String, PathBuf) {
    let mut doc =
        load::parse_document("management.3.1.yaml", &fixture_text("management.3.1.yaml")).unwrap();
    let patch: json_patch::Patch = yaml_serde::from_str(&fixture_text(patch_file)).unwrap();
    json_patch::patch(&mut doc, &patch.0).unwrap();
    let text = serde_json::to_string_pretty(&doc).unwrap();
    let path = work_dir().join(patch_file.replace(".patch.yaml", ".json"));
    // Tests run in parallel and read this file with the binary: write, then rename.
    let partial = path.with_extension(format!("{:?}.partial", std::thread::current().id()));
    std::fs::write(&partial, &text).unwrap();
    std::fs::rename(&partial, &path).unwrap();
    (text, path)
}

/// A 3.0 document rewritten the way an OpenAPI 3.1 author writes it: how the fixture
/// is made, and the inverse the normaliser must undo.
fn to_3_1(doc: &Value) -> Value {
    let mut out = doc.clone();
    let mut nullables = 0;
    rewrite(&mut out, &mut nullables);
    let mut top = Map::new();
    top.insert("openapi".into(), json!("3.1.0"));
    top.insert(
        "jsonSchemaDialect".into(),
        json!("https://spec.openapis.org/oas/3.1/dialect/base"),
    );
    for (k, v) in out.as_object().unwrap() {
        if k != "openapi" {
            top.insert(k.clone(), v.clone());
        }
    }
    top["info"]["summary"] = json!("Tenant management routes (no wire meaning: dropped for 3.0).");
    top.insert(
        "webhooks".into(),
        json!({ "workspaceEvent": { "post": { "requestBody": { "content": { "application/json": {
            "schema": { "$ref": "#/components/schemas/Event" } } } },
            "responses": { "200": { "description": "Received." } } } } }),
    );
    Value::Object(top)
}

fn rewrite(v: &mut Value, nullables: &mut usize) {
    match v {
        Value::Array(items) => items.iter_mut().for_each(|i| rewrite(i, nullables)),
        Value::Object(map) => {
            map.values_mut().for_each(|i| rewrite(i, nullables));
            if map.shift_remove("nullable") != Some(json!(true)) {
                return;
            }
            if let Some(reference) = map.shift_remove("$ref") {
                map.insert(
                    "anyOf".into(),
                    json!([{ "$ref": reference }, { "type": "null" }]),
                );
            } else if let Some(t) = map.get("type").cloned() {
                *nullables += 1;
                if nullables.is_multiple_of(3) {
                    // Every third one as `anyOf` with a null branch, the rest as type arrays.
                    let branch: Map<String, Value> = map
                        .iter()
                        .filter(|(k, _)| *k != "description")
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    map.retain(|k, _| k == "description");
                    map.insert("anyOf".into(), json!([branch, { "type": "null" }]));
                } else {
                    map.insert("type".into(), json!([t, "null"]));
                    if let Some(Value::Array(values)) = map.get_mut("enum") {
                        values.push(Value::Null);
                    }
                }
            }
        }
        _ => {}
    }
}

const FIXTURE_HEADER: &str = "# OpenAPI 3.1 rendering of spec/management.yaml with the live shapes (the three\n# overrides applied). Generated by `to_3_1` in tests/it/landing.rs: see README.md here.\n";

#[test]
fn the_3_1_fixture_is_todays_spec_with_the_live_shapes() {
    let path = fixtures().join("management.3.1.yaml");
    let expected = to_3_1(&patched());
    if std::env::var_os("UPDATE_LANDING_FIXTURES").is_some() {
        let text = FIXTURE_HEADER.to_string() + &yaml_serde::to_string(&expected).unwrap();
        std::fs::write(&path, text).unwrap();
    }
    let text = std::fs::read_to_string(&path).unwrap();
    let written = load::parse_document("management.3.1.yaml", &text).unwrap();
    assert_eq!(written["openapi"], "3.1.0");
    assert_eq!(
        written, expected,
        "the fixture is stale: UPDATE_LANDING_FIXTURES=1 cargo test --test it landing"
    );
    assert_eq!(
        load::parse("management.3.1.yaml", &text).unwrap().doc,
        patched()
    );
}

#[test]
fn a_3_1_rendering_normalises_to_the_same_document_as_its_3_0_original() {
    let vendored_text = std::fs::read_to_string(root().join("spec/management.yaml")).unwrap();
    let raw = load::parse_document("management.yaml", &vendored_text).unwrap();
    let as_3_1 = serde_json::to_string(&to_3_1(&raw)).unwrap();
    let loaded = load::parse("m.json", &as_3_1).unwrap();
    assert_eq!(loaded.version, molecule_mcp::spec::normalise::Version::V31);
    assert!(loaded.dropped.is_empty());
    assert_eq!(
        loaded.doc,
        load::parse("management.yaml", &vendored_text).unwrap().doc
    );
}

/// Writes `doc` as `dir/management.json` and returns the drift JSON report on it.
fn drift_report(dir: &str, doc_text: &str) -> Value {
    let dir = work_dir().join(dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("management.json");
    std::fs::write(&path, doc_text).unwrap();
    let inputs = drift::load_inputs(Some(&path), None, None).unwrap();
    let mut report = serde_json::to_value(drift::run(&inputs)).unwrap();
    report["candidate"] = json!("management.json");
    report
}

#[test]
fn equivalent_3_0_and_3_1_renderings_give_identical_drift_reports_and_tool_schemas() {
    let vendored_text = std::fs::read_to_string(root().join("spec/management.yaml")).unwrap();
    let raw = load::parse_document("management.yaml", &vendored_text).unwrap();
    let live_3_0 = serde_json::to_string_pretty(&patched()).unwrap();
    let live_3_1 = fixture_text("management.3.1.yaml");
    // A third shape: one override's stale shape changed another way, in both syntaxes.
    let mut conflicting = raw.clone();
    conflicting["components"]["schemas"]["SetLlmBillingModeRequest"]["properties"]["mode"]["enum"] =
        json!(["platform_managed", "byok", "metered"]);
    let cases = [
        (
            "stale",
            serde_json::to_string(&raw).unwrap(),
            serde_json::to_string(&to_3_1(&raw)).unwrap(),
            ["needed"; 3],
        ),
        ("live", live_3_0, live_3_1, ["redundant"; 3]),
        (
            "conflict",
            serde_json::to_string(&conflicting).unwrap(),
            serde_json::to_string(&to_3_1(&conflicting)).unwrap(),
            ["conflict", "needed", "needed"],
        ),
    ];
    for (name, v30, v31, statuses) in cases {
        let a = drift_report(&format!("{name}-3.0"), &v30);
        let b = drift_report(&format!("{name}-3.1"), &v31);
        assert_eq!(a, b, "{name}: the 3.0 and 3.1 reports differ");
        let got: Vec<&str> = b["overrides"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["status"].as_str().unwrap())
            .collect();
        assert_eq!(got, statuses, "{name}");
        assert_eq!(b["summary"]["tools_missing_operation"], 0, "{name}");
    }

    // Identical tool schemas: every row derived from the built 3.1 document equals
    // what the server serves from the vendored 3.0 spec and its overrides.
    let built = build(&fixture_text("management.3.1.yaml"));
    let catalog = Catalog::new().unwrap();
    let ops = inventory::operations(&built.applied.doc);
    let cp: Value = serde_json::from_str(molecule_mcp::PATCHED_CP_SPEC).unwrap();
    let cp_ops = inventory::operations(&cp);
    assert_eq!(catalog.entries.len(), table::TOOLS.len());
    for entry in &catalog.entries {
        let derived = match entry.row.route.operations()[0].api() {
            molecule_mcp::Api::Tenant => schema::derive(&built.applied.doc, &ops, entry.row),
            molecule_mcp::Api::ControlPlane => schema::derive(&cp, &cp_ops, entry.row),
        }
        .unwrap();
        // Byte for byte, key order included: what `tools/list` serves.
        assert_eq!(
            serde_json::to_string(&derived.input).unwrap(),
            serde_json::to_string(&entry.derived.input).unwrap(),
            "{}",
            entry.row.name
        );
        assert_eq!(
            serde_json::to_string(&derived.output).unwrap(),
            serde_json::to_string(&entry.derived.output).unwrap(),
            "{}",
            entry.row.name
        );
        assert_eq!(
            &derived.validation,
            entry.validation().unwrap(),
            "{}",
            entry.row.name
        );
        assert_eq!(
            derived.output.as_ref(),
            entry.derived.output.as_deref(),
            "{}",
            entry.row.name
        );
        assert_eq!(derived.plans, entry.derived.plans, "{}", entry.row.name);
    }
}

/// Step 1-2: the 3.1 spec with the live shapes builds, and the build's only words are
/// to delete the three overrides. Step 3: once they are gone, nothing is left to do and
/// the document the server is built from is the same.
#[test]
fn walkthrough_a_3_1_spec_with_the_live_shapes_builds_and_retires_every_override() {
    let text = fixture_text("management.3.1.yaml");
    let built = build(&text);
    assert!(!built.plan.blocks());
    insta::assert_snapshot!(
        "landing_live_shapes_warnings",
        built.plan.warnings().join("\n")
    );
    assert!(
        built
            .plan
            .steps
            .iter()
            .all(|s| matches!(s, Step::DeleteOverride { .. }))
    );
    assert_eq!(built.plan.steps.len(), 3);
    assert_eq!(built.applied.doc, patched());

    let after = build_with(&text, &[], &sources());
    assert_eq!(after.plan, Checklist::default());
    assert_eq!(after.applied.doc, patched());
}

/// The failure text of `new-operation`, as the README quotes it.
fn new_operation_failure() -> String {
    let (text, _) = with_patch("new-operation.patch.yaml");
    let built = build(&text);
    assert!(built.plan.blocks());
    built.plan.failure(Some(LAST_GOOD_DRIFT))
}

/// What build.rs names when the last good binary exists (its path depends on the
/// target directory).
const LAST_GOOD_DRIFT: &str = "target/debug/molecule-mcp drift --spec spec/management.yaml";

/// Step 2 with a new operation: the build stops, names the one file that decides it
/// with the line to write, and doing what it says (either way: a row, or a skip) is
/// all it takes.
#[test]
fn walkthrough_a_new_operation_stops_the_build_at_the_place_that_decides_it() {
    let failure = new_operation_failure();
    insta::assert_snapshot!(
        "landing_new_operation_failure",
        without_line_numbers(&failure)
    );
    let (text, _) = with_patch("new-operation.patch.yaml");
    let built = build(&text);
    let unbound: Vec<&Step> = built
        .plan
        .steps
        .iter()
        .filter(|s| matches!(s, Step::Unbound { .. }))
        .collect();
    let [
        Step::Unbound {
            operation,
            at: Some(at),
            ..
        },
    ] = unbound.as_slice()
    else {
        panic!("one new operation, with the table's lines: {unbound:?}")
    };
    assert_eq!(operation.id, "get_workspace_logs");

    // Do what the message says, at the line it names, in the one file it names.
    let decide = |line: usize, written: &str| {
        let mut edited = sources();
        let source = edited
            .iter_mut()
            .find(|s| s.path == "src/tools/table.rs")
            .unwrap();
        let mut lines: Vec<String> = source.text.lines().map(String::from).collect();
        assert_eq!(lines[line - 1], "    }", "the end of the `match`");
        lines.insert(line - 1, written.into());
        source.text = lines.join("\n");
        build_with(&text, &[], &edited).plan
    };
    let bound = decide(
        *at,
        r#"        O::GetWorkspaceLogs => Tool(&ToolRow { name: "get_workspace_logs", title: "Get logs", access: Access::Read, toolset: Toolset::Workspaces, route: One(O::GetWorkspaceLogs), args: &[WS], description: "Logs." }),"#,
    );
    assert_eq!(bound, Checklist::default(), "{bound:?}");
    let skipped = decide(
        *at,
        r#"        O::GetWorkspaceLogs => Decision::Skipped("logs are read in the canvas, not managed"),"#,
    );
    assert_eq!(skipped, Checklist::default(), "{skipped:?}");
}

/// A route the server uses disappears: the build names the tool row that lost it and
/// every arm to delete.
#[test]
fn walkthrough_a_deleted_route_names_the_tool_row_that_lost_its_operation() {
    let (text, _) = with_patch("removed-route.patch.yaml");
    let built = build(&text);
    assert!(built.plan.blocks());
    let lost = built
        .plan
        .steps
        .iter()
        .find_map(|s| match s {
            Step::LostOperation {
                operation_id, uses, ..
            } => Some((operation_id.clone(), uses.clone())),
            _ => None,
        })
        .unwrap();
    assert_eq!(lost.0, "revoke_org_token");
    assert_eq!(lost.1[0].file, "src/tools/table.rs");
    assert_eq!(lost.1[0].within, "row `revoke_org_token`");
    insta::assert_snapshot!(
        "landing_removed_route_failure",
        without_line_numbers(&built.plan.failure(Some(LAST_GOOD_DRIFT)))
    );
}

/// Step 4: `molecule-mcp drift --spec` reads the 3.1 candidate; the binary of the last
/// good build is what the build's failure message points at.
#[test]
fn walkthrough_drift_reads_the_3_1_candidate_and_lists_the_unbound_operation() {
    let (_, path) = with_patch("new-operation.patch.yaml");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_molecule-mcp"))
        .args(["drift", "--format", "json", "--spec"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["unbound_operations"][0]["operation_id"],
        "get_workspace_logs"
    );
    assert_eq!(report["summary"]["overrides_redundant"], 3);
}

#[test]
fn the_readme_quotes_the_failure_the_maintainer_meets() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let quoted = readme
        .split("<!-- landing-failure:begin -->\n```text\n")
        .nth(1)
        .and_then(|rest| rest.split("```\n<!-- landing-failure:end -->").next())
        .expect("README quotes the new-operation failure between landing-failure markers");
    assert_eq!(
        without_line_numbers(quoted),
        without_line_numbers(&new_operation_failure())
    );
}

#[test]
fn line_numbers_are_masked_only_after_a_file_or_line() {
    assert_eq!(
        without_line_numbers("src/a.rs:12 (`fn x`) (line 34) v2 3.1"),
        "src/a.rs:N (`fn x`) (line N) v2 3.1"
    );
}

#[test]
fn a_swagger_2_spec_is_refused_with_the_converter_to_use() {
    let err = load::parse(
        "spec/management.yaml",
        "swagger: '2.0'\ninfo: {}\npaths: {}\n",
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("npx swagger2openapi spec/management.yaml"),
        "{err}"
    );
}

/// The real thing, once: a copy of the crate whose `spec/management.yaml` is today's
/// spec in OpenAPI 3.1 builds with `cargo` and passes its whole test suite. Ignored by
/// default (it compiles the crate again: 2-4 minutes on two cores, more with a cold
/// target directory); run it with `cargo test --test it landing -- --ignored`.
#[test]
#[ignore = "builds and tests a copy of the crate; run with --ignored"]
fn a_copy_of_the_crate_whose_spec_is_3_1_builds_and_passes_its_whole_test_suite() {
    let base = work_dir().join("copy");
    let krate = base.join("crate");
    let _ = std::fs::remove_dir_all(&krate);
    copy_tree(&root(), &krate);
    let vendored = std::fs::read_to_string(root().join("spec/management.yaml")).unwrap();
    let raw = load::parse_document("management.yaml", &vendored).unwrap();
    std::fs::write(
        krate.join("spec/management.yaml"),
        yaml_serde::to_string(&to_3_1(&raw)).unwrap(),
    )
    .unwrap();

    // Its own target directory: one shared with this build would swap this crate's
    // build-script output for the copy's (both are `molecule-mcp` at the same relative
    // path, so cargo gives them the same hash). Seeded with this build's dependencies.
    let target = base.join("target");
    let outer = Path::new(env!("CARGO_TARGET_TMPDIR")).join("../debug");
    if !target.exists() && outer.is_dir() {
        std::fs::create_dir_all(&target).unwrap();
        let _ = std::process::Command::new("cp")
            .arg("-a")
            .arg(&outer)
            .arg(target.join("debug"))
            .status();
        for dir in ["build", ".fingerprint", "deps", "incremental"] {
            for entry in std::fs::read_dir(target.join("debug").join(dir))
                .into_iter()
                .flatten()
            {
                let path = entry.unwrap().path();
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                if name.starts_with("molecule")
                    || name.starts_with("it-")
                    || name.starts_with("perf-")
                {
                    let _ = std::fs::remove_dir_all(&path).or_else(|_| std::fs::remove_file(&path));
                }
            }
        }
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    // Run from outside the checkout, so that nothing keyed on the working directory
    // (a cargo config or wrapper) picks another target directory.
    let out = std::process::Command::new(cargo)
        .arg("test")
        .arg("--manifest-path")
        .arg(krate.join("Cargo.toml"))
        // This snapshot pins `line=` annotations in the vendored spec file as laid out
        // in 3.0; the copy's file is rewritten in 3.1, so its lines differ by design.
        .args([
            "--",
            "--skip",
            "drift::a_removed_operation_leaves_its_tool_without_an_operation_and_fails_by_default",
        ])
        .current_dir(std::env::temp_dir())
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("INSTA_UPDATE")
        .env_remove("UPDATE_LANDING_FIXTURES")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // The copy's own artifacts ran, not this build's.
    assert!(
        stderr.contains(&format!("Running tests/it/main.rs ({}", target.display())),
        "{stderr}"
    );
    assert!(!stderr.contains("warning: molecule-mcp@"), "{stderr}");
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "target" || name == ".git" {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            copy_tree(&path, &to.join(&name));
        } else {
            std::fs::copy(&path, to.join(&name)).unwrap();
        }
    }
}
