//! Remote MCP: a stateless Streamable HTTP server at `/mcp` (docs/remote.md), on
//! rmcp's streamable-HTTP transport. Each request carries its caller's own credentials
//! (`Authorization: Bearer <Org API Key>`, `X-Molecule-Org-Id` / `X-Molecule-Org-Slug`,
//! `X-Molecule-CP-Token`), held for that request alone; the environment's credentials
//! are never used for an HTTP caller. No per-session state: any replica answers any
//! request.
//!
//! In front of rmcp, in this order, each refusal costing less than what it protects:
//! connection discipline (`conn.rs`: header and idle timeouts, a cap on connections);
//! header hygiene for every route (`front`: one `Host`, one `Origin`, no absolute-form
//! target naming another host); then, for `/mcp`, `admission`: credentials and
//! narrowing from the headers alone (401, 400), a slot in total (503) and per caller
//! (429), and only then the body, bounded in size (413), in time (408) and in JSON
//! values (`body.rs`, 413); one access-log line per request — never a credential.
//!
//! Admission is one middleware rather than tower-http layers because the order is the
//! point: `RequestBodyLimitLayer` would answer an oversized body 413 before the
//! credential check's 401, and with its own body; `ConcurrencyLimitLayer` waits where
//! this server answers 503 with `Retry-After` after the headers are checked, and the
//! shutdown drain reads the count of requests in progress; `TraceLayer`'s response
//! hook gets the response, the latency and a span, so the HTTP method would reach the
//! access line only as a span field, printed as a prefix, not in the line's fixed form
//! (tests/it/exposed.rs pins it). The pieces those layers are built on are used
//! directly: http-body-util's length limit (through `axum::body::to_bytes`) and
//! tokio's semaphore.

mod body;
mod conn;

use crate::call::Engine;
use crate::limit::{Buckets, Slot, key_hash};
use crate::logging;
use crate::redact::Redactor;
use crate::remote::{Narrowing, Raised, Refusal, Remote};
use crate::server::McpServer;
use crate::telemetry;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// What the middleware shares.
struct Admission {
    remote: Arc<Remote>,
    engine: Arc<Engine>,
    total: Arc<Semaphore>,
    per_caller: Buckets,
    /// False from the moment SIGTERM arrives: `/readyz` answers 503 so a load balancer
    /// drains this replica while its requests in progress finish.
    ready: AtomicBool,
}

impl Admission {
    /// Requests in progress on `/mcp`.
    fn in_progress(&self) -> usize {
        self.remote
            .options
            .max_concurrent
            .saturating_sub(self.total.available_permits())
    }
}

/// Why a request was refused before rmcp saw it.
#[derive(Debug)]
enum Rejected {
    /// No usable `Authorization: Bearer`.
    NoKey,
    /// A header of the wrong form, or sent twice.
    BadHeader(&'static str, String),
    /// `MOLECULE_MCP_MAX_CONCURRENT` requests in progress.
    Busy,
    /// `MOLECULE_MCP_MAX_PER_CALLER` requests in progress with this key.
    TooManyForKey,
    /// The body is over `MOLECULE_MCP_MAX_BODY_BYTES`.
    TooLarge(usize),
    /// The body holds too many JSON values to parse within the memory bound.
    TooManyValues(usize),
    /// The body did not arrive within `MOLECULE_MCP_BODY_TIMEOUT_SECS`.
    BodyTimeout(Duration),
    /// The connection failed while the body was read.
    BodyUnreadable,
    /// The JSON-RPC method is longer than any MCP method.
    MethodTooLong,
}

impl From<Refusal> for Rejected {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::NoKey => Rejected::NoKey,
            Refusal::BadHeader(name, rule) => Rejected::BadHeader(name, rule),
        }
    }
}

/// What a 401 tells a client, in its body: the headers to send, the control plane's
/// token for the tools the table routes there.
fn send_credentials() -> String {
    format!(
        "Send Authorization: Bearer <Org API Key> and X-Molecule-Org-Id or X-Molecule-Org-Slug \
         (and X-Molecule-CP-Token for {})",
        crate::tools::control_plane_tools().join("/")
    )
}

