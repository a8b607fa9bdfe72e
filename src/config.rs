//! Configuration: every setting declared once, as a clap argument with its flag, its
//! environment variable (the same variables as the TypeScript server, docs/decisions.md
//! "Requests" and "Control-plane tier"), its default, its value parser and its help.
//! The command line (src/main.rs) flattens these declarations into `serve`, `call` and
//! `tools`; [`Config::from_lookup`] and the other `from_lookup`s read the same
//! declarations from any lookup (tests pass a map). An empty or blank value counts as
//! unset. The README's configuration table is checked against them
//! (tests/it/readme.rs).

use crate::tools::table::Access;
use clap::builder::TypedValueParser;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::parser::ValueSource;
use clap::{Arg, Command, FromArgMatches};
use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The smallest bound `MOLECULE_MCP_MAX_RESULT_BYTES` accepts: room for any error's
/// fixed part.
pub const MIN_BOUND: usize = 4096;

/// A credential that never prints: `Debug` shows `[redacted]`, and there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The credential itself, for building a header; never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// `--help`'s words for `CP_ADMIN_API_TOKEN`: the tools the table routes to the control
/// plane.
fn cp_token_help() -> String {
    format!(
        "Control-plane admin bearer, for {}. The variable only: the flag is refused",
        crate::tools::control_plane_tools().join(" and ")
    )
}

/// The default tenant base URL when no variable names one.
pub const DEFAULT_TENANT_URL: &str = "http://localhost:8080";
/// The default control-plane base URL.
pub const DEFAULT_CP_URL: &str = "https://api.moleculesai.app";
/// The only registry this binary serves (`MOLECULE_MCP_MODE`).
pub const MODE: &str = "management";

/// A setting that may be unset: its parser reads an empty or blank value as `None`.
/// (Spelled apart from `Option` so that clap hands every value, an empty one included,
/// to the parser instead of treating the argument as optional.)
pub type Unset<T> = Option<T>;

/// A list setting's items (spelled apart from `Vec` so that clap reads the setting as
/// one comma-separated value, through its parser).
pub type Items = Vec<String>;

/// The most requests in flight that `MOLECULE_MCP_MAX_IN_FLIGHT` can ask for.
pub const MAX_IN_FLIGHT: usize = 4096;

/// The defaults of [`Limits`], shared by its declaration ([`LimitArgs`]) and its
/// `Default`.
mod defaults {
    pub const TIMEOUT_SECS: u64 = 30;
    pub const MAX_RESULT_BYTES: usize = 100_000;
    pub const MAX_IN_FLIGHT: usize = 16;
    pub const MAX_IN_FLIGHT_PER_TENANT: usize = 64;
}

/// Where the tenant is and who the caller is: the base URLs, credentials and org routing.
#[derive(Debug, Clone, clap::Args)]
pub struct TenantArgs {
    /// Tenant base URL (first non-empty of this, MOLECULE_URL, PLATFORM_URL); no
    /// `user:password@`.
    #[arg(long = "api-url", env = "MOLECULE_API_URL", value_name = "URL",
          default_value = "", hide_default_value = true, hide_env_values = true,
          value_parser = Parse::unset(base_url))]
    pub api_url: Unset<String>,
    /// Fallback for the tenant base URL.
    #[arg(long = "molecule-url", env = "MOLECULE_URL", value_name = "URL", hide = true,
          default_value = "", hide_default_value = true, hide_env_values = true,
          value_parser = Parse::unset(base_url))]
    pub molecule_url: Unset<String>,
    /// Fallback for the tenant base URL, after MOLECULE_URL.
    #[arg(long = "platform-url", env = "PLATFORM_URL", value_name = "URL", hide = true,
          default_value = DEFAULT_TENANT_URL, hide_env_values = true,
          value_parser = Parse::new(base_url))]
    pub platform_url: String,
    /// Org API Key, sent as `Authorization: Bearer` (tenant root). The variable only:
    /// the flag is refused, since it would show in the process list.
    #[arg(long = "org-api-key", env = "MOLECULE_ORG_API_KEY", value_name = "KEY",
          default_value = "", hide_default_value = true, hide_env_values = true,
          value_parser = Parse::credential(secret_header))]
    pub org_api_key: Unset<Secret>,
    /// Org id, sent as X-Molecule-Org-Id.
    #[arg(long = "org-id", env = "MOLECULE_ORG_ID", value_name = "ID",
          default_value = "", hide_default_value = true,
          value_parser = Parse::unset(header_text))]
    pub org_id: Unset<String>,
    /// Org slug, sent as X-Molecule-Org-Slug.
    #[arg(long = "org-slug", env = "MOLECULE_ORG_SLUG", value_name = "SLUG",
          default_value = "", hide_default_value = true,
          value_parser = Parse::unset(header_text))]
    pub org_slug: Unset<String>,
    /// Control-plane base URL (first non-empty of this and CP_API_URL).
    #[arg(long = "cp-url", env = "MOLECULE_CP_URL", value_name = "URL",
          default_value = "", hide_default_value = true, hide_env_values = true,
          value_parser = Parse::unset(base_url))]
    pub cp_url: Unset<String>,
    /// Fallback for the control-plane base URL.
    #[arg(long = "cp-api-url", env = "CP_API_URL", value_name = "URL", hide = true,
          default_value = DEFAULT_CP_URL, hide_env_values = true,
          value_parser = Parse::new(base_url))]
    pub cp_api_url: String,
    /// Control-plane admin bearer (its help names the tools that use it). The variable
    /// only: the flag is refused.
    #[arg(long = "cp-admin-api-token", env = "CP_ADMIN_API_TOKEN", value_name = "TOKEN",
          default_value = "", hide_default_value = true, hide_env_values = true,
          help = cp_token_help(), value_parser = Parse::credential(secret_header))]
    pub cp_token: Unset<Secret>,
    /// The registry served; any other than `management` stops at start-up.
    #[arg(long, env = "MOLECULE_MCP_MODE", value_name = "MODE", default_value = MODE,
          value_parser = Parse::new(mode))]
    pub mode: String,
}

