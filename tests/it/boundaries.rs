//! Trust boundaries at the wire (docs/security.md): every path argument stays one
//! path segment whatever the string, secrets never come back in any rendition or
//! half, every result is bounded, and the JSON-RPC edges neither stall nor end the
//! server.

use crate::common::*;
use molecule_mcp::call::Engine;
use molecule_mcp::tools::derive::Location;
use percent_encoding::percent_decode_str;
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestRunner};
use serde_json::{Value, json};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Strings made to look like structure (`\`, `/`, dots, `%`, `?`, `#`), and any string.
fn hostile_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[\\\\/.%?#;:@&=+ a-zA-Z0-9~_-]{0,14}",
        prop::sample::select(vec![
            "..\\",
            "..\\..\\..\\org",
            "..\\..\\..\\workspaces\\victim",
            "..%2f",
            "%2e%2e",
            ".%2e",
            "...",
            "\\",
            "a\\b",
            "é/ü",
            "..;",
            "\u{0}\n\r",
        ])
        .prop_map(str::to_string),
        any::<String>(),
    ]
}

/// The path template's segments with `{param}` placeholders, for an operation.
fn template(engine: &Engine, op: molecule_mcp::Operation) -> Vec<String> {
    let doc = molecule_mcp::embedded::spec_for(op).unwrap();
    let _ = engine;
    molecule_mcp::spec::inventory::operations(doc)
        .into_iter()
        .find(|o| o.id == op.operation_id())
        .map(|o| o.path.split('/').skip(1).map(str::to_string).collect())
        .unwrap()
}

#[test]
fn every_path_argument_of_every_tool_is_exactly_one_segment_on_the_wire() {
    let rt = runtime();
    let tenant = rt.block_on(RawTenant::start(|_| (200, b"{}".to_vec())));
    let engine = engine(full_config(&tenant.url));
    let probed = std::cell::Cell::new(0usize);
    for case in crate::calls::cases() {
        let entry = engine.catalog().get(case.tool).unwrap();
        for plan in &entry.derived.plans {
            let segments = template(&engine, plan.operation);
            for target in plan.targets.iter().filter(|t| t.location == Location::Path) {
                if case.args.get(&target.tool).is_none() {
                    continue; // filled from MOLECULE_ORG_ID, not from the caller
                }
                let mut runner = TestRunner::new(RunnerConfig {
                    cases: 40,
                    failure_persistence: None,
                    ..RunnerConfig::default()
                });
                runner
                    .run(&hostile_string(), |value| {
                        let mut args = case.args.as_object().unwrap().clone();
                        args.insert(target.tool.clone(), json!(value));
                        let outcome = rt.block_on(engine.call(entry, args));
                        let sent = tenant.taken();
                        if value.is_empty() || value == "." || value == ".." {
                            let e = outcome.expect_err("refused");
                            prop_assert_eq!(e.code(), "INVALID_ARGUMENTS");
                            prop_assert!(e.envelope()["detail"].as_str().unwrap().contains(&target.tool));
                            prop_assert!(sent.is_empty(), "refused but sent");
                            return Ok(());
                        }
                        // A header argument of the same call may refuse control characters.
                        if let Err(e) = &outcome {
                            prop_assert_ne!(e.code(), "INTERNAL_ERROR", "{:?}", e);
                        }
                        if sent.is_empty() {
                            prop_assert_eq!(outcome.unwrap_err().code(), "INVALID_ARGUMENTS");
                            return Ok(());
                        }
                        prop_assert_eq!(sent.len(), 1);
                        let raw = &sent[0].target;
                        let path = raw.split('?').next().unwrap();
                        let got: Vec<&str> = path.split('/').skip(1).collect();
                        // The argument is present, so the call routes to this plan.
                        prop_assert_eq!(got.len(), segments.len(), "{}: raw target {}", case.tool, raw);
                        for (seg, tpl) in got.iter().zip(&segments) {
                            if tpl == &format!("{{{}}}", target.spec) {
                                prop_assert!(
                                    seg.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)),
                                    "{}: segment {:?} carries a byte outside the unreserved set", case.tool, seg
                                );
                                let decoded = percent_decode_str(seg).decode_utf8().unwrap();
                                prop_assert_eq!(decoded.as_ref(), value.as_str());
                            } else if !tpl.starts_with('{') {
                                prop_assert_eq!(seg, tpl, "{}: raw target {}", case.tool, raw);
                            }
                        }
                        probed.set(probed.get() + 1);
                        Ok(())
                    })
                    .unwrap_or_else(|e| panic!("{} `{}`: {e}", case.tool, target.tool));
            }
        }
    }
    let probed = probed.get();
    assert!(probed > 500, "only {probed} wire requests checked");
}

