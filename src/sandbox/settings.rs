//! Per-workspace and org settings: secrets (values stored, never returned), the
//! multi-period budget (`budget_limits` replaces the whole set, the legacy
//! `budget_limit` is monthly only) and the LLM billing mode and its resolution
//! (docs/contract.md, "Budgets" and "LLM billing mode").

use super::message::{Handled, Reply, Req};
use super::state::{PERIODS, SecretRow, State, Workspace, now_rfc3339};
use super::workspaces::valid_id;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The key and value of a secret write, or the tenant's 400.
fn secret_body(req: &Req) -> Result<(String, String), Reply> {
    let body = req.body("invalid request body")?;
    let field = |k: &str| body[k].as_str().unwrap_or_default().to_string();
    Ok((field("key"), field("value")))
}

/// Stores `value` under `key`, keeping the creation time of a replaced secret.
fn upsert(map: &mut BTreeMap<String, SecretRow>, key: &str, value: String) {
    let now = now_rfc3339();
    let created_at = map
        .get(key)
        .map_or_else(|| now.clone(), |s| s.created_at.clone());
    map.insert(
        key.to_string(),
        SecretRow {
            value,
            created_at,
            updated_at: now,
        },
    );
}

/// The event of a secret write: the key and scope, never the value.
fn log_secret(st: &mut State, event: &str, workspace: Option<&str>, key: &str) {
    let scope = if workspace.is_some() {
        "workspace"
    } else {
        "global"
    };
    st.event(event, workspace, json!({ "key": key, "scope": scope }));
}

fn metadata<'a>(
    map: &'a BTreeMap<String, SecretRow>,
    scope: &'a str,
) -> impl Iterator<Item = Value> + 'a {
    map.iter().map(move |(key, s)| {
        json!({ "key": key, "has_value": !s.value.is_empty(), "scope": scope,
                "created_at": s.created_at, "updated_at": s.updated_at })
    })
}

/// `GET /workspaces/{id}/secrets`: the workspace's keys, then the global keys it
/// does not override.
pub(super) fn list_workspace_secrets(st: &mut State, req: &Req) -> Handled {
    let id = valid_id(req, "invalid workspace ID")?;
    let empty = BTreeMap::new();
    let own = st.live(id).map_or(&empty, |w| &w.secrets);
    let inherited: BTreeMap<String, SecretRow> = st
        .org_secrets
        .iter()
        .filter(|(k, _)| !own.contains_key(*k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let rows = metadata(own, "workspace").chain(metadata(&inherited, "global"));
    Reply::ok(Value::Array(rows.collect()))
}

/// `POST /workspaces/{id}/secrets`.
pub(super) fn set_workspace_secret(st: &mut State, req: &Req) -> Handled {
    let id = valid_id(req, "invalid workspace ID")?;
    let (key, value) = secret_body(req)?;
    // The tenant's insert fails on the workspace foreign key.
    let ws = st
        .live_mut(id)
        .ok_or_else(|| Reply::error(500, "failed to save secret"))?;
    upsert(&mut ws.secrets, &key, value);
    log_secret(st, "SECRET_SET", Some(id), &key);
    Reply::ok(json!({ "status": "saved", "key": key }))
}

/// `DELETE /workspaces/{id}/secrets/{key}`.
pub(super) fn delete_workspace_secret(st: &mut State, req: &Req) -> Handled {
    let id = valid_id(req, "invalid workspace ID")?;
    let key = req.param("key");
    st.live_mut(id)
        .and_then(|w| w.secrets.remove(key))
        .ok_or_else(|| Reply::error(404, "secret not found"))?;
    log_secret(st, "SECRET_DELETED", Some(id), key);
    Reply::ok(json!({ "status": "deleted", "key": key }))
}

/// `GET /settings/secrets`.
pub(super) fn list_org_secrets(st: &mut State, _req: &Req) -> Handled {
    Reply::ok(Value::Array(metadata(&st.org_secrets, "global").collect()))
}

/// `POST /settings/secrets`.
pub(super) fn set_org_secret(st: &mut State, req: &Req) -> Handled {
    let (key, value) = secret_body(req)?;
    upsert(&mut st.org_secrets, &key, value);
    log_secret(st, "SECRET_SET", None, &key);
    Reply::ok(json!({ "status": "saved", "key": key, "scope": "global" }))
}

/// `DELETE /settings/secrets/{key}`.
pub(super) fn delete_org_secret(st: &mut State, req: &Req) -> Handled {
    let key = req.param("key");
    st.org_secrets
        .remove(key)
        .ok_or_else(|| Reply::error(404, "secret not found"))?;
    log_secret(st, "SECRET_DELETED", None, key);
    Reply::ok(json!({ "status": "deleted", "key": key, "scope": "global" }))
}

/// The budget answer: all four periods plus the legacy monthly trio.
fn budget(ws: &Workspace) -> Value {
    let remaining = |i: usize| ws.limits[i].map(|l| l - ws.spend[i]);
    let periods: serde_json::Map<String, Value> = PERIODS
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let period =
                json!({ "limit": ws.limits[i], "spend": ws.spend[i], "remaining": remaining(i) });
            (p.to_string(), period)
        })
        .collect();
    json!({
        "periods": periods, "budget_limit": ws.limits[3],
        "monthly_spend": ws.spend[3], "budget_remaining": remaining(3),
    })
}

/// `GET /workspaces/{id}/budget`.
pub(super) fn get_budget(st: &mut State, req: &Req) -> Handled {
    st.live(req.id())
        .map(budget)
        .map_or_else(|| Err(Reply::error(404, "workspace not found")), Reply::ok)
}

