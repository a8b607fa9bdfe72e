//! Safety and fault tolerance: tool selection, timeouts, retries, limits, cancellation,
//! concurrency, malformed input, panics and secret redaction.

use crate::calls::cases;
use crate::common::*;
use crate::driver::{Driver, result_json};
use molecule_mcp::error::ToolError;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How many rows of the table only read: what `--read-only` serves.
fn read_rows() -> usize {
    let rows = molecule_mcp::tools::table::TOOLS.iter();
    rows.filter(|t| t.access == molecule_mcp::tools::table::Access::Read)
        .count()
}
use wiremock::matchers::{any, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

fn with(uri: &str, extra: &[(&str, &str)]) -> molecule_mcp::config::Config {
    let mut vars = vec![
        ("MOLECULE_API_URL", uri),
        ("MOLECULE_ORG_API_KEY", KEY),
        ("MOLECULE_ORG_ID", ORG_ID),
        ("MOLECULE_CP_URL", uri),
        ("CP_ADMIN_API_TOKEN", CP_TOKEN),
    ];
    vars.extend_from_slice(extra);
    config(&vars)
}

#[tokio::test]
async fn read_only_lists_only_read_tools_and_refuses_the_rest_without_a_request() {
    let server = ok_tenant().await;
    let engine = engine(with(
        &server.uri(),
        &[
            ("MOLECULE_MCP_READ_ONLY", "1"),
            ("MOLECULE_MCP_TOOLS", "set_org_secret,list_org_secrets"),
        ],
    ));
    let listed: Vec<&str> = engine.listed().map(|e| e.row.name).collect();
    assert_eq!(listed, ["list_org_secrets"], "read-only wins over --tools");
    let envelope = call(
        &engine,
        "set_org_secret",
        json!({ "key": "K", "value": "V" }),
    )
    .await
    .unwrap_err()
    .envelope();
    assert_eq!(envelope["error"], "TOOL_DISABLED");
    assert!(envelope["detail"].as_str().unwrap().contains("--read-only"));
    assert!(server.received_requests().await.unwrap().is_empty());

    let all_read =
        crate::common::engine(with(&server.uri(), &[("MOLECULE_MCP_READ_ONLY", "true")]));
    assert!(
        all_read
            .listed()
            .all(|e| e.tool.annotations.as_ref().unwrap().read_only_hint == Some(true))
    );
    assert_eq!(all_read.listed().count(), read_rows());
}

#[tokio::test]
async fn tools_list_over_stdio_honours_read_only() {
    let mut d = Driver::start(&[], &["--read-only"]).await;
    d.send(json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}))
        .await;
    let tools = d.response(1).await["result"]["tools"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(tools.len(), read_rows());
    for tool in &tools {
        assert_eq!(
            tool["annotations"]["readOnlyHint"], true,
            "{}",
            tool["name"]
        );
    }
    d.call(2, "deprovision_workspace", json!({ "workspace_id": "w" }))
        .await;
    assert_eq!(result_json(&d.response(2).await)["error"], "TOOL_DISABLED");
}

#[tokio::test]
async fn toolsets_and_tools_are_united() {
    let engine = engine(with(
        "http://127.0.0.1:9",
        &[
            ("MOLECULE_MCP_TOOLSETS", "secrets"),
            ("MOLECULE_MCP_TOOLS", "get_workspace"),
        ],
    ));
    let listed: Vec<&str> = engine.listed().map(|e| e.row.name).collect();
    assert_eq!(
        listed,
        [
            "get_workspace",
            "set_workspace_secret",
            "list_workspace_secrets",
            "delete_workspace_secret",
            "set_org_secret",
            "list_org_secrets",
            "delete_org_secret"
        ]
    );
    let envelope = call(&engine, "list_workspaces", json!({}))
        .await
        .unwrap_err()
        .envelope();
    assert_eq!(envelope["error"], "TOOL_DISABLED");
}

