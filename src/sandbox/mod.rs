//! The sandbox tenant: a stateful, in-process fake of a Molecule tenant and its
//! control plane, so that a newcomer without an Org API Key can run the server and
//! use every tool.
//!
//! Both fakes listen on 127.0.0.1 (ephemeral ports) and serve every operation of the
//! patched specs with the live handlers' behaviour as docs/contract.md records it:
//! status codes, error bodies, the tenant guard and the credential gates. State is
//! in memory, behind one lock, seeded so that every read tool answers something on
//! its first call. Request bodies are checked against the spec; replies are checked
//! too, and a reply that breaks the spec is logged.
//!
//! The pieces, in the order a request meets them: [`contract`] (spec → routes,
//! validators and each operation's success), [`routes`] (routes, tenant guard, gates,
//! the generic handler), [`message`] (the request and reply a handler sees), [`ops`]
//! (operation → gate and stateful handler) with one module per area of handlers
//! (`workspaces`, `settings`, `access`, `templates`), [`from_spec`] (the answer of
//! every other operation, built by [`sample`]), and [`state`] (tables, seeded with
//! [`seed`]'s ids).

mod access;
mod contract;
mod from_spec;
mod message;
mod ops;
mod routes;
mod sample;
mod settings;
mod state;
mod templates;
mod workspaces;

use crate::Api;
use crate::config::{Config, Limits, Secret, Selection};
use serde_json::json;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The slug of the sandbox's one control-plane org.
const ORG_SLUG: &str = seed::ORG_SLUG;

pub mod seed;

/// Whether the sandbox answers `op` from the spec alone (it has no stateful handler):
/// the documented success for any request that fits the spec.
pub fn answers_from_spec(op: crate::Operation) -> bool {
    ops::handler(op).is_none()
}

/// A request body that fits `op`'s exact request schema, built from the schema the way
/// a reply from the spec is; `None` when the operation takes no body, or when its
/// embedded spec does not parse (the error [`Sandbox::start`] reports).
pub fn sample_request(op: crate::Operation) -> Option<serde_json::Value> {
    let doc = crate::embedded::spec_for(op).ok()?;
    let meta = crate::spec::inventory::operations(doc)
        .into_iter()
        .find(|o| o.id == op.operation_id())?;
    let body = doc.pointer(&meta.pointer)?.get("requestBody")?;
    let schema =
        crate::spec::inventory::deref(doc, body).pointer("/content/application~1json/schema")?;
    Some(sample::sample(doc, schema, 0))
}

/// A running sandbox tenant and control plane. Dropping it stops both servers.
#[derive(Debug)]
pub struct Sandbox {
    /// Tenant base URL, e.g. `http://127.0.0.1:41234`.
    pub tenant_url: String,
    /// Control-plane base URL.
    pub cp_url: String,
    /// The org id the tenant guard expects in `X-Molecule-Org-Id` (also the id of
    /// the org root workspace, so the allowlist tools work with their default).
    pub org_id: String,
    key: Secret,
    cp_token: Secret,
    servers: Vec<Server>,
}

/// One serving task and the signal that shuts its connections down.
#[derive(Debug)]
struct Server {
    task: JoinHandle<()>,
    stop: Option<oneshot::Sender<()>>,
}

/// Why the sandbox could not start.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// No loopback port could be bound.
    #[error("cannot listen on 127.0.0.1: {0}")]
    Bind(#[from] std::io::Error),
    /// The embedded spec cannot be turned into routes and validators (a build bug).
    #[error("the embedded spec cannot drive the sandbox: {0}")]
    Spec(String),
}

impl Sandbox {
    /// Starts the tenant and the CP on 127.0.0.1 ephemeral ports (tokio must be running).
    pub async fn start() -> Result<Sandbox, SandboxError> {
        let contracts = contract::contracts().map_err(SandboxError::Spec)?;
        let tenant = TcpListener::bind("127.0.0.1:0").await?;
        let cp = TcpListener::bind("127.0.0.1:0").await?;
        let tenant_url = format!("http://{}", tenant.local_addr()?);
        let cp_url = format!("http://{}", cp.local_addr()?);

        let (mut state, key) = state::State::seeded();
        let cp_token = state.new_token("cpadm_");
        state.cp_token = cp_token.clone();
        state.tenant_url = tenant_url.clone();
        state.cp_orgs = vec![json!({
            "id": state.org_id, "slug": ORG_SLUG, "name": "Sandbox org", "status": "running",
            "tenant_url": tenant_url, "created_at": state::now_rfc3339(),
        })];
        let org_id = state.org_id.clone();
        let shared = Arc::new(Mutex::new(state));

        let servers = vec![
            serve(
                tenant,
                routes::router(Api::Tenant, shared.clone(), contracts),
            ),
            serve(cp, routes::router(Api::ControlPlane, shared, contracts)),
        ];
        tracing::info!(%tenant_url, %cp_url, %org_id, "sandbox tenant and control plane listening");
        Ok(Sandbox {
            tenant_url,
            cp_url,
            org_id,
            key: Secret::new(key),
            cp_token: Secret::new(cp_token),
            servers,
        })
    }

    /// A Config pointing the clients at the sandbox with its key, org id, CP token.
    pub fn config(&self) -> Config {
        self.apply(Config {
            tenant_url: String::new(),
            org_api_key: None,
            org_id: None,
            org_slug: None,
            cp_url: String::new(),
            cp_token: None,
            limits: Limits::default(),
            selection: Selection::default(),
        })
    }

    /// `base` (limits and tool selection as configured) pointed at the sandbox: its
    /// URLs, key, org id and slug, and CP token replace whatever `base` had.
    pub fn apply(&self, base: Config) -> Config {
        Config {
            tenant_url: self.tenant_url.clone(),
            org_api_key: Some(self.key.clone()),
            org_id: Some(self.org_id.clone()),
            org_slug: Some(ORG_SLUG.to_string()),
            cp_url: self.cp_url.clone(),
            cp_token: Some(self.cp_token.clone()),
            ..base
        }
    }
}

fn serve(listener: TcpListener, router: axum::Router) -> Server {
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stopped.await;
        };
        if let Err(e) = axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %e, "sandbox server stopped");
        }
    });
    Server {
        task,
        stop: Some(stop),
    }
}

impl Drop for Sandbox {
    /// Stops accepting at once and closes open connections (keep-alive ones too).
    fn drop(&mut self) {
        for server in &mut self.servers {
            drop(server.stop.take());
            server.task.abort();
        }
    }
}
