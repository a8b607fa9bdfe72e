//! Sandbox behaviour pinned where mutation testing (TESTING.md) found the suite blind.

use crate::common::*;
use molecule_mcp::sandbox::Sandbox;
use serde_json::{Value, json};

/// The error envelope of a call the sandbox (or validation) refuses.
async fn refusal(engine: &molecule_mcp::call::Engine, tool: &str, args: Value) -> Value {
    call(engine, tool, args).await.unwrap_err().envelope()
}

/// The call is the tenant's 400, whose text says `says`.
async fn assert_400(engine: &molecule_mcp::call::Engine, tool: &str, args: Value, says: &str) {
    let e = refusal(engine, tool, args.clone()).await;
    assert_eq!(e["status"], 400, "{args}: {e}");
    assert!(e.to_string().contains(says), "{args}: {e}");
}

/// `--sandbox` points every credential and routing value at the sandbox, the org slug
/// included, whatever the environment said.
#[tokio::test]
async fn the_sandbox_replaces_the_configured_org_slug_too() {
    let sandbox = Sandbox::start().await.unwrap();
    let base = config(&[
        ("MOLECULE_API_URL", "http://127.0.0.1:1"),
        ("MOLECULE_ORG_API_KEY", KEY),
        ("MOLECULE_ORG_SLUG", "elsewhere"),
    ]);
    let applied = sandbox.apply(base);
    let own = sandbox.config();
    assert_eq!(applied.org_slug, own.org_slug);
    assert_ne!(applied.org_slug.as_deref(), Some("elsewhere"));
    assert_eq!(applied.org_id, own.org_id);
}

/// Plugin names are one path segment: a `/`, a `\` or a `..` alone is refused.
#[tokio::test]
async fn the_sandbox_refuses_a_plugin_name_with_any_one_path_character() {
    let sandbox = Sandbox::start().await.unwrap();
    let engine = engine(sandbox.config());
    for name in ["a/b", "a\\b", "..b"] {
        assert_400(
            &engine,
            "set_org_plugin_allowlist",
            json!({ "plugins": [name], "enabled_by": "walk" }),
            "invalid plugin name",
        )
        .await;
    }
}

/// A template is one name in the tenant's configs directory: a `/`, a `\` or a `..`
/// anywhere is refused with the tenant's 400 before anything is created.
#[tokio::test]
async fn the_sandbox_refuses_a_template_name_with_any_one_path_character() {
    let sandbox = Sandbox::start().await.unwrap();
    let engine = engine(sandbox.config());
    for template in ["a/b", "a\\b", "..", "x..y"] {
        assert_400(
            &engine,
            "provision_workspace",
            json!({ "name": "T", "template": template }),
            "invalid template",
        )
        .await;
    }
    let listed = call(&engine, "list_workspaces", json!({})).await.unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 3, "nothing was created");
}

/// A template file path must stay inside the template: empty, absolute, with a `\` or
/// a `..` segment is refused.
#[tokio::test]
async fn the_sandbox_refuses_template_files_outside_the_template() {
    let sandbox = Sandbox::start().await.unwrap();
    let engine = engine(sandbox.config());
    for path in ["", "/etc/passwd", "a\\b", "a/../../b"] {
        let e = refusal(
            &engine,
            "import_template",
            json!({ "name": "x", "files": { path: "b" } }),
        )
        .await;
        assert_eq!(e["status"], 400, "{path:?}: {e}");
    }
}

/// A limit of zero is a limit (spend nothing), not an error: monthly and per period.
#[tokio::test]
async fn the_sandbox_takes_zero_limits() {
    let sandbox = Sandbox::start().await.unwrap();
    let engine = engine(sandbox.config());
    let org = sandbox.config().org_id.unwrap();
    for (set, read_at) in [
        (json!({ "budget_limit": 0 }), "/budget_limit"),
        (
            json!({ "budget_limits": { "daily": 0 } }),
            "/periods/daily/limit",
        ),
    ] {
        let mut args = set.clone();
        args["workspace_id"] = json!(org);
        call(&engine, "set_workspace_budget", args).await.unwrap();
        let read = call(
            &engine,
            "get_workspace_budget",
            json!({ "workspace_id": org }),
        )
        .await
        .unwrap();
        assert_eq!(read.pointer(read_at), Some(&json!(0)), "{set}: {read}");
    }
    let e = refusal(
        &engine,
        "set_workspace_budget",
        json!({ "workspace_id": org, "budget_limits": { "daily": -1 } }),
    )
    .await;
    // The spec's minimum: refused before any request, naming the field.
    assert_eq!(e["error"], "INVALID_ARGUMENTS", "{e}");
    assert!(
        e["detail"]
            .as_str()
            .unwrap()
            .contains("`budget_limits.daily`"),
        "{e}"
    );
}

/// Field limits are inclusive: a role of exactly 1,000 characters (the tenant's limit)
/// is taken, one more is the tenant's 400.
#[tokio::test]
async fn the_sandbox_takes_a_field_of_exactly_its_limit() {
    let sandbox = Sandbox::start().await.unwrap();
    let engine = engine(sandbox.config());
    let made = call(
        &engine,
        "provision_workspace",
        json!({ "name": "n".repeat(255), "role": "r".repeat(1000) }),
    )
    .await
    .unwrap();
    assert!(made["id"].is_string(), "{made}");
    assert_400(
        &engine,
        "provision_workspace",
        json!({ "name": "N", "role": "r".repeat(1001) }),
        "invalid workspace fields",
    )
    .await;
}

/// A workspace counts uptime only while it is online: a paused one reports 0.
#[tokio::test]
async fn a_paused_workspace_reports_no_uptime() {
    let sandbox = Sandbox::start().await.unwrap();
    let engine = engine(sandbox.config());
    let writer = molecule_mcp::sandbox::seed::WRITER_WORKSPACE_ID;
    call(
        &engine,
        "pause_workspace",
        json!({ "workspace_id": writer }),
    )
    .await
    .unwrap();
    let read = call(&engine, "get_workspace", json!({ "workspace_id": writer }))
        .await
        .unwrap();
    assert_eq!(
        (&read["status"], &read["uptime_seconds"]),
        (&json!("paused"), &json!(0)),
        "{read}"
    );
}

/// Allowlist entries carry when they were enabled, as an RFC 3339 UTC time.
#[tokio::test]
async fn the_sandbox_stamps_allowlist_entries_with_the_time() {
    let sandbox = Sandbox::start().await.unwrap();
    let engine = engine(sandbox.config());
    call(
        &engine,
        "set_org_plugin_allowlist",
        json!({ "plugins": ["web-search"], "enabled_by": "walk" }),
    )
    .await
    .unwrap();
    let read = call(&engine, "get_org_plugin_allowlist", json!({}))
        .await
        .unwrap();
    let stamp = read["plugins"][0]["enabled_at"]
        .as_str()
        .unwrap_or_default();
    let b = stamp.as_bytes();
    assert!(
        b.len() == 20 && b[4] == b'-' && b[10] == b'T' && b[19] == b'Z' && stamp.starts_with("20"),
        "{read}"
    );
}