impl Rejected {
    /// The `reason` label of `molecule_mcp_http_rejections_total` (docs/operations.md).
    fn reason(&self) -> &'static str {
        match self {
            Rejected::NoKey => "unauthorized",
            Rejected::BadHeader(..) => "bad_header",
            Rejected::Busy => "busy",
            Rejected::TooManyForKey => "too_many_for_key",
            Rejected::TooLarge(_) => "too_large",
            Rejected::TooManyValues(_) => "too_many_values",
            Rejected::BodyTimeout(_) => "body_timeout",
            Rejected::BodyUnreadable | Rejected::MethodTooLong => "bad_body",
        }
    }

    fn response(&self) -> Response {
        telemetry::rejected(self.reason());
        let (status, error, detail) = match self {
            Rejected::NoKey => (
                StatusCode::UNAUTHORIZED,
                "missing credentials",
                format!(
                    "{}. This server takes no OAuth: configure the client to send these headers.",
                    send_credentials()
                ),
            ),
            Rejected::BadHeader(name, rule) => (
                StatusCode::BAD_REQUEST,
                "bad header",
                format!("{name}: {rule}"),
            ),
            Rejected::Busy => (
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "too many requests in progress on this server (MOLECULE_MCP_MAX_CONCURRENT); retry"
                    .into(),
            ),
            Rejected::TooManyForKey => (
                StatusCode::TOO_MANY_REQUESTS,
                "too many requests",
                "too many requests in progress with this key (MOLECULE_MCP_MAX_PER_CALLER); retry"
                    .into(),
            ),
            Rejected::TooLarge(max) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "request too large",
                format!("the body is over {max} bytes (MOLECULE_MCP_MAX_BODY_BYTES)"),
            ),
            Rejected::TooManyValues(limit) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "request too large",
                format!(
                    "the body holds more than {limit} JSON values (one per {} bytes of \
                     MOLECULE_MCP_MAX_BODY_BYTES)",
                    body::BYTES_PER_VALUE
                ),
            ),
            Rejected::BodyTimeout(timeout) => (
                StatusCode::REQUEST_TIMEOUT,
                "request timeout",
                format!(
                    "the body did not arrive within {} s (MOLECULE_MCP_BODY_TIMEOUT_SECS)",
                    timeout.as_secs()
                ),
            ),
            Rejected::BodyUnreadable => (
                StatusCode::BAD_REQUEST,
                "bad request",
                "the body could not be read".into(),
            ),
            Rejected::MethodTooLong => (
                StatusCode::BAD_REQUEST,
                "bad request",
                format!(
                    "the JSON-RPC method is longer than {} bytes; no MCP method is",
                    body::MAX_METHOD_BYTES
                ),
            ),
        };
        let mut response = (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            json!({ "error": error, "detail": detail }).to_string(),
        )
            .into_response();
        let headers = response.headers_mut();
        match self {
            Rejected::NoKey => {
                // RFC 6750 §3: the scheme, and what to send, for clients that show it.
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(concat!(
                        "Bearer realm=\"molecule-mcp\", error=\"invalid_request\", ",
                        "error_description=\"Send Authorization: Bearer <Org API Key> and ",
                        "X-Molecule-Org-Id or X-Molecule-Org-Slug\""
                    )),
                );
            }
            Rejected::Busy | Rejected::TooManyForKey => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            Rejected::BodyTimeout(_) | Rejected::BodyUnreadable => {
                headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            _ => {}
        }
        response
    }
}

/// Header hygiene for every route, before anything else reads a header: `Host` and
/// `Origin` at most once (RFC 9112 §3.2 requires a 400 for more than one `Host`; with
/// two, which one a proxy and this server each check would be a guess), and an
/// absolute-form request target only for the host `Host` names. It also writes the
/// access-log line of every `/mcp` request, refused here or not.
async fn front(request: Request, next: axum::middleware::Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let logged = request.uri().path() == "/mcp";
    let response = match hygiene(request.headers(), request.uri()) {
        Err(refused) => refused.response(),
        Ok(()) => next.run(request).await,
    };
    // rmcp's own refusals: an Origin or Host that is not allowed.
    if logged && response.status() == StatusCode::FORBIDDEN {
        telemetry::rejected("forbidden");
    }
    if logged {
        let summary = response.extensions().get::<body::Summary>();
        let dash = "-";
        // The fields come from the body, redacted by admission; the log writer escapes
        // and clips them (src/logging.rs).
        tracing::info!(
            target: "molecule_mcp::access",
            "{method} /mcp rpc={} tool={} status={} ms={:.1}",
            summary.map_or(dash, |s| s.method.as_str()),
            summary.map_or(dash, |s| s.tool.as_str()),
            response.status().as_u16(),
            started.elapsed().as_secs_f64() * 1000.0
        );
    }
    response
}

