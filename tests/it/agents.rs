//! What an agent needs to act on every answer (issue #23, agent half): hints from what
//! the server can check, the server's own key, complete validation errors, honest
//! descriptions, output schemas for the control-plane tools, host-portable input
//! schemas and cacheable tool lists. Each behaviour is tried against the sandbox and,
//! where the tenant's answer matters, against a recording tenant that answers as the
//! live handlers do (docs/contract.md).

use crate::common::{KEY, ORG_ID, RawRequest, RawTenant, config, engine};
use molecule_mcp::call::Engine;
use molecule_mcp::sandbox::{Sandbox, seed};
use serde_json::{Value, json};

/// The envelope (or success value) an MCP host receives for one call.
async fn answer(engine: &Engine, tool: &str, args: Value) -> (bool, Value) {
    let entry = engine.catalog().get(tool).unwrap();
    let Value::Object(args) = args else {
        panic!("args must be an object")
    };
    let result = engine.respond(entry, args).await;
    let text = &result.content[0].as_text().unwrap().text;
    (
        result.is_error == Some(true),
        serde_json::from_str(text).unwrap(),
    )
}

/// The envelope of a call that must fail.
async fn failed(engine: &Engine, tool: &str, args: Value) -> Value {
    let (is_error, envelope) = answer(engine, tool, args).await;
    assert!(is_error, "{tool} succeeded: {envelope}");
    envelope
}

fn hint(envelope: &Value) -> &str {
    envelope["hint"]
        .as_str()
        .unwrap_or_else(|| panic!("no hint in {envelope}"))
}

async fn sandbox() -> (Sandbox, Engine) {
    let sandbox = Sandbox::start().await.expect("sandbox starts");
    let engine = engine(sandbox.config());
    (sandbox, engine)
}

// ------------------------------------------------- every allowed value, null too

