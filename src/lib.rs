//! molecule-mcp: an MCP server for the Molecule AI management API.
//!
//! A call passes through [`tools`] (the tool table and what build.rs derived from the
//! patched spec), [`call`] (validation, the auth gate, the generated call of each
//! operation, outcome mapping), [`result`] (the bounded MCP result) and [`server`] (the
//! rmcp handler), over [`stdio`] or [`http`]. The modules are in stages; a module imports
//! only modules of its own stage or an earlier one, and no two import each other
//! (`tests/it/architecture.rs` holds this list to the code; docs/architecture.md,
//! "Stages"):
//!
//! 1. `operations`, `tools::row`: the generated `Operation` enum and the tool row type.
//! 2. `spec`, `embedded`: the specs and overrides (shared with build.rs), the embedded ones.
//! 3. `tools`: the tool table, each row's derivation and the built tool definitions.
//! 4. `clip`, `redact`, `limit`, `audit`, `telemetry`, `dry_run`, `logging`: leaf services.
//! 5. `config`, `sealed`: the settings, and the sealed confirmation state.
//! 6. `error`, `hints`, `result`: a call's errors, their hints, the MCP result.
//! 7. `client`, `outbound`: the generated clients and what each request passes through.
//! 8. `confirm`, `safety`: asking the user, and the gate in front of writes.
//! 9. `call`: one tool call, end to end.
//! 10. `remote`: who an HTTP caller is, and what its request's headers ask for.
//! 11. `server`: the rmcp handler.
//! 12. `http`, `stdio`, `startup`: the transports that serve the handler, and start-up.
//! 13. `drift`, `sandbox`: beside the server (the spec-drift report, the fake tenant).

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
