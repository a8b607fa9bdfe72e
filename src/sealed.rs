//! The request state of a confirmation asked over stateless HTTP (protocol 2026-07-28,
//! docs/safety.md "Over HTTP"): the first `tools/call` answers with an
//! `InputRequiredResult` whose `requestState` is sealed here (rmcp's
//! `RequestStateCodec`, HMAC) and bound to the tool, a digest of its arguments, the
//! caller's key and an expiry; the retry brings it back with the person's answer, and
//! it is opened and checked before the answer counts. Any replica holding the same
//! `MOLECULE_MCP_STATE_KEY` can open it.

use crate::config::{ConfigError, StateKeyArgs};
use rmcp::model::{RequestStateCodec, SealOptions};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::time::{Duration, SystemTime};

/// How long a person has to answer before the state expires.
pub const STATE_TTL: Duration = Duration::from_secs(600);

/// The key that seals and opens request states.
pub struct StateKey {
    codec: RequestStateCodec,
    shared: bool,
}

impl std::fmt::Debug for StateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StateKey(shared: {})", self.shared)
    }
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Payload {
    v: u8,
    tool: String,
    args: String,
    exp: u64,
}

/// Why a state was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// Not sealed by this key for this caller, or altered.
    #[error("it was altered, sealed with another key, or issued to another caller")]
    Integrity,
    /// Past its expiry.
    #[error("it has expired (a person has 10 minutes to answer)")]
    Expired,
    /// Sealed for another tool.
    #[error("it was issued for another tool")]
    OtherTool,
    /// Sealed for other arguments.
    #[error("it was issued for other arguments")]
    OtherArguments,
}

fn now_secs(now: SystemTime) -> u64 {
    now.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `value` with every object's keys sorted, so that two spellings of the same
/// arguments have one digest.
fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), canonical(&map[k])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// What binds a state to the caller's key without storing it: authenticated with the
/// state, never part of it (the state is signed, not encrypted).
fn bound_to(key: &str) -> Vec<u8> {
    let mut data = b"molecule-mcp confirm v1 caller ".to_vec();
    data.extend_from_slice(sha256_hex(key.as_bytes()).as_bytes());
    data
}

/// The digest of a call's arguments.
fn digest(args: &Map<String, Value>) -> String {
    sha256_hex(
        canonical(&Value::Object(args.clone()))
            .to_string()
            .as_bytes(),
    )
}

impl StateKey {
    /// `MOLECULE_MCP_STATE_KEY` (at least 32 bytes), or a random key of this process
    /// (then a state opens only on the replica that sealed it).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::from_args(crate::config::from_lookup::<StateKeyArgs>(lookup)?)
    }

    /// The key of the settings (`MOLECULE_MCP_STATE_KEY` / `--state-key`, already
    /// checked), or a random key of this process.
    pub fn from_args(args: StateKeyArgs) -> Result<Self, ConfigError> {
        let refused = |rule| ConfigError::BadValue {
            var: "MOLECULE_MCP_STATE_KEY".into(),
            value: "[redacted]".into(),
            rule,
        };
        match args.state_key {
            Some(key) => Ok(StateKey {
                codec: RequestStateCodec::try_new(key.expose().as_bytes().to_vec())
                    .map_err(|_| refused(crate::config::STATE_KEY_RULE))?,
                shared: true,
            }),
            None => Ok(StateKey {
                codec: RequestStateCodec::try_new(random_key()?)
                    .map_err(|_| refused("a random key could not be made"))?,
                shared: false,
            }),
        }
    }

    /// Whether the key came from `MOLECULE_MCP_STATE_KEY` (so replicas share it).
    pub fn is_shared(&self) -> bool {
        self.shared
    }

    /// A state for `tool` called with `args` by the holder of `key`, valid until
    /// `now` + [`STATE_TTL`].
    pub fn seal(
        &self,
        tool: &str,
        args: &Map<String, Value>,
        key: &str,
        now: SystemTime,
    ) -> Result<String, String> {
        let state = Payload {
            v: 1,
            tool: tool.to_string(),
            args: digest(args),
            exp: now_secs(now) + STATE_TTL.as_secs(),
        };
        let caller = bound_to(key);
        self.codec
            .seal_json_with(&state, &SealOptions::new().associated_data(&caller))
            .map_err(|e| e.to_string())
    }

    /// Opens `sealed` and checks it is for `tool`, `args` and `key`, and not expired.
    pub fn open(
        &self,
        sealed: &str,
        tool: &str,
        args: &Map<String, Value>,
        key: &str,
        now: SystemTime,
    ) -> Result<(), Refused> {
        let state: Payload = self
            .codec
            .open_json_with(sealed, &bound_to(key))
            .map_err(|_| Refused::Integrity)?;
        if state.v != 1 {
            return Err(Refused::Integrity);
        }
        if now_secs(now) > state.exp {
            return Err(Refused::Expired);
        }
        if state.tool != tool {
            return Err(Refused::OtherTool);
        }
        if state.args != digest(args) {
            return Err(Refused::OtherArguments);
        }
        Ok(())
    }
}