#[tokio::test]
async fn the_cli_honours_the_selection_and_refuses_unknown_names() {
    let out = tokio::process::Command::new(crate::driver::BIN)
        .env_clear()
        .args([
            "--read-only",
            "--toolsets",
            "tokens",
            "tools",
            "--format",
            "markdown",
        ])
        .output()
        .await
        .unwrap();
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        table.contains("`list_org_tokens`")
            && !table.contains("`mint_org_token`")
            && !table.contains("`list_workspaces`"),
        "{table}"
    );
    let out = tokio::process::Command::new(crate::driver::BIN)
        .env_clear()
        .args(["--toolsets", "wallets", "tools"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("unknown toolset `wallets`")
            && stderr.contains("workspaces, secrets, budget"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_slow_tenant_times_out_with_the_operation_and_the_limit_and_is_not_retried() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let engine = engine(with(&server.uri(), &[("MOLECULE_MCP_TIMEOUT_SECS", "1")]));
    let started = Instant::now();
    let envelope = call(&engine, "list_workspaces", json!({}))
        .await
        .unwrap_err()
        .envelope();
    assert!(started.elapsed() < Duration::from_millis(2500));
    assert_eq!(envelope["error"], "TIMEOUT");
    assert_eq!(
        envelope["detail"],
        "`list_workspaces` did not complete within 1s (MOLECULE_MCP_TIMEOUT_SECS)"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

async fn flaky(first: ResponseTemplate, times: u64, then: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(first)
        .up_to_n_times(times)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(any()).respond_with(then).mount(&server).await;
    server
}

#[tokio::test]
async fn gets_are_retried_on_503_and_succeed() {
    let server = flaky(
        ResponseTemplate::new(503),
        2,
        ResponseTemplate::new(200).set_body_json(json!([])),
    )
    .await;
    let engine = engine(with(&server.uri(), &[]));
    assert_eq!(
        call(&engine, "list_workspaces", json!({})).await,
        Ok(json!([]))
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

#[tokio::test]
async fn retry_after_is_honoured_and_the_final_error_counts_attempts() {
    let server = tenant(
        429,
        json!({ "error": "rate limit exceeded", "retry_after": 1 }),
    )
    .await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .set_body_string("{\"error\":\"rate limit exceeded\"}"),
        )
        .with_priority(1)
        .mount(&server)
        .await;
    let engine = engine(with(&server.uri(), &[]));
    let started = Instant::now();
    let envelope = call(&engine, "list_org_tokens", json!({}))
        .await
        .unwrap_err()
        .envelope();
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "two waits of Retry-After: 1"
    );
    assert_eq!(envelope["error"], "RATE_LIMITED");
    assert_eq!(envelope["attempts"], 3);
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

#[tokio::test]
async fn writes_are_never_retried() {
    for status in [429, 502, 503, 504] {
        let server = tenant(status, json!({ "error": "x" })).await;
        let engine = engine(with(&server.uri(), &[]));
        let envelope = call(
            &engine,
            "set_org_secret",
            json!({ "key": "K", "value": "sv-1" }),
        )
        .await
        .unwrap_err()
        .envelope();
        assert_eq!(envelope["status"], status);
        assert!(envelope.get("attempts").is_none());
        assert_eq!(
            server.received_requests().await.unwrap().len(),
            1,
            "status {status}"
        );
    }
}

/// A loopback server that accepts connections and closes them without answering;
/// returns its URL and a counter of connections.
async fn dropping_server() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut buf = [0u8; 1024];
            let _ = socket.read(&mut buf).await;
            drop(socket);
        }
    });
    (url, count)
}

#[tokio::test]
async fn dropped_connections_are_retried_for_gets_only() {
    let (url, count) = dropping_server().await;
    let engine = engine(with(&url, &[]));
    let envelope = call(&engine, "list_workspaces", json!({}))
        .await
        .unwrap_err()
        .envelope();
    assert_eq!(
        envelope["error"],
        format!("Tenant host unreachable at {url}")
    );
    assert_eq!(envelope["attempts"], 3);
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 3);
    let before = count.load(std::sync::atomic::Ordering::SeqCst);
    let _ = call(&engine, "mint_org_token", json!({}))
        .await
        .unwrap_err();
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst) - before, 1);
}

