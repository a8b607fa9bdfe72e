//! Configuration from the environment: the same variables as the TypeScript server
//! (docs/decisions.md, "Requests" and "Control-plane tier"). Raw lookups are kept
//! apart from the validated [`Config`].

use std::collections::BTreeSet;
use std::fmt;
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

/// The default tenant base URL when no variable names one.
pub const DEFAULT_TENANT_URL: &str = "http://localhost:8080";
/// The default control-plane base URL.
pub const DEFAULT_CP_URL: &str = "https://api.moleculesai.app";

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

/// The most requests in flight that `MOLECULE_MCP_MAX_IN_FLIGHT` can ask for.
pub const MAX_IN_FLIGHT: usize = 4096;

/// Timeouts, retries and size limits (`MOLECULE_MCP_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Whole-request timeout per attempt (`MOLECULE_MCP_TIMEOUT_SECS`, default 30).
    pub timeout: Duration,
    /// Largest result returned to the host (`MOLECULE_MCP_MAX_RESULT_BYTES`, default 100,000).
    pub max_result_bytes: usize,
    /// Tenant/CP requests in flight at once per caller key (`MOLECULE_MCP_MAX_IN_FLIGHT`,
    /// default 16; over stdio there is one caller).
    pub max_in_flight: usize,
    /// Tenant/CP requests in flight at once per host, all callers together
    /// (`MOLECULE_MCP_MAX_IN_FLIGHT_PER_TENANT`, default 64): one slow tenant can hold
    /// no more than this (docs/remote.md, "Fair upstream slots").
    pub max_in_flight_per_tenant: usize,
    /// Retries of a GET after 429/502/503/504 or a connection error (default 2).
    pub max_retries: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_secs(30),
            max_result_bytes: 100_000,
            max_in_flight: 16,
            max_in_flight_per_tenant: 64,
            max_retries: 2,
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

/// Why the environment cannot be used; raised at start-up, before serving.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// `MOLECULE_MCP_MODE` asks for another registry.
    #[error(
        "MOLECULE_MCP_MODE={0:?}: this binary serves the management registry only; \
         unset MOLECULE_MCP_MODE or set it to `management`"
    )]
    UnsupportedMode(String),
    /// A value that becomes an HTTP header holds a character a header cannot carry.
    #[error(
        "{var} contains a control character (CR, LF or similar) and cannot be sent as an HTTP header"
    )]
    BadHeaderValue {
        /// The variable name (never its value: it may be a credential).
        var: &'static str,
    },
    /// A numeric or boolean variable does not parse.
    #[error("{var}={value:?}: {rule}")]
    BadValue {
        /// The variable name.
        var: &'static str,
        /// Its value.
        value: String,
        /// What it must be.
        rule: &'static str,
    },
    /// A toolset or tool name that does not exist.
    #[error("{var}: unknown {kind} `{name}`; valid {kind}s: {valid}")]
    UnknownName {
        /// The variable or flag.
        var: &'static str,
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
        /// The variable name.
        var: &'static str,
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
        /// The variable name.
        var: &'static str,
    },
}

impl Config {
    /// Reads configuration through `lookup` (tests pass a map); empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |k: &str| lookup(k).filter(|v| !v.is_empty());
        if let Some(mode) = get("MOLECULE_MCP_MODE")
            && mode != "management"
        {
            return Err(ConfigError::UnsupportedMode(mode));
        }
        let first = |vars: &[&'static str], default: &str| -> Result<String, ConfigError> {
            match vars.iter().find_map(|v| get(v).map(|val| (*v, val))) {
                Some((var, value)) => checked_url(var, value),
                None => Ok(default.to_string()),
            }
        };
        let header = |var: &'static str| -> Result<Option<String>, ConfigError> {
            match get(var) {
                Some(v) if v.chars().any(|c| c.is_control() && c != '\t') => {
                    Err(ConfigError::BadHeaderValue { var })
                }
                other => Ok(other),
            }
        };
        Ok(Config {
            tenant_url: first(
                &["MOLECULE_API_URL", "MOLECULE_URL", "PLATFORM_URL"],
                DEFAULT_TENANT_URL,
            )?,
            org_api_key: header("MOLECULE_ORG_API_KEY")?.map(Secret),
            org_id: header("MOLECULE_ORG_ID")?,
            org_slug: header("MOLECULE_ORG_SLUG")?,
            cp_url: first(&["MOLECULE_CP_URL", "CP_API_URL"], DEFAULT_CP_URL)?,
            cp_token: header("CP_ADMIN_API_TOKEN")?.map(Secret),
            limits: Limits {
                timeout: Duration::from_secs(number(&get, "MOLECULE_MCP_TIMEOUT_SECS", 30)?),
                max_result_bytes: result_bound(&get)?,
                max_in_flight: number(&get, "MOLECULE_MCP_MAX_IN_FLIGHT", 16)?.min(MAX_IN_FLIGHT),
                max_in_flight_per_tenant: number(
                    &get,
                    "MOLECULE_MCP_MAX_IN_FLIGHT_PER_TENANT",
                    64,
                )?
                .min(MAX_IN_FLIGHT),
                max_retries: 2,
            },
            selection: Selection {
                read_only: flag(&get, "MOLECULE_MCP_READ_ONLY")?,
                toolsets: names(&get, "MOLECULE_MCP_TOOLSETS", "toolset", &toolset_names())?,
                tools: names(&get, "MOLECULE_MCP_TOOLS", "tool", &tool_names())?,
            },
        })
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

