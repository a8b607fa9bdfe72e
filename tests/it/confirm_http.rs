//! Confirmation over stateless HTTP with the 2026-07-28 multi-round-trip protocol
//! (docs/safety.md, "Over HTTP"): the first `tools/call` answers `input_required` with a
//! sealed state; the retry, on any replica sharing `MOLECULE_MCP_STATE_KEY`, sends the
//! one request when accepted, and nothing when the state was altered or issued for
//! other arguments or another caller.

use crate::common::*;
use crate::http::{Server, http, post};
use serde_json::{Value, json};

const STATE_KEY: &str = "0123456789abcdef0123456789abcdef-shared";
const WS: &str = "33333333-3333-4333-8333-333333333333";

/// A recording tenant answering with the sandbox's own bodies for the reads.
async fn tenant() -> (RawTenant, String) {
    let sandbox = molecule_mcp::sandbox::Sandbox::start().await.unwrap();
    let engine = engine(sandbox.config());
    let workspace = call(&engine, "get_workspace", json!({"workspace_id": WS}))
        .await
        .unwrap();
    let all = call(&engine, "list_workspaces", json!({})).await.unwrap();
    let name = workspace["name"].as_str().unwrap().to_string();
    let tenant = RawTenant::start(move |r| {
        let body = match (r.method.as_str(), r.target.as_str()) {
            ("GET", "/workspaces") => all.to_string(),
            ("GET", t) if t.starts_with("/workspaces/") => workspace.to_string(),
            _ => "{}".to_string(),
        };
        (200, body.into_bytes())
    })
    .await;
    (tenant, name)
}

fn message(args: Value, state: Option<&str>, responses: Option<Value>) -> Value {
    let mut params = json!({
        "name": "deprovision_workspace",
        "arguments": args,
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {"elicitation": {"form": {}}},
            "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "0"}
        }
    });
    if let Some(state) = state {
        params["requestState"] = json!(state);
    }
    if let Some(responses) = responses {
        params["inputResponses"] = responses;
    }
    json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params})
}

fn headers(key: &str) -> Vec<(&'static str, String)> {
    vec![
        ("authorization", format!("Bearer {key}")),
        ("x-molecule-org-id", "org-1".into()),
        ("mcp-protocol-version", "2026-07-28".into()),
        ("mcp-method", "tools/call".into()),
        ("mcp-name", "deprovision_workspace".into()),
    ]
}

async fn send(server: &Server, key: &str, message: Value) -> Value {
    let h = headers(key);
    let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, _, reply) = post(&http(), &server.url, &h, message).await;
    assert_eq!(status, 200, "{reply}");
    reply["result"].clone()
}

fn writes(tenant: &RawTenant) -> Vec<RawRequest> {
    tenant
        .taken()
        .into_iter()
        .filter(|r| r.method != "GET")
        .collect()
}

