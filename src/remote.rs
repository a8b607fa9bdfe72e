//! Who an HTTP caller is (docs/remote.md): the operator's settings of the remote mode,
//! and the caller and tool narrowing read from each request's own headers. Used by the
//! MCP handler (src/server.rs) and the HTTP front (src/http.rs); it knows neither.

use crate::call::Engine;
use crate::client::Caller;
use crate::config::{ConfigError, Secret, Selection, masked_userinfo};
use axum::http::{HeaderMap, header};
use std::net::SocketAddr;
use std::time::Duration;

/// The header that carries a caller's control-plane admin token.
pub const CP_TOKEN_HEADER: &str = "x-molecule-cp-token";

/// Operator settings of the HTTP mode (`MOLECULE_MCP_*`, README "Remote MCP").
#[derive(Debug, Clone, PartialEq)]
pub struct HttpOptions {
    /// Where to listen.
    pub addr: SocketAddr,
    /// `MOLECULE_MCP_TENANT_URL_TEMPLATE`: a tenant base URL with `{slug}`, filled from
    /// each caller's validated `X-Molecule-Org-Slug`; `None`: `MOLECULE_API_URL` for all.
    pub tenant_template: Option<String>,
    /// `MOLECULE_MCP_ALLOWED_ORIGINS`: browser origins allowed; by default only
    /// loopback origins (a page on this machine), so a DNS-rebinding page is refused.
    pub allowed_origins: Vec<String>,
    /// `MOLECULE_MCP_ALLOWED_HOSTS`: `Host` values allowed; loopback by default.
    pub allowed_hosts: Vec<String>,
    /// `MOLECULE_MCP_MAX_BODY_BYTES`: the largest request body (default 4 MiB).
    pub max_body_bytes: usize,
    /// `MOLECULE_MCP_MAX_CONCURRENT`: requests in progress at once, all callers
    /// (default 256).
    pub max_concurrent: usize,
    /// `MOLECULE_MCP_MAX_PER_CALLER`: requests in progress at once per key (default 32).
    pub max_per_caller: usize,
    /// `MOLECULE_MCP_SHUTDOWN_SECS`: how long in-flight requests may finish after
    /// SIGTERM (default 10).
    pub shutdown_grace: Duration,
}

