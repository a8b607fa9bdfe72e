//! The tool definitions: one snapshot per tool, invariants every host relies on, the
//! binding between rows and operations, and the README table.

use molecule_mcp::Operation;
use molecule_mcp::call::Engine;
use molecule_mcp::tools::table::{Decision, TOOLS, decide};
use serde_json::Value;

fn engine() -> Engine {
    crate::common::engine(crate::common::config(&[]))
}

#[test]
fn each_tool_definition_is_pinned_by_a_snapshot() {
    let engine = engine();
    for entry in &engine.catalog().entries {
        insta::assert_json_snapshot!(format!("tool__{}", entry.row.name), entry.tool);
    }
}

#[test]
fn the_typescript_tools_and_the_two_read_tools_are_served_in_table_order() {
    let engine = engine();
    let names: Vec<&str> = engine
        .catalog()
        .entries
        .iter()
        .map(|e| e.row.name)
        .collect();
    let typescript = [
        "list_workspaces",
        "get_workspace",
        "provision_workspace",
        "deprovision_workspace",
        "restart_workspace",
        "pause_workspace",
        "resume_workspace",
        "set_workspace_secret",
        "list_workspace_secrets",
        "delete_workspace_secret",
        "set_org_secret",
        "list_org_secrets",
        "delete_org_secret",
        "set_workspace_budget",
        "set_llm_billing_mode",
        "list_org_templates",
        "create_org_from_template",
        "list_templates",
        "import_template",
        "mint_org_token",
        "list_org_tokens",
        "revoke_org_token",
        "mint_workspace_token",
        "get_org_plugin_allowlist",
        "set_org_plugin_allowlist",
        "export_bundle",
        "import_bundle",
        "list_org_events",
        "list_pending_approvals",
        "list_orgs",
        "get_org",
    ];
    for name in typescript {
        assert!(names.contains(&name), "{name} missing");
    }
    assert!(names.contains(&"get_workspace_budget") && names.contains(&"get_llm_billing_mode"));
    let rows: Vec<&str> = TOOLS.iter().map(|t| t.name).collect();
    assert_eq!(names, rows, "every row is served, in table order");
    let unique: std::collections::BTreeSet<_> = names.iter().collect();
    assert_eq!(unique.len(), names.len(), "duplicate tool names");
}

fn walk(value: &Value, path: &str, visit: &mut dyn FnMut(&str, &serde_json::Map<String, Value>)) {
    if let Value::Object(map) = value {
        visit(path, map);
        for (k, v) in map {
            walk(v, &format!("{path}/{k}"), visit);
        }
    } else if let Value::Array(items) = value {
        for (i, v) in items.iter().enumerate() {
            walk(v, &format!("{path}/{i}"), visit);
        }
    }
}