/// The renditions an upstream may echo a secret in, made independently of
/// src/redact.rs: raw, serde's JSON, Go's HTML-safe JSON, `\u` for everything
/// non-ASCII, JSON quoted twice, percent-encoded.
fn renditions(secret: &str) -> Vec<String> {
    let json = serde_json::to_string(secret).unwrap();
    let inner = &json[1..json.len() - 1];
    let go = inner
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    let ascii: String = inner
        .chars()
        .map(|c| {
            if c.is_ascii() {
                c.to_string()
            } else {
                c.encode_utf16(&mut [0; 2])
                    .iter()
                    .map(|u| format!("\\u{u:04X}"))
                    .collect()
            }
        })
        .collect();
    let twice = serde_json::to_string(&json).unwrap();
    let percent = percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC)
        .to_string();
    vec![
        secret.to_string(),
        inner.to_string(),
        go,
        ascii,
        twice[1..twice.len() - 1].to_string(),
        percent,
    ]
}

fn secret_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9]{12,30}",
        "[ -~]{8,24}",
        "[a-z]{2,6}[\"\\\\<>&/é€😀]{2,6}[a-z]{2,6}",
        any::<String>().prop_filter("long enough to look for", |s| s.len() >= 8),
    ]
}

fn result_text(result: &rmcp::model::CallToolResult) -> String {
    serde_json::to_string(result).unwrap()
}

#[test]
fn a_secret_never_comes_back_escaped_or_cut_in_any_result() {
    let rt = runtime();
    // The tenant echoes the secret value of the request in one of its renditions
    // (chosen by the value's length), after padding whose length follows the key's,
    // so that the secret lands across the read cap and the result bound.
    let tenant = rt.block_on(RawTenant::start(|request| {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
        let secret = body["value"].as_str().unwrap_or_default().to_string();
        let which: usize = secret.len() % 6;
        let rendition = renditions(&secret).swap_remove(which);
        let pad = ".".repeat(5000usize.saturating_sub(body["key"].as_str().unwrap_or("").len()));
        let status = if secret.len().is_multiple_of(2) {
            400
        } else {
            500
        };
        let text = format!("{{\"error\":\"bad value {rendition}\",\"pad\":\"{pad}\"}}");
        (status, text.into_bytes())
    }));
    let engine = engine(config(&[
        ("MOLECULE_API_URL", &tenant.url),
        ("MOLECULE_ORG_API_KEY", KEY),
        ("MOLECULE_ORG_ID", ORG_ID),
        ("MOLECULE_MCP_MAX_RESULT_BYTES", "5000"),
    ]));
    let entry = engine.catalog().get("set_org_secret").unwrap();
    let mut runner = TestRunner::new(RunnerConfig {
        cases: 300,
        failure_persistence: None,
        ..RunnerConfig::default()
    });
    // The key's length moves the secret across the read cap and the result bound.
    let strategy = (secret_value(), "[A-Z]{1,4}[A-Z_]{0,60}");
    runner
        .run(&strategy, |(secret, key)| {
            let args = json!({ "key": key, "value": secret });
            let result = rt.block_on(engine.respond(entry, args.as_object().unwrap().clone()));
            tenant.taken();
            let text = result_text(&result);
            prop_assert!(text.len() <= 5000 + 200, "bounded: {}", text.len());
            for r in renditions(&secret) {
                prop_assert!(!text.contains(&r), "{:?} came back as {:?}", secret, r);
            }
            // No cut-off part either: no 8-byte run of the secret survives.
            let bytes = secret.as_bytes();
            for window in bytes.windows(8) {
                if let Ok(w) = std::str::from_utf8(window) {
                    prop_assert!(!text.contains(w), "{:?}: part {:?} came back", secret, w);
                }
            }
            Ok(())
        })
        .unwrap();
}

