//! The stdio transport: rmcp's line-delimited JSON-RPC, with guards at its edges
//! (docs/security.md, "JSON-RPC edges"):
//!
//! - An unparsable line gets `-32700`, a message that is not a request `-32600`, a
//!   request whose `id` is not a string or a number `-32600` with `id: null`, and a
//!   known method with wrong-typed params `-32602` (rmcp would drop the first three
//!   silently, leaving a client waiting forever).
//! - Before `initialize`, notifications and responses are ignored (rmcp would end the
//!   session on them); requests go through (rmcp answers `ping` and refuses others).
//! - Ids are echoed exactly as sent: a numeric id that rmcp would rewrite (beyond
//!   64 bits, or written `1.0`) travels through rmcp as a stand-in string and leaves
//!   as its original text.
//! - Every stdout line is written whole, under one lock, so nothing interleaves.

use bytes::{Bytes, BytesMut};
use futures::{Sink, Stream};
use rmcp::RoleServer;
use rmcp::model::{ClientRequest, JsonRpcMessage};
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::Mutex;
use tokio_util::codec::{AnyDelimiterCodec, AnyDelimiterCodecError, Decoder};

/// Lines longer than this are refused (`-32600`) instead of being parsed.
pub const MAX_LINE_BYTES: usize = 8 * 1024 * 1024;

/// What to do with one input line.
#[derive(Debug)]
pub enum Verdict {
    /// A message for rmcp.
    Forward(Box<RxJsonRpcMessage<RoleServer>>),
    /// Blank, a notification rmcp does not know, or a non-request before
    /// `initialize` (JSON-RPC never answers those).
    Skip,
    /// Answer with this JSON-RPC error line instead.
    Reject(Vec<u8>),
}

/// What the two halves of the transport share: the ids of the requests in progress.
#[derive(Debug, Default)]
pub struct Ids {
    /// Whether the lifecycle has begun (an `initialize` or another non-ping request).
    started: AtomicBool,
    /// Stand-in string id → the id's original JSON text.
    ids: std::sync::Mutex<HashMap<String, String>>,
    next: AtomicU64,
    /// The JSON text of every client id whose request has not been answered yet.
    in_progress: std::sync::Mutex<HashSet<String>>,
}

/// How every stand-in id begins. A client id that begins so is itself carried by a
/// stand-in, so no client id can ever equal one.
const STAND_IN: &str = "\u{0}molecule-mcp-id-";

#[derive(serde::Deserialize)]
struct Probe<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
}

impl Ids {
    /// A stand-in for an id rmcp cannot carry exactly.
    fn stand_in(&self, raw: &str) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let key = format!("{STAND_IN}{n}");
        if let Ok(mut ids) = self.ids.lock() {
            ids.insert(key.clone(), raw.to_string());
        }
        key
    }

    /// The original text of a stand-in id, once (the response is its last use).
    fn original(&self, id: &str) -> Option<String> {
        self.ids.lock().ok()?.remove(id)
    }

    /// Marks the request with client id `text` in progress; `false` when one with the
    /// same id already is (JSON-RPC ids must be unique among requests in progress, and
    /// one answer could not tell the two apart).
    fn begin(&self, text: &str) -> bool {
        self.in_progress
            .lock()
            .map(|mut set| set.insert(text.to_string()))
            .unwrap_or(true)
    }

    /// The request with client id `text` is answered.
    fn end(&self, text: &str) {
        if let Ok(mut set) = self.in_progress.lock() {
            set.remove(text);
        }
    }

    /// An outgoing message as one line, its id restored to the text the client sent.
    pub fn encode(&self, message: &TxJsonRpcMessage<RoleServer>) -> io::Result<Vec<u8>> {
        let line = serde_json::to_vec(message).map_err(io::Error::other)?;
        let answered = match message {
            JsonRpcMessage::Response(r) => Some(&r.id),
            JsonRpcMessage::Error(e) => e.id.as_ref(),
            _ => None,
        };
        let answered = answered.and_then(|id| serde_json::to_string(id).ok());
        let empty = self.ids.lock().map(|ids| ids.is_empty()).unwrap_or(true);
        if empty {
            if let Some(id) = answered {
                self.end(&id);
            }
            return Ok(line);
        }
        let Ok(Value::Object(mut object)) = serde_json::from_slice::<Value>(&line) else {
            return Ok(line);
        };
        let raw = match object.get("id") {
            Some(Value::String(id)) => self.original(id),
            _ => None,
        };
        let Some(raw) = raw else {
            if let Some(id) = answered {
                self.end(&id);
            }
            return Ok(line);
        };
        self.end(&raw);
        object.remove("id");
        Ok(with_raw_id(&raw, &Value::Object(object)))
    }
}

