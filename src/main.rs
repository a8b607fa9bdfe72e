//! `molecule-mcp`: wiring only. Parses the command line, sets up logging on stderr,
//! and hands over to the library. stdout belongs to the MCP protocol (or, for the
//! maintainer subcommands, to their JSON/Markdown output).

use anyhow::{Context, Result};
use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches};
use clap::{Parser, Subcommand, ValueEnum};
use molecule_mcp::call::Engine;
use molecule_mcp::config::{ConfigArgs, HttpArgs, SafetyArgs, SandboxArgs, StateKeyArgs};
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
    after_help = after_help()
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Serving flags, also accepted before a subcommand that takes them.
    #[command(flatten)]
    serve: ServeArgs,
}

/// The settings of the commands that call tools (serving and `call`): each declared
/// once in `molecule_mcp::config`, flag and variable together.
#[derive(Debug, Clone, clap::Args)]
struct ServeArgs {
    #[command(flatten)]
    config: ConfigArgs,
    #[command(flatten)]
    sandbox: SandboxArgs,
    #[command(flatten)]
    safety: SafetyArgs,
    #[command(flatten)]
    state: StateKeyArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve MCP on stdin/stdout (the default), or over HTTP with --http.
    Serve {
        #[command(flatten)]
        serve: ServeArgs,
        #[command(flatten)]
        http: HttpArgs,
    },
    /// Print the tool table: names, schemas and annotations.
    Tools {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Json)]
        format: Format,
        #[command(flatten)]
        config: ConfigArgs,
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

/// The top-level help's closing words: where the credentials come from, the control
/// plane's token named with the tools the table routes there.
fn after_help() -> String {
    format!(
        "Credentials come from the environment: MOLECULE_ORG_API_KEY (the Org API Key, tenant \
         root), MOLECULE_ORG_ID or MOLECULE_ORG_SLUG (org routing), MOLECULE_API_URL (the \
         tenant; default http://localhost:8080) and, for {}, CP_ADMIN_API_TOKEN. No key? Try \
         --sandbox.\nEvery variable and flag: README.md, section Configuration.",
        molecule_mcp::tools::control_plane_tools().join("/")
    )
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

/// Which variables a parse of the command line reads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Env {
    /// None: the command line alone (which command, and what was typed).
    None,
    /// Every variable but those of the HTTP mode other than `MOLECULE_MCP_HTTP`.
    NotHttp,
    /// Every variable.
    All,
}

/// The ids of the arguments `T` declares.
fn ids<T: clap::Args>() -> Vec<String> {
    T::augment_args(clap::Command::new("ids"))
        .get_arguments()
        .map(|a| a.get_id().to_string())
        .collect()
}

/// The command line's definition, reading the variables `env` says. A flag given twice
/// (once before the subcommand, once after it) counts once, the later one.
fn cli(env: Env) -> clap::Command {
    let http = ids::<HttpArgs>();
    let scoped = move |a: clap::Arg| {
        let id = a.get_id().as_str();
        let read = match env {
            Env::None => false,
            Env::NotHttp => id == "http" || !http.iter().any(|h| h == id),
            Env::All => true,
        };
        if read { a } else { a.env(None::<&str>) }
    };
    // The flags before a subcommand are moved after it before the variables are read
    // (`parse`): the top level reads none, unless all are read (help shows them, and
    // the HTTP mode's are those of `serve`).
    Cli::command()
        .mut_args(move |a| {
            if env == Env::All {
                a
            } else {
                a.env(None::<&str>)
            }
        })
        .mut_subcommands(move |c| c.args_override_self(true).mut_args(scoped.clone()))
}

/// A parse error: a setting's own (printed as the other start-up errors are) or clap's
/// (usage, help, version: printed by clap, which exits).
fn parse_error(e: clap::Error) -> anyhow::Error {
    match e.get(clap::error::ContextKind::Custom) {
        Some(clap::error::ContextValue::String(text)) => anyhow::anyhow!(text.clone()),
        _ => e.exit(),
    }
}

/// The command line parsed with the variables `env` says: the subcommand's arguments,
/// the flags given before it moved after it (they count as if given there), and no
/// subcommand meaning `serve`.
fn parse(argv: &[std::ffi::OsString], name: &str, env: Env) -> Result<Cli> {
    let at = (1..argv.len())
        .find(|&i| argv[i] == name && cli(Env::None).try_get_matches_from(&argv[..i]).is_ok());
    let mut moved = argv[..1].to_vec();
    moved.push(name.into());
    match at {
        Some(i) => {
            moved.extend_from_slice(&argv[1..i]);
            moved.extend_from_slice(&argv[i + 1..]);
        }
        None => moved.extend_from_slice(&argv[1..]),
    }
    let matches = cli(env).try_get_matches_from(&moved).map_err(parse_error)?;
    Cli::from_arg_matches(&matches).map_err(parse_error)
}

