//! Call-path behaviour pinned where mutation testing (TESTING.md) found the suite blind:
//! the retry schedule, dot segments that reach a path without passing the schema, an
//! explicit `null` for a parameter, and the cause of an unreachable host.

use crate::common::*;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A tenant answering every request with `status`, recording when each one arrived.
async fn timed_tenant(status: u16) -> (RawTenant, Arc<Mutex<Vec<Instant>>>) {
    let times = Arc::new(Mutex::new(Vec::new()));
    let log = times.clone();
    let tenant = RawTenant::start(move |_| {
        log.lock().unwrap().push(Instant::now());
        (status, br#"{"error":"unavailable"}"#.to_vec())
    })
    .await;
    (tenant, times)
}

/// The backoff of a GET answered 503 without `Retry-After`: 250 ms × 2^(attempt-1)
/// plus up to 250 ms of jitter (call.rs `retry_delay`), two retries (the default).
/// The lower bounds are exact (a timer never fires early); the upper ones leave room
/// for a loaded machine yet exclude the next step of the ladder. The whole call must
/// end within seconds, or the retries never stop.
#[tokio::test]
async fn gets_back_off_exponentially_with_jitter_and_stop_after_two_retries() {
    let (tenant, times) = timed_tenant(503).await;
    let engine = engine(full_config(&tenant.url));
    let result = tokio::time::timeout(
        Duration::from_secs(8),
        call(&engine, "list_workspaces", json!({})),
    )
    .await
    .expect("the retries stop within seconds");
    let envelope = result.unwrap_err().envelope();
    assert_eq!(envelope["status"], 503);
    assert_eq!(envelope["attempts"], 3);
    let times = times.lock().unwrap().clone();
    assert_eq!(times.len(), 3, "one attempt and two retries");
    let gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
    let ms = |n| Duration::from_millis(n);
    assert!(
        gaps[0] >= ms(250) && gaps[0] < ms(1000),
        "first wait 250-500 ms: {gaps:?}"
    );
    assert!(
        gaps[1] >= ms(500) && gaps[1] < ms(1000),
        "second wait 500-750 ms: {gaps:?}"
    );
}

/// With `Retry-After: 0` every retry is immediate: a loop that does not count its
/// attempts would hammer the tenant forever; this one must stop at three requests.
#[tokio::test]
async fn retries_stop_after_the_limit_even_when_the_tenant_says_retry_now() {
    use wiremock::matchers::any;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(503).insert_header("retry-after", "0"))
        .mount(&server)
        .await;
    let engine = engine(full_config(&server.uri()));
    let started = Instant::now();
    let result = tokio::time::timeout(
        Duration::from_secs(5),
        call(&engine, "list_workspaces", json!({})),
    )
    .await
    .expect("the retries stop within seconds");
    assert_eq!(result.unwrap_err().envelope()["attempts"], 3);
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
    assert!(
        started.elapsed() < Duration::from_millis(1000),
        "Retry-After: 0 replaces the backoff: {:?}",
        started.elapsed()
    );
}

/// `MOLECULE_ORG_ID` is a header value, not a schema-checked argument; when it fills
/// the allowlist's path it must still be one segment: `.` or `..` would make
/// `/orgs/../plugins/allowlist` a request for another route.
#[tokio::test]
async fn an_org_id_from_the_environment_that_is_a_dot_segment_is_refused_unsent() {
    for id in [".", ".."] {
        let tenant = RawTenant::start(|_| (200, b"{}".to_vec())).await;
        let engine = engine(config(&[
            ("MOLECULE_API_URL", &tenant.url),
            ("MOLECULE_ORG_API_KEY", KEY),
            ("MOLECULE_ORG_ID", id),
        ]));
        for (tool, args) in [
            ("get_org_plugin_allowlist", json!({})),
            (
                "set_org_plugin_allowlist",
                json!({ "plugins": [], "enabled_by": "ops" }),
            ),
        ] {
            let result = call(&engine, tool, args).await;
            assert_eq!(
                result.unwrap_err().envelope(),
                json!({
                    "error": "INVALID_ARGUMENTS",
                    "detail": "`id`: must be a non-empty id other than `.` or `..`"
                }),
                "{tool} with MOLECULE_ORG_ID={id}"
            );
        }
        assert!(tenant.taken().is_empty(), "nothing sent for {id}");
    }
}

/// The same org id that passes as a header also routes the allowlist: the fallback
/// fills `org_id` only, never another argument.
#[tokio::test]
async fn the_org_id_fallback_fills_the_path_and_nothing_else() {
    let tenant = RawTenant::start(|_| (200, b"{}".to_vec())).await;
    let engine = engine(full_config(&tenant.url));
    call(
        &engine,
        "set_org_plugin_allowlist",
        json!({ "plugins": ["p"], "enabled_by": "ops" }),
    )
    .await
    .unwrap();
    let sent = tenant.taken();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].target, format!("/orgs/{ORG_ID}/plugins/allowlist"));
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&sent[0].body).unwrap(),
        json!({ "plugins": ["p"], "enabled_by": "ops" })
    );
}

/// An explicit `null` for an optional query or header argument is refused by name
/// before anything is sent: it never reaches the request as `?confirm=` or an empty
/// `X-Confirm-Name` header (no parameter of either spec is nullable).
#[tokio::test]
async fn an_explicit_null_query_or_header_argument_is_refused_unsent() {
    let tenant = RawTenant::start(|_| (200, b"{}".to_vec())).await;
    let engine = engine(full_config(&tenant.url));
    let result = call(
        &engine,
        "deprovision_workspace",
        json!({ "workspace_id": "ws-1", "confirm": null, "confirm_name": null }),
    )
    .await;
    assert_eq!(
        result.unwrap_err().envelope()["detail"],
        "`confirm`: value is not of type \"boolean\"; `confirm_name`: value is not of type \"string\""
    );
    assert!(tenant.taken().is_empty());
}

/// An unreachable host's detail carries the cause (the OS's reason), not just
/// "error sending request".
#[tokio::test]
async fn an_unreachable_host_names_the_cause() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let engine = engine(full_config(&url));
    let envelope = call(&engine, "list_workspaces", json!({}))
        .await
        .unwrap_err()
        .envelope();
    assert_eq!(
        envelope["error"],
        format!("Tenant host unreachable at {url}")
    );
    let detail = envelope["detail"].as_str().unwrap();
    assert!(
        detail.to_ascii_lowercase().contains("connection refused"),
        "{detail}"
    );
}
