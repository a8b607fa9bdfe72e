//! The audit log (docs/safety.md): two lines per call that is not a read, written
//! before anything is sent, never interleaved, never holding a key or a secret value.

use crate::common::*;
use crate::http::{Server, call_message, http, post, signal};
use molecule_mcp::audit::{AuditLog, key_fingerprint};
use molecule_mcp::call::Engine;
use molecule_mcp::safety::Safety;
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestRunner};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

fn temp_log(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("molecule-mcp-audit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    path
}

/// Every line of the log, parsed (a line that does not parse fails the test).
fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect()
}

fn audited(config: molecule_mcp::config::Config, path: &Path, dry_run: bool) -> Engine {
    engine(config).with_safety(Safety {
        dry_run,
        audit: Some(Arc::new(AuditLog::open(path).unwrap())),
        ..Safety::default()
    })
}

/// The lines grouped by `call_id`: each must be exactly one intent then one outcome.
fn calls(lines: &[Value]) -> BTreeMap<String, (Value, Value)> {
    let mut by_id: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for line in lines {
        by_id
            .entry(line["call_id"].as_str().unwrap().to_string())
            .or_default()
            .push(line.clone());
    }
    by_id
        .into_iter()
        .map(|(id, pair)| {
            assert_eq!(pair.len(), 2, "{id}: {pair:?}");
            assert_eq!(pair[0]["event"], "intent", "{id}");
            assert_eq!(pair[1]["event"], "outcome", "{id}");
            (id, (pair[0].clone(), pair[1].clone()))
        })
        .collect()
}

#[tokio::test]
async fn each_outcome_is_recorded_reads_are_not_and_an_unwritable_log_sends_nothing() {
    let tenant = RawTenant::start(|_| (200, b"{}".to_vec())).await;
    let path = temp_log("outcomes.jsonl");
    let real = audited(full_config(&tenant.url), &path, false);
    let dry = audited(full_config(&tenant.url), &path, true);
    call(&real, "pause_workspace", json!({"workspace_id": "w-ok"}))
        .await
        .unwrap();
    call(&real, "get_workspace", json!({"workspace_id": "w-read"}))
        .await
        .unwrap();
    let refused = call(&real, "pause_workspace", json!({"workspace_id": ".."})).await;
    assert_eq!(error_code(&refused), "INVALID_ARGUMENTS");
    let planned = call(&dry, "pause_workspace", json!({"workspace_id": "w-dry"})).await;
    assert_eq!(error_code(&planned), "DRY_RUN");
    assert_eq!(tenant.taken().len(), 2, "the write and the read");
    let log = lines(&path);
    assert_eq!(log.len(), 6, "{log:#?}");
    let by_tool: Vec<(String, String)> = calls(&log)
        .values()
        .map(|(intent, outcome)| {
            assert_eq!(intent["tool"], "pause_workspace");
            assert_eq!(intent["transport"], "stdio");
            assert_eq!(intent["caller"], key_fingerprint(KEY));
            assert_eq!(intent["org_id"], ORG_ID);
            assert_eq!(outcome["confirmed"], "not_asked");
            assert!(outcome["duration_ms"].as_f64().unwrap() >= 0.0);
            assert!(intent["time"].as_str().unwrap().ends_with('Z'));
            (
                intent["arguments"]["workspace_id"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                format!(
                    "{} {} {} {}",
                    outcome["outcome"], outcome["method"], outcome["path"], outcome["status"]
                ),
            )
        })
        .collect();
    let by_tool: BTreeMap<_, _> = by_tool.into_iter().collect();
    assert_eq!(
        by_tool["w-ok"],
        "\"ok\" \"POST\" \"/workspaces/w-ok/pause\" 200"
    );
    assert_eq!(by_tool[".."], "\"INVALID_ARGUMENTS\" null null null");
    assert_eq!(
        by_tool["w-dry"],
        "\"dry_run\" \"POST\" \"/workspaces/w-dry/pause\" null"
    );

    // A log that cannot take a line refuses the call; nothing is sent.
    let full = Path::new("/dev/full");
    if full.exists() {
        let broken = audited(full_config(&tenant.url), full, false);
        let refused = call(&broken, "pause_workspace", json!({"workspace_id": "w"})).await;
        assert_eq!(error_code(&refused), "AUDIT_UNAVAILABLE");
        assert!(tenant.taken().is_empty(), "sent without an intent line");
        // Reads are not audited, so they still work.
        call(&broken, "get_workspace", json!({"workspace_id": "w"}))
            .await
            .unwrap();
        assert_eq!(tenant.taken().len(), 1);
    }
}

/// Secret values and keys, whatever they are, never reach the log.
#[test]
fn no_line_holds_a_key_or_a_secret_value() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let tenant = runtime.block_on(RawTenant::start(|r| {
        // A hostile tenant echoing the body back.
        (200, r.body.clone())
    }));
    let path = temp_log("secrets.jsonl");
    let engine = audited(full_config(&tenant.url), &path, false);
    let secret = "[A-Za-z0-9+/=_.~ \"\\\\-]{8,40}";
    let mut runner = TestRunner::new(RunnerConfig {
        cases: 48,
        failure_persistence: None,
        ..RunnerConfig::default()
    });
    runner
        .run(
            &(secret, prop::sample::select(vec![0usize, 1, 2, 3])),
            |(value, shape)| {
                // Emptied in place: the engine's descriptor appends to this same file.
                std::fs::File::create(&path).unwrap();
                let (tool, args) = match shape {
                    0 => ("set_org_secret", json!({"key": "K1", "value": value})),
                    1 => (
                        "set_workspace_secret",
                        json!({"workspace_id": "w", "key": "K2", "value": value}),
                    ),
                    // The key pasted where an argument goes.
                    2 => ("set_org_secret", json!({"key": KEY, "value": value})),
                    _ => ("pause_workspace", json!({"workspace_id": KEY})),
                };
                let _ = runtime.block_on(call(&engine, tool, args));
                tenant.taken();
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                prop_assert_eq!(lines(&path).len(), 2);
                prop_assert!(!text.contains(KEY), "the key in {}", text);
                prop_assert!(!text.contains(CP_TOKEN));
                if shape < 3 {
                    prop_assert!(
                        !text.contains(&value)
                            && !text.contains(&serde_json::to_string(&value).unwrap()),
                        "the secret value in {}",
                        text
                    );
                }
                Ok(())
            },
        )
        .unwrap();
}

