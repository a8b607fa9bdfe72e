//! The sandbox tenant: every tool works against it through the engine and reads back
//! its own writes; every operation of the patched specs answers with bodies that fit
//! the spec, for success and for each error the live handlers define; and it guards
//! like the real tenant.

use crate::common::{KEY, call, config, engine};
use molecule_mcp::Operation;
use molecule_mcp::call::Engine;
use molecule_mcp::error::ToolError;
use molecule_mcp::sandbox::Sandbox;
use molecule_mcp::spec::inventory;
use molecule_mcp::tools::table::TOOLS;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

async fn started() -> (Sandbox, Engine) {
    let sandbox = Sandbox::start().await.expect("sandbox starts");
    let engine = engine(sandbox.config());
    (sandbox, engine)
}

async fn ok(engine: &Engine, tool: &str, args: Value) -> Value {
    match call(engine, tool, args).await {
        Ok(v) => v,
        Err(e) => panic!("{tool}: {}", e.envelope()),
    }
}

/// The error of a call that must fail.
async fn refused(engine: &Engine, tool: &str, args: Value) -> ToolError {
    match call(engine, tool, args).await {
        Ok(v) => panic!("{tool} succeeded: {v}"),
        Err(e) => e,
    }
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect()
}

fn id_of(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap().to_string()
}

// ---------------------------------------------------------------- tools

#[tokio::test]
async fn every_tool_answers_on_its_first_call_from_the_seed() {
    let (sb, engine) = started().await;
    let root = sb.org_id.clone();
    let calls = [
        ("list_workspaces", json!({})),
        ("get_workspace", json!({ "workspace_id": root })),
        ("provision_workspace", json!({ "name": "Analyst" })),
        ("restart_workspace", json!({ "workspace_id": root })),
        (
            "pause_workspace",
            json!({ "workspace_id": root, "cascade": true }),
        ),
        (
            "resume_workspace",
            json!({ "workspace_id": root, "cascade": true }),
        ),
        (
            "set_workspace_secret",
            json!({ "workspace_id": root, "key": "K", "value": "v" }),
        ),
        ("list_workspace_secrets", json!({ "workspace_id": root })),
        (
            "delete_workspace_secret",
            json!({ "workspace_id": root, "key": "K" }),
        ),
        ("set_org_secret", json!({ "key": "G", "value": "v" })),
        ("list_org_secrets", json!({})),
        ("delete_org_secret", json!({ "key": "G" })),
        (
            "set_workspace_budget",
            json!({ "workspace_id": root, "budget_limit": 100 }),
        ),
        ("get_workspace_budget", json!({ "workspace_id": root })),
        (
            "set_llm_billing_mode",
            json!({ "workspace_id": root, "mode": "byok" }),
        ),
        ("get_llm_billing_mode", json!({ "workspace_id": root })),
        ("list_org_templates", json!({})),
        ("create_org_from_template", json!({ "dir": "starter-team" })),
        ("list_templates", json!({})),
        (
            "import_template",
            json!({ "name": "t", "files": { "a.md": "x" } }),
        ),
        ("mint_org_token", json!({})),
        ("list_org_tokens", json!({})),
        ("mint_workspace_token", json!({ "workspace_id": root })),
        ("get_org_plugin_allowlist", json!({})),
        (
            "set_org_plugin_allowlist",
            json!({ "plugins": [], "enabled_by": "me" }),
        ),
        ("export_bundle", json!({ "workspace_id": root })),
        ("import_bundle", json!({ "bundle": { "name": "B" } })),
        ("list_org_events", json!({})),
        ("list_pending_approvals", json!({})),
        ("list_orgs", json!({})),
        ("get_org", json!({ "slug": "sandbox" })),
    ];
    let mut seen = BTreeSet::new();
    for (tool, args) in calls {
        let result = ok(&engine, tool, args).await;
        let empty = result.as_array().is_some_and(Vec::is_empty);
        assert!(!empty, "{tool} answered an empty list");
        seen.insert(tool);
    }
    let tokens = ok(&engine, "list_org_tokens", json!({})).await;
    let minted = tokens["tokens"][0]["id"].clone();
    ok(&engine, "revoke_org_token", json!({ "id": minted })).await;
    ok(
        &engine,
        "deprovision_workspace",
        json!({ "workspace_id": root, "confirm": true }),
    )
    .await;
    seen.extend(["revoke_org_token", "deprovision_workspace"]);
    // A tool whose operations the sandbox answers from the spec needs no seeded state:
    // its first request case (tests/it/calls.rs) is a call that fits the spec.
    let unseen: Vec<_> = TOOLS
        .iter()
        .filter(|row| !seen.contains(row.name))
        .collect();
    for row in unseen {
        if row
            .route
            .operations()
            .into_iter()
            .all(molecule_mcp::sandbox::answers_from_spec)
            && let Some(case) = crate::calls::cases()
                .into_iter()
                .find(|c| c.tool == row.name)
        {
            ok(&engine, row.name, case.args).await;
            seen.insert(row.name);
        }
    }
    let all: BTreeSet<&str> = TOOLS.iter().map(|row| row.name).collect();
    assert_eq!(seen, all);
}

#[tokio::test]
async fn a_provisioned_workspace_is_listed_and_comes_online_after_one_read() {
    let (sb, engine) = started().await;
    let seeded = ok(&engine, "list_workspaces", json!({})).await;
    assert_eq!(names(&seeded), ["Acme HQ", "Researcher", "Writer"]);
    let created = ok(
        &engine,
        "provision_workspace",
        json!({ "name": "Analyst", "parent_id": sb.org_id, "tier": 2, "template": "claude-code-default" }),
    )
    .await;
    assert_eq!(created["status"], "provisioning");
    let id = id_of(&created, "id");
    let first = ok(&engine, "get_workspace", json!({ "workspace_id": id })).await;
    assert_eq!(
        (&first["status"], &first["tier"], &first["parent_id"]),
        (&json!("provisioning"), &json!(2), &json!(sb.org_id))
    );
    let second = ok(&engine, "get_workspace", json!({ "workspace_id": id })).await;
    assert_eq!(second["status"], "online");
    let listed = ok(&engine, "list_workspaces", json!({})).await;
    assert_eq!(
        names(&listed),
        ["Acme HQ", "Researcher", "Writer", "Analyst"]
    );
}

