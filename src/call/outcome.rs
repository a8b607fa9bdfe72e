//! Outcome mapping: the raw result of the last attempt becomes the status and body of
//! a 2xx, or the [`ToolError`] that says what happened (timeout, unreachable host,
//! HTTP error, a result too large). The body is read up to a cap, never unbounded.

use super::AttemptResult;
use crate::client::Caller;
use crate::config::Limits;
use crate::error::ToolError;
use crate::{Api, Operation};
use futures::StreamExt;
use progenitor_client::ByteStream;

/// The status and body of a 2xx answer to `op`, after `attempts` attempts; `slack` is
/// the redactor's (see [`read_cap`]).
pub(super) async fn read(
    op: Operation,
    outcome: AttemptResult,
    attempts: u32,
    slack: usize,
    limits: &Limits,
    caller: &Caller,
) -> Result<(u16, Vec<u8>), ToolError> {
    let api = op.api();
    let base = match api {
        Api::Tenant => &caller.tenant_url,
        Api::ControlPlane => &caller.cp_url,
    };
    let network = |e: reqwest::Error| {
        if e.is_timeout() {
            ToolError::Timeout {
                operation: op.operation_id().to_string(),
                seconds: limits.timeout.as_secs(),
                attempts,
            }
        } else {
            ToolError::Unreachable {
                api,
                url: base.clone(),
                message: crate::logging::error_chain(&e),
                attempts,
            }
        }
    };
    let (status, stream) = match outcome {
        Ok(response) => (response.status().as_u16(), response.into_inner()),
        Err(progenitor_client::Error::UnexpectedResponse(response)) => (
            response.status().as_u16(),
            ByteStream::new(Box::pin(response.bytes_stream())),
        ),
        Err(progenitor_client::Error::CommunicationError(e))
        | Err(progenitor_client::Error::ResponseBodyError(e)) => return Err(network(e)),
        Err(other) => {
            return Err(ToolError::Internal(format!(
                "{}: {}",
                op.operation_id(),
                other
            )));
        }
    };
    let (bytes, complete) = read_limited(stream, read_cap(limits, slack))
        .await
        .map_err(network)?;
    if !(200..300).contains(&status) {
        return Err(ToolError::Http {
            api,
            status,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            cut: !complete,
            attempts,
            seen: None,
        });
    }
    if !complete {
        return Err(ToolError::ResultTooLarge {
            size: bytes.len(),
            at_least: true,
            limit: limits.max_result_bytes,
            preview: String::from_utf8_lossy(&bytes).into_owned(),
        });
    }
    Ok((status, bytes))
}

/// The most bytes read from a host: enough to tell a result is too large (its
/// encoded form is never smaller than the compact body), never unbounded; plus
/// the redactor's `slack`, so a secret straddling the cap is read whole and
/// redacted before anything is cut.
fn read_cap(limits: &Limits, slack: usize) -> usize {
    limits
        .max_result_bytes
        .saturating_add(1)
        .saturating_add(slack)
}

/// Reads at most `cap` bytes; `false` when the body was longer.
async fn read_limited(
    mut stream: ByteStream,
    cap: usize,
) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        let room = cap.saturating_sub(body.len());
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return Ok((body, false));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, true))
}
