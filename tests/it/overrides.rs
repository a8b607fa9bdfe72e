//! The override applier and the patched spec's public surface (snapshots).

use molecule_mcp::spec::inventory;
use molecule_mcp::spec::load::{SpecError, load_openapi, parse_openapi};
use molecule_mcp::spec::overrides::{Status, apply_all, classify, load_dir, parse};
use serde_json::{Value, json};
use std::path::PathBuf;

/// The crate's root (where `spec/` and `overrides/` are).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The vendored management spec, normalised, before overrides.
pub fn vendored() -> Value {
    load_openapi(&root().join("spec/management.yaml")).unwrap()
}

/// The management spec as built: vendored plus overrides.
pub fn patched() -> Value {
    serde_json::from_str(molecule_mcp::PATCHED_MANAGEMENT_SPEC).unwrap()
}

#[test]
fn every_override_is_needed_on_the_vendored_spec_and_yields_the_embedded_patched_spec() {
    let overrides = load_dir(&root().join("overrides")).unwrap();
    let ids: Vec<&str> = overrides.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "001-llm-billing-mode",
            "002-budget-limits",
            "003-allowlist-enabled-by"
        ]
    );
    let applied = apply_all(&vendored(), &overrides);
    for (ov, status) in &applied.statuses {
        assert_eq!(*status, Status::Needed, "{}", ov.file);
        for field in [
            &ov.why,
            &ov.source,
            &ov.upstream_issue,
            &ov.delete_when,
            &ov.title,
        ] {
            assert!(!field.trim().is_empty(), "{}: metadata missing", ov.file);
        }
    }
    assert_eq!(applied.doc, patched());
}

#[test]
fn a_spec_that_already_holds_the_live_shape_makes_each_override_redundant() {
    let live = patched();
    for ov in load_dir(&root().join("overrides")).unwrap() {
        assert_eq!(classify(&live, &ov).0, Status::Redundant, "{}", ov.file);
    }
}

#[test]
fn a_spec_changed_another_way_is_a_conflict_with_the_pointer_and_both_values() {
    let mut spec = vendored();
    let stale = spec["components"]["schemas"]["SetLlmBillingModeRequest"].clone();
    spec["components"]["schemas"]["SetLlmBillingModeRequest"]["properties"]["mode"]["enum"] =
        json!(["platform_managed", "byok", "metered"]);
    let ov = load_dir(&root().join("overrides")).unwrap().remove(0);
    let Status::Conflict(conflict) = classify(&spec, &ov).0 else {
        panic!("expected a conflict")
    };
    assert_eq!(
        conflict.pointer,
        "/components/schemas/SetLlmBillingModeRequest"
    );
    assert_eq!(conflict.op, "test");
    assert_eq!(conflict.expected, Some(stale));
    assert_eq!(
        conflict.found.clone().unwrap()["properties"]["mode"]["enum"],
        json!(["platform_managed", "byok", "metered"])
    );
    let message = conflict.to_string();
    assert!(
        message.contains("/components/schemas/SetLlmBillingModeRequest"),
        "{message}"
    );
}

#[test]
fn an_upstream_field_added_beside_the_stale_shape_is_not_overwritten_silently() {
    let mut spec = vendored();
    spec["components"]["schemas"]["SetWorkspaceBudgetRequest"]["properties"]["currency"] =
        json!({ "type": "string" });
    let ov = load_dir(&root().join("overrides")).unwrap().remove(1);
    assert!(matches!(classify(&spec, &ov).0, Status::Conflict(_)));
}

#[test]
fn a_live_shape_worded_differently_upstream_is_still_redundant() {
    let mut live = patched();
    for name in [
        "SetLlmBillingModeRequest",
        "BudgetLimits",
        "SetPluginAllowlistRequest",
    ] {
        live["components"]["schemas"][name]["description"] = json!("Reworded upstream.");
    }
    for ov in load_dir(&root().join("overrides")).unwrap() {
        assert_eq!(classify(&live, &ov).0, Status::Redundant, "{}", ov.file);
    }
}

#[test]
fn a_spec_missing_the_patched_schema_is_a_conflict_that_says_nothing_is_there() {
    let mut spec = vendored();
    spec["components"]["schemas"]
        .as_object_mut()
        .unwrap()
        .remove("SetPluginAllowlistRequest");
    let ov = load_dir(&root().join("overrides")).unwrap().remove(2);
    let Status::Conflict(conflict) = classify(&spec, &ov).0 else {
        panic!("expected a conflict")
    };
    assert_eq!(conflict.found, None);
    assert!(conflict.to_string().contains("the spec has nothing there"));
}

