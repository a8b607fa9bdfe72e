//! Remote MCP: a stateless Streamable HTTP server at `/mcp` (docs/remote.md), on
//! rmcp's streamable-HTTP transport. Each request carries its caller's own credentials
//! (`Authorization: Bearer <Org API Key>`, `X-Molecule-Org-Id` / `X-Molecule-Org-Slug`,
//! `X-Molecule-CP-Token`), held for that request alone; the environment's credentials
//! are never used for an HTTP caller. No per-session state: any replica answers any
//! request.
//!
//! In front of rmcp, one middleware owns the web-facing rules: credentials present and
//! well-formed (401 with `WWW-Authenticate`, 400), the body bound (413), concurrency per
//! caller (429) and in total (503), and one access-log line per request — never a
//! credential.

use crate::call::Engine;
use crate::client::Caller;
use crate::config::{ConfigError, Secret, Selection};
use crate::result::clipped;
use crate::server::McpServer;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// The header that carries a caller's control-plane admin token.
pub const CP_TOKEN_HEADER: &str = "x-molecule-cp-token";

/// Operator settings of the HTTP mode (`MOLECULE_MCP_*`, README "Remote MCP").
#[derive(Debug, Clone, PartialEq)]
pub struct HttpOptions {
    /// Where to listen.
    pub addr: SocketAddr,
    /// `MOLECULE_MCP_TENANT_URL_TEMPLATE`: a tenant base URL with `{slug}`, filled from
    /// each caller's validated `X-Molecule-Org-Slug`; `None`: `MOLECULE_API_URL` for all.
    pub tenant_template: Option<String>,
    /// `MOLECULE_MCP_ALLOWED_ORIGINS`: browser origins allowed; by default only
    /// loopback origins (a page on this machine), so a DNS-rebinding page is refused.
    pub allowed_origins: Vec<String>,
    /// `MOLECULE_MCP_ALLOWED_HOSTS`: `Host` values allowed; loopback by default.
    pub allowed_hosts: Vec<String>,
    /// `MOLECULE_MCP_MAX_BODY_BYTES`: the largest request body (default 4 MiB).
    pub max_body_bytes: usize,
    /// `MOLECULE_MCP_MAX_CONCURRENT`: requests in progress at once, all callers
    /// (default 256).
    pub max_concurrent: usize,
    /// `MOLECULE_MCP_MAX_PER_CALLER`: requests in progress at once per key (default 32).
    pub max_per_caller: usize,
    /// `MOLECULE_MCP_SHUTDOWN_SECS`: how long in-flight requests may finish after
    /// SIGTERM (default 10).
    pub shutdown_grace: Duration,
}

