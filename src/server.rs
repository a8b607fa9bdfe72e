//! The MCP side: an rmcp `ServerHandler` over the tool catalogue. Transport is chosen
//! in `main`; this module never writes to stdout itself.

use crate::call::{Engine, Success};
use crate::error::ToolError;
use crate::tools::Entry;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    InitializeResult, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig,
    Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use std::sync::Arc;

/// The server: the engine plus the tool list it advertises.
#[derive(Debug, Clone)]
pub struct McpServer {
    engine: Arc<Engine>,
    tools: Arc<Vec<Tool>>,
}

impl McpServer {
    /// Serves the tools the engine's selection allows (`--read-only`, `--toolsets`,
    /// `--tools`), in table order.
    pub fn new(engine: Arc<Engine>) -> Self {
        let tools = engine.listed().map(|e| e.tool.clone()).collect();
        McpServer {
            engine,
            tools: Arc::new(tools),
        }
    }
}

/// Turns a call's outcome into the MCP result: the JSON pretty-printed as text, plus
/// `structuredContent` for objects; errors as the envelope with `isError: true`.
pub fn to_call_result(entry: &Entry, outcome: Result<Success, ToolError>) -> CallToolResult {
    match outcome {
        Ok(Success {
            value,
            is_body,
            text,
        }) => {
            let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
            if is_body && value.is_object() {
                result.structured_content = Some(value);
            }
            result
        }
        Err(error) => {
            let envelope = crate::hints::envelope(entry, &error);
            tracing::info!(code = %envelope["error"], "tool call failed");
            let text =
                serde_json::to_string_pretty(&envelope).unwrap_or_else(|_| envelope.to_string());
            CallToolResult::error(vec![ContentBlock::text(text)])
        }
    }
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        InitializeResult::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                "molecule-mcp",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(
                "Management tools for a Molecule AI tenant. Every tool but list_orgs and get_org acts \
                 with the Org API Key (MOLECULE_ORG_API_KEY), which is tenant root: prefer read \
                 tools, and confirm with the user before destructive ones.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.tools.as_ref().clone()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let Some(entry) = self.engine.catalog().get(&request.name) else {
            return Err(ErrorData::invalid_params(
                format!("unknown tool `{}`", request.name),
                None,
            ));
        };
        // Dropping the call future on cancellation aborts its HTTP request.
        let outcome = tokio::select! {
            outcome = self.engine.call(entry, request.arguments.unwrap_or_default()) => outcome,
            () = context.ct.cancelled() => {
                tracing::info!(tool = entry.row.name, "call cancelled by the client");
                Err(ToolError::Cancelled)
            }
        };
        Ok(to_call_result(entry, outcome).into())
    }
}