#[tokio::test]
async fn deprovisioning_a_parent_needs_confirm_and_then_removes_the_tree() {
    let (sb, engine) = started().await;
    let conflict = refused(
        &engine,
        "deprovision_workspace",
        json!({ "workspace_id": sb.org_id }),
    )
    .await;
    assert_eq!(conflict.code(), "HTTP 409");
    let detail: Value =
        serde_json::from_str(conflict.envelope()["detail"].as_str().unwrap()).unwrap();
    assert_eq!(detail["status"], "confirmation_required");
    assert_eq!(detail["children_count"], 2);

    let wrong_name = refused(
        &engine,
        "deprovision_workspace",
        json!({ "workspace_id": sb.org_id, "confirm": true, "confirm_name": "nope" }),
    )
    .await;
    assert_eq!(wrong_name.code(), "HTTP 400");

    let done = ok(
        &engine,
        "deprovision_workspace",
        json!({ "workspace_id": sb.org_id, "confirm": true, "confirm_name": "Acme HQ" }),
    )
    .await;
    assert_eq!(done, json!({ "status": "removed", "cascade_deleted": 2 }));
    assert_eq!(ok(&engine, "list_workspaces", json!({})).await, json!([]));
    let removed = ok(
        &engine,
        "get_workspace",
        json!({ "workspace_id": sb.org_id }),
    )
    .await;
    assert_eq!(removed["status"], "removed");
}

#[tokio::test]
async fn pause_and_resume_need_cascade_for_a_workspace_with_descendants() {
    let (sb, engine) = started().await;
    let root = json!({ "workspace_id": sb.org_id });
    let conflict = refused(&engine, "pause_workspace", root.clone()).await;
    assert_eq!(conflict.code(), "HTTP 409");
    let paused = ok(
        &engine,
        "pause_workspace",
        json!({ "workspace_id": sb.org_id, "cascade": true }),
    )
    .await;
    assert_eq!(paused, json!({ "status": "paused", "paused_count": 3 }));
    let statuses: Vec<Value> = ok(&engine, "list_workspaces", json!({}))
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["status"].clone())
        .collect();
    assert_eq!(
        statuses,
        [json!("paused"), json!("paused"), json!("paused")]
    );
    let resumed = ok(
        &engine,
        "resume_workspace",
        json!({ "workspace_id": sb.org_id, "cascade": true }),
    )
    .await;
    assert_eq!(
        resumed,
        json!({ "status": "provisioning", "resumed_count": 3 })
    );
}

#[tokio::test]
async fn secrets_are_listed_by_key_and_their_values_never_come_back() {
    let (sb, engine) = started().await;
    let ws = json!({ "workspace_id": sb.org_id });
    ok(
        &engine,
        "set_workspace_secret",
        json!({ "workspace_id": sb.org_id, "key": "OPENAI_API_KEY", "value": "sv-workspace-value" }),
    )
    .await;
    ok(
        &engine,
        "set_org_secret",
        json!({ "key": "GITHUB_TOKEN", "value": "sv-org-value" }),
    )
    .await;
    let listed = ok(&engine, "list_workspace_secrets", ws.clone()).await;
    let keys: Vec<(&str, &str)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["key"].as_str().unwrap(), s["scope"].as_str().unwrap()))
        .collect();
    assert_eq!(
        keys,
        [
            ("OPENAI_API_KEY", "workspace"),
            ("ANTHROPIC_API_KEY", "global"),
            ("GITHUB_TOKEN", "global")
        ]
    );
    let org = ok(&engine, "list_org_secrets", json!({})).await;
    let org_keys: Vec<&str> = org
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["key"].as_str().unwrap())
        .collect();
    assert_eq!(org_keys, ["ANTHROPIC_API_KEY", "GITHUB_TOKEN"], "{org}");
    for text in [listed.to_string(), org.to_string()] {
        assert!(!text.contains("sv-workspace-value") && !text.contains("sv-org-value"));
        assert!(!text.contains("sk-ant-sandbox"), "{text}");
    }
    ok(
        &engine,
        "delete_workspace_secret",
        json!({ "workspace_id": sb.org_id, "key": "OPENAI_API_KEY" }),
    )
    .await;
    let again = refused(
        &engine,
        "delete_workspace_secret",
        json!({ "workspace_id": sb.org_id, "key": "OPENAI_API_KEY" }),
    )
    .await;
    assert_eq!(again.code(), "HTTP 404");
}

#[tokio::test]
async fn a_budget_write_replaces_every_period_and_reads_back() {
    let (sb, engine) = started().await;
    let ws = json!({ "workspace_id": sb.org_id });
    let written = ok(
        &engine,
        "set_workspace_budget",
        json!({ "workspace_id": sb.org_id, "budget_limits": { "daily": 1000, "weekly": null } }),
    )
    .await;
    let read = ok(&engine, "get_workspace_budget", ws.clone()).await;
    assert_eq!(written, read);
    assert_eq!(
        read["periods"]["daily"],
        json!({ "limit": 1000, "spend": 310, "remaining": 690 })
    );
    // The seeded monthly limit is cleared: the write replaces the whole set.
    assert_eq!(
        (&read["budget_limit"], &read["budget_remaining"]),
        (&Value::Null, &Value::Null)
    );
    ok(
        &engine,
        "set_workspace_budget",
        json!({ "workspace_id": sb.org_id, "budget_limit": 4000 }),
    )
    .await;
    let legacy = ok(&engine, "get_workspace_budget", ws).await;
    assert_eq!(legacy["periods"]["daily"]["limit"], Value::Null);
    assert_eq!(
        (&legacy["budget_limit"], &legacy["budget_remaining"]),
        (&json!(4000), &json!(-200))
    );
}

