//! What workspaces are made from: workspace templates (list, import), org templates
//! (list, import with the required-env preflight) and bundles (export of what
//! exists, recursively; import creates the tree).

use super::message::{Handled, Reply, Req};
use super::state::{State, Workspace};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

/// Bundle fields the sandbox keeps per workspace so an import exports unchanged.
const BUNDLE_EXTRAS: [&str; 6] = [
    "system_prompt",
    "skills",
    "tools",
    "prompts",
    "agent_card",
    "author",
];

/// `GET /templates`.
pub(super) fn list_templates(st: &mut State, _req: &Req) -> Handled {
    Reply::ok(Value::Array(st.templates.values().cloned().collect()))
}

/// `POST /templates/import`: the id is the normalised name; `config.yaml`, when
/// given, supplies description, runtime, model and tier; `skills/<name>/...` files
/// are the skills.
pub(super) fn import_template(st: &mut State, req: &Req) -> Handled {
    if let Some(n) = req
        .json()
        .and_then(|b| b.get("files").and_then(Value::as_object).map(Map::len))
        .filter(|n| *n > 200)
    {
        return Err(Reply::error(400, format!("too many files ({n}), max 200")));
    }
    let body = req.body("invalid request body")?;
    let name = body["name"].as_str().unwrap_or_default();
    let files = body["files"].as_object().cloned().unwrap_or_default();
    let escapes = |p: &str| {
        p.is_empty() || p.starts_with('/') || p.contains('\\') || p.split('/').any(|s| s == "..")
    };
    if files.keys().any(|p| escapes(p)) {
        return Err(Reply::error(400, "invalid request body"));
    }
    let id = template_id(name);
    if st.templates.contains_key(&id) {
        return Err(Reply::json(
            409,
            json!({ "error": "template already exists", "id": id }),
        ));
    }
    let config: Value = files
        .get("config.yaml")
        .and_then(Value::as_str)
        .and_then(|text| yaml_serde::from_str(text).ok())
        .unwrap_or(Value::Null);
    let skills: BTreeSet<&str> = files
        .keys()
        .filter_map(|p| p.strip_prefix("skills/")?.split_once('/').map(|(s, _)| s))
        .collect();
    let text = |key: &str, default: &str| {
        config[key]
            .as_str()
            .map_or_else(|| default.to_string(), String::from)
    };
    let summary = json!({
        "id": id, "name": name, "description": text("description", ""),
        "tier": config["tier"].as_i64().unwrap_or(3),
        "runtime": text("runtime", "claude-code"),
        "model": text("model", super::state::DEFAULT_MODEL),
        // The tenant answers null (a nil Go slice) for a template without skills.
        "skills": if skills.is_empty() { Value::Null } else { json!(skills) },
        "skill_count": skills.len(),
    });
    st.templates.insert(id.clone(), summary);
    st.event(
        "TEMPLATE_IMPORTED",
        None,
        json!({ "id": id, "files": files.len() }),
    );
    Reply::created(json!({ "status": "imported", "id": id, "name": name }))
}

/// The tenant's template id: lowercase, spaces and hyphens to `-`, only
/// `[a-z0-9_-]` kept, `unnamed` when nothing is left.
fn template_id(name: &str) -> String {
    let id: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c == ' ' { '-' } else { c })
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-'))
        .collect();
    if id.is_empty() { "unnamed".into() } else { id }
}

/// `GET /org/templates`.
pub(super) fn list_org_templates(st: &mut State, _req: &Req) -> Handled {
    let rows = st.org_templates.iter().map(|t| {
        let tpl = &t.template;
        json!({
            "dir": t.dir, "name": tpl["name"], "description": tpl["description"].as_str().unwrap_or_default(),
            "workspaces": count_nodes(&tpl["workspaces"]),
            "required_env": tpl["required_env"], "recommended_env": tpl["recommended_env"],
        })
    });
    Reply::ok(Value::Array(rows.collect()))
}

