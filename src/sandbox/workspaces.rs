//! Workspace lifecycle: list, get, provision, deprovision, restart, pause, resume
//! (docs/contract.md, "Workspace lifecycle": `X-Confirm-Name`, `?confirm=true`
//! to cascade a delete, `?cascade=true` to pause or resume a workspace with
//! descendants). Provisioning is instant but shows: a workspace reads as
//! `provisioning` once, and is `online` from the next read on.

use super::message::{Handled, Reply, Req};
use super::state::{DEFAULT_MODEL, State, Workspace, is_uuid, unix_now};
use serde_json::{Value, json};

/// Characters the tenant refuses in a name or role.
const FORBIDDEN: &[char] = &['{', '}', '[', ']', '|', '>', '*', '&', '!'];

/// `GET /workspaces`: live workspaces, oldest first.
pub(super) fn list(st: &mut State, _req: &Req) -> Handled {
    let rows: Vec<Value> = st
        .workspaces
        .iter()
        .filter(|w| w.live())
        .map(summary)
        .collect();
    finish_provisioning(st, |_| true);
    Reply::ok(Value::Array(rows))
}

/// `GET /workspaces/{id}`: any workspace, removed ones included.
pub(super) fn get(st: &mut State, req: &Req) -> Handled {
    let id = valid_id(req, "invalid workspace ID")?;
    let ws = st
        .find(id)
        .ok_or_else(|| Reply::error(404, "workspace not found"))?;
    let body = json!({
        "id": ws.id, "name": ws.name, "role": ws.role, "tier": ws.tier, "status": ws.status,
        "url": "", "parent_id": ws.parent_id, "active_tasks": 0, "max_concurrent_tasks": 1,
        "last_error_rate": 0.0, "uptime_seconds": uptime(ws), "runtime": ws.runtime,
        "x": 0.0, "y": 0.0, "collapsed": false, "agent_card": null, "last_outbound_at": null,
    });
    finish_provisioning(st, |w| w.id == id);
    Reply::ok(body)
}

fn summary(ws: &Workspace) -> Value {
    json!({
        "id": ws.id, "name": ws.name, "role": ws.role, "tier": ws.tier, "status": ws.status,
        "url": "", "parent_id": ws.parent_id, "active_tasks": 0, "max_concurrent_tasks": 1,
        "last_error_rate": 0.0, "last_sample_error": "", "uptime_seconds": uptime(ws),
        "current_task": "", "runtime": ws.runtime, "workspace_dir": null,
        "monthly_spend": ws.spend[3], "budget_limit": ws.limits[3],
        "x": 0.0, "y": 0.0, "collapsed": false, "agent_card": null,
    })
}

fn uptime(ws: &Workspace) -> u64 {
    match (ws.status, ws.online_since) {
        ("online", Some(since)) => unix_now().saturating_sub(since),
        _ => 0,
    }
}

/// Workspaces that were just read while provisioning (`read`) come online.
fn finish_provisioning(st: &mut State, read: impl Fn(&Workspace) -> bool) {
    let mut done = Vec::new();
    for ws in st.workspaces.iter_mut() {
        if ws.status == "provisioning" && read(ws) {
            ws.status = "online";
            ws.online_since = Some(unix_now());
            done.push((ws.id.clone(), ws.name.clone()));
        }
    }
    for (id, name) in done {
        st.event("WORKSPACE_ONLINE", Some(&id), json!({ "name": name }));
    }
}

/// The `{id}` parameter when it is a lowercase UUID, else a 400 with `message`.
pub(super) fn valid_id<'r>(req: &'r Req, message: &str) -> Result<&'r str, Reply> {
    let id = req.id();
    if is_uuid(id) {
        Ok(id)
    } else {
        Err(Reply::error(400, message))
    }
}

