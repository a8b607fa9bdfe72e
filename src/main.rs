//! `molecule-mcp`: wiring only. Parses the command line, sets up logging on stderr,
//! and hands over to the library. stdout belongs to the MCP protocol (or, for the
//! maintainer subcommands, to their JSON/Markdown output).

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use molecule_mcp::call::Engine;
use molecule_mcp::drift::FailOn;
use molecule_mcp::drift::render::ReportFormat;
use molecule_mcp::server::McpServer;
use molecule_mcp::startup;
use molecule_mcp::tools::doc;
use rmcp::ServiceExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// MCP server for the Molecule AI management API (stdio).
#[derive(Debug, Parser)]
#[command(
    name = "molecule-mcp",
    version,
    about,
    after_help = "Credentials come from the environment: MOLECULE_ORG_API_KEY (the Org API Key, tenant root), \
MOLECULE_ORG_ID or MOLECULE_ORG_SLUG (org routing), MOLECULE_API_URL (the tenant; default \
http://localhost:8080) and, for list_orgs/get_org, CP_ADMIN_API_TOKEN. No key? Try --sandbox.\n\
Every variable and flag: README.md, section Configuration."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Serving flags, also accepted before a subcommand that takes them.
    #[command(flatten)]
    serve: ServeArgs,
}

/// Which tools are listed and callable.
#[derive(Debug, Clone, Default, clap::Args)]
struct SelectionArgs {
    /// List and allow only read tools (also MOLECULE_MCP_READ_ONLY=1); wins over
    /// every other selection.
    #[arg(long)]
    read_only: bool,
    /// Serve only these toolsets, comma-separated, any case (also MOLECULE_MCP_TOOLSETS).
    #[arg(long, value_name = "LIST")]
    toolsets: Option<String>,
    /// Serve only these tools, comma-separated, any case; united with --toolsets (also
    /// MOLECULE_MCP_TOOLS).
    #[arg(long, value_name = "LIST")]
    tools: Option<String>,
}

/// Flags of the commands that talk to a tenant (serving and `call`).
#[derive(Debug, Clone, Default, clap::Args)]
struct ServeArgs {
    #[command(flatten)]
    selection: SelectionArgs,
    /// Run against a built-in sandbox tenant and control plane on 127.0.0.1 (also
    /// MOLECULE_MCP_SANDBOX=1): no key needed, nothing leaves the machine.
    #[arg(long)]
    sandbox: bool,
    /// Validate and build every call that is not a read, and answer with the exact
    /// request it would send, sending nothing (also MOLECULE_MCP_DRY_RUN=1); see
    /// docs/safety.md.
    #[arg(long)]
    dry_run: bool,
    /// Append a JSON line before and after every call that is not a read to this file
    /// (also MOLECULE_MCP_AUDIT_LOG); reopened on SIGHUP; see docs/safety.md.
    #[arg(long, value_name = "PATH")]
    audit_log: Option<PathBuf>,
    /// Which tools a person confirms first, through MCP elicitation: destructive (the
    /// default), writes or off (also MOLECULE_MCP_CONFIRM); see docs/safety.md.
    #[arg(long, value_name = "LEVEL")]
    confirm: Option<String>,
    /// Refuse those tools when the client cannot ask a person (also
    /// MOLECULE_MCP_CONFIRM_REQUIRED=1).
    #[arg(long)]
    confirm_required: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve MCP on stdin/stdout (the default), or over HTTP with --http.
    Serve {
        #[command(flatten)]
        serve: ServeArgs,
        /// Serve MCP Streamable HTTP at http://ADDR/mcp instead of stdio (also
        /// MOLECULE_MCP_HTTP), e.g. 127.0.0.1:8080. Each caller sends its own
        /// Authorization: Bearer <Org API Key>; see README "Remote MCP".
        #[arg(long, value_name = "ADDR")]
        http: Option<String>,
        /// With --http: serve Prometheus metrics at http://ADDR/metrics, on a listener
        /// of its own (also MOLECULE_MCP_METRICS), e.g. 9464 (loopback) or
        /// 0.0.0.0:9464; see docs/operations.md.
        #[arg(long, value_name = "ADDR", requires = "http")]
        metrics: Option<String>,
    },
    /// Print the tool table: names, schemas and annotations.
    Tools {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Json)]
        format: Format,
        #[command(flatten)]
        selection: SelectionArgs,
    },
    /// Report what a spec change means for this server (overrides, operations, tools).
    ///
    /// Exit 0 when nothing reaches --fail-on, 1 when something does, 2 on a usage or
    /// input error.
    Drift {
        /// Candidate management spec (default: the vendored spec, a self-check).
        #[arg(long)]
        spec: Option<PathBuf>,
        /// Candidate control-plane spec (default: the vendored one).
        #[arg(long)]
        cp_spec: Option<PathBuf>,
        /// Read overrides from this folder instead of the ones built in.
        #[arg(long)]
        overrides: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
        format: ReportFormat,
        /// What makes the command exit 1.
        #[arg(long, value_enum, default_value_t = FailOn::Conflict)]
        fail_on: FailOn,
        /// Write the report here instead of stdout.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Call one tool and print its result JSON; exit 1 on an error result.
    #[command(after_help = CALL_EXAMPLES)]
    Call {
        /// The tool name (`molecule-mcp tools --format markdown` lists them).
        tool: String,
        /// The arguments, as a JSON object.
        #[arg(long, default_value = "{}")]
        args: String,
        #[command(flatten)]
        serve: ServeArgs,
    },
}