/// `PATCH /workspaces/{id}/budget`: the live handler's checks in its order, then the spec.
pub(super) fn set_budget(st: &mut State, req: &Req) -> Handled {
    let limits = parse_limits(req)?;
    req.body("invalid request body")?;
    let ws = st
        .live_mut(req.id())
        .ok_or_else(|| Reply::error(404, "workspace not found"))?;
    ws.limits = limits;
    let body = budget(ws);
    let id = ws.id.clone();
    st.event("BUDGET_UPDATED", Some(&id), body["periods"].clone());
    Reply::ok(body)
}

fn parse_limits(req: &Req) -> Result<[Option<i64>; 4], Reply> {
    let bad = |m: String| Reply::error(400, m);
    let body = req
        .object()
        .ok_or_else(|| bad("invalid request body".into()))?;
    let not_a_map = || bad("budget_limits must be an object of period→int|null".into());
    if let Some(map) = body.get("budget_limits") {
        let mut limits = [None; 4];
        for (period, value) in map.as_object().ok_or_else(not_a_map)? {
            let slot = PERIODS.iter().position(|p| p == period).ok_or_else(|| {
                bad(format!(
                    "unknown budget period: {period} (allowed: hourly, daily, weekly, monthly)"
                ))
            })?;
            limits[slot] = match value {
                Value::Null => None,
                v => Some(v.as_i64().ok_or_else(not_a_map)?),
            };
            if limits[slot].is_some_and(|l| l < 0) {
                return Err(bad(format!(
                    "budget limit for {period} must be >= 0 (USD cents)"
                )));
            }
        }
        return Ok(limits);
    }
    let monthly = match body.get("budget_limit") {
        None => return Err(bad("budget_limits or budget_limit field is required".into())),
        Some(Value::Null) => None,
        Some(v) => Some(
            v.as_i64()
                .ok_or_else(|| bad("budget_limit must be an integer (USD cents) or null".into()))?,
        ),
    };
    if monthly.is_some_and(|l| l < 0) {
        return Err(bad("budget_limit must be >= 0 (USD cents)".into()));
    }
    Ok([None, None, None, monthly])
}

/// The modes an override may take.
const MODES: [&str; 3] = ["platform_managed", "byok", "disabled"];

/// The live resolver (docs/contract.md, "LLM billing mode"): an override wins;
/// otherwise the provider derived from the model (`derived_provider`), or the default
/// when there is no workspace row.
fn resolution(id: &str, ws: Option<&Workspace>) -> Value {
    let provider = ws.and_then(|w| w.model.split_once('/').map(|(p, _)| p.to_string()));
    let (resolved, source) = match (ws.and_then(|w| w.billing_override.clone()), &provider) {
        (Some(mode), _) => (mode, "workspace_override"),
        (None, Some(_)) => ("platform_managed".to_string(), "derived_provider"),
        (None, None) => ("platform_managed".to_string(), "derived_default"),
    };
    json!({
        "workspace_id": id, "resolved_mode": resolved,
        "workspace_override": ws.and_then(|w| w.billing_override.clone()),
        "source": source, "provider_selection": provider,
    })
}

/// `GET /admin/workspaces/{id}/llm-billing-mode`: an unknown id is not a 404.
pub(super) fn get_billing_mode(st: &mut State, req: &Req) -> Handled {
    let id = valid_id(req, "invalid workspace id")?;
    Reply::ok(resolution(id, st.live(id)))
}

/// `PUT /admin/workspaces/{id}/llm-billing-mode`: the live handler's checks (the mode is trimmed;
/// `null` clears the override).
pub(super) fn set_billing_mode(st: &mut State, req: &Req) -> Handled {
    let id = valid_id(req, "invalid workspace id")?;
    let body = req.object().ok_or_else(|| {
        Reply::json(
            400,
            json!({ "error": "invalid json", "detail": "body must be a JSON object" }),
        )
    })?;
    let mode = match body.get("mode") {
        None => {
            return Err(Reply::error(
                400,
                "missing required field 'mode' (use null to clear override)",
            ));
        }
        Some(Value::Null) => None,
        Some(Value::String(s)) => match s.trim() {
            "" => {
                return Err(Reply::error(
                    400,
                    "mode must be one of platform_managed, byok, disabled, or null to clear",
                ));
            }
            m if MODES.contains(&m) => Some(m.to_string()),
            m => {
                return Err(Reply::error(
                    400,
                    format!(
                        "unknown billing mode \"{m}\" (allowed: platform_managed, byok, disabled)"
                    ),
                ));
            }
        },
        Some(other) => {
            return Err(Reply::json(
                400,
                json!({ "error": "mode must be a string or null", "detail": format!("got {other}") }),
            ));
        }
    };
    let ws = st
        .live_mut(id)
        .ok_or_else(|| Reply::error(404, "workspace not found"))?;
    ws.billing_override = mode.clone();
    st.event("LLM_BILLING_MODE_SET", Some(id), json!({ "mode": mode }));
    Reply::ok(resolution(id, st.live(id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_workspace_without_override_derives_the_provider_from_its_model() {
        let ws = Workspace::new("w".into(), "n".into(), None);
        let r = resolution("w", Some(&ws));
        assert_eq!(r["source"], "derived_provider");
        assert_eq!(r["provider_selection"], "anthropic");
        assert_eq!(resolution("w", None)["source"], "derived_default");
    }
}