/// `POST /workspaces`.
pub(super) fn provision(st: &mut State, req: &Req) -> Handled {
    let body = req.body("invalid workspace payload")?;
    let text = |key: &str| body.get(key).and_then(Value::as_str);
    let name = text("name").unwrap_or_default();
    if name.is_empty() {
        return Err(Reply::error(400, "invalid workspace payload"));
    }
    let limits = [
        ("name", 255),
        ("role", 1000),
        ("model", 100),
        ("runtime", 100),
    ];
    let bad_field = limits.iter().any(|(key, max)| {
        text(key).is_some_and(|v| {
            v.len() > *max
                || v.contains(['\n', '\r'])
                || (matches!(*key, "name" | "role") && v.contains(FORBIDDEN))
        })
    });
    if bad_field {
        return Err(Reply::error(400, "invalid workspace fields"));
    }
    let template = match text("template") {
        Some(t) if t.contains("..") || t.contains(['/', '\\']) => {
            return Err(Reply::error(400, "invalid template"));
        }
        Some(t) => st.templates.get(t).cloned(),
        None => None,
    };
    let parent = text("parent_id");
    if parent.is_some_and(|p| st.find(p).is_none()) {
        // The tenant's insert fails on the parent foreign key.
        return Err(Reply::error(500, "failed to create workspace"));
    }
    // The call's value, else the template's, else the tenant default.
    let pick = |key: &str| body.get(key).or(template.as_ref().and_then(|t| t.get(key)));
    let runtime = pick("runtime")
        .and_then(Value::as_str)
        .unwrap_or("claude-code");
    let model = pick("model")
        .and_then(Value::as_str)
        .unwrap_or(DEFAULT_MODEL);
    let tier = pick("tier").and_then(Value::as_i64).unwrap_or(3);
    let external = runtime == "external";
    let id = st.spawn(name, parent, |ws| {
        ws.role = text("role").map(String::from);
        ws.tier = tier;
        ws.runtime = runtime.into();
        ws.model = model.into();
        if external {
            ws.status = "awaiting_agent";
        }
    });
    if !external {
        return Reply::created(json!({
            "id": id, "status": "provisioning",
            "awareness_namespace": format!("workspace:{id}"), "workspace_access": "none",
        }));
    }
    let token = st.new_token("ws_");
    st.workspace_tokens.push(super::state::WorkspaceToken {
        workspace_id: id.clone(),
        token: token.clone(),
    });
    let base = st.tenant_url.clone();
    Reply::created(json!({
        "id": id, "external": true, "status": "awaiting_agent",
        "connection": {
            "workspace_id": id, "platform_url": base, "auth_token": token,
            "registry_endpoint": format!("{base}/registry/register"),
            "heartbeat_endpoint": format!("{base}/registry/heartbeat"),
            "curl_register_template": format!(
                "curl -X POST {base}/registry/register -H 'Authorization: Bearer <auth_token>' \
                 -H 'Content-Type: application/json' -d '{{\"id\":\"{id}\",\"url\":\"<agent url>\"}}'"
            ),
            "python_snippet": format!(
                "import requests\nrequests.post(\"{base}/registry/register\", \
                 headers={{\"Authorization\": \"Bearer <auth_token>\"}}, \
                 json={{\"id\": \"{id}\", \"url\": \"<agent url>\"}})"
            ),
        },
    }))
}

/// `DELETE /workspaces/{id}`: `X-Confirm-Name` must match when given; children need
/// `?confirm=true`; `?purge=true` deletes the rows instead of marking them removed.
pub(super) fn deprovision(st: &mut State, req: &Req) -> Handled {
    let id = valid_id(req, "invalid workspace ID")?;
    let ws = st
        .find(id)
        .ok_or_else(|| Reply::error(404, "workspace not found"))?;
    if !ws.live() {
        return Err(Reply::json(
            410,
            json!({ "error": "workspace removed", "id": id }),
        ));
    }
    let children: Vec<Value> = st
        .children(id)
        .iter()
        .map(|c| json!({ "id": c.id, "name": c.name }))
        .collect();
    if req.header("x-confirm-name").is_some_and(|n| n != ws.name) {
        return Err(Reply::json(
            400,
            json!({
                "error": "destructive_action_requires_confirmation",
                "hint": format!("Re-send the same request with header X-Confirm-Name: {}", ws.name),
                "workspace_name": ws.name, "active_tasks": 0, "child_count": children.len(),
            }),
        ));
    }
    if !children.is_empty() && !req.flag("confirm") {
        return Err(Reply::json(
            409,
            json!({
                "status": "confirmation_required",
                "message": "This workspace has sub-workspaces. Delete with ?confirm=true to cascade delete.",
                "children_count": children.len(), "children": children,
            }),
        ));
    }
    let mut doomed = vec![id.to_string()];
    doomed.extend(st.descendants(id));
    let purge = req.flag("purge");
    for gone in &doomed {
        if let Some(w) = st.workspaces.iter_mut().find(|w| &w.id == gone) {
            w.status = "removed";
        }
        st.event("WORKSPACE_REMOVED", Some(gone), json!({ "purge": purge }));
    }
    if purge {
        st.workspaces.retain(|w| !doomed.contains(&w.id));
    }
    st.workspace_tokens
        .retain(|t| !doomed.contains(&t.workspace_id));
    Reply::ok(json!({
        "status": if purge { "purged" } else { "removed" },
        "cascade_deleted": doomed.len() - 1,
    }))
}

