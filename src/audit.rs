//! The audit log (`MOLECULE_MCP_AUDIT_LOG` / `--audit-log`; docs/safety.md): JSON
//! Lines, appended, two per call that is not a read, refused, declined and dry-run ones
//! included. The intent line is written and flushed in the clients' `pre` hook, with
//! the request complete and not yet sent (src/outbound.rs); a call that ends before
//! that gets its intent line when it ends. The outcome line follows, with the same
//! `call_id`. A crash between the two leaves an intent without an outcome, never a
//! request without an intent.
//!
//! Each line is one `write` of the whole line, under a lock, to a file opened with
//! `O_APPEND`: concurrent calls never interleave within a line. SIGHUP reopens the file
//! (logrotate). No line holds a key or a secret value: the caller is a fingerprint of
//! its key, and arguments go through the call's redactor.

use serde_json::{Map, Value, json};
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

/// The open audit log.
pub struct AuditLog {
    path: PathBuf,
    file: Mutex<std::io::Result<File>>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuditLog({})", self.path.display())
    }
}

fn open(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl AuditLog {
    /// Opens (creating, appending) the log at `path`.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        Ok(AuditLog {
            path: path.to_path_buf(),
            file: Mutex::new(Ok(open(path)?)),
        })
    }

    /// Where the log is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens the path again (after logrotate moved the file away). Until it succeeds,
    /// every call that is not a read is refused with `AUDIT_UNAVAILABLE`.
    pub fn reopen(&self) -> std::io::Result<()> {
        let reopened = open(&self.path);
        let failed = reopened
            .as_ref()
            .err()
            .map(|e| std::io::Error::new(e.kind(), e.to_string()));
        *self.file.lock().unwrap_or_else(|e| e.into_inner()) = reopened;
        failed.map_or(Ok(()), Err)
    }

    /// Appends `line` and a newline in one write.
    fn append(&self, line: &Value) -> std::io::Result<()> {
        let mut text = serde_json::to_string(line).map_err(std::io::Error::other)?;
        text.push('\n');
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        match file.as_mut() {
            Ok(f) => f.write_all(text.as_bytes()).and_then(|()| f.flush()),
            Err(e) => Err(std::io::Error::new(
                e.kind(),
                format!("{} could not be reopened: {e}", self.path.display()),
            )),
        }
    }
}

/// Who and what one call is, for its lines.
#[derive(Debug, Clone, Default)]
pub struct Subject {
    /// `stdio`, `http` or `cli`.
    pub transport: &'static str,
    /// The key's fingerprint ([`key_fingerprint`]).
    pub caller: Option<String>,
    /// `X-Molecule-Org-Id` sent.
    pub org_id: Option<String>,
    /// `X-Molecule-Org-Slug` sent.
    pub org_slug: Option<String>,
    /// The tool.
    pub tool: String,
    /// The arguments, secrets redacted.
    pub arguments: Value,
    /// The JSON-RPC id of the request.
    pub jsonrpc_id: Option<String>,
    /// The caller's trace id (`traceparent`), when one came.
    pub trace_id: Option<String>,
}

/// One call's lines.
#[derive(Debug)]
pub struct Record {
    log: Arc<AuditLog>,
    call_id: String,
    started: Instant,
    subject: Subject,
    intent_written: AtomicBool,
    finished: AtomicBool,
    left: AtomicBool,
    sent: Mutex<Option<(String, String)>>,
    status: Mutex<Option<u16>>,
    confirmed: Mutex<&'static str>,
}

/// How an outcome line ends a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `ok`
    Ok,
    /// `dry_run`
    DryRun,
    /// `declined`
    Declined,
    /// An error code.
    Error(String),
}

impl Outcome {
    fn text(&self) -> &str {
        match self {
            Outcome::Ok => "ok",
            Outcome::DryRun => "dry_run",
            Outcome::Declined => "declined",
            Outcome::Error(code) => code,
        }
    }
}

impl Record {
    /// The record of a call starting now; nothing is written yet.
    pub fn start(log: Arc<AuditLog>, subject: Subject) -> Arc<Record> {
        Arc::new(Record {
            log,
            call_id: call_id(),
            started: Instant::now(),
            subject,
            intent_written: AtomicBool::new(false),
            finished: AtomicBool::new(false),
            left: AtomicBool::new(false),
            sent: Mutex::new(None),
            status: Mutex::new(None),
            confirmed: Mutex::new("not_asked"),
        })
    }

    /// The method and path of the request (as built, before sending).
    pub fn sent(&self, method: &str, path: &str) {
        *self.sent.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((method.to_string(), path.to_string()));
    }

    /// The request is leaving: its intent line is written.
    pub fn leaving(&self) {
        self.left.store(true, Ordering::Release);
    }

    /// Whether the request left (so the call's outcome stands whatever the log does).
    pub fn was_sent(&self) -> bool {
        self.left.load(Ordering::Acquire)
    }

    /// The status the host answered with.
    pub fn status(&self, status: u16) {
        *self.status.lock().unwrap_or_else(|e| e.into_inner()) = Some(status);
    }

    /// How the call was confirmed (`not_asked`, `accepted`, …).
    pub fn confirmed(&self, how: &'static str) {
        *self.confirmed.lock().unwrap_or_else(|e| e.into_inner()) = how;
    }