/// `call --help`'s examples; the ids are the sandbox's fixed seed
/// (`molecule_mcp::sandbox::seed`, checked by a test).
const CALL_EXAMPLES: &str = "Examples (the sandbox seeds the same ids on every start):
  molecule-mcp call list_workspaces --sandbox
  molecule-mcp call get_workspace --args '{\"workspace_id\":\"22222222-2222-4222-8222-222222222222\"}' --sandbox
  molecule-mcp call pause_workspace --args '{\"workspace_id\":\"11111111-1111-4111-8111-111111111111\",\"cascade\":true}' --sandbox";

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Json,
    Markdown,
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(error) => {
            eprintln!(
                "molecule-mcp: {}",
                molecule_mcp::logging::error_chain(error.as_ref())
            );
            ExitCode::from(2)
        }
    }
}

/// Writes `text` to stdout. A closed pipe (`molecule-mcp tools | head -1`) is a normal
/// end, not an error.
fn emit(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e).context("writing to stdout"),
        _ => Ok(()),
    }
}

fn run() -> Result<ExitCode> {
    let cli = Cli::parse();
    let http_addr = match &cli.command {
        Some(Command::Serve {
            http: Some(addr), ..
        }) => Some(addr.clone()),
        Some(Command::Serve { http: None, .. }) | None => std::env::var("MOLECULE_MCP_HTTP")
            .ok()
            .filter(|v| !v.trim().is_empty()),
        Some(_) => None,
    };
    init_logging(http_addr.is_some());
    // A panic message could quote data; say only where it happened (stderr, never stdout).
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("molecule-mcp: internal panic at {at}");
    }));
    let top = cli.serve;
    let command = cli.command.unwrap_or(Command::Serve {
        http: None,
        metrics: None,
        serve: ServeArgs::default(),
    });
    // Flags given before the subcommand count as if given after it; they are refused
    // where they do not apply.
    let (serve, sandbox_allowed) = match &command {
        Command::Drift { .. } => {
            if top.sandbox
                || top.dry_run
                || top.audit_log.is_some()
                || top.confirm.is_some()
                || top.confirm_required
                || top.selection.read_only
                || top.selection.toolsets.is_some()
                || top.selection.tools.is_some()
            {
                anyhow::bail!(
                    "--sandbox, --read-only, --toolsets, --tools, --dry-run, --audit-log, \
                     --confirm and --confirm-required do not apply to `drift`"
                );
            }
            (ServeArgs::default(), false)
        }
        Command::Tools { selection, .. } => {
            if top.sandbox
                || top.dry_run
                || top.audit_log.is_some()
                || top.confirm.is_some()
                || top.confirm_required
            {
                anyhow::bail!(
                    "--sandbox, --dry-run, --audit-log, --confirm and --confirm-required do not \
                     apply to `tools` (it prints the table; nothing is called)"
                );
            }
            (
                ServeArgs {
                    selection: merge(&top.selection, selection),
                    ..ServeArgs::default()
                },
                false,
            )
        }
        Command::Serve { serve, .. } | Command::Call { serve, .. } => (
            ServeArgs {
                selection: merge(&top.selection, &serve.selection),
                sandbox: top.sandbox || serve.sandbox,
                dry_run: top.dry_run || serve.dry_run,
                audit_log: serve.audit_log.clone().or_else(|| top.audit_log.clone()),
                confirm: serve.confirm.clone().or_else(|| top.confirm.clone()),
                confirm_required: top.confirm_required || serve.confirm_required,
            },
            true,
        ),
    };
    if let Command::Drift {
        spec,
        cp_spec,
        overrides,
        format,
        fail_on,
        output,
    } = &command
    {
        return drift(
            spec.as_deref(),
            cp_spec.as_deref(),
            overrides.as_deref(),
            *format,
            *fail_on,
            output.as_deref(),
        );
    }
    let flags = startup::Flags {
        read_only: serve.selection.read_only,
        toolsets: serve.selection.toolsets.as_deref(),
        tools: serve.selection.tools.as_deref(),
    };
    let config = startup::config(flags, |k| std::env::var(k).ok())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let want_sandbox = sandbox_allowed
        && (serve.sandbox
            || molecule_mcp::config::flag(
                &|k: &str| std::env::var(k).ok(),
                "MOLECULE_MCP_SANDBOX",
            )?);
    // Kept alive for the whole run: dropping it stops the sandbox servers.
    let (_sandbox, config) = if want_sandbox {
        let sandbox = runtime
            .block_on(molecule_mcp::sandbox::Sandbox::start())
            .context("starting the sandbox")?;
        // The ids are for someone about to use a served sandbox; a one-shot `call`
        // prints its result only (the README lists the ids).
        if !matches!(command, Command::Call { .. }) {
            eprintln!(
                "molecule-mcp: sandbox tenant at {}, control plane at {}; nothing leaves this machine.\n\
             Fixed sandbox ids (the same on every start):\n{}",
                sandbox.tenant_url,
                sandbox.cp_url,
                molecule_mcp::sandbox::seed::banner()
            );
        }
        let config = sandbox.apply(config);
        (Some(sandbox), config)
    } else {
        (None, config)
    };
    // The flags win over their variables, as every flag does.
    let safety = molecule_mcp::safety::SafetySettings::from_lookup(|k| match k {
        "MOLECULE_MCP_DRY_RUN" if serve.dry_run => Some("1".into()),
        "MOLECULE_MCP_AUDIT_LOG" if serve.audit_log.is_some() => {
            serve.audit_log.as_ref().map(|p| p.display().to_string())
        }
        "MOLECULE_MCP_CONFIRM" if serve.confirm.is_some() => serve.confirm.clone(),
        "MOLECULE_MCP_CONFIRM_REQUIRED" if serve.confirm_required => Some("1".into()),
        _ => std::env::var(k).ok(),
    })?
    .open()?;
    let mut safety = safety;
    {
        // Seals the confirmation state of 2026-07-28 clients (docs/safety.md).
        let key = molecule_mcp::sealed::StateKey::from_lookup(|k| std::env::var(k).ok())?;
        if http_addr.is_some() && !key.is_shared() {
            eprintln!(
                "molecule-mcp: warning: MOLECULE_MCP_STATE_KEY is not set; confirmations over HTTP \
                 are sealed with a random key of this process, so the retry that answers one must \
                 reach this same replica"
            );
        }
        safety.state_key = Some(Arc::new(key));
    }
    let audit = safety.audit.clone();
    let engine = Arc::new(
        Engine::new(config.clone())
            .context("starting the engine")?
            .with_safety(safety),
    );
    if engine.safety().dry_run {
        eprintln!(
            "molecule-mcp: dry run: calls that are not reads are validated and built, answered \
             with the request they would send (DRY_RUN), and never sent"
        );
    }
    if let Some(audit) = audit {
        eprintln!(
            "molecule-mcp: audit log: {} (two lines per call that is not a read; SIGHUP reopens it)",
            audit.path().display()
        );
        runtime.spawn(reopen_on_hangup(audit));
    }
    startup::check_selection(&engine, &config)?;
    // The environment's credentials are kept out of every log line for the whole run
    // (src/logging.rs); HTTP callers' are held per request.
    let _environment_secrets = molecule_mcp::logging::hold(engine.caller().secrets());
    match command {
        Command::Serve { ref metrics, .. } if http_addr.is_some() => {
            let addr = http_addr.unwrap_or_default();
            // The flag wins over its variable, as every flag does.
            let options = molecule_mcp::remote::HttpOptions::from_lookup(&addr, |k| match k {
                "MOLECULE_MCP_METRICS" if metrics.is_some() => metrics.clone(),
                _ => std::env::var(k).ok(),
            })?;
            let remote = molecule_mcp::remote::Remote {
                sandbox: want_sandbox,
                options,
            };
            let tracing = runtime.block_on(traces(&engine))?;
            let served = runtime.block_on(molecule_mcp::http::serve(engine, remote));
            runtime.block_on(flush(tracing));
            served?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve { .. } => {
            use std::io::IsTerminal;
            eprint!(
                "{}",
                startup::notes(
                    &engine,
                    &config,
                    want_sandbox,
                    |k| std::env::var(k).ok(),
                    std::io::stdin().is_terminal(),
                )
            );
            let tracing = runtime.block_on(traces(&engine))?;
            let served = runtime.block_on(serve_stdio(engine));
            runtime.block_on(flush(tracing));
            served
        }
        Command::Tools { format, .. } => {
            let text = match format {
                Format::Json => doc::tools_json(engine.listed()),
                Format::Markdown => doc::tools_markdown(engine.listed()),
            };
            emit(&format!("{text}\n"))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Call { tool, args, .. } => runtime.block_on(call_once(&engine, &tool, &args)),
        // Handled above, before any configuration is read.
        Command::Drift { .. } => Ok(ExitCode::SUCCESS),
    }
}

/// Trace export, when the OpenTelemetry endpoint variables ask for it
/// (docs/operations.md); its HTTP client is built only then.
async fn traces(engine: &Engine) -> Result<Option<molecule_mcp::telemetry::Tracing>> {
    let lookup = |k: &str| std::env::var(k).ok();
    let wanted = [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ]
    .iter()
    .any(|k| lookup(k).is_some_and(|v| !v.trim().is_empty()));
    if !wanted {
        return Ok(None);
    }
    molecule_mcp::client::install_tls_provider();
    let client = molecule_mcp::client::http_client(engine.config().limits.timeout)
        .context("building the trace exporter's HTTP client")?;
    molecule_mcp::telemetry::init_traces(lookup, client).context("starting trace export")
}

/// Reopens the audit log on every SIGHUP (logrotate's `postrotate`).
async fn reopen_on_hangup(audit: Arc<molecule_mcp::audit::AuditLog>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            eprintln!("molecule-mcp: cannot listen for SIGHUP; the audit log will not be reopened");
            return;
        };
        while hangups.recv().await.is_some() {
            match audit.reopen() {
                Ok(()) => eprintln!("molecule-mcp: SIGHUP: audit log reopened"),
                Err(e) => eprintln!(
                    "molecule-mcp: SIGHUP: cannot reopen the audit log ({e}); calls that are not \
                     reads are refused until it can be"
                ),
            }
        }
    }
    #[cfg(not(unix))]
    let _ = audit;
}

