//! The override verdicts and the build's words about them, pinned where mutation testing
//! (TESTING.md) found the suite blind: which overrides are redundant, where a conflict
//! is (op index and name, tests counted), shape comparison of arrays, the clipping of
//! long values in a conflict, and the sub-schemas of `anyOf`/`oneOf`/`allOf`.

use crate::overrides::{patched, root, vendored};
use molecule_mcp::spec::landing;
use molecule_mcp::spec::overrides::{
    Applied, Conflict, Override, Status, classify, load_dir, parse, same_shape,
};
use molecule_mcp::tools::json_schema::exact_schema;
use serde_json::{Value, json};

fn repo_overrides() -> Vec<Override> {
    load_dir(&root().join("overrides")).unwrap()
}

/// What build.rs prints for the tenant spec `doc` with these overrides: its warnings
/// (a build that goes on) or the message it stops with.
fn build_output(doc: &Value, overrides: &[Override]) -> (Applied, Result<Vec<String>, String>) {
    let crate::landing::Build { applied, plan } =
        crate::landing::build_doc(doc, overrides, &landing::crate_sources(&root()).unwrap());
    let output = if plan.blocks() {
        Err(plan.failure(None))
    } else {
        Ok(plan.warnings())
    };
    (applied, output)
}

fn ids<'a>(overrides: impl Iterator<Item = &'a Override>) -> Vec<&'a str> {
    overrides.map(|o| o.id.as_str()).collect()
}

#[test]
fn the_redundant_list_names_exactly_the_overrides_the_spec_already_holds() {
    let (applied, _) = build_output(&vendored(), &repo_overrides());
    assert_eq!(ids(applied.redundant()), Vec::<&str>::new());
    assert_eq!(applied.conflicts().count(), 0);

    let (applied, output) = build_output(&patched(), &repo_overrides());
    assert_eq!(
        ids(applied.redundant()),
        [
            "001-llm-billing-mode",
            "002-budget-limits",
            "003-allowlist-enabled-by"
        ]
    );
    assert_eq!(applied.conflicts().count(), 0);
    // The maintainer's signal: one warning per file to delete, then what follows.
    let warnings = output.expect("a redundant override only warns");
    assert_eq!(warnings.len(), 4, "{warnings:#?}");
    assert_eq!(
        warnings[0],
        "overrides/001-llm-billing-mode.yaml (001-llm-billing-mode) is redundant: \
         spec/management.yaml already holds the live shape. Delete \
         overrides/001-llm-billing-mode.yaml and its row in overrides/README.md."
    );
}

#[test]
fn only_the_redundant_override_is_listed_among_needed_and_conflicting_ones() {
    // 001 already live, 002 stale (needed), 003 changed another way (conflict).
    let mut spec = vendored();
    let live = patched();
    for name in ["SetLlmBillingModeRequest", "LlmBillingModeResolution"] {
        spec["components"]["schemas"][name] = live["components"]["schemas"][name].clone();
    }
    spec["components"]["schemas"]["SetPluginAllowlistRequest"]["properties"]["plugins"]["items"] =
        json!({ "type": "integer" });
    let (applied, _) = build_output(&spec, &repo_overrides());
    let statuses: Vec<&str> = applied.statuses.iter().map(|(_, s)| s.as_str()).collect();
    assert_eq!(statuses, ["redundant", "needed", "conflict"]);
    assert_eq!(ids(applied.redundant()), ["001-llm-billing-mode"]);
    assert_eq!(
        ids(applied.conflicts().map(|(o, _)| o)),
        ["003-allowlist-enabled-by"]
    );
}

#[test]
fn a_failing_test_op_stops_the_build_with_the_file_the_pointer_and_both_values() {
    let mut spec = vendored();
    spec["components"]["schemas"]["SetLlmBillingModeRequest"]["properties"]["mode"]["enum"] =
        json!(["platform_managed", "byok", "metered"]);
    let (_, output) = build_output(&spec, &repo_overrides());
    let failure = output.expect_err("a conflict stops the build");
    assert_eq!(
        failure,
        "The specs in spec/ and this crate disagree. The build stops until these are done:\n  \
         1. overrides/001-llm-billing-mode.yaml (001-llm-billing-mode) conflicts with \
         spec/management.yaml: op #0 (`test`) at `/components/schemas/SetLlmBillingModeRequest` \
         failed: the spec no longer holds the stale shape this override corrects; first \
         difference at `/components/schemas/SetLlmBillingModeRequest/properties/mode/enum`; \
         expected [\"platform_managed\",\"byok\"]; the spec has \
         [\"platform_managed\",\"byok\",\"metered\"]. Edit overrides/001-llm-billing-mode.yaml: \
         if the spec now says the live shape another way, delete the file; otherwise point its \
         `test` ops at the spec's new shape.\nThen `cargo build` again.\n"
    );
}

/// An override whose tests hold but whose third op (a write, after two tests and a
/// write that applies) cannot apply.
const WRITE_CONFLICT: &str = "\
id: 009-write-conflict
title: t
why: w
source: s
upstream_issue: '#9'
delete_when: d
patch:
- {op: test, path: /info/title, value: Molecule tenant management API}
- {op: add, path: /info/x-note, value: added}
- {op: test, path: /openapi, value: 3.0.3}
- {op: replace, path: /components/schemas/NoSuchSchema/type, value: string}
";

