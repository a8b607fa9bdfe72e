//! Drift behaviour pinned where mutation testing (TESTING.md) found the suite blind:
//! which findings fail `--fail-on any`, and the warning for keywords a 3.1 candidate
//! loses in response-only schemas.

use molecule_mcp::drift::{Counts, FailOn, Operations, Report};
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_molecule-mcp");

fn report(summary: Counts) -> Report {
    Report {
        candidate: "candidate.yaml".into(),
        overrides: vec![],
        operations: Operations {
            added: vec![],
            removed: vec![],
            changed: vec![],
        },
        tools: vec![],
        unbound_operations: vec![],
        summary,
    }
}

/// Each kind of finding alone, and the least `--fail-on` level it reaches.
#[test]
fn each_finding_alone_fails_exactly_the_levels_it_belongs_to() {
    type Set = fn(&mut Counts);
    let cases: [(&str, Set, FailOn); 9] = [
        (
            "overrides_conflict",
            |s| s.overrides_conflict = 1,
            FailOn::Conflict,
        ),
        (
            "tools_missing_operation",
            |s| s.tools_missing_operation = 1,
            FailOn::Conflict,
        ),
        (
            "breaking_changes",
            |s| s.breaking_changes = 1,
            FailOn::Breaking,
        ),
        (
            "overrides_redundant",
            |s| s.overrides_redundant = 1,
            FailOn::Any,
        ),
        ("operations_added", |s| s.operations_added = 1, FailOn::Any),
        (
            "operations_removed",
            |s| s.operations_removed = 1,
            FailOn::Any,
        ),
        (
            "operations_changed",
            |s| s.operations_changed = 1,
            FailOn::Any,
        ),
        (
            "tools_schema_changed",
            |s| s.tools_schema_changed = 1,
            FailOn::Any,
        ),
        (
            "unbound_operations",
            |s| s.unbound_operations = 1,
            FailOn::Any,
        ),
    ];
    for (name, set, least) in cases {
        let mut summary = Counts::default();
        set(&mut summary);
        let r = report(summary);
        for level in [
            FailOn::Never,
            FailOn::Conflict,
            FailOn::Breaking,
            FailOn::Any,
        ] {
            let expected = level != FailOn::Never && level >= least;
            assert_eq!(r.fails(level), expected, "{name} at {level:?}");
        }
    }
    // Needed overrides and unaffected tools are no finding.
    let quiet = report(Counts {
        overrides_needed: 3,
        tools_ok: 30,
        ..Counts::default()
    });
    assert!(!quiet.fails(FailOn::Any));
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
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("mutants-drift");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("candidate.3.1.yaml"), text).unwrap();
    let out = Command::new(BIN)
        .current_dir(&dir)
        .args(["drift", "--spec", "candidate.3.1.yaml"])
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("patternProperties")
            && stderr.contains("/components/schemas/WorkspaceBudget"),
        "{stderr}"
    );
}

/// A one-operation spec whose GET takes these parameters.
fn with_parameters(parameters: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "openapi": "3.0.3",
        "info": { "title": "t", "version": "1" },
        "paths": { "/things": { "get": {
            "operationId": "listThings",
            "parameters": parameters,
            "responses": { "200": { "description": "ok" } }
        } } }
    })
}

fn parameter_changes(old: serde_json::Value, new: serde_json::Value) -> Vec<(String, bool)> {
    use molecule_mcp::drift::diff::diff_operation;
    use molecule_mcp::spec::inventory::operations;
    let (old, new) = (with_parameters(old), with_parameters(new));
    let (a, b) = (operations(&old), operations(&new));
    diff_operation(&old, &a[0], &new, &b[0])
        .into_iter()
        .map(|c| (c.kind.to_string(), c.kind.breaking()))
        .collect()
}

/// An optional parameter added is not breaking; a required one is; an optional one
/// becoming required is.
#[test]
fn parameters_added_or_made_required_are_classified_by_whether_they_are_required() {
    let limit = |required: Option<bool>| {
        let mut p =
            serde_json::json!({ "name": "limit", "in": "query", "schema": { "type": "integer" } });
        if let Some(r) = required {
            p["required"] = serde_json::json!(r);
        }
        p
    };
    let none = serde_json::json!([]);
    assert_eq!(
        parameter_changes(none.clone(), serde_json::json!([limit(None)])),
        [("parameter_added".to_string(), false)]
    );
    assert_eq!(
        parameter_changes(none.clone(), serde_json::json!([limit(Some(false))])),
        [("parameter_added".to_string(), false)]
    );
    assert_eq!(
        parameter_changes(none, serde_json::json!([limit(Some(true))])),
        [("required_parameter_added".to_string(), true)]
    );
    assert_eq!(
        parameter_changes(
            serde_json::json!([limit(None)]),
            serde_json::json!([limit(Some(true))])
        ),
        [("parameter_now_required".to_string(), true)]
    );
    assert_eq!(
        parameter_changes(
            serde_json::json!([limit(Some(true))]),
            serde_json::json!([limit(Some(true))])
        ),
        []
    );
}