/// `message` (an object) serialised with `"id": <raw>` first.
fn with_raw_id(raw: &str, message: &Value) -> Vec<u8> {
    let rest = message.to_string();
    let mut out = format!("{{\"id\":{raw}");
    if rest.len() > 2 {
        out.push(',');
        out.push_str(&rest[1..]);
    } else {
        out.push('}');
    }
    out.into_bytes()
}

/// An error reply to the request whose id has the JSON text `id`.
fn error(code: i64, message: String, id: &str) -> Verdict {
    let reply = json!({ "jsonrpc": "2.0", "error": { "code": code, "message": message } });
    Verdict::Reject(with_raw_id(id, &reply))
}

/// Classifies one line of input.
pub fn inspect(line: &[u8], ids: &Ids) -> Verdict {
    let trimmed = line.trim_ascii();
    let trimmed = trimmed
        .strip_prefix(b"\xEF\xBB\xBF".as_slice())
        .unwrap_or(trimmed);
    if trimmed.is_empty() {
        return Verdict::Skip;
    }
    if trimmed.len() > MAX_LINE_BYTES {
        return error(-32600, "Invalid Request: message too large".into(), "null");
    }
    if let Ok(message) = serde_json::from_slice::<RxJsonRpcMessage<RoleServer>>(trimmed) {
        // rmcp re-renders numeric ids: keep the original text where it would differ.
        let exact = serde_json::from_slice::<Probe>(trimmed)
            .ok()
            .and_then(|p| p.id)
            .is_none_or(|raw| {
                let raw = raw.get();
                (raw.starts_with('"') && !looks_like_stand_in(raw))
                    || raw.parse::<i64>().is_ok_and(|n| n.to_string() == raw)
            });
        if exact {
            return admit(message, ids);
        }
    }
    let Ok(mut message) = serde_json::from_slice::<Value>(trimmed) else {
        return error(
            -32700,
            "Parse error: the line is not valid JSON".into(),
            "null",
        );
    };
    let raw_id = serde_json::from_slice::<Probe>(trimmed)
        .ok()
        .and_then(|p| p.id)
        .map(|r| r.get().to_string());
    let Value::Object(object) = &mut message else {
        return error(
            -32600,
            "Invalid Request: not a JSON-RPC object".into(),
            "null",
        );
    };
    let echo = match (object.get("id"), &raw_id) {
        (None, _) => None,
        (Some(Value::String(s)), _) if !s.starts_with(STAND_IN) => object.get("id").cloned(),
        (Some(Value::String(_) | Value::Number(_)), Some(raw)) => {
            let stand_in = ids.stand_in(raw);
            object.insert("id".into(), Value::String(stand_in.clone()));
            Some(Value::String(stand_in))
        }
        (Some(_), _) => {
            return error(
                -32600,
                "Invalid Request: `id` must be a string or a number".into(),
                "null",
            );
        }
    };
    let has_method = object.get("method").is_some_and(Value::is_string);
    // Again, with a stand-in for an id rmcp would refuse or rewrite.
    let problem = match serde_json::from_value::<RxJsonRpcMessage<RoleServer>>(message) {
        Ok(message) => return admit(message, ids),
        Err(e) => e.to_string(),
    };
    let problem = unquoted(&problem);
    match echo {
        // A notification rmcp does not know: JSON-RPC never answers those.
        None if has_method => Verdict::Skip,
        None => error(-32600, format!("Invalid Request: {problem}"), "null"),
        Some(id) if has_method => {
            let id = restore(&id, ids);
            error(-32602, format!("Invalid params: {problem}"), &id)
        }
        Some(id) => {
            let id = restore(&id, ids);
            error(-32600, format!("Invalid Request: {problem}"), &id)
        }
    }
}

/// Whether the JSON string `raw` may begin like a stand-in (escaped or not); such an id
/// takes the slow path, which gives it a stand-in of its own.
fn looks_like_stand_in(raw: &str) -> bool {
    raw.contains("molecule-mcp-id-")
        && serde_json::from_str::<String>(raw).is_ok_and(|s| s.starts_with(STAND_IN))
}

/// A parse error of the client's message, safe to send back: every quoted piece (where
/// serde quotes the value it could not take, a secret among them) is replaced by `"…"`,
/// and the rest clipped.
fn unquoted(problem: &str) -> String {
    let plain = match (problem.find('"'), problem.rfind('"')) {
        (Some(first), Some(last)) if last > first => {
            format!("{}\"…\"{}", &problem[..first], &problem[last + 1..])
        }
        _ => problem.to_string(),
    };
    crate::result::clipped(&plain, 300)
}

