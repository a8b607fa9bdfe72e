//! The MCP side: an rmcp `ServerHandler` over the tool catalogue. Transport is chosen
//! in `main`; this module never writes to stdout itself.

use crate::call::Engine;
use crate::client::Caller;
use crate::config::Selection;
use crate::error::ToolError;
use crate::redact::Redactor;
use crate::remote::{Narrowing, Raised, Remote};
use crate::result::{self, clipped};
use crate::sealed::StateKey;
use crate::telemetry;
use opentelemetry::trace::FutureExt as _;
use rmcp::model::{
    CacheScope, CallToolRequestParams, CallToolResponse, Implementation, InitializeResult,
    ListToolsResult, PaginatedRequestParams, ProtocolVersion, ServerCapabilities, ServerConfig,
    Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use std::sync::Arc;

/// How long a 2026-07-28 client may treat `tools/list` as fresh. The list changes only
/// when the server restarts with other flags (and, over HTTP, with the caller's
/// narrowing headers, which its own cache sees), so an hour bounds how long a client
/// keeps a list from before such a restart (docs/remote.md, "Cacheable tool lists").
pub const TOOLS_TTL_MS: u64 = 3_600_000;

/// The server: the engine plus the tool list it advertises.
#[derive(Debug, Clone)]
pub struct McpServer {
    engine: Arc<Engine>,
    tools: Arc<Vec<Tool>>,
    /// Set for HTTP callers: credentials and narrowing come from each request.
    remote: Option<Arc<Remote>>,
}

impl McpServer {
    /// Serves the tools the engine's selection allows (`--read-only`, `--toolsets`,
    /// `--tools`), in table order, as the environment's caller (stdio).
    pub fn new(engine: Arc<Engine>) -> Self {
        let tools = engine.listed().map(|e| e.tool.clone()).collect();
        McpServer {
            engine,
            tools: Arc::new(tools),
            remote: None,
        }
    }

    /// The same server for HTTP callers (src/http.rs): each request's own headers say
    /// who calls and may narrow the tools further.
    pub fn remote(self, remote: Arc<Remote>) -> Self {
        McpServer {
            remote: Some(remote),
            ..self
        }
    }

    /// The caller and narrowing of a request: the environment's for stdio (and for the
    /// sandbox served over HTTP), the request headers' for an HTTP caller.
    fn who(
        &self,
        context: &RequestContext<RoleServer>,
    ) -> Result<(Arc<Caller>, Option<Selection>), ErrorData> {
        if self.remote.is_none() {
            return Ok((self.engine.caller().clone(), None));
        }
        let parts = context
            .extensions
            .get::<axum::http::request::Parts>()
            .ok_or_else(|| ErrorData::internal_error("no HTTP request parts", None))?;
        // src/http/mod.rs's gate decided the caller and the narrowing (or refused the
        // request) before rmcp saw it.
        let caller = parts
            .extensions
            .get::<Arc<Caller>>()
            .cloned()
            .ok_or_else(|| ErrorData::invalid_request("missing or malformed credentials", None))?;
        let narrowing = parts
            .extensions
            .get::<Narrowing>()
            .ok_or_else(|| ErrorData::internal_error("no narrowing decided", None))?;
        Ok((caller, narrowing.0.clone()))
    }
}

impl McpServer {
    /// The server span and duration of one MCP request (docs/operations.md): its parent
    /// is the caller's trace context, from the HTTP headers or `params._meta`.
    fn operation(
        &self,
        context: &RequestContext<RoleServer>,
        method: &'static str,
        tool: Option<&str>,
        caller: &Caller,
    ) -> telemetry::Operation {
        let parts = context.extensions.get::<axum::http::request::Parts>();
        let parent = telemetry::parent(parts.map(|p| &p.headers), Some(&context.meta.0.0));
        // The client's own id: redacted and clipped, like every echo of its text.
        let mut id = context.id.to_string();
        if matches!(context.id, rmcp::model::NumberOrString::String(_)) {
            Redactor::new(caller.secrets()).text(&mut id);
        }
        // Per request: its `_meta` (2026-07-28), else over HTTP its
        // `MCP-Protocol-Version` header (rmcp's stateless peer info), else the handshake.
        let protocol = context.protocol_version().map(|v| v.to_string());
        let transport = if self.remote.is_some() {
            telemetry::Transport::Tcp
        } else {
            telemetry::Transport::Pipe
        };
        telemetry::Operation::start(
            &parent,
            method,
            tool,
            &clipped(&id, 64),
            protocol.as_deref(),
            transport,
        )
    }
}

impl McpServer {
    /// The call's own context (src/safety.rs): transport, JSON-RPC id, the caller's
    /// trace id, and what an HTTP request's headers raised.
    fn call_context(
        &self,
        context: &RequestContext<RoleServer>,
        caller: &Caller,
    ) -> crate::safety::CallContext {
        let parts = context.extensions.get::<axum::http::request::Parts>();
        let raised = parts
            .and_then(|p| p.extensions.get::<Raised>())
            .copied()
            .unwrap_or_default();
        let traceparent = parts
            .and_then(|p| p.headers.get("traceparent"))
            .and_then(|v| v.to_str().ok())
            .or_else(|| context.meta.0.0.get("traceparent").and_then(|v| v.as_str()));
        let mut id = context.id.to_string();
        Redactor::new(caller.secrets()).text(&mut id);
        crate::safety::CallContext {
            transport: if self.remote.is_some() {
                crate::safety::Channel::Http
            } else {
                crate::safety::Channel::Stdio
            },
            jsonrpc_id: Some(clipped(&id, 64)),
            trace_id: traceparent.and_then(crate::safety::trace_id),
            dry_run: raised.dry_run,
            confirm: raised.confirm,
            asker: self.asker(context),
            confirmed: Default::default(),
        }
    }

    /// How to ask the person behind a stdio client that declared the `elicitation`
    /// capability (form mode): a server-initiated `elicitation/create` through rmcp's
    /// peer. Over stateless HTTP there is no channel for one (docs/safety.md).
    fn asker(&self, context: &RequestContext<RoleServer>) -> Option<crate::confirm::Asker> {
        use crate::confirm::{Answer, Asker};
        use rmcp::model::{ElicitRequestParams, ElicitationAction};
        if self.remote.is_some() {
            return None;
        }
        let elicitation = context.peer.peer_info()?.capabilities.elicitation.clone()?;
        // `{}` (2025-06-18) means form mode; 2025-11-25 names the modes.
        if elicitation.form.is_none() && elicitation.url.is_some() {
            return None;
        }
        let peer = context.peer.clone();
        Some(Asker::new(move |message, schema| {
            let peer = peer.clone();
            Box::pin(async move {
                let answer = peer
                    .create_elicitation_with_timeout(
                        ElicitRequestParams::FormElicitationParams {
                            meta: None,
                            message,
                            requested_schema: schema,
                        },
                        Some(crate::confirm::ASK_TIMEOUT),
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(match answer.action {
                    ElicitationAction::Accept => Answer::Accept(
                        answer
                            .content
                            .and_then(|c| c.as_object().cloned())
                            .unwrap_or_default(),
                    ),
                    ElicitationAction::Decline => Answer::Decline,
                    // Cancel, and any action a later protocol adds: nothing is sent.
                    _ => Answer::Cancel,
                })
            })
        }))
    }
}

impl McpServer {
    /// The key to seal a confirmation's request state with, when this request's client
    /// can be asked that way: a client on protocol 2026-07-28 or later (which forbids
    /// server-initiated requests), over HTTP or stdio, that declares form elicitation in
    /// the request's own capabilities (docs/safety.md, "Over HTTP").
    fn sealing(&self, context: &RequestContext<RoleServer>) -> Option<Arc<StateKey>> {
        let key = self.engine.safety().state_key.clone()?;
        let version = context.protocol_version()?;
        if version.to_string().as_str() < "2026-07-28" {
            return None;
        }
        let elicitation = context.client_capabilities()?.elicitation?;
        if elicitation.form.is_none() && elicitation.url.is_some() {
            return None;
        }
        Some(key)
    }
}

/// The asker of a 2026-07-28 HTTP call: without a `requestState`, the question goes
/// back to the client (`Answer::Later`); with one, the state must open for this tool,
/// these arguments and this caller's key (src/sealed.rs) before the answer in
/// `inputResponses.confirm` counts.
fn retry_asker(
    key: Arc<StateKey>,
    request: &CallToolRequestParams,
    args: &rmcp::model::JsonObject,
    caller: &Caller,
) -> crate::confirm::Asker {
    use crate::confirm::{Answer, Asker};
    use rmcp::model::{ElicitResult, ElicitationAction};
    let answer = match &request.request_state {
        None => Answer::Later,
        Some(state) => {
            let holder = caller.org_api_key.as_ref().map_or("", |k| k.expose());
            match key.open(
                state,
                &request.name,
                args,
                holder,
                std::time::SystemTime::now(),
            ) {
                Err(why) => Answer::Refused(why.to_string()),
                Ok(()) => match request
                    .input_responses
                    .as_ref()
                    .and_then(|r| r.get(CONFIRM_INPUT))
                    .map(|v| serde_json::from_value::<ElicitResult>(v.clone()))
                {
                    Some(Ok(result)) => match result.action {
                        ElicitationAction::Accept => Answer::Accept(
                            result
                                .content
                                .and_then(|c| c.as_object().cloned())
                                .unwrap_or_default(),
                        ),
                        ElicitationAction::Decline => Answer::Decline,
                        _ => Answer::Cancel,
                    },
                    _ => Answer::Refused(format!(
                        "the retry carries no elicitation result under inputResponses.{CONFIRM_INPUT}"
                    )),
                },
            }
        }
    };
    Asker::new(move |_, _| {
        let answer = answer.clone();
        Box::pin(async move { Ok(answer) })
    })
}

/// The key of the confirmation in `inputRequests` / `inputResponses`.
const CONFIRM_INPUT: &str = "confirm";

/// The `InputRequiredResult` that asks a 2026-07-28 client to confirm, with the state
/// sealed for this tool, these arguments and this caller.
fn input_required(
    key: &StateKey,
    tool: &str,
    args: &rmcp::model::JsonObject,
    caller: &Caller,
    pending: &crate::error::Pending,
) -> Result<CallToolResponse, ErrorData> {
    use rmcp::model::{ElicitRequest, ElicitRequestParams, InputRequest, InputRequiredResult};
    let holder = caller.org_api_key.as_ref().map_or("", |k| k.expose());
    let state = key
        .seal(tool, args, holder, std::time::SystemTime::now())
        .map_err(|e| ErrorData::internal_error(format!("sealing the request state: {e}"), None))?;
    let request = ElicitRequest::new(ElicitRequestParams::FormElicitationParams {
        meta: None,
        message: pending.message.clone(),
        requested_schema: pending.schema.clone(),
    });
    let mut requests = rmcp::model::InputRequests::new();
    requests.insert(
        CONFIRM_INPUT.to_string(),
        InputRequest::Elicitation(request),
    );
    Ok(InputRequiredResult::new(Some(requests), Some(state)).into())
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        InitializeResult::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                "molecule-mcp",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(format!(
                "Management tools for a Molecule AI tenant. Every tool but {} acts with the Org \
                 API Key {}, which is tenant root: prefer read tools, and confirm with the user \
                 before destructive ones.",
                crate::tools::control_plane_tools().join(" and "),
                if self.remote.is_some() {
                    "your connection sends (Authorization header)"
                } else {
                    "(MOLECULE_ORG_API_KEY)"
                }
            ))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let (caller, narrow) = self.who(&context)?;
        let operation = self.operation(&context, "tools/list", None, &caller);
        let cacheable = context
            .protocol_version()
            .is_some_and(|v| v.as_str() >= ProtocolVersion::V_2026_07_28.as_str());
        let tools = match narrow {
            Some(narrow) => self
                .engine
                .listed_for(Some(&narrow))
                .map(|e| e.tool.clone())
                .collect(),
            None => self.tools.as_ref().clone(),
        };
        operation.end(None);
        // Over stdio the HTTP client is built once the first list is being answered, off
        // the path to it (the TLS roots wait for the first handshake: src/client.rs,
        // `PlatformRoots`); HTTP mode warms up at start.
        if self.remote.is_none() {
            self.engine.warm_up();
        }
        let result = ListToolsResult::with_all_items(tools);
        if !cacheable {
            return Ok(result);
        }
        // Over stdio (and the sandbox served over HTTP) every caller gets the same list;
        // an HTTP caller's headers may narrow it, so only that caller may keep it.
        let scope = if self.remote.is_some() {
            CacheScope::Private
        } else {
            CacheScope::Public
        };
        Ok(result.with_ttl_ms(TOOLS_TTL_MS).with_cache_scope(scope))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let (caller, narrow) = self.who(&context)?;
        let entry = self.engine.catalog().get(&request.name);
        let operation = self.operation(&context, "tools/call", entry.map(|e| e.row.name), &caller);
        let Some(entry) = entry else {
            operation.end(Some("-32602"));
            // The name is the caller's own text: redacted (a key pasted as a tool name)
            // before it is clipped, like every echo.
            let mut name = request.name.to_string();
            Redactor::new(caller.secrets()).text(&mut name);
            return Err(ErrorData::invalid_params(
                format!(
                    "unknown tool `{}`; tools/list names the tools this server serves",
                    clipped(&name, 100)
                ),
                None,
            ));
        };
        let args = request.arguments.clone().unwrap_or_default();
        let mut call_context = self.call_context(&context, &caller);
        let sealing = self.sealing(&context);
        if let Some(key) = &sealing {
            call_context.asker = Some(retry_asker(key.clone(), &request, &args, &caller));
        }
        let sealed_args = args.clone();
        // Dropping the call future on cancellation aborts its HTTP request. The call
        // runs in the request's span, so its upstream attempts are children of it.
        let call = self
            .engine
            .call_in(entry, args, &caller, narrow.as_ref(), &call_context)
            .with_context(operation.context());
        let outcome = tokio::select! {
            outcome = call => outcome,
            () = context.ct.cancelled() => {
                tracing::info!(tool = entry.row.name, "call cancelled by the client");
                Err(ToolError::Cancelled)
            }
        };
        operation.end(outcome.as_ref().err().map(|e| e.code()).as_deref());
        if let (Err(ToolError::InputRequired(pending)), Some(key)) = (&outcome, &sealing) {
            return input_required(key, entry.row.name, &sealed_args, &caller, pending);
        }
        let mut result = result::to_call_result(entry, outcome, self.engine.bound());
        let confirmed = *call_context
            .confirmed
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if confirmed == crate::confirm::Confirmed::Unavailable {
            result.content.push(rmcp::model::ContentBlock::text(
                crate::confirm::NOT_CONFIRMED,
            ));
        }
        Ok(result.into())
    }
}