/// Timeouts and size limits.
#[derive(Debug, Clone, clap::Args)]
pub struct LimitArgs {
    /// Whole-request timeout per attempt, in seconds.
    #[arg(long, env = "MOLECULE_MCP_TIMEOUT_SECS", value_name = "SECS",
          default_value_t = defaults::TIMEOUT_SECS, value_parser = whole_u64())]
    pub timeout_secs: u64,
    /// Largest result, as encoded on the wire (errors too); at least 4096.
    #[arg(long, env = "MOLECULE_MCP_MAX_RESULT_BYTES", value_name = "BYTES",
          default_value_t = defaults::MAX_RESULT_BYTES, value_parser = Parse::new(result_bound))]
    pub max_result_bytes: usize,
    /// Tenant/CP requests in flight at once per caller key (at most 4096).
    #[arg(long, env = "MOLECULE_MCP_MAX_IN_FLIGHT", value_name = "N",
          default_value_t = defaults::MAX_IN_FLIGHT, value_parser = in_flight())]
    pub max_in_flight: usize,
    /// Tenant/CP requests in flight at once per host, all callers together (at most 4096).
    #[arg(long, env = "MOLECULE_MCP_MAX_IN_FLIGHT_PER_TENANT", value_name = "N",
          default_value_t = defaults::MAX_IN_FLIGHT_PER_TENANT, value_parser = in_flight())]
    pub max_in_flight_per_tenant: usize,
}

/// Which tools are listed and callable.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SelectionArgs {
    /// List and allow only read tools; wins over every other selection.
    #[arg(long, env = "MOLECULE_MCP_READ_ONLY", value_name = "BOOL", num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value = "false",
          overrides_with = "read_only", value_parser = boolean_parser())]
    pub read_only: bool,
    /// Serve only these toolsets, comma-separated, any case.
    #[arg(long, env = "MOLECULE_MCP_TOOLSETS", value_name = "LIST",
          default_value = "", hide_default_value = true,
          value_parser = Parse::names(Names::Toolsets))]
    pub toolsets: Unset<BTreeSet<String>>,
    /// Serve only these tools, comma-separated, any case; united with --toolsets.
    #[arg(long, env = "MOLECULE_MCP_TOOLS", value_name = "LIST",
          default_value = "", hide_default_value = true,
          value_parser = Parse::names(Names::Tools))]
    pub tools: Unset<BTreeSet<String>>,
}

/// Dry run, the audit log and confirmation by a person (docs/safety.md).
#[derive(Debug, Clone, clap::Args)]
pub struct SafetyArgs {
    /// Validate and build every call that is not a read, and answer with the exact
    /// request it would send, sending nothing; see docs/safety.md.
    #[arg(long, env = "MOLECULE_MCP_DRY_RUN", value_name = "BOOL", num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value = "false",
          overrides_with = "dry_run", value_parser = boolean_parser())]
    pub dry_run: bool,
    /// Append a JSON line before and after every call that is not a read to this file;
    /// reopened on SIGHUP; see docs/safety.md.
    #[arg(long, env = "MOLECULE_MCP_AUDIT_LOG", value_name = "PATH",
          default_value = "", hide_default_value = true, value_parser = Parse::unset(file_path))]
    pub audit_log: Unset<PathBuf>,
    /// Which tools a person confirms first, through MCP elicitation: destructive,
    /// writes or off; see docs/safety.md.
    #[arg(long, env = "MOLECULE_MCP_CONFIRM", value_name = "LEVEL",
          default_value = "destructive", value_parser = Parse::new(confirm_level))]
    pub confirm: Confirm,
    /// Refuse those tools when the client cannot ask a person.
    #[arg(long, env = "MOLECULE_MCP_CONFIRM_REQUIRED", value_name = "BOOL", num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value = "false",
          overrides_with = "confirm_required", value_parser = boolean_parser())]
    pub confirm_required: bool,
}

/// The built-in sandbox.
#[derive(Debug, Clone, clap::Args)]
pub struct SandboxArgs {
    /// Run against a built-in sandbox tenant and control plane on 127.0.0.1: no key
    /// needed, nothing leaves the machine.
    #[arg(long, env = "MOLECULE_MCP_SANDBOX", value_name = "BOOL", num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value = "false",
          overrides_with = "sandbox", value_parser = boolean_parser())]
    pub sandbox: bool,
}

/// The key that seals confirmations asked over HTTP (src/sealed.rs).
#[derive(Debug, Clone, clap::Args)]
pub struct StateKeyArgs {
    /// Seals the request state of a confirmation asked of a 2026-07-28 client; at least
    /// 32 bytes; replicas sharing it accept each other's retries. The variable only:
    /// the flag is refused.
    #[arg(long, env = "MOLECULE_MCP_STATE_KEY", value_name = "KEY",
          default_value = "", hide_default_value = true, hide_env_values = true,
          value_parser = Parse::credential(state_key))]
    pub state_key: Unset<Secret>,
}

/// The rule of an address to listen at.
pub const LISTEN_RULE: &str =
    "must be a port (8080, on loopback), localhost:PORT or an address and port (0.0.0.0:8080)";
/// The rule of the metrics address.
const METRICS_RULE: &str =
    "must be a port (9464, on loopback), localhost:PORT or an address and port (0.0.0.0:9464)";
/// The rule of the tenant URL template.
pub const TEMPLATE_RULE: &str =
    "must be an http(s) URL containing {slug}, e.g. https://{slug}.tenant.example.com";
/// The browser origins allowed by default: loopback ones (a page on this machine).
const LOOPBACK_ORIGINS: &str = "http://localhost:*,http://127.0.0.1:*,http://[::1]:*";
/// The `Host` values allowed by default.
const LOOPBACK_HOSTS: &str = "localhost,127.0.0.1,::1";

