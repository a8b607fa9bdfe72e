//! The ids the sandbox seeds. They are the same on every start, so one-shot calls
//! (`molecule-mcp call … --sandbox`) chain: an id printed by one is known to the next.
//! The README's quick start and the start-up banner list them. Objects created later
//! get fresh random ids.

/// The org root workspace "Acme HQ"; also the org id (`X-Molecule-Org-Id`).
pub const ROOT_WORKSPACE_ID: &str = "11111111-1111-4111-8111-111111111111";
/// "Researcher", a child of the root.
pub const RESEARCHER_WORKSPACE_ID: &str = "22222222-2222-4222-8222-222222222222";
/// "Writer", a child of the root.
pub const WRITER_WORKSPACE_ID: &str = "33333333-3333-4333-8333-333333333333";
/// The org API token the server itself uses in the sandbox.
pub const ORG_TOKEN_ID: &str = "44444444-4444-4444-8444-444444444444";
/// The one pending approval (from "Researcher").
pub const APPROVAL_ID: &str = "55555555-5555-4555-8555-555555555555";
/// The control-plane slug of the org (`get_org`).
pub const ORG_SLUG: &str = "sandbox";

/// The lines that list the ids, for the start-up banner on stderr.
pub fn banner() -> String {
    [
        format!("  org id = root workspace \"Acme HQ\": {ROOT_WORKSPACE_ID}"),
        format!("  workspace \"Researcher\": {RESEARCHER_WORKSPACE_ID}"),
        format!("  workspace \"Writer\":     {WRITER_WORKSPACE_ID}"),
        format!("  org token in use (revoking it ends the session): {ORG_TOKEN_ID}"),
        format!("  pending approval: {APPROVAL_ID}"),
        format!("  control-plane org slug: {ORG_SLUG}"),
    ]
    .join("\n")
}
