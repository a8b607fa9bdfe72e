//! Hints in the tool's own words. Upstream error bodies speak HTTP ("use
//! ?cascade=true to pause all", "Re-send … with header X-Confirm-Name: Acme HQ"); an
//! agent calls tools, so the envelope gains a `hint` that names the tool argument
//! (`cascade: true`, `confirm_name: "Acme HQ"`) found through the tool's own argument
//! mapping. The upstream text stays in `detail` unchanged.
//!
//! Pure functions of the tool and the error: no I/O, nothing sent.

use crate::Api;
use crate::error::ToolError;
use crate::tools::Entry;
use crate::tools::schema::Location;
use serde_json::{Value, json};

/// The wire envelope of `error` from tool `entry`, with a `hint` where one applies.
pub fn envelope(entry: &Entry, error: &ToolError) -> Value {
    let mut envelope = error.envelope();
    if let Some(hint) = hint(entry, error) {
        envelope["hint"] = json!(hint);
    }
    envelope
}

/// What the agent should do next, in the tool's argument names, or `None`.
pub fn hint(entry: &Entry, error: &ToolError) -> Option<String> {
    let ToolError::Http {
        api, status, body, ..
    } = error
    else {
        return None;
    };
    let tool = entry.row.name;
    if (300..400).contains(status) {
        let var = match api {
            Api::Tenant => "MOLECULE_API_URL",
            Api::ControlPlane => "MOLECULE_CP_URL",
        };
        return Some(format!(
            "The host answered with a redirect, which this server never follows (it would carry \
             the credential elsewhere). Check the scheme (https, not http) and the path of {var}: \
             it is the base URL, with no path or trailing route."
        ));
    }
    // The argument the tool exposes for a spec parameter, if it has one.
    let arg = |spec: &str, location: Location| -> Option<String> {
        entry
            .derived
            .plans
            .iter()
            .flat_map(|p| &p.targets)
            .find(|t| t.spec.eq_ignore_ascii_case(spec) && t.location == location)
            .map(|t| t.tool.clone())
    };
    if body.contains("cascade=true")
        && let Some(name) = arg("cascade", Location::Query)
    {
        return Some(format!(
            "The workspace has sub-workspaces (listed in detail). Call {tool} again with \
             {name}: true to include all of them, or call it on each one."
        ));
    }
    if body.contains("confirm=true")
        && let Some(name) = arg("confirm", Location::Query)
    {
        return Some(format!(
            "The workspace has sub-workspaces (listed in detail). Call {tool} again with \
             {name}: true to delete it and all of them; this cannot be undone, so confirm \
             with the user first."
        ));
    }
    if let Some(expected) = confirm_name_in(body)
        && let Some(name) = arg("X-Confirm-Name", Location::Header)
    {
        return Some(format!(
            "{name} must be the workspace's exact name: call {tool} again with {name}: {}.",
            json!(expected)
        ));
    }
    if *status == 400 && body.to_ascii_lowercase().contains("invalid") {
        let lower = body.to_ascii_lowercase();
        if lower.contains(" id") || lower.contains("uuid") {
            let ids: Vec<String> = entry
                .derived
                .plans
                .iter()
                .flat_map(|p| &p.targets)
                .filter(|t| t.location == Location::Path)
                .filter_map(|t| id_source(&t.tool).map(|s| format!("{}: {s}", t.tool)))
                .collect();
            if !ids.is_empty() {
                return Some(format!(
                    "The tenant did not accept the id. Ids are lowercase UUIDs \
                     (e.g. 11111111-1111-4111-8111-111111111111), never names. {}.",
                    ids.join("; ")
                ));
            }
        }
    }
    None
}

/// Where an id argument's values come from.
fn id_source(arg: &str) -> Option<&'static str> {
    match arg {
        "workspace_id" => Some("the `id` of a workspace from list_workspaces"),
        "org_id" => Some(
            "the org id (MOLECULE_ORG_ID; in list_workspaces, the id of the root workspace, \
             the one with parent_id null)",
        ),
        "id" => Some("the `id` of a token from list_org_tokens"),
        _ => None,
    }
}

/// The name an upstream "… X-Confirm-Name: NAME" hint asks for: read from the JSON
/// body's strings (the tenant's `hint` field), up to the end of that string.
fn confirm_name_in(body: &str) -> Option<String> {
    const MARK: &str = "X-Confirm-Name:";
    let value: Value = serde_json::from_str(body).ok()?;
    let mut found = None;
    walk_strings(&value, &mut |s| {
        if found.is_none()
            && let Some(at) = s.find(MARK)
        {
            let name = s[at + MARK.len()..].trim();
            if !name.is_empty() {
                found = Some(name.to_string());
            }
        }
    });
    found
}

