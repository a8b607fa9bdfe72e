//! One tool call, start to finish: check the tool is selected (`call/select.rs`),
//! validate the arguments against the exact schema (`call/validate.rs`), sort them by
//! location for the operation the call goes to (`call/args.rs`), check the credential
//! (`call/auth.rs`), call the generated client, retrying what may be retried
//! (`call/retry.rs`), and turn the outcome into a JSON result (`call/outcome.rs`,
//! `call/present.rs`) or a [`ToolError`] — in that order, so a bad input or a missing
//! credential never sends a request. A call that is not a read is recorded in the
//! audit log (`call/record.rs`).

mod args;
mod auth;
mod diagnose;
mod outcome;
mod present;
mod record;
mod retry;
mod select;
mod validate;

pub use crate::result::Success;
pub use diagnose::OWN_TOKEN_FIELD;
pub use validate::validate;

use crate::client::{self, Caller};
use crate::config::{Config, Confirm, Selection};
use crate::confirm::{self, Confirmed};
use crate::error::ToolError;
use crate::limit::{Buckets, Slot, key_hash};
use crate::outbound::{self, Outbound};
use crate::redact::Redactor;
use crate::result;
use crate::safety::{CallContext, Channel, Safety};
use crate::telemetry;
use crate::tools::table::{Access, Toolset};
use crate::tools::{Catalog, Entry};
use crate::{Api, Operation};
use opentelemetry::trace::FutureExt as _;
use progenitor_client::{ByteStream, ResponseValue};
use rmcp::model::CallToolResult;
use serde_json::{Map, Value};
use std::future::Future;
use std::sync::Arc;

/// The configured HTTP client and the tool catalogue.
#[derive(Debug)]
pub struct Engine {
    catalog: Catalog,
    config: Config,
    /// The environment's caller (stdio and `call`); HTTP callers bring their own.
    caller: Arc<Caller>,
    /// Built on first use (or by [`Engine::warm_up`]) because loading the platform's
    /// TLS roots costs milliseconds that `initialize` and `tools/list` should not wait
    /// for. Shared by every caller: it holds no credential.
    http: tokio::sync::OnceCell<reqwest::Client>,
    /// Whether [`Engine::warm_up`] has started building the client.
    warming: std::sync::atomic::AtomicBool,
    /// Upstream requests in flight per caller key, then per host: no caller and no
    /// tenant can hold more than its share, so a slow tenant delays only its own
    /// callers (docs/remote.md, "Fair upstream slots").
    per_caller: Buckets,
    per_host: Buckets,
    /// What this run learnt about callers' own keys (src/call/diagnose.rs).
    own_keys: diagnose::OwnKeys,
    /// Dry run, confirmation and the audit log (src/safety.rs).
    safety: Safety,
}

/// Why the engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A tool row does not fit the spec.
    #[error(transparent)]
    Derive(#[from] crate::tools::derive::DeriveError),
}

/// The raw outcome of one HTTP attempt.
type AttemptResult = Result<ResponseValue<ByteStream>, progenitor_client::Error<()>>;

/// What a validated, routed call sends: its operation, that operation's HTTP method,
/// and the arguments sorted for the generated client.
struct Prepared<'e> {
    op: Operation,
    method: &'e str,
    args: args::SortedArgs,
}

impl Engine {
    /// Builds the catalogue.
    pub fn new(config: Config) -> Result<Self, EngineError> {
        Ok(Engine::with_catalog(config, Catalog::new()?))
    }

    /// The engine over a catalogue read elsewhere (the binary reads it on a thread of
    /// its own while it parses the configuration; docs/performance.md, "Start-up").
    pub fn with_catalog(config: Config, catalog: Catalog) -> Self {
        Engine {
            catalog,
            caller: Arc::new(Caller::from_config(&config)),
            http: tokio::sync::OnceCell::new(),
            warming: std::sync::atomic::AtomicBool::new(false),
            per_caller: Buckets::new(config.limits.max_in_flight),
            per_host: Buckets::new(config.limits.max_in_flight_per_tenant),
            own_keys: diagnose::OwnKeys::default(),
            safety: Safety::default(),
            config,
        }
    }

    /// The engine with the operator's dry-run and audit settings.
    pub fn with_safety(self, safety: Safety) -> Self {
        Engine { safety, ..self }
    }

    /// The dry-run and audit settings.
    pub fn safety(&self) -> &Safety {
        &self.safety
    }

    async fn http(&self) -> Result<&reqwest::Client, ToolError> {
        self.http
            // Cheap since the TLS roots are read at the first handshake (src/client.rs,
            // `PlatformRoots`): no blocking thread needed.
            .get_or_try_init(|| async {
                client::http_client(self.config.limits.timeout)
                    .map_err(|e| ToolError::Internal(e.to_string()))
            })
            .await
    }