#[test]
fn every_tool_definition_is_host_safe() {
    let engine = engine();
    let name_rule = |n: &str| {
        !n.is_empty()
            && n.len() <= 64
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    for entry in &engine.catalog().entries {
        let tool = serde_json::to_value(&entry.tool).unwrap();
        let name = entry.row.name;
        assert!(name_rule(name), "{name}");
        assert!(
            tool["title"].as_str().is_some_and(|t| !t.is_empty()),
            "{name}: title"
        );
        assert!(
            tool["description"].as_str().is_some_and(|t| t.len() > 20),
            "{name}: description"
        );
        let input = &tool["inputSchema"];
        assert_eq!(input["type"], "object", "{name}");
        assert_eq!(input["additionalProperties"], false, "{name}");
        for combinator in ["anyOf", "oneOf", "allOf"] {
            assert!(
                input.get(combinator).is_none(),
                "{name}: top-level {combinator}"
            );
        }
        walk(input, "", &mut |path, map| {
            assert!(!map.contains_key("$ref"), "{name}: $ref at {path}");
            assert!(
                !map.contains_key("nullable"),
                "{name}: OpenAPI nullable at {path}"
            );
        });
        for (arg, schema) in input["properties"].as_object().unwrap() {
            assert!(
                schema["description"]
                    .as_str()
                    .is_some_and(|d| !d.is_empty()),
                "{name}.{arg}: undescribed"
            );
        }
        if let Some(required) = input.get("required").and_then(Value::as_array) {
            for r in required {
                assert!(
                    input["properties"].get(r.as_str().unwrap()).is_some(),
                    "{name}: required {r} not a property"
                );
            }
        }
        let annotations = &tool["annotations"];
        for hint in [
            "readOnlyHint",
            "destructiveHint",
            "idempotentHint",
            "openWorldHint",
        ] {
            assert!(annotations[hint].is_boolean(), "{name}: {hint}");
        }
        assert_eq!(annotations["openWorldHint"], false, "{name}");
        if let Some(output) = tool.get("outputSchema") {
            assert_eq!(output["type"], "object", "{name}");
            walk(output, "", &mut |path, map| {
                assert!(!map.contains_key("$ref"), "{name}: output $ref at {path}");
                assert!(
                    !map.contains_key("required"),
                    "{name}: output required at {path}"
                );
                assert!(!map.contains_key("enum"), "{name}: output enum at {path}");
                assert_ne!(
                    map.get("additionalProperties"),
                    Some(&Value::Bool(false)),
                    "{name}: closed output at {path}"
                );
            });
        }
    }
}

#[test]
fn path_arguments_refuse_empty_and_dot_segments_in_the_advertised_schema() {
    let engine = engine();
    for entry in &engine.catalog().entries {
        for plan in &entry.derived.plans {
            for target in plan
                .targets
                .iter()
                .filter(|t| t.location == molecule_mcp::tools::derive::Location::Path)
            {
                let schema = &entry.derived.input["properties"][&target.tool];
                assert_eq!(schema["minLength"], 1, "{}.{}", entry.row.name, target.tool);
                assert_eq!(
                    schema["not"]["enum"],
                    serde_json::json!([".", ".."]),
                    "{}.{}",
                    entry.row.name,
                    target.tool
                );
            }
        }
    }
}

#[test]
fn destructive_and_credential_tools_say_so() {
    for name in ["deprovision_workspace", "revoke_org_token"] {
        let row = TOOLS.iter().find(|t| t.name == name).unwrap();
        assert!(row.description.starts_with("DESTRUCTIVE"), "{name}");
    }
    let mint = TOOLS.iter().find(|t| t.name == "mint_org_token").unwrap();
    assert!(
        mint.description.contains("root-equivalent") && mint.description.contains("shown once")
    );
}

#[test]
fn every_operation_is_bound_to_the_row_that_routes_to_it() {
    for op in Operation::ALL {
        let routed_by: Vec<&str> = TOOLS
            .iter()
            .filter(|t| t.route.operations().contains(op))
            .map(|t| t.name)
            .collect();
        match decide(*op) {
            Decision::Tool(row) => assert_eq!(routed_by, [row.name], "{op:?}"),
            Decision::Skipped(reason) => {
                assert!(
                    routed_by.is_empty(),
                    "{op:?} is skipped ({reason}) but routed by {routed_by:?}"
                );
                assert!(reason.len() > 10, "{op:?}: a skip needs a real reason");
            }
        }
    }
}

#[test]
fn the_readme_tool_table_is_current() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("<!-- tools:begin -->\n")
        .expect("README has the tools:begin marker")
        + "<!-- tools:begin -->\n".len();
    let end = readme
        .find("<!-- tools:end -->")
        .expect("README has the tools:end marker");
    let expected = molecule_mcp::tools::doc::tools_markdown(engine().catalog().entries.iter());
    assert_eq!(
        &readme[start..end],
        expected,
        "README tool table is stale: replace it with `cargo run -- tools --format markdown`"
    );
}

#[test]
fn every_input_and_output_validator_compiles() {
    // Validators compile lazily, and an output schema that failed to compile would
    // silently switch its check off: compile them all here.
    let engine = engine();
    for entry in &engine.catalog().entries {
        assert!(
            entry.validator().is_ok(),
            "{}: {:?}",
            entry.row.name,
            entry.validator().err()
        );
        assert_eq!(
            entry.derived.output.is_some(),
            entry.output_validator().is_some(),
            "{}: output schema does not compile",
            entry.row.name
        );
    }
}

