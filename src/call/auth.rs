//! The credential check: a call whose API needs a credential the caller lacks is
//! refused before anything is sent, with what to set (or, over HTTP, what to send).

use crate::client::Caller;
use crate::error::ToolError;
use crate::tools::Entry;
use crate::{Api, Operation};

/// Refuses a call whose credentials are missing.
pub(super) fn require_credentials(
    entry: &Entry,
    op: Operation,
    caller: &Caller,
) -> Result<(), ToolError> {
    match op.api() {
        Api::Tenant => {
            // An HTTP caller is told which headers to send; the environment's variables
            // do nothing for it (docs/remote.md).
            if caller.org_api_key.is_none() {
                return Err(ToolError::AuthNotConfigured(
                    "MOLECULE_ORG_API_KEY is not set. The management tools require an Org API Key \
                     (dashboard → Org API Keys) presented as a tenant credential."
                        .into(),
                ));
            }
            if caller.org_id.is_none() && caller.org_slug.is_none() {
                return Err(ToolError::AuthNotConfigured(if caller.remote {
                    "Send the X-Molecule-Org-Id (the org id) or X-Molecule-Org-Slug header with \
                     each request: the tenant routes requests by it."
                        .into()
                } else {
                    "MOLECULE_ORG_ID or MOLECULE_ORG_SLUG is required: the tenant routes requests \
                     by the X-Molecule-Org-Id / X-Molecule-Org-Slug header."
                        .into()
                }));
            }
        }
        Api::ControlPlane => {
            if caller.cp_token.is_none() {
                return Err(ToolError::CpNotConfigured {
                    tool: entry.row.name.to_string(),
                    remote: caller.remote,
                });
            }
        }
    }
    Ok(())
}