impl HttpOptions {
    /// Reads the HTTP settings for listening at `addr`.
    pub fn from_lookup(
        addr: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let get = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
        let addr = listen_address(addr).ok_or_else(|| ConfigError::BadValue {
            var: "MOLECULE_MCP_HTTP",
            value: addr.to_string(),
            rule: "must be a port (8080, on loopback), localhost:PORT or an address and port (0.0.0.0:8080)",
        })?;
        let list = |k: &str| -> Vec<String> {
            get(k)
                .map(|v| {
                    v.split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default()
        };
        let number = |var: &'static str, default: usize| -> Result<usize, ConfigError> {
            match get(var) {
                None => Ok(default),
                Some(v) => match v.trim().parse::<usize>() {
                    Ok(n) if n >= 1 => Ok(n),
                    _ => Err(ConfigError::BadValue {
                        var,
                        value: v,
                        rule: "must be a whole number of at least 1",
                    }),
                },
            }
        };
        let tenant_template = match get("MOLECULE_MCP_TENANT_URL_TEMPLATE") {
            // Like the base URLs (docs/security.md): a password would be printed.
            Some(t) if masked_userinfo(&t) != t => {
                return Err(ConfigError::UrlWithUserinfo {
                    var: "MOLECULE_MCP_TENANT_URL_TEMPLATE",
                });
            }
            Some(t) if !t.contains("{slug}") || fill(&t, "acme").is_none() => {
                return Err(ConfigError::BadValue {
                    var: "MOLECULE_MCP_TENANT_URL_TEMPLATE",
                    value: t,
                    rule: "must be an http(s) URL containing {slug}, e.g. https://{slug}.tenant.example.com",
                });
            }
            other => other,
        };
        let mut allowed_origins = list("MOLECULE_MCP_ALLOWED_ORIGINS");
        if allowed_origins.is_empty() {
            allowed_origins = vec![
                "http://localhost:*".into(),
                "http://127.0.0.1:*".into(),
                "http://[::1]:*".into(),
            ];
        }
        let mut allowed_hosts = list("MOLECULE_MCP_ALLOWED_HOSTS");
        if allowed_hosts.is_empty() {
            allowed_hosts = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
        }
        Ok(HttpOptions {
            addr,
            tenant_template,
            allowed_origins,
            allowed_hosts,
            max_body_bytes: number("MOLECULE_MCP_MAX_BODY_BYTES", 4 * 1024 * 1024)?,
            max_concurrent: number("MOLECULE_MCP_MAX_CONCURRENT", 256)?,
            max_per_caller: number("MOLECULE_MCP_MAX_PER_CALLER", 32)?,
            shutdown_grace: Duration::from_secs(
                number("MOLECULE_MCP_SHUTDOWN_SECS", 10)?
                    .try_into()
                    .unwrap_or(10),
            ),
        })
    }
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

/// `template` with `{slug}` filled, if the result is an http(s) URL.
fn fill(template: &str, slug: &str) -> Option<String> {
    let url = template.replace("{slug}", slug);
    let parsed = reqwest::Url::parse(&url).ok()?;
    (matches!(parsed.scheme(), "http" | "https") && parsed.host_str().is_some())
        .then(|| url.trim_end_matches('/').to_string())
}

/// An org slug as a DNS label: lowercase letters, digits and inner hyphens, at most 63.
fn valid_slug(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// An org id: letters, digits and `.`, `_`, `:`, `-`, at most 128 (a UUID fits).
fn valid_org_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"._:-".contains(&c))
}

/// How the server treats HTTP callers.
#[derive(Debug)]
pub struct Remote {
    /// Serve the sandbox tenant to every caller (demos): no caller credential needed.
    pub sandbox: bool,
    /// The operator's settings.
    pub options: HttpOptions,
}

/// Why a request's credentials cannot be used (answered before rmcp sees it).
#[derive(Debug, PartialEq)]
pub enum Refusal {
    /// No `Authorization: Bearer …`: 401.
    NoKey,
    /// A header of the wrong form: 400, naming it.
    BadHeader(&'static str, &'static str),
}

impl Remote {
    /// The caller of one HTTP request, from its own headers and the operator's URLs.
    pub fn caller(&self, headers: &HeaderMap, engine: &Engine) -> Result<Caller, Refusal> {
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let key = text(header::AUTHORIZATION.as_str())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or(Refusal::NoKey)?;
        let org_id = text("x-molecule-org-id").map(str::to_string);
        if org_id.as_deref().is_some_and(|id| !valid_org_id(id)) {
            return Err(Refusal::BadHeader(
                "X-Molecule-Org-Id",
                "letters, digits and . _ : - only, at most 128 (a UUID)",
            ));
        }
        let org_slug = text("x-molecule-org-slug").map(str::to_string);
        if org_slug.as_deref().is_some_and(|s| !valid_slug(s)) {
            return Err(Refusal::BadHeader(
                "X-Molecule-Org-Slug",
                "lowercase letters, digits and inner hyphens, at most 63",
            ));
        }
        let config = engine.config();
        let tenant_url = match &self.options.tenant_template {
            None => config.tenant_url.clone(),
            Some(template) => org_slug
                .as_deref()
                .and_then(|slug| fill(template, slug))
                .ok_or(Refusal::BadHeader(
                    "X-Molecule-Org-Slug",
                    "required: this server finds each org's tenant by its slug",
                ))?,
        };
        Ok(Caller {
            tenant_url,
            org_api_key: Some(Secret::new(key)),
            org_id,
            org_slug,
            cp_url: config.cp_url.clone(),
            cp_token: text(CP_TOKEN_HEADER).map(Secret::new),
        })
    }