fn walk_strings(value: &Value, f: &mut dyn FnMut(&str)) {
    match value {
        Value::String(s) => f(s),
        Value::Array(items) => items.iter().for_each(|v| walk_strings(v, f)),
        Value::Object(map) => map.values().for_each(|v| walk_strings(v, f)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::Catalog;
    use std::sync::OnceLock;

    fn entry(name: &str) -> &'static Entry {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        CATALOG
            .get_or_init(|| Catalog::load().unwrap())
            .get(name)
            .unwrap()
    }

    fn http(status: u16, body: Value) -> ToolError {
        ToolError::Http {
            api: Api::Tenant,
            status,
            body: body.to_string(),
            cut: false,
            attempts: 1,
        }
    }

    #[test]
    fn cascade_is_named_as_the_tool_argument() {
        let e = http(
            409,
            json!({ "error": "workspace has descendants — use ?cascade=true to pause all" }),
        );
        let h = hint(entry("pause_workspace"), &e).unwrap();
        assert!(
            h.contains("pause_workspace again with cascade: true"),
            "{h}"
        );
        assert!(!h.contains('?'), "{h}");
        let h = hint(entry("resume_workspace"), &e).unwrap();
        assert!(
            h.contains("resume_workspace again with cascade: true"),
            "{h}"
        );
        // A tool without a cascade argument gets no made-up one.
        assert_eq!(hint(entry("restart_workspace"), &e), None);
    }

    #[test]
    fn confirm_and_confirm_name_are_named_as_the_tool_arguments() {
        let e = http(
            409,
            json!({ "status": "confirmation_required",
                    "message": "This workspace has sub-workspaces. Delete with ?confirm=true to cascade delete." }),
        );
        let h = hint(entry("deprovision_workspace"), &e).unwrap();
        assert!(
            h.contains("with confirm: true") && h.contains("cannot be undone"),
            "{h}"
        );

        let e = http(
            400,
            json!({ "error": "destructive_action_requires_confirmation",
                    "hint": "Re-send the same request with header X-Confirm-Name: Acme HQ" }),
        );
        let h = hint(entry("deprovision_workspace"), &e).unwrap();
        assert!(h.contains(r#"confirm_name: "Acme HQ""#), "{h}");
        assert!(!h.contains("X-Confirm-Name"), "{h}");
    }

    #[test]
    fn an_invalid_id_says_what_an_id_looks_like_and_where_it_comes_from() {
        let e = http(400, json!({ "error": "invalid workspace ID" }));
        let h = hint(entry("get_workspace"), &e).unwrap();
        assert!(
            h.contains("UUID") && h.contains("workspace_id") && h.contains("list_workspaces"),
            "{h}"
        );
        let h = hint(entry("get_org_plugin_allowlist"), &e).unwrap();
        assert!(h.contains("org_id") && h.contains("MOLECULE_ORG_ID"), "{h}");
        let h = hint(entry("revoke_org_token"), &e).unwrap();
        assert!(
            h.contains("id: the `id` of a token from list_org_tokens"),
            "{h}"
        );
        // Tools with no id in the path get none.
        assert_eq!(hint(entry("list_workspaces"), &e), None);
        // Another 400 is not about the id.
        let other = http(400, json!({ "error": "invalid request body" }));
        assert_eq!(hint(entry("get_workspace"), &other), None);
    }

    #[test]
    fn a_redirect_points_at_the_base_url_variable() {
        let e = ToolError::Http {
            api: Api::Tenant,
            status: 302,
            body: String::new(),
            cut: false,
            attempts: 1,
        };
        let h = hint(entry("list_workspaces"), &e).unwrap();
        assert!(
            h.contains("MOLECULE_API_URL") && h.contains("scheme"),
            "{h}"
        );
        let cp = ToolError::Http {
            api: Api::ControlPlane,
            status: 301,
            body: String::new(),
            cut: false,
            attempts: 1,
        };
        assert!(
            hint(entry("list_orgs"), &cp)
                .unwrap()
                .contains("MOLECULE_CP_URL")
        );
    }

    #[test]
    fn the_envelope_keeps_the_upstream_text_in_detail() {
        let e = http(409, json!({ "error": "use ?cascade=true to pause all" }));
        let env = envelope(entry("pause_workspace"), &e);
        assert_eq!(
            env["detail"],
            json!({ "error": "use ?cascade=true to pause all" }).to_string()
        );
        assert_eq!(env["status"], 409);
        assert!(env["hint"].as_str().unwrap().contains("cascade: true"));
        let other = ToolError::InvalidArguments(vec!["x".into()]);
        assert!(
            envelope(entry("pause_workspace"), &other)
                .get("hint")
                .is_none()
        );
    }
}
