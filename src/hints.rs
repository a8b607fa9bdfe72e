//! Hints in the tool's own words. Upstream error bodies speak HTTP ("use
//! ?cascade=true to pause all", "Re-send … with header X-Confirm-Name: Acme HQ"); an
//! agent calls tools, so the envelope gains a `hint` that names the tool argument
//! (`cascade: true`, `confirm_name: "Acme HQ"`) found through the tool's own argument
//! mapping. The upstream text stays in `detail` unchanged.
//!
//! Pure functions of the tool and the error: no I/O, nothing sent. What the server
//! read after the failure to find out more (src/call/diagnose.rs) arrives in the
//! error's `seen`.

use crate::error::{Found, Seen, ToolError};
use crate::tools::Entry;
use crate::tools::built::tool_name;
use crate::tools::derive::Location;
use crate::tools::row::arg_source;
use crate::{Api, Operation};
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
        api,
        status,
        body,
        seen,
        ..
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
    if let Some(seen) = seen.as_deref()
        && let Some(hint) = from_seen(entry, *status, seen)
    {
        return Some(hint);
    }
    if *status == 404
        && let Some(hint) = not_found(entry, body)
    {
        return Some(hint);
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
                .filter_map(|t| arg_source(&t.tool).map(|s| format!("{}: {s}", t.tool)))
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

/// The tools the hints name as the next call, by the operation they serve.
const LIST_WORKSPACES: &str = tool_name(Operation::ListWorkspaces);
const GET_WORKSPACE: &str = tool_name(Operation::GetWorkspace);
const RESUME_WORKSPACE: &str = tool_name(Operation::ResumeWorkspace);
const REVOKE_ORG_TOKEN: &str = tool_name(Operation::RevokeOrgToken);
const LIST_ORG_TOKENS: &str = tool_name(Operation::ListOrgTokens);

/// What the org id is, in the words of every hint that names it.
fn org_id_is() -> String {
    format!(
        "org_id is the org id: the id of the org's root workspace (the one with parent_id \
         null in {LIST_WORKSPACES}; MOLECULE_ORG_ID)"
    )
}

/// The hint from what the server found out after the failure, if it says more than
/// the status does.
fn from_seen(entry: &Entry, status: u16, seen: &Seen) -> Option<String> {
    let tool = entry.row.name;
    match seen {
        Seen::KeyRefused {
            remote: false,
            revoked_here: true,
        } => Some(format!(
            "This server's own key (MOLECULE_ORG_API_KEY) was revoked by {REVOKE_ORG_TOKEN} \
                 earlier in this session, so the tenant refuses every call. A new Org API Key \
                 is needed: set it as MOLECULE_ORG_API_KEY and restart the server."
        )),
        Seen::KeyRefused {
            remote: true,
            revoked_here: true,
        } => Some(format!(
            "The Org API Key this connection sends was revoked by {REVOKE_ORG_TOKEN} earlier \
                 in this session, so the tenant refuses every call. Send a new Org API Key as \
                 the bearer (Authorization: Bearer <key>)."
        )),
        Seen::KeyRefused { remote, .. } => Some(format!(
            "The tenant does not accept {}: it is mistyped, belongs to another tenant, or was \
             revoked. {}",
            if *remote {
                "the Org API Key this connection sends (Authorization: Bearer)"
            } else {
                "this server's key (MOLECULE_ORG_API_KEY)"
            },
            if *remote {
                "Send a working Org API Key as the bearer."
            } else {
                "Set a working Org API Key as MOLECULE_ORG_API_KEY and restart the server."
            }
        )),
        Seen::Read { arg, id, found } => {
            let id = json!(id);
            let failed = (500..600).contains(&status);
            match found {
                Found::NotAnId => Some(format!(
                    "{arg} {id} is not an id: ids are lowercase UUIDs \
                     (e.g. 11111111-1111-4111-8111-111111111111), never names; {arg}: {}.",
                    arg_source(arg)
                        .or_else(|| arg_source("workspace_id"))
                        .unwrap_or_default()
                )),
                Found::Missing => Some(format!(
                    "No workspace has {arg} {id} ({GET_WORKSPACE} finds none){}; \
                     {LIST_WORKSPACES} lists the valid ids.",
                    if failed {
                        format!(", which is why {tool} failed")
                    } else {
                        String::new()
                    }
                )),
                Found::Workspace { name, status, .. } if status == "removed" => Some(format!(
                    "{arg} {id} is workspace {}, which was deleted (status removed); \
                     {LIST_WORKSPACES} lists the live ones.",
                    json!(name)
                )),
                Found::Workspace {
                    name, status: ws, ..
                } if entry.serves(Operation::PauseWorkspace) && ws == "paused" => Some(format!(
                    "Workspace {} is already paused: nothing to do ({RESUME_WORKSPACE} \
                         resumes it).",
                    json!(name)
                )),
                Found::Workspace {
                    name, status: ws, ..
                } if entry.serves(Operation::ResumeWorkspace) && ws != "paused" => Some(format!(
                    "Workspace {} is not paused (status {ws}): nothing to resume.",
                    json!(name)
                )),
                Found::Workspace {
                    name,
                    parent_id: Some(parent),
                    ..
                } if status == 403 => Some(format!(
                    "{arg} {id} is workspace {}, not an org: {}. Its parent is {parent}.",
                    json!(name),
                    org_id_is()
                )),
                Found::Workspace {
                    parent_id: None, ..
                } if status == 403 => Some(format!(
                    "{arg} {id} is the root of another org than this key's: {}.",
                    org_id_is()
                )),
                Found::Workspace {
                    name, status: ws, ..
                } if failed => Some(format!(
                    "{arg} {id} exists (workspace {}, status {ws}), so it is not the cause: the \
                     tenant failed on its own; try again later.",
                    json!(name)
                )),
                Found::Workspace { .. } => None,
            }
        }
    }
}

/// A 404 the server could not (or need not) check with a read.
fn not_found(entry: &Entry, body: &str) -> Option<String> {
    let takes = |name: &str| entry.derived.input["properties"].get(name).is_some();
    if body.contains("workspace not found") && takes("workspace_id") {
        let also = if body.contains("already paused") {
            format!(" or it is already paused ({GET_WORKSPACE} shows its status)")
        } else if body.contains("not paused") {
            format!(" or it is not paused ({GET_WORKSPACE} shows its status)")
        } else {
            String::new()
        };
        return Some(format!(
            "No workspace has this workspace_id{also}; {LIST_WORKSPACES} lists the valid ids."
        ));
    }
    if body.contains("org not found") && takes("org_id") {
        return Some(format!("No org has this org_id: {}.", org_id_is()));
    }
    if body.contains("token not found") && takes("id") {
        return Some(format!(
            "No live token has this id (a revoked one is gone); {LIST_ORG_TOKENS} lists them."
        ));
    }
    None
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
            .get_or_init(|| Catalog::new().unwrap())
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
            seen: None,
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
            seen: None,
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
            seen: None,
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
