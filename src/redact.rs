//! Redaction of known secrets (the org key, the CP token, a secret value being set)
//! from everything a call returns. The rules are in docs/security.md ("Redaction"):
//!
//! - A secret is found in every rendition an upstream body can carry it in: raw,
//!   JSON-escaped (short escapes, `\uXXXX` in either case, surrogate pairs, Go's
//!   HTML-safe `\u003c`/`\u003e`/`\u0026`), JSON-escaped twice (a body quoted inside a
//!   string), and percent-encoded (with `+` read as a space or as itself). Each
//!   rendition is a *view* of the text: decoded bytes, each remembering the source
//!   span it came from, so a match in any view removes exactly its source bytes.
//! - Values of every length are redacted. A value of at least [`SHORT`] bytes wherever
//!   it occurs; a shorter one wherever it stands alone (not flanked by a letter or
//!   digit), so a two-letter value does not shred every word that contains it.
//! - Nothing is cut before it is redacted: readers keep [`Redactor::slack`] bytes past
//!   their limit so that a secret straddling the limit is whole when it is matched.

use serde_json::{Map, Value};

/// Values shorter than this are redacted only where they stand alone.
pub const SHORT: usize = 8;

/// What replaces a secret.
pub const MARK: &str = "[redacted]";

/// Removes known secrets from text and JSON values.
#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Vec<Vec<u8>>,
    /// What is searched for in every view: each secret, and its encodings.
    needles: Vec<Needle>,
}

/// One byte string to find, and whether it counts only where it stands alone.
#[derive(Clone)]
struct Needle {
    bytes: Vec<u8>,
    alone_only: bool,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets.len())
    }
}

/// One decoded byte and the source range it came from.
#[derive(Clone, Copy)]
struct Unit {
    byte: u8,
    start: usize,
    end: usize,
}

impl Redactor {
    /// A redactor for these secrets (empty ones are ignored).
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Self {
        let mut secrets: Vec<Vec<u8>> = secrets
            .into_iter()
            .filter(|s| !s.is_empty())
            .map(|s| s.as_bytes().to_vec())
            .collect();
        secrets.sort();
        secrets.dedup();
        let mut needles: Vec<Needle> = secrets.iter().flat_map(|s| needles(s)).collect();
        needles.sort_by(|a, b| a.bytes.cmp(&b.bytes));
        needles.dedup_by(|a, b| a.bytes == b.bytes);
        Redactor { secrets, needles }
    }

    /// The secrets this redactor removes.
    pub fn secrets(&self) -> impl Iterator<Item = &str> {
        // Built from `&str`s, so always UTF-8; a failure would only skip a secret that
        // cannot occur.
        self.secrets
            .iter()
            .filter_map(|s| std::str::from_utf8(s).ok())
    }

    /// How many bytes past a cut a reader must keep so that any secret that starts
    /// before the cut is whole: the longest rendition of the longest secret (a byte
    /// escaped twice as `\\u00XX` is 7 bytes; 12 covers a surrogate pair's share).
    pub fn slack(&self) -> usize {
        self.secrets
            .iter()
            .map(|s| s.len() * 12 + 16)
            .max()
            .unwrap_or(0)
    }

    /// Replaces every rendition of every secret in `text` with [`MARK`].
    pub fn text(&self, text: &mut String) {
        if self.secrets.is_empty() || text.is_empty() {
            return;
        }
        // The common case costs one scan: with no escape character in the text every
        // view equals the raw text, and the raw text holds no secret.
        let escaped = text.bytes().any(|b| matches!(b, b'\\' | b'%' | b'+'));
        if !escaped
            && !self
                .needles
                .iter()
                .any(|n| memchr::memmem::find(text.as_bytes(), &n.bytes).is_some())
        {
            return;
        }
        let raw: Vec<Unit> = text
            .bytes()
            .enumerate()
            .map(|(i, byte)| Unit {
                byte,
                start: i,
                end: i + 1,
            })
            .collect();
        let json = json_unescape(&raw);
        let views = [
            percent_decode(&raw, true),
            percent_decode(&raw, false),
            percent_decode(&json, false),
            json_unescape(&json),
            json,
            raw,
        ];
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        for view in &views {
            let bytes: Vec<u8> = view.iter().map(|u| u.byte).collect();
            for needle in &self.needles {
                for at in memchr::memmem::find_iter(&bytes, &needle.bytes) {
                    let end = at + needle.bytes.len();
                    if needle.alone_only && !alone(&bytes, at, end) {
                        continue;
                    }
                    ranges.push((view[at].start, view[end - 1].end));
                }
            }
        }
        if ranges.is_empty() {
            return;
        }
        ranges.sort_unstable();
        let mut out = Vec::with_capacity(text.len());
        let source = text.as_bytes();
        let mut at = 0;
        for (start, end) in ranges {
            if end <= at {
                continue;
            }
            if start >= at {
                out.extend_from_slice(&source[at..start]);
                out.extend_from_slice(MARK.as_bytes());
            }
            at = end;
        }
        out.extend_from_slice(&source[at..]);
        // A range can end inside a multi-byte character only in a view that decoded
        // it from an escape, whose span is whole ASCII; lossy keeps this total anyway.
        *text = String::from_utf8_lossy(&out).into_owned();
    }