/// The settings of the HTTP mode, declared once (README "Remote MCP"); only read when
/// serving HTTP, into src/remote.rs's `HttpOptions`.
#[derive(Debug, Clone, clap::Args)]
pub struct HttpArgs {
    /// Serve MCP Streamable HTTP at http://ADDR/mcp instead of stdio, e.g.
    /// 127.0.0.1:8080 (a bare port means loopback). Each caller sends its own
    /// Authorization: Bearer <Org API Key>; see README "Remote MCP".
    #[arg(long, env = "MOLECULE_MCP_HTTP", value_name = "ADDR", default_value = "",
          hide_default_value = true, value_parser = Parse::unset(listen))]
    pub http: Unset<SocketAddr>,
    /// With --http: serve Prometheus metrics at http://ADDR/metrics, on a listener of
    /// its own, e.g. 9464 (loopback) or 0.0.0.0:9464; see docs/operations.md.
    #[arg(long, env = "MOLECULE_MCP_METRICS", value_name = "ADDR", default_value = "", requires = "http",
          hide_default_value = true, value_parser = Parse::unset(metrics_address))]
    pub metrics: Unset<SocketAddr>,
    /// Each caller's tenant, `{slug}` filled from its X-Molecule-Org-Slug; unset:
    /// MOLECULE_API_URL for all.
    #[arg(long = "tenant-url-template", env = "MOLECULE_MCP_TENANT_URL_TEMPLATE",
          value_name = "URL", default_value = "", hide_default_value = true,
          hide_env_values = true, value_parser = Parse::unset(template))]
    pub tenant_template: Unset<String>,
    /// Browser origins allowed, comma-separated; any other Origin gets 403.
    #[arg(long, env = "MOLECULE_MCP_ALLOWED_ORIGINS", value_name = "LIST",
          default_value = LOOPBACK_ORIGINS, value_parser = Parse::new(comma_list).list_blank())]
    pub allowed_origins: Items,
    /// Host values accepted, comma-separated (set it behind a real hostname).
    #[arg(long, env = "MOLECULE_MCP_ALLOWED_HOSTS", value_name = "LIST",
          default_value = LOOPBACK_HOSTS, value_parser = Parse::new(comma_list).list_blank())]
    pub allowed_hosts: Items,
    /// The largest request body, in bytes.
    #[arg(long, env = "MOLECULE_MCP_MAX_BODY_BYTES", value_name = "BYTES",
          default_value_t = 4 * 1024 * 1024, value_parser = Parse::new(whole_usize))]
    pub max_body_bytes: usize,
    /// Requests in progress at once, all callers.
    #[arg(long, env = "MOLECULE_MCP_MAX_CONCURRENT", value_name = "N",
          default_value_t = 256, value_parser = Parse::new(whole_usize))]
    pub max_concurrent: usize,
    /// Requests in progress at once per key.
    #[arg(long, env = "MOLECULE_MCP_MAX_PER_CALLER", value_name = "N",
          default_value_t = 32, value_parser = Parse::new(whole_usize))]
    pub max_per_caller: usize,
    /// After SIGTERM, how long requests in progress may finish, in seconds.
    #[arg(long, env = "MOLECULE_MCP_SHUTDOWN_SECS", value_name = "SECS",
          default_value_t = 10, value_parser = whole_u64())]
    pub shutdown_secs: u64,
    /// A connection must deliver a whole request head within this many seconds of
    /// opening or of its previous response (so also the keep-alive idle timeout).
    #[arg(long, env = "MOLECULE_MCP_HEADER_TIMEOUT_SECS", value_name = "SECS",
          default_value_t = 30, value_parser = whole_u64())]
    pub header_timeout_secs: u64,
    /// The whole body must arrive within this many seconds of the head.
    #[arg(long, env = "MOLECULE_MCP_BODY_TIMEOUT_SECS", value_name = "SECS",
          default_value_t = 30, value_parser = whole_u64())]
    pub body_timeout_secs: u64,
    /// Open connections at once; at the cap the oldest idle one is closed to make room.
    #[arg(long, env = "MOLECULE_MCP_MAX_CONNECTIONS", value_name = "N",
          default_value_t = 1024, value_parser = Parse::new(whole_usize))]
    pub max_connections: usize,
}

/// Every setting of [`Config`].
#[derive(Debug, Clone, clap::Args)]
pub struct ConfigArgs {
    #[command(flatten)]
    pub tenant: TenantArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub selection: SelectionArgs,
}

/// Validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Tenant base URL, without a trailing `/`.
    pub tenant_url: String,
    /// `MOLECULE_ORG_API_KEY`: tenant root credential.
    pub org_api_key: Option<Secret>,
    /// `MOLECULE_ORG_ID` → `X-Molecule-Org-Id`.
    pub org_id: Option<String>,
    /// `MOLECULE_ORG_SLUG` → `X-Molecule-Org-Slug`.
    pub org_slug: Option<String>,
    /// Control-plane base URL, without a trailing `/`.
    pub cp_url: String,
    /// `CP_ADMIN_API_TOKEN`: control-plane admin bearer.
    pub cp_token: Option<Secret>,
    /// Timeouts, retries and size limits.
    pub limits: Limits,
    /// Which tools are listed and callable.
    pub selection: Selection,
}

/// Timeouts, retries and size limits (`MOLECULE_MCP_*`, declared in [`LimitArgs`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Whole-request timeout per attempt (`MOLECULE_MCP_TIMEOUT_SECS`).
    pub timeout: Duration,
    /// Largest result returned to the host (`MOLECULE_MCP_MAX_RESULT_BYTES`).
    pub max_result_bytes: usize,
    /// Tenant/CP requests in flight at once per caller key (`MOLECULE_MCP_MAX_IN_FLIGHT`;
    /// over stdio there is one caller).
    pub max_in_flight: usize,
    /// Tenant/CP requests in flight at once per host, all callers together
    /// (`MOLECULE_MCP_MAX_IN_FLIGHT_PER_TENANT`): one slow tenant can hold no more than
    /// this (docs/remote.md, "Fair upstream slots").
    pub max_in_flight_per_tenant: usize,
    /// Retries of a GET after 429/502/503/504 or a connection error (2; not a setting).
    pub max_retries: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_secs(defaults::TIMEOUT_SECS),
            max_result_bytes: defaults::MAX_RESULT_BYTES,
            max_in_flight: defaults::MAX_IN_FLIGHT,
            max_in_flight_per_tenant: defaults::MAX_IN_FLIGHT_PER_TENANT,
            max_retries: 2,
        }
    }
}

impl From<LimitArgs> for Limits {
    fn from(a: LimitArgs) -> Self {
        Limits {
            timeout: Duration::from_secs(a.timeout_secs),
            max_result_bytes: a.max_result_bytes,
            max_in_flight: a.max_in_flight,
            max_in_flight_per_tenant: a.max_in_flight_per_tenant,
            ..Limits::default()
        }
    }
}

/// Which tools are served: `--read-only` wins over `--toolsets` ∪ `--tools`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Only `Read` tools (`MOLECULE_MCP_READ_ONLY` / `--read-only`).
    pub read_only: bool,
    /// Toolsets by name (`MOLECULE_MCP_TOOLSETS` / `--toolsets`); `None` = all.
    pub toolsets: Option<BTreeSet<String>>,
    /// Tools by name (`MOLECULE_MCP_TOOLS` / `--tools`); `None` = all.
    pub tools: Option<BTreeSet<String>>,
}

impl From<SelectionArgs> for Selection {
    fn from(a: SelectionArgs) -> Self {
        Selection {
            read_only: a.read_only,
            toolsets: a.toolsets,
            tools: a.tools,
        }
    }
}