impl HttpOptions {
    /// Reads the HTTP settings for listening at `addr`.
    pub fn from_lookup(
        addr: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let get = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
        let addr = listen_address(addr).ok_or_else(|| ConfigError::BadValue {
            var: "MOLECULE_MCP_HTTP",
            value: addr.to_string(),
            rule: "must be a port (8080, on loopback), localhost:PORT or an address and port (0.0.0.0:8080)",
        })?;
        let list = |k: &str| -> Vec<String> {
            get(k)
                .map(|v| {
                    v.split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default()
        };
        let number = |var: &'static str, default: usize| -> Result<usize, ConfigError> {
            match get(var) {
                None => Ok(default),
                Some(v) => match v.trim().parse::<usize>() {
                    Ok(n) if n >= 1 => Ok(n),
                    _ => Err(ConfigError::BadValue {
                        var,
                        value: v,
                        rule: "must be a whole number of at least 1",
                    }),
                },
            }
        };
        let tenant_template = match get("MOLECULE_MCP_TENANT_URL_TEMPLATE") {
            Some(t) if !t.contains("{slug}") || fill(&t, "acme").is_none() => {
                return Err(ConfigError::BadValue {
                    var: "MOLECULE_MCP_TENANT_URL_TEMPLATE",
                    value: t,
                    rule: "must be an http(s) URL containing {slug}, e.g. https://{slug}.tenant.example.com",
                });
            }
            other => other,
        };
        let mut allowed_origins = list("MOLECULE_MCP_ALLOWED_ORIGINS");
        if allowed_origins.is_empty() {
            allowed_origins = vec![
                "http://localhost:*".into(),
                "http://127.0.0.1:*".into(),
                "http://[::1]:*".into(),
            ];
        }
        let mut allowed_hosts = list("MOLECULE_MCP_ALLOWED_HOSTS");
        if allowed_hosts.is_empty() {
            allowed_hosts = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
        }
        Ok(HttpOptions {
            addr,
            tenant_template,
            allowed_origins,
            allowed_hosts,
            max_body_bytes: number("MOLECULE_MCP_MAX_BODY_BYTES", 4 * 1024 * 1024)?,
            max_concurrent: number("MOLECULE_MCP_MAX_CONCURRENT", 256)?,
            max_per_caller: number("MOLECULE_MCP_MAX_PER_CALLER", 32)?,
            shutdown_grace: Duration::from_secs(
                number("MOLECULE_MCP_SHUTDOWN_SECS", 10)?
                    .try_into()
                    .unwrap_or(10),
            ),
        })
    }
}

/// Where to listen: a bare port and `localhost:PORT` mean loopback; anything else is
/// an explicit address (binding beyond loopback is always spelled out).
fn listen_address(addr: &str) -> Option<SocketAddr> {
    let addr = addr.trim();
    if let Ok(port) = addr.parse::<u16>() {
        return Some(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    if let Some(port) = addr.strip_prefix("localhost:") {
        return port
            .parse::<u16>()
            .ok()
            .map(|p| SocketAddr::from(([127, 0, 0, 1], p)));
    }
    addr.parse().ok()
}

/// `template` with `{slug}` filled, if the result is an http(s) URL.
fn fill(template: &str, slug: &str) -> Option<String> {
    let url = template.replace("{slug}", slug);
    let parsed = reqwest::Url::parse(&url).ok()?;
    (matches!(parsed.scheme(), "http" | "https") && parsed.host_str().is_some())
        .then(|| url.trim_end_matches('/').to_string())
}

/// An org slug as a DNS label: lowercase letters, digits and inner hyphens, at most 63.
fn valid_slug(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// An org id: letters, digits and `.`, `_`, `:`, `-`, at most 128 (a UUID fits).
fn valid_org_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"._:-".contains(&c))
}

/// How the server treats HTTP callers.
#[derive(Debug)]
pub struct Remote {
    /// Serve the sandbox tenant to every caller (demos): no caller credential needed.
    pub sandbox: bool,
    /// The operator's settings.
    pub options: HttpOptions,
}

/// Why a request's credentials cannot be used (answered before rmcp sees it).
#[derive(Debug, PartialEq)]
pub enum Refusal {
    /// No `Authorization: Bearer …`: 401.
    NoKey,
    /// A header of the wrong form: 400, naming it.
    BadHeader(&'static str, &'static str),
}

impl Remote {
    /// The caller of one HTTP request, from its own headers and the operator's URLs.
    pub fn caller(&self, headers: &HeaderMap, engine: &Engine) -> Result<Caller, Refusal> {
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let key = text(header::AUTHORIZATION.as_str())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or(Refusal::NoKey)?;
        let org_id = text("x-molecule-org-id").map(str::to_string);
        if org_id.as_deref().is_some_and(|id| !valid_org_id(id)) {
            return Err(Refusal::BadHeader(
                "X-Molecule-Org-Id",
                "letters, digits and . _ : - only, at most 128 (a UUID)",
            ));
        }
        let org_slug = text("x-molecule-org-slug").map(str::to_string);
        if org_slug.as_deref().is_some_and(|s| !valid_slug(s)) {
            return Err(Refusal::BadHeader(
                "X-Molecule-Org-Slug",
                "lowercase letters, digits and inner hyphens, at most 63",
            ));
        }
        let config = engine.config();
        let tenant_url = match &self.options.tenant_template {
            None => config.tenant_url.clone(),
            Some(template) => org_slug
                .as_deref()
                .and_then(|slug| fill(template, slug))
                .ok_or(Refusal::BadHeader(
                    "X-Molecule-Org-Slug",
                    "required: this server finds each org's tenant by its slug",
                ))?,
        };
        Ok(Caller {
            tenant_url,
            org_api_key: Some(Secret::new(key)),
            org_id,
            org_slug,
            cp_url: config.cp_url.clone(),
            cp_token: text(CP_TOKEN_HEADER).map(Secret::new),
        })
    }

    /// A caller's own narrowing of the tool selection (`X-MCP-Readonly`,
    /// `X-MCP-Toolsets`, `X-MCP-Tools`, as GitHub's remote server has them); `None`
    /// when the request narrows nothing. Unknown names select nothing.
    pub fn narrowing(headers: &HeaderMap) -> Option<Selection> {
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let names = |name: &str| {
            text(name).map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_ascii_lowercase())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
        };
        let read_only = text("x-mcp-readonly").is_some_and(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "1" | "true" | "yes" | "on"
            )
        });
        let selection = Selection {
            read_only,
            toolsets: names("x-mcp-toolsets"),
            tools: names("x-mcp-tools"),
        };
        (selection != Selection::default()).then_some(selection)
    }
}