/// The encodings upstreams really echo a credential in: base64 (standard and URL-safe,
/// padded or not) of the value alone and of `Bearer <value>`, and hexadecimal in either
/// case (docs/security.md, "Redaction").
fn encodings(secret: &[u8]) -> Vec<String> {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let bearer = [b"Bearer ".as_slice(), secret].concat();
    let mut out = Vec::new();
    for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
        out.push(engine.encode(secret));
        out.push(engine.encode(&bearer));
    }
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    out.push(hex.to_ascii_uppercase());
    out.push(hex);
    out
}

/// Property: whatever the secret value (with `+`, `/`, `=` and non-ASCII bytes among
/// its characters) and whatever the key, a tenant that echoes either in any of the
/// [`encodings`] — in a success or in an error — returns neither to the model.
#[test]
fn every_encoding_of_the_key_or_a_secret_value_is_redacted() {
    let rt = runtime();
    let tenant = rt.block_on(RawTenant::start(|request| {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
        let secret = body["value"].as_str().unwrap_or_default().to_string();
        let bearer = request
            .headers
            .iter()
            .find(|(k, _)| k == "authorization")
            .map(|(_, v)| v.trim_start_matches("Bearer ").to_string())
            .unwrap_or_default();
        let mut echoed: Vec<String> = encodings(secret.as_bytes());
        echoed.extend(encodings(bearer.as_bytes()));
        let status = if secret.len().is_multiple_of(2) {
            200
        } else {
            500
        };
        (
            status,
            json!({ "status": "saved", "echo": echoed })
                .to_string()
                .into_bytes(),
        )
    }));
    let engine = engine(config(&[
        ("MOLECULE_API_URL", &tenant.url),
        ("MOLECULE_ORG_API_KEY", KEY),
        ("MOLECULE_ORG_ID", ORG_ID),
    ]));
    let entry = engine.catalog().get("set_org_secret").unwrap();
    let mut runner = TestRunner::new(RunnerConfig {
        cases: 200,
        failure_persistence: None,
        ..RunnerConfig::default()
    });
    let strategy = prop_oneof![
        "[a-zA-Z0-9+/=]{8,40}",
        "[a-z+/=]{2,8}[é€😀ß]{1,4}[a-z+/=]{2,8}",
        any::<String>().prop_filter("long enough to look for", |s| s.len() >= 8),
    ];
    runner
        .run(&strategy, |secret| {
            let args = json!({ "key": "K", "value": secret });
            let result = rt.block_on(engine.respond(entry, args.as_object().unwrap().clone()));
            tenant.taken();
            let text = result_text(&result);
            prop_assert!(text.contains("[redacted]"), "{}", text);
            for (what, value) in [("value", secret.as_str()), ("key", KEY)] {
                for encoded in encodings(value.as_bytes()) {
                    prop_assert!(
                        !text.contains(&encoded),
                        "the {} {:?} came back as {:?}",
                        what,
                        value,
                        encoded
                    );
                }
            }
            Ok(())
        })
        .unwrap();
}

#[tokio::test]
async fn a_short_secret_value_is_redacted_where_it_stands_alone() {
    let tenant = RawTenant::start(|request| {
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        let v = body["value"].as_str().unwrap().to_string();
        (
            400,
            format!("{{\"error\":\"value {v} is too short\",\"status\":\"saved\"}}").into_bytes(),
        )
    })
    .await;
    let engine = engine(full_config(&tenant.url));
    let e = call(
        &engine,
        "set_org_secret",
        json!({ "key": "K", "value": "ab" }),
    )
    .await
    .unwrap_err();
    assert_eq!(
        e.envelope()["detail"],
        "{\"error\":\"value [redacted] is too short\",\"status\":\"saved\"}"
    );
    let sent = tenant.taken();
    assert_eq!(sent[0].method, "POST");
    assert_eq!(sent[0].target, "/settings/secrets");
    assert!(
        sent[0]
            .headers
            .contains(&("authorization".into(), format!("Bearer {KEY}")))
    );
}