/// 32 bytes from the operating system's random source.
fn random_key() -> Result<Vec<u8>, ConfigError> {
    use std::io::Read as _;
    let mut key = vec![0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut key))
        .map_err(|_| ConfigError::BadValue {
            var: "MOLECULE_MCP_STATE_KEY".into(),
            value: String::new(),
            rule: "unset, and /dev/urandom could not be read for a random key: set it",
        })?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(k: &str) -> StateKey {
        StateKey::from_lookup(|_| Some(k.to_string())).unwrap()
    }

    #[test]
    fn a_state_opens_only_for_its_tool_arguments_caller_and_time() {
        let a = key(&"k".repeat(32));
        let args = json!({"workspace_id": "w", "n": {"b": 1, "a": 2}});
        let args = args.as_object().unwrap();
        let now = SystemTime::now();
        let sealed = a.seal("deprovision_workspace", args, "sk-1", now).unwrap();
        // Another spelling of the same arguments is the same arguments.
        let reordered = json!({"n": {"a": 2, "b": 1}, "workspace_id": "w"});
        assert_eq!(
            a.open(
                &sealed,
                "deprovision_workspace",
                reordered.as_object().unwrap(),
                "sk-1",
                now
            ),
            Ok(())
        );
        // Another replica with the same key opens it.
        assert_eq!(
            key(&"k".repeat(32)).open(&sealed, "deprovision_workspace", args, "sk-1", now),
            Ok(())
        );
        let other = json!({"workspace_id": "w2"});
        assert_eq!(
            a.open(
                &sealed,
                "deprovision_workspace",
                other.as_object().unwrap(),
                "sk-1",
                now
            ),
            Err(Refused::OtherArguments)
        );
        assert_eq!(
            a.open(&sealed, "revoke_org_token", args, "sk-1", now),
            Err(Refused::OtherTool)
        );
        assert_eq!(
            a.open(&sealed, "deprovision_workspace", args, "sk-2", now),
            Err(Refused::Integrity)
        );
        let later = now + STATE_TTL + Duration::from_secs(2);
        assert_eq!(
            a.open(&sealed, "deprovision_workspace", args, "sk-1", later),
            Err(Refused::Expired)
        );
        assert_eq!(
            key(&"z".repeat(32)).open(&sealed, "deprovision_workspace", args, "sk-1", now),
            Err(Refused::Integrity)
        );
        // One byte changed anywhere.
        for i in 0..sealed.len() {
            let mut bytes = sealed.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let altered = String::from_utf8(bytes).unwrap();
            if altered != sealed {
                assert!(
                    a.open(&altered, "deprovision_workspace", args, "sk-1", now)
                        .is_err(),
                    "byte {i}"
                );
            }
        }
        assert!(!sealed.contains("sk-1"));
        // Nothing derived from the key is in the state either: it is only authenticated.
        use base64::Engine as _;
        let readable: String = sealed
            .split('.')
            .filter_map(|part| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(part)
                    .ok()
            })
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .collect();
        assert!(readable.contains("deprovision_workspace"), "{readable}");
        assert!(!readable.contains(&sha256_hex(b"sk-1")), "{readable}");
    }

    #[test]
    fn a_short_key_is_refused_without_echoing_it() {
        let err = StateKey::from_lookup(|_| Some("short-secret".into())).unwrap_err();
        assert!(!err.to_string().contains("short-secret"), "{err}");
        assert!(err.to_string().contains("MOLECULE_MCP_STATE_KEY"));
        assert!(!StateKey::from_lookup(|_| None).unwrap().is_shared());
    }
}