fn code(result: &Value) -> String {
    let text = result["content"][0]["text"].as_str().unwrap_or_default();
    serde_json::from_str::<Value>(text)
        .map(|e| e["error"].to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_retry_on_another_replica_sends_the_one_request_and_tampering_sends_nothing() {
    let (tenant, name) = tenant().await;
    let env = [
        ("MOLECULE_API_URL", tenant.url.as_str()),
        ("MOLECULE_MCP_STATE_KEY", STATE_KEY),
    ];
    let log = std::env::temp_dir().join(format!("molecule-mcp-mrtr-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&log);
    let audited = ["--audit-log", log.to_str().unwrap()];
    let (a, b) = (
        Server::start(&env, &audited).await,
        Server::start(&env, &audited).await,
    );
    let key = "sk-mrtr-caller-111111";
    let args = json!({"workspace_id": WS});
    let first = send(&a, key, message(args.clone(), None, None)).await;
    assert_eq!(first["resultType"], "input_required", "{first}");
    let form = &first["inputRequests"]["confirm"]["params"];
    assert_eq!(form["mode"], "form");
    assert!(form["message"].as_str().unwrap().contains(&name), "{form}");
    let state = first["requestState"].as_str().unwrap().to_string();
    assert!(!state.contains(key));
    assert!(
        writes(&tenant).is_empty(),
        "nothing but reads before the answer"
    );
    let accept = json!({"confirm": {"action": "accept", "content": {"name": name}}});

    // Refused, nothing sent: one byte changed, other arguments, another caller's key.
    let mut altered = state.clone().into_bytes();
    let at = altered.len() / 2;
    altered[at] = if altered[at] == b'x' { b'y' } else { b'x' };
    let altered = String::from_utf8(altered).unwrap();
    for (key, args, state, why) in [
        (key, args.clone(), altered.as_str(), "altered"),
        (
            key,
            json!({"workspace_id": "22222222-2222-4222-8222-222222222222"}),
            state.as_str(),
            "other arguments",
        ),
        (
            "sk-mrtr-someone-else-2",
            args.clone(),
            state.as_str(),
            "another caller",
        ),
    ] {
        let result = send(&b, key, message(args, Some(state), Some(accept.clone()))).await;
        assert_eq!(
            code(&result),
            "\"CONFIRMATION_DECLINED\"",
            "{why}: {result}"
        );
        assert!(
            result["content"][0]["text"]
                .as_str()
                .unwrap()
                .contains("requestState was refused"),
            "{why}: {result}"
        );
        assert!(writes(&tenant).is_empty(), "{why}: sent");
    }
    // Declined: nothing sent.
    let decline = json!({"confirm": {"action": "decline"}});
    let result = send(&b, key, message(args.clone(), Some(&state), Some(decline))).await;
    assert_eq!(code(&result), "\"CONFIRMATION_DECLINED\"", "{result}");
    assert!(writes(&tenant).is_empty());
    // A wrong name: nothing sent.
    let wrong = json!({"confirm": {"action": "accept", "content": {"name": "not it"}}});
    let result = send(&b, key, message(args.clone(), Some(&state), Some(wrong))).await;
    assert_eq!(code(&result), "\"CONFIRMATION_DECLINED\"", "{result}");
    assert!(writes(&tenant).is_empty());

    // Accepted on the other replica: exactly the one request, with the typed name.
    let result = send(&b, key, message(args, Some(&state), Some(accept))).await;
    assert_eq!(result["isError"], false, "{result}");
    let sent = writes(&tenant);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method, "DELETE");
    assert!(sent[0].target.starts_with(&format!("/workspaces/{WS}")));
    let typed = sent[0].headers.iter().find(|(k, _)| k == "x-confirm-name");
    assert_eq!(typed.map(|(_, v)| v.as_str()), Some(name.as_str()));
    a.stop().await;
    b.stop().await;
    // The audit log of both replicas: every round, each with how it was confirmed.
    let outcomes: Vec<(String, String)> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|l| l["event"] == "outcome")
        .map(|l| {
            (
                l["outcome"].as_str().unwrap().to_string(),
                l["confirmed"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let pair = |o: &str, c: &str| (o.to_string(), c.to_string());
    assert_eq!(
        outcomes,
        vec![
            pair("INPUT_REQUIRED", "asked"),
            pair("declined", "declined"),
            pair("declined", "declined"),
            pair("declined", "declined"),
            pair("declined", "declined"),
            pair("declined", "declined"),
            pair("ok", "accepted"),
        ]
    );
}

#[tokio::test]
async fn an_http_client_that_cannot_be_asked_proceeds_or_is_refused_when_confirmation_is_required()
{
    let (tenant, _) = tenant().await;
    let env = [("MOLECULE_API_URL", tenant.url.as_str())];
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "deprovision_workspace", "arguments": {"workspace_id": WS}}});
    let who = [
        ("authorization", "Bearer sk-mrtr-old-333333"),
        ("x-molecule-org-id", "o"),
    ];
    let server = Server::start(&env, &[]).await;
    let (_, _, reply) = post(&http(), &server.url, &who, call.clone()).await;
    assert_eq!(reply["result"]["isError"], false, "{reply}");
    assert!(
        reply["result"]["content"][1]["text"]
            .as_str()
            .unwrap()
            .contains("Not confirmed")
    );
    assert_eq!(writes(&tenant).len(), 1);
    server.stop().await;
    let server = Server::start(&env, &["--confirm-required"]).await;
    let (_, _, reply) = post(&http(), &server.url, &who, call.clone()).await;
    let unavailable = "\"CONFIRMATION_UNAVAILABLE\"";
    assert_eq!(code(&reply["result"]), unavailable, "{reply}");
    assert!(tenant.taken().is_empty(), "nothing at all sent");
    // X-MCP-Confirm raises the level (a write is covered now), never lowers it.
    let pause = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "pause_workspace", "arguments": {"workspace_id": WS}}});
    let (_, _, reply) = post(&http(), &server.url, &who, pause.clone()).await;
    assert_eq!(reply["result"]["isError"], false, "{reply}");
    assert_eq!(
        writes(&tenant).len(),
        1,
        "a write is not covered by default"
    );
    let raised = [who[0], who[1], ("x-mcp-confirm", "writes")];
    let (_, _, reply) = post(&http(), &server.url, &raised, pause).await;
    assert_eq!(code(&reply["result"]), unavailable, "{reply}");
    let lowered = [who[0], who[1], ("x-mcp-confirm", "off")];
    let (_, _, reply) = post(&http(), &server.url, &lowered, call).await;
    assert_eq!(code(&reply["result"]), unavailable, "{reply}");
    let bad = [who[0], who[1], ("x-mcp-confirm", "sometimes")];
    let (status, _, reply) = post(&http(), &server.url, &bad, json!({})).await;
    assert_eq!(status, 400);
    assert!(reply.to_string().contains("X-MCP-Confirm"), "{reply}");
    assert!(tenant.taken().is_empty(), "nothing at all sent");
    server.stop().await;
}
