//! One tool call, start to finish: validate the arguments against the exact schema,
//! resolve the route, check the credential, call the generated client, and turn the
//! outcome into a JSON result or a [`ToolError`] — in that order, so a bad input or a
//! missing credential never sends a request.

use crate::client::{self, cp, tenant};
use crate::config::Config;
use crate::error::ToolError;
use crate::tools::schema::{Location, Plan};
use crate::tools::table::{ArgRule, Binding, Route};
use crate::tools::{Catalog, Entry};
use crate::{Api, Operation};
use futures::StreamExt;
use progenitor_client::{ByteStream, ResponseValue};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

/// Largest body read from a host; beyond it the call fails rather than exhausting memory.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// The configured clients and the tool catalogue.
#[derive(Debug)]
pub struct Engine {
    catalog: Catalog,
    config: Config,
    tenant: tenant::Client,
    cp: cp::Client,
    timeout: Duration,
}

/// Why the engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A tool row does not fit the spec.
    #[error(transparent)]
    Derive(#[from] crate::tools::schema::DeriveError),
    /// An HTTP client could not be built.
    #[error(transparent)]
    Client(#[from] client::ClientBuildError),
}

impl Engine {
    /// Builds the catalogue and both clients.
    pub fn new(config: Config, timeout: Duration) -> Result<Self, EngineError> {
        client::install_tls_provider();
        Ok(Engine {
            catalog: Catalog::load()?,
            tenant: client::tenant_client(&config, timeout)?,
            cp: client::cp_client(&config, timeout)?,
            config,
            timeout,
        })
    }

    /// The tools.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Calls the tool `entry` with `args`. A panic anywhere in the call becomes an
    /// `INTERNAL_ERROR` result; the server keeps serving.
    pub async fn call(&self, entry: &Entry, args: Map<String, Value>) -> Result<Value, ToolError> {
        use futures::FutureExt;
        std::panic::AssertUnwindSafe(self.call_inner(entry, args))
            .catch_unwind()
            .await
            .unwrap_or_else(|panic| {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                tracing::error!(tool = entry.row.name, "tool call panicked: {message}");
                Err(ToolError::Internal(format!(
                    "the `{}` call failed unexpectedly: {message}",
                    entry.row.name
                )))
            })
    }

    async fn call_inner(
        &self,
        entry: &Entry,
        args: Map<String, Value>,
    ) -> Result<Value, ToolError> {
        let args = Value::Object(args);
        validate(entry, &args)?;
        let op = route(entry, &args);
        let plan = entry
            .derived
            .plans
            .iter()
            .find(|p| p.operation == op)
            .ok_or_else(|| ToolError::Internal(format!("no plan for {}", op.operation_id())))?;
        let call_args = CallArgs::build(entry, plan, &args, &self.config)?;
        self.auth_gate(entry, op)?;
        tracing::debug!(
            tool = entry.row.name,
            operation = op.operation_id(),
            "calling"
        );
        let future = dispatch(&self.tenant, &self.cp, op, &call_args)?;
        call_args.check_all_sent(op)?;
        let outcome = future.await;
        let value = self.outcome(op, outcome).await?;
        check_output(entry, value)
    }

    fn auth_gate(&self, entry: &Entry, op: Operation) -> Result<(), ToolError> {
        match op.api() {
            Api::Tenant => {
                if self.config.org_api_key.is_none() {
                    return Err(ToolError::AuthNotConfigured(
                        "MOLECULE_ORG_API_KEY is not set. The management tools require an Org API Key \
                         (dashboard → Org API Keys) presented as a tenant credential."
                            .into(),
                    ));
                }
                if self.config.org_id.is_none() && self.config.org_slug.is_none() {
                    return Err(ToolError::AuthNotConfigured(
                        "MOLECULE_ORG_ID or MOLECULE_ORG_SLUG is required: the tenant routes requests \
                         by the X-Molecule-Org-Id / X-Molecule-Org-Slug header."
                            .into(),
                    ));
                }
            }
            Api::ControlPlane => {
                if self.config.cp_token.is_none() {
                    return Err(ToolError::CpNotConfigured {
                        tool: entry.row.name.to_string(),
                    });
                }
            }
        }
        Ok(())
    }

    async fn outcome(
        &self,
        op: Operation,
        outcome: Result<ResponseValue<ByteStream>, progenitor_client::Error<()>>,
    ) -> Result<Value, ToolError> {
        let api = op.api();
        let base = match api {
            Api::Tenant => &self.config.tenant_url,
            Api::ControlPlane => &self.config.cp_url,
        };
        let network = |e: reqwest::Error| {
            if e.is_timeout() {
                ToolError::Timeout {
                    operation: op.operation_id().to_string(),
                    seconds: self.timeout.as_secs(),
                }
            } else {
                ToolError::Unreachable {
                    api,
                    url: base.clone(),
                    message: error_chain(&e),
                }
            }
        };
        match outcome {
            Ok(response) => {
                let status = response.status().as_u16();
                let bytes = read_limited(response.into_inner()).await.map_err(network)?;
                Ok(decode_success(status, &bytes))
            }
            Err(progenitor_client::Error::UnexpectedResponse(response)) => {
                let status = response.status().as_u16();
                let stream = ByteStream::new(Box::pin(response.bytes_stream()));
                let bytes = read_limited(stream).await.map_err(network)?;
                if (200..300).contains(&status) {
                    return Ok(decode_success(status, &bytes));
                }
                Err(ToolError::Http {
                    api,
                    status,
                    body: String::from_utf8_lossy(&bytes).into_owned(),
                })
            }
            Err(progenitor_client::Error::CommunicationError(e))
            | Err(progenitor_client::Error::ResponseBodyError(e)) => Err(network(e)),
            Err(other) => Err(ToolError::Internal(format!(
                "{}: {}",
                op.operation_id(),
                other
            ))),
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !message.contains(&text) {
            message = format!("{message}: {text}");
        }
        source = s.source();
    }
    message
}

async fn read_limited(mut stream: ByteStream) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        let room = MAX_BODY_BYTES.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if room < chunk.len() {
            break;
        }
    }
    Ok(body)
}

