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
use crate::remote::{Refusal, Remote};
use crate::result::clipped;
use crate::server::McpServer;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

/// What the middleware shares.
struct Gate {
    remote: Arc<Remote>,
    engine: Arc<Engine>,
    total: Arc<Semaphore>,
    per_caller: Buckets,
}

/// Requests in progress per caller key: at most `limit` each, and no entry for a caller
/// with none in progress, so a stream of distinct keys cannot grow the map.
struct Buckets {
    limit: usize,
    map: Mutex<HashMap<u64, Arc<Semaphore>>>,
}

/// One request's place in its caller's bucket; on drop it is freed, and the bucket is
/// forgotten if no request holds or awaits it.
struct Slot<'a> {
    buckets: &'a Buckets,
    key: u64,
    semaphore: Arc<Semaphore>,
    permit: Option<OwnedSemaphorePermit>,
}

impl Buckets {
    fn new(limit: usize) -> Self {
        Buckets {
            limit,
            map: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Semaphore>>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A place for `key`, or `None` when its `limit` requests are already in progress
    /// (whoever holds them forgets the bucket when done).
    fn take(&self, key: u64) -> Option<Slot<'_>> {
        let semaphore = self
            .lock()
            .entry(key)
            .or_insert_with(|| Arc::new(Semaphore::new(self.limit)))
            .clone();
        let permit = semaphore.clone().try_acquire_owned().ok()?;
        Some(Slot {
            buckets: self,
            key,
            semaphore,
            permit: Some(permit),
        })
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.permit.take();
        let mut map = self.buckets.lock();
        // Idle: only the map and this slot hold the bucket (a request that found it
        // holds a third reference until it is done), and every permit is back.
        if Arc::strong_count(&self.semaphore) <= 2
            && self.semaphore.available_permits() == self.buckets.limit
        {
            map.remove(&self.key);
        }
    }
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
    let (mut parts, body) = request.into_parts();
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
    // Who calls is decided here, once per request, and handed to the MCP handler in the
    // request's extensions (src/server.rs reads it from there).
    let key = if gate.remote.sandbox {
        parts.extensions.insert(gate.engine.caller().clone());
        None
    } else if method != axum::http::Method::POST {
        None
    } else {
        match gate.remote.caller(&parts.headers, &gate.engine) {
            Ok(caller) => {
                let key = caller.org_api_key.as_ref().map(|k| bucket(k.expose()));
                parts.extensions.insert(std::sync::Arc::new(caller));
                key
            }
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
    let _slot = match key {
        Some(k) => match gate.per_caller.take(k) {
            Some(slot) => Some(slot),
            None => {
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
        per_caller: Buckets::new(options.max_per_caller),
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

    /// Each key has at most `limit` requests in progress, and a key with none in
    /// progress leaves nothing behind: ten thousand distinct keys (any bearer string
    /// makes one) do not grow the map.
    #[test]
    fn buckets_limit_each_key_and_forget_idle_ones() {
        let buckets = Buckets::new(2);
        for key in 0..10_000 {
            drop(buckets.take(key).unwrap());
        }
        assert_eq!(buckets.lock().len(), 0);
        let a = buckets.take(7).unwrap();
        let b = buckets.take(7).unwrap();
        assert!(buckets.take(7).is_none(), "a third at once is refused");
        assert!(buckets.take(8).is_some(), "another key is not held up");
        drop(a);
        assert_eq!(buckets.lock().len(), 1, "7 is still in progress");
        let c = buckets.take(7).unwrap();
        drop((b, c));
        assert_eq!(buckets.lock().len(), 0);
    }

    /// The access log's method and tool: a batch is named as one, anything unreadable
    /// is `-`, and a hostile method name is clipped.
    #[test]
    fn the_access_log_summarises_each_kind_of_body() {
        let of = |text: &str| summary(&Bytes::from(text.to_string()));
        let call =
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_workspace"}}"#;
        assert_eq!(of(call), ("tools/call".into(), "get_workspace".into()));
        assert_eq!(
            of(r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#),
            ("batch".into(), "-".into())
        );
        assert_eq!(of("not json"), ("-".into(), "-".into()));
        assert_eq!(of(r#"{"id":1}"#), ("-".into(), "-".into()));
        let (method, _) = of(&format!(r#"{{"method":"{}"}}"#, "m".repeat(5000)));
        assert!(method.len() < 100, "{method}");
    }
}
