//! Tool errors and their one mapping to the wire envelope `{error, detail, status}`
//! (docs/decisions.md, "Results and errors"). Every failure of a tool call is one of these; the server turns
//! it into a `CallToolResult` with `isError: true` here and nowhere else.

use crate::Api;
use crate::clip::{CUT, clipped};
use crate::redact::Redactor;
use rmcp::model::ElicitationSchema;
use serde_json::{Value, json};

/// How much of an oversized result `RESULT_TOO_LARGE` shows.
pub const PREVIEW_BYTES: usize = 2_000;

/// How much of one argument problem is echoed (a problem can quote a property name
/// the caller sent, of any length).
pub const ECHO_BYTES: usize = 1_000;

/// A tool call that did not succeed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ToolError {
    /// The arguments break the tool's schema; one message per offending field and rule.
    #[error("INVALID_ARGUMENTS: {}", .0.join("; "))]
    InvalidArguments(Vec<String>),
    /// The tenant credential or routing is not configured; nothing was sent.
    #[error("AUTH_ERROR: {0}")]
    AuthNotConfigured(String),
    /// A control-plane tool without `CP_ADMIN_API_TOKEN`; nothing was sent.
    #[error("CP_TIER_NOT_CONFIGURED: {tool}")]
    CpNotConfigured {
        /// The tool that was called.
        tool: String,
        /// The caller is an HTTP one, whose token travels in a header.
        remote: bool,
    },
    /// The host answered with a non-2xx status.
    #[error("HTTP {status}")]
    Http {
        /// Which host.
        api: Api,
        /// The status.
        status: u16,
        /// The response body as text (read up to the result bound plus the
        /// redactor's slack; see `cut`).
        body: String,
        /// Whether the body was longer than what was read.
        cut: bool,
        /// Requests made (more than 1 after retries).
        attempts: u32,
        /// What the server found out after the failure, for the hint
        /// (src/call/diagnose.rs); never part of `detail`.
        seen: Option<Box<Seen>>,
    },
    /// The host could not be reached.
    #[error("{api:?} unreachable at {url}: {message}")]
    Unreachable {
        /// Which host.
        api: Api,
        /// Its base URL.
        url: String,
        /// What failed.
        message: String,
        /// Requests made.
        attempts: u32,
    },
    /// The request did not finish within the configured time.
    #[error("TIMEOUT: {operation} after {seconds}s")]
    Timeout {
        /// The operation id.
        operation: String,
        /// The limit.
        seconds: u64,
        /// Requests made.
        attempts: u32,
    },
    /// The tool exists but this server was started without it.
    #[error("TOOL_DISABLED: {tool}")]
    ToolDisabled {
        /// The tool.
        tool: String,
        /// Which setting disables it.
        reason: String,
    },
    /// The result is larger than `MOLECULE_MCP_MAX_RESULT_BYTES`.
    #[error("RESULT_TOO_LARGE: {size} bytes")]
    ResultTooLarge {
        /// Size of the pretty-printed result (a lower bound when `at_least`).
        size: usize,
        /// Whether reading stopped before the end of the body.
        at_least: bool,
        /// The configured limit.
        limit: usize,
        /// The result text (or as much as was read); the envelope shows its start.
        preview: String,
    },
    /// The host cancelled the call (`notifications/cancelled`); the request was aborted.
    #[error("CANCELLED")]
    Cancelled,
    /// A 2xx body does not fit the advertised output schema.
    #[error("UPSTREAM_CONTRACT_MISMATCH")]
    ContractMismatch {
        /// The validation errors.
        errors: Vec<String>,
        /// The body as received.
        body: Value,
    },
    /// A bug in this server (never an upstream or input problem).
    #[error("INTERNAL_ERROR: {0}")]
    Internal(String),
    /// Dry run (src/dry_run.rs): the call was valid and nothing was sent; this is the
    /// request it would have sent.
    #[error("DRY_RUN")]
    DryRun(Box<crate::dry_run::Plan>),
    /// The audit log (src/audit.rs) could not take the call's line; nothing was sent.
    #[error("AUDIT_UNAVAILABLE: {0}")]
    AuditUnavailable(String),
    /// A person declined or cancelled the confirmation (src/confirm.rs); nothing was sent.
    #[error("CONFIRMATION_DECLINED: {tool}")]
    ConfirmationDeclined {
        /// The tool.
        tool: String,
        /// What happened.
        reason: String,
        /// Cancelled rather than declined.
        cancelled: bool,
    },
    /// The question of a confirmation, for a client that answers on a retry (src/server.rs
    /// turns it into an `InputRequiredResult`); nothing was sent.
    #[error("INPUT_REQUIRED")]
    InputRequired(Box<Pending>),
    /// The call needs a person's confirmation and the client cannot ask; nothing was sent.
    #[error("CONFIRMATION_UNAVAILABLE: {tool}")]
    ConfirmationUnavailable {
        /// The tool (and why the client could not ask, when it tried).
        tool: String,
    },
}

