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

/// The verdict on each override and the build's words about it: which overrides are
/// redundant, where a conflict is (op index and name, tests counted), shape comparison
/// of arrays, and the clipping of long values in a conflict.
mod verdicts {
    use super::{patched, root, vendored};
    use molecule_mcp::spec::landing;
    use molecule_mcp::spec::overrides::{
        Applied, Conflict, Override, Status, classify, load_dir, parse, same_shape,
    };
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
            failure
                .contains("; the spec has nothing there. Edit overrides/009-write-conflict.yaml"),
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
        let a =
            json!({ "oneOf": [{ "type": "string", "description": "a" }, { "type": "integer" }] });
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
}

/// The patched spec's schemas as the tools' exact JSON Schema: the sub-schemas of
/// `anyOf`/`oneOf`/`allOf` are converted like any other.
mod conversion {
    use molecule_mcp::tools::json_schema::exact_schema;
    use serde_json::json;

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
}