    fn line(&self, event: &str) -> Map<String, Value> {
        let s = &self.subject;
        let sent = self.sent.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut line = Map::new();
        line.insert("time".into(), json!(rfc3339(SystemTime::now())));
        line.insert("event".into(), json!(event));
        line.insert("call_id".into(), json!(self.call_id));
        line.insert("transport".into(), json!(s.transport));
        line.insert("caller".into(), json!(s.caller));
        line.insert("org_id".into(), json!(s.org_id));
        line.insert("org_slug".into(), json!(s.org_slug));
        line.insert("tool".into(), json!(s.tool));
        line.insert("method".into(), json!(sent.as_ref().map(|(m, _)| m)));
        line.insert("path".into(), json!(sent.as_ref().map(|(_, p)| p)));
        line.insert(
            "confirmed".into(),
            json!(*self.confirmed.lock().unwrap_or_else(|e| e.into_inner())),
        );
        line.insert("jsonrpc_id".into(), json!(s.jsonrpc_id));
        line.insert("trace_id".into(), json!(s.trace_id));
        line
    }

    /// Writes the intent line (once), flushed. `Err`: the request must not be sent.
    pub fn intent(&self) -> std::io::Result<()> {
        if self.intent_written.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut line = self.line("intent");
        line.insert("arguments".into(), self.subject.arguments.clone());
        self.log.append(&Value::Object(line))?;
        self.intent_written.store(true, Ordering::Release);
        Ok(())
    }

    /// Writes the outcome line (and the intent line first, for a call that never got
    /// as far as sending). `Err` when a line could not be written.
    pub fn finish(&self, outcome: &Outcome) -> std::io::Result<()> {
        if self.finished.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        self.intent()?;
        let mut line = self.line("outcome");
        line.insert(
            "status".into(),
            json!(*self.status.lock().unwrap_or_else(|e| e.into_inner())),
        );
        line.insert("outcome".into(), json!(outcome.text()));
        line.insert(
            "duration_ms".into(),
            json!((self.started.elapsed().as_secs_f64() * 1000.0 * 10.0).round() / 10.0),
        );
        self.log.append(&Value::Object(line))
    }
}

/// A call dropped before it finished (the client cancelled it) still gets its outcome.
impl Drop for Record {
    fn drop(&mut self) {
        if !self.finished.load(Ordering::Acquire)
            && let Err(e) = self.finish(&Outcome::Error("CANCELLED".into()))
        {
            tracing::error!("the audit log could not record a cancelled call: {e}");
        }
    }
}

/// The fingerprint of a credential in the log: the first 16 hex digits of its SHA-256.
pub fn key_fingerprint(key: &str) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(key.as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// A call id unique across restarts: 64 random bits per process, then a counter.
fn call_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    static PROCESS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let process = PROCESS.get_or_init(|| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        h.write_u32(std::process::id());
        h.finish()
    });
    format!("{process:016x}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// `t` as RFC 3339 in UTC with milliseconds, e.g. `2026-12-04T00:09:42.123Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let since = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Days since 1970-01-01 to a civil date (H. Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        since.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn times_are_rfc3339_utc() {
        let at = |s: u64, ms: u64| {
            rfc3339(SystemTime::UNIX_EPOCH + Duration::from_secs(s) + Duration::from_millis(ms))
        };
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(at(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(at(1_796_342_982, 123), "2026-12-04T00:09:42.123Z");
        assert_eq!(at(4_107_542_399, 999), "2100-02-28T23:59:59.999Z");
    }

    #[test]
    fn a_fingerprint_is_16_hex_digits_and_not_the_key() {
        let f = key_fingerprint("sk-org-test-0123456789");
        assert_eq!(f.len(), 16);
        assert!(f.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(f, key_fingerprint("sk-org-test-0123456788"));
        // SHA-256("abc") begins ba7816bf8f01cfea.
        assert_eq!(key_fingerprint("abc"), "ba7816bf8f01cfea");
    }

    #[test]
    fn intent_then_outcome_share_a_call_id_and_an_unwritable_log_refuses() {
        let dir = std::env::temp_dir().join(format!("audit-unit-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("a.jsonl");
        let _ = std::fs::remove_file(&path);
        let log = Arc::new(AuditLog::open(&path).unwrap());
        let record = Record::start(
            log.clone(),
            Subject {
                transport: "stdio",
                tool: "pause_workspace".into(),
                ..Subject::default()
            },
        );
        record.sent("POST", "/workspaces/w/pause");
        record.intent().unwrap();
        record.status(200);
        record.finish(&Outcome::Ok).unwrap();
        let lines: Vec<Value> = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["event"], "intent");
        assert_eq!(lines[1]["event"], "outcome");
        assert_eq!(lines[0]["call_id"], lines[1]["call_id"]);
        assert_eq!(lines[1]["status"], 200);
        assert_eq!(lines[1]["path"], "/workspaces/w/pause");
        if Path::new("/dev/full").exists() {
            let full = Arc::new(AuditLog::open(Path::new("/dev/full")).unwrap());
            let record = Record::start(full, Subject::default());
            assert!(record.intent().is_err());
            record.finished.store(true, Ordering::Release);
        }
    }
}