#[tokio::test]
async fn every_error_result_is_bounded_however_it_is_escaped() {
    // A 99 KB body of control bytes (escaping multiplies it by 6 or 7).
    let tenant = RawTenant::start(|_| (500, vec![1u8; 99_000])).await;
    let engine = engine(config(&[
        ("MOLECULE_API_URL", &tenant.url),
        ("MOLECULE_ORG_API_KEY", KEY),
        ("MOLECULE_ORG_ID", ORG_ID),
        ("MOLECULE_MCP_MAX_RESULT_BYTES", "20000"),
    ]));
    let entry = engine.catalog().get("list_workspaces").unwrap();
    let result = engine.respond(entry, serde_json::Map::new()).await;
    let size = molecule_mcp::result::encoded_len(&result);
    assert!(size <= 20_000 && size > 10_000, "{size}");
    assert_eq!(result.is_error, Some(true));
    let envelope: Value = serde_json::from_str(&result.content[0].as_text().unwrap().text).unwrap();
    assert_eq!(envelope["error"], "HTTP 500");
    assert!(
        envelope["detail"]
            .as_str()
            .unwrap()
            .ends_with(molecule_mcp::result::CUT)
    );

    // A 3 MB workspace id sent to a host that is not there.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let engine = crate::common::engine(full_config(&closed));
    let entry = engine.catalog().get("get_workspace").unwrap();
    let args = json!({ "workspace_id": "w".repeat(3_000_000) });
    let result = engine
        .respond(entry, args.as_object().unwrap().clone())
        .await;
    assert_eq!(result.is_error, Some(true));
    let size = molecule_mcp::result::encoded_len(&result);
    assert!(size <= 100_000, "unreachable error of {size} bytes");
}

#[tokio::test]
async fn an_unknown_tool_name_is_clipped_in_the_error_and_in_the_logs() {
    let mut d =
        crate::driver::Driver::for_tenant("http://127.0.0.1:9", &[("RUST_LOG", "info")]).await;
    let name = "x".repeat(7 * 1024 * 1024);
    d.send(
        json!({"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":name,"arguments":{}}}),
    )
    .await;
    let line = d.raw_line().await;
    assert!(line.len() < 2_000, "reply of {} bytes", line.len());
    let reply: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(reply["id"], 5);
    assert_eq!(reply["error"]["code"], -32602);
    let (status, stderr, _) = d.finish().await;
    assert!(status.success());
    assert!(stderr.len() < 20_000, "stderr of {} bytes", stderr.len());
}