/// What the middleware shares.
struct Gate {
    remote: Arc<Remote>,
    engine: Arc<Engine>,
    total: Arc<Semaphore>,
    per_caller: Mutex<HashMap<u64, Arc<Semaphore>>>,
}

fn refusal(status: StatusCode, error: &str, detail: &str) -> Response {
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({ "error": error, "detail": detail }).to_string(),
    )
        .into_response();
    match status {
        StatusCode::UNAUTHORIZED => {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"molecule-mcp\""),
            );
        }
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        _ => {}
    }
    response
}

/// The JSON-RPC method and tool name of a body, clipped, for the access log.
fn summary(body: &Bytes) -> (String, String) {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => (
            clipped(m.get("method").and_then(Value::as_str).unwrap_or("-"), 64),
            clipped(
                m.get("params")
                    .and_then(|p| p.get("name"))
                    .and_then(Value::as_str)
                    .unwrap_or("-"),
                64,
            ),
        ),
        Ok(Value::Array(_)) => ("batch".into(), "-".into()),
        _ => ("-".into(), "-".into()),
    }
}

/// A stable, non-reversible key for a caller's concurrency bucket.
fn bucket(key: &str) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static SEED: std::sync::OnceLock<std::collections::hash_map::RandomState> =
        std::sync::OnceLock::new();
    let mut h = SEED
        .get_or_init(std::collections::hash_map::RandomState::new)
        .build_hasher();
    h.write(key.as_bytes());
    h.finish()
}

