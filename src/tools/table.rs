//! The tool table: for every operation of the specs, the decision to serve it as a tool
//! (its row) or not (the reason). It is the one place a maintainer writes when an
//! operation arrives, goes or changes hands; `decide` is a `match` over the generated
//! [`Operation`], so rustc names any operation it leaves undecided.
//!
//! Everything else about a tool — input and output schemas, annotations, the read-only
//! filter, the order of `tools/list` (the order of the arms below), the README tool
//! table and the drift report — is derived from these rows and the patched spec, at
//! build time: build.rs reads this file with `syn` (docs/architecture.md, "Build time").
//! So the rows are plain data: struct literals, string literals, enum paths and the
//! `const`s of this file.

pub use super::built::TOOLS;
pub use super::row::*;
use crate::Operation;

/// The workspace id every workspace tool takes (`id` in the spec's paths).
const WS: ArgRule = ArgRule::Rename {
    spec: "id",
    tool: "workspace_id",
};

use Operation as O;
use Route::One;

/// The decision for `op`. A tool routing two operations (`Route::ByPresence`) is one
/// arm matching both.
#[deny(unreachable_patterns)]
pub const fn decide(op: Operation) -> Decision {
    use Decision::Tool;
    match op {
        // workspaces
        O::ListWorkspaces => Tool(&ToolRow {
            name: "list_workspaces",
            title: "List workspaces",
            access: Access::Read,
            toolset: Toolset::Workspaces,
            route: One(O::ListWorkspaces),
            args: &[],
            description: "List the org's workspaces (removed ones excluded).",
        }),
        O::GetWorkspace => Tool(&ToolRow {
            name: "get_workspace",
            title: "Get workspace",
            access: Access::Read,
            toolset: Toolset::Workspaces,
            route: One(O::GetWorkspace),
            args: &[WS],
            description: "Get one workspace by id.",
        }),
        O::ProvisionWorkspace => Tool(&ToolRow {
            name: "provision_workspace",
            title: "Provision workspace",
            access: Access::Write,
            toolset: Toolset::Workspaces,
            route: One(O::ProvisionWorkspace),
            args: &[],
            description: "Create a workspace; provisioning continues in the background.",
        }),
        O::DeprovisionWorkspace => Tool(&ToolRow {
            name: "deprovision_workspace",
            title: "Deprovision workspace",
            access: Access::Destructive,
            toolset: Toolset::Workspaces,
            route: One(O::DeprovisionWorkspace),
            args: &[
                WS,
                ArgRule::Rename {
                    spec: "X-Confirm-Name",
                    tool: "confirm_name",
                },
                ArgRule::Describe {
                    tool: "confirm",
                    text: "true: also delete sub-workspaces (required if any).",
                },
            ],
            description: "DESTRUCTIVE: delete a workspace and stop its agent; cannot be undone.",
        }),
        O::RestartWorkspace => Tool(&ToolRow {
            name: "restart_workspace",
            title: "Restart workspace",
            access: Access::Write,
            toolset: Toolset::Workspaces,
            route: One(O::RestartWorkspace),
            args: &[WS],
            description: "Restart a workspace (re-provisions its container).",
        }),
        O::PauseWorkspace => Tool(&ToolRow {
            name: "pause_workspace",
            title: "Pause workspace",
            access: Access::Write,
            toolset: Toolset::Workspaces,
            route: One(O::PauseWorkspace),
            args: &[
                WS,
                ArgRule::Describe {
                    tool: "cascade",
                    text: "true: also pause sub-workspaces (required if any).",
                },
            ],
            description: "Pause a workspace (stops its container).",
        }),
        O::ResumeWorkspace => Tool(&ToolRow {
            name: "resume_workspace",
            title: "Resume workspace",
            access: Access::Write,
            toolset: Toolset::Workspaces,
            route: One(O::ResumeWorkspace),
            args: &[
                WS,
                ArgRule::Describe {
                    tool: "cascade",
                    text: "true: also resume sub-workspaces (required if any).",
                },
            ],
            description: "Resume a paused workspace.",
        }),
        // secrets
        O::SetWorkspaceSecret => Tool(&ToolRow {
            name: "set_workspace_secret",
            title: "Set workspace secret",
            access: Access::Replace,
            toolset: Toolset::Secrets,
            route: One(O::SetWorkspaceSecret),
            args: &[WS],
            description: "Create or overwrite a workspace secret; the workspace restarts.",
        }),
        O::ListWorkspaceSecrets => Tool(&ToolRow {
            name: "list_workspace_secrets",
            title: "List workspace secrets",
            access: Access::Read,
            toolset: Toolset::Secrets,
            route: One(O::ListWorkspaceSecrets),
            args: &[WS],
            description: "List a workspace's secret keys (never values).",
        }),
        O::DeleteWorkspaceSecret => Tool(&ToolRow {
            name: "delete_workspace_secret",
            title: "Delete workspace secret",
            access: Access::Destructive,
            toolset: Toolset::Secrets,
            route: One(O::DeleteWorkspaceSecret),
            args: &[WS],
            description: "Delete a workspace secret; the workspace restarts.",
        }),
        O::SetOrgSecret => Tool(&ToolRow {
            name: "set_org_secret",
            title: "Set org secret",
            access: Access::Replace,
            toolset: Toolset::Secrets,
            route: One(O::SetOrgSecret),
            args: &[],
            description: "Create or overwrite an org-wide secret; affected workspaces restart.",
        }),
        O::ListOrgSecrets => Tool(&ToolRow {
            name: "list_org_secrets",
            title: "List org secrets",
            access: Access::Read,
            toolset: Toolset::Secrets,
            route: One(O::ListOrgSecrets),
            args: &[],
            description: "List org-wide secret keys (never values).",
        }),
        O::DeleteOrgSecret => Tool(&ToolRow {
            name: "delete_org_secret",
            title: "Delete org secret",
            access: Access::Destructive,
            toolset: Toolset::Secrets,
            route: One(O::DeleteOrgSecret),
            args: &[],
            description: "Delete an org-wide secret; affected workspaces restart.",
        }),
        // budget
        O::GetWorkspaceBudget => Tool(&ToolRow {
            name: "get_workspace_budget",
            title: "Get workspace budget",
            access: Access::Read,
            toolset: Toolset::Budget,
            route: One(O::GetWorkspaceBudget),
            args: &[WS],
            description: "Get a workspace's spend limits and spend per period (USD cents).",
        }),
        O::SetWorkspaceBudget => Tool(&ToolRow {
            name: "set_workspace_budget",
            title: "Set workspace budget",
            access: Access::Replace,
            toolset: Toolset::Budget,
            route: One(O::SetWorkspaceBudget),
            args: &[
                WS,
                ArgRule::Describe {
                    tool: "budget_limits",
                    text: "Limits per period; omitted ones are cleared.",
                },
            ],
            description: "Replace a workspace's spend limits (USD cents); give budget_limits or budget_limit.",
        }),
        O::GetLlmBillingMode => Tool(&ToolRow {
            name: "get_llm_billing_mode",
            title: "Get LLM billing mode",
            access: Access::Read,
            toolset: Toolset::Budget,
            route: One(O::GetLlmBillingMode),
            args: &[WS],
            description: "Get a workspace's resolved LLM billing mode and its source.",
        }),
        O::SetLlmBillingMode => Tool(&ToolRow {
            name: "set_llm_billing_mode",
            title: "Set LLM billing mode",
            access: Access::Replace,
            toolset: Toolset::Budget,
            route: One(O::SetLlmBillingMode),
            args: &[WS],
            description: "Set a workspace's LLM billing mode override; null clears it.",
        }),
        // templates
        O::ListOrgTemplates => Tool(&ToolRow {
            name: "list_org_templates",
            title: "List org templates",
            access: Access::Read,
            toolset: Toolset::Templates,
            route: One(O::ListOrgTemplates),
            args: &[],
            description: "List org templates for create_org_from_template.",
        }),
        O::CreateOrgFromTemplate => Tool(&ToolRow {
            name: "create_org_from_template",
            title: "Create org from template",
            access: Access::Destructive,
            toolset: Toolset::Templates,
            route: One(O::CreateOrgFromTemplate),
            args: &[
                ArgRule::Opaque("template"),
                ArgRule::Describe {
                    tool: "mode",
                    text: "merge (default) only adds, so twice duplicates; reconcile also deletes.",
                },
            ],
            description: "Create workspaces from an org template (dir or inline); mode reconcile also DELETES workspaces not in it.",
        }),
        O::ListTemplates => Tool(&ToolRow {
            name: "list_templates",
            title: "List templates",
            access: Access::Read,
            toolset: Toolset::Templates,
            route: One(O::ListTemplates),
            args: &[],
            description: "List workspace config templates.",
        }),
        O::ImportTemplate => Tool(&ToolRow {
            name: "import_template",
            title: "Import template",
            access: Access::Write,
            toolset: Toolset::Templates,
            route: One(O::ImportTemplate),
            args: &[],
            description: "Create a workspace config template from files.",
        }),
        // tokens
        O::MintOrgToken => Tool(&ToolRow {
            name: "mint_org_token",
            title: "Mint org token",
            access: Access::Write,
            toolset: Toolset::Tokens,
            route: One(O::MintOrgToken),
            args: &[],
            description: "Mint an org API token (root-equivalent; shown once in this result).",
        }),
        O::ListOrgTokens => Tool(&ToolRow {
            name: "list_org_tokens",
            title: "List org tokens",
            access: Access::Read,
            toolset: Toolset::Tokens,
            route: One(O::ListOrgTokens),
            args: &[],
            description: "List live org API tokens (prefixes only).",
        }),
        O::RevokeOrgToken => Tool(&ToolRow {
            name: "revoke_org_token",
            title: "Revoke org token",
            access: Access::Destructive,
            toolset: Toolset::Tokens,
            route: One(O::RevokeOrgToken),
            args: &[ArgRule::Describe {
                tool: "id",
                text: "Token id from list_org_tokens.",
            }],
            description: "DESTRUCTIVE: revoke an org API token; cannot be undone. Revoking this server's own key makes later calls 401.",
        }),
        O::MintWorkspaceToken => Tool(&ToolRow {
            name: "mint_workspace_token",
            title: "Mint workspace token",
            access: Access::Write,
            toolset: Toolset::Tokens,
            route: One(O::MintWorkspaceToken),
            args: &[WS],
            description: "Mint a workspace-scoped token, shown once in this result.",
        }),
        // plugins
        O::GetOrgPluginAllowlist => Tool(&ToolRow {
            name: "get_org_plugin_allowlist",
            title: "Get plugin allowlist",
            access: Access::Read,
            toolset: Toolset::Plugins,
            route: One(O::GetOrgPluginAllowlist),
            args: &[ArgRule::OrgIdFallback {
                spec: "id",
                tool: "org_id",
            }],
            description: "Get the org plugin allowlist (empty = all allowed).",
        }),
        O::SetOrgPluginAllowlist => Tool(&ToolRow {
            name: "set_org_plugin_allowlist",
            title: "Set plugin allowlist",
            access: Access::Replace,
            toolset: Toolset::Plugins,
            route: One(O::SetOrgPluginAllowlist),
            args: &[ArgRule::OrgIdFallback {
                spec: "id",
                tool: "org_id",
            }],
            description: "Replace the org plugin allowlist; an empty list allows all.",
        }),
        // bundles
        O::ExportBundle => Tool(&ToolRow {
            name: "export_bundle",
            title: "Export bundle",
            access: Access::Read,
            toolset: Toolset::Bundles,
            route: One(O::ExportBundle),
            args: &[WS],
            description: "Export a workspace and its sub-workspaces as a bundle (no secrets).",
        }),
        O::ImportBundle => Tool(&ToolRow {
            name: "import_bundle",
            title: "Import bundle",
            access: Access::Write,
            toolset: Toolset::Bundles,
            route: One(O::ImportBundle),
            args: &[ArgRule::BodyAs("bundle"), ArgRule::Opaque("bundle")],
            description: "Create workspaces from an export_bundle bundle (no secrets); its top one becomes a root.",
        }),
        // audit
        O::ListEvents | O::ListWorkspaceEvents => Tool(&ToolRow {
            name: "list_org_events",
            title: "List events",
            access: Access::Read,
            toolset: Toolset::Audit,
            route: Route::ByPresence {
                arg: "workspace_id",
                present: O::ListWorkspaceEvents,
                absent: O::ListEvents,
            },
            args: &[ArgRule::Rename {
                spec: "workspaceId",
                tool: "workspace_id",
            }],
            description: "List recent events, newest first, for the org or one workspace.",
        }),
        O::ListPendingApprovals => Tool(&ToolRow {
            name: "list_pending_approvals",
            title: "List pending approvals",
            access: Access::Read,
            toolset: Toolset::Audit,
            route: One(O::ListPendingApprovals),
            args: &[],
            description: "List pending approvals, newest first (none can be decided here).",
        }),
        // control plane
        O::ListOrgs => Tool(&ToolRow {
            name: "list_orgs",
            title: "List orgs (CP)",
            access: Access::Read,
            toolset: Toolset::Orgs,
            route: One(O::ListOrgs),
            args: &[],
            description: "List control-plane orgs. Needs CP_ADMIN_API_TOKEN, not the Org API Key.",
        }),
        O::GetOrg => Tool(&ToolRow {
            name: "get_org",
            title: "Get org (CP)",
            access: Access::Read,
            toolset: Toolset::Orgs,
            route: One(O::GetOrg),
            args: &[ArgRule::Describe {
                tool: "slug",
                text: "Org slug from list_orgs.",
            }],
            description: "Get one control-plane org by slug. Needs CP_ADMIN_API_TOKEN.",
        }),
        // A skipped operation is an arm too, with its reason:
        // O::SomeOperation => Decision::Skipped("why it is not a tool"),
    }
}
