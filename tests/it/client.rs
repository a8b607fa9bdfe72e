//! The generated clients against a real loopback HTTP server: one call per tag,
//! exact method, path, body and headers.

use crate::common::*;
use molecule_mcp::client::{Caller, as_caller, cp_client, http_client, tenant, tenant_client};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

async fn sent(server: &wiremock::MockServer) -> (String, String, Option<Value>, wiremock::Request) {
    let request = only_request(server).await;
    (
        request.method.to_string(),
        raw_target(&request),
        body_json(&request),
        request,
    )
}

fn assert_tenant_headers(request: &wiremock::Request) {
    assert_eq!(
        header(request, "authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(header(request, "x-molecule-org-id"), Some(ORG_ID));
    assert_eq!(header(request, "content-type"), Some("application/json"));
    assert_eq!(header(request, "api-version"), None);
}

fn caller_for(uri: &str) -> (Arc<Caller>, reqwest::Client) {
    molecule_mcp::client::install_tls_provider();
    (
        Arc::new(Caller::from_config(&full_config(uri))),
        http_client(Duration::from_secs(5)).unwrap(),
    )
}

macro_rules! one_call {
    ($call:expr, $method:expr, $target:expr, $body:expr) => {{
        let server = ok_tenant().await;
        let (caller, http) = caller_for(&server.uri());
        let client = tenant_client(&caller, &http);
        #[allow(clippy::redundant_closure_call)]
        let response = as_caller(caller, ($call)(client)).await.expect("2xx");
        assert_eq!(response.status().as_u16(), 200);
        let (method, target, body, request) = sent(&server).await;
        assert_eq!((method.as_str(), target.as_str()), ($method, $target));
        assert_eq!(body, $body);
        assert_tenant_headers(&request);
    }};
}

#[tokio::test]
async fn workspaces_tag_pause_with_cascade_and_an_encoded_id() {
    let body = json!({});
    one_call!(
        |c: tenant::Client| async move { c.pause_workspace("a/b", Some(true), &body).await },
        "POST",
        "/workspaces/a%2Fb/pause?cascade=true",
        Some(json!({}))
    );
}

#[tokio::test]
async fn secrets_tag_set_org_secret() {
    let body = json!({ "key": "K", "value": "V" });
    one_call!(
        |c: tenant::Client| async move { c.set_org_secret(&body).await },
        "POST",
        "/settings/secrets",
        Some(json!({ "key": "K", "value": "V" }))
    );
}

#[tokio::test]
async fn budget_tag_set_llm_billing_mode_sends_an_explicit_null() {
    let body = json!({ "mode": null });
    one_call!(
        |c: tenant::Client| async move { c.set_llm_billing_mode("ws-1", &body).await },
        "PUT",
        "/admin/workspaces/ws-1/llm-billing-mode",
        Some(json!({ "mode": null }))
    );
}

#[tokio::test]
async fn templates_tag_list_templates() {
    one_call!(
        |c: tenant::Client| async move { c.list_templates().await },
        "GET",
        "/templates",
        None
    );
}

#[tokio::test]
async fn tokens_tag_revoke_encodes_the_id() {
    one_call!(
        |c: tenant::Client| async move { c.revoke_org_token("abc/def").await },
        "DELETE",
        "/org/tokens/abc%2Fdef",
        None
    );
}

#[tokio::test]
async fn plugins_tag_get_allowlist() {
    one_call!(
        |c: tenant::Client| async move { c.get_org_plugin_allowlist("org 1").await },
        "GET",
        "/orgs/org%201/plugins/allowlist",
        None
    );
}

#[tokio::test]
async fn bundles_tag_import_sends_the_bundle_as_the_body() {
    let body = json!({ "name": "b", "sub_workspaces": [] });
    one_call!(
        |c: tenant::Client| async move { c.import_bundle(&body).await },
        "POST",
        "/bundles/import",
        Some(json!({ "name": "b", "sub_workspaces": [] }))
    );
}

#[tokio::test]
async fn audit_tag_workspace_events() {
    one_call!(
        |c: tenant::Client| async move { c.list_workspace_events("ws-1").await },
        "GET",
        "/events/ws-1",
        None
    );
}

#[tokio::test]
async fn cp_client_sends_only_the_cp_token() {
    let server = ok_tenant().await;
    let (caller, http) = caller_for(&server.uri());
    let client = cp_client(&caller, &http);
    as_caller(caller, client.get_org("acme")).await.unwrap();
    let (method, target, body, request) = sent(&server).await;
    assert_eq!(
        (method.as_str(), target.as_str(), body),
        ("GET", "/api/v1/orgs/acme", None)
    );
    assert_eq!(
        header(&request, "authorization"),
        Some(format!("Bearer {CP_TOKEN}").as_str())
    );
    assert_eq!(header(&request, "x-molecule-org-id"), None);
}

#[tokio::test]
async fn the_bearer_never_prints_in_debug_output() {
    let (caller, http) = caller_for("http://127.0.0.1:9");
    let debug = format!("{caller:?} {:?}", tenant_client(&caller, &http));
    assert!(!debug.contains(KEY) && !debug.contains(CP_TOKEN), "{debug}");

    // Outside a caller's scope a request carries no credential at all.
    let server = ok_tenant().await;
    let (caller, http) = caller_for(&server.uri());
    tenant_client(&caller, &http)
        .list_workspaces()
        .await
        .unwrap();
    let request = only_request(&server).await;
    assert_eq!(header(&request, "authorization"), None);
    assert_eq!(header(&request, "x-molecule-org-id"), None);
}
