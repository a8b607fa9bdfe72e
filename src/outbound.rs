//! The last step before a request leaves: the generated clients' `pre` hook
//! (src/client.rs) hands every request, complete, to [`before_send`], and the `post`
//! hook its status to [`after_send`]. Inside a call's [`scope`] that is where a dry run
//! stops the request and keeps its plan (src/dry_run.rs), and where the audit log's
//! intent line is written and flushed, or the request refused when it cannot be
//! (src/audit.rs). Outside a scope (the reads a confirmation makes first) both pass.

use crate::audit::Record;
use crate::dry_run::Plan;
use crate::redact::Redactor;
use std::future::Future;
use std::sync::{Arc, Mutex};

/// The headers the HTTP client adds to every request that lacks them (src/client.rs sets
/// them on the client; a dry run's plan shows them too, src/dry_run.rs):
/// `Content-Type: application/json`, and reqwest's own `Accept: */*` said explicitly.
pub fn default_headers() -> reqwest::header::HeaderMap {
    use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue};
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(ACCEPT, HeaderValue::from_static("*/*"));
    headers
}

tokio::task_local! {
    static OUTBOUND: Arc<Outbound>;
}

/// What one call's request meets on its way out.
#[derive(Debug)]
pub struct Outbound {
    dry_run: bool,
    redactor: Redactor,
    audit: Option<Arc<Record>>,
    state: Mutex<Captured>,
}

#[derive(Debug, Default)]
struct Captured {
    plan: Option<Plan>,
    refused: Option<String>,
}

/// Why [`before_send`] stopped a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// A dry run: the plan is kept.
    DryRun,
    /// The audit log could not take the intent line.
    Audit(String),
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::DryRun => f.write_str("dry run: not sent"),
            Stop::Audit(why) => write!(f, "audit log unavailable: {why}"),
        }
    }
}

impl Outbound {
    /// The guard of one call: a dry run stops its request; `audit` records it.
    pub fn new(dry_run: bool, redactor: Redactor, audit: Option<Arc<Record>>) -> Arc<Self> {
        Arc::new(Outbound {
            dry_run,
            redactor,
            audit,
            state: Mutex::new(Captured::default()),
        })
    }

    /// The call's redactor.
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// Records how the call was confirmed, by its name in the audit log (`not_asked`,
    /// `accepted`, …).
    pub fn confirmed(&self, how: &'static str) {
        if let Some(audit) = &self.audit {
            audit.confirmed(how);
        }
    }

    /// Whether the call is a dry run.
    pub fn dry_run(&self) -> bool {
        self.dry_run
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Captured> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The plan a dry run kept.
    pub fn plan(&self) -> Option<Plan> {
        self.state().plan.clone()
    }

    /// Why the audit log refused the request, if it did.
    pub fn refused(&self) -> Option<String> {
        self.state().refused.clone()
    }

    fn check(&self, request: &reqwest::Request) -> Result<(), Stop> {
        if self.dry_run {
            let plan = Plan::of(request, &default_headers(), &self.redactor);
            if let Some(audit) = &self.audit {
                audit.sent(&plan.method, &plan.path);
            }
            self.state().plan = Some(plan);
            return Err(Stop::DryRun);
        }
        if let Some(audit) = &self.audit {
            // An argument in the path may be a secret (a key pasted as an id).
            let mut path = request.url().path().to_string();
            self.redactor.text(&mut path);
            audit.sent(request.method().as_str(), &path);
            if let Err(e) = audit.intent() {
                let why = e.to_string();
                self.state().refused = Some(why.clone());
                return Err(Stop::Audit(why));
            }
            audit.leaving();
        }
        Ok(())
    }
}

/// Runs `f` (the sending of one call's request) under `outbound`.
pub async fn scope<F: Future>(outbound: Arc<Outbound>, f: F) -> F::Output {
    OUTBOUND.scope(outbound, f).await
}

/// The clients' `pre` hook: `Err` stops the request before it is sent.
pub fn before_send(request: &reqwest::Request) -> Result<(), Stop> {
    OUTBOUND.try_with(|o| o.check(request)).unwrap_or(Ok(()))
}

/// The clients' `post` hook: the status the host answered with, if it answered.
pub fn after_send(status: Option<u16>) {
    let _ = OUTBOUND.try_with(|o| {
        if let (Some(audit), Some(status)) = (&o.audit, status) {
            audit.status(status);
        }
    });
}
