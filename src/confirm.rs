//! Confirmation by a person (docs/safety.md): before a call that the confirmation level
//! covers sends anything, the person behind the client is shown the consequence, read
//! from the tenant first, and asked through MCP elicitation (form mode). For
//! `deprovision_workspace` they type the workspace's name, which is then sent as
//! `X-Confirm-Name`. A decline or cancel sends nothing.
//!
//! The asking itself is the transport's (src/server.rs builds an [`Asker`] from rmcp's
//! peer for a client that declared the `elicitation` capability); this module decides
//! whether to ask, what to say, and what the answer means.

use crate::Operation;
use crate::client::Caller;
use crate::config::Confirm;
use crate::error::{Pending, ToolError};
use crate::redact::Redactor;
use crate::result::{Success, clipped};
use crate::tools::Entry;
use crate::tools::built::tool_name;
use crate::tools::table::Route;
use futures::future::BoxFuture;
use rmcp::model::ElicitationSchema;
use serde_json::{Map, Value};
use std::sync::Arc;

/// How long a person has to answer.
pub const ASK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

/// Added to the result of a call the confirmation level covers when the client cannot
/// ask (and `MOLECULE_MCP_CONFIRM_REQUIRED` is off): it went ahead unconfirmed.
pub const NOT_CONFIRMED: &str = "Not confirmed by a person: this server cannot ask through this \
client (it did not declare MCP elicitation; over HTTP only 2026-07-28 clients can be asked), so \
the call went ahead on the model's judgement alone.";

/// A person's answer to a form.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Accepted, with the form's content.
    Accept(Map<String, Value>),
    /// Declined.
    Decline,
    /// Dismissed without a choice.
    Cancel,
    /// The client answers on a retry (2026-07-28 over HTTP): the call ends now with
    /// the question, sealed by src/server.rs into an `InputRequiredResult`.
    Later,
    /// The retry's sealed state did not verify (src/sealed.rs): why.
    Refused(String),
}

type AskFn =
    dyn Fn(String, ElicitationSchema) -> BoxFuture<'static, Result<Answer, String>> + Send + Sync;

/// Asks the person behind the client: a message and a form; their answer, or why the
/// client could not ask.
#[derive(Clone)]
pub struct Asker(Arc<AskFn>);

impl std::fmt::Debug for Asker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Asker")
    }
}

impl Asker {
    /// An asker from the transport's `ask`.
    pub fn new(
        ask: impl Fn(String, ElicitationSchema) -> BoxFuture<'static, Result<Answer, String>>
        + Send
        + Sync
        + 'static,
    ) -> Asker {
        Asker(Arc::new(ask))
    }
}

/// How a call was confirmed (the audit log's `confirmed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Confirmed {
    /// The confirmation level does not cover the tool (or it is a dry run).
    #[default]
    NotAsked,
    /// A person accepted.
    Accepted,
    /// The client cannot ask; the call went on unconfirmed.
    Unavailable,
    /// A person declined.
    Declined,
    /// A person cancelled.
    Cancelled,
    /// The question went back to the client, to be answered on a retry.
    Asked,
}

impl Confirmed {
    /// Its name in the audit log.
    pub fn name(self) -> &'static str {
        match self {
            Confirmed::NotAsked => "not_asked",
            Confirmed::Accepted => "accepted",
            Confirmed::Unavailable => "unavailable",
            Confirmed::Declined => "declined",
            Confirmed::Cancelled => "cancelled",
            Confirmed::Asked => "asked",
        }
    }
}

/// The engine as a confirmation uses it to read the consequence it shows: the tool of
/// a name, and a call of it as the caller. The engine (src/call.rs) implements it;
/// taking it as an argument keeps this module from importing the engine that calls it.
pub(crate) trait Reads: Sync {
    /// The tool called `name`.
    fn tool(&self, name: &str) -> Option<&Entry>;
    /// Calls the tool `entry` with `args` as `caller`, as a call of its own.
    fn read_as<'a>(
        &'a self,
        entry: &'a Entry,
        args: Map<String, Value>,
        caller: &'a Arc<Caller>,
    ) -> BoxFuture<'a, Result<Success, ToolError>>;
}

/// Whether and how one call is confirmed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Policy<'a> {
    /// The level in force (the operator's, raised by the request).
    pub level: Confirm,
    /// `MOLECULE_MCP_CONFIRM_REQUIRED`.
    pub required: bool,
    /// How to ask, when the client can be asked.
    pub asker: Option<&'a Asker>,
}

