//! What the server can find out for itself after a tenant error, so the hint
//! (src/hints.rs) says what is wrong instead of what the status code means, and what
//! it knows about its own key (docs/decisions.md, "Hints the server can check").
//!
//! - An error naming a workspace (404 `workspace not found…`, a 5xx of a call whose
//!   arguments name one, 403 `org access denied` on an org id) is followed by one
//!   read of that workspace, `get_workspace`, as the same caller: does it exist, is it
//!   paused, is it the org's root.
//! - A 401 says whether the caller's key was revoked by `revoke_org_token` in this
//!   run: a revoke made with the key proves it worked then; the token it revoked is
//!   the key's own when `list_org_tokens` showed it so (or, its own token unknown,
//!   that revoke is the one change seen). No request is added to any call.
//! - `list_org_tokens` marks the token whose prefix (its first 8 characters) is the
//!   caller's key's, with `used_by_this_server: true`; the key itself is never shown.

use super::Engine;
use crate::Operation;
use crate::client::Caller;
use crate::error::{Found, Seen, ToolError};
use crate::limit::key_hash;
use crate::result::Success;
use crate::tools::Entry;
use serde_json::{Map, Value, json};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// How many characters of a token the tenant shows as its `prefix`.
const PREFIX_CHARS: usize = 8;

/// The field `list_org_tokens` gains on the caller's own token.
pub const OWN_TOKEN_FIELD: &str = "used_by_this_server";

/// What this run learnt about callers' own keys, by key fingerprint (never the key):
/// the id of the token `list_org_tokens` showed as the key's own, and the ids
/// `revoke_org_token` revoked with it.
#[derive(Debug, Default)]
pub(super) struct OwnKeys(std::sync::Mutex<std::collections::HashMap<u64, Learnt>>);

#[derive(Debug, Default)]
struct Learnt {
    own: Option<String>,
    revoked: Vec<String>,
}

impl OwnKeys {
    fn learn(&self, key: &str, f: impl FnOnce(&mut Learnt)) {
        if let Ok(mut map) = self.0.lock() {
            f(map.entry(key_hash(key)).or_default());
        }
    }

    /// Whether a revoke in this run, made with `key` while it still worked, explains
    /// the tenant refusing it now: the revoked token is the key's own, or (its own
    /// token not being known) a revoke was the only change seen.
    fn revoked_here(&self, key: &str) -> bool {
        let Ok(map) = self.0.lock() else {
            return false;
        };
        map.get(&key_hash(key)).is_some_and(|l| match &l.own {
            Some(own) => l.revoked.contains(own),
            None => !l.revoked.is_empty(),
        })
    }
}

fn entry_for(engine: &Engine, op: Operation) -> Option<&Entry> {
    engine.catalog().entries.iter().find(|e| e.serves(op))
}

type Call<'a> = Pin<Box<dyn Future<Output = Result<Success, ToolError>> + Send + 'a>>;

/// A read made by the server itself, as `caller`, with no narrowing of its own: the
/// server's selection still applies, so a tool this server does not serve is never
/// called.
fn read<'a>(
    engine: &'a Engine,
    op: Operation,
    args: Value,
    caller: &'a Arc<Caller>,
) -> Option<Call<'a>> {
    let entry = entry_for(engine, op)?;
    let Value::Object(args) = args else {
        return None;
    };
    Some(Box::pin(engine.call_as(entry, args, caller, None)))
}

/// The tool argument whose workspace one read checks after a tenant error of
/// `status` with `body`, and its id.
fn to_check(
    entry: &Entry,
    args: &Map<String, Value>,
    caller: &Caller,
    status: u16,
    body: &str,
) -> Option<(&'static str, String)> {
    let given = |name: &'static str| {
        args.get(name)
            .and_then(Value::as_str)
            .map(|id| (name, id.to_string()))
    };
    let takes = |name: &str| entry.derived.input["properties"].get(name).is_some();
    match status {
        404 if body.contains("workspace not found") => given("workspace_id"),
        403 if body.contains("org access denied") && takes("org_id") => {
            given("org_id").or_else(|| caller.org_id.clone().map(|id| ("org_id", id)))
        }
        500..=599 => given("parent_id").or_else(|| given("workspace_id")),
        _ => None,
    }
}