    /// Builds the HTTP client in the background, so the first call does not wait. Only
    /// the first warm-up starts anything.
    pub fn warm_up(self: &Arc<Self>) {
        if self
            .warming
            .swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            return;
        }
        let engine = Arc::clone(self);
        tokio::spawn(async move {
            if let Err(e) = engine.http().await {
                tracing::error!("{}", e.envelope()["detail"]);
            }
        });
    }

    /// The configuration the engine was started with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The environment's caller (stdio, `call`, and the sandbox served over HTTP).
    pub fn caller(&self) -> &Arc<Caller> {
        &self.caller
    }

    /// The tools.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Whether `entry` is listed and callable; `Err` names the setting that disables it.
    pub fn enabled(&self, entry: &Entry) -> Result<(), ToolError> {
        self.enabled_for(entry, None)
    }

    /// [`Engine::enabled`], further narrowed by a caller's own selection (an HTTP
    /// caller's headers), which can only take tools away.
    pub fn enabled_for(&self, entry: &Entry, narrow: Option<&Selection>) -> Result<(), ToolError> {
        select::enabled(entry, &self.config.selection, narrow)
    }

    /// The tools this server lists, in table order.
    pub fn listed(&self) -> impl Iterator<Item = &Entry> {
        self.listed_for(None)
    }

    /// The tools listed to a caller with its own narrowing selection.
    pub fn listed_for<'a>(
        &'a self,
        narrow: Option<&'a Selection>,
    ) -> impl Iterator<Item = &'a Entry> + 'a {
        self.catalog
            .entries
            .iter()
            .filter(move |e| self.enabled_for(e, narrow).is_ok())
    }

    /// The result bound, `MOLECULE_MCP_MAX_RESULT_BYTES`.
    pub fn bound(&self) -> usize {
        self.config.limits.max_result_bytes
    }

    /// Calls the tool `entry` with `args` as the environment's caller (stdio, `call`).
    pub async fn call(
        &self,
        entry: &Entry,
        args: Map<String, Value>,
    ) -> Result<Success, ToolError> {
        self.call_as(entry, args, &self.caller.clone(), None).await
    }

    /// [`Engine::call`] as the MCP result a host receives: errors too are bounded by
    /// `MOLECULE_MCP_MAX_RESULT_BYTES` (src/result.rs).
    pub async fn respond(&self, entry: &Entry, args: Map<String, Value>) -> CallToolResult {
        let context = CallContext {
            transport: Channel::Cli,
            ..CallContext::default()
        };
        let outcome = self
            .call_in(entry, args, &self.caller.clone(), None, &context)
            .await;
        result::to_call_result(entry, outcome, self.bound())
    }

    /// Calls the tool `entry` with `args` as `caller`, narrowed by `narrow`. A panic
    /// anywhere in the call becomes an `INTERNAL_ERROR` result; the server keeps serving. Known secrets (the org key,
    /// the CP token, a secret value being set) are redacted from whatever comes back,
    /// before anything is cut (src/redact.rs). A success whose encoded result exceeds
    /// `MOLECULE_MCP_MAX_RESULT_BYTES` becomes `RESULT_TOO_LARGE`.
    pub async fn call_as(
        &self,
        entry: &Entry,
        args: Map<String, Value>,
        caller: &Arc<Caller>,
        narrow: Option<&Selection>,
    ) -> Result<Success, ToolError> {
        let context = CallContext {
            transport: if caller.remote {
                Channel::Http
            } else {
                Channel::Stdio
            },
            ..CallContext::default()
        };
        self.call_in(entry, args, caller, narrow, &context).await
    }

    /// [`Engine::call_as`] with the call's own context (src/safety.rs): where it came
    /// from, and what its request raised. A call that is not a read is recorded in the
    /// audit log, when there is one, whatever its outcome (src/audit.rs).
    pub async fn call_in(
        &self,
        entry: &Entry,
        args: Map<String, Value>,
        caller: &Arc<Caller>,
        narrow: Option<&Selection>,
        context: &CallContext,
    ) -> Result<Success, ToolError> {
        let redactor = redactor(entry, &args, caller);
        // The same secrets are kept out of every log line while the call runs.
        let _held = crate::logging::hold_redactor(&redactor);
        // Kept for what the server checks after a failure (src/call/diagnose.rs).
        let given = args.clone();
        let record = record::begin(
            self.safety.audit.as_ref(),
            entry,
            &args,
            caller,
            context,
            &redactor,
        );
        let outbound = Outbound::new(
            (self.safety.dry_run || context.dry_run) && entry.row.access != Access::Read,
            redactor.clone(),
            record.clone(),
        );
        let inner = self.call_inner(entry, args, caller, narrow, outbound, context);
        let outcome =
            contain_panics(entry.row.name, client::as_caller(caller.clone(), inner)).await;
        let outcome = self
            .finish_inner(entry, &given, caller, outcome, &redactor)
            .await;
        match record {
            Some(record) => record::finish(&record, outcome),
            None => outcome,
        }
    }

    /// The call's raw outcome presented (or diagnosed), redacted and bounded.
    async fn finish_inner(
        &self,
        entry: &Entry,
        given: &Map<String, Value>,
        caller: &Arc<Caller>,
        outcome: Result<(u16, Vec<u8>), ToolError>,
        redactor: &Redactor,
    ) -> Result<Success, ToolError> {
        let outcome =
            outcome.and_then(|(status, bytes)| present::present(entry, status, &bytes, redactor));
        let mut success = match outcome {
            Ok(success) => success,
            Err(e) => {
                let mut e = diagnose::diagnose(self, entry, given, caller, e).await;
                e.redact(redactor);
                return Err(e);
            }
        };
        diagnose::after_success(&self.own_keys, entry, given, &mut success, caller);
        let limit = self.config.limits.max_result_bytes;
        let size = result::encoded_len(&result::success(&success));
        if size > limit {
            return Err(ToolError::ResultTooLarge {
                size,
                at_least: false,
                limit,
                preview: success.text,
            });
        }
        Ok(success)
    }

    /// Selects, validates, routes, gates, confirms and sends; the status and body of a
    /// 2xx. The request leaves through `outbound` (dry run, audit intent;
    /// src/outbound.rs).
    async fn call_inner(
        &self,
        entry: &Entry,
        args: Map<String, Value>,
        caller: &Arc<Caller>,
        narrow: Option<&Selection>,
        outbound: Arc<Outbound>,
        context: &CallContext,
    ) -> Result<(u16, Vec<u8>), ToolError> {
        self.enabled_for(entry, narrow)?;
        let mut args = Value::Object(args);
        validate(entry, &args)?;
        let op = args::operation_for(entry, &args);
        let plan = entry
            .derived
            .plans
            .iter()
            .find(|p| p.operation == op)
            .ok_or_else(|| ToolError::Internal(format!("no plan for {}", op.operation_id())))?;
        let mut call_args = args::SortedArgs::build(entry, plan, &args, caller)?;
        auth::require_credentials(entry, op, caller)?;
        let http = self.http().await?;
        let (tenant, cp) = (
            client::tenant_client(caller, http),
            client::cp_client(caller, http),
        );
        if outbound.dry_run() {
            // Built by the generated client and stopped in its `pre` hook: nothing is
            // sent, and the plan is the request itself.
            let _ = outbound::scope(outbound.clone(), op.send(&tenant, &cp, &call_args)?).await;
            return Err(match outbound.plan() {
                Some(plan) => ToolError::DryRun(Box::new(plan)),
                None => ToolError::Internal("dry run: the request was not built".into()),
            });
        }
        // A person confirms before anything is sent (src/confirm.rs); the typed name of
        // `deprovision_workspace` becomes its `confirm_name`.
        let level = self
            .safety
            .confirm
            .max(context.confirm.unwrap_or(Confirm::Off));
        let confirmed = confirm::confirm(
            self,
            entry,
            &mut args,
            caller,
            confirm::Policy {
                level,
                required: self.safety.confirm_required,
                asker: context.asker.as_ref(),
            },
            outbound.redactor(),
        )
        .await;
        let how = match &confirmed {
            Ok(how) => *how,
            Err(ToolError::ConfirmationDeclined {
                cancelled: true, ..
            }) => Confirmed::Cancelled,
            Err(ToolError::ConfirmationDeclined { .. }) => Confirmed::Declined,
            Err(ToolError::InputRequired(_)) => Confirmed::Asked,
            Err(_) => Confirmed::NotAsked,
        };
        *context.confirmed.lock().unwrap_or_else(|e| e.into_inner()) = how;
        outbound.confirmed(how.name());
        if confirmed? == Confirmed::Accepted {
            call_args = args::SortedArgs::build(entry, plan, &args, caller)?;
        }
        let prepared = Prepared {
            op,
            method: &plan.method,
            args: call_args,
        };
        self.send(entry, &prepared, caller, (&tenant, &cp), &outbound)
            .await
    }

    /// Sends a prepared call, retrying what may be retried (src/call/retry.rs); the
    /// status and body of a 2xx. A permit covers one attempt, from sending to reading
    /// the whole body; it is released while waiting to retry.
    async fn send(
        &self,
        entry: &Entry,
        prepared: &Prepared<'_>,
        caller: &Arc<Caller>,
        (tenant, cp): (&client::tenant::Client, &client::cp::Client),
        outbound: &Arc<Outbound>,
    ) -> Result<(u16, Vec<u8>), ToolError> {
        let Prepared { op, method, args } = prepared;
        let op = *op;
        let mut retries = retry::Retries::new(method, self.config.limits.max_retries);
        let (outcome, permit) = loop {
            let attempts = retries.attempts();
            let permit = self.upstream_slot(caller, op.api()).await;
            tracing::debug!(
                tool = entry.row.name,
                operation = op.operation_id(),
                attempts,
                "calling"
            );
            let base = match op.api() {
                Api::Tenant => &caller.tenant_url,
                Api::ControlPlane => &caller.cp_url,
            };
            let attempt = telemetry::Attempt::start(method, op.route(), base);
            let outcome = outbound::scope(
                outbound.clone(),
                op.send(tenant, cp, args)?.with_context(attempt.context()),
            )
            .await;
            if let Some(why) = outbound.refused() {
                attempt.end(None, Some("audit"));
                return Err(ToolError::AuditUnavailable(why));
            }
            match &outcome {
                Ok(response) => attempt.end(Some(response.status().as_u16()), None),
                Err(e) => attempt.end(
                    e.status().map(|s| s.as_u16()),
                    match e {
                        progenitor_client::Error::CommunicationError(e) if e.is_timeout() => {
                            Some("timeout")
                        }
                        progenitor_client::Error::CommunicationError(_) => Some("connection"),
                        _ => None,
                    },
                ),
            }
            match retries.delay(&outcome) {
                Some(delay) => {
                    tracing::info!(operation = op.operation_id(), attempts, ?delay, "retrying");
                    drop((outcome, permit));
                    tokio::time::sleep(delay).await;
                    retries.again();
                }
                None => break (outcome, permit),
            }
        };
        let body = outcome::read(
            op,
            outcome,
            retries.attempts(),
            outbound.redactor().slack(),
            &self.config.limits,
            caller,
        )
        .await?;
        drop(permit);
        Ok(body)
    }

    /// A place for one upstream attempt of `caller` to `api`'s host: the caller's own
    /// share first (waiting there holds nothing of the host's), then the host's.
    async fn upstream_slot(&self, caller: &Caller, api: Api) -> (Slot<'_>, Slot<'_>) {
        let credential = match api {
            Api::Tenant => caller.org_api_key.as_ref(),
            Api::ControlPlane => caller.cp_token.as_ref(),
        };
        let host = match api {
            Api::Tenant => &caller.tenant_url,
            Api::ControlPlane => &caller.cp_url,
        };
        let own = self
            .per_caller
            .take(key_hash(credential.map_or("", |c| c.expose())))
            .await;
        (own, self.per_host.take(key_hash(host)).await)
    }
}