#[tokio::test]
async fn results_over_the_limit_are_refused_with_size_and_preview_and_huge_bodies_are_not_buffered()
{
    // Under the limit as sent (compact), over it as returned (pretty-printed).
    let big: Vec<Value> = (0..2200)
        .map(|i| json!({ "id": format!("w-{i}"), "name": "x".repeat(10) }))
        .collect();
    assert!(json!(big).to_string().len() < 100_000);
    let server = tenant(200, json!(big)).await;
    let engine = engine(with(&server.uri(), &[]));
    let envelope = call(&engine, "list_workspaces", json!({}))
        .await
        .unwrap_err()
        .envelope();
    assert_eq!(envelope["error"], "RESULT_TOO_LARGE");
    let detail = &envelope["detail"];
    assert_eq!(detail["limit_bytes"], 100_000);
    assert_eq!(detail["size_is_lower_bound"], false);
    // The bound counts the encoded result: the pretty text as a JSON string.
    let pretty = serde_json::to_string_pretty(&json!(big)).unwrap();
    assert!(
        detail["size_bytes"].as_u64().unwrap() as usize
            > serde_json::to_string(&pretty).unwrap().len()
    );
    assert!(
        detail["preview"]
            .as_str()
            .unwrap()
            .starts_with("[\n  {\n    \"id\": \"w-0\"")
    );
    assert!(
        detail["advice"]
            .as_str()
            .unwrap()
            .contains("Narrow the request")
    );

    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![b'a'; 10 * 1024 * 1024]))
        .mount(&server)
        .await;
    let engine = crate::common::engine(with(
        &server.uri(),
        &[("MOLECULE_MCP_MAX_RESULT_BYTES", "5000")],
    ));
    let envelope = call(&engine, "list_workspaces", json!({}))
        .await
        .unwrap_err()
        .envelope();
    assert_eq!(envelope["error"], "RESULT_TOO_LARGE");
    assert_eq!(envelope["detail"]["size_is_lower_bound"], true);
    assert_eq!(envelope["detail"]["limit_bytes"], 5000);
}

/// The bound is inclusive: a result of exactly MOLECULE_MCP_MAX_RESULT_BYTES encoded
/// bytes is returned; one byte less of room and it is RESULT_TOO_LARGE.
#[tokio::test]
async fn a_result_of_exactly_the_bound_is_returned() {
    let items: Vec<Value> = (0..60)
        .map(|i| json!({ "id": format!("w-{i}"), "name": "x".repeat(40) }))
        .collect();
    let server = tenant(200, json!(items)).await;
    let with_bound = |bound: usize| {
        crate::common::engine(crate::common::config(&[
            ("MOLECULE_API_URL", &server.uri()),
            ("MOLECULE_ORG_API_KEY", KEY),
            ("MOLECULE_ORG_ID", crate::common::ORG_ID),
            ("MOLECULE_MCP_MAX_RESULT_BYTES", &bound.to_string()),
        ]))
    };
    let success = call_full(&with_bound(1_000_000), "list_workspaces", json!({}))
        .await
        .unwrap();
    let exact = molecule_mcp::result::encoded_len(&molecule_mcp::result::success(&success));
    assert!(exact > molecule_mcp::result::MIN_BOUND, "{exact}");
    let at = call(&with_bound(exact), "list_workspaces", json!({})).await;
    assert!(at.is_ok(), "{exact}: {at:?}");
    let e = call(&with_bound(exact - 1), "list_workspaces", json!({}))
        .await
        .unwrap_err()
        .envelope();
    assert_eq!(e["error"], "RESULT_TOO_LARGE", "{e}");
    assert_eq!(e["detail"]["size_bytes"], exact, "{e}");
}

