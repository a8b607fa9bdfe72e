//! Traces and metrics (docs/operations.md).
//!
//! **Traces** follow the OpenTelemetry semantic conventions for MCP and for HTTP
//! clients: a server span per MCP request (`tools/call get_workspace`), a client span
//! per upstream attempt (retries are separate spans), the caller's W3C `traceparent`
//! (HTTP header or `params._meta.traceparent`) as the parent, and a `traceparent` of the
//! same trace on the upstream request. They are exported over OTLP (HTTP/protobuf) only
//! when `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set;
//! otherwise no provider and no propagator is installed, and every span is the API's
//! no-op. No credential, secret value or tool argument is ever an attribute.
//!
//! **Metrics** are Prometheus collectors ([`Metrics`]), served in text format at
//! `/metrics` on the separate `--metrics` listener in HTTP mode.

use opentelemetry::trace::{SpanKind, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue, global};
use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::Instant;

/// How the MCP messages travel (`network.transport`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// stdio.
    Pipe,
    /// Streamable HTTP.
    Tcp,
}

impl Transport {
    fn name(self) -> &'static str {
        match self {
            Transport::Pipe => "pipe",
            Transport::Tcp => "tcp",
        }
    }
}

/// The installed trace pipeline; [`Tracing::shutdown`] flushes it.
#[derive(Debug)]
pub struct Tracing(opentelemetry_sdk::trace::SdkTracerProvider);

/// Installs OTLP/HTTP trace export when the standard endpoint variables ask for it
/// (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES` and the exporter's own
/// `OTEL_EXPORTER_OTLP_*` settings are honoured by the SDK); `None`, and nothing
/// installed, when they do not. Must run inside the Tokio runtime whose handle the
/// exporter sends with.
pub fn init_traces(
    lookup: impl Fn(&str) -> Option<String>,
    client: reqwest::Client,
) -> anyhow::Result<Option<Tracing>> {
    use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
    let set = |k: &str| lookup(k).is_some_and(|v| !v.trim().is_empty());
    if !set("OTEL_EXPORTER_OTLP_ENDPOINT") && !set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
        return Ok(None);
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_http_client(Exporter {
            client,
            runtime: tokio::runtime::Handle::current(),
        })
        .build()?;
    let mut resource = opentelemetry_sdk::Resource::builder();
    let named = set("OTEL_SERVICE_NAME")
        || lookup("OTEL_RESOURCE_ATTRIBUTES").is_some_and(|v| v.contains("service.name="));
    if !named {
        resource = resource.with_service_name("molecule-mcp");
    }
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            resource
                .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
                .build(),
        )
        .build();
    global::set_tracer_provider(provider.clone());
    global::set_text_map_propagator(opentelemetry_sdk::propagation::TraceContextPropagator::new());
    Ok(Some(Tracing(provider)))
}

impl Tracing {
    /// Exports what is buffered and stops the pipeline (blocking: call it off the
    /// runtime's worker threads, e.g. in `spawn_blocking`).
    pub fn shutdown(self) {
        if let Err(e) = self.0.shutdown() {
            tracing::warn!("trace export did not shut down cleanly: {e}");
        }
    }
}

