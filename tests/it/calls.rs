//! Every tool against a loopback mock tenant: the exact request it sends, the
//! validation rules that stop it before any request, and the outcome mapping.

use crate::common::*;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Case {
    pub tool: &'static str,
    pub args: Value,
    method: &'static str,
    target: &'static str,
    body: Option<Value>,
    headers: &'static [(&'static str, &'static str)],
}

fn case(
    tool: &'static str,
    args: Value,
    method: &'static str,
    target: &'static str,
    body: Option<Value>,
) -> Case {
    Case {
        tool,
        args,
        method,
        target,
        body,
        headers: &[],
    }
}

pub fn cases() -> Vec<Case> {
    let ws = || json!({ "workspace_id": "ws-1" });
    let empty = || Some(json!({}));
    vec![
        case("list_workspaces", json!({}), "GET", "/workspaces", None),
        case(
            "get_workspace",
            json!({ "workspace_id": "w/x" }),
            "GET",
            "/workspaces/w%2Fx",
            None,
        ),
        case(
            "provision_workspace",
            json!({ "name": "alpha", "role": "r", "template": "t", "runtime": "claude-code", "tier": 2, "parent_id": "p1", "model": "m" }),
            "POST",
            "/workspaces",
            Some(
                json!({ "name": "alpha", "role": "r", "template": "t", "runtime": "claude-code", "tier": 2, "parent_id": "p1", "model": "m" }),
            ),
        ),
        case(
            "provision_workspace",
            json!({ "name": "solo" }),
            "POST",
            "/workspaces",
            Some(json!({ "name": "solo" })),
        ),
        case(
            "deprovision_workspace",
            ws(),
            "DELETE",
            "/workspaces/ws-1",
            None,
        ),
        Case {
            headers: &[("x-confirm-name", "alpha")],
            ..case(
                "deprovision_workspace",
                json!({ "workspace_id": "ws-1", "confirm": true, "confirm_name": "alpha" }),
                "DELETE",
                "/workspaces/ws-1?confirm=true",
                None,
            )
        },
        case(
            "restart_workspace",
            ws(),
            "POST",
            "/workspaces/ws-1/restart",
            empty(),
        ),
        case(
            "pause_workspace",
            ws(),
            "POST",
            "/workspaces/ws-1/pause",
            empty(),
        ),
        case(
            "pause_workspace",
            json!({ "workspace_id": "ws-1", "cascade": true }),
            "POST",
            "/workspaces/ws-1/pause?cascade=true",
            empty(),
        ),
        case(
            "resume_workspace",
            ws(),
            "POST",
            "/workspaces/ws-1/resume",
            empty(),
        ),
        case(
            "resume_workspace",
            json!({ "workspace_id": "ws-1", "cascade": true }),
            "POST",
            "/workspaces/ws-1/resume?cascade=true",
            empty(),
        ),
        case(
            "set_workspace_secret",
            json!({ "workspace_id": "ws-1", "key": "OPENAI_API_KEY", "value": "sv-secret-1" }),
            "POST",
            "/workspaces/ws-1/secrets",
            Some(json!({ "key": "OPENAI_API_KEY", "value": "sv-secret-1" })),
        ),
        case(
            "list_workspace_secrets",
            ws(),
            "GET",
            "/workspaces/ws-1/secrets",
            None,
        ),
        case(
            "delete_workspace_secret",
            json!({ "workspace_id": "ws-1", "key": "A/B KEY" }),
            "DELETE",
            "/workspaces/ws-1/secrets/A%2FB%20KEY",
            None,
        ),
        case(
            "set_org_secret",
            json!({ "key": "K", "value": "sv-secret-2" }),
            "POST",
            "/settings/secrets",
            Some(json!({ "key": "K", "value": "sv-secret-2" })),
        ),
        case(
            "list_org_secrets",
            json!({}),
            "GET",
            "/settings/secrets",
            None,
        ),
        case(
            "delete_org_secret",
            json!({ "key": "A/B KEY" }),
            "DELETE",
            "/settings/secrets/A%2FB%20KEY",
            None,
        ),
        case(
            "get_workspace_budget",
            ws(),
            "GET",
            "/workspaces/ws-1/budget",
            None,
        ),
        case(
            "set_workspace_budget",
            json!({ "workspace_id": "ws-1", "budget_limits": { "monthly": 50000, "daily": null } }),
            "PATCH",
            "/workspaces/ws-1/budget",
            Some(json!({ "budget_limits": { "monthly": 50000, "daily": null } })),
        ),
        case(
            "set_workspace_budget",
            json!({ "workspace_id": "ws-1", "budget_limit": null }),
            "PATCH",
            "/workspaces/ws-1/budget",
            Some(json!({ "budget_limit": null })),
        ),
        case(
            "get_llm_billing_mode",
            ws(),
            "GET",
            "/admin/workspaces/ws-1/llm-billing-mode",
            None,
        ),
        case(
            "set_llm_billing_mode",
            json!({ "workspace_id": "ws-1", "mode": null }),
            "PUT",
            "/admin/workspaces/ws-1/llm-billing-mode",
            Some(json!({ "mode": null })),
        ),
        case(
            "set_llm_billing_mode",
            json!({ "workspace_id": "ws-1", "mode": "disabled" }),
            "PUT",
            "/admin/workspaces/ws-1/llm-billing-mode",
            Some(json!({ "mode": "disabled" })),
        ),
        case(
            "list_org_templates",
            json!({}),
            "GET",
            "/org/templates",
            None,
        ),
        case(
            "create_org_from_template",
            json!({ "dir": "starter", "mode": "reconcile" }),
            "POST",
            "/org/import",
            Some(json!({ "dir": "starter", "mode": "reconcile" })),
        ),
        case(
            "create_org_from_template",
            json!({ "template": { "name": "t", "workspaces": [{ "name": "a" }], "x-extra": 1 }, "force": true }),
            "POST",
            "/org/import",
            Some(
                json!({ "template": { "name": "t", "workspaces": [{ "name": "a" }], "x-extra": 1 }, "force": true }),
            ),
        ),
        case("list_templates", json!({}), "GET", "/templates", None),
        case(
            "import_template",
            json!({ "name": "My Tpl", "files": { "config.yaml": "name: x\n", "prompts/a.md": "hi" } }),
            "POST",
            "/templates/import",
            Some(
                json!({ "name": "My Tpl", "files": { "config.yaml": "name: x\n", "prompts/a.md": "hi" } }),
            ),
        ),
        case(
            "mint_org_token",
            json!({ "name": "ci" }),
            "POST",
            "/org/tokens",
            Some(json!({ "name": "ci" })),
        ),
        case("mint_org_token", json!({}), "POST", "/org/tokens", empty()),
        case("list_org_tokens", json!({}), "GET", "/org/tokens", None),
        case(
            "revoke_org_token",
            json!({ "id": "abc/def" }),
            "DELETE",
            "/org/tokens/abc%2Fdef",
            None,
        ),
        case(
            "mint_workspace_token",
            ws(),
            "POST",
            "/admin/workspaces/ws-1/tokens",
            empty(),
        ),
        case(
            "get_org_plugin_allowlist",
            json!({}),
            "GET",
            "/orgs/org-1111/plugins/allowlist",
            None,
        ),
        case(
            "get_org_plugin_allowlist",
            json!({ "org_id": "o/2" }),
            "GET",
            "/orgs/o%2F2/plugins/allowlist",
            None,
        ),
        case(
            "set_org_plugin_allowlist",
            json!({ "plugins": ["browser", "git"], "enabled_by": "alice" }),
            "PUT",
            "/orgs/org-1111/plugins/allowlist",
            Some(json!({ "plugins": ["browser", "git"], "enabled_by": "alice" })),
        ),
        case(
            "set_org_plugin_allowlist",
            json!({ "org_id": "org-2", "plugins": [], "enabled_by": "bob" }),
            "PUT",
            "/orgs/org-2/plugins/allowlist",
            Some(json!({ "plugins": [], "enabled_by": "bob" })),
        ),
        case("export_bundle", ws(), "GET", "/bundles/export/ws-1", None),
        case(
            "import_bundle",
            json!({ "bundle": { "schema": "1.0", "name": "b", "tier": 2, "skills": [], "sub_workspaces": [{ "name": "child" }], "future_field": true } }),
            "POST",
            "/bundles/import",
            Some(
                json!({ "schema": "1.0", "name": "b", "tier": 2, "skills": [], "sub_workspaces": [{ "name": "child" }], "future_field": true }),
            ),
        ),
        case("list_org_events", json!({}), "GET", "/events", None),
        case(
            "list_org_events",
            json!({ "workspace_id": "w 1" }),
            "GET",
            "/events/w%201",
            None,
        ),
        case(
            "list_pending_approvals",
            json!({}),
            "GET",
            "/approvals/pending",
            None,
        ),
        case("list_orgs", json!({}), "GET", "/api/v1/admin/orgs", None),
        case(
            "get_org",
            json!({ "slug": "acme co" }),
            "GET",
            "/api/v1/orgs/acme%20co",
            None,
        ),
    ]
}