/// What to show and ask for one call.
struct Question {
    message: String,
    /// For `deprovision_workspace`: the name the person must type.
    typed_name: Option<String>,
}

/// Asks the person, if `level` covers the tool, and returns how the call was
/// confirmed; `args` gain the typed `confirm_name` for `deprovision_workspace`. `Err`:
/// the call must not be sent.
pub(crate) async fn confirm(
    engine: &dyn Reads,
    entry: &Entry,
    args: &mut Value,
    caller: &Arc<Caller>,
    policy: Policy<'_>,
    redactor: &Redactor,
) -> Result<Confirmed, ToolError> {
    if !policy.level.covers(entry.row.access) {
        return Ok(Confirmed::NotAsked);
    }
    let Some(asker) = policy.asker else {
        if policy.required {
            return Err(ToolError::ConfirmationUnavailable {
                tool: entry.row.name.to_string(),
            });
        }
        return Ok(Confirmed::Unavailable);
    };
    let mut question = question(engine, entry, args, caller).await?;
    redactor.text(&mut question.message);
    let schema = match &question.typed_name {
        Some(_) => ElicitationSchema::builder().required_string_property("name", |s| {
            s.title("Workspace name")
                .description("Type the workspace's name exactly to deprovision it.")
        }),
        None => ElicitationSchema::builder().required_bool_property("confirm", |b| {
            b.title("Go ahead")
                .description("Check to let this call go ahead.")
        }),
    }
    .build()
    .map_err(|e| ToolError::Internal(format!("confirmation form: {e}")))?;
    let declined = |reason: &str, how: Confirmed| ToolError::ConfirmationDeclined {
        tool: entry.row.name.to_string(),
        reason: reason.to_string(),
        cancelled: how == Confirmed::Cancelled,
    };
    match (asker.0)(question.message.clone(), schema.clone()).await {
        Ok(Answer::Later) => Err(ToolError::InputRequired(Box::new(Pending {
            message: question.message,
            schema,
        }))),
        Ok(Answer::Refused(why)) => Err(declined(
            &format!("its requestState was refused: {why}"),
            Confirmed::Declined,
        )),
        Ok(Answer::Accept(content)) => match question.typed_name {
            Some(expected) => {
                let typed = content.get("name").and_then(Value::as_str).unwrap_or("");
                if typed.trim() != expected {
                    return Err(declined(
                        "the name typed is not the workspace's name",
                        Confirmed::Declined,
                    ));
                }
                if let Some(args) = args.as_object_mut() {
                    args.insert("confirm_name".into(), Value::String(expected));
                }
                Ok(Confirmed::Accepted)
            }
            None if content.get("confirm") == Some(&Value::Bool(true)) => Ok(Confirmed::Accepted),
            None => Err(declined("the box was left unchecked", Confirmed::Declined)),
        },
        Ok(Answer::Decline) => Err(declined("the person declined", Confirmed::Declined)),
        Ok(Answer::Cancel) => Err(declined("the person cancelled", Confirmed::Cancelled)),
        // The client said it can ask and then could not: fail closed.
        Err(why) => Err(ToolError::ConfirmationUnavailable {
            tool: format!(
                "{} (the client could not ask: {})",
                entry.row.name,
                clipped(&why, 200)
            ),
        }),
    }
}

/// A read this server makes to show the consequence; its error ends the call.
/// The workspace `id`, as the tool of `GetWorkspace` returns it.
async fn workspace(engine: &dyn Reads, caller: &Arc<Caller>, id: &str) -> Result<Value, ToolError> {
    read(
        engine,
        caller,
        tool_name(Operation::GetWorkspace),
        serde_json::json!({ "workspace_id": id }),
    )
    .await
}

async fn read(
    engine: &dyn Reads,
    caller: &Arc<Caller>,
    tool: &str,
    args: Value,
) -> Result<Value, ToolError> {
    let entry = engine
        .tool(tool)
        .ok_or_else(|| ToolError::Internal(format!("no tool {tool}")))?;
    let Value::Object(args) = args else {
        return Err(ToolError::Internal("read arguments".into()));
    };
    engine.read_as(entry, args, caller).await.map(|s| s.value)
}

/// The items of a list result: the array itself, or an object's first array.
fn items(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        Value::Object(map) => map
            .values()
            .find_map(|v| v.as_array().cloned())
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

fn text_field<'a>(value: &'a Value, field: &str) -> Option<&'a str> {
    value.get(field).and_then(Value::as_str)
}