/// Exports the spans still buffered (the SDK blocks while it does).
async fn flush(tracing: Option<molecule_mcp::telemetry::Tracing>) {
    if let Some(tracing) = tracing {
        let _ = tokio::task::spawn_blocking(move || tracing.shutdown()).await;
    }
}

/// `a` (before the subcommand) and `b` (after it) together; `b` wins where both are given.
fn merge(a: &SelectionArgs, b: &SelectionArgs) -> SelectionArgs {
    SelectionArgs {
        read_only: a.read_only || b.read_only,
        toolsets: b.toolsets.clone().or_else(|| a.toolsets.clone()),
        tools: b.tools.clone().or_else(|| a.tools.clone()),
    }
}

/// Logging to stderr: `RUST_LOG` (default `warn`), except that rmcp never logs below
/// `info`: at debug and trace it prints every message in full, tool arguments (secret
/// values) included.
/// Logging to stderr (see below); in HTTP mode the access log
/// (`molecule_mcp::access`) is on by default.
fn init_logging(http: bool) {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let default = if http {
        "warn,molecule_mcp::access=info"
    } else {
        "warn"
    };
    let env = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // A static per-target filter (unlike a closure) is decided once per call site, so
    // disabled rmcp spans and events cost nothing per message.
    let rmcp_cap = tracing_subscriber::filter::Targets::new()
        .with_target("rmcp", tracing::Level::INFO)
        .with_default(tracing::level_filters::LevelFilter::TRACE);
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(molecule_mcp::logging::LineWriter)
                .with_ansi(false)
                .with_filter(env)
                .with_filter(rmcp_cap),
        )
        .init();
}

