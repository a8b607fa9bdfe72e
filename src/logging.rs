//! Log lines that say only what happened (docs/security.md, "Logs"): every line the
//! process writes to stderr through `tracing` — ours and the MCP library's alike —
//! passes through [`LineWriter`], which
//!
//! - redacts the secrets of every call and request in progress ([`hold`]) and of the
//!   environment's own credentials, with the same `Redactor` results use;
//! - escapes control characters, so a newline inside a JSON-RPC method or a tool name
//!   can never start a line that reads like another event;
//! - clips the line at [`MAX_LINE_BYTES`], however large the value it quotes.
//!
//! Redaction cannot ask the line whose secret it is: the library logs from tasks of its
//! own. So the secrets of everything in progress are held in one registry while it runs,
//! and each line is checked against all of them.

use crate::clip::CUT;
use crate::redact::Redactor;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::sync::{Arc, Mutex};

/// The longest line written, newline excluded; a longer one ends with `CUT`.
pub const MAX_LINE_BYTES: usize = 4096;

/// The secrets held now, each with how many holders hold it, and one redactor for all
/// of them, rebuilt (lazily, by the next line written) only when the set of distinct
/// secrets changes: under load, many requests hold the same few keys, and a line is
/// then checked once per distinct secret, not once per request in progress.
struct Registry {
    counts: BTreeMap<String, usize>,
    combined: Option<Arc<Redactor>>,
}

static HELD: Mutex<Registry> = Mutex::new(Registry {
    counts: BTreeMap::new(),
    combined: None,
});

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    HELD.lock().unwrap_or_else(|e| e.into_inner())
}

/// An error and its causes, each said once, joined by `: `: a cause whose text what
/// came before already quotes (an io error in "cannot read X: <io error>") is not
/// repeated.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = String::new();
    let mut next = Some(error);
    while let Some(cause) = next {
        let text = cause.to_string();
        if !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
        next = cause.source();
    }
    out
}

/// While this lives, its secrets are redacted from every log line.
#[derive(Debug)]
#[must_use = "the secrets are redacted only while the guard lives"]
pub struct Held(Vec<String>);

/// Redacts `secrets` from every log line until the guard is dropped.
pub fn hold<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Held {
    let secrets: Vec<String> = secrets
        .into_iter()
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let mut registry = registry();
    for secret in &secrets {
        let count = registry.counts.entry(secret.clone()).or_insert(0);
        *count += 1;
        if *count == 1 {
            registry.combined = None;
        }
    }
    Held(secrets)
}

/// Redacts `redactor`'s secrets from every log line until the guard is dropped.
pub(crate) fn hold_redactor(redactor: &Redactor) -> Held {
    hold(redactor.secrets())
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut registry = registry();
        for secret in &self.0 {
            if let Some(count) = registry.counts.get_mut(secret) {
                *count -= 1;
                if *count == 0 {
                    registry.counts.remove(secret);
                    registry.combined = None;
                }
            }
        }
    }
}

/// The redactor of every secret held now.
fn combined() -> Arc<Redactor> {
    let mut registry = registry();
    if let Some(combined) = &registry.combined {
        return combined.clone();
    }
    let combined = Arc::new(Redactor::new(registry.counts.keys().map(String::as_str)));
    registry.combined = Some(combined.clone());
    combined
}

/// One formatted event as the line to write: redacted, control characters escaped
/// (`\n`, `\r`, `\t` as such, others as `\u{XX}`), clipped, ending in one newline.
pub fn line(event: &[u8]) -> Vec<u8> {
    let redactor = combined();
    // Only what can be written is redacted, plus the redactor's slack, so that a secret
    // straddling the cut is whole when it is matched (as for results, src/redact.rs).
    let slack = redactor.slack();
    let event = event.strip_suffix(b"\n").unwrap_or(event);
    let read = event.len().min(MAX_LINE_BYTES + slack);
    let mut text = String::from_utf8_lossy(&event[..read]).into_owned();
    redactor.text(&mut text);
    // Escaped piece by piece; `fits` is the longest prefix that leaves room for CUT.
    let room = MAX_LINE_BYTES - CUT.len();
    let mut out = String::with_capacity(text.len().min(MAX_LINE_BYTES) + 16);
    let mut fits = 0;
    let mut piece = String::new();
    let mut cut = read < event.len();
    for c in text.chars() {
        piece.clear();
        match c {
            '\n' => piece.push_str("\\n"),
            '\r' => piece.push_str("\\r"),
            '\t' => piece.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(piece, "\\u{{{:x}}}", u32::from(c));
            }
            c => piece.push(c),
        }
        out.push_str(&piece);
        if out.len() <= room {
            fits = out.len();
        }
        if out.len() > MAX_LINE_BYTES {
            cut = true;
            break;
        }
    }
    if cut {
        out.truncate(fits);
        out.push_str(CUT);
    }
    out.push('\n');
    out.into_bytes()
}