/// A 2xx body: JSON as is; empty or non-JSON wrapped as `{"raw", "status"}`.
pub fn decode_success(status: u16, bytes: &[u8]) -> Value {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return json!({ "raw": "", "status": status });
    }
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| json!({ "raw": String::from_utf8_lossy(bytes), "status": status }))
}

fn check_output(entry: &Entry, value: Value) -> Result<Value, ToolError> {
    let Some(validator) = entry.output_validator() else {
        return Ok(value);
    };
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| format!("{}: {}", pointer_or_root(e.instance_path().as_str()), e))
        .collect();
    if errors.is_empty() {
        Ok(value)
    } else {
        Err(ToolError::ContractMismatch {
            errors,
            body: value,
        })
    }
}

fn pointer_or_root(pointer: &str) -> String {
    if pointer.is_empty() {
        "(body)".into()
    } else {
        pointer.trim_start_matches('/').replace('/', ".")
    }
}

/// Validates `args` against the exact schema; every error names the field and the rule.
/// Values are masked in messages, so a secret passed in the wrong place is not echoed.
pub fn validate(entry: &Entry, args: &Value) -> Result<(), ToolError> {
    let validator = entry.validator().map_err(ToolError::Internal)?;
    let problems: Vec<String> = validator
        .iter_errors(args)
        .map(|e| {
            describe(
                entry,
                e.instance_path().as_str(),
                e.kind(),
                &e.masked().to_string(),
            )
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ToolError::InvalidArguments(problems))
    }
}

fn describe(
    entry: &Entry,
    pointer: &str,
    kind: &jsonschema::error::ValidationErrorKind,
    message: &str,
) -> String {
    use jsonschema::error::ValidationErrorKind as K;
    let field = pointer.trim_start_matches('/').replace('/', ".");
    let rule = match kind {
        K::Not { .. } if is_path_arg(entry, &field) => {
            "must not be `.` or `..` (an id is exactly one path segment)".to_string()
        }
        K::Pattern { .. } if field_location(entry, &field) == Some(Location::Header) => {
            "must not contain control characters such as CR or LF (it is sent as a header)"
                .to_string()
        }
        K::AnyOf { .. } | K::OneOfNotValid { .. } if field.is_empty() => {
            let names = one_of_required(&entry.derived.validation);
            if names.is_empty() {
                message.to_string()
            } else {
                format!("{} is required", names.join(" or "))
            }
        }
        _ => message.to_string(),
    };
    if field.is_empty() {
        rule
    } else {
        format!("`{field}`: {rule}")
    }
}

