//! The stdio transport, with one guard in front of rmcp: every stdin line must be a
//! JSON-RPC message. rmcp drops an unparsable line silently, leaving a client waiting
//! forever; here it gets a JSON-RPC error (`-32700` parse error, `-32600` invalid
//! request) and the server keeps serving. stdout is written one whole line at a time,
//! by one task, so nothing can interleave with protocol messages.

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

/// Lines longer than this are refused (`-32600`) instead of being handed to rmcp.
pub const MAX_LINE_BYTES: usize = 8 * 1024 * 1024;

/// What to do with one input line.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    /// Pass it to rmcp.
    Forward,
    /// Blank: ignore.
    Skip,
    /// Answer this JSON-RPC error instead.
    Reject(Value),
}

/// Classifies one line of input.
pub fn inspect(line: &[u8]) -> Verdict {
    let trimmed = line.trim_ascii();
    if trimmed.is_empty() {
        return Verdict::Skip;
    }
    let error = |code: i64, message: &str, id: Value| {
        Verdict::Reject(
            json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message } }),
        )
    };
    if trimmed.len() > MAX_LINE_BYTES {
        return error(-32600, "Invalid Request: message too large", Value::Null);
    }
    let Ok(message) = serde_json::from_slice::<Value>(trimmed) else {
        return error(
            -32700,
            "Parse error: the line is not valid JSON",
            Value::Null,
        );
    };
    let id = match message.get("id") {
        Some(id @ (Value::String(_) | Value::Number(_))) => id.clone(),
        _ => Value::Null,
    };
    let shaped = message.get("jsonrpc") == Some(&json!("2.0"))
        && (message.get("method").is_some_and(Value::is_string)
            || message.get("result").is_some()
            || message.get("error").is_some());
    if message.is_array() || shaped {
        Verdict::Forward
    } else {
        error(-32600, "Invalid Request: not a JSON-RPC 2.0 message", id)
    }
}

/// Runs `serve` (an rmcp service over the given reader/writer) behind the guard, on
/// `input`/`output` (stdin/stdout in production, pipes in tests).
pub async fn guarded<I, O, F, Fut, E>(input: I, mut output: O, serve: F) -> Result<(), E>
where
    I: AsyncRead + Unpin + Send + 'static,
    O: AsyncWrite + Unpin + Send + 'static,
    F: FnOnce(tokio::io::DuplexStream, tokio::io::DuplexStream) -> Fut,
    Fut: std::future::Future<Output = Result<(), E>>,
{
    let (mut to_rmcp, rmcp_in) = tokio::io::duplex(64 * 1024);
    let (rmcp_out, from_rmcp) = tokio::io::duplex(64 * 1024);
    let (lines_tx, mut lines_rx) = mpsc::unbounded_channel::<Vec<u8>>();

    let writer = tokio::spawn(async move {
        while let Some(line) = lines_rx.recv().await {
            if output.write_all(&line).await.is_err() || output.write_all(b"\n").await.is_err() {
                break;
            }
            if output.flush().await.is_err() {
                break;
            }
        }
    });

    let replies = lines_tx.clone();
    let reader = tokio::spawn(async move {
        let mut input = BufReader::new(input);
        let mut line = Vec::new();
        loop {
            line.clear();
            match input.read_until(b'\n', &mut line).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            match inspect(&line) {
                Verdict::Skip => {}
                Verdict::Reject(error) => {
                    tracing::warn!("refused a malformed input line ({} bytes)", line.len());
                    let _ = replies.send(error.to_string().into_bytes());
                }
                Verdict::Forward => {
                    if !line.ends_with(b"\n") {
                        line.push(b'\n');
                    }
                    if to_rmcp.write_all(&line).await.is_err() {
                        break;
                    }
                }
            }
        }
        // EOF on stdin: closing rmcp's input ends the service.
        let _ = to_rmcp.shutdown().await;
    });

    let forward = tokio::spawn(async move {
        let mut lines = BufReader::new(from_rmcp);
        let mut line = Vec::new();
        loop {
            line.clear();
            match lines.read_until(b'\n', &mut line).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let text = line.trim_ascii_end().to_vec();
                    if !text.is_empty() && lines_tx.send(text).is_err() {
                        break;
                    }
                }
            }
        }
    });

    let result = serve(rmcp_in, rmcp_out).await;
    reader.abort();
    let _ = forward.await;
    let _ = writer.await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_a_parse_error_and_wrong_shapes_are_invalid_requests() {
        let Verdict::Reject(e) = inspect(b"not json\n") else {
            panic!()
        };
        assert_eq!(e["error"]["code"], -32700);
        assert_eq!(e["id"], Value::Null);
        let Verdict::Reject(e) = inspect(br#"{"id": 7, "method": "tools/list"}"#) else {
            panic!()
        };
        assert_eq!(
            (e["error"]["code"].as_i64(), e["id"].as_i64()),
            (Some(-32600), Some(7))
        );
        assert_eq!(
            inspect(br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#),
            Verdict::Forward
        );
        assert_eq!(inspect(b"   \r\n"), Verdict::Skip);
    }
}