/// Over stdio, a client id can never be mistaken for another request's: a string id
/// that looks like the server's internal stand-in for an id rmcp cannot carry gets its
/// own answer; a second request with the id of one still in progress gets an error of
/// its own (and the first its result); and a malformed `arguments` string is refused
/// without echoing what it held.
#[tokio::test]
async fn stdio_ids_never_cross_and_a_duplicate_in_progress_is_refused() {
    let tenant = crate::http::slow_tenant(std::time::Duration::from_millis(1500)).await;
    let mut d = crate::driver::Driver::for_tenant(&tenant, &[]).await;
    d.send_raw(r#"{"jsonrpc":"2.0","id":"\u0000molecule-mcp-id-0","method":"ping"}"#)
        .await;
    d.send_raw(r#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#)
        .await;
    let mut lines = vec![d.raw_line().await, d.raw_line().await];
    lines.sort();
    assert!(
        lines[0].starts_with(r#"{"id":"\u0000molecule-mcp-id-0","#),
        "{lines:?}"
    );
    assert!(lines[1].starts_with(r#"{"id":1.5,"#), "{lines:?}");
    let call = r#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"list_org_tokens","arguments":{}}}"#;
    d.send_raw(call).await;
    d.send_raw(call).await;
    let refused: Value = serde_json::from_str(&d.raw_line().await).unwrap();
    assert_eq!(refused["id"], 5, "{refused}");
    assert_eq!(refused["error"]["code"], -32600, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("still in progress"),
        "{refused}"
    );
    let answered: Value = serde_json::from_str(&d.raw_line().await).unwrap();
    assert_eq!(answered["id"], 5, "{answered}");
    assert_eq!(answered["result"]["isError"], false, "{answered}");
    // Answered, the id is free again.
    d.send_raw(r#"{"jsonrpc":"2.0","id":5,"method":"ping"}"#)
        .await;
    let again: Value = serde_json::from_str(&d.raw_line().await).unwrap();
    assert_eq!(
        (again["id"].clone(), again["result"].clone()),
        (json!(5), json!({}))
    );
    d.send_raw(
        r#"{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"set_org_secret","arguments":"{\"key\":\"K\",\"value\":\"sk-never-echoed-value\"}"}}"#,
    )
    .await;
    let line = d.raw_line().await;
    let reply: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(reply["error"]["code"], -32602, "{line}");
    assert!(!line.contains("never-echoed"), "{line}");
}

#[tokio::test]
async fn json_rpc_edges_get_answers_and_never_end_the_server() {
    let mut d = crate::driver::Driver::spawn(&[], &["--sandbox"]);
    // Before initialize: notifications and a stray response are ignored; a ping is
    // answered.
    d.send_raw(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
        .await;
    d.send_raw(r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}"#)
        .await;
    d.send_raw(r#"{"jsonrpc":"2.0","id":99,"result":{}}"#).await;
    d.send_raw(r#"{"jsonrpc":"2.0","id":"p","method":"ping"}"#)
        .await;
    assert_eq!(
        d.raw_line().await,
        r#"{"jsonrpc":"2.0","id":"p","result":{}}"#
    );
    // Ids of the wrong type: -32600 with a null id, never silence.
    for id in ["{}", "true", "[1]", "null"] {
        d.send_raw(&format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#))
            .await;
        let reply: Value = serde_json::from_str(&d.raw_line().await).unwrap();
        assert_eq!(reply["error"]["code"], -32600, "id {id}");
        assert_eq!(reply["id"], Value::Null, "id {id}");
    }
    d.send_raw(r#"{"jsonrpc":"2.0","id":123456789012345678901234567890,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}"#).await;
    let line = d.raw_line().await;
    assert!(
        line.starts_with(r#"{"id":123456789012345678901234567890,"#),
        "the id is echoed exactly: {line}"
    );
    d.send_raw(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
        .await;
    // Ids exactly as sent: beyond 64 bits, float form, strings.
    for id in ["99999999999999999999", "7.0", "1e2", "\"s-1\"", "-3"] {
        d.send_raw(&format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#))
            .await;
        let line = d.raw_line().await;
        let reply: Value = serde_json::from_str(&line).unwrap();
        assert!(
            line.contains(&format!("\"id\":{id}")),
            "id {id} echoed as {line}"
        );
        assert_eq!(reply["result"], json!({}), "{line}");
    }
    // Wrong-typed name or arguments: -32602, not -32601.
    for params in [
        r#"5"#,
        r#"{"name":5}"#,
        r#"{"name":"list_workspaces","arguments":[1]}"#,
        r#"{"name":"list_workspaces","arguments":"x"}"#,
    ] {
        d.send_raw(&format!(
            r#"{{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{params}}}"#
        ))
        .await;
        let reply: Value = serde_json::from_str(&d.raw_line().await).unwrap();
        assert_eq!(reply["error"]["code"], -32602, "{params}: {reply}");
        assert_eq!(reply["id"], 8);
    }
    // Notifications rmcp cannot read are never answered (JSON-RPC answers no
    // notification): the next line is the ping's reply.
    for note in [
        r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":5}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":{}}}"#,
    ] {
        d.send_raw(note).await;
    }
    d.send_raw(r#"{"jsonrpc":"2.0","id":"after","method":"ping"}"#)
        .await;
    assert_eq!(
        d.raw_line().await,
        r#"{"jsonrpc":"2.0","id":"after","result":{}}"#
    );
    // Still serving.
    d.call(9, "list_workspaces", json!({})).await;
    assert_eq!(d.response(9).await["result"]["isError"], false);
    let (status, _, _) = d.finish().await;
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn stdin_closed_before_initialize_is_a_normal_end() {
    let d = crate::driver::Driver::spawn(&[], &[]);
    let (status, stderr, lines) = d.finish().await;
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(lines.is_empty());
}

/// What a validating client (the official SDKs) checks on a success: structured
/// content present exactly when the tool declares an output schema, and valid.
fn accepted_by_a_validating_client(
    tool: &rmcp::model::Tool,
    result: &rmcp::model::CallToolResult,
) -> Result<(), String> {
    if result.is_error == Some(true) {
        let text = &result.content[0].as_text().unwrap().text;
        let envelope: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        return match envelope["error"].as_str() {
            Some("UPSTREAM_CONTRACT_MISMATCH") => Ok(()),
            other => Err(format!("unexpected error {other:?}")),
        };
    }
    match (&tool.output_schema, &result.structured_content) {
        (Some(schema), Some(content)) => {
            let schema = Value::Object(schema.as_ref().clone());
            let validator = jsonschema::draft202012::new(&schema).unwrap();
            validator.validate(content).map_err(|e| e.to_string())
        }
        (Some(_), None) => Err("has an output schema but did not return structured content".into()),
        (None, _) => Ok(()),
    }
}

#[test]
fn every_2xx_body_kind_is_a_valid_success_or_a_deliberate_error_for_every_tool() {
    let rt = runtime();
    let bodies: Vec<(u16, &[u8])> = vec![
        (204, b""),
        (200, b""),
        (200, b"  \n"),
        (201, b"[]"),
        (200, b"[{\"id\":\"w\"}]"),
        (200, b"\"ok\""),
        (200, b"42"),
        (200, b"null"),
        (200, b"not json <html>"),
        (200, b"{}"),
        (207, b"{\"unexpected\":[1,2],\"id\":\"x\"}"),
        (200, b"{\"id\":5,\"name\":[]}"),
    ];
    let which = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let pick = which.clone();
    let kinds = bodies.clone();
    let tenant = rt.block_on(RawTenant::start(move |_| {
        let (status, body) = kinds[pick.load(std::sync::atomic::Ordering::SeqCst)];
        (status, body.to_vec())
    }));
    let engine = engine(full_config(&tenant.url));
    let mut successes = 0;
    for case in crate::calls::cases() {
        let entry = engine.catalog().get(case.tool).unwrap();
        for (i, (status, body)) in bodies.iter().enumerate() {
            which.store(i, std::sync::atomic::Ordering::SeqCst);
            let result = rt.block_on(engine.respond(entry, case.args.as_object().unwrap().clone()));
            tenant.taken();
            accepted_by_a_validating_client(&entry.tool, &result).unwrap_or_else(|e| {
                panic!(
                    "{}: {status} {:?}: {e}",
                    case.tool,
                    String::from_utf8_lossy(body)
                )
            });
            if result.is_error != Some(true) {
                successes += 1;
            }
            if body.trim_ascii().is_empty() {
                assert_eq!(
                    result.is_error,
                    Some(false),
                    "{}: an empty {status} is a success",
                    case.tool
                );
            }
        }
    }
    assert!(successes > 100, "{successes}");
}

/// `tests/sdk/cases.json`: one valid call per request case, for the official-SDK
/// client test that `.ci/run` runs. Kept in step with `calls::cases()`: a difference
/// fails and says how to regenerate the file; only with `UPDATE_SDK_CASES` set is it
/// rewritten, so a plain `cargo test` writes no tracked file.
#[test]
fn the_sdk_client_test_calls_every_request_case() {
    let cases: Vec<Value> = crate::calls::cases()
        .into_iter()
        .map(|c| json!({ "tool": c.tool, "args": c.args }))
        .collect();
    let text = format!("{}\n", serde_json::to_string_pretty(&cases).unwrap());
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/cases.json");
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    if current != text {
        assert!(
            std::env::var_os("UPDATE_SDK_CASES").is_some(),
            "tests/sdk/cases.json is stale: regenerate it with \
             `UPDATE_SDK_CASES=1 cargo test --test it sdk_client` and commit it"
        );
        std::fs::write(&path, &text).unwrap();
    }
    let names: std::collections::BTreeSet<&str> =
        cases.iter().filter_map(|c| c["tool"].as_str()).collect();
    let engine = engine(full_config("http://127.0.0.1:9"));
    assert_eq!(
        names.len(),
        engine.catalog().entries.len(),
        "every tool has a case"
    );
}