/// A parameter's schema change, as the drift report classifies it.
fn schema_change(old: serde_json::Value, new: serde_json::Value) -> Vec<(String, bool)> {
    let param = |schema| serde_json::json!([{ "name": "q", "in": "query", "schema": schema }]);
    parameter_changes(param(old), param(new))
}

/// What the server sends must still be accepted: a lower maximum or a higher minimum
/// refuses values it sent before (breaking); the reverse never does.
#[test]
fn a_tighter_limit_on_what_is_sent_is_breaking_and_a_looser_one_is_not() {
    let s = |max: u64, min: u64| serde_json::json!({ "type": "string", "maxLength": max, "minLength": min });
    let breaking = |changes: Vec<(String, bool)>| -> Vec<bool> {
        changes.into_iter().map(|(_, b)| b).collect()
    };
    assert_eq!(breaking(schema_change(s(10, 1), s(5, 1))), [true]);
    assert_eq!(breaking(schema_change(s(10, 1), s(20, 1))), [false]);
    assert_eq!(breaking(schema_change(s(10, 1), s(10, 3))), [true]);
    assert_eq!(breaking(schema_change(s(10, 3), s(10, 1))), [false]);
    assert_eq!(schema_change(s(10, 1), s(10, 1)), []);
    // The same limit written as a float is not tighter.
    let float = serde_json::json!({ "type": "string", "maxLength": 10.0, "minLength": 1.0 });
    assert_eq!(breaking(schema_change(s(10, 1), float)), [false, false]);
}

/// A changed type, or a value that may no longer be null, is a change the report
/// names; the same type written the 3.1 way is none.
#[test]
fn type_and_nullability_changes_are_found_however_they_are_written() {
    let int = serde_json::json!({ "type": "integer" });
    let string = serde_json::json!({ "type": "string" });
    assert!(!schema_change(int.clone(), string).is_empty());
    let nullable = serde_json::json!({ "type": "integer", "nullable": true });
    assert!(!schema_change(nullable.clone(), int.clone()).is_empty());
    let nullable_3_1 = serde_json::json!({ "type": ["null", "integer"] });
    assert_eq!(schema_change(nullable, nullable_3_1), []);
    assert_eq!(schema_change(int.clone(), int), []);
}

/// A finding about one of two query parameters points at that parameter's own line.
#[test]
fn a_parameter_finding_points_at_the_parameter_with_that_name() {
    use molecule_mcp::drift::locate::document_pointer;
    let doc = with_parameters(serde_json::json!([
        { "name": "limit", "in": "query", "schema": { "type": "integer" } },
        { "name": "cursor", "in": "query", "schema": { "type": "string" } },
        { "name": "cursor", "in": "header", "schema": { "type": "string" } },
    ]));
    let op = "/paths/~1things/get";
    assert_eq!(
        document_pointer(&doc, op, "/parameters/query/cursor"),
        (format!("{op}/parameters/1/schema"), true)
    );
    assert_eq!(
        document_pointer(&doc, op, "/parameters/header/cursor"),
        (format!("{op}/parameters/2/schema"), true)
    );
}

/// An operation's own parameter replaces the path item's shared one of the same place
/// and name (OpenAPI's rule); the other shared ones stay.
#[test]
fn an_operations_own_parameter_overrides_the_shared_one() {
    use molecule_mcp::spec::inventory::parameters;
    let doc = serde_json::json!({ "paths": { "/things": {
        "parameters": [
            { "name": "limit", "in": "query", "schema": { "type": "integer" } },
            { "name": "tenant", "in": "header", "schema": { "type": "string" } }
        ],
        "get": { "parameters": [
            { "name": "limit", "in": "query", "schema": { "type": "string" } }
        ] }
    } } });
    let op = "/paths/~1things/get";
    let found = parameters(&doc, op, doc.pointer(op).unwrap());
    let seen: Vec<(String, String)> = found
        .iter()
        .map(|p| (p["name"].to_string(), p["schema"]["type"].to_string()))
        .collect();
    assert_eq!(
        seen,
        [
            ("\"tenant\"".to_string(), "\"string\"".to_string()),
            ("\"limit\"".to_string(), "\"string\"".to_string())
        ]
    );
}