/// The question a call ends with when the client answers on a retry (asked by
/// src/confirm.rs).
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    /// What the person is shown.
    pub message: String,
    /// The form.
    pub schema: ElicitationSchema,
}

/// What the server learnt after a tenant error, so the hint can say what is wrong
/// (src/hints.rs); found by src/call/diagnose.rs.
#[derive(Debug, Clone, PartialEq)]
pub enum Seen {
    /// One read of the workspace the argument `arg` names (`get_workspace`).
    Read {
        /// The tool argument the id came from (`workspace_id`, `parent_id`, `org_id`).
        arg: String,
        /// The id as given.
        id: String,
        /// What the read found.
        found: Found,
    },
    /// The tenant refused the caller's key (401).
    KeyRefused {
        /// Over HTTP: the key is the caller's bearer, not `MOLECULE_ORG_API_KEY`.
        remote: bool,
        /// `revoke_org_token` revoked this very key earlier in this run.
        revoked_here: bool,
    },
}

/// What a read of a workspace by id found.
#[derive(Debug, Clone, PartialEq)]
pub enum Found {
    /// The tenant refused the id as malformed (400): not a UUID.
    NotAnId,
    /// No workspace has this id (404).
    Missing,
    /// The workspace.
    Workspace {
        /// Its name.
        name: String,
        /// Its status (`online`, `paused`, `removed`, ...).
        status: String,
        /// Its parent, `None` for a root (an org).
        parent_id: Option<String>,
    },
}

impl Seen {
    /// Removes known secrets from the texts it holds.
    fn redact(&mut self, r: &Redactor) {
        match self {
            Seen::Read { arg, id, found } => {
                r.text(arg);
                r.text(id);
                if let Found::Workspace {
                    name,
                    status,
                    parent_id,
                } = found
                {
                    r.text(name);
                    r.text(status);
                    if let Some(p) = parent_id {
                        r.text(p);
                    }
                }
            }
            Seen::KeyRefused { .. } => {}
        }
    }
}

/// The `error` of the envelope: a closed set. Two carry data because the TypeScript
/// server's codes did (`HTTP <status>`, `… unreachable at <url>`), and callers match
/// on that text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code<'a> {
    /// `INVALID_ARGUMENTS`
    InvalidArguments,
    /// `AUTH_ERROR`
    AuthError,
    /// `CP_TIER_NOT_CONFIGURED`
    CpTierNotConfigured,
    /// `RATE_LIMITED`
    RateLimited,
    /// `HTTP <status>`
    Http(u16),
    /// `Tenant host unreachable at <url>` / `Control plane unreachable at <url>`
    Unreachable {
        /// Which host.
        api: Api,
        /// Its base URL.
        url: &'a str,
    },
    /// `TIMEOUT`
    Timeout,
    /// `TOOL_DISABLED`
    ToolDisabled,
    /// `RESULT_TOO_LARGE`
    ResultTooLarge,
    /// `CANCELLED`
    Cancelled,
    /// `UPSTREAM_CONTRACT_MISMATCH`
    UpstreamContractMismatch,
    /// `INTERNAL_ERROR`
    InternalError,
    /// `DRY_RUN`
    DryRun,
    /// `AUDIT_UNAVAILABLE`
    AuditUnavailable,
    /// `CONFIRMATION_DECLINED`
    ConfirmationDeclined,
    /// `CONFIRMATION_UNAVAILABLE`
    ConfirmationUnavailable,
    /// `INPUT_REQUIRED` (answered as an `InputRequiredResult`, never as an envelope
    /// but by mistake)
    InputRequired,
}