fn count_nodes(nodes: &Value) -> usize {
    nodes.as_array().map_or(0, |list| {
        list.iter().map(|n| 1 + count_nodes(&n["children"])).sum()
    })
}

/// `POST /org/import`: by `dir` or inline `template`; 412 when a required env var
/// is not an org secret (unless `force`); creates the workspace tree.
pub(super) fn import_org(st: &mut State, req: &Req) -> Handled {
    let raw = req
        .object()
        .ok_or_else(|| Reply::error(400, "invalid request body"))?;
    let dir = raw["dir"].as_str().filter(|d| !d.is_empty());
    let inline_named = raw["template"]["name"]
        .as_str()
        .is_some_and(|n| !n.is_empty());
    if dir.is_none() && !inline_named {
        return Err(Reply::error(400, "provide 'dir' or 'template'"));
    }
    let body = req.body("invalid request body")?;
    let template = match dir {
        Some(d) if d.contains("..") || d.contains(['/', '\\']) => {
            return Err(Reply::error(400, "invalid org directory"));
        }
        Some(d) => st
            .org_templates
            .iter()
            .find(|t| t.dir == d)
            .map(|t| t.template.clone())
            .ok_or_else(|| Reply::error(404, format!("org template not found: {d}")))?,
        None => body["template"].clone(),
    };
    let org = template["name"].as_str().unwrap_or_default().to_string();
    let required = template["required_env"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let missing: Vec<&Value> = required.iter().filter(|r| !env_satisfied(st, r)).collect();
    if !missing.is_empty() && body["force"] != true {
        return Err(Reply::json(
            412,
            json!({
                "error": "missing required environment variables",
                "missing_env": missing, "required_env": required, "template": org,
                "suggestion": "set them as org secrets (set_org_secret), or pass force=true to skip this check",
            }),
        ));
    }
    let nodes = template["workspaces"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !nodes.iter().all(well_formed) {
        return Err(Reply::error(400, "invalid org template"));
    }
    let mut created = Vec::new();
    if body["mode"] == "reconcile" {
        // The template's tree first (what exists is kept), then every live
        // workspace it does not name is deleted with its sub-workspaces
        // (docs/contract.md, "Org templates").
        let mut kept = Vec::new();
        for node in &nodes {
            reconcile_node(st, node, None, &mut created, &mut kept);
        }
        let doomed: Vec<String> = st
            .workspaces
            .iter()
            .filter(|w| w.live() && !kept.contains(&w.id))
            .map(|w| w.id.clone())
            .collect();
        for gone in doomed {
            if let Some(w) = st.live_mut(&gone) {
                w.status = "removed";
                st.event("WORKSPACE_REMOVED", Some(&gone), json!({ "purge": false }));
            }
        }
        st.workspace_tokens
            .retain(|t| kept.contains(&t.workspace_id));
    } else {
        for node in &nodes {
            spawn_node(st, node, None, &mut created);
        }
    }
    st.event(
        "ORG_IMPORTED",
        None,
        json!({ "org": org, "count": created.len() }),
    );
    Reply::created(json!({ "org": org, "count": created.len(), "workspaces": created }))
}

/// A required-env entry is met by an org secret of that name, or of any name in
/// `{"any_of": [...]}`.
fn env_satisfied(st: &State, entry: &Value) -> bool {
    match entry {
        Value::String(name) => st.org_secrets.contains_key(name),
        other => other["any_of"].as_array().is_some_and(|names| {
            names
                .iter()
                .any(|n| n.as_str().is_some_and(|n| st.org_secrets.contains_key(n)))
        }),
    }
}

fn well_formed(node: &Value) -> bool {
    node["name"].as_str().is_some_and(|n| !n.is_empty())
        && node["children"]
            .as_array()
            .is_none_or(|c| c.iter().all(well_formed))
}

fn spawn_node(st: &mut State, node: &Value, parent: Option<&str>, out: &mut Vec<Value>) {
    let id = spawn_one(st, node, parent, out);
    for child in node["children"].as_array().into_iter().flatten() {
        spawn_node(st, child, Some(&id), out);
    }
}

/// Creates the workspace of one template node (not its children); its id.
fn spawn_one(st: &mut State, node: &Value, parent: Option<&str>, out: &mut Vec<Value>) -> String {
    let name = node["name"].as_str().unwrap_or_default();
    let tier = node["tier"].as_i64().unwrap_or(3);
    let id = st.spawn(name, parent, |ws| {
        ws.role = node["role"].as_str().map(String::from);
        ws.tier = tier;
        if let Some(runtime) = node["runtime"].as_str() {
            ws.runtime = runtime.into();
        }
        if let Some(model) = node["model"].as_str() {
            ws.model = model.into();
        }
    });
    out.push(json!({ "id": id, "name": name, "tier": tier }));
    id
}

/// Reconcile one template node: the live workspace of that name under `parent` is
/// kept (the first, in creation order), else one is created; then its children.
fn reconcile_node(
    st: &mut State,
    node: &Value,
    parent: Option<&str>,
    created: &mut Vec<Value>,
    kept: &mut Vec<String>,
) {
    let name = node["name"].as_str().unwrap_or_default();
    let existing = st
        .workspaces
        .iter()
        .find(|w| {
            w.live() && w.name == name && w.parent_id.as_deref() == parent && !kept.contains(&w.id)
        })
        .map(|w| w.id.clone());
    let id = match existing {
        Some(id) => id,
        None => spawn_one(st, node, parent, created),
    };
    kept.push(id.clone());
    for child in node["children"].as_array().into_iter().flatten() {
        reconcile_node(st, child, Some(&id), created, kept);
    }
}

/// `GET /bundles/export/{id}`: any failure is the tenant's 404 `bundle not found`.
pub(super) fn export_bundle(st: &mut State, req: &Req) -> Handled {
    st.live(req.id())
        .map(|ws| bundle(st, ws))
        .map_or_else(|| Err(Reply::error(404, "bundle not found")), Reply::ok)
}

fn bundle(st: &State, ws: &Workspace) -> Value {
    let children: Vec<Value> = st
        .children(&ws.id)
        .into_iter()
        .map(|c| bundle(st, c))
        .collect();
    let mut out = json!({
        "schema": "1.0", "id": ws.id, "name": ws.name,
        "description": ws.role.clone().unwrap_or_default(), "tier": ws.tier, "model": ws.model,
        "system_prompt": "", "skills": [], "tools": [], "prompts": {},
        "sub_workspaces": children, "agent_card": null, "author": "", "version": "1.0.0",
    });
    for (key, value) in &ws.bundle {
        out[key] = value.clone();
    }
    out
}

/// `POST /bundles/import`: 201 with one result per workspace created.
pub(super) fn import_bundle(st: &mut State, req: &Req) -> Handled {
    let body = req.body("invalid bundle")?;
    let result = import_tree(st, body, None);
    st.event(
        "BUNDLE_IMPORTED",
        result["workspace_id"].as_str(),
        json!({ "name": body["name"] }),
    );
    Reply::created(result)
}

fn import_tree(st: &mut State, b: &Value, parent: Option<&str>) -> Value {
    let name = b["name"].as_str().unwrap_or_default();
    let id = st.spawn(name, parent, |ws| {
        ws.role = b["description"]
            .as_str()
            .filter(|d| !d.is_empty())
            .map(String::from);
        ws.tier = b["tier"].as_i64().unwrap_or(3);
        if let Some(model) = b["model"].as_str() {
            ws.model = model.into();
        }
        ws.bundle = BUNDLE_EXTRAS
            .iter()
            .filter_map(|k| b.get(*k).map(|v| (k.to_string(), v.clone())))
            .collect();
    });
    let children: Vec<Value> = b["sub_workspaces"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|child| import_tree(st, child, Some(&id)))
        .collect();
    let mut result = json!({ "workspace_id": id, "name": name, "status": "provisioning" });
    if !children.is_empty() {
        result["children"] = Value::Array(children);
    }
    result
}