#[tokio::test]
async fn the_billing_mode_override_is_set_read_and_cleared() {
    let (sb, engine) = started().await;
    let ws = json!({ "workspace_id": sb.org_id });
    let derived = ok(&engine, "get_llm_billing_mode", ws.clone()).await;
    assert_eq!(
        (&derived["source"], &derived["provider_selection"]),
        (&json!("derived_provider"), &json!("anthropic"))
    );
    ok(
        &engine,
        "set_llm_billing_mode",
        json!({ "workspace_id": sb.org_id, "mode": "byok" }),
    )
    .await;
    let read = ok(&engine, "get_llm_billing_mode", ws.clone()).await;
    assert_eq!(
        (
            &read["resolved_mode"],
            &read["workspace_override"],
            &read["source"]
        ),
        (&json!("byok"), &json!("byok"), &json!("workspace_override"))
    );
    let cleared = ok(
        &engine,
        "set_llm_billing_mode",
        json!({ "workspace_id": sb.org_id, "mode": null }),
    )
    .await;
    assert_eq!(cleared, derived);
}

#[tokio::test]
async fn an_org_token_is_shown_once_listed_by_prefix_and_revoked() {
    let (_sb, engine) = started().await;
    let minted = ok(&engine, "mint_org_token", json!({ "name": "ci" })).await;
    let (id, token) = (id_of(&minted, "id"), id_of(&minted, "auth_token"));
    assert_eq!(minted["prefix"], token[..8]);
    let listed = ok(&engine, "list_org_tokens", json!({})).await;
    assert_eq!(listed["count"], 2);
    assert_eq!(listed["tokens"][0]["id"], id.as_str());
    assert!(!listed.to_string().contains(&token));
    assert_eq!(
        ok(&engine, "revoke_org_token", json!({ "id": id })).await,
        json!({ "revoked": id })
    );
    let after = ok(&engine, "list_org_tokens", json!({})).await;
    assert_eq!(after["count"], 1);
    let again = refused(&engine, "revoke_org_token", json!({ "id": id })).await;
    assert_eq!(again.code(), "HTTP 404");
}

#[tokio::test]
async fn the_plugin_allowlist_defaults_to_the_org_and_reads_back() {
    let (sb, engine) = started().await;
    let before = ok(&engine, "get_org_plugin_allowlist", json!({})).await;
    assert_eq!(
        before,
        json!({ "org_id": sb.org_id, "allow_all": true, "plugins": [] })
    );
    ok(
        &engine,
        "set_org_plugin_allowlist",
        json!({ "plugins": ["web-search", "code-exec"], "enabled_by": "newcomer" }),
    )
    .await;
    let after = ok(&engine, "get_org_plugin_allowlist", json!({})).await;
    let allowed: Vec<(&str, &str)> = after["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["plugin_name"].as_str().unwrap(),
                p["enabled_by"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        allowed,
        [("code-exec", "newcomer"), ("web-search", "newcomer")]
    );
    assert_eq!(after["allow_all"], false);
}

#[tokio::test]
async fn an_exported_bundle_imports_as_a_new_tree_and_exports_the_same() {
    let (sb, engine) = started().await;
    let mut bundle = ok(
        &engine,
        "export_bundle",
        json!({ "workspace_id": sb.org_id }),
    )
    .await;
    assert_eq!(bundle["sub_workspaces"].as_array().unwrap().len(), 2);
    bundle["system_prompt"] = json!("Be brief.");
    let imported = ok(&engine, "import_bundle", json!({ "bundle": bundle })).await;
    assert_eq!(imported["status"], "provisioning");
    assert_eq!(imported["children"].as_array().unwrap().len(), 2);
    let listed = ok(&engine, "list_workspaces", json!({})).await;
    assert_eq!(names(&listed).len(), 6);
    let copy = ok(
        &engine,
        "export_bundle",
        json!({ "workspace_id": imported["workspace_id"] }),
    )
    .await;
    let strip_ids = |mut b: Value| {
        b["id"] = Value::Null;
        for child in b["sub_workspaces"].as_array_mut().unwrap() {
            child["id"] = Value::Null;
        }
        b
    };
    assert_eq!(strip_ids(copy), strip_ids(bundle));
}

#[tokio::test]
async fn templates_import_and_org_templates_create_workspaces() {
    let (_sb, engine) = started().await;
    let org_templates = ok(&engine, "list_org_templates", json!({})).await;
    assert_eq!(org_templates[0]["dir"], "starter-team");
    assert_eq!(org_templates[0]["workspaces"], 3);
    let created = ok(
        &engine,
        "create_org_from_template",
        json!({ "dir": "starter-team" }),
    )
    .await;
    assert_eq!(created["count"], 3);
    let listed = ok(&engine, "list_workspaces", json!({})).await;
    assert!(names(&listed).ends_with(&["Lead", "Scout", "Scribe"]));

    let missing_env = refused(
        &engine,
        "create_org_from_template",
        json!({ "template": { "name": "Needs", "required_env": ["NOT_SET"] } }),
    )
    .await;
    assert_eq!(missing_env.code(), "HTTP 412");

    let imported = ok(
        &engine,
        "import_template",
        json!({ "name": "My Agent", "files": {
            "config.yaml": "description: Mine\nruntime: langgraph\n",
            "skills/search/SKILL.md": "# search",
        } }),
    )
    .await;
    assert_eq!(
        imported,
        json!({ "status": "imported", "id": "my-agent", "name": "My Agent" })
    );
    let templates = ok(&engine, "list_templates", json!({})).await;
    let mine = templates
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == "my-agent")
        .unwrap();
    assert_eq!(
        (&mine["description"], &mine["runtime"], &mine["skills"]),
        (&json!("Mine"), &json!("langgraph"), &json!(["search"]))
    );
}

