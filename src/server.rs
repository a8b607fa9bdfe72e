//! The MCP side: an rmcp `ServerHandler` over the tool catalogue. Transport is chosen
//! in `main`; this module never writes to stdout itself.

use crate::call::Engine;
use crate::error::ToolError;
use crate::result::{self, clipped};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, Implementation, InitializeResult, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
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
                format!(
                    "unknown tool `{}`; tools/list names the tools this server serves",
                    clipped(&request.name, 100)
                ),
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
        Ok(result::to_call_result(entry, outcome, self.engine.bound()).into())
    }
}