#[tokio::test]
async fn an_enum_error_lists_every_allowed_value_and_null() {
    let engine = engine(config(&[
        ("MOLECULE_ORG_API_KEY", KEY),
        ("MOLECULE_ORG_ID", ORG_ID),
    ]));
    let envelope = failed(
        &engine,
        "set_llm_billing_mode",
        json!({ "workspace_id": seed::RESEARCHER_WORKSPACE_ID, "mode": "BYOK" }),
    )
    .await;
    assert_eq!(envelope["error"], "INVALID_ARGUMENTS");
    let detail = envelope["detail"].as_str().unwrap();
    for value in [
        r#""platform_managed""#,
        r#""byok""#,
        r#""disabled""#,
        "null",
    ] {
        assert!(detail.contains(value), "{value} missing: {detail}");
    }
    assert!(!detail.contains("other candidates"), "{detail}");
    // Every enum of every tool is listed whole, however long.
    let envelope = failed(
        &engine,
        "create_org_from_template",
        json!({ "dir": "x", "mode": "replace" }),
    )
    .await;
    let detail = envelope["detail"].as_str().unwrap();
    assert!(
        detail.contains(r#""merge""#)
            && detail.contains(r#""reconcile""#)
            && !detail.contains("null"),
        "{detail}"
    );
}

// ------------------------------------------------- schemas every common host accepts

/// Every place in `schema` where `type` is an array, as JSON pointers.
fn type_arrays(schema: &Value, at: String, out: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            if map.get("type").is_some_and(Value::is_array) {
                out.push(at.clone());
            }
            for (k, v) in map {
                type_arrays(v, format!("{at}/{k}"), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                type_arrays(v, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// Hosts that map tool schemas onto a one-type-per-field dialect refuse
/// `"type": [T, "null"]`; the advertised schemas say nullable as `anyOf` branches of
/// one type each, and still admit `null` where the tenant takes it.
#[test]
fn advertised_schemas_have_no_type_arrays_and_still_admit_null() {
    let engine = engine(config(&[]));
    let mut found = Vec::new();
    for entry in &engine.catalog().entries {
        let tool = serde_json::to_value(&entry.tool).unwrap();
        type_arrays(
            &tool["inputSchema"],
            format!("{}/input", entry.row.name),
            &mut found,
        );
        type_arrays(
            &tool["outputSchema"],
            format!("{}/output", entry.row.name),
            &mut found,
        );
    }
    assert!(found.is_empty(), "type arrays at {found:#?}");

    let input = |tool: &str| {
        let entry = engine.catalog().get(tool).unwrap();
        jsonschema::draft202012::new(&serde_json::to_value(&entry.tool.input_schema).unwrap())
            .unwrap()
    };
    let ws = seed::RESEARCHER_WORKSPACE_ID;
    let billing = input("set_llm_billing_mode");
    assert!(billing.is_valid(&json!({ "workspace_id": ws, "mode": null })));
    assert!(billing.is_valid(&json!({ "workspace_id": ws, "mode": "disabled" })));
    assert!(!billing.is_valid(&json!({ "workspace_id": ws, "mode": "BYOK" })));
    let budget = input("set_workspace_budget");
    assert!(
        budget.is_valid(
            &json!({ "workspace_id": ws, "budget_limits": { "hourly": null, "daily": 5 } })
        )
    );
    assert!(budget.is_valid(&json!({ "workspace_id": ws, "budget_limit": null })));
    assert!(!budget.is_valid(&json!({ "workspace_id": ws, "budget_limit": -1 })));
    assert!(!budget.is_valid(&json!({ "workspace_id": ws, "budget_limits": { "daily": "5" } })));
}

// ------------------------------------------------- descriptions that never understate

/// A tool that can delete is annotated destructive and says so in its description;
/// `create_org_from_template` can (mode reconcile deletes what the template does not
/// name).
#[test]
fn every_tool_that_can_delete_is_destructive_and_says_so() {
    use molecule_mcp::tools::table::{Access, TOOLS};
    let engine = engine(config(&[]));
    for row in TOOLS.iter().filter(|r| r.access == Access::Destructive) {
        let lower = row.description.to_ascii_lowercase();
        assert!(
            ["delete", "revoke"].iter().any(|w| lower.contains(w)),
            "{}: {}",
            row.name,
            row.description
        );
        let tool = &engine.catalog().get(row.name).unwrap().tool;
        let annotations = tool.annotations.as_ref().unwrap();
        assert_eq!(annotations.destructive_hint, Some(true), "{}", row.name);
        assert_eq!(annotations.read_only_hint, Some(false), "{}", row.name);
    }
    let row = TOOLS
        .iter()
        .find(|r| r.name == "create_org_from_template")
        .unwrap();
    assert_eq!(row.access, Access::Destructive);
    assert!(
        row.description.contains("reconcile") && row.description.contains("DELETES"),
        "{}",
        row.description
    );
}

/// In the sandbox, reconcile does what the description says: the template's tree is
/// kept (not duplicated when run again), and every workspace it does not name is
/// deleted, after the template's workspaces exist.
#[tokio::test]
async fn reconcile_in_the_sandbox_keeps_the_template_tree_and_deletes_the_rest() {
    let (_sb, engine) = sandbox().await;
    let names = |list: &Value| -> Vec<String> {
        let mut n: Vec<String> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["name"].as_str().unwrap().to_string())
            .collect();
        n.sort();
        n
    };
    let template = json!({ "name": "Lab", "workspaces": [
        { "name": "Acme HQ", "children": [{ "name": "Researcher" }, { "name": "Analyst" }] }
    ] });
    let args = json!({ "template": template, "mode": "reconcile" });
    let (is_error, first) = answer(&engine, "create_org_from_template", args.clone()).await;
    assert!(!is_error, "{first}");
    // Only Analyst is new; Writer is not in the template and is gone.
    assert_eq!(first["count"], 1, "{first}");
    let (_, listed) = answer(&engine, "list_workspaces", json!({})).await;
    assert_eq!(names(&listed), ["Acme HQ", "Analyst", "Researcher"]);
    let (_, writer) = answer(
        &engine,
        "get_workspace",
        json!({ "workspace_id": seed::WRITER_WORKSPACE_ID }),
    )
    .await;
    assert_eq!(writer["status"], "removed");

    // Run again: nothing is duplicated, nothing more is deleted.
    let (_, second) = answer(&engine, "create_org_from_template", args).await;
    assert_eq!(second["count"], 0, "{second}");
    let (_, again) = answer(&engine, "list_workspaces", json!({})).await;
    assert_eq!(names(&again), ["Acme HQ", "Analyst", "Researcher"]);

    // merge (the default) still only adds.
    let (_, merged) = answer(
        &engine,
        "create_org_from_template",
        json!({ "template": { "name": "Lab", "workspaces": [{ "name": "Acme HQ" }] } }),
    )
    .await;
    assert_eq!(merged["count"], 1);
    let (_, after) = answer(&engine, "list_workspaces", json!({})).await;
    assert_eq!(
        names(&after),
        ["Acme HQ", "Acme HQ", "Analyst", "Researcher"]
    );
}

// ------------------------------------------------- control-plane output schemas

/// `list_orgs` and `get_org` declare output schemas from spec/cp-admin.yaml's `OrgList`
/// and `Org`, and their sandbox answers come back as valid `structuredContent`.
#[tokio::test]
async fn the_control_plane_tools_return_structured_content() {
    let (_sb, engine) = sandbox().await;
    for (tool, args) in [
        ("list_orgs", json!({})),
        ("get_org", json!({ "slug": seed::ORG_SLUG })),
    ] {
        let entry = engine.catalog().get(tool).unwrap();
        let schema = entry
            .tool
            .output_schema
            .as_ref()
            .unwrap_or_else(|| panic!("{tool} declares no outputSchema"));
        let validator =
            jsonschema::draft202012::new(&serde_json::to_value(schema.as_ref()).unwrap()).unwrap();
        let Value::Object(args) = args else {
            unreachable!()
        };
        let result = engine.respond(entry, args).await;
        assert_ne!(result.is_error, Some(true), "{tool}: {result:?}");
        let structured = result
            .structured_content
            .unwrap_or_else(|| panic!("{tool}: no structuredContent"));
        assert!(validator.is_valid(&structured), "{tool}: {structured}");
        let org = if tool == "list_orgs" {
            structured["orgs"][0].clone()
        } else {
            structured
        };
        assert_eq!(org["slug"], seed::ORG_SLUG, "{tool}");
    }
}

// ------------------------------------------------- cacheable tool lists

const META_2026: &str = r#"{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"t","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}"#;

/// A 2026-07-28 client may cache `tools/list`: the list changes only with the
/// server's flags (a restart), so it says so with a `ttlMs` above zero; over stdio
/// it is the same for everyone (`public`).
#[tokio::test]
async fn a_2026_07_28_tool_list_over_stdio_is_cacheable_and_public() {
    let mut driver = crate::driver::Driver::spawn(&[], &["--sandbox"]);
    let meta: Value = serde_json::from_str(META_2026).unwrap();
    driver
        .send(json!({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta": meta}}))
        .await;
    let reply = driver.response(1).await;
    let result = &reply["result"];
    assert!(result["ttlMs"].as_u64().unwrap() > 0, "{}", result["ttlMs"]);
    assert_eq!(result["cacheScope"], "public");
    assert_eq!(
        result["ttlMs"].as_u64(),
        Some(molecule_mcp::server::TOOLS_TTL_MS)
    );
}

/// Over HTTP a caller's headers may narrow the list, so it may be cached only by that
/// caller (`private`), for as long.
#[tokio::test]
async fn a_2026_07_28_tool_list_over_http_is_cacheable_by_its_caller_only() {
    use crate::http::{Server, http, post};
    let server = Server::start(&[("MOLECULE_API_URL", "http://127.0.0.1:9")], &[]).await;
    let meta: Value = serde_json::from_str(META_2026).unwrap();
    let bearer = format!("Bearer {KEY}");
    let headers = [
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/list"),
        ("authorization", bearer.as_str()),
        ("x-molecule-org-id", ORG_ID),
    ];
    let (status, _, reply) = post(
        &http(),
        &server.url,
        &headers,
        json!({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta": meta}}),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    let result = &reply["result"];
    assert_eq!(
        result["ttlMs"].as_u64(),
        Some(molecule_mcp::server::TOOLS_TTL_MS),
        "{result}"
    );
    assert_eq!(result["cacheScope"], "private");
    server.stop().await;
}

// ------------------------------------------------- start-up words

fn call_cli(args: &[&str]) -> (Option<i32>, String) {
    let out = std::process::Command::new(crate::driver::BIN)
        .args(args)
        .env_clear()
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `call` prints the result only: the sandbox's id banner is for serving (the README
/// lists the ids), and a bad `--args` is the only line on stderr.
#[test]
fn a_one_shot_call_prints_no_sandbox_banner() {
    let (code, stderr) = call_cli(&["call", "list_workspaces", "--sandbox"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("Fixed sandbox ids"), "{stderr}");
    let (code, stderr) = call_cli(&["call", "get_workspace", "--args", "{bad", "--sandbox"]);
    assert_ne!(code, Some(0));
    assert!(stderr.contains("--args is not valid JSON"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

/// The Inspector hint at the terminal is the README's command: the Inspector eats its
/// first `--`, so one comes before the server command.
#[test]
fn the_terminal_hint_runs_the_inspector_as_the_readme_does() {
    let engine = engine(config(&[]));
    let notes = molecule_mcp::startup::notes(&engine, engine.config(), true, |_| None, true);
    assert!(
        notes.contains("npx @modelcontextprotocol/inspector -- "),
        "{notes}"
    );
}

/// Over HTTP, the start-up line says when the tenant URL is the built-in default.
#[tokio::test]
async fn the_http_start_up_line_says_the_tenant_url_is_the_default() {
    let server = crate::http::Server::start(&[], &[]).await;
    let (_, stderr) = server.stop().await;
    let line = stderr
        .lines()
        .find(|l| l.contains("Streamable HTTP at"))
        .unwrap();
    assert!(
        line.contains("tenant: http://localhost:8080 (the default; set MOLECULE_API_URL)"),
        "{line}"
    );
}

// ------------------------------------------------- hints from what the server can check

const ROOT: &str = seed::ROOT_WORKSPACE_ID;
const RESEARCHER: &str = seed::RESEARCHER_WORKSPACE_ID;
const WRITER: &str = seed::WRITER_WORKSPACE_ID;
const UNKNOWN: &str = "99999999-9999-4999-8999-999999999999";

/// A recording tenant answering as the live handlers do (docs/contract.md, "Answers
/// the hints rely on"), with `answer` for each `METHOD target`, and an engine on it.
async fn live(
    answer: impl Fn(&str) -> (u16, Value) + Send + Sync + 'static,
) -> (RawTenant, Engine) {
    let tenant = RawTenant::start(move |r: &RawRequest| {
        let (status, body) = answer(&format!("{} {}", r.method, r.target));
        (status, body.to_string().into_bytes())
    })
    .await;
    let engine = engine(crate::common::full_config(&tenant.url));
    (tenant, engine)
}

fn targets(tenant: &RawTenant) -> Vec<String> {
    tenant
        .taken()
        .iter()
        .map(|r| format!("{} {}", r.method, r.target))
        .collect()
}

fn workspace(id: &str, name: &str, status: &str, parent: Option<&str>) -> Value {
    json!({ "id": id, "name": name, "status": status, "parent_id": parent })
}

#[tokio::test]
async fn an_unknown_well_formed_id_says_which_tool_lists_ids_and_whether_it_exists() {
    let (_sb, engine) = sandbox().await;
    let e = failed(&engine, "get_workspace", json!({ "workspace_id": UNKNOWN })).await;
    assert_eq!(e["status"], 404);
    assert!(hint(&e).contains("list_workspaces"), "{e}");
    let e = failed(
        &engine,
        "restart_workspace",
        json!({ "workspace_id": UNKNOWN }),
    )
    .await;
    let h = hint(&e);
    assert!(
        h.contains(&format!("workspace_id \"{UNKNOWN}\"")) && h.contains("finds none"),
        "{h}"
    );
    assert!(h.contains("list_workspaces"), "{h}");

    let (tenant, engine) = live(|req| match req {
        r if r.starts_with("POST /workspaces/") => (404, json!({ "error": "workspace not found" })),
        r if r.starts_with("GET /workspaces/") => (404, json!({ "error": "workspace not found" })),
        _ => (500, json!({})),
    })
    .await;
    let e = failed(
        &engine,
        "restart_workspace",
        json!({ "workspace_id": UNKNOWN }),
    )
    .await;
    assert!(hint(&e).contains("finds none"), "{e}");
    assert_eq!(
        targets(&tenant),
        [
            format!("POST /workspaces/{UNKNOWN}/restart"),
            format!("GET /workspaces/{UNKNOWN}")
        ]
    );
}

#[tokio::test]
async fn pausing_a_paused_or_resuming_a_running_workspace_says_so() {
    let (_sb, engine) = sandbox().await;
    let (is_error, _) = answer(
        &engine,
        "pause_workspace",
        json!({ "workspace_id": WRITER }),
    )
    .await;
    assert!(!is_error);
    let e = failed(
        &engine,
        "pause_workspace",
        json!({ "workspace_id": WRITER }),
    )
    .await;
    assert_eq!(
        e["detail"],
        r#"{"error":"workspace not found or already paused"}"#
    );
    assert!(
        hint(&e).contains(r#"Workspace "Writer" is already paused"#),
        "{e}"
    );
    let e = failed(
        &engine,
        "resume_workspace",
        json!({ "workspace_id": RESEARCHER }),
    )
    .await;
    assert!(
        hint(&e).contains(r#"Workspace "Researcher" is not paused"#),
        "{e}"
    );

    let (tenant, engine) = live(|req| match req {
        r if r.ends_with("/pause") => (
            404,
            json!({ "error": "workspace not found or already paused" }),
        ),
        r if r.starts_with("GET /workspaces/") => {
            (200, workspace(WRITER, "Writer", "paused", Some(ROOT)))
        }
        _ => (500, json!({})),
    })
    .await;
    let e = failed(
        &engine,
        "pause_workspace",
        json!({ "workspace_id": WRITER }),
    )
    .await;
    assert!(hint(&e).contains("already paused: nothing to do"), "{e}");
    assert_eq!(
        targets(&tenant),
        [
            format!("POST /workspaces/{WRITER}/pause"),
            format!("GET /workspaces/{WRITER}")
        ]
    );
}

#[tokio::test]
async fn a_failed_provision_checks_the_parent_it_names() {
    let (_sb, engine) = sandbox().await;
    let e = failed(
        &engine,
        "provision_workspace",
        json!({ "name": "Analyst", "parent_id": UNKNOWN }),
    )
    .await;
    assert_eq!(e["error"], "HTTP 500");
    let h = hint(&e);
    assert!(
        h.contains(&format!("No workspace has parent_id \"{UNKNOWN}\""))
            && h.contains("why provision_workspace failed"),
        "{h}"
    );
    let e = failed(
        &engine,
        "provision_workspace",
        json!({ "name": "Analyst", "parent_id": "Acme HQ" }),
    )
    .await;
    assert!(
        hint(&e).contains(r#"parent_id "Acme HQ" is not an id"#),
        "{e}"
    );

    // A parent that exists is said not to be the cause.
    let (tenant, engine) = live(|req| match req {
        "POST /workspaces" => (500, json!({ "error": "failed to create workspace" })),
        r if r.starts_with("GET /workspaces/") => (200, workspace(ROOT, "Acme HQ", "online", None)),
        _ => (500, json!({})),
    })
    .await;
    let e = failed(
        &engine,
        "provision_workspace",
        json!({ "name": "Analyst", "parent_id": ROOT }),
    )
    .await;
    assert!(
        hint(&e).contains("exists") && hint(&e).contains("not the cause"),
        "{e}"
    );
    assert_eq!(
        targets(&tenant),
        [
            "POST /workspaces".to_string(),
            format!("GET /workspaces/{ROOT}")
        ]
    );
}

#[tokio::test]
async fn org_access_denied_on_a_child_workspace_says_to_use_the_org_id() {
    let (_sb, engine) = sandbox().await;
    let e = failed(
        &engine,
        "get_org_plugin_allowlist",
        json!({ "org_id": RESEARCHER }),
    )
    .await;
    assert_eq!(e["error"], "AUTH_ERROR");
    let h = hint(&e);
    assert!(
        h.contains(r#"is workspace "Researcher", not an org"#) && h.contains(ROOT),
        "{h}"
    );

    let (tenant, engine) = live(|req| match req {
        r if r.contains("/plugins/allowlist") => (403, json!({ "error": "org access denied" })),
        r if r.starts_with("GET /workspaces/") => (
            200,
            workspace(RESEARCHER, "Researcher", "online", Some(ROOT)),
        ),
        _ => (500, json!({})),
    })
    .await;
    let e = failed(
        &engine,
        "get_org_plugin_allowlist",
        json!({ "org_id": RESEARCHER }),
    )
    .await;
    assert!(hint(&e).contains("org_id is the org id"), "{e}");
    assert_eq!(
        targets(&tenant),
        [
            format!("GET /orgs/{RESEARCHER}/plugins/allowlist"),
            format!("GET /workspaces/{RESEARCHER}")
        ]
    );
}

/// The live handler compares the id with a UUID column: "nope" is a 500 `query
/// failed`, which the hint explains; the sandbox answers the same.
#[tokio::test]
async fn events_of_a_malformed_workspace_id_say_what_an_id_is() {
    let (_sb, engine) = sandbox().await;
    let e = failed(
        &engine,
        "list_org_events",
        json!({ "workspace_id": "nope" }),
    )
    .await;
    assert_eq!(e["detail"], r#"{"error":"query failed"}"#);
    assert!(
        hint(&e).contains(r#"workspace_id "nope" is not an id"#)
            && hint(&e).contains("list_workspaces"),
        "{e}"
    );

    let (tenant, engine) = live(|req| match req {
        "GET /events/nope" => (500, json!({ "error": "query failed" })),
        "GET /workspaces/nope" => (400, json!({ "error": "invalid workspace ID" })),
        _ => (500, json!({})),
    })
    .await;
    let e = failed(
        &engine,
        "list_org_events",
        json!({ "workspace_id": "nope" }),
    )
    .await;
    assert!(hint(&e).contains("is not an id"), "{e}");
    assert_eq!(
        targets(&tenant),
        ["GET /events/nope", "GET /workspaces/nope"]
    );
}

// ------------------------------------------------- the server's own key

#[tokio::test]
async fn the_server_marks_its_own_token_and_knows_when_it_was_revoked() {
    let (sb, engine) = sandbox().await;
    let key = engine.caller().org_api_key.clone().unwrap();
    let (_, tokens) = answer(&engine, "list_org_tokens", json!({})).await;
    let own: Vec<&Value> = tokens["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t[molecule_mcp::call::OWN_TOKEN_FIELD] == true)
        .collect();
    assert_eq!(own.len(), 1, "{tokens}");
    assert_eq!(own[0]["id"], seed::ORG_TOKEN_ID);
    // The marked list is still valid structuredContent.
    let entry = engine.catalog().get("list_org_tokens").unwrap();
    let result = engine.respond(entry, serde_json::Map::new()).await;
    let structured = result.structured_content.clone().unwrap();
    assert_eq!(
        structured["tokens"][0][molecule_mcp::call::OWN_TOKEN_FIELD],
        true
    );
    if let Some(schema) = &entry.tool.output_schema {
        let v =
            jsonschema::draft202012::new(&serde_json::to_value(schema.as_ref()).unwrap()).unwrap();
        assert!(v.is_valid(&structured));
    }

    let (is_error, _) = answer(
        &engine,
        "revoke_org_token",
        json!({ "id": seed::ORG_TOKEN_ID }),
    )
    .await;
    assert!(!is_error);
    let e = failed(&engine, "list_workspaces", json!({})).await;
    assert_eq!(e["error"], "AUTH_ERROR");
    let h = hint(&e);
    assert!(
        h.contains("own key")
            && h.contains("revoked by revoke_org_token")
            && h.contains("MOLECULE_ORG_API_KEY"),
        "{h}"
    );
    assert!(
        !e.to_string().contains(key.expose()),
        "the key is never shown"
    );

    // Over HTTP the same key is the caller's bearer: it is told to send a new one.
    let mut remote = (**engine.caller()).clone();
    remote.remote = true;
    let remote = std::sync::Arc::new(remote);
    let entry = engine.catalog().get("list_org_secrets").unwrap();
    let Err(error) = engine
        .call_as(entry, serde_json::Map::new(), &remote, None)
        .await
    else {
        panic!("a revoked key succeeded")
    };
    let result = molecule_mcp::result::error(entry, &error, 100_000);
    let e: Value = serde_json::from_str(&result.content[0].as_text().unwrap().text).unwrap();
    let h = hint(&e);
    assert!(
        h.contains("bearer") && !h.contains("MOLECULE_ORG_API_KEY"),
        "{h}"
    );
    drop(sb);
}

#[tokio::test]
async fn against_a_live_like_tenant_the_own_token_is_marked_and_its_revocation_named() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let revoked = std::sync::Arc::new(AtomicBool::new(false));
    let seen = revoked.clone();
    let own_prefix: String = KEY.chars().take(8).collect();
    let (tenant, engine) = live(move |req| {
        if seen.load(Ordering::SeqCst) {
            return (401, json!({ "error": "invalid admin auth token" }));
        }
        match req {
            "GET /org/tokens" => (
                200,
                json!({ "count": 2, "tokens": [
                    { "id": "t-other", "prefix": "abcdefgh" },
                    { "id": "t-own", "prefix": own_prefix },
                ] }),
            ),
            "DELETE /org/tokens/t-own" => {
                seen.store(true, Ordering::SeqCst);
                (200, json!({ "revoked": "t-own" }))
            }
            _ => (500, json!({})),
        }
    })
    .await;
    let (_, listed) = answer(&engine, "list_org_tokens", json!({})).await;
    let field = molecule_mcp::call::OWN_TOKEN_FIELD;
    assert!(listed["tokens"][0].get(field).is_none(), "{listed}");
    assert_eq!(listed["tokens"][1][field], true, "{listed}");
    let (is_error, _) = answer(&engine, "revoke_org_token", json!({ "id": "t-own" })).await;
    assert!(!is_error);
    assert!(revoked.load(Ordering::SeqCst));
    let e = failed(&engine, "list_org_secrets", json!({})).await;
    assert!(hint(&e).contains("revoked by revoke_org_token"), "{e}");
    assert_eq!(
        targets(&tenant),
        [
            "GET /org/tokens",
            "DELETE /org/tokens/t-own",
            "GET /settings/secrets"
        ]
    );
    // Revoking another token than the key's own (known from the list) is not blamed.
    let (_t, other) = live(|req| match req {
        "GET /org/tokens" => (
            200,
            json!({ "tokens": [{ "id": "t-own", "prefix": KEY.chars().take(8).collect::<String>() }] }),
        ),
        "DELETE /org/tokens/t-other" => (200, json!({ "revoked": "t-other" })),
        _ => (401, json!({ "error": "invalid admin auth token" })),
    })
    .await;
    answer(&other, "list_org_tokens", json!({})).await;
    answer(&other, "revoke_org_token", json!({ "id": "t-other" })).await;
    let e = failed(&other, "list_org_secrets", json!({})).await;
    assert!(!hint(&e).contains("earlier in this session"), "{e}");
    // A key refused without a revoke here is not said to be revoked here.
    let (_t, fresh) = live(|_| (401, json!({ "error": "invalid admin auth token" }))).await;
    let e = failed(&fresh, "list_org_secrets", json!({})).await;
    let h = hint(&e);
    assert!(
        h.contains("does not accept") && !h.contains("earlier in this session"),
        "{h}"
    );
}