#[tokio::test]
async fn each_write_appends_an_event_listed_newest_first() {
    let (sb, engine) = started().await;
    let before = ok(&engine, "list_org_events", json!({})).await;
    ok(
        &engine,
        "set_workspace_budget",
        json!({ "workspace_id": sb.org_id, "budget_limit": 1 }),
    )
    .await;
    let after = ok(&engine, "list_org_events", json!({})).await;
    assert_eq!(
        after.as_array().unwrap().len(),
        before.as_array().unwrap().len() + 1
    );
    assert_eq!(after[0]["event_type"], "BUDGET_UPDATED");
    let own = ok(
        &engine,
        "list_org_events",
        json!({ "workspace_id": sb.org_id }),
    )
    .await;
    assert!(
        own.as_array()
            .unwrap()
            .iter()
            .all(|e| e["workspace_id"] == sb.org_id.as_str())
    );
    let approvals = ok(&engine, "list_pending_approvals", json!({})).await;
    assert_eq!(approvals[0]["status"], "pending");
    let orgs = ok(&engine, "list_orgs", json!({})).await;
    let slug = orgs["orgs"][0]["slug"].as_str().unwrap();
    let org = ok(&engine, "get_org", json!({ "slug": slug })).await;
    assert_eq!(org["id"], sb.org_id.as_str());
}

// ---------------------------------------------------------------- contract

/// The patched specs with OpenAPI `nullable` rewritten for JSON Schema, in place.
fn nullable_to_json_schema(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if m.remove("nullable") == Some(Value::Bool(true)) {
                if let Some(r) = m.remove("$ref") {
                    m.insert("anyOf".into(), json!([{ "$ref": r }, { "type": "null" }]));
                }
                if let Some(Value::String(t)) = m.get("type").cloned() {
                    m.insert("type".into(), json!([t, "null"]));
                }
                if let Some(Value::Array(e)) = m.get_mut("enum") {
                    e.push(Value::Null);
                }
            }
            m.values_mut().for_each(nullable_to_json_schema);
        }
        Value::Array(a) => a.iter_mut().for_each(nullable_to_json_schema),
        _ => {}
    }
}

/// The spec document holding `op`, converted, with its operations.
struct Spec {
    doc: Value,
    ops: Vec<inventory::Endpoint>,
}

impl Spec {
    fn load(text: &str) -> Spec {
        let mut doc: Value = serde_json::from_str(text).unwrap();
        let ops = inventory::operations(&doc);
        nullable_to_json_schema(&mut doc);
        Spec { doc, ops }
    }

    /// A validator for the response of `op` with `status` (exact code, then `NXX`).
    fn validator(&self, op: &inventory::Endpoint, status: u16) -> jsonschema::Validator {
        let responses = &self.doc.pointer(&op.pointer).unwrap()["responses"];
        let key = [status.to_string(), format!("{}XX", status / 100)]
            .into_iter()
            .find(|k| responses.get(k).is_some())
            .unwrap_or_else(|| panic!("{}: status {status} is not documented", op.id));
        let mut at = format!("{}/responses/{key}", op.pointer);
        if let Some(r) = self.doc.pointer(&at).unwrap()["$ref"].as_str() {
            at = r.trim_start_matches('#').to_string();
        }
        let mut root = self.doc.clone();
        root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
        // A `$ref` is a URI: path templates' braces are escaped in its fragment.
        let fragment = at.replace('{', "%7B").replace('}', "%7D");
        root["$ref"] = json!(format!("#{fragment}/content/application~1json/schema"));
        jsonschema::draft202012::new(&root).unwrap()
    }
}

/// One request of the contract walk and the status it must get.
struct Probe {
    op: String,
    path: String,
    body: Option<Value>,
    headers: Vec<(&'static str, String)>,
    status: u16,
    error: Option<&'static str>,
    auth: bool,
}

fn probe(op: &str, path: impl Into<String>, status: u16) -> Probe {
    Probe {
        op: op.to_string(),
        path: path.into(),
        body: None,
        headers: Vec::new(),
        status,
        error: None,
        auth: true,
    }
}

impl Probe {
    fn body(mut self, body: Value) -> Probe {
        self.body = Some(body);
        self
    }
    fn error(mut self, message: &'static str) -> Probe {
        self.error = Some(message);
        self
    }
    fn header(mut self, name: &'static str, value: &str) -> Probe {
        self.headers.push((name, value.to_string()));
        self
    }
}

struct Walk {
    sandbox: Sandbox,
    http: reqwest::Client,
    tenant: Spec,
    cp: Spec,
    key: String,
    cp_token: String,
    /// Statuses seen per operation.
    seen: BTreeMap<String, BTreeSet<u16>>,
}

impl Walk {
    async fn start() -> Walk {
        molecule_mcp::client::install_tls_provider();
        let sandbox = Sandbox::start().await.unwrap();
        let config = sandbox.config();
        Walk {
            key: config.org_api_key.unwrap().expose().to_string(),
            cp_token: config.cp_token.unwrap().expose().to_string(),
            sandbox,
            http: reqwest::Client::new(),
            tenant: Spec::load(molecule_mcp::PATCHED_MANAGEMENT_SPEC),
            cp: Spec::load(molecule_mcp::PATCHED_CP_SPEC),
            seen: BTreeMap::new(),
        }
    }

