//! The sandbox's in-memory tenant: every table the management routes read or write,
//! the id and clock helpers, the event log, and the seed that makes every read tool
//! return something on its first call.

use super::seed;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hasher, RandomState};
use std::time::{SystemTime, UNIX_EPOCH};

/// The budget periods, in the order every response lists them.
pub(super) const PERIODS: [&str; 4] = ["hourly", "daily", "weekly", "monthly"];

/// Largest event log a list returns (the tenant's `LIMIT 100`).
pub(super) const EVENT_LIMIT: usize = 100;

/// One workspace row.
#[derive(Debug, Clone)]
pub(super) struct Workspace {
    pub id: String,
    pub name: String,
    pub role: Option<String>,
    pub tier: i64,
    /// provisioning, online, paused, awaiting_agent or removed.
    pub status: &'static str,
    pub parent_id: Option<String>,
    pub runtime: String,
    pub model: String,
    /// Unix seconds when it last came online.
    pub online_since: Option<u64>,
    /// Limits per period (USD cents), in [`PERIODS`] order.
    pub limits: [Option<i64>; 4],
    /// Spend per period (USD cents), in [`PERIODS`] order.
    pub spend: [i64; 4],
    pub billing_override: Option<String>,
    pub secrets: BTreeMap<String, SecretRow>,
    /// Bundle fields the tenant keeps in config files (system_prompt, skills, ...),
    /// so that an imported bundle exports unchanged.
    pub bundle: Map<String, Value>,
}

impl Workspace {
    /// A workspace row that has just been created.
    pub fn new(id: String, name: String, parent_id: Option<String>) -> Self {
        Workspace {
            id,
            name,
            role: None,
            tier: 3,
            status: "provisioning",
            parent_id,
            runtime: "claude-code".into(),
            model: DEFAULT_MODEL.into(),
            online_since: None,
            limits: [None; 4],
            spend: [0; 4],
            billing_override: None,
            secrets: BTreeMap::new(),
            bundle: Map::new(),
        }
    }

    /// Not deleted.
    pub fn live(&self) -> bool {
        self.status != "removed"
    }
}

/// The model a workspace gets when neither the call nor its template names one.
pub(super) const DEFAULT_MODEL: &str = "anthropic/claude-sonnet-4";

/// A stored secret; the value never leaves the sandbox.
#[derive(Debug, Clone)]
pub(super) struct SecretRow {
    pub value: String,
    pub created_at: String,
    pub updated_at: String,
}

