//! The stateful handlers: for the operations whose answer depends on the sandbox's
//! state, the credential gate the live tenant puts in front of it (docs/contract.md,
//! "Tenant guard and credential gates") and the handler. Every other operation is answered from the spec
//! ([`super::from_spec`]) behind [`gate`]'s default, so a new spec operation needs
//! nothing here. The two audit reads and the two control-plane reads are small
//! enough to live here.

use super::message::{Handled, Reply, Req};
use super::state::{EVENT_LIMIT, State};
use super::{access, settings, templates, workspaces};
use crate::{Api, Operation};
use serde_json::Value;

/// The credential check in front of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Gate {
    /// No credential (`GET /workspaces/{id}` is open on the tenant).
    Open,
    /// AdminAuth: an org API token.
    Admin,
    /// WorkspaceAuth: an org API token, or a token of the workspace in the path.
    Workspace,
    /// The control plane's admin bearer.
    ControlPlane,
}

/// A handler: reads and writes the state, answers one request.
pub(super) type Handler = fn(&mut State, &Req) -> Handled;

/// The gate of an operation without a stateful handler: the tenant's AdminAuth (an
/// org API token), the control plane's admin bearer.
pub(super) fn gate(op: Operation) -> Gate {
    match op.api() {
        Api::Tenant => Gate::Admin,
        Api::ControlPlane => Gate::ControlPlane,
    }
}

/// The gate and stateful handler of `op`, if it has one.
pub(super) fn handler(op: Operation) -> Option<(Gate, Handler)> {
    use Gate::{Admin, ControlPlane, Open, Workspace};
    use Operation as O;
    #[allow(
        unreachable_patterns,
        reason = "every operation of today's specs has a stateful handler; a new one is answered from the spec"
    )]
    Some(match op {
        O::ListWorkspaces => (Admin, workspaces::list),
        O::GetWorkspace => (Open, workspaces::get),
        O::ProvisionWorkspace => (Admin, workspaces::provision),
        O::DeprovisionWorkspace => (Admin, workspaces::deprovision),
        O::RestartWorkspace => (Workspace, workspaces::restart),
        O::PauseWorkspace => (Workspace, workspaces::pause),
        O::ResumeWorkspace => (Workspace, workspaces::resume),
        O::ListWorkspaceSecrets => (Workspace, settings::list_workspace_secrets),
        O::SetWorkspaceSecret => (Workspace, settings::set_workspace_secret),
        O::DeleteWorkspaceSecret => (Workspace, settings::delete_workspace_secret),
        O::ListOrgSecrets => (Admin, settings::list_org_secrets),
        O::SetOrgSecret => (Admin, settings::set_org_secret),
        O::DeleteOrgSecret => (Admin, settings::delete_org_secret),
        O::GetWorkspaceBudget => (Workspace, settings::get_budget),
        O::SetWorkspaceBudget => (Admin, settings::set_budget),
        O::GetLlmBillingMode => (Admin, settings::get_billing_mode),
        O::SetLlmBillingMode => (Admin, settings::set_billing_mode),
        O::ListOrgTemplates => (Admin, templates::list_org_templates),
        O::CreateOrgFromTemplate => (Admin, templates::import_org),
        O::ListTemplates => (Admin, templates::list_templates),
        O::ImportTemplate => (Admin, templates::import_template),
        O::ExportBundle => (Admin, templates::export_bundle),
        O::ImportBundle => (Admin, templates::import_bundle),
        O::ListOrgTokens => (Admin, access::list_org_tokens),
        O::MintOrgToken => (Admin, access::mint_org_token),
        O::RevokeOrgToken => (Admin, access::revoke_org_token),
        O::MintWorkspaceToken => (Admin, access::mint_workspace_token),
        O::GetOrgPluginAllowlist => (Admin, access::get_allowlist),
        O::SetOrgPluginAllowlist => (Admin, access::set_allowlist),
        O::ListEvents => (Admin, list_events),
        O::ListWorkspaceEvents => (Admin, list_events),
        O::ListPendingApprovals => (Admin, list_pending_approvals),
        O::ListOrgs => (ControlPlane, list_orgs),
        O::GetOrg => (ControlPlane, get_org),
        _ => return None,
    })
}

/// `GET /events` and `GET /events/{workspaceId}`: newest first, at most 100.
fn list_events(st: &mut State, req: &Req) -> Handled {
    let only = req.param("workspaceId");
    // The tenant compares the id with a UUID column: anything else fails the query
    // (docs/contract.md, "Events"); a well-formed unknown id lists nothing.
    if !only.is_empty() && !super::state::is_uuid(only) {
        return Err(Reply::error(500, "query failed"));
    }
    let events: Vec<Value> = st
        .events
        .iter()
        .rev()
        .filter(|e| only.is_empty() || e["workspace_id"] == only)
        .take(EVENT_LIMIT)
        .cloned()
        .collect();
    Reply::ok(Value::Array(events))
}

/// `GET /approvals/pending`: newest first, at most 50.
fn list_pending_approvals(st: &mut State, _req: &Req) -> Handled {
    let pending: Vec<Value> = st
        .approvals
        .iter()
        .rev()
        .filter(|a| a["status"] == "pending")
        .take(50)
        .cloned()
        .collect();
    Reply::ok(Value::Array(pending))
}

/// CP `GET /api/v1/admin/orgs`.
fn list_orgs(st: &mut State, _req: &Req) -> Handled {
    Reply::ok(serde_json::json!({ "orgs": st.cp_orgs }))
}

/// CP `GET /api/v1/orgs/{slug}`: 404 for an unknown slug.
fn get_org(st: &mut State, req: &Req) -> Handled {
    st.cp_orgs
        .iter()
        .find(|o| o["slug"] == req.param("slug"))
        .cloned()
        .map_or_else(|| Err(Reply::error(404, "org not found")), Reply::ok)
}