impl From<ConfigArgs> for Config {
    fn from(a: ConfigArgs) -> Self {
        let t = a.tenant;
        Config {
            tenant_url: t.api_url.or(t.molecule_url).unwrap_or(t.platform_url),
            org_api_key: t.org_api_key,
            org_id: t.org_id,
            org_slug: t.org_slug,
            cp_url: t.cp_url.unwrap_or(t.cp_api_url),
            cp_token: t.cp_token,
            limits: a.limits.into(),
            selection: a.selection.into(),
        }
    }
}

/// Why a setting cannot be used; raised at start-up, before serving. `var` is what the
/// user set: the variable, or the flag when the value came from the command line.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// `MOLECULE_MCP_MODE` asks for another registry.
    #[error(
        "{var}={value:?}: this binary serves the management registry only; \
         unset {var} or set it to `management`"
    )]
    UnsupportedMode {
        /// The variable or flag.
        var: String,
        /// Its value.
        value: String,
    },
    /// A value that becomes an HTTP header holds a character a header cannot carry.
    #[error(
        "{var} contains a control character (CR, LF or similar) and cannot be sent as an HTTP header"
    )]
    BadHeaderValue {
        /// The variable or flag (never its value: it may be a credential).
        var: String,
    },
    /// A numeric or boolean value does not parse.
    #[error("{var}={value:?}: {rule}")]
    BadValue {
        /// The variable or flag.
        var: String,
        /// Its value (`[redacted]` for a secret).
        value: String,
        /// What it must be.
        rule: &'static str,
    },
    /// A toolset or tool name that does not exist.
    #[error("{var}: unknown {kind} `{name}`; valid {kind}s: {valid}")]
    UnknownName {
        /// The variable or flag.
        var: String,
        /// `toolset` or `tool`.
        kind: &'static str,
        /// The unknown name.
        name: String,
        /// Every valid name, comma-separated.
        valid: String,
    },
    /// A base URL does not parse.
    #[error("{var}={value:?} is not an absolute http(s) URL")]
    BadUrl {
        /// The variable or flag.
        var: String,
        /// Its value, any `user:password@` part masked (docs/security.md).
        value: String,
    },
    /// A base URL carries a user name or password, which would be printed wherever the
    /// URL is (banner, "unreachable at" errors, logs).
    #[error(
        "{var} must not carry a user name or password (`user:password@`): URLs are printed \
         in logs and errors; the credentials go in MOLECULE_ORG_API_KEY and CP_ADMIN_API_TOKEN"
    )]
    UrlWithUserinfo {
        /// The variable or flag.
        var: String,
    },
    /// A setting refused by its parser, as said by [`ConfigError`]'s other variants (the
    /// text of the error the parser raised).
    #[error("{0}")]
    Setting(String),
}

impl Config {
    /// Reads configuration through `lookup` (tests pass a map): the declarations of
    /// [`ConfigArgs`], with each variable's value from `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        from_lookup::<ConfigArgs>(lookup).map(Config::from)
    }
}

/// The name of the command [`from_lookup`] parses: its values are variables' values,
/// so its errors name the variables.
const LOOKUP: &str = "environment";