/// An org API token.
#[derive(Debug, Clone)]
pub(super) struct OrgToken {
    pub id: String,
    pub token: String,
    pub name: Option<String>,
    /// The org root workspace it is anchored to.
    pub org_id: Option<String>,
    pub created_by: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

impl OrgToken {
    /// The first 8 characters, shown in lists.
    pub fn prefix(&self) -> String {
        self.token.chars().take(8).collect()
    }
}

/// A workspace bearer token.
#[derive(Debug, Clone)]
pub(super) struct WorkspaceToken {
    pub workspace_id: String,
    pub token: String,
}

/// One allowlisted plugin of an org.
#[derive(Debug, Clone)]
pub(super) struct AllowEntry {
    pub enabled_by: String,
    pub enabled_at: String,
}

/// An org template (org.yaml as JSON) under its directory name.
#[derive(Debug, Clone)]
pub(super) struct OrgTemplate {
    pub dir: String,
    pub template: Value,
}

/// Everything the tenant stores.
#[derive(Debug)]
pub(super) struct State {
    /// The org root workspace id, also the `X-Molecule-Org-Id` the guard expects.
    pub org_id: String,
    /// In creation order (the list order).
    pub workspaces: Vec<Workspace>,
    pub org_secrets: BTreeMap<String, SecretRow>,
    pub org_tokens: Vec<OrgToken>,
    pub workspace_tokens: Vec<WorkspaceToken>,
    /// Unix seconds of each org-token mint, for the 10-per-hour limiter.
    pub mints: Vec<u64>,
    pub allowlists: HashMap<String, BTreeMap<String, AllowEntry>>,
    /// Workspace templates (`TemplateSummary` objects), in id order.
    pub templates: BTreeMap<String, Value>,
    pub org_templates: Vec<OrgTemplate>,
    /// Oldest first.
    pub events: Vec<Value>,
    /// Oldest first.
    pub approvals: Vec<Value>,
    /// The tenant's base URL (external workspaces are told where to register).
    pub tenant_url: String,
    /// The control plane's admin bearer.
    pub cp_token: String,
    /// The orgs the control plane knows.
    pub cp_orgs: Vec<Value>,
    random: RandomState,
    counter: u64,
}

impl State {
    /// The seeded tenant; returns it with the plaintext of its one org token.
    pub fn seeded() -> (State, String) {
        let mut st = State {
            org_id: String::new(),
            workspaces: Vec::new(),
            org_secrets: BTreeMap::new(),
            org_tokens: Vec::new(),
            workspace_tokens: Vec::new(),
            mints: Vec::new(),
            allowlists: HashMap::new(),
            templates: BTreeMap::new(),
            org_templates: Vec::new(),
            events: Vec::new(),
            approvals: Vec::new(),
            tenant_url: String::new(),
            cp_token: String::new(),
            cp_orgs: Vec::new(),
            random: RandomState::new(),
            counter: 0,
        };
        let now = now_rfc3339();
        let root = st.add_seed_workspace(
            seed::ROOT_WORKSPACE_ID,
            "Acme HQ",
            "Coordinates the research team",
            None,
        );
        st.org_id = root.clone();
        let researcher = st.add_seed_workspace(
            seed::RESEARCHER_WORKSPACE_ID,
            "Researcher",
            "Finds sources",
            Some(&root),
        );
        st.add_seed_workspace(
            seed::WRITER_WORKSPACE_ID,
            "Writer",
            "Drafts reports",
            Some(&root),
        );
        if let Some(ws) = st.workspaces.first_mut() {
            ws.limits[3] = Some(50_000);
            ws.spend = [40, 310, 1_250, 4_200];
        }
        st.org_secrets.insert(
            "ANTHROPIC_API_KEY".into(),
            SecretRow {
                value: "sk-ant-sandbox-not-a-real-key".into(),
                created_at: now.clone(),
                updated_at: now.clone(),
            },
        );
        let key = st.mint_org_token(Some("sandbox".into()), Some(root.clone()), "session");
        if let Some(token) = st.org_tokens.last_mut() {
            token.id = seed::ORG_TOKEN_ID.into();
        }
        st.templates.insert(
            "claude-code-default".into(),
            json!({
                "id": "claude-code-default", "name": "Claude Code agent",
                "description": "A general coding agent on the Claude Code runtime.",
                "tier": 3, "runtime": "claude-code", "model": DEFAULT_MODEL,
                "models": [{ "id": DEFAULT_MODEL, "name": "Claude Sonnet 4", "required_env": ["ANTHROPIC_API_KEY"] }],
                "required_env": ["ANTHROPIC_API_KEY"],
                "skills": ["code-review"], "skill_count": 1,
            }),
        );
        st.org_templates.push(OrgTemplate {
            dir: "starter-team".into(),
            template: json!({
                "name": "Starter team",
                "description": "A lead agent with a researcher and a writer.",
                "required_env": ["ANTHROPIC_API_KEY"],
                "recommended_env": [{ "any_of": ["GITHUB_TOKEN", "GITLAB_TOKEN"] }],
                "workspaces": [{
                    "name": "Lead", "role": "Plans and delegates", "tier": 3,
                    "children": [
                        { "name": "Scout", "role": "Researches", "tier": 2 },
                        { "name": "Scribe", "role": "Writes", "tier": 2 },
                    ],
                }],
            }),
        });
        st.approvals.push(json!({
            "id": seed::APPROVAL_ID, "workspace_id": researcher, "workspace_name": "Researcher",
            "action": "install_plugin",
            "reason": "Needs the web-search plugin to collect sources.",
            "status": "pending", "created_at": now,
        }));
        (st, key)
    }

    fn add_seed_workspace(
        &mut self,
        id: &str,
        name: &str,
        role: &str,
        parent: Option<&str>,
    ) -> String {
        let id = id.to_string();
        let mut ws = Workspace::new(id.clone(), name.into(), parent.map(String::from));
        ws.role = Some(role.into());
        ws.status = "online";
        ws.online_since = Some(unix_now());
        self.workspaces.push(ws);
        self.event("WORKSPACE_ONLINE", Some(&id), json!({ "name": name }));
        id
    }