#[tokio::test]
async fn every_tool_sends_the_exact_request() {
    for c in cases() {
        let server = ok_tenant().await;
        let engine = engine(full_config(&server.uri()));
        let result = call(&engine, c.tool, c.args.clone()).await;
        assert_eq!(result, Ok(json!({ "ok": true })), "{} {}", c.tool, c.args);
        let request = only_request(&server).await;
        let what = format!("{} {}", c.tool, c.args);
        assert_eq!(request.method.as_str(), c.method, "{what}");
        assert_eq!(raw_target(&request), c.target, "{what}");
        assert_eq!(body_json(&request), c.body, "{what}");
        assert_eq!(
            header(&request, "content-type"),
            Some("application/json"),
            "{what}"
        );
        assert_eq!(
            header(&request, "api-version"),
            None,
            "{what}: progenitor's api-version header leaked"
        );
        let is_cp = molecule_mcp::tools::table::TOOLS
            .iter()
            .find(|t| t.name == c.tool)
            .is_some_and(|t| t.route.operations()[0].api() == molecule_mcp::Api::ControlPlane);
        if is_cp {
            assert_eq!(
                header(&request, "authorization"),
                Some(format!("Bearer {CP_TOKEN}").as_str()),
                "{what}"
            );
            assert_eq!(
                header(&request, "x-molecule-org-id"),
                None,
                "{what}: org headers must not reach the CP"
            );
        } else {
            assert_eq!(
                header(&request, "authorization"),
                Some(format!("Bearer {KEY}").as_str()),
                "{what}"
            );
            assert_eq!(
                header(&request, "x-molecule-org-id"),
                Some(ORG_ID),
                "{what}"
            );
            assert_eq!(header(&request, "x-molecule-org-slug"), None, "{what}");
        }
        for (name, value) in c.headers {
            assert_eq!(header(&request, name), Some(*value), "{what}");
        }
        if c.headers.is_empty() {
            assert_eq!(header(&request, "x-confirm-name"), None, "{what}");
        }
    }
}