/// The consequence, in the tenant's own words.
async fn question(
    engine: &dyn Reads,
    entry: &Entry,
    args: &Value,
    caller: &Arc<Caller>,
) -> Result<Question, ToolError> {
    let arg = |name: &str| {
        args.get(name)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let shown = |s: &str| clipped(s, 200);
    let workspace_name = |w: &Value| shown(text_field(w, "name").unwrap_or("(no name)"));
    let org = caller
        .org_slug
        .clone()
        .or_else(|| caller.org_id.clone())
        .unwrap_or_else(|| "this org".into());
    match entry.row.route {
        Route::One(Operation::DeprovisionWorkspace) => {
            let id = arg("workspace_id");
            let workspace = workspace(engine, caller, &id).await?;
            let name = text_field(&workspace, "name").unwrap_or("").to_string();
            let list = tool_name(Operation::ListWorkspaces);
            let all = items(&read(engine, caller, list, serde_json::json!({})).await?);
            let below = descendants(&id, &all);
            Ok(Question {
                message: format!(
                    "Deprovision workspace “{}” ({}) and the {below} sub-workspace(s) under it? \
                     They are removed and this cannot be undone. Type the workspace's name to confirm.",
                    workspace_name(&workspace),
                    shown(&id)
                ),
                typed_name: Some(name),
            })
        }
        Route::One(Operation::DeleteWorkspaceSecret) => {
            let id = arg("workspace_id");
            let workspace = workspace(engine, caller, &id).await?;
            Ok(Question {
                message: format!(
                    "Delete secret `{}` from workspace “{}” ({})? The workspace restarts without \
                     it, and its value cannot be recovered.",
                    shown(&arg("key")),
                    workspace_name(&workspace),
                    shown(&id)
                ),
                typed_name: None,
            })
        }
        Route::One(Operation::DeleteOrgSecret) => Ok(Question {
            message: format!(
                "Delete org secret `{}` from org {}? Every workspace that uses it restarts \
                 without it, and its value cannot be recovered.",
                shown(&arg("key")),
                shown(&org)
            ),
            typed_name: None,
        }),
        Route::One(Operation::RevokeOrgToken) => {
            let id = arg("id");
            let list = tool_name(Operation::ListOrgTokens);
            let tokens = items(&read(engine, caller, list, serde_json::json!({})).await?);
            let token = tokens
                .iter()
                .find(|t| text_field(t, "id") == Some(id.as_str()));
            let (name, prefix) = match token {
                Some(t) => (
                    text_field(t, "name").unwrap_or("(no name)").to_string(),
                    text_field(t, "prefix").unwrap_or("").to_string(),
                ),
                None => ("(not among this org's tokens)".to_string(), String::new()),
            };
            let own = !prefix.is_empty()
                && caller
                    .org_api_key
                    .as_ref()
                    .is_some_and(|k| k.expose().starts_with(&prefix));
            Ok(Question {
                message: format!(
                    "Revoke org token “{}” (prefix {}, id {})? Whatever uses it loses access at \
                     once.{}",
                    shown(&name),
                    shown(&prefix),
                    shown(&id),
                    if own {
                        " This is the key this server itself uses: every later call through it will fail."
                    } else {
                        ""
                    }
                ),
                typed_name: None,
            })
        }
        _ => {
            let mut shown_args = args.to_string();
            shown_args = clipped(&shown_args, 600);
            Ok(Question {
                message: format!(
                    "{} (`{}`) with {shown_args}: go ahead?",
                    entry.row.title, entry.row.name
                ),
                typed_name: None,
            })
        }
    }
}

/// How many workspaces of `all` sit below `id` (children, their children, …).
fn descendants(id: &str, all: &[Value]) -> usize {
    let mut below = 0;
    let mut frontier = vec![id.to_string()];
    let mut seen = std::collections::HashSet::new();
    while let Some(parent) = frontier.pop() {
        for w in all {
            if text_field(w, "parent_id") == Some(parent.as_str())
                && let Some(child) = text_field(w, "id")
                && seen.insert(child.to_string())
            {
                below += 1;
                frontier.push(child.to_string());
            }
        }
    }
    below
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn descendants_are_counted_through_every_level_once() {
        let all = vec![
            json!({"id": "a"}),
            json!({"id": "b", "parent_id": "a"}),
            json!({"id": "c", "parent_id": "b"}),
            json!({"id": "d", "parent_id": "a"}),
            json!({"id": "e", "parent_id": "x"}),
        ];
        assert_eq!(descendants("a", &all), 3);
        assert_eq!(descendants("b", &all), 1);
        assert_eq!(descendants("e", &all), 0);
    }
}