/// The 409 the tenant answers when a workspace's parent is paused.
fn parent_paused(st: &State, ws: &Workspace) -> Result<(), Reply> {
    match ws.parent_id.as_deref().and_then(|p| st.live(p)) {
        Some(parent) if parent.status == "paused" => Err(Reply::error(
            409,
            format!(
                "parent workspace \"{}\" is paused — resume it first",
                parent.name
            ),
        )),
        _ => Ok(()),
    }
}

/// `POST /workspaces/{id}/restart`: re-provisions.
pub(super) fn restart(st: &mut State, req: &Req) -> Handled {
    req.body("invalid request body")?;
    let ws = st
        .live(req.id())
        .ok_or_else(|| Reply::error(404, "workspace not found"))?;
    parent_paused(st, ws)?;
    let config_dir = format!("/configs/{}", ws.runtime);
    let id = ws.id.clone();
    if let Some(ws) = st.live_mut(&id) {
        ws.status = "provisioning";
    }
    st.event("WORKSPACE_RESTARTING", Some(&id), json!({}));
    Reply::ok(json!({
        "status": "provisioning", "config_dir": config_dir, "reset_session": req.flag("reset"),
    }))
}

/// Pause or resume, which differ only in these words and statuses.
struct Lifecycle {
    verb: &'static str,
    /// Whether a workspace in this status is affected.
    applies: fn(&str) -> bool,
    not_found: &'static str,
    /// The new status, also the reply's `status`.
    to: &'static str,
    count_key: &'static str,
    event: &'static str,
    /// Resume refuses a workspace whose parent is paused.
    check_parent: bool,
}

const PAUSE: Lifecycle = Lifecycle {
    verb: "pause",
    applies: |s| s != "paused",
    not_found: "workspace not found or already paused",
    to: "paused",
    count_key: "paused_count",
    event: "WORKSPACE_PAUSED",
    check_parent: false,
};

const RESUME: Lifecycle = Lifecycle {
    verb: "resume",
    applies: |s| s == "paused",
    not_found: "workspace not found or not paused",
    to: "provisioning",
    count_key: "resumed_count",
    event: "WORKSPACE_RESUMED",
    check_parent: true,
};

/// `POST /workspaces/{id}/pause`.
pub(super) fn pause(st: &mut State, req: &Req) -> Handled {
    lifecycle(st, req, &PAUSE)
}

/// `POST /workspaces/{id}/resume`.
pub(super) fn resume(st: &mut State, req: &Req) -> Handled {
    lifecycle(st, req, &RESUME)
}

fn lifecycle(st: &mut State, req: &Req, lc: &Lifecycle) -> Handled {
    req.body("invalid request body")?;
    let ws = st
        .live(req.id())
        .filter(|w| (lc.applies)(w.status))
        .ok_or_else(|| Reply::error(404, lc.not_found))?;
    if lc.check_parent {
        parent_paused(st, ws)?;
    }
    let id = ws.id.clone();
    let descendants = st.descendants(&id);
    if !descendants.is_empty() && !req.flag("cascade") {
        let listed: Vec<Value> = descendants
            .iter()
            .filter_map(|d| st.find(d))
            .map(|d| json!({ "id": d.id, "name": d.name }))
            .collect();
        return Err(Reply::json(
            409,
            json!({
                "error": format!("workspace has descendants — use ?cascade=true to {} all", lc.verb),
                "descendants": listed,
            }),
        ));
    }
    let mut count = 0;
    for target in std::iter::once(id).chain(descendants) {
        if let Some(ws) = st.live_mut(&target).filter(|w| (lc.applies)(w.status)) {
            ws.status = lc.to;
            count += 1;
            st.event(lc.event, Some(&target), json!({}));
        }
    }
    Reply::ok(json!({ "status": lc.to, lc.count_key: count }))
}