#[test]
fn every_tool_has_a_request_case() {
    let covered: BTreeSet<&str> = cases().iter().map(|c| c.tool).collect();
    let all: BTreeSet<&str> = molecule_mcp::tools::table::TOOLS
        .iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(covered, all);
}

struct Invalid {
    tool: &'static str,
    args: Value,
    expect: &'static [&'static str],
}

fn invalid_cases() -> Vec<Invalid> {
    let long = "x".repeat(101);
    vec![
        Invalid {
            tool: "get_workspace",
            args: json!({}),
            expect: &["\"workspace_id\" is a required property"],
        },
        Invalid {
            tool: "get_workspace",
            args: json!({ "workspace_id": ".." }),
            expect: &["`workspace_id`: must not be `.` or `..`"],
        },
        Invalid {
            tool: "delete_workspace_secret",
            args: json!({ "workspace_id": "ws", "key": "." }),
            expect: &["`key`: must not be `.` or `..`"],
        },
        Invalid {
            tool: "get_workspace",
            args: json!({ "workspace_id": "" }),
            expect: &["`workspace_id`:", "shorter than 1"],
        },
        Invalid {
            tool: "get_workspace",
            args: json!({ "workspace_id": 7 }),
            expect: &["`workspace_id`:", "\"string\""],
        },
        Invalid {
            tool: "list_workspaces",
            args: json!({ "bogus": 1 }),
            expect: &["Additional properties are not allowed", "bogus"],
        },
        Invalid {
            tool: "provision_workspace",
            args: json!({ "name": 5, "tier": 9 }),
            expect: &["`name`:", "`tier`:", "maximum of 4"],
        },
        Invalid {
            tool: "provision_workspace",
            args: json!({ "name": "a", "tier": 2.5 }),
            expect: &["`tier`:", "integer"],
        },
        Invalid {
            tool: "set_llm_billing_mode",
            args: json!({ "workspace_id": "w", "mode": "free" }),
            expect: &["`mode`:"],
        },
        Invalid {
            tool: "set_llm_billing_mode",
            args: json!({ "workspace_id": "w" }),
            expect: &["\"mode\" is a required property"],
        },
        Invalid {
            tool: "set_workspace_budget",
            args: json!({ "workspace_id": "w", "budget_limits": { "yearly": 1 } }),
            expect: &["`budget_limits`:", "yearly"],
        },
        Invalid {
            tool: "set_workspace_budget",
            args: json!({ "workspace_id": "w", "budget_limits": { "monthly": -1 } }),
            expect: &["`budget_limits.monthly`:", "minimum of 0"],
        },
        Invalid {
            tool: "set_workspace_budget",
            args: json!({ "workspace_id": "w", "budget_limits": { "monthly": 1.5 } }),
            expect: &["`budget_limits.monthly`:"],
        },
        Invalid {
            tool: "set_workspace_budget",
            args: json!({ "workspace_id": "w", "budget_limit": -5 }),
            expect: &["`budget_limit`:", "minimum of 0"],
        },
        Invalid {
            tool: "set_workspace_budget",
            args: json!({ "workspace_id": "w" }),
            expect: &["`budget_limits` or `budget_limit` is required"],
        },
        Invalid {
            tool: "mint_org_token",
            args: json!({ "name": long }),
            expect: &["`name`:", "longer than 100"],
        },
        Invalid {
            tool: "set_org_plugin_allowlist",
            args: json!({ "plugins": ["a"], "enabled_by": "" }),
            expect: &["`enabled_by`:", "shorter than 1"],
        },
        Invalid {
            tool: "set_org_plugin_allowlist",
            args: json!({ "plugins": ["a"] }),
            expect: &["\"enabled_by\" is a required property"],
        },
        Invalid {
            tool: "create_org_from_template",
            args: json!({ "mode": "merge" }),
            expect: &["`dir` or `template` is required"],
        },
        Invalid {
            tool: "create_org_from_template",
            args: json!({ "dir": "d", "mode": "replace" }),
            expect: &["`mode`:"],
        },
        Invalid {
            tool: "create_org_from_template",
            args: json!({ "template": "starter" }),
            expect: &["`template`:", "\"object\""],
        },
        Invalid {
            tool: "import_template",
            args: json!({ "name": "t", "files": { "a": 1 } }),
            expect: &["`files.a`:"],
        },
        Invalid {
            tool: "import_bundle",
            args: json!({ "bundle": "x" }),
            expect: &["`bundle`:"],
        },
        Invalid {
            tool: "deprovision_workspace",
            args: json!({ "workspace_id": "w", "confirm_name": "a\r\nX-Evil: 1" }),
            expect: &["`confirm_name`: must not contain control characters"],
        },
        Invalid {
            tool: "pause_workspace",
            args: json!({ "workspace_id": "w", "cascade": "yes" }),
            expect: &["`cascade`:", "\"boolean\""],
        },
        Invalid {
            tool: "get_org",
            args: json!({}),
            expect: &["\"slug\" is a required property"],
        },
    ]
}

