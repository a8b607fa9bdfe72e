//! `molecule-mcp drift` on fixture candidates: statuses, classifications, exit codes,
//! and every output format pinned by snapshots.

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_molecule-mcp");

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/drift")
}

fn work_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("drift");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The vendored spec, as a document.
fn vendored() -> Value {
    molecule_mcp::spec::load::load_openapi(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("spec/management.yaml"),
    )
    .unwrap()
}

/// The vendored spec with the fixture patch `name.patch.yaml` applied.
fn patched(name: &str) -> Value {
    let mut doc = vendored();
    let text = std::fs::read_to_string(fixtures().join(format!("{name}.patch.yaml"))).unwrap();
    let patch: json_patch::Patch = yaml_serde::from_str(&text).unwrap();
    json_patch::patch(&mut doc, &patch.0).unwrap();
    doc
}

/// Writes the candidate `name.json` (the vendored spec with the fixture patch applied,
/// or the patched spec for `fixed-stale-shapes`) and returns its file name.
fn candidate(name: &str) -> String {
    let doc: Value = if name == "fixed-stale-shapes" {
        molecule_mcp::embedded::specs().unwrap().management.clone()
    } else {
        patched(name)
    };
    let file = format!("{name}.json");
    std::fs::write(
        work_dir().join(&file),
        serde_json::to_string_pretty(&doc).unwrap(),
    )
    .unwrap();
    file
}

fn drift(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .current_dir(work_dir())
        .arg("drift")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// The JSON report; also checks that no two findings share a fingerprint.
fn json_report(spec: &str, fail_on: &str) -> (i32, Value) {
    let (code, stdout, stderr) = drift(&["--spec", spec, "--format", "json", "--fail-on", fail_on]);
    let report: Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}{stderr}"));
    let mut fingerprints = Vec::new();
    collect_fingerprints(&report, &mut fingerprints);
    let unique: std::collections::BTreeSet<&String> = fingerprints.iter().collect();
    assert_eq!(
        unique.len(),
        fingerprints.len(),
        "duplicate fingerprints in {spec}"
    );
    (code, report)
}

fn collect_fingerprints(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(f)) = map.get("fingerprint") {
                out.push(f.clone());
            }
            map.values().for_each(|v| collect_fingerprints(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_fingerprints(v, out)),
        _ => {}
    }
}