#[test]
fn a_failing_write_op_is_named_by_its_index_among_all_ops_and_its_name() {
    let ov = parse("009-write-conflict.yaml", WRITE_CONFLICT).unwrap();
    let spec = vendored();
    assert_eq!(spec["info"]["title"], "Molecule tenant management API");
    assert_eq!(spec["openapi"], "3.0.3");
    let Status::Conflict(conflict) = classify(&spec, &ov).0 else {
        panic!("expected a conflict")
    };
    assert_eq!(conflict.op_index, 3);
    assert_eq!(conflict.op, "replace");
    assert_eq!(conflict.pointer, "/components/schemas/NoSuchSchema/type");
    assert_eq!((&conflict.expected, &conflict.found), (&None, &None));

    let (_, output) = build_output(&spec, &[ov]);
    let failure = output.expect_err("a conflict stops the build");
    assert!(
        failure.starts_with(
            "The specs in spec/ and this crate disagree. The build stops until these are \
             done:\n  1. overrides/009-write-conflict.yaml (009-write-conflict) conflicts with \
             spec/management.yaml: op #3 (`replace`) at \
             `/components/schemas/NoSuchSchema/type` failed: "
        ),
        "{failure}"
    );
    assert!(
        failure.contains("; the spec has nothing there. Edit overrides/009-write-conflict.yaml"),
        "{failure}"
    );
}

#[test]
fn a_write_op_that_fails_after_another_write_is_named_by_its_own_index() {
    // Writes only after the leading test: the failing op is the patch's fourth.
    let text = WRITE_CONFLICT.replace(
        "- {op: test, path: /openapi, value: 3.0.3}\n",
        "- {op: remove, path: /info/x-note}\n",
    );
    let ov = parse("009-write-conflict.yaml", &text).unwrap();
    let Status::Conflict(conflict) = classify(&vendored(), &ov).0 else {
        panic!("expected a conflict")
    };
    assert_eq!((conflict.op_index, conflict.op.as_str()), (3, "replace"));
}

#[test]
fn shapes_of_arrays_compare_element_by_element_ignoring_descriptions() {
    let a = json!({ "oneOf": [{ "type": "string", "description": "a" }, { "type": "integer" }] });
    let reworded =
        json!({ "oneOf": [{ "type": "string", "description": "b" }, { "type": "integer" }] });
    assert!(same_shape(&a, &reworded));
    let shorter = json!({ "oneOf": [{ "type": "string", "description": "a" }] });
    assert!(!same_shape(&a, &shorter));
    assert!(!same_shape(&shorter, &a));
    let changed = json!({ "oneOf": [{ "type": "string" }, { "type": "number" }] });
    assert!(!same_shape(&a, &changed));
    assert!(same_shape(&json!([]), &json!([])));
    assert!(!same_shape(&json!([1]), &json!([2])));
    assert!(!same_shape(&json!([1]), &json!({})));
    // Keys count, descriptions do not.
    assert!(!same_shape(&json!({ "a": 1 }), &json!({ "b": 1 })));
    assert!(same_shape(
        &json!({ "a": 1, "description": "x" }),
        &json!({ "a": 1 })
    ));
}

fn conflict_found(found: Value) -> String {
    Conflict {
        op_index: 0,
        op: "replace".into(),
        pointer: "/x".into(),
        expected: None,
        found: Some(found),
        reason: "r".into(),
    }
    .to_string()
}

#[test]
fn values_in_a_conflict_are_clipped_to_300_bytes_on_a_character_boundary() {
    let prefix = "op #0 (`replace`) at `/x` failed: r; the spec has ";
    // 298 characters + 2 quotes: 300 bytes, shown whole.
    let exact = "a".repeat(298);
    assert_eq!(conflict_found(json!(exact)), format!("{prefix}\"{exact}\""));
    // 301 bytes: cut to 300, marked.
    let over = "b".repeat(299);
    assert_eq!(
        conflict_found(json!(over)),
        format!("{prefix}\"{}…", "b".repeat(299))
    );
    // A two-byte character across byte 300 is left out whole.
    let wide = format!("{}é{}", "c".repeat(298), "d".repeat(10));
    assert_eq!(
        conflict_found(json!(wide)),
        format!("{prefix}\"{}…", "c".repeat(298))
    );
}

#[test]
fn sub_schemas_of_any_one_and_all_of_are_converted_too() {
    let doc = json!({ "components": { "schemas": {
        "A": { "type": "object", "properties": { "n": { "type": "integer" } } }
    } } });
    let nullable = json!({ "type": "string", "nullable": true, "example": "x" });
    let reference = json!({ "$ref": "#/components/schemas/A" });
    let schema = json!({
        "anyOf": [reference, nullable],
        "oneOf": [reference, nullable],
        "allOf": [reference, nullable],
    });
    let exact = exact_schema(&doc, &schema);
    let converted = json!([{ "$ref": "#/$defs/A" }, { "type": ["string", "null"] }]);
    for key in ["anyOf", "oneOf", "allOf"] {
        assert_eq!(exact["allOf"][0][key], converted, "{key}: {exact:#}");
    }
    assert_eq!(exact["$defs"]["A"], doc["components"]["schemas"]["A"]);
}