fn field_location(entry: &Entry, field: &str) -> Option<Location> {
    entry
        .derived
        .plans
        .iter()
        .flat_map(|p| &p.targets)
        .find(|t| t.tool == field)
        .map(|t| t.location)
}

fn is_path_arg(entry: &Entry, field: &str) -> bool {
    field_location(entry, field) == Some(Location::Path)
        || entry
            .row
            .args
            .iter()
            .any(|r| matches!(r, ArgRule::OrgIdFallback { tool, .. } if *tool == field))
}

fn one_of_required(validation: &Value) -> Vec<String> {
    ["anyOf", "oneOf"]
        .iter()
        .filter_map(|k| validation.get(*k).and_then(Value::as_array))
        .flatten()
        .filter_map(|b| b.get("required").and_then(Value::as_array))
        .flatten()
        .filter_map(Value::as_str)
        .map(|s| format!("`{s}`"))
        .collect()
}

fn route(entry: &Entry, args: &Value) -> Operation {
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
pub struct CallArgs {
    path: Map<String, Value>,
    query: Map<String, Value>,
    header: Map<String, Value>,
    body: Option<Value>,
    taken: Mutex<BTreeSet<String>>,
}

impl CallArgs {
    fn build(entry: &Entry, plan: &Plan, args: &Value, config: &Config) -> Result<Self, ToolError> {
        let mut out = CallArgs::default();
        let mut body = Map::new();
        for target in &plan.targets {
            let value = match args.get(&target.tool) {
                Some(v) if !v.is_null() || target.location == Location::BodyField => v.clone(),
                _ => match fallback(entry, &target.tool, config) {
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
            match target.location {
                Location::Path => {
                    out.path.insert(target.spec.clone(), value);
                }
                Location::Query => {
                    out.query.insert(target.spec.clone(), value);
                }
                Location::Header => {
                    out.header.insert(target.spec.clone(), value);
                }
                Location::BodyField => {
                    body.insert(target.spec.clone(), value);
                }
                Location::Body => out.body = Some(value),
            }
        }
        if plan.has_body && out.body.is_none() {
            out.body = Some(Value::Object(body));
        }
        Ok(out)
    }

    fn take(&self, key: String) {
        if let Ok(mut taken) = self.taken.lock() {
            taken.insert(key);
        }
    }

    /// A path parameter: present, non-empty and not a dot segment (checked again here,
    /// whatever the schema said, because URL normalisation would change the route).
    fn path(&self, name: &str) -> Result<&str, ToolError> {
        self.take(format!("path:{name}"));
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

    fn query_bool(&self, name: &str) -> Option<bool> {
        self.take(format!("query:{name}"));
        self.query.get(name).and_then(Value::as_bool)
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.take(format!("header:{name}"));
        self.header.get(name).and_then(Value::as_str)
    }

    fn body(&self) -> Result<&Value, ToolError> {
        self.take("body".into());
        self.body
            .as_ref()
            .ok_or_else(|| ToolError::Internal("request body missing".into()))
    }

    /// Every given argument must have been placed in the request; a spec parameter the
    /// dispatch does not pass would otherwise be silently dropped.
    fn check_all_sent(&self, op: Operation) -> Result<(), ToolError> {
        let taken = self.taken.lock().map(|t| t.clone()).unwrap_or_default();
        let given = self
            .path
            .keys()
            .map(|k| format!("path:{k}"))
            .chain(self.query.keys().map(|k| format!("query:{k}")))
            .chain(self.header.keys().map(|k| format!("header:{k}")))
            .chain(self.body.iter().map(|_| "body".to_string()));
        let missed: Vec<String> = given.filter(|g| !taken.contains(g)).collect();
        if missed.is_empty() {
            Ok(())
        } else {
            Err(ToolError::Internal(format!(
                "{} does not send {}",
                op.operation_id(),
                missed.join(", ")
            )))
        }
    }
}

fn fallback(entry: &Entry, tool_arg: &str, config: &Config) -> Option<Value> {
    entry.row.args.iter().find_map(|rule| match rule {
        ArgRule::OrgIdFallback { tool, .. } if *tool == tool_arg => {
            config.org_id.clone().map(Value::String)
        }
        _ => None,
    })
}

type Reply = Result<ResponseValue<ByteStream>, progenitor_client::Error<()>>;
type ReplyFuture<'a> = Pin<Box<dyn Future<Output = Reply> + Send + 'a>>;

/// Calls the generated method of `op`. Exhaustive with no wildcard arm, like
/// [`crate::tools::table::binding`]: a new spec operation does not compile until it is
/// dispatched here.
fn dispatch<'a>(
    t: &'a tenant::Client,
    c: &'a cp::Client,
    op: Operation,
    a: &'a CallArgs,
) -> Result<ReplyFuture<'a>, ToolError> {
    use Operation as O;
    if let Binding::Skipped(reason) = crate::tools::table::binding(op) {
        return Err(ToolError::Internal(format!(
            "{} is not served: {reason}",
            op.operation_id()
        )));
    }
    Ok(match op {
        O::ListWorkspaces => Box::pin(t.list_workspaces()),
        O::ProvisionWorkspace => Box::pin(t.provision_workspace(a.body()?)),
        O::GetWorkspace => Box::pin(t.get_workspace(a.path("id")?)),
        O::DeprovisionWorkspace => Box::pin(t.deprovision_workspace(
            a.path("id")?,
            a.query_bool("confirm"),
            a.header("X-Confirm-Name"),
        )),
        O::RestartWorkspace => Box::pin(t.restart_workspace(a.path("id")?, a.body()?)),
        O::PauseWorkspace => {
            Box::pin(t.pause_workspace(a.path("id")?, a.query_bool("cascade"), a.body()?))
        }
        O::ResumeWorkspace => {
            Box::pin(t.resume_workspace(a.path("id")?, a.query_bool("cascade"), a.body()?))
        }
        O::ListWorkspaceSecrets => Box::pin(t.list_workspace_secrets(a.path("id")?)),
        O::SetWorkspaceSecret => Box::pin(t.set_workspace_secret(a.path("id")?, a.body()?)),
        O::DeleteWorkspaceSecret => {
            Box::pin(t.delete_workspace_secret(a.path("id")?, a.path("key")?))
        }
        O::ListOrgSecrets => Box::pin(t.list_org_secrets()),
        O::SetOrgSecret => Box::pin(t.set_org_secret(a.body()?)),
        O::DeleteOrgSecret => Box::pin(t.delete_org_secret(a.path("key")?)),
        O::GetWorkspaceBudget => Box::pin(t.get_workspace_budget(a.path("id")?)),
        O::SetWorkspaceBudget => Box::pin(t.set_workspace_budget(a.path("id")?, a.body()?)),
        O::GetLlmBillingMode => Box::pin(t.get_llm_billing_mode(a.path("id")?)),
        O::SetLlmBillingMode => Box::pin(t.set_llm_billing_mode(a.path("id")?, a.body()?)),
        O::ListOrgTemplates => Box::pin(t.list_org_templates()),
        O::CreateOrgFromTemplate => Box::pin(t.create_org_from_template(a.body()?)),
        O::ListTemplates => Box::pin(t.list_templates()),
        O::ImportTemplate => Box::pin(t.import_template(a.body()?)),
        O::ListOrgTokens => Box::pin(t.list_org_tokens()),
        O::MintOrgToken => Box::pin(t.mint_org_token(a.body()?)),
        O::RevokeOrgToken => Box::pin(t.revoke_org_token(a.path("id")?)),
        O::MintWorkspaceToken => Box::pin(t.mint_workspace_token(a.path("id")?, a.body()?)),
        O::GetOrgPluginAllowlist => Box::pin(t.get_org_plugin_allowlist(a.path("id")?)),
        O::SetOrgPluginAllowlist => Box::pin(t.set_org_plugin_allowlist(a.path("id")?, a.body()?)),
        O::ExportBundle => Box::pin(t.export_bundle(a.path("id")?)),
        O::ImportBundle => Box::pin(t.import_bundle(a.body()?)),
        O::ListEvents => Box::pin(t.list_events()),
        O::ListWorkspaceEvents => Box::pin(t.list_workspace_events(a.path("workspaceId")?)),
        O::ListPendingApprovals => Box::pin(t.list_pending_approvals()),
        O::ListOrgs => Box::pin(c.list_orgs()),
        O::GetOrg => Box::pin(c.get_org(a.path("slug")?)),
    })
}
