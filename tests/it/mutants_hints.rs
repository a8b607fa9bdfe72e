//! Hints pinned where mutation testing (TESTING.md) found the suite blind.

use molecule_mcp::Api;
use molecule_mcp::error::ToolError;
use molecule_mcp::tools::Catalog;
use serde_json::json;

/// The tenant's "X-Confirm-Name: NAME" may sit in any string of the body, inside an
/// array too: the agent is still told the tool argument and the name to give.
#[test]
fn a_confirm_name_asked_for_inside_an_array_is_named_as_the_tool_argument() {
    let catalog = Catalog::new().unwrap();
    let entry = catalog.get("deprovision_workspace").unwrap();
    let error = ToolError::Http {
        api: Api::Tenant,
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
