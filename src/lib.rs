//! molecule-mcp: an MCP server for the Molecule AI management API.
//!
//! The pipeline, one module per stage: [`spec`] (vendored spec + overrides, shared with
//! build.rs) → [`client`] (progenitor clients generated in `OUT_DIR`) → [`tools`] (the
//! hand-written tool table and the schemas derived from the patched spec) → [`call`]
//! (validation, auth gate, the generated call of each operation, outcome mapping) →
//! [`server`] (rmcp over stdio).

pub mod call;
pub mod client;
mod clip;
pub mod config;
pub mod drift;
pub mod error;
mod hints;
pub mod http;
mod redact;
pub mod result;
pub mod sandbox;
pub mod server;
pub mod spec;
pub mod startup;
pub mod stdio;
pub mod tools;

/// The patched management spec (vendored spec + overrides), as JSON text.
pub const PATCHED_MANAGEMENT_SPEC: &str =
    include_str!(concat!(env!("OUT_DIR"), "/management.patched.json"));
/// The control-plane spec, as JSON text.
pub const PATCHED_CP_SPEC: &str = include_str!(concat!(env!("OUT_DIR"), "/cp-admin.patched.json"));

/// Which API (and so which client and credential) serves an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    /// The tenant host, with the Org API Key.
    Tenant,
    /// The control plane, with `CP_ADMIN_API_TOKEN`.
    ControlPlane,
}

mod operations {
    use super::Api;
    include!(concat!(env!("OUT_DIR"), "/operations.rs"));
}
pub use operations::Operation;