impl std::fmt::Display for Code<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = match self {
            Code::InvalidArguments => "INVALID_ARGUMENTS",
            Code::AuthError => "AUTH_ERROR",
            Code::CpTierNotConfigured => "CP_TIER_NOT_CONFIGURED",
            Code::RateLimited => "RATE_LIMITED",
            Code::Http(status) => return write!(f, "HTTP {status}"),
            Code::Unreachable {
                api: Api::Tenant,
                url,
            } => return write!(f, "Tenant host unreachable at {url}"),
            Code::Unreachable {
                api: Api::ControlPlane,
                url,
            } => return write!(f, "Control plane unreachable at {url}"),
            Code::Timeout => "TIMEOUT",
            Code::ToolDisabled => "TOOL_DISABLED",
            Code::ResultTooLarge => "RESULT_TOO_LARGE",
            Code::Cancelled => "CANCELLED",
            Code::UpstreamContractMismatch => "UPSTREAM_CONTRACT_MISMATCH",
            Code::InternalError => "INTERNAL_ERROR",
            Code::DryRun => "DRY_RUN",
            Code::AuditUnavailable => "AUDIT_UNAVAILABLE",
            Code::ConfirmationDeclined => "CONFIRMATION_DECLINED",
            Code::ConfirmationUnavailable => "CONFIRMATION_UNAVAILABLE",
            Code::InputRequired => "INPUT_REQUIRED",
        };
        f.write_str(text)
    }
}

impl ToolError {
    /// The stable machine code (`error` in the envelope), as text.
    pub fn code(&self) -> String {
        self.kind().to_string()
    }

