//! The tool table: one hand-written row per MCP tool, and the list of spec operations
//! deliberately not served. Together they decide every generated operation, which
//! the compiler checks: this file is the only per-operation code a maintainer writes.
//!
//! Everything else — input and output schemas, annotations, the read-only filter, the
//! README tool table and the drift report — is derived from these rows and the
//! patched spec.

use crate::Operation;

/// What calling a tool can do to the tenant. No default: every row decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reads only.
    Read,
    /// Creates state or changes it reversibly (another call undoes it).
    Write,
    /// Overwrites existing state: the previous value is lost (it can be set again, not
    /// recovered). Annotated `destructiveHint: true`, as MCP reserves `false` for
    /// additive updates.
    Replace,
    /// Removes state or a credential; cannot be undone.
    Destructive,
}

/// Tool groups (the spec tags, plus the control plane).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Toolset {
    /// Workspace lifecycle.
    Workspaces,
    /// Workspace and org secrets.
    Secrets,
    /// Budgets and LLM billing mode.
    Budget,
    /// Config and org templates.
    Templates,
    /// Org and workspace tokens.
    Tokens,
    /// Org plugin allowlist.
    Plugins,
    /// Bundle export and import.
    Bundles,
    /// Events and approvals.
    Audit,
    /// Control-plane admin (CP token).
    Orgs,
}

impl Toolset {
    /// Every toolset, in table order.
    pub const ALL: [Toolset; 9] = [
        Toolset::Workspaces,
        Toolset::Secrets,
        Toolset::Budget,
        Toolset::Templates,
        Toolset::Tokens,
        Toolset::Plugins,
        Toolset::Bundles,
        Toolset::Audit,
        Toolset::Orgs,
    ];

    /// The name used in flags and docs (the spec tag).
    pub fn name(self) -> &'static str {
        match self {
            Toolset::Workspaces => "workspaces",
            Toolset::Secrets => "secrets",
            Toolset::Budget => "budget",
            Toolset::Templates => "templates",
            Toolset::Tokens => "tokens",
            Toolset::Plugins => "plugins",
            Toolset::Bundles => "bundles",
            Toolset::Audit => "audit",
            Toolset::Orgs => "orgs",
        }
    }
}

/// Which operation a call goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Always this operation.
    One(Operation),
    /// `present` when the argument `arg` is given, else `absent` (`list_org_events`).
    ByPresence {
        /// The deciding tool argument.
        arg: &'static str,
        /// Operation when it is given.
        present: Operation,
        /// Operation when it is not.
        absent: Operation,
    },
}

impl Route {
    /// Every operation the route can reach.
    pub fn operations(self) -> Vec<Operation> {
        match self {
            Route::One(op) => vec![op],
            Route::ByPresence {
                present, absent, ..
            } => vec![absent, present],
        }
    }
}

/// How a spec name becomes a tool argument, where it is not the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgRule {
    /// The spec parameter or body field `spec` is the tool argument `tool`.
    Rename {
        /// Name in the spec (`id`, `X-Confirm-Name`).
        spec: &'static str,
        /// Name in the tool (`workspace_id`, `confirm_name`).
        tool: &'static str,
    },
    /// The whole request body is the tool argument of this name (`import_bundle`'s `bundle`).
    BodyAs(&'static str),
    /// The path parameter `spec`, exposed as `tool`, is optional: when omitted it is
    /// `MOLECULE_ORG_ID`, and without either the call is refused before any request.
    OrgIdFallback {
        /// Name in the spec.
        spec: &'static str,
        /// Name in the tool.
        tool: &'static str,
    },
    /// Advertised as a plain object (keeps `tools/list` small); still validated
    /// against the full spec schema.
    Opaque(&'static str),
    /// The tool argument `tool` is described by `text` instead of the spec's words
    /// (which speak of the HTTP API); wins over [`ARG_DESCRIPTIONS`].
    Describe {
        /// Name in the tool.
        tool: &'static str,
        /// What the model reads.
        text: &'static str,
    },
}

/// Descriptions of the arguments that mean the same in every tool, replacing the
/// spec's: an id says what it looks like and which tool lists it.
pub const ARG_DESCRIPTIONS: &[(&str, &str)] = &[
    ("workspace_id", "UUID from list_workspaces."),
    ("parent_id", "Parent UUID from list_workspaces."),
    (
        "org_id",
        "Org id (root workspace UUID); defaults to MOLECULE_ORG_ID.",
    ),
];

/// The description of tool argument `arg` of `row`, where the table words it.
pub fn arg_description(row: &ToolRow, arg: &str) -> Option<&'static str> {
    row.args
        .iter()
        .find_map(|r| match r {
            ArgRule::Describe { tool, text } if *tool == arg => Some(*text),
            _ => None,
        })
        .or_else(|| {
            ARG_DESCRIPTIONS
                .iter()
                .find(|(name, _)| *name == arg)
                .map(|(_, text)| *text)
        })
}