/// The reads a confirmation makes to show the consequence (src/confirm.rs).
impl confirm::Reads for Engine {
    fn tool(&self, name: &str) -> Option<&Entry> {
        self.catalog.get(name)
    }

    fn read_as<'a>(
        &'a self,
        entry: &'a Entry,
        args: Map<String, Value>,
        caller: &'a Arc<Caller>,
    ) -> futures::future::BoxFuture<'a, Result<Success, ToolError>> {
        Box::pin(self.call_as(entry, args, caller, None))
    }
}

/// The secrets of one call: the caller's org key and CP token, and the value a secrets
/// tool is setting.
fn redactor(entry: &Entry, args: &Map<String, Value>, caller: &Caller) -> Redactor {
    let value = match args.get("value") {
        Some(Value::String(v)) if entry.row.toolset == Toolset::Secrets => Some(v.as_str()),
        _ => None,
    };
    Redactor::new(caller.secrets().chain(value))
}

/// Runs one call, turning a panic inside it into an `INTERNAL_ERROR` result.
pub async fn contain_panics<T>(
    tool: &str,
    call: impl Future<Output = Result<T, ToolError>>,
) -> Result<T, ToolError> {
    use futures::FutureExt;
    std::panic::AssertUnwindSafe(call)
        .catch_unwind()
        .await
        .unwrap_or_else(|panic| {
            let message = crate::spec::text::panic_message(&*panic).unwrap_or_default();
            // The message goes into the (redacted) result only, never into a log line.
            tracing::error!(tool, "tool call panicked");
            Err(ToolError::Internal(format!(
                "the `{tool}` call failed unexpectedly: {message}"
            )))
        })
}
