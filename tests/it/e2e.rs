//! The real binary over stdio: driven by rmcp's client, and by raw JSON-RPC lines to
//! prove stdout carries nothing but protocol messages.

use crate::common::*;
use molecule_mcp::tools::table::TOOLS;
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::TokioChildProcess;
use serde_json::{Value, json};
use std::process::Stdio;

/// The tool names of the table, in its order: what `tools/list` serves.
fn table_names() -> Vec<&'static str> {
    TOOLS.iter().map(|t| t.name).collect()
}

const BIN: &str = env!("CARGO_BIN_EXE_molecule-mcp");

fn command(tenant_uri: &str) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.env_clear()
        .env("MOLECULE_API_URL", tenant_uri)
        .env("MOLECULE_ORG_API_KEY", KEY)
        .env("MOLECULE_ORG_ID", ORG_ID)
        .env("RUST_LOG", "trace");
    cmd
}

fn args(v: Value) -> serde_json::Map<String, Value> {
    v.as_object().unwrap().clone()
}

#[tokio::test]
async fn an_mcp_client_lists_and_calls_tools_through_the_real_binary() {
    let server = tenant(200, json!([{ "id": "w1", "name": "alpha" }])).await;
    let (transport, _stderr) = TokioChildProcess::builder(command(&server.uri()))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = ().serve(transport).await.expect("initialize");
    let info = client.peer_info().expect("server info");
    assert_eq!(
        info.server_info.as_ref().map(|s| s.name.as_str()),
        Some("molecule-mcp")
    );
    assert_eq!(
        info.instructions.as_deref(),
        Some(
            "Management tools for a Molecule AI tenant. Every tool but list_orgs and get_org \
             acts with the Org API Key (MOLECULE_ORG_API_KEY), which is tenant root: prefer \
             read tools, and confirm with the user before destructive ones."
        )
    );

    let tools = client.list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(names, table_names());
    let deprovision = tools
        .iter()
        .find(|t| t.name == "deprovision_workspace")
        .unwrap();
    assert_eq!(
        deprovision.annotations.as_ref().unwrap().destructive_hint,
        Some(true)
    );

    let result = client
        .call_tool(CallToolRequestParams::new("list_workspaces"))
        .await
        .unwrap();
    assert_eq!(result.is_error, Some(false));
    let text = result.content[0].as_text().unwrap().text.clone();
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        json!([{ "id": "w1", "name": "alpha" }])
    );
    assert!(
        result.structured_content.is_none(),
        "arrays are not structured content"
    );

    let bad = client
        .call_tool(
            CallToolRequestParams::new("set_llm_billing_mode")
                .with_arguments(args(json!({ "workspace_id": "w", "mode": "free" }))),
        )
        .await
        .unwrap();
    assert_eq!(bad.is_error, Some(true));
    let envelope: Value = serde_json::from_str(&bad.content[0].as_text().unwrap().text).unwrap();
    assert_eq!(envelope["error"], "INVALID_ARGUMENTS");

    let unknown = client
        .call_tool(CallToolRequestParams::new("chat_with_agent"))
        .await;
    assert!(unknown.is_err(), "an unknown tool is a protocol error");
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn stdout_carries_only_json_rpc_even_after_errors_and_garbage_input() {
    let server = tenant(500, json!({ "error": "query failed" })).await;
    let uri = server.uri();
    // The driver asserts that every stdout line is a JSON-RPC 2.0 message.
    let mut d = crate::driver::Driver::for_tenant(&uri, &[("RUST_LOG", "trace")]).await;
    d.send(json!({"jsonrpc":"2.0","id":2,"method":"tools/list"}))
        .await;
    d.send_raw("this line is not JSON at all").await;
    d.call(3, "list_workspaces", json!({})).await;
    d.call(
        4,
        "set_org_secret",
        json!({ "key": "K", "value": "sv-super-secret" }),
    )
    .await;
    assert_eq!(
        d.response(2).await["result"]["tools"]
            .as_array()
            .unwrap()
            .len(),
        TOOLS.len()
    );
    let failed = d.response(3).await;
    assert_eq!(failed["result"]["isError"], true);
    assert_eq!(
        crate::driver::result_json(&failed),
        json!({ "error": "HTTP 500", "detail": "{\"error\":\"query failed\"}", "status": 500 })
    );
    assert_eq!(d.response(4).await["result"]["isError"], true);
    let (status, stderr, lines) = d.finish().await;
    assert!(status.success(), "exit status {status}");
    assert!(
        lines.iter().any(|l| l.contains("-32700")),
        "the garbage line got a parse error"
    );
    for secret in [KEY, "sv-super-secret"] {
        assert!(
            !stderr.contains(secret),
            "stderr leaks a secret at RUST_LOG=trace"
        );
        assert!(
            !lines.iter().any(|l| l.contains(secret)),
            "stdout leaks a secret"
        );
    }
}

#[tokio::test]
async fn another_mode_stops_at_start_up_with_a_clear_message() {
    let output = tokio::process::Command::new(BIN)
        .env_clear()
        .env("MOLECULE_MCP_MODE", "legacy")
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("serves the management registry only"),
        "{stderr}"
    );
}

#[tokio::test]
async fn the_call_subcommand_prints_the_result_and_exits_1_on_an_error_result() {
    let server = tenant(200, json!({ "tokens": [], "count": 0 })).await;
    let output = command(&server.uri())
        .args(["call", "list_org_tokens"])
        .output()
        .await
        .unwrap();
    assert!(output.status.success());
    assert_eq!(
        serde_json::from_slice::<Value>(&output.stdout).unwrap(),
        json!({ "tokens": [], "count": 0 })
    );
    let output = command(&server.uri())
        .args(["call", "get_workspace", "--args", "{}"])
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        serde_json::from_slice::<Value>(&output.stdout).unwrap()["error"],
        "INVALID_ARGUMENTS"
    );
}