/// One MCP tool.
#[derive(Debug, Clone, Copy)]
pub struct ToolRow {
    /// MCP tool name (the TypeScript server's).
    pub name: &'static str,
    /// Human title.
    pub title: &'static str,
    /// What it does, the credential it needs, and any danger.
    pub description: &'static str,
    /// The bound operation(s).
    pub route: Route,
    /// Read, write or destructive.
    pub access: Access,
    /// Group.
    pub toolset: Toolset,
    /// Argument mappings where spec and tool names differ.
    pub args: &'static [ArgRule],
}

const WS: ArgRule = ArgRule::Rename {
    spec: "id",
    tool: "workspace_id",
};

macro_rules! row {
    ($name:literal, $title:literal, $access:ident, $set:ident, $route:expr, [$($arg:expr),*], $desc:literal) => {
        ToolRow {
            name: $name,
            title: $title,
            description: $desc,
            route: $route,
            access: Access::$access,
            toolset: Toolset::$set,
            args: &[$($arg),*],
        }
    };
}

use Operation as O;
use Route::One;

/// The table, grouped by toolset. `tools/list` follows this order.
pub const TOOLS: &[ToolRow] = &[
    // workspaces
    row!(
        "list_workspaces",
        "List workspaces",
        Read,
        Workspaces,
        One(O::ListWorkspaces),
        [],
        "List the org's workspaces (removed ones excluded)."
    ),
    row!(
        "get_workspace",
        "Get workspace",
        Read,
        Workspaces,
        One(O::GetWorkspace),
        [WS],
        "Get one workspace by id."
    ),
    row!(
        "provision_workspace",
        "Provision workspace",
        Write,
        Workspaces,
        One(O::ProvisionWorkspace),
        [],
        "Create a workspace; provisioning continues in the background."
    ),
    row!(
        "deprovision_workspace",
        "Deprovision workspace",
        Destructive,
        Workspaces,
        One(O::DeprovisionWorkspace),
        [
            WS,
            ArgRule::Rename {
                spec: "X-Confirm-Name",
                tool: "confirm_name"
            },
            ArgRule::Describe {
                tool: "confirm",
                text: "true: also delete sub-workspaces (required if any)."
            }
        ],
        "DESTRUCTIVE: delete a workspace and stop its agent; cannot be undone."
    ),
    row!(
        "restart_workspace",
        "Restart workspace",
        Write,
        Workspaces,
        One(O::RestartWorkspace),
        [WS],
        "Restart a workspace (re-provisions its container)."
    ),
    row!(
        "pause_workspace",
        "Pause workspace",
        Write,
        Workspaces,
        One(O::PauseWorkspace),
        [
            WS,
            ArgRule::Describe {
                tool: "cascade",
                text: "true: also pause sub-workspaces (required if any)."
            }
        ],
        "Pause a workspace (stops its container)."
    ),
    row!(
        "resume_workspace",
        "Resume workspace",
        Write,
        Workspaces,
        One(O::ResumeWorkspace),
        [
            WS,
            ArgRule::Describe {
                tool: "cascade",
                text: "true: also resume sub-workspaces (required if any)."
            }
        ],
        "Resume a paused workspace."
    ),
    // secrets
    row!(
        "set_workspace_secret",
        "Set workspace secret",
        Replace,
        Secrets,
        One(O::SetWorkspaceSecret),
        [WS],
        "Create or overwrite a workspace secret; the workspace restarts."
    ),
    row!(
        "list_workspace_secrets",
        "List workspace secrets",
        Read,
        Secrets,
        One(O::ListWorkspaceSecrets),
        [WS],
        "List a workspace's secret keys (never values)."
    ),
    row!(
        "delete_workspace_secret",
        "Delete workspace secret",
        Destructive,
        Secrets,
        One(O::DeleteWorkspaceSecret),
        [WS],
        "Delete a workspace secret; the workspace restarts."
    ),
    row!(
        "set_org_secret",
        "Set org secret",
        Replace,
        Secrets,
        One(O::SetOrgSecret),
        [],
        "Create or overwrite an org-wide secret; affected workspaces restart."
    ),
    row!(
        "list_org_secrets",
        "List org secrets",
        Read,
        Secrets,
        One(O::ListOrgSecrets),
        [],
        "List org-wide secret keys (never values)."
    ),
    row!(
        "delete_org_secret",
        "Delete org secret",
        Destructive,
        Secrets,
        One(O::DeleteOrgSecret),
        [],
        "Delete an org-wide secret; affected workspaces restart."
    ),
    // budget
    row!(
        "get_workspace_budget",
        "Get workspace budget",
        Read,
        Budget,
        One(O::GetWorkspaceBudget),
        [WS],
        "Get a workspace's spend limits and spend per period (USD cents)."
    ),
    row!(
        "set_workspace_budget",
        "Set workspace budget",
        Replace,
        Budget,
        One(O::SetWorkspaceBudget),
        [
            WS,
            ArgRule::Describe {
                tool: "budget_limits",
                text: "Limits per period; omitted ones are cleared."
            }
        ],
        "Replace a workspace's spend limits (USD cents); give budget_limits or budget_limit."
    ),
    row!(
        "get_llm_billing_mode",
        "Get LLM billing mode",
        Read,
        Budget,
        One(O::GetLlmBillingMode),
        [WS],
        "Get a workspace's resolved LLM billing mode and its source."
    ),
    row!(
        "set_llm_billing_mode",
        "Set LLM billing mode",
        Replace,
        Budget,
        One(O::SetLlmBillingMode),
        [WS],
        "Set a workspace's LLM billing mode override; null clears it."
    ),
    // templates
    row!(
        "list_org_templates",
        "List org templates",
        Read,
        Templates,
        One(O::ListOrgTemplates),
        [],
        "List org templates for create_org_from_template."
    ),
    row!(
        "create_org_from_template",
        "Create org from template",
        Destructive,
        Templates,
        One(O::CreateOrgFromTemplate),
        [
            ArgRule::Opaque("template"),
            ArgRule::Describe {
                tool: "mode",
                text: "merge (default) only adds, so twice duplicates; reconcile also deletes."
            }
        ],
        "Create workspaces from an org template (dir or inline); mode reconcile also DELETES workspaces not in it."
    ),
    row!(
        "list_templates",
        "List templates",
        Read,
        Templates,
        One(O::ListTemplates),
        [],
        "List workspace config templates."
    ),
    row!(
        "import_template",
        "Import template",
        Write,
        Templates,
        One(O::ImportTemplate),
        [],
        "Create a workspace config template from files."
    ),
    // tokens
    row!(
        "mint_org_token",
        "Mint org token",
        Write,
        Tokens,
        One(O::MintOrgToken),
        [],
        "Mint an org API token (root-equivalent; shown once in this result)."
    ),
    row!(
        "list_org_tokens",
        "List org tokens",
        Read,
        Tokens,
        One(O::ListOrgTokens),
        [],
        "List live org API tokens (prefixes only)."
    ),
    row!(
        "revoke_org_token",
        "Revoke org token",
        Destructive,
        Tokens,
        One(O::RevokeOrgToken),
        [ArgRule::Describe {
            tool: "id",
            text: "Token id from list_org_tokens."
        }],
        "DESTRUCTIVE: revoke an org API token; cannot be undone. Revoking this server's own key makes later calls 401."
    ),
    row!(
        "mint_workspace_token",
        "Mint workspace token",
        Write,
        Tokens,
        One(O::MintWorkspaceToken),
        [WS],
        "Mint a workspace-scoped token, shown once in this result."
    ),
    // plugins
    row!(
        "get_org_plugin_allowlist",
        "Get plugin allowlist",
        Read,
        Plugins,
        One(O::GetOrgPluginAllowlist),
        [ArgRule::OrgIdFallback {
            spec: "id",
            tool: "org_id"
        }],
        "Get the org plugin allowlist (empty = all allowed)."
    ),
    row!(
        "set_org_plugin_allowlist",
        "Set plugin allowlist",
        Replace,
        Plugins,
        One(O::SetOrgPluginAllowlist),
        [ArgRule::OrgIdFallback {
            spec: "id",
            tool: "org_id"
        }],
        "Replace the org plugin allowlist; an empty list allows all."
    ),
    // bundles
    row!(
        "export_bundle",
        "Export bundle",
        Read,
        Bundles,
        One(O::ExportBundle),
        [WS],
        "Export a workspace and its sub-workspaces as a bundle (no secrets)."
    ),
    row!(
        "import_bundle",
        "Import bundle",
        Write,
        Bundles,
        One(O::ImportBundle),
        [ArgRule::BodyAs("bundle"), ArgRule::Opaque("bundle")],
        "Create workspaces from an export_bundle bundle (no secrets); its top one becomes a root."
    ),
    // audit
    row!(
        "list_org_events",
        "List events",
        Read,
        Audit,
        Route::ByPresence {
            arg: "workspace_id",
            present: O::ListWorkspaceEvents,
            absent: O::ListEvents
        },
        [ArgRule::Rename {
            spec: "workspaceId",
            tool: "workspace_id"
        }],
        "List recent events, newest first, for the org or one workspace."
    ),
    row!(
        "list_pending_approvals",
        "List pending approvals",
        Read,
        Audit,
        One(O::ListPendingApprovals),
        [],
        "List pending approvals, newest first (none can be decided here)."
    ),
    // control plane
    row!(
        "list_orgs",
        "List orgs (CP)",
        Read,
        Orgs,
        One(O::ListOrgs),
        [],
        "List control-plane orgs. Needs CP_ADMIN_API_TOKEN, not the Org API Key."
    ),
    row!(
        "get_org",
        "Get org (CP)",
        Read,
        Orgs,
        One(O::GetOrg),
        [ArgRule::Describe {
            tool: "slug",
            text: "Org slug from list_orgs."
        }],
        "Get one control-plane org by slug. Needs CP_ADMIN_API_TOKEN."
    ),
];

