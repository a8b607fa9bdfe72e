//! Remote MCP over Streamable HTTP (docs/remote.md): the real binary serving
//! `serve --http`, driven by raw HTTP requests; a recording loopback tenant checks
//! what reaches the wire.

use crate::common::*;
use serde_json::{Value, json};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};

const BIN: &str = env!("CARGO_BIN_EXE_molecule-mcp");

/// One `serve --http` process on a free loopback port.
pub struct Server {
    child: tokio::process::Child,
    pub url: String,
    stderr: tokio::task::JoinHandle<String>,
}

impl Server {
    pub async fn start(env: &[(&str, &str)], args: &[&str]) -> Server {
        Server::start_under(&[], env, args).await
    }

    /// [`Server::start`] under a wrapper command (`prlimit --nofile=…`).
    pub async fn start_under(wrapper: &[&str], env: &[(&str, &str)], args: &[&str]) -> Server {
        let mut cmd = match wrapper.split_first() {
            None => tokio::process::Command::new(BIN),
            Some((program, rest)) => {
                let mut cmd = tokio::process::Command::new(program);
                cmd.args(rest).arg(BIN);
                cmd
            }
        };
        cmd.env_clear()
            .args(["serve", "--http", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut seen = String::new();
        let url = tokio::time::timeout(Duration::from_secs(30), async {
            while let Ok(Some(line)) = lines.next_line().await {
                seen.push_str(&line);
                seen.push('\n');
                if let Some(at) = line.find("Streamable HTTP at http://") {
                    let rest = &line[at + "Streamable HTTP at ".len()..];
                    return rest[..rest.find(' ').unwrap()].to_string();
                }
            }
            panic!("no banner: {seen}");
        })
        .await
        .expect("the server announces its address");
        let stderr = tokio::spawn(async move {
            let mut text = seen;
            while let Ok(Some(line)) = lines.next_line().await {
                text.push_str(&line);
                text.push('\n');
            }
            text
        });
        Server { child, url, stderr }
    }

    pub fn pid(&self) -> u32 {
        self.child.id().unwrap()
    }

    /// Stops the server (SIGTERM) and returns its exit status and all of stderr.
    pub async fn stop(self) -> (std::process::ExitStatus, String) {
        signal(self.pid(), "TERM").await;
        self.stop_after_signal().await
    }

    /// Waits for a server already signalled to exit; its status and all of stderr.
    pub async fn stop_after_signal(mut self) -> (std::process::ExitStatus, String) {
        let status = tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .expect("exits after SIGTERM")
            .unwrap();
        (status, self.stderr.await.unwrap())
    }
}

pub async fn signal(pid: u32, name: &str) {
    let ok = tokio::process::Command::new("kill")
        .args([format!("-{name}"), pid.to_string()])
        .status()
        .await
        .unwrap();
    assert!(ok.success());
}

pub fn http() -> reqwest::Client {
    molecule_mcp::client::install_tls_provider();
    reqwest::Client::builder().build().unwrap()
}

/// POSTs one JSON-RPC message with `headers`; the status, headers and JSON body.
pub async fn post(
    client: &reqwest::Client,
    url: &str,
    headers: &[(&str, &str)],
    message: Value,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let response = mcp_request(client, url, headers, &message)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// A POST of one JSON-RPC message to `url` with the MCP content headers and `headers`.
pub fn mcp_request(
    client: &reqwest::Client,
    url: &str,
    headers: &[(&str, &str)],
    message: &Value,
) -> reqwest::RequestBuilder {
    let mut request = client
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(message.to_string());
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    request
}

pub fn initialize(id: i64) -> Value {
    json!({"jsonrpc":"2.0","id":id,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}})
}

pub fn call_message(id: i64, tool: &str, args: Value) -> Value {
    json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":tool,"arguments":args}})
}

pub fn envelope(reply: &Value) -> Value {
    serde_json::from_str(reply["result"]["content"][0]["text"].as_str().unwrap()).unwrap()
}

const ENV_KEY: &str = "sk-environment-key-never-for-http";

fn env_for(tenant: &str) -> Vec<(&'static str, String)> {
    vec![
        ("MOLECULE_API_URL", tenant.to_string()),
        // Present in the environment, and never to be used for an HTTP caller.
        ("MOLECULE_ORG_API_KEY", ENV_KEY.to_string()),
        ("MOLECULE_ORG_ID", "org-env".to_string()),
    ]
}

fn borrowed<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[tokio::test]
async fn a_caller_without_a_key_gets_401_and_health_needs_nothing() {
    let tenant = RawTenant::start(|_| (200, b"[]".to_vec())).await;
    let env = env_for(&tenant.url);
    let server = Server::start(&borrowed(&env), &[]).await;
    let client = http();
    let (status, headers, body) = post(&client, &server.url, &[], initialize(1)).await;
    assert_eq!(status, 401);
    // The scheme, and what to send, for a client that shows the challenge rather than
    // the body (RFC 6750 §3).
    assert_eq!(
        headers.get("www-authenticate").unwrap(),
        "Bearer realm=\"molecule-mcp\", error=\"invalid_request\", error_description=\"Send \
         Authorization: Bearer <Org API Key> and X-Molecule-Org-Id or X-Molecule-Org-Slug\""
    );
    assert_eq!(
        body["detail"],
        "Send Authorization: Bearer <Org API Key> and X-Molecule-Org-Id or X-Molecule-Org-Slug \
         (and X-Molecule-CP-Token for list_orgs/get_org). This server takes no OAuth: configure \
         the client to send these headers."
    );
    let (status, _, body) = post(
        &client,
        &server.url,
        &[
            // The scheme is matched in any case (RFC 9110 §11.1): the key is taken, and
            // the slug is what is wrong.
            ("authorization", "BEARER k"),
            ("x-molecule-org-slug", "Not A Slug"),
        ],
        initialize(1),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .starts_with("X-Molecule-Org-Slug")
    );
    let health = client
        .get(server.url.replace("/mcp", "/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
    let ready = client
        .get(server.url.replace("/mcp", "/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    assert!(tenant.taken().is_empty(), "nothing reached the tenant");
    let (status, stderr) = server.stop().await;
    assert!(status.success(), "{stderr}");
    assert!(
        stderr.contains("status=401") && stderr.contains("status=400"),
        "{stderr}"
    );
}

#[tokio::test]
async fn two_concurrent_callers_only_ever_carry_their_own_key() {
    let tenant = RawTenant::start(|request| {
        // Echo the credentials back, as a hostile or broken upstream might.
        let auth = request
            .headers
            .iter()
            .find(|(k, _)| k == "authorization")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        (
            200,
            json!({ "tokens": [], "count": 0, "echo": auth })
                .to_string()
                .into_bytes(),
        )
    })
    .await;
    let env = env_for(&tenant.url);
    let server = Server::start(&borrowed(&env), &[]).await;
    let client = http();
    let callers = [
        ("sk-caller-alpha-111111", "org-a"),
        ("sk-caller-bravo-222222", "org-b"),
    ];
    let mut tasks = Vec::new();
    for i in 0..60 {
        let (key, org) = callers[i % 2];
        let (client, url) = (client.clone(), server.url.clone());
        tasks.push(tokio::spawn(async move {
            let auth = format!("Bearer {key}");
            let headers = [("authorization", auth.as_str()), ("x-molecule-org-id", org)];
            let (status, _, reply) = post(
                &client,
                &url,
                &headers,
                call_message(i as i64, "list_org_tokens", json!({})),
            )
            .await;
            assert_eq!(status, 200, "{reply}");
            (key, reply.to_string())
        }));
    }
    for task in tasks {
        let (key, reply) = task.await.unwrap();
        let other = callers.iter().find(|(k, _)| *k != key).unwrap().0;
        assert!(
            !reply.contains(other),
            "a caller saw the other's key: {reply}"
        );
        assert!(
            !reply.contains(key),
            "a caller's own key came back unredacted: {reply}"
        );
        assert!(!reply.contains(ENV_KEY));
    }
    let sent = tenant.taken();
    assert_eq!(sent.len(), 60);
    for request in &sent {
        let get = |name: &str| {
            request
                .headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let pair = (get("authorization"), get("x-molecule-org-id"));
        assert!(
            pair == (Some("Bearer sk-caller-alpha-111111"), Some("org-a"))
                || pair == (Some("Bearer sk-caller-bravo-222222"), Some("org-b")),
            "credentials crossed: {pair:?}"
        );
    }
    let (_, stderr) = server.stop().await;
    for secret in [callers[0].0, callers[1].0, ENV_KEY] {
        assert!(!stderr.contains(secret), "stderr leaks a key");
    }
}

#[tokio::test]
async fn one_conversation_spread_over_two_replicas_works() {
    let tenant = RawTenant::start(|_| (200, b"{\"tokens\":[],\"count\":0}".to_vec())).await;
    let env = env_for(&tenant.url);
    let (a, b) = (
        Server::start(&borrowed(&env), &[]).await,
        Server::start(&borrowed(&env), &[]).await,
    );
    let client = http();
    let headers = [
        ("authorization", "Bearer sk-spread-333333"),
        ("x-molecule-org-id", "org-s"),
    ];
    let replicas = [&a.url, &b.url];
    let (status, _, reply) = post(&client, replicas[0], &headers, initialize(1)).await;
    assert_eq!(status, 200);
    assert_eq!(reply["result"]["serverInfo"]["name"], "molecule-mcp");
    let (status, _, _) = post(
        &client,
        replicas[1],
        &[
            headers[0],
            headers[1],
            ("mcp-protocol-version", "2025-06-18"),
        ],
        json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
    )
    .await;
    assert!(status == 202 || status == 200, "{status}");
    for i in 2..10 {
        let url = replicas[i % 2];
        let h = [
            headers[0],
            headers[1],
            ("mcp-protocol-version", "2025-06-18"),
        ];
        let (status, _, reply) = if i % 3 == 0 {
            post(
                &client,
                url,
                &h,
                json!({"jsonrpc":"2.0","id":i,"method":"tools/list"}),
            )
            .await
        } else {
            post(
                &client,
                url,
                &h,
                call_message(i as i64, "list_org_tokens", json!({})),
            )
            .await
        };
        assert_eq!(status, 200, "{reply}");
        assert_eq!(reply["id"], i as i64);
        assert!(reply.get("error").is_none(), "{reply}");
    }
    assert_eq!(tenant.taken().len(), 5);
    a.stop().await;
    b.stop().await;
}

/// A tenant that answers after `delay`, for concurrency and shutdown tests.
pub async fn slow_tenant(delay: Duration) -> String {
    slow_tenant_for(delay, |_| true).await
}

/// A tenant that answers a request after `delay` when `slow(head)` says so (the head
/// lowercased), at once otherwise.
pub async fn slow_tenant_for(
    delay: Duration,
    slow: impl Fn(&str) -> bool + Send + Sync + 'static,
) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let slow = std::sync::Arc::new(slow);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let slow = slow.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 8192];
                let n = socket.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase();
                if slow(&head) {
                    tokio::time::sleep(delay).await;
                }
                let body = b"{\"tokens\":[],\"count\":0}";
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(body).await;
            });
        }
    });
    url
}