/// The JSON text of the client's own id, for a stand-in or a plain id.
fn restore(id: &Value, ids: &Ids) -> String {
    match id {
        Value::String(s) => ids.original(s).unwrap_or_else(|| id.to_string()),
        other => other.to_string(),
    }
}

/// The MCP request methods rmcp parses into their own types; one of them arriving as a
/// custom request means its params did not fit.
const STANDARD_METHODS: [&str; 13] = [
    "initialize",
    "ping",
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "resources/subscribe",
    "resources/unsubscribe",
    "prompts/list",
    "prompts/get",
    "completion/complete",
    "logging/setLevel",
];

/// Lets a parsed message through, or holds back what rmcp cannot take before
/// `initialize`, or refuses a standard method whose params are of the wrong shape.
fn admit(message: RxJsonRpcMessage<RoleServer>, ids: &Ids) -> Verdict {
    if let JsonRpcMessage::Request(request) = &message
        && let ClientRequest::CustomRequest(custom) = &request.request
        && STANDARD_METHODS.contains(&custom.method.as_str())
    {
        let id = serde_json::to_value(&request.id).unwrap_or(Value::Null);
        let why = match custom.method.as_str() {
            "tools/call" => serde_json::from_value::<rmcp::model::CallToolRequestParams>(
                custom.params.clone().unwrap_or(Value::Null),
            )
            .err()
            .map(|e| e.to_string()),
            _ => None,
        }
        .unwrap_or_else(|| "the params do not fit the method".into());
        return error(
            -32602,
            format!("Invalid params for `{}`: {}", custom.method, unquoted(&why)),
            &restore(&id, ids),
        );
    }
    if let JsonRpcMessage::Request(request) = &message {
        let id = serde_json::to_value(&request.id).unwrap_or(Value::Null);
        let text = match &id {
            Value::String(s) if s.starts_with(STAND_IN) => ids
                .ids
                .lock()
                .ok()
                .and_then(|m| m.get(s).cloned())
                .unwrap_or_else(|| id.to_string()),
            _ => id.to_string(),
        };
        if !ids.begin(&text) {
            return error(
                -32600,
                "Invalid Request: a request with this id is still in progress; give every \
                 request in progress an id of its own"
                    .into(),
                &restore(&id, ids),
            );
        }
    }
    if !ids.started.load(Ordering::Relaxed) {
        match &message {
            JsonRpcMessage::Request(request) => {
                if !matches!(request.request, ClientRequest::PingRequest(_)) {
                    ids.started.store(true, Ordering::Relaxed);
                }
            }
            _ => {
                tracing::debug!("ignored a message other than a request before initialize");
                return Verdict::Skip;
            }
        }
    }
    Verdict::Forward(Box::new(message))
}

/// The input split into lines by tokio-util's delimiter codec. A line of at most
/// [`MAX_LINE_BYTES`] comes whole; of a longer one only the first `MAX_LINE_BYTES + 1`
/// bytes are kept (enough to refuse it) and the rest is dropped as it arrives, so
/// memory stays bounded. Lines are bytes: invalid UTF-8 is the parser's to refuse.
struct Lines<R> {
    input: R,
    buffer: BytesMut,
    codec: AnyDelimiterCodec,
    eof: bool,
}

/// One input line, without its newline.
struct Line {
    bytes: Bytes,
    /// Whether a newline ended it (not the end of input, nor the limit).
    newline: bool,
}

impl Line {
    /// The bytes read for it, its newline included.
    fn len(&self) -> usize {
        self.bytes.len() + usize::from(self.newline)
    }
}

/// How much room is made in the buffer before each read.
const READ_BYTES: usize = 8 * 1024;

impl<R: AsyncRead + Unpin> Lines<R> {
    fn new(input: R) -> Self {
        Lines {
            input,
            buffer: BytesMut::new(),
            codec: AnyDelimiterCodec::new_with_max_length(vec![b'\n'], Vec::new(), MAX_LINE_BYTES),
            eof: false,
        }
    }

    /// The next line; `None` at end of input.
    async fn next(&mut self) -> io::Result<Option<Line>> {
        loop {
            match self.codec.decode(&mut self.buffer) {
                Ok(Some(bytes)) => {
                    return Ok(Some(Line {
                        bytes,
                        newline: true,
                    }));
                }
                Ok(None) if self.eof => {
                    // What follows the last newline, if anything.
                    let rest = self.codec.decode_eof(&mut self.buffer).map_err(io_error)?;
                    return Ok(rest.map(|bytes| Line {
                        bytes,
                        newline: false,
                    }));
                }
                Ok(None) => {}
                // Over the limit: the codec drops the rest of the line from its next
                // call on; what it still holds is kept up to the limit and one byte.
                Err(AnyDelimiterCodecError::MaxChunkLengthExceeded) => {
                    let kept = self
                        .buffer
                        .get(..=MAX_LINE_BYTES)
                        .unwrap_or(&self.buffer[..]);
                    return Ok(Some(Line {
                        bytes: Bytes::copy_from_slice(kept),
                        newline: false,
                    }));
                }
                Err(e) => return Err(io_error(e)),
            }
            self.buffer.reserve(READ_BYTES);
            if self.input.read_buf(&mut self.buffer).await? == 0 {
                self.eof = true;
            }
        }
    }
}

