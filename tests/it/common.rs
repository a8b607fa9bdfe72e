//! Shared helpers: a loopback mock tenant (wiremock) and an engine pointed at it.

use molecule_mcp::call::Engine;
use molecule_mcp::config::Config;
use molecule_mcp::error::ToolError;
use serde_json::{Value, json};
use std::collections::HashMap;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const KEY: &str = "sk-org-test-0123456789";
pub const ORG_ID: &str = "org-1111";
pub const CP_TOKEN: &str = "cp-admin-test-9876";

/// A configuration with every variable the TypeScript server reads.
pub fn config(vars: &[(&str, &str)]) -> Config {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_lookup(|k| map.get(k).cloned()).expect("valid test config")
}

/// Tenant and CP both at `uri`, fully credentialed.
pub fn full_config(uri: &str) -> Config {
    config(&[
        ("MOLECULE_API_URL", uri),
        ("MOLECULE_ORG_API_KEY", KEY),
        ("MOLECULE_ORG_ID", ORG_ID),
        ("MOLECULE_CP_URL", uri),
        ("CP_ADMIN_API_TOKEN", CP_TOKEN),
    ])
}

pub fn engine(config: Config) -> Engine {
    Engine::new(config).expect("engine starts")
}

/// A mock tenant answering every request with `status` and `body`.
pub async fn tenant(status: u16, body: Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(&server)
        .await;
    server
}

pub async fn ok_tenant() -> MockServer {
    tenant(200, json!({ "ok": true })).await
}

pub async fn call(engine: &Engine, tool: &str, args: Value) -> Result<Value, ToolError> {
    call_full(engine, tool, args).await.map(|s| s.value)
}

/// The call's whole success (the value and whether it is the body itself).
pub async fn call_full(
    engine: &Engine,
    tool: &str,
    args: Value,
) -> Result<molecule_mcp::call::Success, ToolError> {
    let entry = engine
        .catalog()
        .get(tool)
        .unwrap_or_else(|| panic!("no tool {tool}"));
    let Value::Object(args) = args else {
        panic!("args must be an object")
    };
    engine.call(entry, args).await
}

/// The one request the mock received (fails if there were more or none).
pub async fn only_request(server: &MockServer) -> wiremock::Request {
    let mut requests = server.received_requests().await.expect("recording on");
    assert_eq!(
        requests.len(),
        1,
        "expected exactly one request, got {}",
        requests.len()
    );
    requests.remove(0)
}

/// The raw path and query as they went over the wire.
pub fn raw_target(request: &wiremock::Request) -> String {
    match request.url.query() {
        Some(q) => format!("{}?{}", request.url.path(), q),
        None => request.url.path().to_string(),
    }
}

pub fn header<'a>(request: &'a wiremock::Request, name: &str) -> Option<&'a str> {
    request.headers.get(name).and_then(|v| v.to_str().ok())
}

pub fn body_json(request: &wiremock::Request) -> Option<Value> {
    if request.body.is_empty() {
        None
    } else {
        Some(serde_json::from_slice(&request.body).expect("request body is JSON"))
    }
}

pub fn error_code(result: &Result<Value, ToolError>) -> String {
    match result {
        Ok(v) => panic!("expected an error, got {v}"),
        Err(e) => e.code(),
    }
}

/// One request as it arrived on the socket: the request target exactly as sent (no URL
/// parser between the client and this record), the headers and the body.
#[derive(Debug, Clone)]
pub struct RawRequest {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

type Responder = dyn Fn(&RawRequest) -> (u16, Vec<u8>) + Send + Sync;

/// A loopback HTTP/1.1 tenant that records every request raw and answers with what
/// `respond` returns (one request per connection).
pub struct RawTenant {
    pub url: String,
    pub requests: std::sync::Arc<std::sync::Mutex<Vec<RawRequest>>>,
}

impl RawTenant {
    pub async fn start(
        respond: impl Fn(&RawRequest) -> (u16, Vec<u8>) + Send + Sync + 'static,
    ) -> RawTenant {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let respond: std::sync::Arc<Responder> = std::sync::Arc::new(respond);
        let log = requests.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let (log, respond) = (log.clone(), respond.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let head_end = loop {
                        let mut chunk = [0u8; 4096];
                        let n = socket.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i;
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
                    let mut lines = head.split("\r\n");
                    let mut first = lines.next().unwrap_or_default().split(' ');
                    let method = first.next().unwrap_or_default().to_string();
                    let target = first.next().unwrap_or_default().to_string();
                    let headers: Vec<(String, String)> = lines
                        .filter_map(|l| l.split_once(':'))
                        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                        .collect();
                    let length: usize = headers
                        .iter()
                        .find(|(k, _)| k == "content-length")
                        .and_then(|(_, v)| v.parse().ok())
                        .unwrap_or(0);
                    let mut body = buf[head_end + 4..].to_vec();
                    while body.len() < length {
                        let mut chunk = [0u8; 4096];
                        let n = socket.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            break;
                        }
                        body.extend_from_slice(&chunk[..n]);
                    }
                    let request = RawRequest {
                        method,
                        target,
                        headers,
                        body,
                    };
                    let (status, reply) = respond(&request);
                    log.lock().unwrap().push(request);
                    let head = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        reply.len()
                    );
                    let _ = socket.write_all(head.as_bytes()).await;
                    let _ = socket.write_all(&reply).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        RawTenant { url, requests }
    }

    /// Every request so far, oldest first.
    pub fn taken(&self) -> Vec<RawRequest> {
        std::mem::take(&mut *self.requests.lock().unwrap())
    }
}