/// The OTLP exporter's HTTP client: this crate's own reqwest client (one TLS stack),
/// each request run on the Tokio runtime, since the SDK's batch processor calls the
/// exporter from a thread of its own.
#[derive(Debug)]
struct Exporter {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for Exporter {
    async fn send_bytes(
        &self,
        request: opentelemetry_http::Request<opentelemetry_http::Bytes>,
    ) -> Result<
        opentelemetry_http::Response<opentelemetry_http::Bytes>,
        opentelemetry_http::HttpError,
    > {
        let request = reqwest::Request::try_from(request)?;
        let client = self.client.clone();
        let response = self
            .runtime
            .spawn(async move {
                let response = client.execute(request).await?;
                let status = response.status();
                let headers = response.headers().clone();
                let body = response.bytes().await?;
                Ok::<_, reqwest::Error>((status, headers, body))
            })
            .await??;
        let (status, headers, body) = response;
        let mut out = opentelemetry_http::Response::new(body);
        *out.status_mut() = status;
        *out.headers_mut() = headers;
        Ok(out)
    }
}

/// The caller's trace context: `traceparent` (and `tracestate`) from the HTTP headers,
/// else from `params._meta`. The empty context when tracing is off or none came.
pub fn parent(
    headers: Option<&axum::http::HeaderMap>,
    meta: Option<&serde_json::Map<String, serde_json::Value>>,
) -> Context {
    let mut carrier: HashMap<String, String> = HashMap::new();
    for name in ["traceparent", "tracestate"] {
        let from_header = headers
            .and_then(|h| h.get(name))
            .and_then(|v| v.to_str().ok());
        let from_meta = meta.and_then(|m| m.get(name)).and_then(|v| v.as_str());
        if let Some(value) = from_header.or(from_meta) {
            carrier.insert(name.to_string(), value.to_string());
        }
    }
    if carrier.is_empty() {
        return Context::new();
    }
    global::get_text_map_propagator(|p| p.extract(&carrier))
}

/// Puts the current trace context on an upstream request (`traceparent`), so the
/// tenant's spans join the caller's trace. Nothing when tracing is off.
pub fn inject(headers: &mut reqwest::header::HeaderMap) {
    let context = Context::current();
    global::get_text_map_propagator(|p| {
        p.inject_context(&context, &mut opentelemetry_http::HeaderInjector(headers));
    });
}

/// One MCP request as a server span, and its duration as a metric.
pub struct Operation {
    context: Context,
    method: &'static str,
    tool: String,
    started: Instant,
}

impl Operation {
    /// Starts the span `{method} {tool}` under `parent`. `id` is the JSON-RPC id as the
    /// client sent it (already redacted and clipped by the caller of this function).
    pub fn start(
        parent: &Context,
        method: &'static str,
        tool: Option<&str>,
        id: &str,
        protocol: Option<&str>,
        transport: Transport,
    ) -> Operation {
        let tracer = global::tracer("molecule-mcp");
        let name = match tool {
            Some(tool) => format!("{method} {tool}"),
            None => method.to_string(),
        };
        let mut attributes = vec![
            KeyValue::new("mcp.method.name", method),
            KeyValue::new("jsonrpc.request.id", id.to_string()),
            KeyValue::new("network.transport", transport.name()),
        ];
        if let Some(tool) = tool {
            attributes.push(KeyValue::new("gen_ai.tool.name", tool.to_string()));
            attributes.push(KeyValue::new("gen_ai.operation.name", "execute_tool"));
        }
        if let Some(protocol) = protocol {
            attributes.push(KeyValue::new("mcp.protocol.version", protocol.to_string()));
        }
        let span = tracer
            .span_builder(name)
            .with_kind(SpanKind::Server)
            .with_attributes(attributes)
            .start_with_context(&tracer, parent);
        Operation {
            context: parent.with_span(span),
            method,
            tool: tool.unwrap_or("").to_string(),
            started: Instant::now(),
        }
    }

    /// The context the request's work runs in (upstream spans become children).
    pub fn context(&self) -> Context {
        self.context.clone()
    }

    /// Ends the span, with `error.type` when the result is an error, and records the
    /// duration.
    pub fn end(self, error: Option<&str>) {
        let span = self.context.span();
        if let Some(error) = error {
            span.set_attribute(KeyValue::new("error.type", error.to_string()));
            span.set_status(opentelemetry::trace::Status::error(error.to_string()));
        }
        span.end();
        if let Some(m) = metrics() {
            m.operation
                .with_label_values(&[self.method, &self.tool, error.unwrap_or("")])
                .observe(self.started.elapsed().as_secs_f64());
        }
    }
}

/// One upstream attempt as a client span, and its duration as a metric.
pub struct Attempt {
    context: Context,
    method: String,
    host: String,
    started: Instant,
}

impl Attempt {
    /// Starts the span `{method} {route}` under the current context; the attempt's
    /// future must run with [`Attempt::context`] attached so [`inject`] sees it.
    pub fn start(method: &str, route: &'static str, base_url: &str) -> Attempt {
        let tracer = global::tracer("molecule-mcp");
        let url = reqwest::Url::parse(base_url).ok();
        let host = url
            .as_ref()
            .and_then(|u| u.host_str())
            .unwrap_or("")
            .to_string();
        let mut attributes = vec![
            KeyValue::new("http.request.method", method.to_string()),
            KeyValue::new("server.address", host.clone()),
            KeyValue::new("url.template", route),
        ];
        if let Some(port) = url.as_ref().and_then(|u| u.port_or_known_default()) {
            attributes.push(KeyValue::new("server.port", i64::from(port)));
        }
        let parent = Context::current();
        let span = tracer
            .span_builder(format!("{method} {route}"))
            .with_kind(SpanKind::Client)
            .with_attributes(attributes)
            .start_with_context(&tracer, &parent);
        Attempt {
            context: parent.with_span(span),
            method: method.to_string(),
            host,
            started: Instant::now(),
        }
    }

    /// The context the attempt runs in.
    pub fn context(&self) -> Context {
        self.context.clone()
    }