/// `error` of a call of `entry` with `args`, with what the server could find out
/// for the hint (see the module's documentation).
pub(super) async fn diagnose(
    engine: &Engine,
    entry: &Entry,
    args: &Map<String, Value>,
    caller: &Arc<Caller>,
    mut error: ToolError,
) -> ToolError {
    let ToolError::Http {
        api: crate::Api::Tenant,
        status,
        body,
        seen,
        ..
    } = &mut error
    else {
        return error;
    };
    if *status == 401 {
        let revoked_here = caller
            .org_api_key
            .as_ref()
            .is_some_and(|k| engine.own_keys.revoked_here(k.expose()));
        *seen = Some(Box::new(Seen::KeyRefused {
            remote: caller.remote,
            revoked_here,
        }));
        return error;
    }
    // get_workspace is the read itself: its 404 already says the id is unknown.
    if entry.serves(Operation::GetWorkspace) {
        return error;
    }
    let Some((arg, id)) = to_check(entry, args, caller, *status, body) else {
        return error;
    };
    let Some(call) = read(
        engine,
        Operation::GetWorkspace,
        json!({ "workspace_id": id }),
        caller,
    ) else {
        return error;
    };
    let found = match call.await {
        Ok(workspace) => {
            let text = |k: &str| workspace.value[k].as_str().map(String::from);
            Found::Workspace {
                name: text("name").unwrap_or_default(),
                status: text("status").unwrap_or_default(),
                parent_id: text("parent_id"),
            }
        }
        Err(ToolError::Http { status: 404, .. }) => Found::Missing,
        Err(ToolError::Http { status: 400, .. }) => Found::NotAnId,
        // The read failed for another reason: nothing learnt, nothing said.
        Err(_) => return error,
    };
    if let ToolError::Http { seen, .. } = &mut error {
        *seen = Some(Box::new(Seen::Read {
            arg: arg.to_string(),
            id,
            found,
        }));
    }
    error
}

/// After `entry` succeeded: a revoke is remembered, a token list marks (and
/// remembers) the caller's own token.
pub(super) fn after_success(
    own_keys: &OwnKeys,
    entry: &Entry,
    args: &Map<String, Value>,
    success: &mut Success,
    caller: &Caller,
) {
    let Some(key) = caller.org_api_key.as_ref() else {
        return;
    };
    if entry.serves(Operation::RevokeOrgToken) {
        if let Some(id) = args.get("id").and_then(Value::as_str) {
            own_keys.learn(key.expose(), |l| l.revoked.push(id.to_string()));
        }
    } else if entry.serves(Operation::ListOrgTokens)
        && let Some(own) = mark_own_token(success, key.expose())
    {
        own_keys.learn(key.expose(), |l| l.own = Some(own));
    }
}

/// Marks the token whose prefix is `key`'s in a `list_org_tokens` success; its id.
fn mark_own_token(success: &mut Success, key: &str) -> Option<String> {
    let prefix: String = key.chars().take(PREFIX_CHARS).collect();
    if prefix.chars().count() < PREFIX_CHARS {
        return None;
    }
    let mark = |body: &mut Value| {
        let mut own = None;
        if let Some(tokens) = body.get_mut("tokens").and_then(Value::as_array_mut) {
            for token in tokens.iter_mut().filter_map(Value::as_object_mut) {
                if token.get("prefix").and_then(Value::as_str) == Some(prefix.as_str()) {
                    token.insert(OWN_TOKEN_FIELD.into(), Value::Bool(true));
                    own = token.get("id").and_then(Value::as_str).map(String::from);
                }
            }
        }
        own
    };
    let own = mark(&mut success.value)?;
    if let Some(structured) = success.structured.as_mut() {
        mark(structured);
    }
    success.text =
        serde_json::to_string_pretty(&success.value).unwrap_or_else(|_| success.value.to_string());
    Some(own)
}