/// `T`'s settings read through `lookup`: each argument with a variable gets that
/// variable's value, parsed by the argument's own parser; the others their defaults.
pub fn from_lookup<T: clap::Args + FromArgMatches>(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<T, ConfigError> {
    // Every argument is given (its default when `lookup` has no value), so that the
    // process's own environment, which clap would read for a missing one, never counts.
    let cmd = T::augment_args(Command::new(LOOKUP).no_binary_name(true));
    let mut argv = Vec::new();
    for arg in cmd.get_arguments() {
        let Some(long) = arg.get_long() else {
            continue;
        };
        let value = arg
            .get_env()
            .and_then(OsStr::to_str)
            .and_then(&lookup)
            .or_else(|| {
                let default = arg.get_default_values().first()?;
                default.to_str().map(str::to_string)
            });
        if let Some(value) = value {
            argv.push(format!("--{long}={value}"));
        }
    }
    let matches = cmd.try_get_matches_from(argv).map_err(setting_error)?;
    T::from_arg_matches(&matches).map_err(setting_error)
}

/// The message of a setting's error: the parser's own text, without clap's framing.
pub fn setting_error(e: clap::Error) -> ConfigError {
    match e.get(ContextKind::Custom) {
        Some(ContextValue::String(text)) => ConfigError::Setting(text.clone()),
        _ => ConfigError::Setting(e.to_string().trim().to_string()),
    }
}

/// What a parser found wrong with a value; the argument it was given for turns it into
/// a [`ConfigError`] naming what the user set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The value breaks `rule` (the value is echoed, trimmed).
    Rule(&'static str),
    /// The value, shown as `shown`, breaks `rule`.
    Shown(String, &'static str),
    /// A secret breaks `rule` (its value is never echoed).
    Secret(&'static str),
    /// A control character in a header value.
    Header,
    /// Not an absolute http(s) URL.
    Url,
    /// A URL with `user:password@`.
    Userinfo,
    /// Another registry than `management`.
    Mode,
    /// An unknown toolset or tool.
    Unknown(Names, String),
}

/// What the user set for `arg`: its variable, when the value came from there (or from a
/// [`from_lookup`]), else its flag.
fn shown(cmd: &Command, arg: Option<&Arg>, source: ValueSource) -> String {
    let Some(arg) = arg else {
        return "a setting".to_string();
    };
    let var = arg.get_env().map(|v| v.to_string_lossy().into_owned());
    match (source, var) {
        (ValueSource::EnvVariable, Some(var)) => var,
        (_, Some(var)) if cmd.get_name() == LOOKUP => var,
        _ => match arg.get_long() {
            Some(long) => format!("--{long}"),
            None => arg.get_id().to_string(),
        },
    }
}

impl Fault {
    /// The error for `value` of the setting named `var`.
    pub fn error(self, var: String, value: &str) -> ConfigError {
        match self {
            Fault::Rule(rule) => ConfigError::BadValue {
                var,
                value: value.trim().to_string(),
                rule,
            },
            Fault::Shown(value, rule) => ConfigError::BadValue { var, value, rule },
            Fault::Secret(rule) => ConfigError::BadValue {
                var,
                value: "[redacted]".into(),
                rule,
            },
            Fault::Header => ConfigError::BadHeaderValue { var },
            Fault::Url => ConfigError::BadUrl {
                var,
                value: masked_userinfo(value),
            },
            Fault::Userinfo => ConfigError::UrlWithUserinfo { var },
            Fault::Mode => ConfigError::UnsupportedMode {
                var,
                value: value.to_string(),
            },
            Fault::Unknown(names, name) => ConfigError::UnknownName {
                var,
                kind: names.kind(),
                name,
                valid: names.valid().join(", "),
            },
        }
    }
}

/// A clap error carrying `error`'s text, which src/main.rs prints as it is.
fn clap_error(error: &ConfigError) -> clap::Error {
    let mut e = clap::Error::raw(ErrorKind::ValueValidation, format!("{error}\n"));
    e.insert(ContextKind::Custom, ContextValue::String(error.to_string()));
    e
}

/// A value parser from a function of the value's text: an empty or blank value means
/// the argument's default (`new`) or unset (`unset`); a [`Fault`] becomes an error
/// naming the variable or flag the value came from.
#[derive(Clone, Copy)]
pub struct Parse<T, U = T> {
    parse: fn(&str) -> Result<T, Fault>,
    wrap: fn(Option<T>) -> Option<U>,
    blank: fn(&str) -> bool,
    /// Whether the value may come from the command line: not for a credential, which
    /// every local user can read there (`ps`, `/proc/<pid>/cmdline`).
    on_command_line: bool,
}

fn blank(text: &str) -> bool {
    text.trim().is_empty()
}

impl<T, U> Parse<T, U> {
    /// The same parser, with a list of no items (`" , "`) counting as blank.
    pub fn list_blank(self) -> Self {
        Parse {
            blank: |t| t.split(',').all(blank),
            ..self
        }
    }
}

impl<T> Parse<T, T> {
    /// A setting with a default: blank means the default.
    pub fn new(parse: fn(&str) -> Result<T, Fault>) -> Self {
        Parse {
            parse,
            wrap: |value| value,
            blank,
            on_command_line: true,
        }
    }
}

impl<T> Parse<T, Option<T>> {
    /// A setting that may be unset: blank means `None`.
    pub fn unset(parse: fn(&str) -> Result<T, Fault>) -> Self {
        Parse {
            parse,
            wrap: |value| Some(value),
            blank,
            on_command_line: true,
        }
    }

    /// A credential that may be unset: read from the environment only. Given as a
    /// flag, it is refused (without echoing it) before anything is served.
    pub fn credential(parse: fn(&str) -> Result<T, Fault>) -> Self {
        Parse {
            on_command_line: false,
            ..Parse::unset(parse)
        }
    }
}

impl Parse<BTreeSet<String>, Option<BTreeSet<String>>> {
    /// A list of toolset or tool names; blank means all.
    pub fn names(names: Names) -> Self {
        fn toolsets(v: &str) -> Result<BTreeSet<String>, Fault> {
            name_list(v, &toolset_names()).map_err(|n| Fault::Unknown(Names::Toolsets, n))
        }
        fn tools(v: &str) -> Result<BTreeSet<String>, Fault> {
            name_list(v, &tool_names()).map_err(|n| Fault::Unknown(Names::Tools, n))
        }
        Parse::unset(match names {
            Names::Toolsets => toolsets,
            Names::Tools => tools,
        })
    }
}

impl<T, U> TypedValueParser for Parse<T, U>
where
    T: Clone + Send + Sync + 'static,
    U: Clone + Send + Sync + 'static,
{
    type Value = U;

    fn parse_ref(&self, cmd: &Command, arg: Option<&Arg>, value: &OsStr) -> Result<U, clap::Error> {
        self.parse_ref_(cmd, arg, value, ValueSource::CommandLine)
    }

    fn parse_ref_(
        &self,
        cmd: &Command,
        arg: Option<&Arg>,
        value: &OsStr,
        source: ValueSource,
    ) -> Result<U, clap::Error> {
        let fail =
            |fault: Fault, text: &str| clap_error(&fault.error(shown(cmd, arg, source), text));
        let given = value.to_str().is_none_or(|text| !(self.blank)(text));
        // `from_lookup` hands its map to clap as arguments of a command of its own: those
        // never were on a process's command line.
        let from_argv = source == ValueSource::CommandLine && cmd.get_name() != LOOKUP;
        if !self.on_command_line && from_argv && given {
            return Err(fail(
                Fault::Secret(
                    "is a credential: set its environment variable instead (a flag shows in \
                     every local user's process list)",
                ),
                "",
            ));
        }
        let text = value
            .to_str()
            .ok_or_else(|| fail(Fault::Rule("must be UTF-8 text"), ""))?;
        let parsed = if (self.blank)(text) {
            match arg
                .and_then(|a| a.get_default_values().first())
                .and_then(|d| d.to_str())
            {
                Some(default) if !default.is_empty() => Some((self.parse)(default)),
                _ => None,
            }
        } else {
            Some((self.parse)(text))
        };
        let parsed = parsed.transpose().map_err(|fault| fail(fault, text))?;
        (self.wrap)(parsed).ok_or_else(|| fail(Fault::Rule("must be set"), text))
    }
}

/// Toolset or tool names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Names {
    /// Toolset names.
    Toolsets,
    /// Tool names.
    Tools,
}

impl Names {
    fn kind(self) -> &'static str {
        match self {
            Names::Toolsets => "toolset",
            Names::Tools => "tool",
        }
    }
    /// Every valid name, in table order.
    pub fn valid(self) -> Vec<&'static str> {
        match self {
            Names::Toolsets => toolset_names(),
            Names::Tools => tool_names(),
        }
    }
}

/// Every toolset's name, in table order.
pub fn toolset_names() -> Vec<&'static str> {
    crate::tools::table::Toolset::ALL
        .iter()
        .map(|t| t.name())
        .collect()
}

/// Every tool's name, in table order.
pub fn tool_names() -> Vec<&'static str> {
    crate::tools::table::TOOLS.iter().map(|t| t.name).collect()
}

/// The rule of every count and number of seconds.
pub const WHOLE_RULE: &str = "must be a whole number of at least 1";

/// A whole number of at least 1 (`clap::value_parser!(u64).range(1..)`), around white
/// space.
pub fn whole(value: &str) -> Result<u64, Fault> {
    let parser = clap::value_parser!(u64).range(1..);
    parser
        .parse_ref(&Command::new(LOOKUP), None, OsStr::new(value.trim()))
        .map_err(|_| Fault::Rule(WHOLE_RULE))
}

/// A [`whole`] number of seconds or requests.
pub fn whole_u64() -> Parse<u64> {
    Parse::new(whole)
}

/// A [`whole`] number that fits a `usize`.
pub fn whole_usize(value: &str) -> Result<usize, Fault> {
    whole(value).map(|n| usize::try_from(n).unwrap_or(usize::MAX))
}