    /// A caller's own narrowing of the tool selection (`X-MCP-Readonly`,
    /// `X-MCP-Toolsets`, `X-MCP-Tools`, as GitHub's remote server has them); `None`
    /// when the request narrows nothing. Unknown names select nothing.
    pub fn narrowing(headers: &HeaderMap) -> Option<Selection> {
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let names = |name: &str| {
            text(name).map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_ascii_lowercase())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
        };
        let read_only = text("x-mcp-readonly").is_some_and(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "1" | "true" | "yes" | "on"
            )
        });
        let selection = Selection {
            read_only,
            toolsets: names("x-mcp-toolsets"),
            tools: names("x-mcp-tools"),
        };
        (selection != Selection::default()).then_some(selection)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn slugs_and_org_ids_are_checked_strictly() {
        assert!(valid_slug("acme") && valid_slug("a-1") && valid_slug("x"));
        for bad in [
            "",
            "-a",
            "a-",
            "A",
            "a.b",
            "a/b",
            "evil.com#",
            &"a".repeat(64),
        ] {
            assert!(!valid_slug(bad), "{bad}");
        }
        assert!(valid_org_id("11111111-1111-4111-8111-111111111111"));
        assert!(!valid_org_id("a b") && !valid_org_id("") && !valid_org_id("x\ny"));
    }

    /// With nothing set, the limits are the ones the README's configuration table and
    /// docs/remote.md promise.
    #[test]
    fn the_http_limits_default_to_the_documented_values() {
        let o = HttpOptions::from_lookup("8080", |_| None).unwrap();
        assert_eq!(o.max_body_bytes, 4_194_304);
        assert_eq!((o.max_per_caller, o.max_concurrent), (32, 256));
        assert_eq!(o.shutdown_grace, Duration::from_secs(10));
        // A list setting is split on commas, trimmed, and empty items are dropped.
        let o = HttpOptions::from_lookup("8080", |k| {
            (k == "MOLECULE_MCP_ALLOWED_HOSTS").then(|| "mcp.example.com, ,10.0.0.5,".to_string())
        })
        .unwrap();
        assert_eq!(o.allowed_hosts, ["mcp.example.com", "10.0.0.5"]);
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

    #[test]
    fn a_template_is_filled_only_with_a_valid_url() {
        assert_eq!(
            fill("https://{slug}.tenant.example.com/", "acme").as_deref(),
            Some("https://acme.tenant.example.com")
        );
        assert_eq!(fill("ftp://{slug}.x", "acme"), None);
        let refused = HttpOptions::from_lookup("127.0.0.1:0", |k| {
            (k == "MOLECULE_MCP_TENANT_URL_TEMPLATE").then(|| "https://example.com".to_string())
        });
        assert!(refused.is_err());
        let with_password = HttpOptions::from_lookup("127.0.0.1:0", |k| {
            (k == "MOLECULE_MCP_TENANT_URL_TEMPLATE")
                .then(|| "https://u:hunter22@{slug}.tenant.example.com".to_string())
        })
        .unwrap_err();
        assert!(
            matches!(with_password, ConfigError::UrlWithUserinfo { .. })
                && !with_password.to_string().contains("hunter22"),
            "{with_password}"
        );
    }

    #[test]
    fn narrowing_comes_from_the_request_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(Remote::narrowing(&h), None);
        h.insert("x-mcp-readonly", HeaderValue::from_static("true"));
        h.insert(
            "x-mcp-toolsets",
            HeaderValue::from_static("Workspaces, audit"),
        );
        let s = Remote::narrowing(&h).unwrap();
        assert!(s.read_only);
        assert_eq!(
            s.toolsets.unwrap().into_iter().collect::<Vec<_>>(),
            vec!["audit".to_string(), "workspaces".to_string()]
        );
    }
}
