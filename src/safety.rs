//! The operator's safety settings and one call's own (docs/safety.md): dry run and the
//! audit log, set at start-up (`MOLECULE_MCP_DRY_RUN`, `MOLECULE_MCP_AUDIT_LOG`) and, for
//! dry run, raised per HTTP request (`X-MCP-Dry-Run`, read by src/remote.rs: a caller
//! can turn it on, never off).

use crate::audit::AuditLog;
use crate::config::{ConfigError, Confirm, SafetyArgs};
use crate::confirm::{Asker, Confirmed};
use std::path::PathBuf;
use std::sync::Arc;

/// The operator's settings.
#[derive(Debug, Clone, Default)]
pub struct Safety {
    /// `MOLECULE_MCP_DRY_RUN` / `--dry-run`: no call that is not a read sends anything.
    pub dry_run: bool,
    /// `MOLECULE_MCP_AUDIT_LOG` / `--audit-log`: where every call that is not a read is
    /// recorded.
    pub audit: Option<Arc<AuditLog>>,
    /// `MOLECULE_MCP_CONFIRM` / `--confirm`: which tools ask a person first.
    pub confirm: Confirm,
    /// `MOLECULE_MCP_CONFIRM_REQUIRED` / `--confirm-required`: refuse those tools when
    /// the client cannot ask.
    pub confirm_required: bool,
    /// `MOLECULE_MCP_STATE_KEY` (HTTP mode): seals a confirmation's request state for
    /// 2026-07-28 clients (src/sealed.rs); `None`: such clients are not asked.
    pub state_key: Option<Arc<crate::sealed::StateKey>>,
}

/// The settings as read, before the audit log is opened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SafetySettings {
    /// `MOLECULE_MCP_DRY_RUN`.
    pub dry_run: bool,
    /// `MOLECULE_MCP_AUDIT_LOG`.
    pub audit_log: Option<PathBuf>,
    /// `MOLECULE_MCP_CONFIRM`.
    pub confirm: Confirm,
    /// `MOLECULE_MCP_CONFIRM_REQUIRED`.
    pub confirm_required: bool,
}

impl From<SafetyArgs> for SafetySettings {
    fn from(a: SafetyArgs) -> Self {
        SafetySettings {
            dry_run: a.dry_run,
            audit_log: a.audit_log,
            confirm: a.confirm,
            confirm_required: a.confirm_required,
        }
    }
}

/// Why the audit log cannot be used; raised at start-up.
#[derive(Debug, thiserror::Error)]
#[error("MOLECULE_MCP_AUDIT_LOG / --audit-log: cannot open {path} for appending: {source}")]
pub struct AuditOpenError {
    path: String,
    source: std::io::Error,
}

impl SafetySettings {
    /// Reads the settings through `lookup` (the declarations of [`SafetyArgs`]).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        crate::config::from_lookup::<SafetyArgs>(lookup).map(SafetySettings::from)
    }

    /// Opens the audit log, if one is set.
    pub fn open(self) -> Result<Safety, AuditOpenError> {
        let audit = match self.audit_log {
            None => None,
            Some(path) => Some(Arc::new(AuditLog::open(&path).map_err(|source| {
                AuditOpenError {
                    path: path.display().to_string(),
                    source,
                }
            })?)),
        };
        Ok(Safety {
            dry_run: self.dry_run,
            audit,
            confirm: self.confirm,
            confirm_required: self.confirm_required,
            state_key: None,
        })
    }
}

/// Where a call came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Channel {
    /// MCP over stdio.
    #[default]
    Stdio,
    /// MCP over HTTP.
    Http,
    /// `molecule-mcp call`.
    Cli,
}

impl Channel {
    /// Its name in the audit log.
    pub fn name(self) -> &'static str {
        match self {
            Channel::Stdio => "stdio",
            Channel::Http => "http",
            Channel::Cli => "cli",
        }
    }
}

/// One call's own context: where it came from and what its request raised.
#[derive(Debug, Clone, Default)]
pub struct CallContext {
    /// Where the call came from.
    pub transport: Channel,
    /// The JSON-RPC id, redacted and clipped.
    pub jsonrpc_id: Option<String>,
    /// The trace id of the caller's `traceparent`.
    pub trace_id: Option<String>,
    /// The request asked for a dry run (`X-MCP-Dry-Run`).
    pub dry_run: bool,
    /// The request raised the confirmation level (`X-MCP-Confirm`).
    pub confirm: Option<Confirm>,
    /// How to ask the person behind the client, when it can be asked.
    pub asker: Option<Asker>,
    /// Set by the engine: how the call was confirmed.
    pub confirmed: Arc<std::sync::Mutex<Confirmed>>,
}

/// The trace id of a W3C `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`), when valid.
pub fn trace_id(traceparent: &str) -> Option<String> {
    let mut parts = traceparent.trim().split('-');
    let (_version, id) = (parts.next()?, parts.next()?);
    (id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        && id.bytes().any(|b| b != b'0'))
    .then(|| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_ids_come_from_valid_traceparents_only() {
        assert_eq!(
            trace_id("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(
            trace_id("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
            None
        );
        assert_eq!(trace_id("garbage"), None);
    }

    #[test]
    fn settings_parse_and_refuse_bad_values() {
        let s = SafetySettings::from_lookup(|k| match k {
            "MOLECULE_MCP_DRY_RUN" => Some("yes".into()),
            "MOLECULE_MCP_AUDIT_LOG" => Some("/tmp/x.jsonl".into()),
            _ => None,
        })
        .unwrap();
        assert!(s.dry_run);
        assert_eq!(s.audit_log, Some(PathBuf::from("/tmp/x.jsonl")));
        let err = SafetySettings::from_lookup(|k| {
            (k == "MOLECULE_MCP_DRY_RUN").then(|| "sometimes".to_string())
        })
        .unwrap_err();
        assert!(err.to_string().contains("MOLECULE_MCP_DRY_RUN"), "{err}");
    }
}
