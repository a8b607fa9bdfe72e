//! A call's line in the audit log (src/audit.rs): begun before anything is sent, for a
//! call that is not a read, and ended with the call's outcome.

use super::Success;
use crate::audit;
use crate::client::Caller;
use crate::error::ToolError;
use crate::redact::Redactor;
use crate::safety::CallContext;
use crate::tools::Entry;
use crate::tools::table::Access;
use serde_json::{Map, Value};
use std::sync::Arc;

/// Begins the record of a call to `entry`, its arguments redacted; `None` without an
/// audit log or for a read.
pub(super) fn begin(
    log: Option<&Arc<audit::AuditLog>>,
    entry: &Entry,
    args: &Map<String, Value>,
    caller: &Caller,
    context: &CallContext,
    redactor: &Redactor,
) -> Option<Arc<audit::Record>> {
    let log = log?;
    if entry.row.access == Access::Read {
        return None;
    }
    let mut arguments = Value::Object(args.clone());
    redactor.value(&mut arguments);
    Some(audit::Record::start(
        log.clone(),
        audit::Subject {
            transport: context.transport.name(),
            caller: caller
                .org_api_key
                .as_ref()
                .map(|k| audit::key_fingerprint(k.expose())),
            org_id: caller.org_id.clone(),
            org_slug: caller.org_slug.clone(),
            tool: entry.row.name.to_string(),
            arguments,
            jsonrpc_id: context.jsonrpc_id.clone(),
            trace_id: context.trace_id.clone(),
        },
    ))
}

/// Ends a call's audit record with its outcome. A call that sent nothing and whose
/// lines cannot be written is refused with `AUDIT_UNAVAILABLE`; one that was sent keeps
/// its result (the request happened) and the failure is logged.
pub(super) fn finish(
    record: &audit::Record,
    outcome: Result<Success, ToolError>,
) -> Result<Success, ToolError> {
    let ending = match &outcome {
        Ok(_) => audit::Outcome::Ok,
        Err(ToolError::DryRun(_)) => audit::Outcome::DryRun,
        Err(ToolError::ConfirmationDeclined { .. }) => audit::Outcome::Declined,
        Err(e) => audit::Outcome::Error(e.code()),
    };
    match record.finish(&ending) {
        Ok(()) => outcome,
        Err(_) if matches!(outcome, Err(ToolError::AuditUnavailable(_))) => outcome,
        Err(e) if record.was_sent() => {
            tracing::error!("the audit log could not record a call's outcome: {e}");
            outcome
        }
        Err(e) => Err(ToolError::AuditUnavailable(e.to_string())),
    }
}