#[tokio::test]
async fn invalid_arguments_name_the_field_and_rule_and_send_nothing() {
    let server = ok_tenant().await;
    let engine = engine(full_config(&server.uri()));
    for c in invalid_cases() {
        let result = call(&engine, c.tool, c.args.clone()).await;
        let what = format!("{} {}", c.tool, c.args);
        assert_eq!(error_code(&result), "INVALID_ARGUMENTS", "{what}");
        let detail = result.unwrap_err().envelope()["detail"]
            .as_str()
            .unwrap()
            .to_string();
        for fragment in c.expect {
            assert!(
                detail.contains(fragment),
                "{what}: detail {detail:?} lacks {fragment:?}"
            );
        }
    }
    assert!(
        server.received_requests().await.unwrap().is_empty(),
        "a rejected call reached the tenant"
    );
}

#[tokio::test]
async fn a_misplaced_secret_is_not_echoed_in_the_validation_error() {
    let server = ok_tenant().await;
    let engine = engine(full_config(&server.uri()));
    let result = call(
        &engine,
        "set_org_secret",
        json!({ "key": "K", "value": 123456789 }),
    )
    .await;
    let detail = result.unwrap_err().envelope().to_string();
    assert!(detail.contains("`value`"), "{detail}");
    assert!(!detail.contains("123456789"), "the value leaked: {detail}");
}

