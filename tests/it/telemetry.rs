//! Traces, metrics and readiness at the wire (docs/operations.md): the real binary,
//! a loopback OTLP/HTTP receiver decoding what it is sent, a recording tenant, and
//! `/metrics` read by a Prometheus text parser.

use crate::common::*;
use crate::http::{Server, call_message, http, post, slow_tenant};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";

type Resources = Arc<Mutex<Vec<HashMap<String, String>>>>;

/// A loopback OTLP/HTTP receiver: every span of every POST to `/v1/traces`, and the
/// resource attributes each export came with.
async fn receiver() -> (String, Arc<Mutex<Vec<Span>>>, Resources) {
    let spans = Arc::new(Mutex::new(Vec::new()));
    let resources: Resources = Arc::new(Mutex::new(Vec::new()));
    let (log, seen) = (spans.clone(), resources.clone());
    let tenant = RawTenant::start(move |request| {
        if request.method == "POST" && request.target == "/v1/traces" {
            let export = ExportTraceServiceRequest::decode(request.body.as_slice()).unwrap();
            for resource in export.resource_spans {
                if let Some(r) = &resource.resource {
                    seen.lock().unwrap().push(key_values(&r.attributes));
                }
                for scope in resource.scope_spans {
                    log.lock().unwrap().extend(scope.spans);
                }
            }
        }
        (200, Vec::new())
    })
    .await;
    (tenant.url.clone(), spans, resources)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn attributes(span: &Span) -> HashMap<String, String> {
    key_values(&span.attributes)
}

fn key_values(
    attributes: &[opentelemetry_proto::tonic::common::v1::KeyValue],
) -> HashMap<String, String> {
    attributes
        .iter()
        .map(|kv| {
            let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(Any::StringValue(s)) => s.clone(),
                Some(Any::IntValue(i)) => i.to_string(),
                other => format!("{other:?}"),
            };
            (kv.key.clone(), value)
        })
        .collect()
}