#[test]
fn the_self_check_of_the_vendored_spec_is_clean_even_at_fail_on_any() {
    let (code, stdout, _) = drift(&["--fail-on", "any"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout
            .lines()
            .last()
            .unwrap()
            .starts_with("Summary: overrides 3 needed, 0 redundant, 0 conflict;"),
        "{stdout}"
    );
}

#[test]
fn upstream_fixing_each_stale_shape_makes_each_override_redundant() {
    let spec = candidate("fixed-stale-shapes");
    let (code, report) = json_report(&spec, "conflict");
    assert_eq!(code, 0);
    let statuses: Vec<&str> = report["overrides"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["redundant", "redundant", "redundant"]);
    // Upstream's own changes are the stale shapes becoming the live ones: each is shown,
    // served by the override that already wrote it, and none breaks this server.
    let changes: Vec<&Value> = report["operations"]["changed"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|o| o["changes"].as_array().unwrap())
        .collect();
    assert!(!changes.is_empty());
    assert!(
        changes
            .iter()
            .all(|c| c["breaking"] == false && c["served_by"].is_string()),
        "{changes:?}"
    );
    assert_eq!(report["summary"]["breaking_changes"], 0);
    assert_eq!(
        report["summary"]["tools_ok"],
        molecule_mcp::tools::table::TOOLS.len()
    );
    assert_eq!(
        json_report(&spec, "any").0,
        1,
        "redundant overrides fail --fail-on any"
    );
    for format in ["text", "markdown", "json", "github"] {
        let (_, stdout, _) = drift(&["--spec", &spec, "--format", format]);
        insta::assert_snapshot!(format!("drift_fixed_stale_shapes_{format}"), stdout);
    }
}

#[test]
fn a_removed_operation_leaves_its_tool_without_an_operation_and_fails_by_default() {
    let spec = candidate("removed-operation");
    let (code, report) = json_report(&spec, "conflict");
    assert_eq!(code, 1);
    assert_eq!(
        report["operations"]["removed"][0]["operation_id"],
        "revoke_org_token"
    );
    let tool = report["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "revoke_org_token")
        .unwrap();
    assert_eq!(tool["status"], "missing_operation");
    for format in ["text", "markdown", "json", "github"] {
        let (_, stdout, _) = drift(&["--spec", &spec, "--format", format]);
        insta::assert_snapshot!(format!("drift_removed_operation_{format}"), stdout);
    }
}

/// A removal counts once among the breaking changes (the operation and its tool are two
/// views of it), and never eats the count of the non-breaking ones that landed with it
/// (the field added, shown by the operation and by the tool, is one): the verdict a
/// maintainer reads first says both.
#[test]
fn the_verdict_counts_a_removed_operation_with_the_changes_beside_it() {
    let mut doc = patched("removed-operation");
    let text = std::fs::read_to_string(fixtures().join("added-optional-field.patch.yaml")).unwrap();
    let patch: json_patch::Patch = yaml_serde::from_str(&text).unwrap();
    json_patch::patch(&mut doc, &patch.0).unwrap();
    let file = "removed-and-added-field.json";
    std::fs::write(
        work_dir().join(file),
        serde_json::to_string_pretty(&doc).unwrap(),
    )
    .unwrap();
    let (_, report) = json_report(file, "never");
    assert_eq!(report["summary"]["operations_removed"], 1);
    let (_, stdout, _) = drift(&["--spec", file, "--format", "markdown"]);
    assert_eq!(
        stdout.lines().next(),
        Some(
            "**Blocked:** Rebind or skip 1 tool whose operation is gone, review 1 breaking \
             change and note 1 non-breaking change; the build fails until then."
        ),
        "{stdout}"
    );
}

#[test]
fn an_added_operation_is_unbound_but_only_fails_at_any() {
    let spec = candidate("added-operation");
    let (code, report) = json_report(&spec, "breaking");
    assert_eq!(code, 0);
    assert_eq!(
        report["operations"]["added"][0]["operation_id"],
        "get_workspace_logs"
    );
    assert_eq!(
        report["unbound_operations"][0]["path"],
        "/workspaces/{id}/logs"
    );
    assert_eq!(json_report(&spec, "any").0, 1);
}

#[test]
fn a_renamed_required_body_field_is_a_breaking_rename_for_the_operation_and_the_tools() {
    let spec = candidate("renamed-required-field");
    let (code, report) = json_report(&spec, "conflict");
    assert_eq!(code, 0, "no conflict, no missing operation");
    assert_eq!(json_report(&spec, "breaking").0, 1);
    let changed = report["operations"]["changed"].as_array().unwrap();
    let ids: Vec<&str> = changed
        .iter()
        .map(|c| c["operation_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["set_org_secret", "set_workspace_secret"]);
    let kinds: Vec<(&str, bool)> = changed[0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["kind"].as_str().unwrap(),
                c["breaking"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(kinds, [("field_renamed", true)]);
    let tool = report["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "set_org_secret")
        .unwrap();
    assert_eq!(tool["status"], "schema_changed");
    let tool_kinds: Vec<&str> = tool["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert_eq!(tool_kinds, ["argument_renamed"]);
    for format in ["text", "markdown", "json", "github"] {
        let (_, stdout, _) = drift(&["--spec", &spec, "--format", format]);
        insta::assert_snapshot!(format!("drift_renamed_required_field_{format}"), stdout);
    }
}

#[test]
fn an_added_optional_field_is_not_breaking() {
    let spec = candidate("added-optional-field");
    let (code, report) = json_report(&spec, "breaking");
    assert_eq!(code, 0);
    let change = &report["operations"]["changed"][0]["changes"][0];
    assert_eq!(
        (change["kind"].as_str(), change["breaking"].as_bool()),
        (Some("field_added"), Some(false))
    );
    let tool = report["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "provision_workspace")
        .unwrap();
    assert_eq!(tool["status"], "schema_changed");
    assert_eq!(tool["changes"][0]["kind"], "argument_added");
    assert_eq!(tool["changes"][0]["breaking"], false);
}

#[test]
fn a_changed_success_status_is_breaking() {
    let spec = candidate("changed-success-status");
    let (code, report) = json_report(&spec, "breaking");
    assert_eq!(code, 1);
    let change = &report["operations"]["changed"][0];
    assert_eq!(change["operation_id"], "mint_org_token");
    assert_eq!(change["changes"][0]["kind"], "success_status_changed");
}

#[test]
fn an_override_whose_stale_shape_changed_otherwise_is_a_conflict_with_both_values() {
    let spec = candidate("conflicting-billing-mode");
    let (code, report) = json_report(&spec, "conflict");
    assert_eq!(code, 1);
    let ov = &report["overrides"][0];
    assert_eq!(ov["status"], "conflict");
    // Annotated at the op that failed (the first `test`), folded in the Markdown.
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("overrides/001-llm-billing-mode.yaml"),
    )
    .unwrap();
    let first_op = text.lines().position(|l| l == "- op: test").unwrap() + 1;
    let (_, github, _) = drift(&["--spec", &spec, "--format", "github"]);
    let expected = format!(
        "::error file=overrides/001-llm-billing-mode.yaml,line={first_op},title=override conflict::001-llm-billing-mode.yaml: op #0"
    );
    assert!(github.starts_with(&expected), "{github}");
    let (_, markdown, _) = drift(&["--spec", &spec, "--format", "markdown"]);
    assert!(
        markdown.starts_with("**Blocked:** Rewrite or delete 1 conflicting override"),
        "{markdown}"
    );
    assert!(
        markdown.contains(
            "| `001-llm-billing-mode.yaml` | conflict | <details><summary>op #0 (`test`) at"
        ),
        "{markdown}"
    );
    let detail = ov["detail"].as_str().unwrap();
    assert!(
        detail.contains("/components/schemas/SetLlmBillingModeRequest/properties/mode/enum"),
        "{detail}"
    );
    assert!(
        detail.contains("[\"platform_managed\",\"byok\"]") && detail.contains("metered"),
        "{detail}"
    );
}

/// Every fingerprint in a report, sorted.
fn fingerprints(report: &Value) -> Vec<String> {
    let mut all = Vec::new();
    collect_fingerprints(report, &mut all);
    all.sort();
    all
}

/// Every change of operation `id` in a JSON report.
fn changes_of<'a>(report: &'a Value, id: &'a str) -> impl Iterator<Item = &'a Value> {
    report["operations"]["changed"]
        .as_array()
        .unwrap()
        .iter()
        .filter(move |o| o["operation_id"] == id)
        .flat_map(|o| o["changes"].as_array().unwrap())
}

/// The change at `pointer` of operation `id` in a JSON report.
fn change_at(report: &Value, id: &str, pointer: &str) -> Value {
    changes_of(report, id)
        .find(|c| c["pointer"] == pointer)
        .unwrap_or_else(|| panic!("no {pointer} change for {id} in {report}"))
        .clone()
}

/// The fingerprint of the change at `pointer` of operation `id`.
fn change_fingerprint(report: &Value, id: &str, pointer: &str) -> String {
    change_at(report, id, pointer)["fingerprint"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A finding's fingerprint names the finding, not the run or the file: the same rename
/// has the same fingerprint (a value CI histories hold) with other changes beside it, in
/// YAML or JSON, whatever the order of the paths and schemas; and a change whose detail
/// differs at the same place keeps its fingerprint.
#[test]
fn a_findings_fingerprint_names_the_finding_whatever_else_the_candidate_holds() {
    let spec = candidate("renamed-required-field");
    let (_, renamed) = json_report(&spec, "never");
    let rename = change_fingerprint(&renamed, "set_org_secret", "/requestBody/name");
    assert_eq!(rename, "D6df5bcad4dcc");

    // The committed example (YAML) holds the same rename among other changes.
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join(EXAMPLE);
    let (_, example) = json_report(example.to_str().unwrap(), "never");
    assert_eq!(
        change_fingerprint(&example, "set_org_secret", "/requestBody/name"),
        rename
    );
    let tool = |report: &Value, name: &str| {
        report["tools"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap()["fingerprint"]
            .clone()
    };
    for name in ["set_org_secret", "set_workspace_secret"] {
        assert_eq!(tool(&renamed, name), tool(&example, name), "{name}");
    }
    assert_eq!(renamed["overrides"][0]["fingerprint"], "D23054c2a4986");
    assert_eq!(
        renamed["overrides"][0]["fingerprint"],
        example["overrides"][0]["fingerprint"]
    );

    // The same candidate with its paths and schemas in reverse order: the same findings.
    let mut doc = patched("renamed-required-field");
    let reverse = |map: &mut Value| {
        let reversed: serde_json::Map<String, Value> = map
            .as_object()
            .unwrap()
            .iter()
            .rev()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        *map = Value::Object(reversed);
    };
    reverse(&mut doc["paths"]);
    reverse(&mut doc["components"]["schemas"]);
    let file = "renamed-required-field-reordered.json";
    std::fs::write(work_dir().join(file), serde_json::to_string(&doc).unwrap()).unwrap();
    let (_, reordered) = json_report(file, "never");
    assert_eq!(fingerprints(&reordered), fingerprints(&renamed));

    // A different detail at the same place (another new type) is the same finding.
    let typed = |to: &str| {
        let mut doc = vendored();
        doc["components"]["schemas"]["ProvisionWorkspaceRequest"]["properties"]["template"]["type"] =
            to.into();
        let file = format!("template-typed-{to}.json");
        std::fs::write(
            work_dir().join(&file),
            serde_json::to_string_pretty(&doc).unwrap(),
        )
        .unwrap();
        let (_, report) = json_report(&file, "never");
        change_fingerprint(&report, "provision_workspace", "/requestBody/template")
    };
    assert_eq!(typed("integer"), typed("boolean"));
}

#[test]
fn unreadable_candidates_exit_2_with_the_file_and_position() {
    let broken = fixtures().join("unparsable.yaml");
    let (code, stdout, stderr) = drift(&["--spec", broken.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("unparsable.yaml: not valid YAML or JSON at line"),
        "{stderr}"
    );
    let swagger = fixtures().join("swagger2.yaml");
    let (code, _, stderr) = drift(&["--spec", swagger.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("swagger2.yaml: a Swagger 2.0 document")
            && stderr.contains("npx swagger2openapi"),
        "{stderr}"
    );
    let (code, _, stderr) = drift(&["--spec", "no-such-file.yaml"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot read no-such-file.yaml"), "{stderr}");
    let (code, _, _) = drift(&["--fail-on", "sometimes"]);
    assert_eq!(code, 2);
}

/// A 3.1 candidate whose response-only schema uses a keyword 3.0 cannot say: the report
/// is made without it, and stderr says what was dropped and where.
#[test]
fn keywords_dropped_from_a_3_1_candidate_are_said_on_stderr() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text =
        std::fs::read_to_string(root.join("tests/fixtures/landing/management.3.1.yaml")).unwrap();
    let anchor = "    WorkspaceBudget:\n      type: object\n";
    assert!(text.contains(anchor));
    let text = text.replacen(
        anchor,
        &format!("{anchor}      patternProperties: {{'^x-': {{type: string}}}}\n"),
        1,
    );
    std::fs::write(work_dir().join("candidate.3.1.yaml"), text).unwrap();
    let (_, _, stderr) = drift(&["--spec", "candidate.3.1.yaml"]);
    assert!(
        stderr.contains("patternProperties")
            && stderr.contains("/components/schemas/WorkspaceBudget"),
        "{stderr}"
    );
}

#[test]
fn the_report_can_be_written_to_a_file() {
    let (code, stdout, _) = drift(&["--format", "markdown", "--output", "self-check.md"]);
    assert_eq!(code, 0);
    assert!(stdout.is_empty());
    let written = std::fs::read_to_string(work_dir().join("self-check.md")).unwrap();
    assert!(
        written.starts_with("**No drift:** nothing to do;"),
        "{written}"
    );
}

#[test]
fn changes_at_one_pointer_keep_distinct_fingerprints_and_loosening_is_not_breaking() {
    let spec = candidate("narrowed-and-loosened");
    let (_, report) = json_report(&spec, "never");
    let changes: Vec<&Value> = report["operations"]["changed"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|o| o["changes"].as_array().unwrap())
        .collect();
    let find = |kind: &str, pointer_end: &str| {
        changes
            .iter()
            .find(|c| c["kind"] == kind && c["pointer"].as_str().unwrap().ends_with(pointer_end))
            .unwrap_or_else(|| panic!("no {kind} at {pointer_end}: {changes:?}"))
    };
    assert_eq!(find("enum_value_removed", "/mode")["breaking"], true);
    assert_eq!(
        find("enum_added", "/tier")["breaking"],
        true,
        "a new enum restricts a request"
    );
    let tier: Vec<&&Value> = changes
        .iter()
        .filter(|c| {
            c["kind"] == "constraint_changed" && c["pointer"].as_str().unwrap().ends_with("/tier")
        })
        .collect();
    assert_eq!(tier.len(), 2, "{tier:?}");
    assert_ne!(tier[0]["fingerprint"], tier[1]["fingerprint"]);
    let breaking = |keyword: &str| {
        tier.iter()
            .find(|c| c["detail"].as_str().unwrap().contains(keyword))
            .unwrap()["breaking"]
            .clone()
    };
    assert_eq!(breaking("maximum"), false, "a higher maximum accepts more");
    assert_eq!(
        breaking("minimum"),
        true,
        "a higher minimum refuses what was accepted"
    );
}

const EXAMPLE: &str = "tests/fixtures/drift/upstream-example.yaml";

/// The example candidate is committed (a workflow, .ci/run and the README need a file),
/// so check it is still the vendored spec with its patch applied.
#[test]
fn the_committed_example_candidate_is_the_vendored_spec_with_its_patch() {
    let expected = patched("upstream-example");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(EXAMPLE);
    if std::env::var_os("UPDATE_DRIFT_FIXTURES").is_some() {
        let text = format!(
            "# Generated: spec/management.yaml with upstream-example.patch.yaml applied.\n\
             # Regenerate with `UPDATE_DRIFT_FIXTURES=1 cargo test --test it drift`.\n{}",
            yaml_serde::to_string(&expected).unwrap()
        );
        std::fs::write(&path, text).unwrap();
    }
    let committed = molecule_mcp::spec::load::load_openapi(&path).unwrap();
    assert!(
        committed == expected,
        "{EXAMPLE} is stale: regenerate it with `UPDATE_DRIFT_FIXTURES=1 cargo test --test it drift`"
    );
}

/// Runs scripts/drift-ci.sh (the workflow's drift step) from the repository root on the
/// example candidate: (exit code, annotations on stdout, the Markdown summary). `caller`
/// keeps the files of tests running at once apart.
fn drift_ci_script(caller: &str, fail_on: &str) -> (i32, String, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let summary = work_dir().join(format!("ci-summary-{caller}-{fail_on}.md"));
    let step_summary = work_dir().join(format!("ci-step-summary-{caller}-{fail_on}.md"));
    std::fs::write(&step_summary, "earlier step\n").unwrap();
    let out = Command::new("bash")
        .current_dir(root)
        .arg("scripts/drift-ci.sh")
        .args(["--bin", BIN, "--spec", EXAMPLE, "--fail-on", fail_on])
        .arg("--summary")
        .arg(&summary)
        .env("GITHUB_STEP_SUMMARY", &step_summary)
        .output()
        .unwrap();
    let summary = std::fs::read_to_string(&summary).unwrap();
    assert_eq!(
        std::fs::read_to_string(&step_summary).unwrap(),
        format!("earlier step\n{summary}"),
        "the report is appended to $GITHUB_STEP_SUMMARY"
    );
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        summary,
    )
}

#[test]
fn annotations_point_at_the_override_file_and_the_spec_lines() {
    let (code, annotations, summary) = drift_ci_script("annotations", "never");
    assert_eq!(code, 0);
    let spec_text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(EXAMPLE)).unwrap();
    let line_of = |needle: &str| {
        spec_text
            .lines()
            .position(|l| l.trim_start().starts_with(needle))
            .unwrap_or_else(|| panic!("no {needle} in {EXAMPLE}"))
            + 1
    };
    let override_line = |file: &str, needle: &str| {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("overrides")
                .join(file),
        )
        .unwrap();
        text.lines().position(|l| l.starts_with(needle)).unwrap() + 1
    };
    let find = |prefix: &str| {
        annotations
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no annotation starting {prefix:?} in\n{annotations}"))
    };
    find(&format!(
        "::warning file=overrides/003-allowlist-enabled-by.yaml,line={},title=override redundant::",
        override_line("003-allowlist-enabled-by.yaml", "id:")
    ));
    // The renamed field, at its new name.
    let schema = line_of("SetSecretRequest:");
    let name = schema
        + spec_text
            .lines()
            .skip(schema)
            .position(|l| l.trim() == "name:")
            .unwrap()
        + 1;
    find(&format!(
        "::error file={EXAMPLE},line={name},title=operation changed::set_org_secret: BREAKING field_renamed"
    ));
    find(&format!(
        "::error file={EXAMPLE},line={name},title=tool schema_changed::set_org_secret: BREAKING argument_renamed"
    ));
    // What upstream changed to the shape override 003 already serves: a notice there.
    let enabled_by = line_of("SetPluginAllowlistRequest:")
        + spec_text
            .lines()
            .skip(line_of("SetPluginAllowlistRequest:"))
            .position(|l| l.trim() == "enabled_by:")
            .unwrap()
        + 1;
    find(&format!(
        "::notice file={EXAMPLE},line={enabled_by},title=operation changed::set_org_plugin_allowlist: \
         non-breaking field_now_required"
    ));
    let logs = line_of("/workspaces/{id}/logs:") + 1;
    find(&format!(
        "::notice file={EXAMPLE},line={logs},title=operation added::get_workspace_logs GET"
    ));
    find(&format!(
        "::warning file={EXAMPLE},line={logs},title=unbound operation::get_workspace_logs GET"
    ));
    assert!(
        annotations.lines().last().unwrap().starts_with(
            "::notice title=drift summary::Summary: overrides 2 needed, 1 redundant, 0 conflict;"
        ),
        "{annotations}"
    );
    assert_eq!(
        summary.lines().next().unwrap(),
        "**Breaking:** Review 2 breaking changes, delete 1 redundant override, bind or skip \
         1 new operation and note 2 non-breaking changes; callers of the changed tools may need \
         to change."
    );
    assert_eq!(drift_ci_script("annotations", "conflict").0, 0);
    assert_eq!(drift_ci_script("annotations", "breaking").0, 1);
}

#[test]
fn a_removed_operation_is_annotated_where_it_was_in_the_vendored_spec() {
    let spec = candidate("removed-operation");
    let (_, stdout, _) = drift(&["--spec", &spec, "--format", "github"]);
    let vendored =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("spec/management.yaml"))
            .unwrap();
    let route = vendored
        .lines()
        .position(|l| l == "  /org/tokens/{id}:")
        .unwrap();
    let delete = route
        + vendored
            .lines()
            .skip(route)
            .position(|l| l == "    delete:")
            .unwrap()
        + 1;
    assert!(
        stdout.contains(&format!(
            "::error file=spec/management.yaml,line={delete},title=operation removed::revoke_org_token DELETE"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "::error file=spec/management.yaml,line={delete},title=tool missing_operation::revoke_org_token:"
        )),
        "{stdout}"
    );
}

/// The README's drift section shows exactly what the CI script prints for the example.
#[test]
fn the_readme_shows_what_ci_prints_for_the_example_candidate() {
    let (_, annotations, summary) = drift_ci_script("readme", "never");
    let expected = format!(
        "```text\n$ bash scripts/drift-ci.sh --spec {EXAMPLE}\n{annotations}```\n\n\
         The job summary ($GITHUB_STEP_SUMMARY) gets:\n\n````markdown\n{summary}````\n"
    );
    readme_block("drift-ci", &expected, "drift CI example");
}

/// A field whose type changes is a breaking `type_changed`, for the operation and for
/// the tool whose argument it is.
#[test]
fn a_changed_field_type_is_breaking() {
    let mut doc = vendored();
    doc["components"]["schemas"]["ProvisionWorkspaceRequest"]["properties"]["template"]["type"] =
        "integer".into();
    let file = "changed-type.json";
    std::fs::write(
        work_dir().join(file),
        serde_json::to_string_pretty(&doc).unwrap(),
    )
    .unwrap();
    let (_, report) = json_report(file, "never");
    let op = report["operations"]["changed"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["operation_id"] == "provision_workspace")
        .unwrap();
    let change = op["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["pointer"] == "/requestBody/template")
        .unwrap_or_else(|| panic!("{op}"));
    assert_eq!(
        (&change["kind"], &change["breaking"], &change["detail"]),
        (
            &Value::from("type_changed"),
            &Value::from(true),
            &Value::from("type `string` is now `integer`")
        ),
        "{change}"
    );
}

/// Writes `file`: the vendored YAML with `insertion` right after `anchor` (which must
/// be there), and returns its text.
fn vendored_with(file: &str, anchor: &str, insertion: &str) -> String {
    let vendored =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("spec/management.yaml"))
            .unwrap();
    assert!(vendored.contains(anchor), "{anchor}");
    let text = vendored.replacen(anchor, &format!("{anchor}{insertion}"), 1);
    std::fs::write(work_dir().join(file), &text).unwrap();
    text
}

/// The 1-based number of the line of `text` that is exactly `line`.
fn line_number(text: &str, line: &str) -> usize {
    text.lines().position(|l| l == line).unwrap() + 1
}

/// `drift --format github` on `file` has an operation-changed annotation at `line` that
/// contains each of `parts`.
fn assert_annotated(file: &str, line: usize, parts: &[&str]) {
    let (_, stdout, stderr) = drift(&["--spec", file, "--format", "github"]);
    let at = format!("file={file},line={line},title=operation changed::");
    assert!(
        stdout
            .lines()
            .any(|l| l.contains(&at) && parts.iter().all(|p| l.contains(p))),
        "no {at} with {parts:?} in\n{stdout}{stderr}"
    );
}

/// A field that may now be null loosens a request (non-breaking) but can break a
/// caller reading a response (breaking).
#[test]
fn null_allowed_is_breaking_in_a_response_only() {
    let mut doc = vendored();
    let schemas = &mut doc["components"]["schemas"];
    schemas["ProvisionWorkspaceRequest"]["properties"]["role"]["nullable"] = true.into();
    schemas["RevokedOrgToken"]["properties"]["revoked"]["nullable"] = true.into();
    let file = "nullable-added.json";
    std::fs::write(
        work_dir().join(file),
        serde_json::to_string_pretty(&doc).unwrap(),
    )
    .unwrap();
    let (_, report) = json_report(file, "never");
    let change = |op: &str, pointer: &str| change_at(&report, op, pointer);
    let request = change("provision_workspace", "/requestBody/role");
    let response = change("revoke_org_token", "/response/revoked");
    assert_eq!(
        (&request["kind"], &request["breaking"]),
        (&json!("nullable_added"), &json!(false))
    );
    assert_eq!(
        (&response["kind"], &response["breaking"]),
        (&json!("nullable_added"), &json!(true))
    );
}

/// A change inside a branch of an `anyOf` is annotated at the branch's property.
#[test]
fn a_change_inside_an_any_of_branch_is_annotated_in_the_branch() {
    let file = "any-of-branch.yaml";
    let text = vendored_with(
        file,
        "      anyOf:\n        - required: [dir]\n        - required: [template]\n",
        "          properties:\n            template:\n              description: The inline template.\n",
    );
    let line = line_number(&text, "            template:");
    assert_annotated(
        file,
        line,
        &[
            "create_org_from_template: ",
            " at /requestBody/anyOf/1/template:",
        ],
    );
}

/// A change inside a response schema is annotated at the changed property of the
/// candidate, not at the operation: the maintainer lands on the line to read.
#[test]
fn a_response_field_change_is_annotated_at_the_field() {
    let file = "response-field-added.yaml";
    let text = vendored_with(
        file,
        "    RevokedOrgToken:\n      type: object\n      description: Token revoked.\n      required: [revoked]\n      properties:\n",
        "        revoked_at:\n          type: string\n          description: When.\n",
    );
    let line = line_number(&text, "        revoked_at:");
    assert_annotated(
        file,
        line,
        &["revoke_org_token: non-breaking field_added at /response/revoked_at:"],
    );
}

/// The changes of operation `id` in a JSON report, as (kind, breaking, pointer, detail).
fn op_changes(report: &Value, id: &str) -> Vec<(String, bool, String, String)> {
    changes_of(report, id)
        .map(|c| {
            (
                c["kind"].as_str().unwrap().to_string(),
                c["breaking"].as_bool().unwrap(),
                c["pointer"].as_str().unwrap().to_string(),
                c["detail"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Upstream added one enum value (`metered`) to the stale billing-mode enum, so override
/// 001 conflicts. The operations section shows that one change; the live shapes the
/// override keeps (and that dropping it would lose) are listed under the conflict, with
/// its file, and are not counted as upstream breaking changes.
#[test]
fn a_conflicting_override_keeps_its_live_shapes_under_the_conflict_not_among_upstream_changes() {
    let spec = candidate("conflicting-billing-mode");
    let (code, report) = json_report(&spec, "breaking");
    assert_eq!(code, 1, "the conflict still fails");
    let changed = report["operations"]["changed"].as_array().unwrap();
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert_eq!(
        op_changes(&report, "set_llm_billing_mode"),
        [(
            "enum_value_added".to_string(),
            false,
            "/requestBody/mode".to_string(),
            "enum value \"metered\" was added".to_string()
        )]
    );
    assert_eq!(report["summary"]["breaking_changes"], 0);
    assert_eq!(report["summary"]["operations_changed"], 1);
    let ov = &report["overrides"][0];
    assert_eq!(
        (&ov["status"], &ov["file"]),
        (&json!("conflict"), &json!("001-llm-billing-mode.yaml"))
    );
    let lost: Vec<(String, String, String)> = ov["lost_if_dropped"]
        .as_array()
        .unwrap_or_else(|| panic!("no lost_if_dropped in {ov}"))
        .iter()
        .map(|l| {
            (
                l["operation_id"].as_str().unwrap().to_string(),
                l["kind"].as_str().unwrap().to_string(),
                l["pointer"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let has = |op: &str, kind: &str, pointer: &str| {
        assert!(
            lost.contains(&(op.into(), kind.into(), pointer.into())),
            "no {kind} at {op} {pointer} in {lost:?}"
        );
    };
    has(
        "set_llm_billing_mode",
        "nullable_removed",
        "/requestBody/mode",
    );
    has(
        "set_llm_billing_mode",
        "enum_value_removed",
        "/requestBody/mode",
    );
    has(
        "get_llm_billing_mode",
        "field_removed",
        "/response/provider_selection",
    );
    // The tools section shows only what upstream changed; no tool repeats a lost shape.
    let tool_changes: Vec<&Value> = report["tools"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["changes"].as_array().unwrap())
        .collect();
    assert!(
        tool_changes
            .iter()
            .all(|c| c["kind"] == "enum_value_added" && c["breaking"] == false),
        "{tool_changes:?}"
    );
    assert_eq!(report["summary"]["tools_schema_changed"], 1);
    for format in ["text", "markdown", "json", "github"] {
        let (_, stdout, _) = drift(&["--spec", &spec, "--format", format]);
        insta::assert_snapshot!(format!("drift_conflicting_billing_mode_{format}"), stdout);
    }
}

/// A field renamed with its schema unchanged is one `field_renamed`, for the operation
/// and as `argument_renamed` for the tool, counted once per operation.
#[test]
fn a_renamed_field_is_a_rename_counted_once_across_views() {
    let spec = candidate("renamed-required-field");
    let (_, report) = json_report(&spec, "never");
    let rename = (
        "field_renamed".to_string(),
        true,
        "/requestBody/name".to_string(),
        "field `key` was renamed to `name`".to_string(),
    );
    assert_eq!(
        op_changes(&report, "set_org_secret"),
        std::slice::from_ref(&rename)
    );
    assert_eq!(op_changes(&report, "set_workspace_secret"), [rename]);
    let tool = report["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "set_org_secret")
        .unwrap();
    let kinds: Vec<(&str, &str)> = tool["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["kind"].as_str().unwrap(), c["pointer"].as_str().unwrap()))
        .collect();
    assert_eq!(kinds, [("argument_renamed", "/input/name")]);
    assert_eq!(
        report["summary"]["breaking_changes"], 2,
        "one rename per operation, whichever views show it"
    );
}

/// A field whose schema also changed is not a rename: it stays a removal and an
/// addition.
#[test]
fn a_field_renamed_with_a_new_schema_is_a_removal_and_an_addition() {
    let mut doc = patched("renamed-required-field");
    doc["components"]["schemas"]["SetSecretRequest"]["properties"]["name"]["maxLength"] = 64.into();
    let file = "renamed-and-narrowed.json";
    std::fs::write(
        work_dir().join(file),
        serde_json::to_string_pretty(&doc).unwrap(),
    )
    .unwrap();
    let (_, report) = json_report(file, "never");
    let kinds: Vec<String> = op_changes(&report, "set_org_secret")
        .into_iter()
        .map(|c| c.0)
        .collect();
    assert_eq!(kinds, ["field_removed", "required_field_added"]);
}

/// `create_org_from_template`'s body requires `dir` or `template` (an `anyOf` of two
/// `required` lists). Describing `template` inside the branch that already required it
/// gains no requirement: no breaking change.
#[test]
fn properties_added_to_an_any_of_branch_that_already_required_them_break_nothing() {
    let file = "any-of-branch-described.yaml";
    vendored_with(
        file,
        "      anyOf:\n        - required: [dir]\n        - required: [template]\n",
        "          properties:\n            template:\n              description: The inline template.\n",
    );
    let (code, report) = json_report(file, "breaking");
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["summary"]["breaking_changes"], 0);
    assert_eq!(
        op_changes(&report, "create_org_from_template"),
        [(
            "field_added".to_string(),
            false,
            "/requestBody/anyOf/1/template".to_string(),
            "new optional field `template`".to_string()
        )]
    );
}

/// A branch whose `required` list really gains a field is a breaking
/// `required_field_added`, even with no `properties` beside it.
#[test]
fn a_required_list_that_gains_a_field_in_a_branch_is_breaking() {
    let file = "any-of-branch-requires-more.yaml";
    vendored_with(
        file,
        "      anyOf:\n        - required: [dir]\n        - required: [template",
        ", mode",
    );
    let (_, report) = json_report(file, "never");
    assert_eq!(
        op_changes(&report, "create_org_from_template"),
        [(
            "required_field_added".to_string(),
            true,
            "/requestBody/anyOf/1/mode".to_string(),
            "new required field `mode`".to_string()
        )]
    );
    assert_eq!(report["summary"]["breaking_changes"], 1);
}

/// The text format starts with the same verdict as the Markdown one, without markup.
#[test]
fn the_text_report_starts_with_the_verdict() {
    let spec = candidate("renamed-required-field");
    let (_, markdown, _) = drift(&["--spec", &spec, "--format", "markdown"]);
    let (_, text, _) = drift(&["--spec", &spec, "--format", "text"]);
    let verdict = markdown.lines().next().unwrap();
    assert_eq!(
        verdict,
        "**Breaking:** Review 2 breaking changes; callers of the changed tools may need to change."
    );
    assert_eq!(
        text.lines().next().unwrap(),
        "Breaking: Review 2 breaking changes; callers of the changed tools may need to change."
    );
    let (_, self_check, _) = drift(&[]);
    assert_eq!(
        self_check.lines().next().unwrap(),
        "No drift: nothing to do; the spec, the overrides and the tool table agree."
    );
}

/// Telling a maintainer to delete a redundant override names its row in
/// overrides/README.md too, in the build's words.
#[test]
fn deleting_a_redundant_override_names_its_readme_row() {
    let spec = candidate("fixed-stale-shapes");
    let (_, report) = json_report(&spec, "never");
    assert_eq!(
        report["overrides"][2]["detail"],
        "the candidate already holds the live shape: delete \
         overrides/003-allowlist-enabled-by.yaml and its row in overrides/README.md"
    );
    let step = molecule_mcp::spec::landing::Step::DeleteOverride {
        file: "003-allowlist-enabled-by.yaml".into(),
        id: "003-allowlist-enabled-by".into(),
    };
    assert!(
        step.to_string().ends_with(&format!(
            "Delete {}.",
            molecule_mcp::spec::overrides::delete_instruction("003-allowlist-enabled-by.yaml")
        )),
        "{step}"
    );
}

/// An upstream change that brings the spec to the shape a (now redundant) override
/// already serves is upstream's own change, shown as such, and breaks no caller of this
/// server: the override already sent that shape.
#[test]
fn an_upstream_change_an_override_already_serves_is_shown_but_not_breaking() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join(EXAMPLE);
    let (_, report) = json_report(example.to_str().unwrap(), "never");
    let changes = op_changes(&report, "set_org_plugin_allowlist");
    assert!(
        changes.contains(&(
            "field_now_required".to_string(),
            false,
            "/requestBody/enabled_by".to_string(),
            "field `enabled_by` became required".to_string()
        )),
        "{changes:?}"
    );
    let served: Vec<&Value> = report["operations"]["changed"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["operation_id"] == "set_org_plugin_allowlist")
        .flat_map(|o| o["changes"].as_array().unwrap())
        .collect();
    assert!(
        served
            .iter()
            .all(|c| c["served_by"] == "003-allowlist-enabled-by"),
        "{served:?}"
    );
    assert_eq!(report["summary"]["breaking_changes"], 2);
}

/// The README's conflict walkthrough shows the text report for the conflicting
/// billing-mode candidate exactly.
#[test]
fn the_readme_shows_the_report_for_a_conflicting_override() {
    let spec = candidate("conflicting-billing-mode");
    let (_, stdout, _) = drift(&["--spec", &spec]);
    let expected = format!("```text\n$ molecule-mcp drift --spec {spec}\n{stdout}```\n");
    readme_block("drift-conflict", &expected, "conflict example");
}

/// The README's text between `<!-- MARKER:begin -->` and `<!-- MARKER:end -->` equals
/// `expected`; with `UPDATE_README` set, it is rewritten instead.
fn readme_block(marker: &str, expected: &str, what: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let (begin, end) = (
        format!("<!-- {marker}:begin -->\n"),
        format!("<!-- {marker}:end -->"),
    );
    let start = readme
        .find(&begin)
        .unwrap_or_else(|| panic!("README has the {marker}:begin marker"))
        + begin.len();
    let stop = readme
        .find(&end)
        .unwrap_or_else(|| panic!("README has the {marker}:end marker"));
    if std::env::var_os("UPDATE_README").is_some() {
        let updated = format!("{}{expected}{}", &readme[..start], &readme[stop..]);
        std::fs::write(&path, updated).unwrap();
        return;
    }
    assert_eq!(
        &readme[start..stop],
        expected,
        "the README's {what} is stale: `UPDATE_README=1 cargo test --test it drift` rewrites it"
    );
}