/// The spec operations deliberately not served as tools, each with the reason. A
/// skipped operation needs nothing else: no row, no glue (build.rs generates the call
/// of every operation), no sandbox handler.
pub const SKIPPED: &[(Operation, &str)] = &[
    // (O::SomeOperation, "why it is not a tool"),
];

/// What the table decided for one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    /// Served by the tool of this name.
    Tool(&'static str),
    /// Deliberately not served, with the reason.
    Skipped(&'static str),
}

/// The decision for `op`: the row that routes it, or its entry in [`SKIPPED`]. Every
/// operation has exactly one (checked when the crate compiles, below).
pub fn binding(op: Operation) -> Binding {
    match TOOLS.iter().find(|row| routes(row.route, op)) {
        Some(row) => Binding::Tool(row.name),
        None => Binding::Skipped(skip_reason_in(SKIPPED, op).unwrap_or_default()),
    }
}

/// Whether `route` can reach `op`.
const fn routes(route: Route, op: Operation) -> bool {
    match route {
        Route::One(one) => one as usize == op as usize,
        Route::ByPresence {
            present, absent, ..
        } => present as usize == op as usize || absent as usize == op as usize,
    }
}

/// Why `op` is skipped in `skipped`, when it is.
const fn skip_reason_in(
    skipped: &[(Operation, &'static str)],
    op: Operation,
) -> Option<&'static str> {
    let mut i = 0;
    while i < skipped.len() {
        if skipped[i].0 as usize == op as usize {
            return Some(skipped[i].1);
        }
        i += 1;
    }
    None
}

/// How a table fails to decide an operation exactly once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Undecided {
    /// Neither bound nor skipped: add a row to TOOLS or an entry to SKIPPED.
    Neither,
    /// Routed by two rows: one operation, one tool.
    TwoRows,
    /// Both routed by a row and skipped: remove one.
    RowAndSkipped,
}

/// The first operation (in spec order) that `tools` and `skipped` do not decide
/// exactly once, and how.
const fn first_undecided(
    tools: &[ToolRow],
    skipped: &[(Operation, &'static str)],
) -> Option<(Operation, Undecided)> {
    let mut i = 0;
    while i < Operation::ALL.len() {
        let op = Operation::ALL[i];
        let mut rows = 0;
        let mut r = 0;
        while r < tools.len() {
            if routes(tools[r].route, op) {
                rows += 1;
            }
            r += 1;
        }
        let skipped = skip_reason_in(skipped, op).is_some();
        if rows == 0 && !skipped {
            return Some((op, Undecided::Neither));
        }
        if rows > 1 {
            return Some((op, Undecided::TwoRows));
        }
        if rows == 1 && skipped {
            return Some((op, Undecided::RowAndSkipped));
        }
        i += 1;
    }
    None
}

/// Every operation of the specs is routed by exactly one row of [`TOOLS`] or listed in
/// [`SKIPPED`], never both: evaluated by the compiler, so a table that leaves an
/// operation undecided does not build; the panic names the operation, and
/// [`Undecided`] says what to do. (build.rs says the same with the line to write when a
/// new spec operation arrives; this also covers edits to this file.)
// The compiler shows the operation and the panicking line, with what to do at its end.
const _: () = match first_undecided(TOOLS, SKIPPED) {
    None => {}
    Some((op, Undecided::Neither)) => panic!("{}", op.operation_id()), // add a row or skip it
    Some((op, Undecided::TwoRows)) => panic!("{}", op.operation_id()), // one op, one row
    Some((op, Undecided::RowAndSkipped)) => panic!("{}", op.operation_id()), // remove one
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_decides_every_operation_exactly_once() {
        assert_eq!(first_undecided(TOOLS, SKIPPED), None);
    }

    /// The check the compiler runs names the first operation a table gets wrong, and how.
    #[test]
    fn a_table_that_decides_an_operation_twice_or_never_names_it() {
        // The operations the first row routes, in spec order.
        let ops: Vec<Operation> = Operation::ALL
            .iter()
            .copied()
            .filter(|&op| routes(TOOLS[0].route, op))
            .collect();
        let op = ops[0];
        let without_first = &TOOLS[1..];
        assert_eq!(
            first_undecided(without_first, SKIPPED),
            Some((op, Undecided::Neither))
        );
        let skipped: Vec<(Operation, &str)> = ops.iter().map(|&op| (op, "why")).collect();
        assert_eq!(first_undecided(without_first, &skipped), None);
        let twice: Vec<ToolRow> = std::iter::once(TOOLS[0])
            .chain(TOOLS.iter().copied())
            .collect();
        assert_eq!(
            first_undecided(&twice, SKIPPED),
            Some((op, Undecided::TwoRows))
        );
        assert_eq!(
            first_undecided(TOOLS, &skipped),
            Some((op, Undecided::RowAndSkipped))
        );
        assert_eq!(skip_reason_in(&skipped, op), Some("why"));
        assert_eq!(skip_reason_in(&skipped[1..], op), None);
    }
}