fn hygiene(headers: &axum::http::HeaderMap, uri: &axum::http::Uri) -> Result<(), Rejected> {
    for (name, shown) in [(header::HOST, "Host"), (header::ORIGIN, "Origin")] {
        if headers.get_all(&name).iter().nth(1).is_some() {
            return Err(Rejected::BadHeader(shown, "sent more than once".into()));
        }
    }
    if let Some(authority) = uri.authority() {
        let same = headers.get(header::HOST).is_some_and(|h| {
            h.as_bytes()
                .eq_ignore_ascii_case(authority.as_str().as_bytes())
        });
        if !same {
            return Err(Rejected::BadHeader(
                "Host",
                "the request target names another host than Host".into(),
            ));
        }
    }
    Ok(())
}

/// Admission to `/mcp`: who calls, and room for the request, from the headers alone;
/// then the body, bounded; then rmcp. The body's summary goes back to [`front`] in the
/// response's extensions, redacted with the caller's secrets.
async fn admission(
    State(admission): State<Arc<Admission>>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    match admit(&admission, &mut parts, body).await {
        Ok((bytes, summary, guards)) => {
            let mut response = next
                .run(Request::from_parts(parts, Body::from(bytes)))
                .await;
            response.extensions_mut().insert(summary);
            drop(guards);
            response
        }
        Err(refused) => refused.response(),
    }
}

/// What an admitted request holds until rmcp has answered: its slots, and its caller's
/// secrets for the log writer to redact from the MCP library's own lines.
struct Guards<'g> {
    _in_flight: telemetry::InProgress,
    _total: tokio::sync::OwnedSemaphorePermit,
    _per_caller: Option<Slot<'g>>,
    _secrets: logging::Held,
}

/// Everything admission checks, cheapest first; the body's bytes, their summary and the
/// request's guards when it may go on.
async fn admit<'g>(
    admission: &'g Admission,
    parts: &mut axum::http::request::Parts,
    body: Body,
) -> Result<(Bytes, body::Summary, Guards<'g>), Rejected> {
    let options = &admission.remote.options;
    // Who calls is decided here, once per request, and handed to the MCP handler in the
    // request's extensions (src/server.rs reads it from there).
    let caller = if admission.remote.sandbox {
        Some(admission.engine.caller().clone())
    } else if parts.method == Method::POST {
        Some(Arc::new(
            admission.remote.caller(&parts.headers, &admission.engine)?,
        ))
    } else {
        None
    };
    let narrowing = Remote::narrowing(&parts.headers)?;
    let raised = Raised::from_headers(&parts.headers)?;
    let total = admission
        .total
        .clone()
        .try_acquire_owned()
        .map_err(|_| Rejected::Busy)?;
    let in_flight = telemetry::InProgress::start();
    let key = caller
        .as_ref()
        .filter(|_| !admission.remote.sandbox)
        .and_then(|c| c.org_api_key.as_ref())
        .map(|k| key_hash(k.expose()));
    let per_caller = match key {
        Some(key) => Some(
            admission
                .per_caller
                .try_take(key)
                .ok_or(Rejected::TooManyForKey)?,
        ),
        None => None,
    };
    let redactor = Redactor::new(caller.iter().flat_map(|c| c.secrets()));
    let secrets = logging::hold_redactor(&redactor);
    let bytes = tokio::time::timeout(
        options.body_timeout,
        axum::body::to_bytes(body, options.max_body_bytes),
    )
    .await
    .map_err(|_| Rejected::BodyTimeout(options.body_timeout))?
    .map_err(|e| {
        let over = std::error::Error::source(&e)
            .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
        if over {
            Rejected::TooLarge(options.max_body_bytes)
        } else {
            Rejected::BodyUnreadable
        }
    })?;
    let limit = options.max_body_bytes / body::BYTES_PER_VALUE;
    let mut summary = body::scan(&bytes, limit).map_err(|e| Rejected::TooManyValues(e.limit))?;
    if summary.method_bytes > body::MAX_METHOD_BYTES {
        return Err(Rejected::MethodTooLong);
    }
    redactor.text(&mut summary.method);
    redactor.text(&mut summary.tool);
    if let Some(caller) = caller {
        parts.extensions.insert(caller);
    }
    parts.extensions.insert(Narrowing(narrowing));
    parts.extensions.insert(raised);
    Ok((
        bytes,
        summary,
        Guards {
            _in_flight: in_flight,
            _total: total,
            _per_caller: per_caller,
            _secrets: secrets,
        },
    ))
}