    /// Redacts every string and every object key in `value`.
    pub fn value(&self, value: &mut Value) {
        if self.secrets.is_empty() {
            return;
        }
        match value {
            Value::String(s) => self.text(s),
            Value::Array(items) => items.iter_mut().for_each(|v| self.value(v)),
            Value::Object(map) => {
                let old = std::mem::take(map);
                *map = old
                    .into_iter()
                    .map(|(mut k, mut v)| {
                        self.text(&mut k);
                        self.value(&mut v);
                        (k, v)
                    })
                    .collect::<Map<String, Value>>();
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
}

/// What to search for to find `secret` (docs/security.md, "Redaction"): the secret
/// itself, its hexadecimal form (lower and upper case), and its base64 forms (standard
/// and URL-safe alphabets). An encoding is searched for by its *core*: the characters
/// that depend on the secret's bytes alone, for each of the three alignments the
/// secret can have in an encoded stream. So `base64(secret)`, `base64("Bearer " +
/// secret)`, padded or not, and a secret inside a larger encoded blob are all found,
/// and the core (all but at most one character at each end) is removed.
///
/// A secret shorter than [`SHORT`] bytes has a core too short to tell from chance, so
/// for it only whole encodings of the secret and of `Bearer <secret>` count, and, like
/// the raw short secret, only where they stand alone.
fn needles(secret: &[u8]) -> Vec<Needle> {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let short = secret.len() < SHORT;
    let mut out = vec![Needle {
        bytes: secret.to_vec(),
        alone_only: short,
    }];
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let hex: Vec<u8> = secret
        .iter()
        .flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 15)]])
        .collect();
    for form in [hex.to_ascii_uppercase(), hex] {
        out.push(Needle {
            bytes: form,
            alone_only: short,
        });
    }
    if short {
        let bearer = [b"Bearer ".as_slice(), secret].concat();
        for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
            for plain in [secret, bearer.as_slice()] {
                out.push(Needle {
                    bytes: engine.encode(plain).into_bytes(),
                    alone_only: true,
                });
            }
        }
        return out;
    }
    for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        for align in 0..3 {
            let mut shifted = vec![0u8; align];
            shifted.extend_from_slice(secret);
            let encoded = engine.encode(&shifted).into_bytes();
            // Character k carries bits 6k..6k+6 of the stream; keep those that fall
            // wholly inside the secret's bits.
            let (from, to) = (8 * align, 8 * (align + secret.len()));
            let first = from.div_ceil(6);
            let last = to / 6; // exclusive
            if last > first {
                out.push(Needle {
                    bytes: encoded[first..last].to_vec(),
                    alone_only: false,
                });
            }
        }
    }
    out
}

/// Whether `bytes[start..end]` is not flanked by a letter or digit (any non-ASCII
/// byte counts as a letter).
fn alone(bytes: &[u8], start: usize, end: usize) -> bool {
    let word = |b: &u8| b.is_ascii_alphanumeric() || *b >= 0x80;
    let before = start.checked_sub(1).and_then(|i| bytes.get(i));
    !before.is_some_and(word) && !bytes.get(end).is_some_and(word)
}

fn hex(units: &[Unit]) -> Option<u32> {
    units.iter().try_fold(0u32, |acc, u| {
        (u.byte as char).to_digit(16).map(|d| acc * 16 + d)
    })
}

