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

/// The operations whose answer depends on the sandbox's state, by `operationId`,
/// with the credential gate in front of each and its handler. An operation not
/// listed is answered from the spec behind [`gate`]'s default; a test holds every
/// key to a real operation.
const HANDLERS: &[(&str, Gate, Handler)] = {
    use Gate::{Admin, ControlPlane, Open, Workspace};
    &[
        ("list_workspaces", Admin, workspaces::list),
        ("get_workspace", Open, workspaces::get),
        ("provision_workspace", Admin, workspaces::provision),
        ("deprovision_workspace", Admin, workspaces::deprovision),
        ("restart_workspace", Workspace, workspaces::restart),
        ("pause_workspace", Workspace, workspaces::pause),
        ("resume_workspace", Workspace, workspaces::resume),
        (
            "list_workspace_secrets",
            Workspace,
            settings::list_workspace_secrets,
        ),
        (
            "set_workspace_secret",
            Workspace,
            settings::set_workspace_secret,
        ),
        (
            "delete_workspace_secret",
            Workspace,
            settings::delete_workspace_secret,
        ),
        ("list_org_secrets", Admin, settings::list_org_secrets),
        ("set_org_secret", Admin, settings::set_org_secret),
        ("delete_org_secret", Admin, settings::delete_org_secret),
        ("get_workspace_budget", Workspace, settings::get_budget),
        ("set_workspace_budget", Admin, settings::set_budget),
        ("get_llm_billing_mode", Admin, settings::get_billing_mode),
        ("set_llm_billing_mode", Admin, settings::set_billing_mode),
        ("list_org_templates", Admin, templates::list_org_templates),
        ("create_org_from_template", Admin, templates::import_org),
        ("list_templates", Admin, templates::list_templates),
        ("import_template", Admin, templates::import_template),
        ("export_bundle", Admin, templates::export_bundle),
        ("import_bundle", Admin, templates::import_bundle),
        ("list_org_tokens", Admin, access::list_org_tokens),
        ("mint_org_token", Admin, access::mint_org_token),
        ("revoke_org_token", Admin, access::revoke_org_token),
        ("mint_workspace_token", Admin, access::mint_workspace_token),
        ("get_org_plugin_allowlist", Admin, access::get_allowlist),
        ("set_org_plugin_allowlist", Admin, access::set_allowlist),
        ("list_events", Admin, list_events),
        ("list_workspace_events", Admin, list_events),
        ("list_pending_approvals", Admin, list_pending_approvals),
        ("list_orgs", ControlPlane, list_orgs),
        ("get_org", ControlPlane, get_org),
    ]
};

/// The gate and stateful handler of `op`, if it has one.
pub(super) fn handler(op: Operation) -> Option<(Gate, Handler)> {
    HANDLERS
        .iter()
        .find(|(id, _, _)| *id == op.operation_id())
        .map(|&(_, gate, handler)| (gate, handler))
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

#[cfg(test)]
mod tests {
    use super::HANDLERS;
    use crate::Operation;

    #[test]
    fn every_stateful_handler_is_keyed_by_a_real_operation_once() {
        for (i, (id, _, _)) in HANDLERS.iter().enumerate() {
            assert!(
                Operation::from_operation_id(id).is_some(),
                "`{id}` is no operation of the specs"
            );
            assert!(
                HANDLERS[..i].iter().all(|(other, _, _)| other != id),
                "`{id}` has two handlers"
            );
        }
    }
}