/// Serves MCP over HTTP until SIGTERM or Ctrl-C. Then `/readyz` answers 503 while the
/// requests in progress finish (new ones are still served, for the load balancer's
/// stragglers), for at most `shutdown_grace`; then the process stops.
pub async fn serve(engine: Arc<Engine>, remote: Remote) -> anyhow::Result<()> {
    let remote = Arc::new(remote);
    let options = remote.options.clone();
    if options.metrics.is_some() {
        // Recorded from the first request on; without a listener, never.
        telemetry::enable_metrics();
    }
    let stop = CancellationToken::new();
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        .with_allowed_hosts(options.allowed_hosts.clone())
        .with_max_request_body_bytes(options.max_body_bytes)
        .with_cancellation_token(stop.child_token())
        .with_allowed_origins(options.allowed_origins.clone())
        .enforce_origin_validation();
    // Built once; each request gets a clone (stateless: no state outlives a request).
    let prototype = McpServer::new(engine.clone()).remote(remote.clone());
    let mcp = StreamableHttpService::new(
        move || Ok(prototype.clone()),
        Arc::new(NeverSessionManager::default()),
        config,
    );
    let admission = Arc::new(Admission {
        remote: remote.clone(),
        engine: engine.clone(),
        total: Arc::new(Semaphore::new(options.max_concurrent)),
        per_caller: Buckets::new(options.max_per_caller),
        ready: AtomicBool::new(true),
    });
    let readiness = admission.clone();
    let app = axum::Router::new()
        .route_service("/mcp", mcp)
        .route_layer(axum::middleware::from_fn_with_state(
            admission.clone(),
            self::admission,
        ))
        .route("/healthz", axum::routing::get(|| async { "ok\n" }))
        .route(
            "/readyz",
            axum::routing::get(move || async move {
                if readiness.ready.load(Ordering::Acquire) {
                    (StatusCode::OK, "ready\n")
                } else {
                    (StatusCode::SERVICE_UNAVAILABLE, "draining\n")
                }
            }),
        )
        .layer(axum::middleware::from_fn(front));
    let listener = tokio::net::TcpListener::bind(options.addr).await?;
    let local = listener.local_addr()?;
    eprintln!("{}", banner(&engine, &remote, local));
    engine.warm_up();
    let connections = conn::Connections::new(options.max_connections);
    let draining = CancellationToken::new();
    let accepting = CancellationToken::new();
    let acceptor = tokio::spawn(conn::accept(
        listener,
        connections.clone(),
        app,
        conn::Settings {
            header_timeout: options.header_timeout,
        },
        draining.clone(),
        accepting.clone(),
    ));
    let metrics = match options.metrics {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr).await?;
            eprintln!(
                "molecule-mcp: metrics at http://{}/metrics (Prometheus text format)",
                listener.local_addr()?
            );
            let router = axum::Router::new().route(
                "/metrics",
                axum::routing::get(|| async {
                    (
                        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                        telemetry::render(),
                    )
                }),
            );
            // The same connection discipline as the MCP port, with a small cap: only
            // a scraper comes here.
            Some(tokio::spawn(conn::accept(
                listener,
                conn::Connections::new(16),
                router,
                conn::Settings {
                    header_timeout: options.header_timeout,
                },
                draining.clone(),
                accepting.clone(),
            )))
        }
        None => None,
    };
    terminated().await;
    admission.ready.store(false, Ordering::Release);
    eprintln!("molecule-mcp: shutting down; /readyz answers 503, in-flight requests may finish");
    let deadline = Instant::now() + options.shutdown_grace;
    while admission.in_progress() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    if admission.in_progress() > 0 {
        eprintln!("molecule-mcp: shutdown grace over; stopping the rest");
    }
    accepting.cancel();
    draining.cancel();
    let _ = acceptor.await;
    if let Some(metrics) = metrics {
        let _ = metrics.await;
    }
    stop.cancel();
    Ok(())
}

/// The start-up line: the address, whether it is loopback only, the tenant routing and
/// the credential rule.
fn banner(engine: &Engine, remote: &Remote, local: std::net::SocketAddr) -> String {
    let options = &remote.options;
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
        (false, None) if engine.config().tenant_url == crate::config::DEFAULT_TENANT_URL => {
            format!(
                "{} (the default; set MOLECULE_API_URL)",
                engine.config().tenant_url
            )
        }
        (false, None) => engine.config().tenant_url.clone(),
    };
    let credentials = if remote.sandbox {
        "no caller credential needed (sandbox)"
    } else {
        "each caller sends its own Authorization: Bearer <Org API Key> and X-Molecule-Org-Id or -Slug"
    };
    format!(
        "molecule-mcp: serving {} tools over MCP Streamable HTTP at http://{local}/mcp ({exposure}); \
         tenant: {tenant}; {credentials}",
        engine.listed().count(),
    )
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
