//! Sandbox behaviour pinned where mutation testing (TESTING.md) found the suite blind.

use crate::common::*;
use molecule_mcp::sandbox::Sandbox;
use serde_json::json;

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
        let e = call(
            &engine,
            "set_org_plugin_allowlist",
            json!({ "plugins": [name], "enabled_by": "walk" }),
        )
        .await
        .unwrap_err()
        .envelope();
        assert_eq!(e["status"], 400, "{name}: {e}");
        assert!(e.to_string().contains("invalid plugin name"), "{name}: {e}");
    }
}

/// A template file path must stay inside the template: empty, absolute, with a `\` or
/// a `..` segment is refused.
#[tokio::test]
async fn the_sandbox_refuses_template_files_outside_the_template() {
    let sandbox = Sandbox::start().await.unwrap();
    let engine = engine(sandbox.config());
    for path in ["", "/etc/passwd", "a\\b", "a/../../b"] {
        let e = call(
            &engine,
            "import_template",
            json!({ "name": "x", "files": { path: "b" } }),
        )
        .await
        .unwrap_err()
        .envelope();
        assert_eq!(e["status"], 400, "{path:?}: {e}");
    }
}