/// Waits until `spans` holds a span named `name`.
async fn span_named(spans: &Arc<Mutex<Vec<Span>>>, name: &str) -> Span {
    for _ in 0..100 {
        if let Some(span) = spans.lock().unwrap().iter().find(|s| s.name == name) {
            return span.clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let names: Vec<String> = spans
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.name.clone())
        .collect();
    panic!("no span {name:?} among {names:?}");
}

/// The caller's trace continues through the server to the tenant: a server span under
/// the caller's `traceparent` with the MCP attributes, a client span under it with the
/// HTTP client attributes and the route (not the filled path), and the tenant's request
/// carrying a `traceparent` of the same trace whose parent is the client span. No
/// credential or argument in any attribute.
#[tokio::test]
async fn a_call_over_http_is_traced_from_the_callers_traceparent_to_the_tenant() {
    let (otlp, spans, resources) = receiver().await;
    let tenant = RawTenant::start(|_| (200, br#"{"id":"w-1","name":"Researcher"}"#.to_vec())).await;
    let env = [
        ("MOLECULE_API_URL", tenant.url.as_str()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.as_str()),
        ("OTEL_SERVICE_NAME", "mcp-under-test"),
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "deployment.environment.name=test",
        ),
    ];
    let server = Server::start(&env, &[]).await;
    let traceparent = format!("00-{TRACE_ID}-{PARENT_ID}-01");
    let (status, _, reply) = post(
        &http(),
        &server.url,
        &[
            ("authorization", "Bearer sk-traced-key-0123456789"),
            ("x-molecule-org-id", "org-1"),
            ("traceparent", &traceparent),
            ("mcp-protocol-version", "2025-06-18"),
        ],
        call_message(
            7,
            "get_workspace",
            json!({"workspace_id": "w-secret-arg-1"}),
        ),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["result"]["isError"], false, "{reply}");
    // SIGTERM flushes the batch.
    let (exit, stderr) = server.stop().await;
    assert!(exit.success(), "{stderr}");
    let server_span = span_named(&spans, "tools/call get_workspace").await;
    let resource = resources.lock().unwrap()[0].clone();
    assert_eq!(resource["service.name"], "mcp-under-test", "{resource:?}");
    assert_eq!(
        resource["deployment.environment.name"], "test",
        "{resource:?}"
    );
    assert_eq!(hex(&server_span.trace_id), TRACE_ID);
    assert_eq!(hex(&server_span.parent_span_id), PARENT_ID);
    assert_eq!(server_span.kind, 2, "SPAN_KIND_SERVER");
    let a = attributes(&server_span);
    for (key, value) in [
        ("mcp.method.name", "tools/call"),
        ("gen_ai.tool.name", "get_workspace"),
        ("gen_ai.operation.name", "execute_tool"),
        ("jsonrpc.request.id", "7"),
        ("network.transport", "tcp"),
        ("mcp.protocol.version", "2025-06-18"),
    ] {
        assert_eq!(a.get(key).map(String::as_str), Some(value), "{key}: {a:?}");
    }
    assert!(!a.contains_key("error.type"), "{a:?}");
    let client_span = span_named(&spans, "GET /workspaces/{id}").await;
    assert_eq!(client_span.kind, 3, "SPAN_KIND_CLIENT");
    assert_eq!(client_span.trace_id, server_span.trace_id);
    assert_eq!(client_span.parent_span_id, server_span.span_id);
    let c = attributes(&client_span);
    for (key, value) in [
        ("http.request.method", "GET"),
        ("http.response.status_code", "200"),
        ("server.address", "127.0.0.1"),
        ("url.template", "/workspaces/{id}"),
    ] {
        assert_eq!(c.get(key).map(String::as_str), Some(value), "{key}: {c:?}");
    }
    let every = format!("{:?}", spans.lock().unwrap());
    assert!(!every.contains("sk-traced-key"), "a credential in a span");
    assert!(!every.contains("w-secret-arg-1"), "an argument in a span");
    let sent = tenant.taken();
    let upstream = sent
        .iter()
        .find_map(|r| {
            r.headers
                .iter()
                .find(|(k, _)| k == "traceparent")
                .map(|(_, v)| v.clone())
        })
        .expect("the tenant got a traceparent");
    assert_eq!(
        upstream,
        format!("00-{TRACE_ID}-{}-01", hex(&client_span.span_id))
    );
}

/// Over stdio the parent comes from `params._meta.traceparent`, and an error result
/// sets `error.type` to its code; each retried GET attempt is its own client span.
#[tokio::test]
async fn a_call_over_stdio_takes_its_parent_from_meta_and_marks_errors() {
    let (otlp, spans, resources) = receiver().await;
    let tenant = RawTenant::start(|_| (503, b"busy".to_vec())).await;
    let mut d = crate::driver::Driver::for_tenant(
        &tenant.url,
        &[(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            &format!("{otlp}/v1/traces"),
        )],
    )
    .await;
    d.send(
        json!({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{
        "name":"list_org_tokens","arguments":{},
        "_meta":{"traceparent": format!("00-{TRACE_ID}-{PARENT_ID}-01")}}}),
    )
    .await;
    let reply = d.response(3).await;
    assert_eq!(reply["result"]["isError"], true, "{reply}");
    d.finish().await;
    let server_span = span_named(&spans, "tools/call list_org_tokens").await;
    // No OTEL_SERVICE_NAME: the service is named for what it is.
    assert_eq!(resources.lock().unwrap()[0]["service.name"], "molecule-mcp");
    assert_eq!(hex(&server_span.trace_id), TRACE_ID);
    assert_eq!(hex(&server_span.parent_span_id), PARENT_ID);
    let a = attributes(&server_span);
    assert_eq!(a["network.transport"], "pipe");
    assert_eq!(a["error.type"], "HTTP 503");
    let attempts: Vec<Span> = spans
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.name == "GET /org/tokens")
        .cloned()
        .collect();
    assert_eq!(attempts.len(), 3, "one span per attempt (two retries)");
    for attempt in &attempts {
        assert_eq!(attempt.parent_span_id, server_span.span_id);
        assert_eq!(attributes(attempt)["http.response.status_code"], "503");
    }
}

/// With no OTLP endpoint nothing is traced: a caller's `traceparent` is not even
/// passed on to the tenant.
#[tokio::test]
async fn without_an_endpoint_nothing_is_traced_or_propagated() {
    let tenant = RawTenant::start(|_| (200, br#"{"tokens":[],"count":0}"#.to_vec())).await;
    let env = [("MOLECULE_API_URL", tenant.url.as_str())];
    let server = Server::start(&env, &[]).await;
    let (status, _, _) = post(
        &http(),
        &server.url,
        &[
            ("authorization", "Bearer sk-untraced"),
            ("x-molecule-org-id", "org-1"),
            ("traceparent", &format!("00-{TRACE_ID}-{PARENT_ID}-01")),
        ],
        call_message(1, "list_org_tokens", json!({})),
    )
    .await;
    assert_eq!(status, 200);
    let sent = tenant.taken();
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0].headers.iter().all(|(k, _)| k != "traceparent"),
        "{:?}",
        sent[0].headers
    );
    server.stop().await;
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One sample's value: a counter or gauge, or a histogram's total count.
fn sample(scrape: &prometheus_parse::Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => *v,
            prometheus_parse::Value::Histogram(buckets) => buckets
                .iter()
                .find(|b| b.less_than.is_infinite())
                .map_or(0.0, |b| b.count),
            prometheus_parse::Value::Summary(_) => 0.0,
        })
        .sum()
}