#[test]
fn an_override_must_start_with_a_test() {
    let text = "id: x\ntitle: t\nwhy: w\nsource: s\nupstream_issue: '#1'\ndelete_when: d\npatch:\n  - {op: replace, path: /info/title, value: x}\n";
    let err = parse("bad.yaml", text).unwrap_err().to_string();
    assert!(
        err.contains("bad.yaml") && err.contains("must start with a `test`"),
        "{err}"
    );
    let err = parse("typo.yaml", "id: x\ntitel: t\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("typo.yaml"), "{err}");
}

#[test]
fn swagger_2_and_unparsable_files_are_clear_errors() {
    let err = parse_openapi("old.yaml", "swagger: '2.0'\ninfo: {}\n").unwrap_err();
    assert!(matches!(err, SpecError::Swagger2 { .. }));
    assert_eq!(
        err.to_string(),
        "old.yaml: a Swagger 2.0 document; only OpenAPI 3.0.x and 3.1.x are read. Convert it to \
         OpenAPI 3 first, e.g. `npx swagger2openapi old.yaml --yaml --outfile openapi.yaml` (or \
         the Swagger Editor's Edit > Convert to OpenAPI 3), then use the result"
    );
    let err = parse_openapi("new.yaml", "openapi: 3.2.0\n")
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "new.yaml: not an OpenAPI 3.0 or 3.1 document (openapi: 3.2.0)"
    );
    let err = parse_openapi("broken.yaml", "openapi: 3.0.3\npaths: [\n  - a: b\n  c")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("broken.yaml: not valid YAML or JSON at line"),
        "{err}"
    );
}

#[test]
fn a_3_1_keyword_with_no_3_0_form_in_a_request_is_an_error_naming_file_pointer_and_keyword() {
    let text = "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /x:\n    post:\n      requestBody:\n        content:\n          application/json:\n            schema: {type: array, prefixItems: [{type: string}]}\n      responses: {}\n";
    let err = parse_openapi("spec/management.yaml", text).unwrap_err();
    assert_eq!(
        err.to_string(),
        "spec/management.yaml: OpenAPI 3.1 keywords with no OpenAPI 3.0 form:\n  - `prefixItems` at \
         `/paths/~1x/post/requestBody/content/application~1json/schema`: OpenAPI 3.0 cannot say \
         this, and it shapes what the client sends: dropping it would change the wire\nThey \
         shape what this server sends, and progenitor reads OpenAPI 3.0 only: ask upstream to \
         say them another way (`items` for `prefixItems`, `oneOf` for `if`/`then`), or vendor a \
         copy rewritten by hand and record that in spec/SOURCE.md."
    );
}

#[test]
fn operation_inventory_of_the_patched_specs() {
    let mut text = inventory::render(&inventory::operations(&patched()));
    let cp: Value = serde_json::from_str(molecule_mcp::PATCHED_CP_SPEC).unwrap();
    text += &inventory::render(&inventory::operations(&cp));
    insta::assert_snapshot!("operation_inventory", text);
}

#[test]
fn the_overridden_schemas_after_patching() {
    let spec = patched();
    let schemas = &spec["components"]["schemas"];
    for name in [
        "SetLlmBillingModeRequest",
        "LlmBillingModeResolution",
        "SetWorkspaceBudgetRequest",
        "BudgetLimits",
        "WorkspaceBudget",
        "SetPluginAllowlistRequest",
    ] {
        insta::assert_json_snapshot!(format!("patched_schema__{name}"), schemas[name]);
    }
}

#[test]
fn the_generated_operation_enum_matches_the_specs() {
    let cp: Value = serde_json::from_str(molecule_mcp::PATCHED_CP_SPEC).unwrap();
    let mut ids: Vec<String> = inventory::operations(&patched())
        .into_iter()
        .map(|o| o.id)
        .collect();
    ids.extend(inventory::operations(&cp).into_iter().map(|o| o.id));
    let generated: Vec<String> = molecule_mcp::Operation::ALL
        .iter()
        .map(|o| o.operation_id().to_string())
        .collect();
    assert_eq!(generated, ids);
}

#[test]
fn a_reworded_description_in_the_stale_shape_keeps_the_override_needed() {
    let mut spec = vendored();
    spec["components"]["schemas"]["SetPluginAllowlistRequest"]["properties"]["enabled_by"]["description"] =
        json!("Who made the change.");
    let ov = load_dir(&root().join("overrides")).unwrap().remove(2);
    let (status, patched) = classify(&spec, &ov);
    assert_eq!(status, Status::Needed);
    assert_eq!(
        patched.unwrap()["components"]["schemas"]["SetPluginAllowlistRequest"]["required"],
        json!(["plugins", "enabled_by"])
    );
}