#[tokio::test]
async fn two_http_callers_writing_at_once_get_exactly_their_lines() {
    let tenant = RawTenant::start(|_| (200, b"{}".to_vec())).await;
    let path = temp_log("http.jsonl");
    let env = [("MOLECULE_API_URL", tenant.url.as_str())];
    let server = Server::start(&env, &["--audit-log", path.to_str().unwrap()]).await;
    let client = http();
    let callers = [
        ("sk-audit-alpha-111111", "org-a"),
        ("sk-audit-bravo-222222", "org-b"),
    ];
    let mut tasks = Vec::new();
    for i in 0..40i64 {
        let (key, org) = callers[(i % 2) as usize];
        let (client, url) = (client.clone(), server.url.clone());
        tasks.push(tokio::spawn(async move {
            let auth = format!("Bearer {key}");
            let traceparent = format!("00-{:032x}-00f067aa0ba902b7-01", i + 1);
            let headers = [
                ("authorization", auth.as_str()),
                ("x-molecule-org-id", org),
                ("traceparent", traceparent.as_str()),
            ];
            let args = json!({"workspace_id": format!("w-{i}"), "key": "K", "value": format!("secret-value-{i:04}")});
            let (status, _, reply) = post(
                &client,
                &url,
                &headers,
                call_message(i, "set_workspace_secret", args),
            )
            .await;
            assert_eq!(status, 200, "{reply}");
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let (_, stderr) = server.stop().await;
    let text = std::fs::read_to_string(&path).unwrap();
    for (key, _) in callers {
        assert!(!text.contains(key) && !stderr.contains(key));
    }
    assert!(!text.contains("secret-value-"), "a secret value in the log");
    let log = lines(&path);
    assert_eq!(log.len(), 80);
    let calls = calls(&log);
    assert_eq!(calls.len(), 40);
    let mut seen = std::collections::BTreeSet::new();
    for (intent, outcome) in calls.values() {
        let i: i64 = intent["jsonrpc_id"].as_str().unwrap().parse().unwrap();
        let (key, org) = callers[(i % 2) as usize];
        assert_eq!(intent["transport"], "http");
        assert_eq!(intent["caller"], key_fingerprint(key));
        assert_eq!(intent["org_id"], org);
        assert_eq!(intent["trace_id"], format!("{:032x}", i + 1));
        assert_eq!(intent["arguments"]["value"], "[redacted]");
        assert_eq!(intent["method"], "POST");
        assert_eq!(intent["path"], format!("/workspaces/w-{i}/secrets"));
        assert_eq!(outcome["outcome"], "ok");
        assert_eq!(outcome["status"], 200);
        seen.insert(i);
    }
    assert_eq!(seen.len(), 40);
    assert_eq!(tenant.taken().len(), 40);
}

#[tokio::test]
async fn killed_under_load_every_line_parses_and_every_request_sent_has_its_intent() {
    let tenant = RawTenant::start(|_| (200, b"{}".to_vec())).await;
    let path = temp_log("killed.jsonl");
    let env = [("MOLECULE_API_URL", tenant.url.as_str())];
    let server = Server::start(&env, &["--audit-log", path.to_str().unwrap()]).await;
    let pid = server.pid();
    let client = http();
    let mut tasks = Vec::new();
    for i in 0..400i64 {
        let (client, url) = (client.clone(), server.url.clone());
        tasks.push(tokio::spawn(async move {
            let headers = [
                ("authorization", "Bearer sk-audit-load-333333"),
                ("x-molecule-org-id", "org-l"),
            ];
            let args = json!({"workspace_id": format!("load-{i}")});
            let _ = tokio::time::timeout(
                Duration::from_secs(10),
                post_raw(
                    &client,
                    &url,
                    &headers,
                    call_message(i, "pause_workspace", args),
                ),
            )
            .await;
        }));
    }
    // Kill it while calls are arriving and in flight.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while tenant.requests.lock().unwrap().len() < 20 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    signal(pid, "KILL").await;
    for task in tasks {
        let _ = task.await;
    }
    let _ = server.stop_after_signal().await;
    let log = lines(&path);
    let intents: std::collections::BTreeSet<String> = log
        .iter()
        .filter(|l| l["event"] == "intent")
        .map(|l| l["path"].as_str().unwrap_or_default().to_string())
        .collect();
    let sent = tenant.taken();
    assert!(sent.len() >= 20, "{} sent", sent.len());
    assert!(sent.len() < 400, "killed under load, not after it");
    for request in &sent {
        let path = request.target.split('?').next().unwrap();
        assert!(
            intents.contains(path),
            "{path} was sent without an intent line"
        );
    }
}

/// [`post`] that tolerates a connection the server's death cut.
async fn post_raw(
    client: &reqwest::Client,
    url: &str,
    headers: &[(&str, &str)],
    message: Value,
) -> Option<u16> {
    crate::http::mcp_request(client, url, headers, &message)
        .send()
        .await
        .ok()
        .map(|r| r.status().as_u16())
}

#[tokio::test]
async fn sighup_reopens_the_log_after_it_was_rotated() {
    let tenant = RawTenant::start(|_| (200, b"{}".to_vec())).await;
    let path = temp_log("rotated.jsonl");
    let env = [("MOLECULE_API_URL", tenant.url.as_str())];
    let server = Server::start(&env, &["--audit-log", path.to_str().unwrap()]).await;
    let client = http();
    let headers = [
        ("authorization", "Bearer sk-audit-rot-444444"),
        ("x-molecule-org-id", "o"),
    ];
    let pause = |i: i64| {
        call_message(
            i,
            "pause_workspace",
            json!({"workspace_id": format!("r-{i}")}),
        )
    };
    post(&client, &server.url, &headers, pause(1)).await;
    let rotated = path.with_extension("jsonl.1");
    std::fs::rename(&path, &rotated).unwrap();
    signal(server.pid(), "HUP").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !path.exists() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    post(&client, &server.url, &headers, pause(2)).await;
    server.stop().await;
    assert_eq!(lines(&rotated).len(), 2);
    let new = lines(&path);
    assert_eq!(new.len(), 2);
    assert_eq!(new[0]["path"], "/workspaces/r-2/pause");
}

/// `molecule-mcp call` records its calls as `cli`, not as a stdio session's: the real
/// binary, a write against a loopback tenant, the log read back.
#[tokio::test]
async fn a_call_from_the_command_line_is_recorded_as_cli() {
    let tenant = RawTenant::start(|_| (200, b"{}".to_vec())).await;
    let path = temp_log("cli.jsonl");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_molecule-mcp"))
        .args([
            "call",
            "pause_workspace",
            "--args",
            r#"{"workspace_id":"w-cli"}"#,
        ])
        .env_clear()
        .env("MOLECULE_API_URL", &tenant.url)
        .env("MOLECULE_ORG_API_KEY", KEY)
        .env("MOLECULE_ORG_ID", ORG_ID)
        .env("MOLECULE_MCP_AUDIT_LOG", &path)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = lines(&path);
    let recorded = calls(&log);
    let (intent, outcome) = recorded.values().next().expect("one call");
    assert_eq!(recorded.len(), 1, "{log:#?}");
    assert_eq!(intent["transport"], "cli");
    assert_eq!(intent["tool"], "pause_workspace");
    assert_eq!(outcome["outcome"], "ok", "{outcome}");
}

/// A call made through the library as a remote caller (`Engine::call_as`, as the
/// confirmation's reads and an embedding server do) is recorded as `http`.
#[tokio::test]
async fn a_remote_callers_call_through_the_library_is_recorded_as_http() {
    let tenant = RawTenant::start(|_| (200, b"{}".to_vec())).await;
    let path = temp_log("library-remote.jsonl");
    let engine = audited(full_config(&tenant.url), &path, false);
    let mut caller = molecule_mcp::client::Caller::from_config(&full_config(&tenant.url));
    caller.remote = true;
    let entry = engine.catalog().get("pause_workspace").unwrap();
    let args = json!({"workspace_id": "w-remote"})
        .as_object()
        .unwrap()
        .clone();
    engine
        .call_as(entry, args, &Arc::new(caller), None)
        .await
        .unwrap();
    let log = lines(&path);
    let recorded = calls(&log);
    assert_eq!(recorded.len(), 1, "{log:#?}");
    let (intent, _) = recorded.values().next().unwrap();
    assert_eq!(intent["transport"], "http");
}