/// The JSON-unescaped view of `units`: `\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`
/// and `\uXXXX` (surrogate pairs joined) become the bytes they stand for, as UTF-8;
/// anything else stays as it is.
fn json_unescape(units: &[Unit]) -> Vec<Unit> {
    let mut out = Vec::with_capacity(units.len());
    let mut i = 0;
    while i < units.len() {
        if units[i].byte != b'\\' || i + 1 >= units.len() {
            out.push(units[i]);
            i += 1;
            continue;
        }
        let short = match units[i + 1].byte {
            b'"' => Some(b'"'),
            b'\\' => Some(b'\\'),
            b'/' => Some(b'/'),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            _ => None,
        };
        if let Some(byte) = short {
            out.push(Unit {
                byte,
                start: units[i].start,
                end: units[i + 1].end,
            });
            i += 2;
            continue;
        }
        let code = |at: usize| {
            (units.get(at).map(|u| u.byte) == Some(b'\\')
                && units.get(at + 1).map(|u| u.byte) == Some(b'u'))
            .then(|| units.get(at + 2..at + 6).and_then(hex))
            .flatten()
        };
        let Some(first) = code(i) else {
            out.push(units[i]);
            i += 1;
            continue;
        };
        let (c, len) = match (first, code(i + 6)) {
            (0xD800..=0xDBFF, Some(low @ 0xDC00..=0xDFFF)) => (
                char::from_u32(0x10000 + ((first - 0xD800) << 10) + (low - 0xDC00)),
                12,
            ),
            _ => (char::from_u32(first), 6),
        };
        let Some(c) = c else {
            out.push(units[i]);
            i += 1;
            continue;
        };
        let (start, end) = (units[i].start, units[i + len - 1].end);
        let mut buf = [0u8; 4];
        for byte in c.encode_utf8(&mut buf).bytes() {
            out.push(Unit { byte, start, end });
        }
        i += len;
    }
    out
}