    /// A fresh UUID-shaped id (version 4 layout, lowercase hex).
    pub fn new_id(&mut self) -> String {
        let (a, b) = (self.random_u64(), self.random_u64());
        let hex = format!(
            "{:016x}{:016x}",
            a,
            (b & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000
        );
        format!(
            "{}-{}-4{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[13..16],
            &hex[16..20],
            &hex[20..32]
        )
    }

    /// A fresh secret token: `prefix` then 40 hex characters.
    pub fn new_token(&mut self, prefix: &str) -> String {
        let (a, b, c) = (self.random_u64(), self.random_u64(), self.random_u64());
        format!("{prefix}{a:016x}{b:016x}{:08x}", c >> 32)
    }

    fn random_u64(&mut self) -> u64 {
        self.counter += 1;
        let mut h = self.random.build_hasher();
        h.write_u64(self.counter);
        h.write_u128(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
        );
        h.finish()
    }

    /// Creates an org token and returns its plaintext.
    pub fn mint_org_token(
        &mut self,
        name: Option<String>,
        org_id: Option<String>,
        created_by: &str,
    ) -> String {
        let id = self.new_id();
        let token = self.new_token("mol_");
        self.org_tokens.push(OrgToken {
            id,
            token: token.clone(),
            name,
            org_id,
            created_by: created_by.into(),
            created_at: now_rfc3339(),
            last_used_at: None,
        });
        token
    }

    /// Creates a provisioning workspace, lets `fill` set its fields, logs the event
    /// and returns the new id.
    pub fn spawn(
        &mut self,
        name: &str,
        parent_id: Option<&str>,
        fill: impl FnOnce(&mut Workspace),
    ) -> String {
        let id = self.new_id();
        let mut ws = Workspace::new(id.clone(), name.into(), parent_id.map(String::from));
        fill(&mut ws);
        let payload = json!({ "name": ws.name, "runtime": ws.runtime, "parent_id": ws.parent_id });
        self.workspaces.push(ws);
        self.event("WORKSPACE_PROVISIONING", Some(&id), payload);
        id
    }

    /// Appends an event (the log keeps what a list can show).
    pub fn event(&mut self, event_type: &str, workspace_id: Option<&str>, payload: Value) {
        let id = self.new_id();
        self.events.push(json!({
            "id": id,
            "event_type": event_type,
            "workspace_id": workspace_id,
            "payload": payload,
            "created_at": now_rfc3339(),
        }));
        let excess = self.events.len().saturating_sub(10 * EVENT_LIMIT);
        self.events.drain(..excess);
    }

    /// The row with `id`, removed or not.
    pub fn find(&self, id: &str) -> Option<&Workspace> {
        self.workspaces.iter().find(|w| w.id == id)
    }

    /// The live (not removed) row with `id`.
    pub fn live(&self, id: &str) -> Option<&Workspace> {
        self.find(id).filter(|w| w.live())
    }

    /// The live row with `id`, for writing.
    pub fn live_mut(&mut self, id: &str) -> Option<&mut Workspace> {
        self.workspaces.iter_mut().find(|w| w.id == id && w.live())
    }

    /// Live children of `id`, in creation order.
    pub fn children(&self, id: &str) -> Vec<&Workspace> {
        self.workspaces
            .iter()
            .filter(|w| w.live() && w.parent_id.as_deref() == Some(id))
            .collect()
    }

    /// Ids of every live descendant of `id`, parents before children.
    pub fn descendants(&self, id: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut frontier = vec![id.to_string()];
        while let Some(parent) = frontier.pop() {
            for child in self.children(&parent) {
                out.push(child.id.clone());
                frontier.push(child.id.clone());
            }
        }
        out
    }
}

/// Seconds since the Unix epoch.
pub(super) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// The current UTC time as RFC 3339 (`2026-06-01T12:00:00Z`).
pub(super) fn now_rfc3339() -> String {
    rfc3339(unix_now())
}

/// Formats Unix seconds as RFC 3339 UTC (proleptic Gregorian; days-to-civil conversion).
fn rfc3339(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or_default() + 719_468;
    let rem = secs % 86_400;
    let era = days.div_euclid(146_097);
    let doe = days.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

/// Whether `s` is a lowercase UUID (the tenant's id regex).
pub(super) fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups.iter().all(|g| {
            g.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_780_315_199), "2026-06-01T11:59:59Z");
        // The last day of a 400-year cycle, and the day after.
        assert_eq!(rfc3339(13_574_563_200), "2400-02-29T00:00:00Z");
        assert_eq!(rfc3339(13_574_649_600), "2400-03-01T00:00:00Z");
    }

    #[test]
    fn ids_are_distinct_lowercase_uuids() {
        let (mut st, key) = State::seeded();
        let a = st.new_id();
        let b = st.new_id();
        assert!(is_uuid(&a) && is_uuid(&b) && a != b, "{a} {b}");
        assert!(!is_uuid("ws-1") && !is_uuid(&a.to_uppercase()));
        assert!(key.starts_with("mol_") && key.len() == 44);
    }

    #[test]
    fn the_seed_has_a_root_with_two_children() {
        let (st, _) = State::seeded();
        assert_eq!(st.workspaces.len(), 3);
        assert_eq!(st.org_id, seed::ROOT_WORKSPACE_ID);
        assert_eq!(st.descendants(&st.org_id).len(), 2);
        assert_eq!(st.events.len(), 3);
    }
}