async fn gate(
    State(gate): State<Arc<Gate>>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, gate.remote.options.max_body_bytes).await {
        Ok(b) => b,
        Err(_) => {
            let response = refusal(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request too large",
                &format!(
                    "the body is over {} bytes (MOLECULE_MCP_MAX_BODY_BYTES)",
                    gate.remote.options.max_body_bytes
                ),
            );
            access(&method, ("-", "-"), response.status(), started);
            return response;
        }
    };
    let (rpc, tool) = summary(&bytes);
    let respond = |response: Response| {
        access(&method, (&rpc, &tool), response.status(), started);
        response
    };
    let key = if gate.remote.sandbox || method != axum::http::Method::POST {
        None
    } else {
        match gate.remote.caller(&parts.headers, &gate.engine) {
            Ok(caller) => caller.org_api_key.map(|k| bucket(k.expose())),
            Err(Refusal::NoKey) => {
                return respond(refusal(
                    StatusCode::UNAUTHORIZED,
                    "missing credentials",
                    "Send Authorization: Bearer <Org API Key> and X-Molecule-Org-Id or \
                     X-Molecule-Org-Slug (and X-Molecule-CP-Token for list_orgs/get_org).",
                ));
            }
            Err(Refusal::BadHeader(name, rule)) => {
                return respond(refusal(
                    StatusCode::BAD_REQUEST,
                    "bad header",
                    &format!("{name}: {rule}"),
                ));
            }
        }
    };
    let Ok(_total) = gate.total.clone().try_acquire_owned() else {
        return respond(refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "too many requests in progress on this server (MOLECULE_MCP_MAX_CONCURRENT); retry",
        ));
    };
    let mine = key.map(|k| {
        let mut buckets = gate.per_caller.lock().unwrap_or_else(|e| e.into_inner());
        buckets
            .entry(k)
            .or_insert_with(|| Arc::new(Semaphore::new(gate.remote.options.max_per_caller)))
            .clone()
    });
    let _permit = match &mine {
        Some(semaphore) => match semaphore.clone().try_acquire_owned() {
            Ok(p) => Some(p),
            Err(_) => {
                return respond(refusal(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too many requests",
                    "too many requests in progress with this key (MOLECULE_MCP_MAX_PER_CALLER); retry",
                ));
            }
        },
        None => None,
    };
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    drop(_permit);
    if let (Some(k), Some(semaphore)) = (key, mine) {
        let mut buckets = gate.per_caller.lock().unwrap_or_else(|e| e.into_inner());
        // Forget an idle caller (the map and this handle are the only references).
        if Arc::strong_count(&semaphore) <= 2
            && semaphore.available_permits() == gate.remote.options.max_per_caller
        {
            buckets.remove(&k);
        }
    }
    respond(response)
}

/// One access-log line on stderr (target `molecule_mcp::access`, on by default in HTTP
/// mode): method, JSON-RPC method, tool, status, duration. Never a header value.
fn access(
    method: &axum::http::Method,
    (rpc, tool): (&str, &str),
    status: StatusCode,
    started: Instant,
) {
    tracing::info!(
        target: "molecule_mcp::access",
        "{method} /mcp rpc={rpc} tool={tool} status={} ms={:.1}",
        status.as_u16(),
        started.elapsed().as_secs_f64() * 1000.0
    );
}