/// `/metrics`, on its own listener, parsed by a Prometheus text parser: the histograms
/// count exactly the calls made, per tool and per upstream status, and the rejection
/// counters exactly the refusals, by reason; the MCP port does not serve it.
#[tokio::test]
async fn metrics_count_exactly_the_calls_and_refusals_made() {
    let tenant = RawTenant::start(|request| {
        if request.target.starts_with("/workspaces/") {
            (404, br#"{"error":"workspace not found"}"#.to_vec())
        } else {
            (200, br#"{"tokens":[],"count":0}"#.to_vec())
        }
    })
    .await;
    let port = free_port();
    let metrics_addr = format!("127.0.0.1:{port}");
    let env = [("MOLECULE_API_URL", tenant.url.as_str())];
    let server = Server::start(&env, &["--metrics", &metrics_addr]).await;
    let client = http();
    let auth = [
        ("authorization", "Bearer sk-metrics"),
        ("x-molecule-org-id", "org-1"),
    ];
    for i in 0..3 {
        post(
            &client,
            &server.url,
            &auth,
            call_message(i, "list_org_tokens", json!({})),
        )
        .await;
    }
    let (_, _, reply) = post(
        &client,
        &server.url,
        &auth,
        call_message(9, "get_workspace", json!({"workspace_id": "nope"})),
    )
    .await;
    assert_eq!(reply["result"]["isError"], true);
    for _ in 0..2 {
        let (status, _, _) = post(
            &client,
            &server.url,
            &[],
            call_message(1, "list_org_tokens", json!({})),
        )
        .await;
        assert_eq!(status, 401);
    }
    let (status, _, _) = post(
        &client,
        &server.url,
        &[("authorization", "Bearer k"), ("x-mcp-readonly", "maybe")],
        call_message(1, "list_org_tokens", json!({})),
    )
    .await;
    assert_eq!(status, 400);
    let text = client
        .get(format!("http://{metrics_addr}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    let operation = "mcp_server_operation_duration_seconds";
    assert_eq!(
        sample(
            &scrape,
            operation,
            &[("gen_ai_tool_name", "list_org_tokens"), ("error_type", "")]
        ),
        3.0,
        "{text}"
    );
    assert_eq!(
        sample(
            &scrape,
            operation,
            &[
                ("gen_ai_tool_name", "get_workspace"),
                ("error_type", "HTTP 404")
            ]
        ),
        1.0,
        "{text}"
    );
    let client_metric = "http_client_request_duration_seconds";
    assert_eq!(
        sample(
            &scrape,
            client_metric,
            &[("http_response_status_code", "200")]
        ),
        3.0
    );
    assert_eq!(
        sample(
            &scrape,
            client_metric,
            &[
                ("http_response_status_code", "404"),
                ("http_request_method", "GET")
            ]
        ),
        1.0
    );
    let rejections = "molecule_mcp_http_rejections_total";
    assert_eq!(
        sample(&scrape, rejections, &[("reason", "unauthorized")]),
        2.0
    );
    assert_eq!(
        sample(&scrape, rejections, &[("reason", "bad_header")]),
        1.0
    );
    assert_eq!(sample(&scrape, "molecule_mcp_in_flight", &[]), 0.0);
    // Never on the public port.
    let public = client
        .get(server.url.replace("/mcp", "/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(public.status().as_u16(), 404);
    server.stop().await;
}

/// SIGTERM turns `/readyz` to 503 at once, while a slow call in progress still finishes
/// with 200; `/healthz` stays 200.
#[tokio::test]
async fn readiness_turns_503_on_sigterm_while_a_slow_call_finishes() {
    let tenant = slow_tenant(Duration::from_millis(2000)).await;
    let env = [("MOLECULE_API_URL", tenant.as_str())];
    let server = Server::start(&env, &[]).await;
    let client = http();
    let ready = server.url.replace("/mcp", "/readyz");
    let health = server.url.replace("/mcp", "/healthz");
    assert_eq!(
        client.get(&ready).send().await.unwrap().status().as_u16(),
        200
    );
    let (c, url) = (client.clone(), server.url.clone());
    let call = tokio::spawn(async move {
        post(
            &c,
            &url,
            &[
                ("authorization", "Bearer sk-drain"),
                ("x-molecule-org-id", "o"),
            ],
            call_message(1, "list_org_tokens", json!({})),
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    crate::http::signal(server.pid(), "TERM").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    // A fresh client: new connections are still accepted while draining.
    let fresh = http();
    let status = fresh.get(&ready).send().await.unwrap().status().as_u16();
    assert_eq!(status, 503, "draining");
    assert_eq!(
        fresh.get(&health).send().await.unwrap().status().as_u16(),
        200
    );
    let (status, _, reply): (u16, _, Value) = call.await.unwrap();
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["result"]["isError"], false, "{reply}");
    let (exit, stderr) = server.stop_after_signal().await;
    assert!(exit.success(), "{stderr}");
}
