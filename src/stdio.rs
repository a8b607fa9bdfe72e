//! The stdio transport: rmcp's line-delimited JSON-RPC, with one guard. rmcp drops an
//! unparsable line silently, which leaves a client waiting forever; here such a line
//! gets a JSON-RPC error (`-32700` parse error, `-32600` invalid request) and the
//! server keeps serving. Every stdout line is written whole, under one lock, so
//! nothing can interleave with a protocol message.

use futures::{Sink, Stream};
use rmcp::RoleServer;
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use serde_json::{Value, json};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader,
};
use tokio::sync::Mutex;

/// Lines longer than this are refused (`-32600`) instead of being parsed.
pub const MAX_LINE_BYTES: usize = 8 * 1024 * 1024;

/// What to do with one input line.
#[derive(Debug)]
pub enum Verdict {
    /// A message for rmcp.
    Forward(Box<RxJsonRpcMessage<RoleServer>>),
    /// Blank, or a notification rmcp does not know (JSON-RPC never answers those).
    Skip,
    /// Answer this JSON-RPC error instead.
    Reject(Value),
}

/// Classifies one line of input.
pub fn inspect(line: &[u8]) -> Verdict {
    let trimmed = line.trim_ascii();
    let trimmed = trimmed
        .strip_prefix(b"\xEF\xBB\xBF".as_slice())
        .unwrap_or(trimmed);
    if trimmed.is_empty() {
        return Verdict::Skip;
    }
    let error = |code: i64, message: String, id: Value| {
        Verdict::Reject(
            json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message } }),
        )
    };
    if trimmed.len() > MAX_LINE_BYTES {
        return error(
            -32600,
            "Invalid Request: message too large".into(),
            Value::Null,
        );
    }
    let typed_error = match serde_json::from_slice::<RxJsonRpcMessage<RoleServer>>(trimmed) {
        Ok(message) => return Verdict::Forward(Box::new(message)),
        Err(e) => e,
    };
    let Ok(message) = serde_json::from_slice::<Value>(trimmed) else {
        return error(
            -32700,
            "Parse error: the line is not valid JSON".into(),
            Value::Null,
        );
    };
    let id = match message.get("id") {
        Some(id @ (Value::String(_) | Value::Number(_))) => id.clone(),
        _ => Value::Null,
    };
    if id.is_null() && message.get("method").is_some_and(Value::is_string) {
        return Verdict::Skip;
    }
    error(-32600, format!("Invalid Request: {typed_error}"), id)
}

/// Reads one line into `line`, keeping at most `MAX_LINE_BYTES + 1` bytes of it: the
/// rest of an over-long line is consumed and dropped, so memory stays bounded. `false`
/// at end of input.
async fn read_line_bounded<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    line: &mut Vec<u8>,
) -> io::Result<bool> {
    line.clear();
    let limit = u64::try_from(MAX_LINE_BYTES)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    if (&mut *reader).take(limit).read_until(b'\n', line).await? == 0 {
        return Ok(false);
    }
    if line.len() > MAX_LINE_BYTES && !line.ends_with(b"\n") {
        loop {
            let buf = reader.fill_buf().await?;
            if buf.is_empty() {
                break;
            }
            if let Some(end) = buf.iter().position(|b| *b == b'\n') {
                reader.consume(end + 1);
                break;
            }
            let len = buf.len();
            reader.consume(len);
        }
    }
    Ok(true)
}

async fn write_line<W: AsyncWrite + Unpin>(writer: &Mutex<W>, mut line: Vec<u8>) -> io::Result<()> {
    line.push(b'\n');
    let mut w = writer.lock().await;
    w.write_all(&line).await?;
    w.flush().await
}

/// The outgoing half of the transport.
pub type Outgoing = Pin<Box<dyn Sink<TxJsonRpcMessage<RoleServer>, Error = io::Error> + Send>>;
/// The incoming half of the transport.
pub type Incoming = Pin<Box<dyn Stream<Item = RxJsonRpcMessage<RoleServer>> + Send>>;

/// A transport for `rmcp::ServiceExt::serve` over `input`/`output` (stdin/stdout).
/// The service ends when `input` reaches end of file.
pub fn transport<R, W>(input: R, output: W) -> (Outgoing, Incoming)
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let writer = Arc::new(Mutex::new(output));
    let outgoing = futures::sink::unfold(
        writer.clone(),
        |writer, message: TxJsonRpcMessage<RoleServer>| async move {
            let line = serde_json::to_vec(&message).map_err(io::Error::other)?;
            write_line(&writer, line).await?;
            Ok::<_, io::Error>(writer)
        },
    );
    let incoming = futures::stream::unfold(
        (BufReader::new(input), writer, Vec::new()),
        |(mut reader, writer, mut line)| async move {
            loop {
                match read_line_bounded(&mut reader, &mut line).await {
                    Ok(true) => {}
                    Ok(false) | Err(_) => return None,
                }
                match inspect(&line) {
                    Verdict::Forward(message) => return Some((*message, (reader, writer, line))),
                    Verdict::Skip => {}
                    Verdict::Reject(reply) => {
                        tracing::warn!("refused a malformed input line ({} bytes)", line.len());
                        if write_line(&writer, reply.to_string().into_bytes())
                            .await
                            .is_err()
                        {
                            return None;
                        }
                    }
                }
            }
        },
    );
    (Box::pin(outgoing), Box::pin(incoming))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(line: &[u8]) -> Value {
        match inspect(line) {
            Verdict::Reject(v) => v,
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn an_over_long_line_is_refused_without_keeping_it_and_the_next_line_still_parses() {
        let mut input = vec![b'x'; MAX_LINE_BYTES + 100];
        input.extend_from_slice(b"\n{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n");
        let mut reader = BufReader::new(input.as_slice());
        let mut line = Vec::new();
        assert!(read_line_bounded(&mut reader, &mut line).await.unwrap());
        assert_eq!(line.len(), MAX_LINE_BYTES + 1, "only the limit is kept");
        assert_eq!(rejected(&line)["error"]["code"], -32600);
        assert!(read_line_bounded(&mut reader, &mut line).await.unwrap());
        assert!(matches!(inspect(&line), Verdict::Forward(_)));
        assert!(!read_line_bounded(&mut reader, &mut line).await.unwrap());
    }

    #[test]
    fn garbage_is_a_parse_error_and_wrong_shapes_are_invalid_requests() {
        let e = rejected(b"not json\n");
        assert_eq!(
            (e["error"]["code"].as_i64(), e["id"].clone()),
            (Some(-32700), Value::Null)
        );
        let e = rejected(br#"{"id": 7, "params": {}}"#);
        assert_eq!(
            (e["error"]["code"].as_i64(), e["id"].as_i64()),
            (Some(-32600), Some(7))
        );
        assert!(matches!(
            inspect(br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#),
            Verdict::Forward(_)
        ));
        assert!(matches!(
            inspect(b"\xEF\xBB\xBF{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\r\n"),
            Verdict::Forward(_)
        ));
        assert!(matches!(
            inspect(br#"{"method":"notifications/odd","params":1}"#),
            Verdict::Skip
        ));
        assert!(matches!(inspect(b"   \r\n"), Verdict::Skip));
    }
}