/// Serves MCP over HTTP until SIGTERM or Ctrl-C; in-flight requests get
/// `shutdown_grace` to finish.
pub async fn serve(engine: Arc<Engine>, remote: Remote) -> anyhow::Result<()> {
    let remote = Arc::new(remote);
    let options = remote.options.clone();
    let stop = CancellationToken::new();
    let mut config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        .with_allowed_hosts(options.allowed_hosts.clone())
        .with_max_request_body_bytes(options.max_body_bytes)
        .with_cancellation_token(stop.child_token());
    config = config
        .with_allowed_origins(options.allowed_origins.clone())
        .enforce_origin_validation();
    // Built once; each request gets a clone (stateless: no state outlives a request).
    let prototype = McpServer::new(engine.clone()).remote(remote.clone());
    let mcp = StreamableHttpService::new(
        move || Ok(prototype.clone()),
        Arc::new(NeverSessionManager::default()),
        config,
    );
    let gate = Arc::new(Gate {
        remote: remote.clone(),
        engine: engine.clone(),
        total: Arc::new(Semaphore::new(options.max_concurrent)),
        per_caller: Mutex::new(HashMap::new()),
    });
    let app = axum::Router::new()
        .route_service("/mcp", mcp)
        .route_layer(axum::middleware::from_fn_with_state(gate, self::gate))
        .route("/healthz", axum::routing::get(|| async { "ok\n" }));
    let listener = tokio::net::TcpListener::bind(options.addr).await?;
    let local = listener.local_addr()?;
    let exposure = if local.ip().is_loopback() {
        "loopback only".to_string()
    } else {
        format!(
            "NOT loopback: reachable from the network; Host must be one of {}",
            options.allowed_hosts.join(", ")
        )
    };
    let tenant = match (&remote.sandbox, &options.tenant_template) {
        (true, _) => "the sandbox tenant, for every caller".to_string(),
        (false, Some(template)) => format!("{template}, {{slug}} from X-Molecule-Org-Slug"),
        (false, None) => engine.config().tenant_url.clone(),
    };
    let credentials = if remote.sandbox {
        "no caller credential needed (sandbox)"
    } else {
        "each caller sends its own Authorization: Bearer <Org API Key> and X-Molecule-Org-Id or -Slug"
    };
    eprintln!(
        "molecule-mcp: serving {} tools over MCP Streamable HTTP at http://{local}/mcp ({exposure}); \
         tenant: {tenant}; {credentials}",
        engine.listed().count(),
    );
    engine.warm_up();
    let (signalled_tx, signalled_rx) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        terminated().await;
        eprintln!("molecule-mcp: shutting down; in-flight requests may finish");
        let _ = signalled_tx.send(());
    };
    let server = axum::serve(listener, app).with_graceful_shutdown(shutdown);
    let bounded = async move {
        if signalled_rx.await.is_ok() {
            tokio::time::sleep(options.shutdown_grace).await;
            eprintln!("molecule-mcp: shutdown grace over; stopping the rest");
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        result = server => result?,
        () = bounded => {}
    }
    stop.cancel();
    Ok(())
}

async fn terminated() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_and_org_ids_are_checked_strictly() {
        assert!(valid_slug("acme") && valid_slug("a-1") && valid_slug("x"));
        for bad in [
            "",
            "-a",
            "a-",
            "A",
            "a.b",
            "a/b",
            "evil.com#",
            &"a".repeat(64),
        ] {
            assert!(!valid_slug(bad), "{bad}");
        }
        assert!(valid_org_id("11111111-1111-4111-8111-111111111111"));
        assert!(!valid_org_id("a b") && !valid_org_id("") && !valid_org_id("x\ny"));
    }

    #[test]
    fn a_bare_port_or_localhost_listens_on_loopback() {
        let loopback = SocketAddr::from(([127, 0, 0, 1], 8080));
        assert_eq!(listen_address("8080"), Some(loopback));
        assert_eq!(listen_address("localhost:8080"), Some(loopback));
        assert_eq!(
            listen_address("0.0.0.0:9"),
            Some(SocketAddr::from(([0, 0, 0, 0], 9)))
        );
        assert_eq!(listen_address("example.com:80"), None);
        assert_eq!(listen_address(""), None);
    }

    #[test]
    fn a_template_is_filled_only_with_a_valid_url() {
        assert_eq!(
            fill("https://{slug}.tenant.example.com/", "acme").as_deref(),
            Some("https://acme.tenant.example.com")
        );
        assert_eq!(fill("ftp://{slug}.x", "acme"), None);
        let refused = HttpOptions::from_lookup("127.0.0.1:0", |k| {
            (k == "MOLECULE_MCP_TENANT_URL_TEMPLATE").then(|| "https://example.com".to_string())
        });
        assert!(refused.is_err());
    }

    #[test]
    fn narrowing_comes_from_the_request_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(Remote::narrowing(&h), None);
        h.insert("x-mcp-readonly", HeaderValue::from_static("true"));
        h.insert(
            "x-mcp-toolsets",
            HeaderValue::from_static("Workspaces, audit"),
        );
        let s = Remote::narrowing(&h).unwrap();
        assert!(s.read_only);
        assert_eq!(
            s.toolsets.unwrap().into_iter().collect::<Vec<_>>(),
            vec!["audit".to_string(), "workspaces".to_string()]
        );
    }
}