/// The percent-decoded view of `units` (`%XX` in either case; `+` as a space when
/// `plus_is_space`, as in form encoding).
fn percent_decode(units: &[Unit], plus_is_space: bool) -> Vec<Unit> {
    let mut out = Vec::with_capacity(units.len());
    let mut i = 0;
    while i < units.len() {
        let u = units[i];
        if u.byte == b'%'
            && let Some(value) = units.get(i + 1..i + 3).and_then(hex)
        {
            out.push(Unit {
                byte: value as u8,
                start: u.start,
                end: units[i + 2].end,
            });
            i += 3;
            continue;
        }
        if u.byte == b'+' && plus_is_space {
            out.push(Unit { byte: b' ', ..u });
        } else {
            out.push(u);
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn redacted(secrets: &[&str], text: &str) -> String {
        let mut s = text.to_string();
        Redactor::new(secrets.iter().copied()).text(&mut s);
        s
    }

    /// A hostile upstream's broken escapes (a lone surrogate, a `\u` with too few
    /// digits, a `\` as the last byte) stay as they are, the secret beside them is still
    /// redacted, and nothing loops or panics.
    #[test]
    fn broken_escapes_are_kept_and_the_secret_beside_them_still_goes() {
        let secret = "sk-org-0123456789";
        for (text, expected) in [
            (
                format!(r"a\ud800b {secret} \u12"),
                format!(r"a\ud800b {MARK} \u12"),
            ),
            (
                format!(r"\udc00\ud83dx{secret}\"),
                format!(r"\udc00\ud83dx{MARK}\"),
            ),
            (format!(r"{secret}\"), format!(r"{MARK}\")),
            (r"x\".to_string(), r"x\".to_string()),
        ] {
            assert_eq!(redacted(&[secret], &text), expected, "{text}");
        }
    }

    #[test]
    fn every_rendition_of_a_secret_is_removed() {
        let secret = "sk-\"a\\b<c>&é\u{1F600}/d e+f";
        let renditions = [
            secret.to_string(),
            serde_json::to_string(secret).unwrap(),
            // \u escapes for everything non-ASCII, lower and upper case.
            r#""sk-\"a\\b\u003cc\u003e\u0026\u00e9\ud83d\ude00\/d e+f""#.to_string(),
            r#""sk-\"a\\b\u003Cc\u003E\u0026\u00E9\uD83D\uDE00/d e+f""#.to_string(),
            // A JSON body quoted inside a JSON string.
            serde_json::to_string(&serde_json::to_string(secret).unwrap()).unwrap(),
            percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC)
                .to_string(),
            "sk-%22a%5Cb%3cc%3e%26%C3%A9%F0%9F%98%80%2Fd+e%2Bf".to_string(),
        ];
        for r in renditions {
            let out = redacted(&[secret], &format!("before {r} after"));
            assert!(
                out.starts_with("before ") && out.ends_with(" after") && out.contains(MARK),
                "{r} -> {out}"
            );
            assert!(!out.contains("sk-"), "{r} -> {out}");
        }
    }

    #[test]
    fn short_values_are_redacted_where_they_stand_alone() {
        assert_eq!(
            redacted(&["ab"], r#"{"value":"ab","status":"saved","tab":"ab1"}"#),
            r#"{"value":"[redacted]","status":"saved","tab":"ab1"}"#
        );
        assert_eq!(redacted(&["x"], "x"), MARK);
        assert_eq!(
            redacted(&["longsecret"], "alongsecrets"),
            "a[redacted]s",
            "long values go wherever they occur"
        );
        // The line is at SHORT bytes: 8 go anywhere, 7 only alone.
        assert_eq!(redacted(&["abcd1234"], "xabcd1234y"), "x[redacted]y");
        assert_eq!(redacted(&["abcd123"], "xabcd123y"), "xabcd123y");
    }

    #[test]
    fn keys_and_nested_values_are_redacted() {
        let mut v = json!({ "sk-secret-1": ["x sk-secret-1", { "k": "sk-secret-1" }], "n": 1 });
        Redactor::new(["sk-secret-1"]).value(&mut v);
        assert_eq!(
            v,
            json!({ "[redacted]": ["x [redacted]", { "k": "[redacted]" }], "n": 1 })
        );
    }

    #[test]
    fn nothing_to_redact_leaves_text_alone() {
        let text = r#"a \u00 % %zz \ud800 \"q\" + "#;
        assert_eq!(redacted(&["secret-value"], text), text);
        assert_eq!(redacted(&[], "anything"), "anything");
    }

    #[test]
    fn a_secret_ending_or_starting_in_an_escape_is_removed_with_the_whole_escape() {
        for secret in [
            "sk-1234\"",
            "sk-1234\\",
            "sk-1234/",
            "sk-1234\n",
            "\"sk-1234",
        ] {
            let escaped = serde_json::to_string(secret).unwrap();
            let quoted = &escaped[1..escaped.len() - 1];
            let out = redacted(&[secret], &format!("[{quoted}]"));
            assert_eq!(out, "[[redacted]]", "{secret:?} as {quoted}");
        }
        // \u escapes at either end, and a surrogate pair as the last character.
        for (secret, shown) in [
            ("sk-1234<", r"sk-1234\u003c"),
            ("<sk-1234", r"\u003Csk-1234"),
            ("sk-1234\u{1F600}", r"sk-1234\ud83d\ude00"),
        ] {
            assert_eq!(redacted(&[secret], &format!("[{shown}]")), "[[redacted]]");
        }
    }

    #[test]
    fn slack_covers_the_longest_rendition_of_every_secret() {
        let to_json = |s: &str| serde_json::to_string(s).unwrap();
        // Every character as \uXXXX (UTF-16 units: a surrogate pair beyond the BMP).
        let every_char_u = |s: &str| {
            s.encode_utf16()
                .map(|u| format!("\\u{u:04x}"))
                .collect::<String>()
        };
        for secret in ["x", "sk-org-0123456789", "sk-\u{1F600}\u{e9}\"<>&/ +%"] {
            let redactor = Redactor::new([secret]);
            let percent: String = secret.bytes().map(|b| format!("%{b:02X}")).collect();
            let renditions = [
                secret.to_string(),
                to_json(secret),
                to_json(&to_json(secret)),
                every_char_u(secret),
                to_json(&every_char_u(secret)),
                percent.clone(),
                // Percent-encoded text inside a JSON string, its `%` escaped as \u0025.
                percent.replace('%', "\\u0025"),
            ];
            for r in renditions {
                assert!(
                    r.len() <= redactor.slack(),
                    "{secret:?}: rendition {r} ({} bytes) > slack {}",
                    r.len(),
                    redactor.slack()
                );
                // And it is a rendition the redactor knows.
                assert!(
                    !redacted(&[secret], &format!("<{r}>")).contains(&r),
                    "{secret:?} as {r}"
                );
            }
        }
        assert_eq!(Redactor::new([]).slack(), 0);
    }

    /// Hex in either case, and base64 in both alphabets, padded or not, of the value and
    /// of `Bearer <value>`, alone or inside a longer blob: each is cut down to at most
    /// one character of the encoding at each end.
    #[test]
    fn hex_and_base64_renditions_are_removed() {
        use base64::Engine as _;
        use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
        let secret = "sk-live+/=é-0123456789";
        let bearer = format!("Bearer {secret}");
        let hex: String = secret.bytes().map(|b| format!("{b:02X}")).collect();
        for encoded in [
            STANDARD.encode(secret),
            STANDARD.encode(&bearer),
            URL_SAFE_NO_PAD.encode(&bearer),
            STANDARD.encode(format!("xx{secret}yyyy")),
            hex.clone(),
            hex.to_ascii_lowercase(),
        ] {
            let out = redacted(&[secret], &format!("echo {encoded} end"));
            assert!(out.contains(MARK), "{encoded}: {out}");
            assert!(out.len() < encoded.len() / 2 + 30, "{encoded}: {out}");
        }
        // A short value's encodings count only whole and alone.
        let short = STANDARD.encode("ab12");
        assert_eq!(
            redacted(&["ab12"], &format!("k {short} k")),
            "k [redacted] k"
        );
        assert_eq!(
            redacted(&["ab12"], &format!("k x{short}x k")),
            format!("k x{short}x k")
        );
    }

    #[test]
    fn debug_never_shows_a_secret() {
        assert_eq!(
            format!("{:?}", Redactor::new(["sk-1234567"])),
            "Redactor(1 secrets)"
        );
    }
}
