//! Dry run (docs/safety.md): every tool that is not a read is validated and built as a
//! real call and sends nothing; its plan is exactly the request the real call sends.

use crate::common::*;
use crate::http::{Server, call_message, envelope, http, post};
use molecule_mcp::call::Engine;
use molecule_mcp::safety::Safety;
use molecule_mcp::tools::table::Access;
use serde_json::{Value, json};

fn dry(config: molecule_mcp::config::Config) -> Engine {
    engine(config).with_safety(Safety {
        dry_run: true,
        ..Safety::default()
    })
}

/// The `DRY_RUN` envelope's request, or a panic naming what came instead.
fn plan(tool: &str, result: &rmcp::model::CallToolResult) -> Value {
    assert_eq!(
        result.is_error,
        Some(true),
        "{tool}: a plan is an error result"
    );
    assert!(result.structured_content.is_none(), "{tool}");
    let text = result.content[0].as_text().unwrap().text.clone();
    let envelope: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(envelope["error"], "DRY_RUN", "{tool}: {text}");
    envelope["detail"]["request"].clone()
}

#[tokio::test]
async fn every_write_tool_sends_nothing_and_its_plan_is_the_request_the_real_call_sends() {
    let tenant = RawTenant::start(|_| (200, b"{}".to_vec())).await;
    let planning = dry(full_config(&tenant.url));
    let real = engine(full_config(&tenant.url));
    let mut compared = 0;
    for case in crate::calls::cases() {
        let entry = planning.catalog().get(case.tool).unwrap();
        if entry.row.access == Access::Read {
            continue;
        }
        let args = case.args.as_object().unwrap().clone();
        let result = planning.respond(entry, args.clone()).await;
        let plan = plan(case.tool, &result);
        let sent = tenant.taken();
        assert!(sent.is_empty(), "{}: a dry run sent {sent:?}", case.tool);
        assert!(
            !result.content[0].as_text().unwrap().text.contains(KEY)
                && !result.content[0].as_text().unwrap().text.contains(CP_TOKEN),
            "{}: a credential in the plan",
            case.tool
        );

        let result = real.respond(entry, args.clone()).await;
        assert_ne!(
            result.is_error,
            Some(true),
            "{}: {:?}",
            case.tool,
            result.content
        );
        let mut sent = tenant.taken();
        assert_eq!(sent.len(), 1, "{}", case.tool);
        let request = sent.remove(0);
        assert_eq!(plan["method"], request.method, "{}", case.tool);
        let url = plan["url"].as_str().unwrap();
        let target = url.strip_prefix(&tenant.url).unwrap();
        assert_eq!(
            target, request.target,
            "{}: the URL as on the wire",
            case.tool
        );
        assert!(
            target.starts_with(plan["path"].as_str().unwrap()),
            "{}",
            case.tool
        );
        // The body: the same JSON, but for a secret value the plan never shows.
        let mut body: Option<Value> =
            (!request.body.is_empty()).then(|| serde_json::from_slice(&request.body).unwrap());
        if let (Some(Value::Object(body)), Some(Value::String(secret))) =
            (&mut body, case.args.get("value"))
        {
            for v in body.values_mut() {
                if v == secret {
                    *v = json!("[redacted]");
                }
            }
        }
        assert_eq!(plan["body"], body.unwrap_or(Value::Null), "{}", case.tool);
        // Every header the plan names went out (reqwest adds only Host and
        // Content-Length on the wire), with the same value unless it is a credential.
        let headers = plan["headers"].as_object().unwrap();
        for (name, value) in headers {
            let Some((_, wire)) = request.headers.iter().find(|(k, _)| k == name) else {
                panic!("{}: {name} is in the plan, not on the wire", case.tool)
            };
            if value == "[redacted]" {
                assert!(wire == &format!("Bearer {KEY}") || wire == &format!("Bearer {CP_TOKEN}"));
            } else {
                assert_eq!(value, wire, "{}: {name}", case.tool);
            }
        }
        for (name, _) in &request.headers {
            assert!(
                headers.contains_key(name) || name == "host" || name == "content-length",
                "{}: {name} went out but is not in the plan",
                case.tool
            );
        }
        compared += 1;
    }
    assert!(compared >= 20, "{compared} write cases compared");
}