fn drift(
    spec: Option<&Path>,
    cp_spec: Option<&Path>,
    overrides: Option<&Path>,
    format: ReportFormat,
    fail_on: FailOn,
    output: Option<&Path>,
) -> Result<ExitCode> {
    use molecule_mcp::drift::{self, render};
    let inputs = drift::load_inputs(spec, cp_spec, overrides)?;
    let report = drift::run(&inputs);
    let text = render::render(&report, format);
    match output {
        Some(path) => {
            std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?
        }
        None => emit(&text)?,
    }
    Ok(if report.fails(fail_on) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

async fn serve_stdio(engine: Arc<Engine>) -> Result<ExitCode> {
    tracing::info!("serving {} tools on stdio", engine.listed().count());
    engine.warm_up();
    // stdio_pipes reads and writes FIFOs on the IO reactor (tokio's stdin/stdout would
    // hand every read and write to a blocking thread); other streams fall back.
    let (stdin, stdout) = rmcp::transport::stdio_pipes();
    let transport = molecule_mcp::stdio::transport(stdin, stdout);
    let service = match McpServer::new(engine).serve(transport).await {
        Ok(service) => service,
        // stdin closed before `initialize`: a normal end, as after it.
        Err(rmcp::service::ServerInitializeError::ConnectionClosed(_)) => {
            return Ok(ExitCode::SUCCESS);
        }
        Err(e) => return Err(e).context("MCP initialization failed"),
    };
    service.waiting().await.context("MCP service failed")?;
    Ok(ExitCode::SUCCESS)
}

async fn call_once(engine: &Engine, tool: &str, args: &str) -> Result<ExitCode> {
    let entry = engine
        .catalog()
        .get(tool)
        .with_context(|| format!("unknown tool `{tool}`; `molecule-mcp tools` lists them"))?;
    let args: serde_json::Value = serde_json::from_str(args).context("--args is not valid JSON")?;
    let serde_json::Value::Object(args) = args else {
        anyhow::bail!("--args must be a JSON object");
    };
    // The same text an MCP host would get: the result, or the error envelope, bounded.
    let result = engine.respond(entry, args).await;
    for block in &result.content {
        if let Some(text) = block.as_text() {
            emit(&format!("{}\n", text.text))?;
        }
    }
    Ok(if result.is_error == Some(true) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