    /// Sends `p`, checks its status, its error message and that the body fits the spec.
    async fn run(&mut self, p: Probe) -> Value {
        let (spec, base, token) = match self.tenant.ops.iter().find(|o| o.id == p.op) {
            Some(_) => (&self.tenant, &self.sandbox.tenant_url, &self.key),
            None => (&self.cp, &self.sandbox.cp_url, &self.cp_token),
        };
        let op = spec.ops.iter().find(|o| o.id == p.op).unwrap();
        let method = reqwest::Method::from_bytes(op.method.as_bytes()).unwrap();
        let mut request = self
            .http
            .request(method, format!("{base}{}", p.path))
            .header("X-Molecule-Org-Id", &self.sandbox.org_id);
        if p.auth {
            request = request.bearer_auth(token);
        }
        for (name, value) in &p.headers {
            request = request.header(*name, value);
        }
        if let Some(body) = &p.body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let what = format!("{} {} {}", p.op, op.method, p.path);
        assert_eq!(status, p.status, "{what}: {text}");
        let body: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{what}: body is not JSON ({e}): {text:?}"));
        let validator = spec.validator(op, status);
        let errors: Vec<String> = validator
            .iter_errors(&body)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{what}: {errors:?} in {body}");
        if let Some(message) = p.error {
            assert_eq!(body["error"], message, "{what}");
        }
        self.seen.entry(p.op).or_default().insert(status);
        body
    }
}

#[tokio::test]
async fn every_operation_answers_per_the_spec_for_success_and_each_defined_error() {
    let mut w = Walk::start().await;
    // The check can fail: a wrong body does not fit.
    let list = w
        .tenant
        .ops
        .iter()
        .find(|o| o.id == "list_workspaces")
        .unwrap();
    assert!(
        !w.tenant
            .validator(list, 200)
            .is_valid(&json!([{ "id": "x" }]))
    );
    assert!(
        !w.tenant
            .validator(list, 401)
            .is_valid(&json!({ "error": 401 }))
    );
    let root = w.sandbox.org_id.clone();
    let seeded = w.run(probe("list_workspaces", "/workspaces", 200)).await;
    let researcher = id_of(&seeded[1], "id");
    let writer = id_of(&seeded[2], "id");
    let unknown = "00000000-0000-4000-8000-000000000000";
    let p1 = w
        .run(
            probe("provision_workspace", "/workspaces", 201)
                .body(json!({ "name": "P1", "parent_id": researcher })),
        )
        .await;
    let p1 = id_of(&p1, "id");
    let extra = w
        .run(probe("mint_org_token", "/org/tokens", 200).body(json!({ "name": "walk" })))
        .await;
    let extra_token = id_of(&extra, "id");
    let bundle = w
        .run(probe(
            "export_bundle",
            format!("/bundles/export/{root}"),
            200,
        ))
        .await;
    let many_files: serde_json::Map<String, Value> =
        (0..201).map(|i| (format!("f{i}"), json!("x"))).collect();

    let probes = vec![
        // workspaces
        probe("get_workspace", format!("/workspaces/{root}"), 200),
        probe("get_workspace", "/workspaces/not-a-uuid", 400).error("invalid workspace ID"),
        probe("get_workspace", format!("/workspaces/{unknown}"), 404).error("workspace not found"),
        probe("provision_workspace", "/workspaces", 201)
            .body(json!({ "name": "Ext", "runtime": "external" })),
        probe("provision_workspace", "/workspaces", 400)
            .body(json!({ "role": "no name" }))
            .error("invalid workspace payload"),
        probe("provision_workspace", "/workspaces", 400)
            .body(json!({ "name": "a{b}" }))
            .error("invalid workspace fields"),
        probe("provision_workspace", "/workspaces", 400)
            .body(json!({ "name": "a", "template": "../etc" }))
            .error("invalid template"),
        probe("provision_workspace", "/workspaces", 500)
            .body(json!({ "name": "a", "parent_id": unknown }))
            .error("failed to create workspace"),
        probe("restart_workspace", format!("/workspaces/{researcher}/restart"), 200).body(json!({})),
        probe("restart_workspace", format!("/workspaces/{unknown}/restart"), 404).body(json!({})),
        probe("pause_workspace", format!("/workspaces/{researcher}/pause"), 409).body(json!({})),
        probe("pause_workspace", format!("/workspaces/{researcher}/pause?cascade=true"), 200)
            .body(json!({})),
        probe("pause_workspace", format!("/workspaces/{researcher}/pause"), 404)
            .body(json!({}))
            .error("workspace not found or already paused"),
        probe("restart_workspace", format!("/workspaces/{p1}/restart"), 409)
            .body(json!({}))
            .error("parent workspace \"Researcher\" is paused — resume it first"),
        probe("resume_workspace", format!("/workspaces/{p1}/resume"), 409).body(json!({})),
        probe("resume_workspace", format!("/workspaces/{researcher}/resume"), 409)
            .body(json!({}))
            .error("workspace has descendants — use ?cascade=true to resume all"),
        probe("resume_workspace", format!("/workspaces/{researcher}/resume?cascade=true"), 200)
            .body(json!({})),
        probe("resume_workspace", format!("/workspaces/{researcher}/resume"), 404)
            .body(json!({}))
            .error("workspace not found or not paused"),
        probe("deprovision_workspace", "/workspaces/not-a-uuid", 400).error("invalid workspace ID"),
        probe("deprovision_workspace", format!("/workspaces/{unknown}"), 404),
        probe("deprovision_workspace", format!("/workspaces/{root}"), 400)
            .header("X-Confirm-Name", "wrong")
            .error("destructive_action_requires_confirmation"),
        probe("deprovision_workspace", format!("/workspaces/{root}"), 409),
        probe("deprovision_workspace", format!("/workspaces/{writer}"), 200)
            .header("X-Confirm-Name", "Writer"),
        probe("deprovision_workspace", format!("/workspaces/{writer}"), 410).error("workspace removed"),
        // secrets
        probe("set_workspace_secret", format!("/workspaces/{root}/secrets"), 200)
            .body(json!({ "key": "K", "value": "v" })),
        probe("set_workspace_secret", "/workspaces/ws-1/secrets", 400)
            .body(json!({ "key": "K", "value": "v" }))
            .error("invalid workspace ID"),
        probe("set_workspace_secret", format!("/workspaces/{root}/secrets"), 400)
            .body(json!({ "key": "", "value": "v" }))
            .error("invalid request body"),
        probe("set_workspace_secret", format!("/workspaces/{unknown}/secrets"), 500)
            .body(json!({ "key": "K", "value": "v" })),
        probe("list_workspace_secrets", format!("/workspaces/{root}/secrets"), 200),
        probe("list_workspace_secrets", "/workspaces/ws-1/secrets", 400),
        probe("delete_workspace_secret", format!("/workspaces/{root}/secrets/K"), 200),
        probe("delete_workspace_secret", format!("/workspaces/{root}/secrets/K"), 404)
            .error("secret not found"),
        probe("delete_workspace_secret", "/workspaces/ws-1/secrets/K", 400),
        probe("set_org_secret", "/settings/secrets", 200).body(json!({ "key": "G", "value": "v" })),
        probe("set_org_secret", "/settings/secrets", 400)
            .body(json!({ "key": "G" }))
            .error("invalid request body"),
        probe("list_org_secrets", "/settings/secrets", 200),
        probe("delete_org_secret", "/settings/secrets/G", 200),
        probe("delete_org_secret", "/settings/secrets/G", 404).error("secret not found"),
        // budget and billing
        probe("get_workspace_budget", format!("/workspaces/{root}/budget"), 200),
        probe("get_workspace_budget", format!("/workspaces/{unknown}/budget"), 404),
        probe("set_workspace_budget", format!("/workspaces/{root}/budget"), 200)
            .body(json!({ "budget_limits": { "monthly": 100, "hourly": null } })),
        probe("set_workspace_budget", format!("/workspaces/{root}/budget"), 200)
            .body(json!({ "budget_limit": null })),
        probe("set_workspace_budget", format!("/workspaces/{root}/budget"), 400)
            .body(json!({}))
            .error("budget_limits or budget_limit field is required"),
        probe("set_workspace_budget", format!("/workspaces/{root}/budget"), 400)
            .body(json!({ "budget_limits": { "yearly": 1 } }))
            .error("unknown budget period: yearly (allowed: hourly, daily, weekly, monthly)"),
        probe("set_workspace_budget", format!("/workspaces/{root}/budget"), 400)
            .body(json!({ "budget_limits": { "daily": 1.5 } }))
            .error("budget_limits must be an object of period→int|null"),
        probe("set_workspace_budget", format!("/workspaces/{root}/budget"), 400)
            .body(json!({ "budget_limits": { "daily": -1 } }))
            .error("budget limit for daily must be >= 0 (USD cents)"),
        probe("set_workspace_budget", format!("/workspaces/{root}/budget"), 400)
            .body(json!({ "budget_limit": "x" }))
            .error("budget_limit must be an integer (USD cents) or null"),
        probe("set_workspace_budget", format!("/workspaces/{root}/budget"), 400)
            .body(json!({ "budget_limit": -5 }))
            .error("budget_limit must be >= 0 (USD cents)"),
        probe("set_workspace_budget", format!("/workspaces/{root}/budget"), 400)
            .body(json!({ "budget_limit": 5, "extra": 1 }))
            .error("invalid request body"),
        probe("set_workspace_budget", format!("/workspaces/{unknown}/budget"), 404)
            .body(json!({ "budget_limit": 5 })),
        probe("get_llm_billing_mode", format!("/admin/workspaces/{root}/llm-billing-mode"), 200),
        probe("get_llm_billing_mode", format!("/admin/workspaces/{unknown}/llm-billing-mode"), 200),
        probe("get_llm_billing_mode", "/admin/workspaces/ws-1/llm-billing-mode", 400)
            .error("invalid workspace id"),
        probe("set_llm_billing_mode", format!("/admin/workspaces/{root}/llm-billing-mode"), 200)
            .body(json!({ "mode": " disabled " })),
        probe("set_llm_billing_mode", format!("/admin/workspaces/{root}/llm-billing-mode"), 200)
            .body(json!({ "mode": null })),
        probe("set_llm_billing_mode", format!("/admin/workspaces/{root}/llm-billing-mode"), 400)
            .body(json!({}))
            .error("missing required field 'mode' (use null to clear override)"),
        probe("set_llm_billing_mode", format!("/admin/workspaces/{root}/llm-billing-mode"), 400)
            .body(json!({ "mode": "free" }))
            .error("unknown billing mode \"free\" (allowed: platform_managed, byok, disabled)"),
        probe("set_llm_billing_mode", format!("/admin/workspaces/{root}/llm-billing-mode"), 400)
            .body(json!({ "mode": "" }))
            .error("mode must be one of platform_managed, byok, disabled, or null to clear"),
        probe("set_llm_billing_mode", format!("/admin/workspaces/{root}/llm-billing-mode"), 400)
            .body(json!({ "mode": 3 }))
            .error("mode must be a string or null"),
        probe("set_llm_billing_mode", format!("/admin/workspaces/{root}/llm-billing-mode"), 400)
            .body(json!([]))
            .error("invalid json"),
        probe("set_llm_billing_mode", format!("/admin/workspaces/{unknown}/llm-billing-mode"), 404)
            .body(json!({ "mode": "byok" })),
        // templates
        probe("list_org_templates", "/org/templates", 200),
        probe("create_org_from_template", "/org/import", 201).body(json!({ "dir": "starter-team" })),
        probe("create_org_from_template", "/org/import", 400)
            .body(json!({ "mode": "merge" }))
            .error("provide 'dir' or 'template'"),
        probe("create_org_from_template", "/org/import", 400)
            .body(json!({ "dir": "../up" }))
            .error("invalid org directory"),
        probe("create_org_from_template", "/org/import", 404)
            .body(json!({ "dir": "nope" }))
            .error("org template not found: nope"),
        probe("create_org_from_template", "/org/import", 412)
            .body(json!({ "template": { "name": "T", "required_env": [{ "any_of": ["X", "Y"] }] } }))
            .error("missing required environment variables"),
        probe("create_org_from_template", "/org/import", 201).body(
            json!({ "template": { "name": "T", "required_env": ["X"], "workspaces": [{ "name": "Solo" }] }, "force": true }),
        ),
        probe("create_org_from_template", "/org/import", 400)
            .body(json!({ "template": { "name": "T", "workspaces": [{ "role": "nameless" }] } }))
            .error("invalid org template"),
        probe("list_templates", "/templates", 200),
        probe("import_template", "/templates/import", 201)
            .body(json!({ "name": "Mine", "files": { "config.yaml": "tier: 2\n" } })),
        probe("import_template", "/templates/import", 409)
            .body(json!({ "name": "Mine", "files": {} }))
            .error("template already exists"),
        probe("import_template", "/templates/import", 400)
            .body(json!({ "name": "x", "files": { "../a": "b" } }))
            .error("invalid request body"),
        probe("import_template", "/templates/import", 400)
            .body(json!({ "name": "x", "files": many_files }))
            .error("too many files (201), max 200"),
        // tokens
        probe("list_org_tokens", "/org/tokens", 200),
        probe("mint_org_token", "/org/tokens", 400)
            .body(json!({ "name": "é".repeat(51) }))
            .error("name too long (max 100 chars)"),
        probe("revoke_org_token", format!("/org/tokens/{extra_token}"), 200),
        probe("revoke_org_token", format!("/org/tokens/{extra_token}"), 404)
            .error("token not found or already revoked"),
        probe("mint_workspace_token", "/admin/workspaces/ws-1/tokens", 400)
            .body(json!({}))
            .error("invalid workspace id"),
        probe("mint_workspace_token", format!("/admin/workspaces/{unknown}/tokens"), 404)
            .body(json!({})),
        // plugins
        probe("get_org_plugin_allowlist", format!("/orgs/{root}/plugins/allowlist"), 200),
        probe("get_org_plugin_allowlist", format!("/orgs/{unknown}/plugins/allowlist"), 404)
            .error("org not found"),
        probe("get_org_plugin_allowlist", format!("/orgs/{researcher}/plugins/allowlist"), 403)
            .error("org access denied"),
        probe("set_org_plugin_allowlist", format!("/orgs/{root}/plugins/allowlist"), 200)
            .body(json!({ "plugins": ["web-search"], "enabled_by": "walk" })),
        probe("set_org_plugin_allowlist", format!("/orgs/{root}/plugins/allowlist"), 400)
            .body(json!({ "plugins": ["web-search"] }))
            .error("enabled_by is required"),
        probe("set_org_plugin_allowlist", format!("/orgs/{root}/plugins/allowlist"), 400)
            .body(json!({ "plugins": ["a/../b"], "enabled_by": "walk" }))
            .error("invalid plugin name"),
        probe("set_org_plugin_allowlist", format!("/orgs/{root}/plugins/allowlist"), 400)
            .body(json!({ "plugins": "web-search", "enabled_by": "walk" }))
            .error("invalid request body"),
        probe("set_org_plugin_allowlist", format!("/orgs/{researcher}/plugins/allowlist"), 403)
            .body(json!({ "plugins": [], "enabled_by": "walk" })),
        probe("set_org_plugin_allowlist", format!("/orgs/{unknown}/plugins/allowlist"), 404)
            .body(json!({ "plugins": [], "enabled_by": "walk" })),
        // bundles and audit
        probe("export_bundle", format!("/bundles/export/{unknown}"), 404).error("bundle not found"),
        probe("import_bundle", "/bundles/import", 201).body(bundle),
        probe("import_bundle", "/bundles/import", 400)
            .body(json!({ "name": "B", "tier": "high" }))
            .error("invalid bundle"),
        probe("list_events", "/events", 200),
        probe("list_workspace_events", format!("/events/{root}"), 200),
        probe("list_pending_approvals", "/approvals/pending", 200),
        // control plane
        probe("list_orgs", "/api/v1/admin/orgs", 200),
        probe("get_org", "/api/v1/orgs/sandbox", 200),
        probe("get_org", "/api/v1/orgs/nope", 404).error("org not found"),
    ];
    for p in probes {
        w.run(p).await;
    }
    // The limits: 10 org-token mints an hour (one was minted above), 50 live tokens
    // a workspace.
    for _ in 0..9 {
        w.run(probe("mint_org_token", "/org/tokens", 200).body(json!({})))
            .await;
    }
    let limited = w
        .run(probe("mint_org_token", "/org/tokens", 429).body(json!({})))
        .await;
    assert!(limited["retry_after"].as_u64().unwrap() > 3_500);
    for _ in 0..50 {
        let path = format!("/admin/workspaces/{p1}/tokens");
        w.run(probe("mint_workspace_token", path, 201).body(json!({})))
            .await;
    }
    w.run(
        probe(
            "mint_workspace_token",
            format!("/admin/workspaces/{p1}/tokens"),
            429,
        )
        .body(json!({}))
        .error("maximum 50 active tokens per workspace"),
    )
    .await;
    // Every route is gated like the tenant's: only GET /workspaces/{id} is open.
    let gated: Vec<(String, String)> = w
        .tenant
        .ops
        .iter()
        .chain(&w.cp.ops)
        .filter(|o| o.id != "get_workspace")
        .map(|o| (o.id.clone(), o.path.replace("{slug}", "sandbox")))
        .collect();
    for (id, path) in gated {
        let path = path
            .split('/')
            .map(|s| if s.starts_with('{') { root.as_str() } else { s })
            .collect::<Vec<_>>()
            .join("/");
        let mut p = probe(&id, path, 401);
        p.auth = false;
        w.run(p).await;
    }
    w.run(probe(
        "deprovision_workspace",
        format!("/workspaces/{root}?confirm=true"),
        200,
    ))
    .await;

    // An operation without a stateful handler answers its documented success to any
    // request that fits the spec: binding it needs no probe written here.
    let from_spec: Vec<(String, String, String)> = w
        .tenant
        .ops
        .iter()
        .chain(&w.cp.ops)
        .filter(|o| {
            Operation::ALL.iter().any(|op| {
                op.operation_id() == o.id && molecule_mcp::sandbox::answers_from_spec(*op)
            })
        })
        .map(|o| (o.id.clone(), o.path.clone(), o.success_status.clone()))
        .collect();
    for (id, path, success) in from_spec {
        let op = Operation::ALL
            .iter()
            .find(|op| op.operation_id() == id)
            .unwrap();
        let path = path
            .split('/')
            .map(|s| if s.starts_with('{') { root.as_str() } else { s })
            .collect::<Vec<_>>()
            .join("/");
        let mut p = probe(&id, path, success.parse().unwrap());
        p.body = molecule_mcp::sandbox::sample_request(*op);
        w.run(p).await;
    }
    for op in Operation::ALL {
        let statuses = &w.seen[op.operation_id()];
        assert!(
            statuses.iter().any(|s| (200..300).contains(s)),
            "{}: no success",
            op.operation_id()
        );
        assert!(
            statuses.iter().any(|s| *s >= 400),
            "{}: no error",
            op.operation_id()
        );
    }
}

// ---------------------------------------------------------------- guard

#[tokio::test]
async fn the_sandbox_refuses_a_missing_or_wrong_bearer_and_a_wrong_org_id() {
    molecule_mcp::client::install_tls_provider();
    let sb = Sandbox::start().await.unwrap();
    let config = sb.config();
    let key = config.org_api_key.clone().unwrap().expose().to_string();
    let http = reqwest::Client::new();
    let url = format!("{}/workspaces", sb.tenant_url);
    let send = |bearer: Option<&str>, org: Option<&str>| {
        let mut r = http.get(&url);
        if let Some(b) = bearer {
            r = r.bearer_auth(b);
        }
        if let Some(o) = org {
            r = r.header("X-Molecule-Org-Id", o);
        }
        async move {
            let response = r.send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    let org = Some(sb.org_id.as_str());
    assert_eq!(send(Some(&key), org).await.0, 200);
    assert_eq!(
        send(None, org).await,
        (401, r#"{"error":"admin auth required"}"#.to_string())
    );
    assert_eq!(
        send(Some("mol_wrong"), org).await,
        (401, r#"{"error":"invalid admin auth token"}"#.to_string())
    );
    assert_eq!(
        send(Some(&key), Some("another-org")).await,
        (404, String::new())
    );
    let (status, body) = send(Some(&key), None).await;
    assert_eq!(status, 400);
    assert!(body.contains("TENANT_ORG_HEADER_REQUIRED"), "{body}");

    // The org key is not a CP credential.
    let cp = http
        .get(format!("{}/api/v1/admin/orgs", sb.cp_url))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(cp.status().as_u16(), 401);

    // Through the engine: a wrong key is an AUTH_ERROR.
    let mut wrong = config.clone();
    wrong.org_api_key = Some(molecule_mcp::config::Secret::new("mol_wrong"));
    let result = refused(&engine(wrong), "list_workspaces", json!({})).await;
    assert_eq!(result.code(), "AUTH_ERROR");
}

#[tokio::test]
async fn minted_tokens_are_credentials_until_revoked() {
    let (sb, admin) = started().await;
    let minted = ok(&admin, "mint_org_token", json!({})).await;
    let mut as_minted = sb.config();
    as_minted.org_api_key = Some(molecule_mcp::config::Secret::new(id_of(
        &minted,
        "auth_token",
    )));
    let other = engine(as_minted.clone());
    ok(&other, "list_workspaces", json!({})).await;
    ok(&admin, "revoke_org_token", json!({ "id": minted["id"] })).await;
    let after = refused(&other, "list_workspaces", json!({})).await;
    assert_eq!(after.code(), "AUTH_ERROR");

    // A workspace token opens its own workspace's WorkspaceAuth routes, nothing else.
    let ws_token = ok(
        &admin,
        "mint_workspace_token",
        json!({ "workspace_id": sb.org_id }),
    )
    .await;
    as_minted.org_api_key = Some(molecule_mcp::config::Secret::new(id_of(
        &ws_token,
        "auth_token",
    )));
    let agent = engine(as_minted);
    ok(
        &agent,
        "get_workspace_budget",
        json!({ "workspace_id": sb.org_id }),
    )
    .await;
    let listed = ok(&admin, "list_workspaces", json!({})).await;
    let child = id_of(&listed[1], "id");
    for (tool, args) in [
        ("get_workspace_budget", json!({ "workspace_id": child })),
        ("list_workspaces", json!({})),
    ] {
        assert_eq!(
            refused(&agent, tool, args).await.code(),
            "AUTH_ERROR",
            "{tool}"
        );
    }
}

#[tokio::test]
async fn dropping_the_sandbox_stops_both_servers() {
    molecule_mcp::client::install_tls_provider();
    let sb = Sandbox::start().await.unwrap();
    let urls = [
        format!("{}/workspaces/{}", sb.tenant_url, sb.org_id),
        format!("{}/api/v1/orgs/sandbox", sb.cp_url),
    ];
    let http = reqwest::Client::new();
    let org_id = sb.org_id.clone();
    for url in &urls {
        let answered = http
            .get(url)
            .header("X-Molecule-Org-Id", &org_id)
            .send()
            .await;
        assert!(answered.is_ok(), "{url}: {answered:?}");
    }
    drop(sb);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    for url in &urls {
        // The same client: a kept-alive connection must not keep serving either.
        let result = http
            .get(url)
            .header("X-Molecule-Org-Id", &org_id)
            .send()
            .await;
        assert!(result.is_err(), "{url} still answers: {result:?}");
    }
}

#[tokio::test]
async fn the_binary_with_sandbox_serves_every_read_tool_with_no_configuration() {
    let mut d = crate::driver::Driver::start(&[], &["--sandbox"]).await;
    d.send(json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}))
        .await;
    let tools = d.response(1).await;
    let names: Vec<String> = tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    let rows: Vec<&str> = TOOLS.iter().map(|t| t.name).collect();
    assert_eq!(names, rows);
    // Every read tool that needs no argument.
    let reads: Vec<&str> = tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["annotations"]["readOnlyHint"] == true)
        .filter(|t| t["inputSchema"].get("required").is_none())
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        reads,
        [
            "list_workspaces",
            "list_org_secrets",
            "list_org_templates",
            "list_templates",
            "list_org_tokens",
            "get_org_plugin_allowlist",
            "list_org_events",
            "list_pending_approvals",
            "list_orgs",
        ]
    );
    for (i, tool) in reads.iter().enumerate() {
        d.call(10 + i as i64, tool, json!({})).await;
        let response = d.response(10 + i as i64).await;
        assert_eq!(response["result"]["isError"], false, "{tool}: {response}");
        let value = crate::driver::result_json(&response);
        assert!(
            value.as_array().is_none_or(|a| !a.is_empty()),
            "{tool} returns something on the first call: {value}"
        );
    }
    let (status, stderr, _) = d.finish().await;
    assert!(status.success());
    assert!(
        stderr.contains("sandbox tenant at http://127.0.0.1:"),
        "{stderr}"
    );
}

// The tenant's own rules, as the sandbox keeps them: path-safe names, inclusive
// limits, zero limits, uptime and allowlist stamps.

/// The error envelope of a call the sandbox (or validation) refuses.
async fn refusal(engine: &Engine, tool: &str, args: Value) -> Value {
    call(engine, tool, args).await.unwrap_err().envelope()
}

/// The call is the tenant's 400, whose text says `says`.
async fn assert_400(engine: &Engine, tool: &str, args: Value, says: &str) {
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