/// Bodies are read up to the bound, plus one byte, plus the redaction slack of
/// 12 x the longest secret + 16 (docs/security.md): a body of exactly that size is read
/// whole and its size is exact; one byte more and the size is a lower bound.
#[tokio::test]
async fn a_body_of_exactly_the_read_cap_is_read_whole() {
    let slack = 12 * KEY.len() + 16;
    let cap = 5000 + 1 + slack;
    for (n, lower_bound) in [(cap, false), (cap + 1, true)] {
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![b'a'; n]))
            .mount(&server)
            .await;
        let engine = crate::common::engine(crate::common::config(&[
            ("MOLECULE_API_URL", &server.uri()),
            ("MOLECULE_ORG_API_KEY", KEY),
            ("MOLECULE_ORG_ID", crate::common::ORG_ID),
            ("MOLECULE_MCP_MAX_RESULT_BYTES", "5000"),
        ]));
        let envelope = call(&engine, "list_workspaces", json!({}))
            .await
            .unwrap_err()
            .envelope();
        assert_eq!(envelope["error"], "RESULT_TOO_LARGE", "{n}: {envelope}");
        assert_eq!(
            envelope["detail"]["size_is_lower_bound"], lower_bound,
            "{n}: {envelope}"
        );
    }
}

#[tokio::test]
async fn a_panic_in_a_call_becomes_an_internal_error() {
    let outcome =
        molecule_mcp::call::contain_panics::<Value>("list_workspaces", async { panic!("boom") })
            .await;
    let envelope = outcome.unwrap_err().envelope();
    assert_eq!(envelope["error"], "INTERNAL_ERROR");
    assert!(envelope["detail"].as_str().unwrap().contains("boom"));
}

#[tokio::test]
async fn malformed_lines_get_json_rpc_errors_and_the_server_keeps_serving() {
    let server = ok_tenant().await;
    let uri = server.uri();
    let mut d = Driver::for_tenant(&uri, &[]).await;
    d.send_raw("{not json").await;
    let error = d.next().await;
    assert_eq!(
        (error["id"].clone(), error["error"]["code"].as_i64()),
        (Value::Null, Some(-32700))
    );
    d.send_raw(r#"{"id": 9, "params": {}}"#).await;
    let error = d.next().await;
    assert_eq!(
        (error["id"].as_i64(), error["error"]["code"].as_i64()),
        (Some(9), Some(-32600))
    );
    d.send_raw("").await;
    d.call(10, "list_workspaces", json!({})).await;
    assert_eq!(result_json(&d.response(10).await), json!({ "ok": true }));
    let (status, _, _) = d.finish().await;
    assert!(
        status.success(),
        "stdin closing ends the process cleanly: {status}"
    );
}

#[tokio::test]
async fn a_cancelled_call_aborts_its_http_request() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (accepted_tx, accepted_rx) = tokio::sync::oneshot::channel();
    let (closed_tx, closed_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 4096];
        let _ = socket.read(&mut buf).await;
        let _ = accepted_tx.send(());
        // Never answer; the client closing the connection ends this read.
        let n = socket.read(&mut buf).await.unwrap_or(0);
        let _ = closed_tx.send(n);
        let _ = socket.shutdown().await;
    });
    let mut d = Driver::for_tenant(&url, &[]).await;
    d.call(5, "list_workspaces", json!({})).await;
    tokio::time::timeout(Duration::from_secs(10), accepted_rx)
        .await
        .unwrap()
        .unwrap();
    d.send(json!({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":5,"reason":"user pressed stop"}})).await;
    let read = tokio::time::timeout(Duration::from_secs(5), closed_rx)
        .await
        .expect("the HTTP connection is closed after the cancel")
        .unwrap();
    assert_eq!(read, 0, "the tenant saw the connection closed");
    d.call(6, "list_workspaces", json!({})).await;
    let next = d.response(6).await;
    assert_eq!(
        result_json(&next)["error"],
        format!("Tenant host unreachable at {url}"),
        "still serving after the cancel"
    );
}

#[tokio::test]
async fn a_hundred_concurrent_calls_are_not_held_up_by_a_slow_one() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/workspaces/slow"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "id": "slow" }))
                .set_delay(Duration::from_secs(3)),
        )
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "id": "fast" })))
        .mount(&server)
        .await;
    let uri = server.uri();
    let mut d = Driver::for_tenant(&uri, &[]).await;
    d.call(1000, "get_workspace", json!({ "workspace_id": "slow" }))
        .await;
    for i in 1..100 {
        d.call(
            i,
            "get_workspace",
            json!({ "workspace_id": format!("w-{i}") }),
        )
        .await;
    }
    d.send(json!({"jsonrpc":"2.0","id":2000,"method":"tools/list"}))
        .await;
    let mut order = Vec::new();
    for _ in 0..101 {
        let message = d.next().await;
        order.push(message["id"].as_i64().unwrap());
    }
    assert_eq!(
        *order.last().unwrap(),
        1000,
        "the slow call answers last: {order:?}"
    );
    assert_eq!(order.len(), 101);
}