    /// Ends the span with the response's status, or `error` (`timeout`,
    /// `connection`) when there was none.
    pub fn end(self, status: Option<u16>, error: Option<&str>) {
        let span = self.context.span();
        if let Some(status) = status {
            span.set_attribute(KeyValue::new(
                "http.response.status_code",
                i64::from(status),
            ));
        }
        let error = error
            .map(str::to_string)
            .or_else(|| status.filter(|s| *s >= 400).map(|s| s.to_string()));
        if let Some(error) = &error {
            span.set_attribute(KeyValue::new("error.type", error.clone()));
            span.set_status(opentelemetry::trace::Status::error(error.clone()));
        }
        span.end();
        let status = status.map_or(String::new(), |s| s.to_string());
        if let Some(m) = metrics() {
            m.client
                .with_label_values(&[&self.method, &status, &self.host])
                .observe(self.started.elapsed().as_secs_f64());
        }
    }
}

/// The Prometheus collectors, named as the OpenTelemetry conventions name them in
/// Prometheus form (docs/operations.md).
pub struct Metrics {
    registry: prometheus::Registry,
    operation: prometheus::HistogramVec,
    client: prometheus::HistogramVec,
    /// Requests refused before the MCP library saw them, by reason.
    pub rejections: prometheus::IntCounterVec,
    /// Requests in progress on `/mcp`.
    pub in_flight: prometheus::IntGauge,
}

/// Buckets for durations, in seconds: 1 ms to 30 s.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The process's collectors, registered on first use; `None` only if a definition
/// below were invalid (a unit test renders them, so it would not pass).
static METRICS: LazyLock<Option<Metrics>> = LazyLock::new(|| Metrics::new().ok());

/// Whether anything reads the metrics (the `--metrics` listener is up): until then
/// nothing is recorded, so stdio and an HTTP server without `--metrics` pay nothing.
static ENABLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Starts recording metrics (when the `--metrics` listener starts).
pub fn enable_metrics() {
    ENABLED.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// The collectors, when metrics are recorded.
fn metrics() -> Option<&'static Metrics> {
    if ENABLED.load(std::sync::atomic::Ordering::Relaxed) {
        METRICS.as_ref()
    } else {
        None
    }
}

impl Metrics {
    fn new() -> prometheus::Result<Metrics> {
        let registry = prometheus::Registry::new();
        let histogram = |name: &str, help: &str, labels: &[&str]| {
            let opts = prometheus::HistogramOpts::new(name, help).buckets(BUCKETS.to_vec());
            let h = prometheus::HistogramVec::new(opts, labels)?;
            registry.register(Box::new(h.clone()))?;
            Ok::<_, prometheus::Error>(h)
        };
        let operation = histogram(
            "mcp_server_operation_duration_seconds",
            "Duration of MCP requests handled by this server.",
            &["mcp_method_name", "gen_ai_tool_name", "error_type"],
        )?;
        let client = histogram(
            "http_client_request_duration_seconds",
            "Duration of HTTP requests to the tenant and the control plane, per attempt.",
            &[
                "http_request_method",
                "http_response_status_code",
                "server_address",
            ],
        )?;
        let rejections = prometheus::IntCounterVec::new(
            prometheus::Opts::new(
                "molecule_mcp_http_rejections_total",
                "HTTP requests refused before the MCP library saw them, by reason.",
            ),
            &["reason"],
        )?;
        registry.register(Box::new(rejections.clone()))?;
        let in_flight = prometheus::IntGauge::new(
            "molecule_mcp_in_flight",
            "MCP requests in progress over HTTP.",
        )?;
        registry.register(Box::new(in_flight.clone()))?;
        Ok(Metrics {
            registry,
            operation,
            client,
            rejections,
            in_flight,
        })
    }

    /// Everything, in the Prometheus text format.
    pub fn render(&self) -> String {
        use prometheus::Encoder;
        let mut out = Vec::new();
        let _ = prometheus::TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// Counts one request refused before the MCP library saw it.
pub fn rejected(reason: &str) {
    if let Some(m) = metrics() {
        m.rejections.with_label_values(&[reason]).inc();
    }
}

/// While it lives, one request is in progress on `/mcp`.
#[derive(Debug)]
pub struct InProgress(());

impl InProgress {
    /// Counts a request in progress until the guard drops.
    pub fn start() -> InProgress {
        if let Some(m) = metrics() {
            m.in_flight.inc();
        }
        InProgress(())
    }
}

impl Drop for InProgress {
    fn drop(&mut self) {
        if let Some(m) = metrics() {
            m.in_flight.dec();
        }
    }
}

/// The metrics in the Prometheus text format.
pub fn render() -> String {
    metrics().map(Metrics::render).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_collector_is_defined_and_renders() {
        let metrics = Metrics::new().unwrap();
        metrics.in_flight.set(2);
        metrics
            .rejections
            .with_label_values(&["unauthorized"])
            .inc();
        metrics
            .operation
            .with_label_values(&["tools/call", "get_workspace", ""])
            .observe(0.002);
        let text = metrics.render();
        for name in [
            "mcp_server_operation_duration_seconds_bucket",
            "molecule_mcp_http_rejections_total{reason=\"unauthorized\"} 1",
            "molecule_mcp_in_flight 2",
        ] {
            assert!(text.contains(name), "{name}: {text}");
        }
    }
}