/// The writer of every log line: [`line()`] of each formatted event, to stderr in one
/// write. `tracing-subscriber` formats an event whole and writes it with one
/// `write_all`, so each call to `write` is one event.
#[derive(Debug, Default, Clone, Copy)]
pub struct LineWriter;

impl Write for LineWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut stderr = io::stderr().lock();
        stderr.write_all(&line(buf))?;
        Ok(buf.len())
    }

    /// Nothing to flush: each line is written whole, and stderr is unbuffered.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LineWriter {
    type Writer = LineWriter;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forged_newline_stays_inside_its_line_and_control_bytes_are_escaped() {
        let out = line(b"rpc=tools/list\n2026 INFO access POST /mcp rpc=tools/call status=200\n");
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.matches('\n').count(), 1, "{text}");
        assert!(text.ends_with("status=200\n"), "{text}");
        assert!(text.contains("rpc=tools/list\\n2026"), "{text}");
        let text = String::from_utf8(line(b"a\x1b[31mb\x00c\r\td")).unwrap();
        assert_eq!(text, "a\\u{1b}[31mb\\u{0}c\\r\\td\n");
    }

    /// A line that fits is written whole, to the byte; one byte more and it ends with
    /// the marker at exactly the bound; with secrets held (so redaction reads past the
    /// bound), a long line is still cut at exactly the bound.
    #[test]
    fn the_bound_is_exact() {
        let fits = "a".repeat(MAX_LINE_BYTES);
        assert_eq!(line(fits.as_bytes()), format!("{fits}\n").into_bytes());
        let over = line("a".repeat(MAX_LINE_BYTES + 1).as_bytes());
        assert_eq!(over.len(), MAX_LINE_BYTES + 1);
        assert!(String::from_utf8(over).unwrap().ends_with("… [cut]\n"));
        let _held = hold(["sk-a-secret-that-gives-the-redactor-some-slack"]);
        let long = line("b".repeat(20_000).as_bytes());
        assert_eq!(long.len(), MAX_LINE_BYTES + 1);
    }

    /// A secret held after a line was written (and the combined redactor built) is
    /// redacted from the next line.
    #[test]
    fn a_secret_held_later_is_redacted_too() {
        let _ = line(b"warm the combined redactor");
        let _held = hold(["sk-held-after-the-first-line-789"]);
        let text = String::from_utf8(line(b"key=sk-held-after-the-first-line-789")).unwrap();
        assert_eq!(text, "key=[redacted]\n");
    }

    #[test]
    fn a_line_is_clipped_at_the_bound_whatever_it_quotes() {
        let huge = "m".repeat(3_900_000);
        let out = line(huge.as_bytes());
        assert!(out.len() <= MAX_LINE_BYTES + 1, "{}", out.len());
        assert!(String::from_utf8(out).unwrap().ends_with("… [cut]\n"));
        // Escapes count at their escaped size.
        let out = line(&[0u8; 10_000]);
        assert!(out.len() <= MAX_LINE_BYTES + 1, "{}", out.len());
        // Multi-byte characters are never split.
        let out = line("é".repeat(5000).as_bytes());
        assert!(String::from_utf8(out).is_ok());
    }

    #[test]
    fn held_secrets_are_redacted_until_the_last_guard_drops() {
        let secret = "sk-held-secret-for-logs-123";
        let redacted = || String::from_utf8(line(format!("tool={secret}").as_bytes())).unwrap();
        let first = hold([secret]);
        let second = hold([secret, "sk-another-held-secret-456"]);
        assert_eq!(redacted(), "tool=[redacted]\n");
        drop(first);
        assert_eq!(redacted(), "tool=[redacted]\n", "still held by the second");
        drop(second);
        assert!(redacted().contains(secret));
    }
}