/// Echoes the request back, as a careless upstream might: the body and the bearer.
struct Echo(u16);

impl Respond for Echo {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let auth = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        ResponseTemplate::new(self.0).set_body_json(
            json!({ "echo_body": String::from_utf8_lossy(&request.body), "echo_auth": auth }),
        )
    }
}

#[tokio::test]
async fn no_secret_appears_in_stdout_stderr_or_results_at_trace_level() {
    for status in [200, 500] {
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(Echo(status))
            .mount(&server)
            .await;
        let uri = server.uri();
        let mut d = Driver::start(
            &[
                ("MOLECULE_API_URL", &uri),
                ("MOLECULE_CP_URL", &uri),
                ("MOLECULE_ORG_API_KEY", KEY),
                ("MOLECULE_ORG_ID", ORG_ID),
                ("CP_ADMIN_API_TOKEN", CP_TOKEN),
                ("RUST_LOG", "trace"),
            ],
            &[],
        )
        .await;
        let cases = cases();
        for (i, c) in cases.iter().enumerate() {
            d.call(i as i64 + 1, c.tool, c.args.clone()).await;
        }
        for i in 0..cases.len() {
            let response = d.response(i as i64 + 1).await;
            assert!(response.get("result").is_some(), "{response}");
        }
        let (_, stderr, lines) = d.finish().await;
        assert!(server.received_requests().await.unwrap().len() >= cases.len());
        let stdout = lines.join("\n");
        for secret in [KEY, CP_TOKEN, "sv-secret-1", "sv-secret-2"] {
            assert!(
                !stderr.contains(secret),
                "status {status}: stderr leaks {secret}"
            );
            assert!(
                !stdout.contains(secret),
                "status {status}: stdout leaks {secret}"
            );
        }
        assert!(
            stdout.contains("[redacted]"),
            "the echoed secrets were scrubbed, not lost"
        );
    }
}

#[tokio::test]
async fn the_set_secret_result_never_echoes_the_value() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(Echo(200))
        .mount(&server)
        .await;
    let engine = engine(with(&server.uri(), &[]));
    let result = call(
        &engine,
        "set_workspace_secret",
        json!({ "workspace_id": "w", "key": "K", "value": "sv-live-value" }),
    )
    .await
    .unwrap();
    assert!(!result.to_string().contains("sv-live-value"), "{result}");
    let result = call(&engine, "list_workspaces", json!({})).await.unwrap();
    assert!(!result.to_string().contains(KEY), "{result}");
    assert_eq!(result["echo_auth"], "Bearer [redacted]");
}

#[tokio::test]
async fn an_error_result_never_carries_structured_content() {
    let catalog = molecule_mcp::tools::Catalog::new().unwrap();
    let entry = catalog.get("list_workspaces").unwrap();
    let result = molecule_mcp::result::to_call_result(entry, Err(ToolError::Cancelled), 100_000);
    assert_eq!(result.is_error, Some(true));
    assert!(result.structured_content.is_none());
}