/// A count of requests in flight: [`whole`], at most [`MAX_IN_FLIGHT`] (more is
/// clamped).
fn in_flight() -> Parse<usize> {
    Parse::new(|v| whole_usize(v).map(|n| n.min(MAX_IN_FLIGHT)))
}

/// `MOLECULE_MCP_MAX_RESULT_BYTES`: at least [`MIN_BOUND`], room for any error result.
fn result_bound(value: &str) -> Result<usize, Fault> {
    let bound = whole_usize(value)?;
    if bound < MIN_BOUND {
        return Err(Fault::Shown(
            bound.to_string(),
            "must be at least 4096 (room for any error result)",
        ));
    }
    Ok(bound)
}

/// Which tools ask a person first: `MOLECULE_MCP_CONFIRM` / `--confirm`, raised (never
/// lowered) per HTTP request by `X-MCP-Confirm`. Ordered: a later level covers more.
/// The asking is src/confirm.rs's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Confirm {
    /// Never ask.
    Off,
    /// The tools whose access is `Destructive` (the default).
    #[default]
    Destructive,
    /// Every tool that is not a read.
    Writes,
}

/// The rule [`Confirm::parse`] enforces, for errors.
pub const CONFIRM_RULE: &str = "must be destructive, writes or off";

impl Confirm {
    /// `destructive`, `writes` or `off`, in any case, around white space.
    pub fn parse(value: &str) -> Option<Confirm> {
        match value.trim().to_ascii_lowercase().as_str() {
            "destructive" => Some(Confirm::Destructive),
            "writes" => Some(Confirm::Writes),
            "off" => Some(Confirm::Off),
            _ => None,
        }
    }

    /// Whether a tool of `access` asks first at this level.
    pub fn covers(self, access: Access) -> bool {
        match self {
            Confirm::Off => false,
            Confirm::Destructive => access == Access::Destructive,
            Confirm::Writes => access != Access::Read,
        }
    }
}

fn confirm_level(value: &str) -> Result<Confirm, Fault> {
    Confirm::parse(value).ok_or(Fault::Rule(CONFIRM_RULE))
}

/// The rule of `MOLECULE_MCP_STATE_KEY`.
pub const STATE_KEY_RULE: &str = "must be at least 32 bytes (e.g. `openssl rand -hex 32`)";

fn state_key(value: &str) -> Result<Secret, Fault> {
    if rmcp::model::RequestStateCodec::try_new(value.as_bytes().to_vec()).is_err() {
        return Err(Fault::Secret(STATE_KEY_RULE));
    }
    Ok(Secret(value.to_string()))
}

/// The variables the tenant base URL is read from, first non-empty wins.
pub fn tenant_url_vars() -> Vec<String> {
    use clap::Args as _;
    TenantArgs::augment_args(Command::new(LOOKUP))
        .get_arguments()
        .filter(|a| ["api_url", "molecule_url", "platform_url"].contains(&a.get_id().as_str()))
        .filter_map(|a| a.get_env().map(|v| v.to_string_lossy().into_owned()))
        .collect()
}

/// Every setting: the groups the command line flattens into its subcommands, in one
/// command (the README's configuration table is checked against it).
pub fn settings_command() -> Command {
    use clap::Args as _;
    let cmd = Command::new("molecule-mcp");
    let cmd = ConfigArgs::augment_args(cmd);
    let cmd = SafetyArgs::augment_args(cmd);
    let cmd = SandboxArgs::augment_args(cmd);
    let cmd = StateKeyArgs::augment_args(cmd);
    HttpArgs::augment_args(cmd)
}

fn mode(value: &str) -> Result<String, Fault> {
    if value == MODE {
        Ok(value.to_string())
    } else {
        Err(Fault::Mode)
    }
}

/// A value sent as an HTTP header: no control character but tab.
fn header_text(value: &str) -> Result<String, Fault> {
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(Fault::Header);
    }
    Ok(value.to_string())
}

fn secret_header(value: &str) -> Result<Secret, Fault> {
    header_text(value).map(Secret)
}

