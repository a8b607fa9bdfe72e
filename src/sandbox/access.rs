//! Who may do what: org API tokens (minted once in plaintext, listed by prefix,
//! revoked; at most 10 mints an hour), workspace tokens (at most 50 live per
//! workspace) and the org plugin allowlist (with the tenant's ownership check).
//! Minted tokens are real credentials of the sandbox: they pass its gates until
//! revoked.

use super::message::{Handled, Principal, Reply, Req};
use super::state::{AllowEntry, State, WorkspaceToken, now_rfc3339, unix_now};
use super::workspaces::valid_id;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Org-token mints allowed per hour (the tenant's per-IP limiter on `POST /org/tokens`).
const MINTS_PER_HOUR: usize = 10;
/// Live tokens allowed per workspace.
const WORKSPACE_TOKENS: usize = 50;

/// `POST /org/tokens`: 200 with the plaintext, once.
pub(super) fn mint_org_token(st: &mut State, req: &Req) -> Handled {
    // Checked in bytes, before the schema (which counts characters), as Go does.
    if req
        .json()
        .is_some_and(|b| b["name"].as_str().is_some_and(|n| n.len() > 100))
    {
        return Err(Reply::error(400, "name too long (max 100 chars)"));
    }
    let body = req.body("invalid request body")?;
    let now = unix_now();
    st.mints.retain(|t| now.saturating_sub(*t) < 3_600);
    if st.mints.len() >= MINTS_PER_HOUR {
        let wait = st
            .mints
            .first()
            .map_or(3_600, |oldest| 3_600 - now.saturating_sub(*oldest));
        let mut reply = Reply::json(
            429,
            json!({ "error": "rate limit exceeded", "retry_after": wait }),
        );
        reply.headers.push(("retry-after", wait.to_string()));
        return Err(reply);
    }
    st.mints.push(now);
    let (created_by, org_id) = match &req.caller {
        Principal::OrgToken { prefix, org_id } => (format!("org-token:{prefix}"), org_id.clone()),
        _ => ("admin-token".to_string(), None),
    };
    let name = body["name"]
        .as_str()
        .filter(|n| !n.is_empty())
        .map(String::from);
    let token = st.mint_org_token(name, org_id, &created_by);
    let row = st
        .org_tokens
        .iter()
        .find(|t| t.token == token)
        .cloned()
        .ok_or_else(|| Reply::error(500, "failed to mint token"))?;
    st.event(
        "ORG_TOKEN_MINTED",
        None,
        json!({ "id": row.id, "prefix": row.prefix() }),
    );
    let mut out = json!({
        "id": row.id, "prefix": row.prefix(), "auth_token": token,
        "warning": "copy this token now; it will not be shown again",
    });
    if let Some(name) = row.name {
        out["name"] = json!(name);
    }
    Reply::ok(out)
}

/// `GET /org/tokens`: live tokens, newest first, no secrets.
pub(super) fn list_org_tokens(st: &mut State, _req: &Req) -> Handled {
    let tokens: Vec<Value> = st
        .org_tokens
        .iter()
        .rev()
        .take(500)
        .map(|t| {
            let mut row = json!({ "id": t.id, "prefix": t.prefix(), "created_by": t.created_by, "created_at": t.created_at });
            let optional = [
                ("name", &t.name),
                ("org_id", &t.org_id),
                ("last_used_at", &t.last_used_at),
            ];
            for (key, value) in optional {
                if let Some(v) = value {
                    row[key] = json!(v);
                }
            }
            row
        })
        .collect();
    Reply::ok(json!({ "count": tokens.len(), "tokens": tokens }))
}

/// `DELETE /org/tokens/{id}`.
pub(super) fn revoke_org_token(st: &mut State, req: &Req) -> Handled {
    let id = req.id();
    let index = st
        .org_tokens
        .iter()
        .position(|t| t.id == id)
        .ok_or_else(|| Reply::error(404, "token not found or already revoked"))?;
    let row = st.org_tokens.remove(index);
    st.event(
        "ORG_TOKEN_REVOKED",
        None,
        json!({ "id": id, "prefix": row.prefix() }),
    );
    Reply::ok(json!({ "revoked": id }))
}

/// `POST /admin/workspaces/{id}/tokens`: 201 with the plaintext, once.
pub(super) fn mint_workspace_token(st: &mut State, req: &Req) -> Handled {
    let id = valid_id(req, "invalid workspace id")?;
    req.body("invalid request body")?;
    st.live(id)
        .ok_or_else(|| Reply::error(404, "workspace not found"))?;
    if st
        .workspace_tokens
        .iter()
        .filter(|t| t.workspace_id == id)
        .count()
        >= WORKSPACE_TOKENS
    {
        return Err(Reply::error(429, "maximum 50 active tokens per workspace"));
    }
    let token = st.new_token("ws_");
    st.workspace_tokens.push(WorkspaceToken {
        workspace_id: id.to_string(),
        token: token.clone(),
    });
    st.event("WORKSPACE_TOKEN_MINTED", Some(id), json!({}));
    Reply::created(json!({
        "auth_token": token, "workspace_id": id,
        "message": "Save this token now — it cannot be retrieved again.",
    }))
}

/// The org root `{id}` must exist (404) and an org-token caller must be anchored to
/// it (403).
fn owned_org<'r>(st: &State, req: &'r Req) -> Result<&'r str, Reply> {
    let id = req.id();
    st.live(id)
        .ok_or_else(|| Reply::error(404, "org not found"))?;
    match &req.caller {
        Principal::OrgToken { org_id, .. } if org_id.as_deref() != Some(id) => {
            Err(Reply::error(403, "org access denied"))
        }
        _ => Ok(id),
    }
}

