//! The HTTP side of the sandbox: one axum route per spec operation, and the one
//! generic handler every route shares — tenant guard, credential gate, the
//! operation's handler under the state lock (its stateful one, or the answer from the
//! spec), and a check of the reply against the spec.

use super::contract::{self, Contracts, OpContract};
use super::from_spec;
use super::message::{Principal, Reply, Req};
use super::ops::{self, Gate};
use super::state::State;
use crate::{Api, Operation};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// The state both servers share.
pub(super) type Shared = Arc<Mutex<State>>;

/// The router of one API: a route per operation of its spec, all on [`respond`].
pub(super) fn router(api: Api, shared: Shared, contracts: &'static Contracts) -> Router {
    let mut by_path: BTreeMap<&str, MethodRouter> = BTreeMap::new();
    for op in Operation::ALL.iter().copied().filter(|op| op.api() == api) {
        let Some(contract) = contracts.get(&op) else {
            continue;
        };
        let Some(filter) = Method::from_bytes(contract.method.as_bytes())
            .ok()
            .and_then(|m| MethodFilter::try_from(m).ok())
        else {
            continue;
        };
        let shared = shared.clone();
        // Routes without parameters have no `Path` to extract: treat that as empty.
        let handler = move |params: Result<Path<HashMap<String, String>>, PathRejection>,
                            RawQuery(query): RawQuery,
                            headers: HeaderMap,
                            body: Bytes| async move {
            let params = params.map(|Path(p)| p).unwrap_or_default();
            respond(&shared, op, contract, params, query, &headers, &body)
        };
        let route = by_path.remove(contract.path.as_str()).unwrap_or_default();
        by_path.insert(contract.path.as_str(), route.merge(on(filter, handler)));
    }
    by_path
        .into_iter()
        .fold(Router::new(), |router, (path, route)| {
            router.route(path, route)
        })
}

fn respond(
    shared: &Shared,
    op: Operation,
    contract: &OpContract,
    params: HashMap<String, String>,
    query: Option<String>,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    respond_with(
        shared,
        op,
        contract,
        ops::handler(op).unwrap_or((ops::gate(op), from_spec::answer)),
        (params, query, headers, body),
    )
}

/// The request as axum hands it over: path parameters, raw query, headers, body.
type Parts<'a> = (
    HashMap<String, String>,
    Option<String>,
    &'a HeaderMap,
    &'a [u8],
);

fn respond_with(
    shared: &Shared,
    op: Operation,
    contract: &OpContract,
    (gate, handler): (Gate, ops::Handler),
    (params, query, headers, body): Parts<'_>,
) -> Response {
    let mut state = shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let reply = admit(&mut state, op, gate, headers, &params).and_then(|caller| {
        let json = if body.iter().all(u8::is_ascii_whitespace) {
            Some(json!({}))
        } else {
            serde_json::from_slice(body).ok()
        };
        let req = Req {
            params,
            query: parse_query(query.as_deref()),
            headers,
            json,
            contract,
            caller,
        };
        handler(&mut state, &req)
    });
    drop(state);
    let reply = reply.unwrap_or_else(|e| e);
    if let (Some(body), Some(validator)) = (&reply.body, contract.response(reply.status)) {
        let errors = contract::errors(validator, body);
        if !errors.is_empty() {
            tracing::warn!(
                operation = op.operation_id(),
                status = reply.status,
                ?errors,
                "sandbox reply does not fit the spec"
            );
        }
    }
    tracing::debug!(
        operation = op.operation_id(),
        status = reply.status,
        "sandbox"
    );
    into_response(reply)
}

