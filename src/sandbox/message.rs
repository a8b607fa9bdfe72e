//! The request and reply a sandbox handler sees: what [`super::http`] hands to the
//! handlers in [`super::ops`] and [`super::from_spec`], kept apart from both so that
//! neither imports the other.

use super::contract::OpContract;
use axum::http::HeaderMap;
use serde_json::{Value, json};
use std::collections::HashMap;

/// What a handler answers: status, JSON body (none for a bare reply) and extra headers.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Reply {
    pub status: u16,
    pub body: Option<Value>,
    pub headers: Vec<(&'static str, String)>,
}

/// A handler's result; `Err` carries an error reply so `?` can stop a handler early.
pub(super) type Handled = Result<Reply, Reply>;

impl Reply {
    /// `status` with a JSON body.
    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body: Some(body),
            headers: Vec::new(),
        }
    }

    /// 200 with a JSON body.
    pub fn ok(body: Value) -> Handled {
        Ok(Reply::json(200, body))
    }

    /// 201 with a JSON body.
    pub fn created(body: Value) -> Handled {
        Ok(Reply::json(201, body))
    }

    /// `status` with the tenant's error body `{"error": message}`.
    pub fn error(status: u16, message: impl Into<String>) -> Reply {
        Reply::json(status, json!({ "error": message.into() }))
    }

    /// `status` with an empty body (the tenant guard's 404, a documented 204).
    pub fn bare(status: u16) -> Reply {
        Reply {
            status,
            body: None,
            headers: Vec::new(),
        }
    }
}

/// Who made the request, once the gate let it through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Principal {
    /// An open route, no credential looked at.
    Anonymous,
    /// An org API token.
    OrgToken {
        /// Its first 8 characters.
        prefix: String,
        /// The org root workspace it is anchored to.
        org_id: Option<String>,
    },
    /// A workspace token (WorkspaceAuth routes, for its own workspace).
    WorkspaceToken,
    /// The control-plane admin token.
    ControlPlane,
}

/// One request, as a handler sees it.
#[derive(Debug)]
pub(super) struct Req<'a> {
    pub params: HashMap<String, String>,
    pub query: HashMap<String, String>,
    pub headers: &'a HeaderMap,
    /// The body parsed once: `{}` when empty, `None` when it is not JSON.
    pub json: Option<Value>,
    pub contract: &'a OpContract,
    /// Who is calling.
    pub caller: Principal,
}

impl Req<'_> {
    /// A path parameter (percent-decoded); empty when the route has none of that name.
    pub fn param(&self, name: &str) -> &str {
        self.params
            .get(name)
            .map(String::as_str)
            .unwrap_or_default()
    }

    /// The `{id}` path parameter.
    pub fn id(&self) -> &str {
        self.param("id")
    }

    /// Whether query parameter `name` is exactly `true` (the tenant's check).
    pub fn flag(&self, name: &str) -> bool {
        self.query.get(name).is_some_and(|v| v == "true")
    }

    /// A request header, when present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Every path parameter (percent-decoded), by name.
    pub fn params(&self) -> &HashMap<String, String> {
        &self.params
    }

    /// A query parameter, when given.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }

    /// Whether the operation documents a JSON request body.
    pub fn has_request_schema(&self) -> bool {
        self.contract.request.is_some()
    }

    /// `(location, name)` of the operation's required query parameters and headers.
    pub fn required(&self) -> &[(String, String)] {
        &self.contract.required
    }

    /// The documented success status and a body built from its schema.
    pub fn success(&self) -> (u16, &Option<Value>) {
        (self.contract.success.0, &self.contract.success.1)
    }

    /// The JSON body as sent (`{}` when empty), or `None` when it is not JSON.
    pub fn json(&self) -> Option<&Value> {
        self.json.as_ref()
    }

    /// The JSON body as sent when it is an object.
    pub fn object(&self) -> Option<&Value> {
        self.json.as_ref().filter(|v| v.is_object())
    }

    /// The JSON body, checked against the operation's request schema; otherwise a
    /// 400 with the handler's `message`.
    pub fn body(&self, message: &str) -> Result<&Value, Reply> {
        let body = self.json().ok_or_else(|| Reply::error(400, message))?;
        match &self.contract.request {
            Some(validator) if !validator.is_valid(body) => Err(Reply::error(400, message)),
            _ => Ok(body),
        }
    }
}
