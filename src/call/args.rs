//! One call's arguments, sorted by where they go on the wire under their spec names,
//! and read from there by the generated glue ([`crate::Operation::send`], written by
//! build.rs from the spec's parameter list, so every argument the tool schema accepts
//! reaches the request).

use crate::Operation;
use crate::client::Caller;
use crate::error::ToolError;
use crate::operations::Arguments;
use crate::tools::Entry;
use crate::tools::derive::{CallShape, Location};
use crate::tools::table::{ArgRule, Route};
use serde_json::{Map, Value};

/// The operation a call of `entry` with `args` goes to.
pub(super) fn operation_for(entry: &Entry, args: &Value) -> Operation {
    match entry.row.route {
        Route::One(op) => op,
        Route::ByPresence {
            arg,
            present,
            absent,
        } => {
            if args.get(arg).is_some_and(|v| !v.is_null()) {
                present
            } else {
                absent
            }
        }
    }
}

/// The arguments of one call, sorted by where they go, under their spec names.
#[derive(Debug, Default)]
pub(super) struct SortedArgs {
    path: Map<String, Value>,
    query: Map<String, Value>,
    header: Map<String, Value>,
    body: Option<Value>,
}

impl SortedArgs {
    /// Sorts the validated `args` of `entry` by the operation's `plan`. An explicit
    /// `null` for a path, query or header argument is not sent (a body field's is); the
    /// allowlist tools' `org_id` falls back to the caller's org id.
    pub(super) fn build(
        entry: &Entry,
        plan: &CallShape,
        args: &Value,
        caller: &Caller,
    ) -> Result<Self, ToolError> {
        let mut out = SortedArgs::default();
        let mut body = Map::new();
        for target in &plan.targets {
            let value = match args.get(&target.tool) {
                Some(v) if !v.is_null() || target.location == Location::BodyField => v.clone(),
                _ => match fallback(entry, &target.tool, caller) {
                    Some(v) => v,
                    None if target.location == Location::Path => {
                        return Err(ToolError::InvalidArguments(vec![format!(
                            "{} is required (or set MOLECULE_ORG_ID)",
                            target.tool
                        )]));
                    }
                    None => continue,
                },
            };
            let spec = target.spec.clone();
            match target.location {
                Location::Path => {
                    out.path.insert(spec, value);
                }
                Location::Query => {
                    out.query.insert(spec, value);
                }
                Location::Header => {
                    out.header.insert(spec, value);
                }
                Location::BodyField => {
                    body.insert(spec, value);
                }
                Location::Body => out.body = Some(value),
            }
        }
        if plan.has_body && out.body.is_none() {
            out.body = Some(Value::Object(body));
        }
        Ok(out)
    }
}

fn typed<'a, T: serde::Deserialize<'a>>(
    value: Option<&'a Value>,
    location: &str,
    name: &str,
) -> Result<Option<T>, ToolError> {
    value
        .map(|v| {
            T::deserialize(v).map_err(|e| {
                ToolError::Internal(format!(
                    "{location} parameter `{name}` after validation: {e}"
                ))
            })
        })
        .transpose()
}

impl Arguments for SortedArgs {
    type Error = ToolError;

    /// A path parameter: present, non-empty and not a dot segment (checked again here,
    /// whatever the schema said, because URL normalisation would change the route).
    fn path(&self, name: &'static str) -> Result<&str, ToolError> {
        match self.path.get(name).and_then(Value::as_str) {
            Some(v) if !v.is_empty() && v != "." && v != ".." => Ok(v),
            Some(_) => Err(ToolError::InvalidArguments(vec![format!(
                "`{name}`: must be a non-empty id other than `.` or `..`"
            )])),
            None => Err(ToolError::Internal(format!(
                "path parameter `{name}` missing after validation"
            ))),
        }
    }

    fn query<'a, T: serde::Deserialize<'a>>(
        &'a self,
        name: &'static str,
    ) -> Result<Option<T>, ToolError> {
        typed(self.query.get(name), "query", name)
    }

    fn header<'a, T: serde::Deserialize<'a>>(
        &'a self,
        name: &'static str,
    ) -> Result<Option<T>, ToolError> {
        typed(self.header.get(name), "header", name)
    }

    fn body(&self) -> Result<&Value, ToolError> {
        self.body
            .as_ref()
            .ok_or_else(|| ToolError::Internal("request body missing".into()))
    }

    fn missing(&self, location: &'static str, name: &'static str) -> ToolError {
        ToolError::Internal(format!(
            "required {location} parameter `{name}` missing after validation"
        ))
    }
}

fn fallback(entry: &Entry, tool_arg: &str, caller: &Caller) -> Option<Value> {
    entry.row.args.iter().find_map(|rule| match rule {
        ArgRule::OrgIdFallback { tool, .. } if *tool == tool_arg => {
            caller.org_id.clone().map(Value::String)
        }
        _ => None,
    })
}