#[tokio::test]
async fn origin_body_size_and_concurrency_limits_get_their_documented_answers() {
    let tenant = slow_tenant(Duration::from_millis(800)).await;
    let mut env = env_for(&tenant);
    env.push(("MOLECULE_MCP_MAX_BODY_BYTES", "2000".into()));
    env.push(("MOLECULE_MCP_MAX_PER_CALLER", "1".into()));
    env.push(("MOLECULE_MCP_MAX_CONCURRENT", "2".into()));
    let server = Server::start(&borrowed(&env), &[]).await;
    let client = http();
    let key = |k: &'static str| [("authorization", k), ("x-molecule-org-id", "org-1")];

    // A browser origin that is not allowed: refused (DNS-rebinding protection).
    let mut h = key("Bearer sk-origin").to_vec();
    h.push(("origin", "http://evil.example"));
    let (status, _, _) = post(&client, &server.url, &h, initialize(1)).await;
    assert_eq!(status, 403);

    // An oversized body.
    let big = call_message(
        1,
        "set_org_secret",
        json!({ "key": "K", "value": "v".repeat(5000) }),
    );
    let (status, _, body) = post(&client, &server.url, &key("Bearer sk-big"), big).await;
    assert_eq!(status, 413, "{body}");

    // Two at once with one key: the second gets 429.
    let slow = |k: &'static str| {
        let (client, url) = (client.clone(), server.url.clone());
        tokio::spawn(async move {
            post(
                &client,
                &url,
                &key(k),
                call_message(1, "list_org_tokens", json!({})),
            )
            .await
        })
    };
    let first = slow("Bearer sk-same");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, headers, _) = post(
        &client,
        &server.url,
        &key("Bearer sk-same"),
        call_message(2, "list_org_tokens", json!({})),
    )
    .await;
    assert_eq!(status, 429);
    assert_eq!(headers.get("retry-after").unwrap(), "1");
    // A second key fits (2 in total); a third is over the total: 503.
    let second = slow("Bearer sk-other");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, _, _) = post(
        &client,
        &server.url,
        &key("Bearer sk-third"),
        call_message(3, "list_org_tokens", json!({})),
    )
    .await;
    assert_eq!(status, 503);
    assert_eq!(first.await.unwrap().0, 200);
    assert_eq!(second.await.unwrap().0, 200);
    server.stop().await;
}

