//! molecule-mcp: an MCP server for the Molecule AI management API.
//!
//! The pipeline, in the order a call passes through it: [`spec`] (vendored spec +
//! overrides, shared with build.rs) → [`client`] (progenitor clients generated in
//! `OUT_DIR`, the path encoder, the caller whose credentials each request carries) →
//! [`tools`] (the hand-written tool table and the schemas derived from the patched
//! spec) → [`call`] (validation, auth gate, the generated call of each operation,
//! outcome mapping) → [`result`] (a call's success and its bounded MCP result) →
//! [`server`] (the rmcp handler) → [`stdio`] / [`http`] (the transports; [`remote`]
//! says who an HTTP caller is). Beside it: [`config`], [`error`], [`logging`] (every log
//! line, redacted and clipped), [`telemetry`] (traces and metrics), [`sandbox`] and
//! [`drift`]. Modules import one another where they need to (`client` reads `config`,
//! `server` reads the HTTP request parts `http` decided); the order above is the data's,
//! not an import rule.

pub mod audit;
pub mod call;
pub mod client;
mod clip;
pub mod config;
pub mod confirm;
pub mod drift;
pub mod dry_run;
pub mod embedded;
pub mod error;
mod hints;
pub mod http;
mod limit;
pub mod logging;
mod outbound;
mod redact;
pub mod remote;
pub mod result;
pub mod safety;
pub mod sandbox;
pub mod sealed;
pub mod server;
pub mod spec;
pub mod startup;
pub mod stdio;
pub mod telemetry;
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

mod operations;
pub use operations::Operation;