/// What the command line alone says, before any variable is read.
enum Named {
    /// A command that calls tools (`serve`, `tools`, `call`), by its name.
    Command(&'static str),
    /// `drift` ran (it reads no configuration), with its exit code.
    Done(ExitCode),
}

/// Which command `argv` names, having refused flags typed before a subcommand they do
/// not apply to; `drift` runs here. No arguments at all, which is how hosts start a
/// server, names `serve` without a parse (the parse would find nothing typed).
fn named(argv: &[std::ffi::OsString]) -> Result<Named> {
    if argv.len() <= 1 {
        return Ok(Named::Command("serve"));
    }
    // The command line alone first: which command, and which flags were typed before it.
    let typed = match cli(Env::None).try_get_matches_from(argv) {
        Ok(matches) => matches,
        // Help shows each setting's variable.
        Err(e) if !e.use_stderr() => cli(Env::All).get_matches_from(argv),
        Err(e) => return Err(parse_error(e)),
    };
    let cli_typed = Cli::from_arg_matches(&typed).map_err(parse_error)?;
    let before: Vec<&str> = typed
        .ids()
        .map(|id| id.as_str())
        .filter(|id| typed.value_source(id) == Some(ValueSource::CommandLine))
        .collect();
    let flags = |of: &[String]| -> Vec<String> {
        let cmd = Cli::command();
        before
            .iter()
            .filter(|id| of.iter().any(|o| o == *id))
            .filter_map(|id| cmd.get_arguments().find(|a| a.get_id() == *id))
            .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
            .collect()
    };
    if let Some(Command::Drift {
        spec,
        cp_spec,
        overrides,
        format,
        fail_on,
        output,
    }) = &cli_typed.command
    {
        let given = flags(&ids::<ServeArgs>());
        if !given.is_empty() {
            anyhow::bail!(
                "the serving flags ({}) do not apply to `drift`",
                given.join(", ")
            );
        }
        // Nothing else is read: no variable, no configuration.
        init_logging(false);
        set_panic_hook();
        return drift(
            spec.as_deref(),
            cp_spec.as_deref(),
            overrides.as_deref(),
            *format,
            *fail_on,
            output.as_deref(),
        )
        .map(Named::Done);
    }
    if let Some(Command::Tools { .. }) = &cli_typed.command {
        let callers = [
            ids::<SandboxArgs>(),
            ids::<SafetyArgs>(),
            ids::<StateKeyArgs>(),
        ]
        .concat();
        let given = flags(&callers);
        if !given.is_empty() {
            anyhow::bail!(
                "the flags of calls ({}) do not apply to `tools` (it prints the table; nothing is \
                 called)",
                given.join(", ")
            );
        }
    }
    Ok(Named::Command(match &cli_typed.command {
        Some(Command::Tools { .. }) => "tools",
        Some(Command::Call { .. }) => "call",
        _ => "serve",
    }))
}

fn run() -> Result<ExitCode> {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let name = match named(&argv)? {
        Named::Command(name) => name,
        Named::Done(code) => return Ok(code),
    };
    // The tool catalogue (about 0.5 ms of JSON) is read on a thread of its own while
    // the configuration is parsed and checked (docs/performance.md, "Start-up").
    let catalog = std::thread::spawn(molecule_mcp::tools::Catalog::new);
    // The HTTP mode's settings are read (and checked) only when serving HTTP.
    let mut parsed = parse(&argv, name, Env::NotHttp)?;
    if let Some(Command::Serve { http, .. }) = &parsed.command
        && http.http.is_some()
    {
        parsed = parse(&argv, name, Env::All)?;
    }
    let Some(command) = parsed.command else {
        anyhow::bail!("no command");
    };
    let http = match &command {
        Command::Serve { http, .. } if http.http.is_some() => Some(http.clone()),
        _ => None,
    };
    init_logging(http.is_some());
    set_panic_hook();
    let env = |k: &str| std::env::var(k).ok();
    let (config, serve) = match &command {
        Command::Serve { serve, .. } | Command::Call { serve, .. } => {
            (serve.config.clone(), Some(serve.clone()))
        }
        Command::Tools { config, .. } => (config.clone(), None),
        Command::Drift { .. } => anyhow::bail!("`drift` reads no configuration"),
    };
    let config = molecule_mcp::config::Config::from(config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let want_sandbox = serve.as_ref().is_some_and(|s| s.sandbox.sandbox);
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
    // `tools` calls nothing, but reads the safety settings as the serving commands do.
    let (settings, key) = match &serve {
        Some(serve) => (
            molecule_mcp::safety::SafetySettings::from(serve.safety.clone()),
            molecule_mcp::sealed::StateKey::from_args(serve.state.clone())?,
        ),
        None => (
            molecule_mcp::safety::SafetySettings::from_lookup(env)?,
            molecule_mcp::sealed::StateKey::from_lookup(env)?,
        ),
    };
    let mut safety = settings.open()?;
    // Seals the confirmation state of 2026-07-28 clients (docs/safety.md).
    if http.is_some() && !key.is_shared() {
        eprintln!(
            "molecule-mcp: warning: MOLECULE_MCP_STATE_KEY is not set; confirmations over HTTP \
             are sealed with a random key of this process, so the retry that answers one must \
             reach this same replica"
        );
    }
    safety.state_key = Some(Arc::new(key));
    let audit = safety.audit.clone();
    let engine = Arc::new(
        Engine::with_catalog(
            config.clone(),
            catalog
                .join()
                .map_err(|panic| {
                    anyhow::anyhow!(
                        "it panicked: {}",
                        molecule_mcp::spec::text::panic_message(&*panic).unwrap_or_default()
                    )
                })
                .context("reading the tool catalogue")?
                .context("starting the engine")?,
        )
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
        Command::Serve { .. } if let Some(http) = http => {
            let options = molecule_mcp::remote::HttpOptions::from_args(http)?;
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
                    env,
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

/// A panic message could quote data; say only where it happened (stderr, never stdout).
fn set_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("molecule-mcp: internal panic at {at}");
    }));
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
    // The HTTP client is warmed up by the first `tools/list` (src/server.rs).
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