/// The part of `tools/list` a model reads before every decision (names, descriptions,
/// input schemas; measured as `benches/perf.rs` and BENCHMARKS.md do, compact JSON) may
/// not grow past its budget: better words, not more words.
#[test]
fn the_model_facing_tool_list_stays_within_its_budget() {
    const BUDGET_BYTES: usize = 12_380;
    let engine = engine();
    let tools: Vec<Value> = engine
        .catalog()
        .entries
        .iter()
        .map(|e| {
            serde_json::json!({
                "name": e.tool.name,
                "description": e.tool.description,
                "inputSchema": e.tool.input_schema,
            })
        })
        .collect();
    assert_eq!(tools.len(), TOOLS.len(), "every row is measured");
    let bytes = serde_json::to_string(&tools).unwrap().len();
    assert!(
        bytes <= BUDGET_BYTES,
        "the model-facing tool list of {} tools is {bytes} bytes, over its budget of {BUDGET_BYTES}",
        tools.len()
    );
    eprintln!(
        "model-facing tool list: {} tools, {bytes} bytes",
        tools.len()
    );
}

/// The table as build.rs reads it (with `syn`, to derive every definition at build
/// time) is the table as rustc compiles it: every arm's decision equal, field by field,
/// and `TOOLS` in the order of the arms.
#[test]
fn build_rs_reads_the_table_exactly_as_rustc_compiles_it() {
    use molecule_mcp::spec::{landing, source::Table};
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/tools/table.rs"))
        .unwrap();
    let table = Table::parse(&text).unwrap();
    let resolve = |variant: &str| {
        Operation::ALL
            .iter()
            .copied()
            .find(|op| landing::variant(op.operation_id()) == variant)
    };
    let decisions = table.decisions(&resolve).unwrap();
    let mut decided = 0;
    let mut order = Vec::new();
    for (ops, read) in &decisions {
        for op in ops {
            assert_eq!(*read, decide(*op), "{op:?}");
            decided += 1;
        }
        if let Decision::Tool(row) = read {
            order.push(row.name);
        }
    }
    assert_eq!(decided, Operation::ALL.len(), "one arm per operation");
    let served: Vec<&str> = TOOLS.iter().map(|row| row.name).collect();
    assert_eq!(order, served);
}

/// What build.rs refuses in the table names the line and the rule.
#[test]
fn a_row_outside_the_tables_grammar_or_routing_another_arm_is_refused_with_its_line() {
    use molecule_mcp::spec::source::Table;
    let resolve = |variant: &str| {
        Operation::ALL
            .iter()
            .copied()
            .find(|op| format!("{op:?}") == variant)
    };
    let row = |route: &str, access: &str| {
        format!(
            "use Operation as O;\npub const fn decide(op: Operation) -> Decision {{\n    match op {{\n        O::ListWorkspaces => Tool(&ToolRow {{\n            name: \"a\",\n            title: \"A\",\n            access: {access},\n            toolset: Toolset::Workspaces,\n            route: {route},\n            args: &[],\n            description: \"d\",\n        }}),\n    }}\n}}\n"
        )
    };
    let read = |text: String| Table::parse(&text).unwrap().decisions(&resolve).map(|_| ());
    assert_eq!(read(row("One(O::ListWorkspaces)", "Access::Read")), Ok(()));
    assert_eq!(
        read(row("One(O::GetWorkspace)", "Access::Read")),
        Err(
            "src/tools/table.rs:4: the arm of tool `a` matches `list_workspaces` but its route \
             reaches `get_workspace`: an arm matches exactly the operations its row routes"
                .into()
        )
    );
    assert_eq!(
        read(row("One(O::ListWorkspaces)", "access()")),
        Err("src/tools/table.rs:7: expected an `Access::..` variant".into())
    );
    assert_eq!(
        read(row("One(O::NoSuchThing)", "Access::Read")),
        Err("src/tools/table.rs:9: no operation `O::NoSuchThing` in the specs".into())
    );
}