    /// The machine code, one of a closed set.
    pub fn kind(&self) -> Code<'_> {
        match self {
            ToolError::InvalidArguments(_) => Code::InvalidArguments,
            ToolError::AuthNotConfigured(_) => Code::AuthError,
            ToolError::CpNotConfigured { .. } => Code::CpTierNotConfigured,
            ToolError::Http {
                status: 401 | 403, ..
            } => Code::AuthError,
            ToolError::Http {
                api: Api::Tenant,
                status: 429,
                ..
            } => Code::RateLimited,
            ToolError::Http { status, .. } => Code::Http(*status),
            ToolError::Unreachable { api, url, .. } => Code::Unreachable { api: *api, url },
            ToolError::Timeout { .. } => Code::Timeout,
            ToolError::ToolDisabled { .. } => Code::ToolDisabled,
            ToolError::ResultTooLarge { .. } => Code::ResultTooLarge,
            ToolError::Cancelled => Code::Cancelled,
            ToolError::ContractMismatch { .. } => Code::UpstreamContractMismatch,
            ToolError::Internal(_) => Code::InternalError,
            ToolError::DryRun(_) => Code::DryRun,
            ToolError::AuditUnavailable(_) => Code::AuditUnavailable,
            ToolError::ConfirmationDeclined { .. } => Code::ConfirmationDeclined,
            ToolError::ConfirmationUnavailable { .. } => Code::ConfirmationUnavailable,
            ToolError::InputRequired(_) => Code::InputRequired,
        }
    }

    /// Removes known secrets from every string and JSON value the error carries.
    /// Exhaustive with no wildcard arm: a new variant must decide what it exposes.
    pub fn redact(&mut self, r: &Redactor) {
        match self {
            ToolError::InvalidArguments(problems) => problems.iter_mut().for_each(|p| r.text(p)),
            ToolError::AuthNotConfigured(detail)
            | ToolError::Internal(detail)
            | ToolError::AuditUnavailable(detail) => r.text(detail),
            ToolError::DryRun(plan) => plan.redact(r),
            ToolError::ConfirmationDeclined { tool, reason, .. } => {
                r.text(tool);
                r.text(reason);
            }
            ToolError::ConfirmationUnavailable { tool } => r.text(tool),
            ToolError::InputRequired(pending) => r.text(&mut pending.message),
            ToolError::CpNotConfigured { tool, .. } | ToolError::ToolDisabled { tool, .. } => {
                r.text(tool)
            }
            ToolError::Http { body, seen, .. } => {
                r.text(body);
                if let Some(seen) = seen {
                    seen.redact(r);
                }
            }
            ToolError::Unreachable { message, .. } => r.text(message),
            ToolError::Timeout { operation, .. } => r.text(operation),
            ToolError::ContractMismatch { errors, body } => {
                errors.iter_mut().for_each(|e| r.text(e));
                r.value(body);
            }
            ToolError::ResultTooLarge { preview, .. } => r.text(preview),
            ToolError::Cancelled => {}
        }
    }

    /// The wire envelope: `{"error", "detail", "status"?}`.
    pub fn envelope(&self) -> Value {
        let detail = match self {
            ToolError::InvalidArguments(problems) => json!(
                problems
                    .iter()
                    .map(|p| clipped(p, ECHO_BYTES))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            ToolError::AuthNotConfigured(detail) => json!(detail),
            ToolError::CpNotConfigured { tool, remote } => json!(format!(
                "'{tool}' is a control-plane tier tool. The Org API Key cannot reach the CP. \
                 {} to enable it. This is gated, not broken.",
                if *remote {
                    "Send the CP admin bearer in the X-Molecule-CP-Token header"
                } else {
                    "Set CP_ADMIN_API_TOKEN (CP admin bearer)"
                }
            )),
            ToolError::Http { body, cut, .. } => json!(if *cut {
                format!("{body}{CUT} (the body was longer)")
            } else {
                body.clone()
            }),
            ToolError::Unreachable { message, .. } => json!(message),
            ToolError::Timeout {
                operation, seconds, ..
            } => json!(format!(
                "`{operation}` did not complete within {seconds}s (MOLECULE_MCP_TIMEOUT_SECS)"
            )),
            ToolError::ToolDisabled { tool, reason } => {
                json!(format!("`{tool}` is disabled on this server by {reason}"))
            }
            ToolError::ResultTooLarge {
                size,
                at_least,
                limit,
                preview,
            } => json!({
                "size_bytes": size,
                "size_is_lower_bound": at_least,
                "limit_bytes": limit,
                "preview": clipped(preview, PREVIEW_BYTES),
                "advice": "The result is too large to return. Narrow the request (e.g. pass workspace_id to list_org_events, \
                           export a smaller workspace) or raise MOLECULE_MCP_MAX_RESULT_BYTES.",
            }),
            ToolError::Cancelled => {
                json!("the call was cancelled by the client; its request was aborted")
            }
            ToolError::ContractMismatch { errors, body } => json!({
                "message": "the tenant answered 2xx with a body that does not fit this tool's output schema; the body is included",
                "errors": errors,
                "body": body,
            }),
            ToolError::Internal(message) => json!(message),
            ToolError::DryRun(plan) => plan.detail(),
            ToolError::ConfirmationDeclined { tool, reason, .. } => json!(format!(
                "`{tool}` was not confirmed ({reason}), so nothing was sent. Do not retry this \
                 call without asking the person first."
            )),
            ToolError::InputRequired(pending) => json!({
                "message": "a person must confirm this call first; nothing was sent",
                "question": pending.message,
            }),
            ToolError::ConfirmationUnavailable { tool } => json!(format!(
                "`{tool}` needs a person's confirmation (MOLECULE_MCP_CONFIRM_REQUIRED), and this \
                 server cannot ask a person through this client: it did not declare the MCP \
                 elicitation capability (over HTTP, only 2026-07-28 clients that declare it in \
                 the request can be asked). Nothing was sent. Use a host that supports form \
                 elicitation (README, \"Confirmation by a person\")."
            )),
            ToolError::AuditUnavailable(why) => json!(format!(
                "the audit log (MOLECULE_MCP_AUDIT_LOG) could not record this call, so nothing \
                 was sent: {why}. Tell the operator; retrying will not help until it is fixed."
            )),
        };
        let mut envelope = json!({ "error": self.code(), "detail": detail });
        if let ToolError::Http { status, .. } = self {
            envelope["status"] = json!(status);
        }
        if let ToolError::Http { attempts, .. }
        | ToolError::Unreachable { attempts, .. }
        | ToolError::Timeout { attempts, .. } = self
            && *attempts > 1
        {
            envelope["attempts"] = json!(attempts);
        }
        envelope
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(api: Api, status: u16) -> ToolError {
        ToolError::Http {
            api,
            status,
            body: "b".into(),
            cut: false,
            attempts: 1,
            seen: None,
        }
    }

    #[test]
    fn statuses_map_to_the_typescript_codes() {
        assert_eq!(http(Api::Tenant, 401).code(), "AUTH_ERROR");
        assert_eq!(http(Api::Tenant, 403).code(), "AUTH_ERROR");
        assert_eq!(http(Api::Tenant, 429).code(), "RATE_LIMITED");
        assert_eq!(http(Api::ControlPlane, 429).code(), "HTTP 429");
        assert_eq!(http(Api::Tenant, 500).code(), "HTTP 500");
        assert_eq!(
            http(Api::Tenant, 502).envelope(),
            json!({"error": "HTTP 502", "detail": "b", "status": 502})
        );
    }

    #[test]
    fn unreachable_names_the_host_and_has_no_status() {
        let e = ToolError::Unreachable {
            api: Api::Tenant,
            url: "http://h:1".into(),
            message: "refused".into(),
            attempts: 1,
        };
        assert_eq!(
            e.envelope(),
            json!({"error": "Tenant host unreachable at http://h:1", "detail": "refused"})
        );
        let e = ToolError::Unreachable {
            api: Api::ControlPlane,
            url: "https://cp".into(),
            message: "x".into(),
            attempts: 3,
        };
        assert_eq!(e.code(), "Control plane unreachable at https://cp");
        assert_eq!(
            e.envelope()["attempts"],
            3,
            "the final error says how many attempts were made"
        );
    }

    #[test]
    fn redact_reaches_every_text_an_error_carries() {
        let mut e = ToolError::ContractMismatch {
            errors: vec!["has sk-secret-1".into()],
            body: json!({ "a": ["sk-secret-1"] }),
        };
        e.redact(&Redactor::new(["sk-secret-1"]));
        assert_eq!(
            e,
            ToolError::ContractMismatch {
                errors: vec!["has [redacted]".into()],
                body: json!({ "a": ["[redacted]"] }),
            }
        );
    }

    #[test]
    fn a_cut_body_says_so_and_a_preview_is_clipped() {
        let e = ToolError::Http {
            api: Api::Tenant,
            status: 500,
            body: "abc".into(),
            cut: true,
            attempts: 1,
            seen: None,
        };
        assert_eq!(
            e.envelope()["detail"],
            format!("abc{CUT} (the body was longer)")
        );
        let e = ToolError::ResultTooLarge {
            size: 9,
            at_least: false,
            limit: 5,
            preview: "x".repeat(PREVIEW_BYTES * 2),
        };
        assert_eq!(
            e.envelope()["detail"]["preview"],
            format!("{}{CUT}", "x".repeat(PREVIEW_BYTES))
        );
    }
}