#[tokio::test]
async fn a_dry_run_refuses_exactly_as_a_real_call_and_lets_reads_through() {
    let tenant = RawTenant::start(|_| (200, b"{\"id\":\"w\",\"name\":\"n\"}".to_vec())).await;
    let planning = dry(full_config(&tenant.url));
    let real = engine(full_config(&tenant.url));
    // Validation: the same errors, the same order.
    for (tool, args) in [
        ("pause_workspace", json!({})),
        ("pause_workspace", json!({"workspace_id": ".."})),
        (
            "set_org_secret",
            json!({"key": 5, "value": "x", "extra": 1}),
        ),
        (
            "deprovision_workspace",
            json!({"workspace_id": "w", "confirm": "yes"}),
        ),
    ] {
        let a = call(&planning, tool, args.clone()).await.unwrap_err();
        let b = call(&real, tool, args.clone()).await.unwrap_err();
        assert_eq!(a, b, "{tool} {args}");
        assert_eq!(a.code(), "INVALID_ARGUMENTS");
    }
    // Credentials: the same refusal.
    let bare = |dry_run| {
        engine(config(&[("MOLECULE_API_URL", &tenant.url)])).with_safety(Safety {
            dry_run,
            ..Safety::default()
        })
    };
    for tool in ["pause_workspace", "list_orgs"] {
        let args = if tool == "list_orgs" {
            json!({})
        } else {
            json!({"workspace_id": "w"})
        };
        let a = call(&bare(true), tool, args.clone()).await.unwrap_err();
        let b = call(&bare(false), tool, args).await.unwrap_err();
        assert_eq!(a, b, "{tool}");
    }
    // Selection: the same refusal.
    let read_only = config(&[
        ("MOLECULE_API_URL", &tenant.url),
        ("MOLECULE_ORG_API_KEY", KEY),
        ("MOLECULE_ORG_ID", ORG_ID),
        ("MOLECULE_MCP_READ_ONLY", "1"),
    ]);
    let e = call(
        &dry(read_only),
        "pause_workspace",
        json!({"workspace_id": "w"}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), "TOOL_DISABLED");
    assert!(tenant.taken().is_empty());
    // A read goes through.
    let got = call(&planning, "get_workspace", json!({"workspace_id": "w"})).await;
    assert!(got.is_ok(), "{got:?}");
    let sent = tenant.taken();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method, "GET");
}

#[tokio::test]
async fn over_http_a_caller_turns_dry_run_on_never_off_and_a_bad_value_is_a_400() {
    let tenant = RawTenant::start(|_| (200, b"{}".to_vec())).await;
    let env = [("MOLECULE_API_URL", tenant.url.as_str())];
    let server = Server::start(&env, &[]).await;
    let client = http();
    let who = [
        ("authorization", "Bearer sk-http-caller-1"),
        ("x-molecule-org-id", "o"),
    ];
    let args = json!({"workspace_id": "w-1"});
    let with = |extra: &'static [(&'static str, &'static str)]| {
        let mut h = who.to_vec();
        h.extend_from_slice(extra);
        h
    };
    let (status, _, reply) = post(
        &client,
        &server.url,
        &with(&[("x-mcp-dry-run", "1")]),
        call_message(1, "pause_workspace", args.clone()),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(envelope(&reply)["error"], "DRY_RUN", "{reply}");
    assert!(tenant.taken().is_empty());
    let (status, _, reply) = post(
        &client,
        &server.url,
        &with(&[("x-mcp-dry-run", "perhaps")]),
        call_message(2, "pause_workspace", args.clone()),
    )
    .await;
    assert_eq!(status, 400);
    assert!(reply.to_string().contains("X-MCP-Dry-Run"), "{reply}");
    assert!(tenant.taken().is_empty());
    let (_, _, reply) = post(
        &client,
        &server.url,
        &with(&[("x-mcp-dry-run", "0")]),
        call_message(3, "pause_workspace", args.clone()),
    )
    .await;
    assert!(reply["result"]["isError"] != json!(true), "{reply}");
    assert_eq!(tenant.taken().len(), 1);
    server.stop().await;

    // The operator's dry run: a caller's `0` does not turn it off.
    let server = Server::start(&env, &["--dry-run"]).await;
    let (_, _, reply) = post(
        &client,
        &server.url,
        &with(&[("x-mcp-dry-run", "0")]),
        call_message(4, "pause_workspace", args),
    )
    .await;
    assert_eq!(envelope(&reply)["error"], "DRY_RUN", "{reply}");
    assert!(tenant.taken().is_empty());
    server.stop().await;
}