/// `GET /orgs/{id}/plugins/allowlist`: sorted by name; empty means all allowed.
pub(super) fn get_allowlist(st: &mut State, req: &Req) -> Handled {
    let id = owned_org(st, req)?;
    let empty = BTreeMap::new();
    let entries = st.allowlists.get(id).unwrap_or(&empty);
    let plugins: Vec<Value> = entries
        .iter()
        .map(|(name, e)| json!({ "plugin_name": name, "enabled_by": e.enabled_by, "enabled_at": e.enabled_at }))
        .collect();
    Reply::ok(json!({ "org_id": id, "allow_all": plugins.is_empty(), "plugins": plugins }))
}

/// `PUT /orgs/{id}/plugins/allowlist`: replaces the set; the body checks come
/// before the org lookup, in the tenant's order.
pub(super) fn set_allowlist(st: &mut State, req: &Req) -> Handled {
    let raw = req
        .object()
        .ok_or_else(|| Reply::error(400, "invalid request body"))?;
    let plugins_ok = raw.get("plugins").is_none_or(|p| {
        p.is_null()
            || p.as_array()
                .is_some_and(|list| list.iter().all(Value::is_string))
    });
    if !plugins_ok || raw.get("enabled_by").is_some_and(|e| !e.is_string()) {
        return Err(Reply::error(400, "invalid request body"));
    }
    let enabled_by = raw["enabled_by"].as_str().unwrap_or_default();
    if enabled_by.is_empty() {
        return Err(Reply::error(400, "enabled_by is required"));
    }
    let names: Vec<&str> = raw["plugins"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    for name in &names {
        if let Some(detail) = plugin_name_problem(name) {
            return Err(Reply::json(
                400,
                json!({ "error": "invalid plugin name", "plugin_name": name, "detail": detail }),
            ));
        }
    }
    req.body("invalid request body")?;
    let id = owned_org(st, req)?;
    let now = now_rfc3339();
    let entries = names
        .iter()
        .map(|n| {
            let entry = AllowEntry {
                enabled_by: enabled_by.to_string(),
                enabled_at: now.clone(),
            };
            (n.to_string(), entry)
        })
        .collect();
    st.allowlists.insert(id.to_string(), entries);
    st.event(
        "PLUGIN_ALLOWLIST_UPDATED",
        Some(id),
        json!({ "plugins": names, "enabled_by": enabled_by }),
    );
    Reply::ok(json!({ "org_id": id, "plugins": raw["plugins"], "allow_all": names.is_empty() }))
}

/// Why `name` cannot be a plugin name (it must be one path segment).
fn plugin_name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("plugin name must not be empty")
    } else if name.contains(['/', '\\']) || name.contains("..") {
        Some("plugin name must be a bare name: no '/', '\\' or '..'")
    } else {
        None
    }
}