#[tokio::test]
async fn allowlist_without_org_id_anywhere_is_refused_before_any_request() {
    let server = ok_tenant().await;
    let uri = server.uri();
    let engine = engine(config(&[
        ("MOLECULE_API_URL", &uri),
        ("MOLECULE_ORG_API_KEY", KEY),
        ("MOLECULE_ORG_SLUG", "acme"),
    ]));
    let result = call(&engine, "get_org_plugin_allowlist", json!({})).await;
    assert_eq!(
        result.unwrap_err().envelope(),
        json!({ "error": "INVALID_ARGUMENTS", "detail": "org_id is required (or set MOLECULE_ORG_ID)" })
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn missing_key_or_routing_is_an_auth_error_with_no_request() {
    let server = ok_tenant().await;
    let uri = server.uri();
    let no_key = engine(config(&[
        ("MOLECULE_API_URL", &uri),
        ("MOLECULE_ORG_ID", ORG_ID),
    ]));
    let result = call(&no_key, "list_workspaces", json!({})).await;
    assert_eq!(error_code(&result), "AUTH_ERROR");
    assert!(
        result.unwrap_err().envelope()["detail"]
            .as_str()
            .unwrap()
            .contains("MOLECULE_ORG_API_KEY is not set")
    );
    let no_route = engine(config(&[
        ("MOLECULE_API_URL", &uri),
        ("MOLECULE_ORG_API_KEY", KEY),
    ]));
    let result = call(&no_route, "list_workspaces", json!({})).await;
    assert_eq!(error_code(&result), "AUTH_ERROR");
    assert!(
        result.unwrap_err().envelope()["detail"]
            .as_str()
            .unwrap()
            .contains("MOLECULE_ORG_ID or MOLECULE_ORG_SLUG")
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn validation_runs_before_the_auth_gate() {
    let engine = engine(config(&[]));
    let result = call(&engine, "get_workspace", json!({})).await;
    assert_eq!(error_code(&result), "INVALID_ARGUMENTS");
}

#[tokio::test]
async fn a_slug_alone_routes_with_the_slug_header() {
    let server = ok_tenant().await;
    let uri = server.uri();
    let engine = engine(config(&[
        ("MOLECULE_API_URL", &uri),
        ("MOLECULE_ORG_API_KEY", KEY),
        ("MOLECULE_ORG_SLUG", "acme"),
    ]));
    call(&engine, "list_workspaces", json!({})).await.unwrap();
    let request = only_request(&server).await;
    assert_eq!(header(&request, "x-molecule-org-slug"), Some("acme"));
    assert_eq!(header(&request, "x-molecule-org-id"), None);
}

#[tokio::test]
async fn upstream_statuses_map_to_the_envelope() {
    for (status, body, code) in [
        (401, "{\"error\":\"admin auth required\"}", "AUTH_ERROR"),
        (403, "{\"error\":\"org access denied\"}", "AUTH_ERROR"),
        (
            429,
            "{\"error\":\"rate limit exceeded\",\"retry_after\":3}",
            "RATE_LIMITED",
        ),
        (500, "{\"error\":\"query failed\"}", "HTTP 500"),
        (404, "", "HTTP 404"),
        (302, "", "HTTP 302"),
    ] {
        let server = wiremock::MockServer::start().await;
        wiremock::Mock::given(wiremock::matchers::any())
            .respond_with(
                wiremock::ResponseTemplate::new(status)
                    .set_body_string(body)
                    .insert_header("location", "/elsewhere"),
            )
            .mount(&server)
            .await;
        let engine = engine(full_config(&server.uri()));
        // A POST: never retried, so one request and the plain envelope.
        let result = call(&engine, "mint_org_token", json!({})).await;
        assert_eq!(
            result.unwrap_err().envelope(),
            json!({ "error": code, "detail": body, "status": status }),
            "status {status}"
        );
        assert_eq!(
            server.received_requests().await.unwrap().len(),
            1,
            "redirects are not followed"
        );
    }
}

#[tokio::test]
async fn the_control_plane_has_no_rate_limited_mapping() {
    let server = tenant(429, json!({ "error": "slow down" })).await;
    let engine = engine(full_config(&server.uri()));
    assert_eq!(
        error_code(&call(&engine, "list_orgs", json!({})).await),
        "HTTP 429"
    );
}

#[tokio::test]
async fn unreachable_hosts_are_named() {
    let engine = engine(config(&[
        ("MOLECULE_API_URL", "http://127.0.0.1:1"),
        ("MOLECULE_ORG_API_KEY", KEY),
        ("MOLECULE_ORG_ID", ORG_ID),
        ("MOLECULE_CP_URL", "http://127.0.0.1:1/cp"),
        ("CP_ADMIN_API_TOKEN", CP_TOKEN),
    ]));
    let tenant = call(&engine, "list_workspaces", json!({}))
        .await
        .unwrap_err()
        .envelope();
    assert_eq!(
        tenant["error"],
        "Tenant host unreachable at http://127.0.0.1:1"
    );
    assert!(tenant.get("status").is_none());
    assert!(!tenant["detail"].as_str().unwrap().is_empty());
    let cp = call(&engine, "list_orgs", json!({}))
        .await
        .unwrap_err()
        .envelope();
    assert_eq!(
        cp["error"],
        "Control plane unreachable at http://127.0.0.1:1/cp"
    );
}

#[tokio::test]
async fn control_plane_tools_are_gated_on_their_own_token() {
    let server = ok_tenant().await;
    let uri = server.uri();
    let engine = engine(config(&[
        ("MOLECULE_API_URL", &uri),
        ("MOLECULE_CP_URL", &uri),
        ("MOLECULE_ORG_API_KEY", KEY),
        ("MOLECULE_ORG_ID", ORG_ID),
    ]));
    let result = call(&engine, "get_org", json!({ "slug": "acme" })).await;
    let envelope = result.unwrap_err().envelope();
    assert_eq!(envelope["error"], "CP_TIER_NOT_CONFIGURED");
    assert!(
        envelope["detail"]
            .as_str()
            .unwrap()
            .starts_with("'get_org' is a control-plane tier tool.")
    );
    assert!(
        server.received_requests().await.unwrap().is_empty(),
        "the org key must never go to the CP"
    );
}

#[tokio::test]
async fn any_2xx_is_success_and_odd_bodies_are_wrapped() {
    let cases: [(u16, &[u8], Value); 4] = [
        (204, b"", json!({ "raw": "", "status": 204 })),
        (
            207,
            b"{\"org\":\"o\",\"error\":\"1 failed\"}",
            json!({ "org": "o", "error": "1 failed" }),
        ),
        (201, b"[1,2]", json!([1, 2])),
        (
            200,
            b"plain text \xff",
            json!({ "raw": "plain text \u{fffd}", "status": 200 }),
        ),
    ];
    for (status, body, expected) in cases {
        let server = wiremock::MockServer::start().await;
        wiremock::Mock::given(wiremock::matchers::any())
            .respond_with(wiremock::ResponseTemplate::new(status).set_body_bytes(body.to_vec()))
            .mount(&server)
            .await;
        let engine = engine(full_config(&server.uri()));
        let tool = if status == 207 {
            "create_org_from_template"
        } else {
            "list_workspaces"
        };
        let args = if status == 207 {
            json!({ "dir": "d" })
        } else {
            json!({})
        };
        assert_eq!(
            call(&engine, tool, args).await,
            Ok(expected),
            "status {status}"
        );
    }
}

#[tokio::test]
async fn an_empty_2xx_for_a_tool_with_an_output_schema_is_a_success_with_empty_structured_content()
{
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(wiremock::ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let engine = engine(full_config(&server.uri()));
    let entry = engine.catalog().get("delete_org_secret").unwrap();
    let result = engine
        .respond(entry, json!({ "key": "K" }).as_object().unwrap().clone())
        .await;
    assert_eq!(result.is_error, Some(false));
    let text = result.content[0].as_text().unwrap().text.clone();
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        json!({ "raw": "", "status": 204 }),
        "the text keeps the TypeScript server's wrapper"
    );
    let structured = result
        .structured_content
        .expect("a validating client needs it");
    assert_eq!(structured, json!({}));
    assert!(entry.output_validator().unwrap().is_valid(&structured));
}

#[tokio::test]
async fn control_plane_arguments_are_validated_before_the_cp_gate() {
    let engine = engine(config(&[
        ("MOLECULE_ORG_API_KEY", KEY),
        ("MOLECULE_ORG_ID", ORG_ID),
    ]));
    assert_eq!(
        error_code(&call(&engine, "get_org", json!({})).await),
        "INVALID_ARGUMENTS"
    );
    assert_eq!(
        error_code(&call(&engine, "get_org", json!({ "slug": "a" })).await),
        "CP_TIER_NOT_CONFIGURED"
    );
}

#[tokio::test]
async fn a_body_that_breaks_the_output_schema_is_a_contract_mismatch_that_keeps_the_data() {
    let server = tenant(200, json!({ "monthly_spend": "lots", "new_field": 1 })).await;
    let engine = engine(full_config(&server.uri()));
    let envelope = call(
        &engine,
        "get_workspace_budget",
        json!({ "workspace_id": "w" }),
    )
    .await
    .unwrap_err()
    .envelope();
    assert_eq!(envelope["error"], "UPSTREAM_CONTRACT_MISMATCH");
    assert_eq!(
        envelope["detail"]["body"],
        json!({ "monthly_spend": "lots", "new_field": 1 })
    );
    let errors = envelope["detail"]["errors"].to_string();
    assert!(errors.contains("monthly_spend"), "{errors}");
}

#[tokio::test]
async fn added_fields_and_unknown_enum_values_still_fit_the_output_schema() {
    let server = tenant(200, json!({ "workspace_id": "w", "resolved_mode": "brand_new_mode", "source": "org_default", "extra": {} })).await;
    let engine = engine(full_config(&server.uri()));
    let result = call(
        &engine,
        "get_llm_billing_mode",
        json!({ "workspace_id": "w" }),
    )
    .await;
    assert_eq!(result.unwrap()["resolved_mode"], "brand_new_mode");
}

#[test]
fn every_argument_of_every_tool_is_exercised_by_a_request_case() {
    let engine = engine(config(&[]));
    let cases = cases();
    for entry in &engine.catalog().entries {
        let declared: BTreeSet<String> = entry.derived.input["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        let used: BTreeSet<String> = cases
            .iter()
            .filter(|c| c.tool == entry.row.name)
            .flat_map(|c| c.args.as_object().unwrap().keys().cloned())
            .collect();
        assert_eq!(
            used, declared,
            "{}: arguments never sent in a test",
            entry.row.name
        );
    }
}

// Retries: the schedule, and the limit when the host says to retry at once.

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
/// plus up to 250 ms of jitter (src/call/retry.rs), two retries (the default).
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

// Hints: what an error result tells the agent to do next.

/// The tenant's "X-Confirm-Name: NAME" may sit in any string of the body, inside an
/// array too: the agent is still told the tool argument and the name to give.
#[test]
fn a_confirm_name_asked_for_inside_an_array_is_named_as_the_tool_argument() {
    let catalog = molecule_mcp::tools::Catalog::new().unwrap();
    let entry = catalog.get("deprovision_workspace").unwrap();
    let error = molecule_mcp::error::ToolError::Http {
        api: molecule_mcp::Api::Tenant,
        status: 400,
        body: json!({
            "error": "destructive_action_requires_confirmation",
            "details": [{ "hints": ["Re-send with header X-Confirm-Name: Acme HQ"] }]
        })
        .to_string(),
        cut: false,
        attempts: 1,
        seen: None,
    };
    // As the agent receives it: the error result's envelope.
    let result = molecule_mcp::result::error(entry, &error, 100_000);
    let text = &result.content[0].as_text().unwrap().text;
    let envelope: serde_json::Value = serde_json::from_str(text).unwrap();
    let h = envelope["hint"].as_str().unwrap();
    assert!(h.contains(r#"confirm_name: "Acme HQ""#), "{h}");
}