/// The boolean words every switch accepts, setting or header alike: `1`/`true`/`yes`/`on`
/// and `0`/`false`/`no`/`off`, in any case, around white space; `None` for anything
/// else (an empty value included).
pub fn boolean(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// The rule [`boolean`] enforces, for errors.
pub const BOOLEAN_RULE: &str = "must be 1/true/yes/on or 0/false/no/off";

/// The value parser of every switch: [`boolean`]; blank is the default (off).
pub fn boolean_parser() -> Parse<bool> {
    Parse::new(|v| {
        boolean(v).ok_or_else(|| Fault::Shown(v.trim().to_ascii_lowercase(), BOOLEAN_RULE))
    })
}

/// A comma-separated list of names, each one of `valid` (in any case; empty items are
/// dropped); `Err` carries the first unknown name, lowercased.
pub fn name_list(list: &str, valid: &[&'static str]) -> Result<BTreeSet<String>, String> {
    let mut out = BTreeSet::new();
    // Every valid name is lowercase; `Workspaces` means `workspaces`.
    for name in list
        .split(',')
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| !n.is_empty())
    {
        if !valid.contains(&name.as_str()) {
            return Err(name);
        }
        out.insert(name);
    }
    Ok(out)
}

/// A comma-separated list, each item trimmed, empty items dropped.
pub fn comma_list(value: &str) -> Result<Vec<String>, Fault> {
    Ok(value
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect())
}

/// A path.
pub fn file_path(value: &str) -> Result<PathBuf, Fault> {
    Ok(PathBuf::from(value))
}

/// An absolute http(s) base URL without `user:password@`, its trailing `/` dropped.
fn base_url(value: &str) -> Result<String, Fault> {
    match reqwest::Url::parse(value) {
        Ok(url) if !url.username().is_empty() || url.password().is_some() => Err(Fault::Userinfo),
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {
            Ok(value.trim_end_matches('/').to_string())
        }
        _ => Err(Fault::Url),
    }
}

/// `value` with whatever stands between `://` and the last `@` before the next `/`
/// replaced by `***`: a URL too broken to parse may still carry a password.
pub(crate) fn masked_userinfo(value: &str) -> String {
    let Some(start) = value.find("://").map(|i| i + 3) else {
        return value.to_string();
    };
    let authority_end = value[start..].find('/').map_or(value.len(), |i| start + i);
    match value[start..authority_end].rfind('@') {
        Some(at) => format!("{}***{}", &value[..start], &value[start + at..]),
        None => value.to_string(),
    }
}

fn listen(value: &str) -> Result<SocketAddr, Fault> {
    listen_address(value).ok_or(Fault::Rule(LISTEN_RULE))
}

fn metrics_address(value: &str) -> Result<SocketAddr, Fault> {
    listen_address(value).ok_or(Fault::Rule(METRICS_RULE))
}

/// A tenant URL template: like the base URLs (docs/security.md), no password, which
/// would be printed; `{slug}` in an http(s) URL.
fn template(value: &str) -> Result<String, Fault> {
    if masked_userinfo(value) != value {
        return Err(Fault::Userinfo);
    }
    if !value.contains("{slug}") || fill(value, "acme").is_none() {
        return Err(Fault::Shown(value.to_string(), TEMPLATE_RULE));
    }
    Ok(value.to_string())
}

/// Where to listen: a bare port and `localhost:PORT` mean loopback; anything else is
/// an explicit address (binding beyond loopback is always spelled out).
fn listen_address(addr: &str) -> Option<SocketAddr> {
    let addr = addr.trim();
    if let Ok(port) = addr.parse::<u16>() {
        return Some(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    if let Some(port) = addr.strip_prefix("localhost:") {
        return port
            .parse::<u16>()
            .ok()
            .map(|p| SocketAddr::from(([127, 0, 0, 1], p)));
    }
    addr.parse().ok()
}

/// `template` with `{slug}` filled, if the result is an http(s) URL whose host is
/// exactly the text the template and the slug spell. Where the slug makes up the host,
/// that host must be a name: URL parsers read `0`, `2130706433`, `0x7f000001` or
/// `017700000001` as IPv4 addresses (docs/remote.md, "Where requests go"), and a caller's
/// bearer must never follow a slug to an address of its choosing. The template's check
/// here, and each HTTP caller's tenant (src/remote.rs).
pub(crate) fn fill(template: &str, slug: &str) -> Option<String> {
    let url = template.replace("{slug}", slug);
    let parsed = reqwest::Url::parse(&url).ok()?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return None;
    }
    let spelled = spelled_host(template)?;
    let expected = spelled.replace("{slug}", slug).to_ascii_lowercase();
    let host_ok = match parsed.host()? {
        url::Host::Domain(name) => name == expected,
        // An address is the operator's own choice only when no slug is part of it.
        url::Host::Ipv4(_) | url::Host::Ipv6(_) => {
            !spelled.contains("{slug}") && parsed.host_str() == Some(expected.as_str())
        }
    };
    host_ok.then(|| url.trim_end_matches('/').to_string())
}

/// The host of a URL as written: between `://` (and any `user@`) and the port, path,
/// query or fragment.
fn spelled_host(url: &str) -> Option<&str> {
    let rest = &url[url.find("://")? + 3..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    Some(match host.rfind(':') {
        Some(colon) if !host.ends_with(']') => &host[..colon],
        _ => host,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn tenant_url_precedence_skips_empty_values() {
        let c = config(&[
            ("MOLECULE_API_URL", ""),
            ("MOLECULE_URL", "http://a:1/"),
            ("PLATFORM_URL", "http://b"),
        ])
        .unwrap();
        assert_eq!(c.tenant_url, "http://a:1");
        assert_eq!(config(&[]).unwrap().tenant_url, DEFAULT_TENANT_URL);
        assert_eq!(
            config(&[("CP_API_URL", "https://cp.example")])
                .unwrap()
                .cp_url,
            "https://cp.example"
        );
        assert_eq!(config(&[]).unwrap().cp_url, DEFAULT_CP_URL);
    }

    #[test]
    fn a_newline_in_a_header_variable_is_a_startup_error_that_hides_the_value() {
        let err = config(&[("MOLECULE_ORG_API_KEY", "sk-secret\r\nX-Evil: 1")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            ConfigError::BadHeaderValue {
                var: "MOLECULE_ORG_API_KEY".into()
            }
            .to_string()
        );
        assert!(!err.to_string().contains("sk-secret"));
        assert!(config(&[("MOLECULE_ORG_ID", "org\n")]).is_err());
    }

    #[test]
    fn other_modes_are_refused_and_management_is_accepted() {
        let err = config(&[("MOLECULE_MCP_MODE", "legacy")])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("MOLECULE_MCP_MODE=\"legacy\"")
                && err.contains("serves the management registry only"),
            "{err}"
        );
        assert!(config(&[("MOLECULE_MCP_MODE", "management")]).is_ok());
    }

    #[test]
    fn secrets_never_print_in_debug() {
        let c = config(&[
            ("MOLECULE_ORG_API_KEY", "sk-live-123"),
            ("CP_ADMIN_API_TOKEN", "cp-456"),
        ])
        .unwrap();
        let dbg = format!("{c:?}");
        assert!(
            !dbg.contains("sk-live-123") && !dbg.contains("cp-456"),
            "{dbg}"
        );
        // Whoever reads the Debug output still sees that both are set.
        assert!(
            dbg.contains("org_api_key: Some([redacted])")
                && dbg.contains("cp_token: Some([redacted])"),
            "{dbg}"
        );
    }

    #[test]
    fn limits_and_selection_parse_and_refuse_bad_values() {
        let c = config(&[
            ("MOLECULE_MCP_TIMEOUT_SECS", "5"),
            ("MOLECULE_MCP_MAX_RESULT_BYTES", "5000"),
            ("MOLECULE_MCP_READ_ONLY", "true"),
            ("MOLECULE_MCP_TOOLSETS", "secrets, budget"),
            ("MOLECULE_MCP_TOOLS", "get_workspace"),
        ])
        .unwrap();
        assert_eq!(c.limits.timeout, Duration::from_secs(5));
        assert_eq!(c.limits.max_result_bytes, 5000);
        let limits = config(&[
            ("MOLECULE_MCP_MAX_IN_FLIGHT", "3"),
            ("MOLECULE_MCP_MAX_IN_FLIGHT_PER_TENANT", "7"),
        ])
        .unwrap()
        .limits;
        assert_eq!(
            (limits.max_in_flight, limits.max_in_flight_per_tenant),
            (3, 7)
        );
        assert_eq!(
            config(&[("MOLECULE_MCP_MAX_RESULT_BYTES", "4095")])
                .unwrap_err()
                .to_string(),
            "MOLECULE_MCP_MAX_RESULT_BYTES=\"4095\": must be at least 4096 (room for any error result)"
        );
        assert!(c.selection.read_only);
        assert_eq!(c.selection.toolsets.unwrap().len(), 2);
        assert_eq!(
            config(&[("MOLECULE_MCP_TIMEOUT_SECS", "0")])
                .unwrap_err()
                .to_string(),
            "MOLECULE_MCP_TIMEOUT_SECS=\"0\": must be a whole number of at least 1"
        );
        assert_eq!(
            config(&[("MOLECULE_MCP_READ_ONLY", "Maybe")])
                .unwrap_err()
                .to_string(),
            "MOLECULE_MCP_READ_ONLY=\"maybe\": must be 1/true/yes/on or 0/false/no/off"
        );
        let err = config(&[("MOLECULE_MCP_TOOLSETS", "workspaces,wallets")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unknown toolset `wallets`") && err.contains("workspaces, secrets"),
            "{err}"
        );
        let err = config(&[("MOLECULE_MCP_TOOLS", "chat_with_agent")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unknown tool `chat_with_agent`") && err.contains("list_workspaces"),
            "{err}"
        );
    }

    /// The same parser names what the user set: the flag for a value typed on the
    /// command line, the variable for one from the environment.
    #[test]
    fn an_error_names_the_flag_or_the_variable_the_value_came_from() {
        use clap::Args as _;
        let typed = |args: &[&str]| {
            let cmd = ConfigArgs::augment_args(Command::new("molecule-mcp"));
            let argv = std::iter::once("molecule-mcp").chain(args.iter().copied());
            setting_error(cmd.try_get_matches_from(argv).unwrap_err()).to_string()
        };
        let err = typed(&["--toolsets", "wallets"]);
        assert!(
            err.starts_with("--toolsets: unknown toolset `wallets`; valid toolsets: workspaces"),
            "{err}"
        );
        let err = typed(&["--tools", "chat"]);
        assert!(err.starts_with("--tools: unknown tool `chat`"), "{err}");
        let err = typed(&["--timeout-secs", "0"]);
        assert_eq!(
            err,
            "--timeout-secs=\"0\": must be a whole number of at least 1"
        );
        let err = typed(&["--read-only=maybe"]);
        assert_eq!(err, format!("--read-only=\"maybe\": {BOOLEAN_RULE}"));
        let err = config(&[("MOLECULE_MCP_TOOLSETS", "wallets")])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("MOLECULE_MCP_TOOLSETS: unknown toolset"),
            "{err}"
        );
    }

    /// An empty or blank value is unset: the default, or nothing.
    #[test]
    fn a_blank_value_is_unset() {
        let c = config(&[
            ("MOLECULE_API_URL", ""),
            ("PLATFORM_URL", " "),
            ("MOLECULE_MCP_TIMEOUT_SECS", ""),
            ("MOLECULE_MCP_READ_ONLY", ""),
            ("MOLECULE_MCP_TOOLSETS", ""),
            ("MOLECULE_ORG_API_KEY", ""),
        ])
        .unwrap();
        assert_eq!(c.tenant_url, DEFAULT_TENANT_URL);
        assert_eq!(c.limits, Limits::default());
        assert_eq!(c.selection, Selection::default());
        assert!(c.org_api_key.is_none());
        // A list that names nothing is not blank: it selects no toolset.
        let c = config(&[("MOLECULE_MCP_TOOLSETS", " , ")]).unwrap();
        assert_eq!(c.selection.toolsets, Some(BTreeSet::new()));
        // In-flight counts are clamped, not refused.
        let c = config(&[("MOLECULE_MCP_MAX_IN_FLIGHT", "100000")]).unwrap();
        assert_eq!(c.limits.max_in_flight, MAX_IN_FLIGHT);
    }

    /// `Limits::default` is what the declarations give when nothing is set.
    #[test]
    fn the_default_limits_are_the_declared_defaults() {
        assert_eq!(config(&[]).unwrap().limits, Limits::default());
        assert_eq!(Limits::default().timeout, Duration::from_secs(30));
        assert_eq!(Limits::default().max_result_bytes, 100_000);
    }

    #[test]
    fn a_relative_url_is_refused() {
        assert_eq!(
            config(&[("MOLECULE_API_URL", "localhost:8080")])
                .unwrap_err()
                .to_string(),
            "MOLECULE_API_URL=\"localhost:8080\" is not an absolute http(s) URL"
        );
    }

    /// A password in a base URL would be printed in the banner and in every
    /// "unreachable at" error: refused, and never echoed, even when the URL is broken.
    #[test]
    fn a_url_with_a_user_or_password_is_refused_without_echoing_it() {
        for url in [
            "https://admin:hunter22@tenant.example.com",
            "https://hunter22@tenant.example.com/",
            "http://:hunter22@127.0.0.1:8080",
        ] {
            let err = config(&[("MOLECULE_API_URL", url)]).unwrap_err();
            assert_eq!(
                err.to_string(),
                ConfigError::UrlWithUserinfo {
                    var: "MOLECULE_API_URL".into()
                }
                .to_string(),
                "{url}"
            );
            assert!(!err.to_string().contains("hunter22"), "{err}");
        }
        let err =
            config(&[("MOLECULE_CP_URL", "https://u:hunter22@cp example.com/x@y")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "MOLECULE_CP_URL=\"https://***@cp example.com/x@y\" is not an absolute http(s) URL"
        );
        assert_eq!(masked_userinfo("no scheme@host"), "no scheme@host");
        assert_eq!(masked_userinfo("https://host/a@b"), "https://host/a@b");
    }

    #[test]
    fn levels_cover_what_they_say_and_parse_strictly() {
        assert!(Confirm::Destructive.covers(Access::Destructive));
        assert!(!Confirm::Destructive.covers(Access::Replace));
        assert!(Confirm::Writes.covers(Access::Write));
        assert!(!Confirm::Writes.covers(Access::Read));
        assert!(!Confirm::Off.covers(Access::Destructive));
        assert_eq!(Confirm::parse(" Writes "), Some(Confirm::Writes));
        assert_eq!(Confirm::parse("all"), None);
        assert!(Confirm::Off < Confirm::Destructive && Confirm::Destructive < Confirm::Writes);
    }

    #[test]
    fn a_bare_port_or_localhost_listens_on_loopback() {
        let loopback = SocketAddr::from(([127, 0, 0, 1], 8080));
        assert_eq!(listen_address("8080"), Some(loopback));
        assert_eq!(listen_address("localhost:8080"), Some(loopback));
        assert_eq!(
            listen_address("0.0.0.0:9"),
            Some(SocketAddr::from(([0, 0, 0, 0], 9)))
        );
        assert_eq!(listen_address("example.com:80"), None);
        assert_eq!(listen_address(""), None);
    }
}