fn into_response(reply: Reply) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = match reply.body {
        Some(body) => (
            status,
            [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
            body.to_string(),
        )
            .into_response(),
        None => (status, Body::empty()).into_response(),
    };
    for (name, value) in reply.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::try_from(value),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

fn parse_query(query: Option<&str>) -> HashMap<String, String> {
    let Some(query) = query else {
        return HashMap::new();
    };
    reqwest::Url::parse(&format!("http://q/?{query}"))
        .map(|url| url.query_pairs().into_owned().collect())
        .unwrap_or_default()
}

/// The tenant guard, then the route's credential gate (docs/contract.md, "Tenant
/// guard and credential gates").
fn admit(
    state: &mut State,
    op: Operation,
    gate: Gate,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
) -> Result<Principal, Reply> {
    if op.api() == Api::Tenant {
        match headers.get("x-molecule-org-id").map(HeaderValue::as_bytes) {
            Some(id) if id == state.org_id.as_bytes() => {}
            Some(_) => return Err(Reply::bare(404)),
            None => {
                return Err(Reply::json(
                    400,
                    json!({
                        "error": "missing tenant routing header",
                        "code": "TENANT_ORG_HEADER_REQUIRED",
                        "required_header": "X-Molecule-Org-Id",
                        "detail": "SaaS tenant API requests must include X-Molecule-Org-Id matching the organization UUID.",
                    }),
                ));
            }
        }
    }
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let (missing, invalid) = match gate {
        Gate::Open => return Ok(Principal::Anonymous),
        Gate::ControlPlane => {
            return match bearer {
                Some(token) if token == state.cp_token => Ok(Principal::ControlPlane),
                Some(_) => Err(Reply::error(401, "invalid admin auth token")),
                None => Err(Reply::error(401, "admin auth required")),
            };
        }
        Gate::Admin => ("admin auth required", "invalid admin auth token"),
        Gate::Workspace => (
            "missing workspace auth token",
            "invalid workspace auth token",
        ),
    };
    let token = bearer.ok_or_else(|| Reply::error(401, missing))?;
    let now = super::state::now_rfc3339();
    if let Some(row) = state.org_tokens.iter_mut().find(|t| t.token == token) {
        row.last_used_at = Some(now);
        return Ok(Principal::OrgToken {
            prefix: row.prefix(),
            org_id: row.org_id.clone(),
        });
    }
    let own_workspace = params.get("id").map(String::as_str);
    let workspace_token = state
        .workspace_tokens
        .iter()
        .any(|t| t.token == token && Some(t.workspace_id.as_str()) == own_workspace);
    if gate == Gate::Workspace && workspace_token {
        return Ok(Principal::WorkspaceToken);
    }
    Err(Reply::error(401, invalid))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// An operation without a stateful handler, served through the same path as every
    /// route: guard and gate, then the answer from the spec.
    fn spec_answer(op: Operation, params: &[(&str, &str)], body: &str) -> (u16, Value) {
        let contract = &super::contract::contracts().unwrap()[&op];
        spec_answer_with(op, contract, params, None, body)
    }

    /// [`spec_answer`] with a given contract and query string.
    fn spec_answer_with(
        op: Operation,
        contract: &super::contract::OpContract,
        params: &[(&str, &str)],
        query: Option<&str>,
        body: &str,
    ) -> (u16, Value) {
        let (state, key) = State::seeded();
        let org_id = state.org_id.clone();
        let shared: Shared = Arc::new(Mutex::new(state));
        let mut headers = HeaderMap::new();
        headers.insert("x-molecule-org-id", org_id.parse().unwrap());
        headers.insert(AUTHORIZATION, format!("Bearer {key}").parse().unwrap());
        let params = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let response = respond_with(
            &shared,
            op,
            contract,
            (ops::gate(op), from_spec::answer),
            (params, query.map(str::to_string), &headers, body.as_bytes()),
        );
        let status = response.status().as_u16();
        let bytes =
            futures::executor::block_on(axum::body::to_bytes(response.into_body(), 1 << 20))
                .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    #[test]
    fn an_operation_without_a_handler_gets_its_documented_success_built_from_the_spec() {
        let contracts = super::contract::contracts().unwrap();
        let (status, body) = spec_answer(Operation::GetWorkspace, &[("id", "ws-1")], "");
        assert_eq!(status, 200);
        assert_eq!(body["id"], "ws-1", "the path parameter echoes: {body}");
        assert!(
            contracts[&Operation::GetWorkspace]
                .response(200)
                .unwrap()
                .is_valid(&body)
        );
        // A required query parameter or header (none in today's specs) must be sent.
        let mut strict = contracts[&Operation::GetWorkspace].clone();
        strict.required = vec![
            ("query".into(), "confirm".into()),
            ("header".into(), "x-trace".into()),
        ];
        let ask = |query| {
            spec_answer_with(
                Operation::GetWorkspace,
                &strict,
                &[("id", "ws-1")],
                query,
                "",
            )
        };
        let (status, body) = ask(None);
        assert_eq!(status, 400);
        assert!(
            body.to_string().contains("missing query parameter confirm"),
            "{body}"
        );
        let (status, body) = ask(Some("confirm=true"));
        assert_eq!(status, 400);
        assert!(
            body.to_string()
                .contains("missing header parameter x-trace"),
            "{body}"
        );
        // An operation that takes no body ignores whatever body comes with it.
        let (status, _) = spec_answer(Operation::GetWorkspace, &[("id", "ws-1")], "not json");
        assert_eq!(status, 200);
        let (status, body) = spec_answer(
            Operation::ProvisionWorkspace,
            &[],
            r#"{"name":"a","tier":2}"#,
        );
        assert_eq!(status, 201, "{body}");
        assert!(
            contracts[&Operation::ProvisionWorkspace]
                .response(201)
                .unwrap()
                .is_valid(&body)
        );
    }

    #[test]
    fn an_operation_without_a_handler_refuses_a_body_that_breaks_the_exact_schema() {
        let (status, body) = spec_answer(
            Operation::ProvisionWorkspace,
            &[],
            r#"{"name":"a","tier":9}"#,
        );
        assert_eq!(status, 400);
        assert_eq!(body["error"], "request body does not match the spec");
        let (status, _) = spec_answer(Operation::ProvisionWorkspace, &[], "not json");
        assert_eq!(status, 400);
    }
}
