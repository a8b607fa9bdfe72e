//! What an agent needs to act on every answer (issue #23, agent half): hints from what
//! the server can check, the server's own key, complete validation errors, honest
//! descriptions, output schemas for the control-plane tools, host-portable input
//! schemas and cacheable tool lists. Each behaviour is tried against the sandbox and,
//! where the tenant's answer matters, against a recording tenant that answers as the
//! live handlers do (docs/contract.md).

use crate::common::{KEY, ORG_ID, RawRequest, RawTenant, config, engine};
use molecule_mcp::call::Engine;
use molecule_mcp::error::ToolError;
use molecule_mcp::sandbox::{Sandbox, seed};
use serde_json::{Value, json};

/// The envelope (or success value) an MCP host receives for one call.
async fn answer(engine: &Engine, tool: &str, args: Value) -> (bool, Value) {
    let entry = engine.catalog().get(tool).unwrap();
    let Value::Object(args) = args else {
        panic!("args must be an object")
    };
    let result = engine.respond(entry, args).await;
    let text = &result.content[0].as_text().unwrap().text;
    (
        result.is_error == Some(true),
        serde_json::from_str(text).unwrap(),
    )
}

/// The envelope of a call that must fail.
async fn failed(engine: &Engine, tool: &str, args: Value) -> Value {
    let (is_error, envelope) = answer(engine, tool, args).await;
    assert!(is_error, "{tool} succeeded: {envelope}");
    envelope
}

fn hint(envelope: &Value) -> &str {
    envelope["hint"]
        .as_str()
        .unwrap_or_else(|| panic!("no hint in {envelope}"))
}

async fn sandbox() -> (Sandbox, Engine) {
    let sandbox = Sandbox::start().await.expect("sandbox starts");
    let engine = engine(sandbox.config());
    (sandbox, engine)
}

// ------------------------------------------------- every allowed value, null too

#[tokio::test]
async fn an_enum_error_lists_every_allowed_value_and_null() {
    let engine = engine(config(&[
        ("MOLECULE_ORG_API_KEY", KEY),
        ("MOLECULE_ORG_ID", ORG_ID),
    ]));
    let envelope = failed(
        &engine,
        "set_llm_billing_mode",
        json!({ "workspace_id": seed::RESEARCHER_WORKSPACE_ID, "mode": "BYOK" }),
    )
    .await;
    assert_eq!(envelope["error"], "INVALID_ARGUMENTS");
    let detail = envelope["detail"].as_str().unwrap();
    for value in [
        r#""platform_managed""#,
        r#""byok""#,
        r#""disabled""#,
        "null",
    ] {
        assert!(detail.contains(value), "{value} missing: {detail}");
    }
    assert!(!detail.contains("other candidates"), "{detail}");
    // Every enum of every tool is listed whole, however long.
    let envelope = failed(
        &engine,
        "create_org_from_template",
        json!({ "dir": "x", "mode": "replace" }),
    )
    .await;
    let detail = envelope["detail"].as_str().unwrap();
    assert!(
        detail.contains(r#""merge""#)
            && detail.contains(r#""reconcile""#)
            && !detail.contains("null"),
        "{detail}"
    );
}