#[tokio::test]
async fn sigterm_lets_an_in_flight_call_finish_then_exits() {
    let tenant = slow_tenant(Duration::from_millis(1500)).await;
    let env = env_for(&tenant);
    let server = Server::start(&borrowed(&env), &[]).await;
    let client = http();
    let (c, url) = (client.clone(), server.url.clone());
    let call = tokio::spawn(async move {
        post(
            &c,
            &url,
            &[
                ("authorization", "Bearer sk-term"),
                ("x-molecule-org-id", "o"),
            ],
            call_message(1, "list_org_tokens", json!({})),
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let (status, stderr) = server.stop().await;
    let (http_status, _, reply) = call.await.unwrap();
    assert_eq!(http_status, 200, "{reply}");
    assert_eq!(reply["result"]["isError"], false, "{reply}");
    assert!(status.success(), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(stderr.contains("shutting down"), "{stderr}");
}

#[tokio::test]
async fn a_caller_may_narrow_the_tools_never_widen_them() {
    let tenant = RawTenant::start(|_| (200, b"{}".to_vec())).await;
    let env = env_for(&tenant.url);
    let server = Server::start(&borrowed(&env), &["--toolsets", "secrets,tokens"]).await;
    let client = http();
    let mut h = vec![
        ("authorization", "Bearer sk-narrow"),
        ("x-molecule-org-id", "o"),
    ];
    let list = json!({"jsonrpc":"2.0","id":1,"method":"tools/list"});
    let names = |reply: &Value| -> Vec<String> {
        reply["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, _, all) = post(&client, &server.url, &h, list.clone()).await;
    h.push(("x-mcp-readonly", "true"));
    h.push(("x-mcp-toolsets", "secrets,workspaces"));
    let (_, _, narrowed) = post(&client, &server.url, &h, list).await;
    let (all, narrowed) = (names(&all), names(&narrowed));
    assert!(all.contains(&"mint_org_token".to_string()));
    assert!(
        !all.contains(&"list_workspaces".to_string()),
        "the server's selection holds"
    );
    assert_eq!(narrowed, vec!["list_workspace_secrets", "list_org_secrets"]);
    let (_, _, reply) = post(
        &client,
        &server.url,
        &h,
        call_message(2, "set_org_secret", json!({ "key": "K", "value": "v" })),
    )
    .await;
    assert_eq!(envelope(&reply)["error"], "TOOL_DISABLED");
    assert!(tenant.taken().is_empty());
    server.stop().await;
}

#[tokio::test]
async fn a_tenant_url_template_is_filled_from_the_callers_slug_only() {
    let tenant = RawTenant::start(|_| (200, b"[]".to_vec())).await;
    let template = format!("{}/t/{{slug}}", tenant.url);
    let mut env = env_for("http://127.0.0.1:9");
    env.push(("MOLECULE_MCP_TENANT_URL_TEMPLATE", template));
    let server = Server::start(&borrowed(&env), &[]).await;
    let client = http();
    let (status, _, reply) = post(
        &client,
        &server.url,
        &[
            ("authorization", "Bearer sk-tpl"),
            ("x-molecule-org-slug", "acme"),
        ],
        call_message(1, "list_workspaces", json!({})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(reply["result"]["isError"], false, "{reply}");
    let sent = tenant.taken();
    assert_eq!(sent[0].target, "/t/acme/workspaces");
    // No slug: the server cannot know where to go, and says so before any request.
    let (status, _, body) = post(
        &client,
        &server.url,
        &[
            ("authorization", "Bearer sk-tpl"),
            ("x-molecule-org-id", "o"),
        ],
        call_message(2, "list_workspaces", json!({})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    server.stop().await;
}

#[tokio::test]
async fn the_2026_07_28_protocol_is_served_statelessly_and_older_clients_still_initialize() {
    let server = Server::start(&[], &["--sandbox"]).await;
    let client = http();
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": { "name": "t", "version": "1" },
        "io.modelcontextprotocol/clientCapabilities": {}
    });
    let h = |method: &'static str| {
        vec![
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", method),
        ]
    };
    let (status, _, reply) = post(
        &client,
        &server.url,
        &h("server/discover"),
        json!({"jsonrpc":"2.0","id":1,"method":"server/discover","params":{"_meta": meta}}),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        reply["result"]["supportedVersions"]
            .as_array()
            .unwrap()
            .contains(&json!("2026-07-28")),
        "{reply}"
    );
    let mut headers = h("tools/call");
    headers.push(("mcp-name", "list_org_secrets"));
    let (status, _, reply) = post(
        &client,
        &server.url,
        &headers,
        json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_org_secrets","arguments":{},"_meta": meta}}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(reply["result"]["isError"], false, "{reply}");
    // A 2025-06-18 client initializes as before.
    let (_, _, reply) = post(&client, &server.url, &[], initialize(3)).await;
    assert_eq!(reply["result"]["protocolVersion"], "2025-06-18");
    server.stop().await;
}

#[tokio::test]
async fn the_readmes_remote_commands_start_a_server_that_answers() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = &readme[readme.find("## Remote MCP").unwrap()..];
    let block = &section[section.find("```sh\n").unwrap() + 6..];
    let block = &block[..block.find("```").unwrap()];
    let mut ran = 0;
    for line in block.lines() {
        let command = line.split('#').next().unwrap().trim();
        let words: Vec<&str> = command.split_whitespace().collect();
        let at = words.iter().position(|w| *w == "molecule-mcp").unwrap();
        let env: Vec<(&str, &str)> = words[..at]
            .iter()
            .map(|w| w.split_once('=').unwrap())
            .collect();
        let args: Vec<&str> = words[at + 1..].to_vec();
        assert_eq!(&args[..2], ["serve", "--http"], "{command}");
        assert!(args[2].parse::<std::net::SocketAddr>().is_ok(), "{command}");
        // Same flags, a free port: the documented command must start and serve.
        let server = Server::start(&env, &args[3..]).await;
        let health = http()
            .get(server.url.replace("/mcp", "/healthz"))
            .send()
            .await
            .unwrap();
        assert_eq!(health.status().as_u16(), 200, "{command}");
        server.stop().await;
        ran += 1;
    }
    assert_eq!(ran, 3);
}

#[tokio::test]
async fn control_plane_tools_use_the_callers_cp_token_header_and_nothing_else() {
    let cp = RawTenant::start(|_| (200, b"{\"orgs\":[]}".to_vec())).await;
    let mut env = env_for("http://127.0.0.1:9");
    env.push(("MOLECULE_CP_URL", cp.url.clone()));
    env.push(("CP_ADMIN_API_TOKEN", "cp-environment-token".into()));
    let server = Server::start(&borrowed(&env), &[]).await;
    let client = http();
    let base = [
        ("authorization", "Bearer sk-cp-caller"),
        ("x-molecule-org-id", "o"),
    ];
    // Without the header: gated, whatever the environment holds.
    let (_, _, reply) = post(
        &client,
        &server.url,
        &base,
        call_message(1, "list_orgs", json!({})),
    )
    .await;
    assert_eq!(envelope(&reply)["error"], "CP_TIER_NOT_CONFIGURED");
    assert!(cp.taken().is_empty());
    let mut with = base.to_vec();
    with.push(("x-molecule-cp-token", "cp-caller-token"));
    let (_, _, reply) = post(
        &client,
        &server.url,
        &with,
        call_message(2, "list_orgs", json!({})),
    )
    .await;
    assert_eq!(reply["result"]["isError"], false, "{reply}");
    let sent = cp.taken();
    assert_eq!(sent.len(), 1);
    let auth: Vec<&str> = sent[0]
        .headers
        .iter()
        .filter(|(k, _)| k == "authorization")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(
        auth,
        ["Bearer cp-caller-token"],
        "the caller's CP token only, never the org key"
    );
    assert!(
        !sent[0]
            .headers
            .iter()
            .any(|(k, _)| k == "x-molecule-org-id")
    );
    server.stop().await;
}