fn io_error(e: AnyDelimiterCodecError) -> io::Error {
    match e {
        AnyDelimiterCodecError::Io(e) => e,
        other => io::Error::other(other),
    }
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
    let ids = Arc::new(Ids::default());
    let outgoing = futures::sink::unfold(
        (writer.clone(), ids.clone()),
        |(writer, ids), message: TxJsonRpcMessage<RoleServer>| async move {
            let line = ids.encode(&message)?;
            write_line(&writer, line).await?;
            Ok::<_, io::Error>((writer, ids))
        },
    );
    let incoming = futures::stream::unfold(
        (Lines::new(input), writer, ids),
        |(mut lines, writer, ids)| async move {
            loop {
                let line = match lines.next().await {
                    Ok(Some(line)) => line,
                    Ok(None) | Err(_) => return None,
                };
                match inspect(&line.bytes, &ids) {
                    Verdict::Forward(message) => {
                        return Some((*message, (lines, writer, ids)));
                    }
                    Verdict::Skip => {}
                    Verdict::Reject(reply) => {
                        tracing::warn!("refused a malformed input line ({} bytes)", line.len());
                        if write_line(&writer, reply).await.is_err() {
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
        match inspect(line, &Ids::default()) {
            Verdict::Reject(v) => serde_json::from_slice(&v).unwrap(),
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn an_over_long_line_is_refused_without_keeping_it_and_the_next_line_still_parses() {
        let mut input = vec![b'x'; MAX_LINE_BYTES + 100];
        input.extend_from_slice(b"\n{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n");
        let mut lines = Lines::new(input.as_slice());
        let line = lines.next().await.unwrap().unwrap();
        assert_eq!(line.len(), MAX_LINE_BYTES + 1, "only the limit is kept");
        assert_eq!(rejected(&line.bytes)["error"]["code"], -32600);
        let line = lines.next().await.unwrap().unwrap();
        assert!(matches!(
            inspect(&line.bytes, &Ids::default()),
            Verdict::Forward(_)
        ));
        assert!(lines.next().await.unwrap().is_none());
    }

    /// The limit itself: a line of exactly `MAX_LINE_BYTES` comes whole, with or without
    /// its newline and whatever ends it (CRLF); one byte more is cut at the limit and
    /// one byte, and what follows still comes line by line.
    #[tokio::test]
    async fn a_line_of_exactly_the_limit_comes_whole_and_one_byte_more_is_cut() {
        let exact = vec![b'x'; MAX_LINE_BYTES];
        let mut input = exact.clone();
        input.extend_from_slice(b"\n");
        input.extend_from_slice(&exact);
        input.extend_from_slice(b"y\r\n");
        input.extend_from_slice(b"\xff\xfe\r\n");
        input.extend_from_slice(&exact);
        let mut lines = Lines::new(input.as_slice());
        let line = lines.next().await.unwrap().unwrap();
        assert_eq!(
            (line.bytes.len(), line.len()),
            (MAX_LINE_BYTES, MAX_LINE_BYTES + 1)
        );
        let line = lines.next().await.unwrap().unwrap();
        assert_eq!(
            line.len(),
            MAX_LINE_BYTES + 1,
            "cut at the limit and one byte"
        );
        assert!(line.bytes.ends_with(b"y"));
        let line = lines.next().await.unwrap().unwrap();
        assert_eq!(&line.bytes[..], b"\xff\xfe\r", "bytes, not text");
        assert_eq!(rejected(&line.bytes)["error"]["code"], -32700);
        let line = lines.next().await.unwrap().unwrap();
        assert_eq!((line.bytes.len(), line.newline), (MAX_LINE_BYTES, false));
        assert!(lines.next().await.unwrap().is_none());
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
            inspect(
                br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
                &Ids::default()
            ),
            Verdict::Forward(_)
        ));
        assert!(matches!(
            inspect(
                b"\xEF\xBB\xBF{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\r\n",
                &Ids::default()
            ),
            Verdict::Forward(_)
        ));
        assert!(matches!(
            inspect(
                br#"{"method":"notifications/odd","params":1}"#,
                &Ids::default()
            ),
            Verdict::Skip
        ));
        assert!(matches!(
            inspect(b"   \r\n", &Ids::default()),
            Verdict::Skip
        ));
    }
}