/// `MOLECULE_MCP_MAX_RESULT_BYTES`: at least [`MIN_BOUND`], room for
/// any error result.
fn result_bound(get: &impl Fn(&str) -> Option<String>) -> Result<usize, ConfigError> {
    const VAR: &str = "MOLECULE_MCP_MAX_RESULT_BYTES";
    let bound = number(get, VAR, 100_000)?;
    if bound < MIN_BOUND {
        return Err(ConfigError::BadValue {
            var: VAR,
            value: bound.to_string(),
            rule: "must be at least 4096 (room for any error result)",
        });
    }
    Ok(bound)
}

fn number<T: std::str::FromStr + PartialOrd + From<u8>>(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: T,
) -> Result<T, ConfigError> {
    match get(var) {
        None => Ok(default),
        Some(value) => match value.trim().parse::<T>() {
            Ok(n) if n >= T::from(1) => Ok(n),
            _ => Err(ConfigError::BadValue {
                var,
                value,
                rule: "must be a whole number of at least 1",
            }),
        },
    }
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

/// A boolean variable ([`boolean`]; unset or empty is false); anything else is a
/// start-up error naming the variable.
pub fn flag(get: &impl Fn(&str) -> Option<String>, var: &'static str) -> Result<bool, ConfigError> {
    match get(var).filter(|v| !v.is_empty()) {
        None => Ok(false),
        Some(v) => boolean(&v).ok_or_else(|| ConfigError::BadValue {
            var,
            value: v.trim().to_ascii_lowercase(),
            rule: BOOLEAN_RULE,
        }),
    }
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

fn names(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    kind: &'static str,
    valid: &[&'static str],
) -> Result<Option<BTreeSet<String>>, ConfigError> {
    let Some(list) = get(var) else {
        return Ok(None);
    };
    name_list(&list, valid)
        .map(Some)
        .map_err(|name| ConfigError::UnknownName {
            var,
            kind,
            name,
            valid: valid.join(", "),
        })
}

fn checked_url(var: &'static str, value: String) -> Result<String, ConfigError> {
    match reqwest::Url::parse(&value) {
        Ok(url) if !url.username().is_empty() || url.password().is_some() => {
            Err(ConfigError::UrlWithUserinfo { var })
        }
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {
            Ok(value.trim_end_matches('/').to_string())
        }
        _ => Err(ConfigError::BadUrl {
            var,
            value: masked_userinfo(&value),
        }),
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
            err,
            ConfigError::BadHeaderValue {
                var: "MOLECULE_ORG_API_KEY"
            }
        );
        assert!(!err.to_string().contains("sk-secret"));
        assert!(config(&[("MOLECULE_ORG_ID", "org\n")]).is_err());
    }

    #[test]
    fn other_modes_are_refused_and_management_is_accepted() {
        assert!(matches!(
            config(&[("MOLECULE_MCP_MODE", "legacy")]),
            Err(ConfigError::UnsupportedMode(_))
        ));
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
        assert_eq!(
            config(&[("MOLECULE_MCP_MAX_RESULT_BYTES", "4095")])
                .unwrap_err()
                .to_string(),
            "MOLECULE_MCP_MAX_RESULT_BYTES=\"4095\": must be at least 4096 (room for any error result)"
        );
        assert!(c.selection.read_only);
        assert_eq!(c.selection.toolsets.unwrap().len(), 2);
        assert!(matches!(
            config(&[("MOLECULE_MCP_TIMEOUT_SECS", "0")]),
            Err(ConfigError::BadValue { .. })
        ));
        assert!(matches!(
            config(&[("MOLECULE_MCP_READ_ONLY", "maybe")]),
            Err(ConfigError::BadValue { .. })
        ));
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

    #[test]
    fn a_relative_url_is_refused() {
        assert!(matches!(
            config(&[("MOLECULE_API_URL", "localhost:8080")]),
            Err(ConfigError::BadUrl { .. })
        ));
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
            assert!(
                matches!(
                    err,
                    ConfigError::UrlWithUserinfo {
                        var: "MOLECULE_API_URL"
                    }
                ),
                "{url}: {err:?}"
            );
            assert!(!err.to_string().contains("hunter22"), "{err}");
        }
        let err =
            config(&[("MOLECULE_CP_URL", "https://u:hunter22@cp example.com/x@y")]).unwrap_err();
        assert!(matches!(err, ConfigError::BadUrl { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "MOLECULE_CP_URL=\"https://***@cp example.com/x@y\" is not an absolute http(s) URL"
        );
        assert_eq!(masked_userinfo("no scheme@host"), "no scheme@host");
        assert_eq!(masked_userinfo("https://host/a@b"), "https://host/a@b");
    }
}
