//! Who an HTTP caller is (docs/remote.md): the operator's settings of the remote mode
//! (declared in src/config.rs as [`HttpArgs`]), and what each request's own headers
//! say: the caller, the tool narrowing, and the safety they raise. Used by the MCP
//! handler (src/server.rs) and the HTTP front (src/http/mod.rs); it knows neither.

use crate::call::Engine;
use crate::client::Caller;
use crate::config::{
    BOOLEAN_RULE, CONFIRM_RULE, ConfigError, Confirm, HttpArgs, LISTEN_RULE, Names, Secret,
    Selection, boolean, fill, name_list,
};
use crate::result::clipped;
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
    /// `MOLECULE_MCP_HEADER_TIMEOUT_SECS`: a connection must deliver a whole request
    /// head within this of opening or of its previous response, so it bounds slow
    /// headers and idle keep-alive connections alike (default 30).
    pub header_timeout: Duration,
    /// `MOLECULE_MCP_BODY_TIMEOUT_SECS`: the whole body must arrive within this of the
    /// head (default 30).
    pub body_timeout: Duration,
    /// `MOLECULE_MCP_MAX_CONNECTIONS`: open connections at once (default 1024); at the
    /// cap the oldest idle one is closed to make room.
    pub max_connections: usize,
    /// `--metrics` / `MOLECULE_MCP_METRICS`: where to serve Prometheus metrics, on a
    /// listener of its own (docs/operations.md); `None`: nowhere.
    pub metrics: Option<SocketAddr>,
}

impl HttpOptions {
    /// Reads the HTTP settings for listening at `addr`, through `lookup` (the
    /// declarations of [`HttpArgs`]).
    pub fn from_lookup(
        addr: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let args = crate::config::from_lookup::<HttpArgs>(|k| match k {
            "MOLECULE_MCP_HTTP" => Some(addr.to_string()),
            _ => lookup(k),
        })?;
        Self::from_args(args)
    }

    /// The options of the settings; `Err` when no address to listen at is set.
    pub fn from_args(a: HttpArgs) -> Result<Self, ConfigError> {
        let addr = a.http.ok_or_else(|| ConfigError::BadValue {
            var: "MOLECULE_MCP_HTTP".into(),
            value: String::new(),
            rule: LISTEN_RULE,
        })?;
        Ok(HttpOptions {
            addr,
            tenant_template: a.tenant_template,
            allowed_origins: a.allowed_origins,
            allowed_hosts: a.allowed_hosts,
            max_body_bytes: a.max_body_bytes,
            max_concurrent: a.max_concurrent,
            max_per_caller: a.max_per_caller,
            shutdown_grace: Duration::from_secs(a.shutdown_secs),
            header_timeout: Duration::from_secs(a.header_timeout_secs),
            body_timeout: Duration::from_secs(a.body_timeout_secs),
            max_connections: a.max_connections,
            metrics: a.metrics,
        })
    }
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
    /// A header of the wrong form: 400, naming it and the rule.
    BadHeader(&'static str, String),
}

impl Remote {
    /// The caller of one HTTP request, from its own headers and the operator's URLs.
    pub fn caller(&self, headers: &HeaderMap, engine: &Engine) -> Result<Caller, Refusal> {
        let authorization = non_blank(headers, header::AUTHORIZATION.as_str(), "Authorization")?;
        let key = authorization.and_then(bearer).ok_or(Refusal::NoKey)?;
        let org_id =
            non_blank(headers, "x-molecule-org-id", "X-Molecule-Org-Id")?.map(str::to_string);
        if org_id.as_deref().is_some_and(|id| !valid_org_id(id)) {
            return Err(Refusal::BadHeader(
                "X-Molecule-Org-Id",
                "letters, digits and . _ : - only, at most 128 (a UUID)".into(),
            ));
        }
        let org_slug =
            non_blank(headers, "x-molecule-org-slug", "X-Molecule-Org-Slug")?.map(str::to_string);
        if org_slug.as_deref().is_some_and(|s| !valid_slug(s)) {
            return Err(Refusal::BadHeader(
                "X-Molecule-Org-Slug",
                "lowercase letters, digits and inner hyphens, at most 63".into(),
            ));
        }
        let cp_token = non_blank(headers, CP_TOKEN_HEADER, "X-Molecule-CP-Token")?.map(Secret::new);
        let config = engine.config();
        let tenant_url = match (&self.options.tenant_template, org_slug.as_deref()) {
            (None, _) => config.tenant_url.clone(),
            (Some(_), None) => {
                return Err(Refusal::BadHeader(
                    "X-Molecule-Org-Slug",
                    "required: this server finds each org's tenant by its slug".into(),
                ));
            }
            (Some(template), Some(slug)) => fill(template, slug).ok_or_else(|| {
                Refusal::BadHeader(
                    "X-Molecule-Org-Slug",
                    "must name a host: in this server's tenant URL template this slug reads as \
                     an IP address"
                        .into(),
                )
            })?,
        };
        Ok(Caller {
            tenant_url,
            org_api_key: Some(Secret::new(key)),
            org_id,
            org_slug,
            cp_url: config.cp_url.clone(),
            cp_token,
            remote: true,
        })
    }

    /// A caller's own narrowing of the tool selection (`X-MCP-Readonly`,
    /// `X-MCP-Toolsets`, `X-MCP-Tools`, as GitHub's remote server has them); `None`
    /// when the request narrows nothing. A header that narrows fails closed: a value
    /// the matching setting would refuse at start-up (an unknown word or name, non-UTF-8
    /// bytes, the header sent twice) refuses the request, naming the header and the
    /// valid values, rather than serving more (or fewer) tools than asked.
    pub fn narrowing(headers: &HeaderMap) -> Result<Option<Selection>, Refusal> {
        let read_only = match single(headers, "x-mcp-readonly", "X-MCP-Readonly")? {
            None => false,
            Some(v) => boolean(v)
                .ok_or_else(|| Refusal::BadHeader("X-MCP-Readonly", BOOLEAN_RULE.to_string()))?,
        };
        let names = |name: &str, shown: &'static str, valid: &[&'static str]| {
            let Some(list) = single(headers, name, shown)? else {
                return Ok(None);
            };
            let refuse = |why: String| {
                Refusal::BadHeader(shown, format!("{why}; valid: {}", valid.join(", ")))
            };
            match name_list(list, valid) {
                // An empty list would serve no tool at all: a typo, never a wish.
                Ok(names) if names.is_empty() => Err(refuse("names nothing".into())),
                Ok(names) => Ok(Some(names)),
                Err(unknown) => Err(refuse(format!("unknown name `{}`", clipped(&unknown, 64)))),
            }
        };
        let selection = Selection {
            read_only,
            toolsets: names("x-mcp-toolsets", "X-MCP-Toolsets", &Names::Toolsets.valid())?,
            tools: names("x-mcp-tools", "X-MCP-Tools", &Names::Tools.valid())?,
        };
        Ok((selection != Selection::default()).then_some(selection))
    }
}

/// A caller's own narrowing of the tools ([`Remote::narrowing`]), decided by admission
/// (src/http/mod.rs) and read by the MCP handler (src/server.rs) from the request's
/// extensions.
#[derive(Debug, Clone)]
pub struct Narrowing(pub Option<Selection>);

/// What an HTTP request's own headers raise (inserted in its extensions by
/// src/http/mod.rs's gate; the MCP handler puts it in the call's context,
/// src/safety.rs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Raised {
    /// `X-MCP-Dry-Run: 1`.
    pub dry_run: bool,
    /// `X-MCP-Confirm`.
    pub confirm: Option<Confirm>,
}

impl Raised {
    /// Reads `X-MCP-Dry-Run` and `X-MCP-Confirm`, fail-closed like the narrowing headers
    /// ([`Remote::narrowing`]): a value that is not a boolean word (or a level), sent
    /// twice, or not ASCII refuses the request, naming the header. `0` asks for nothing
    /// (it cannot turn the operator's dry run off).
    pub fn from_headers(headers: &HeaderMap) -> Result<Raised, Refusal> {
        let dry_run = match single(headers, "x-mcp-dry-run", "X-MCP-Dry-Run")? {
            None => false,
            Some(v) => boolean(v)
                .ok_or_else(|| Refusal::BadHeader("X-MCP-Dry-Run", BOOLEAN_RULE.to_string()))?,
        };
        let confirm = match single(headers, "x-mcp-confirm", "X-MCP-Confirm")? {
            None => None,
            Some(v) => Some(
                Confirm::parse(v)
                    .ok_or_else(|| Refusal::BadHeader("X-MCP-Confirm", CONFIRM_RULE.to_string()))?,
            ),
        };
        Ok(Raised { dry_run, confirm })
    }
}

/// The one value of header `name`, trimmed; `None` when absent. Sent twice, or not
/// visible ASCII, it is refused naming the header (`shown`): with two values, which one
/// a proxy or this server reads would be a guess.
pub(crate) fn single<'h>(
    headers: &'h HeaderMap,
    name: &str,
    shown: &'static str,
) -> Result<Option<&'h str>, Refusal> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Refusal::BadHeader(shown, "sent more than once".into()));
    }
    let text = value
        .to_str()
        .map_err(|_| Refusal::BadHeader(shown, "must be visible ASCII text".into()))?
        .trim();
    Ok(Some(text))
}

/// [`single`], with a blank value read as absent (for credentials, where the rule for
/// "absent" already fails closed).
fn non_blank<'h>(
    headers: &'h HeaderMap,
    name: &str,
    shown: &'static str,
) -> Result<Option<&'h str>, Refusal> {
    Ok(single(headers, name, shown)?.filter(|v| !v.is_empty()))
}

/// The credential of an `Authorization: Bearer <key>` value; the scheme is matched in
/// any case, as HTTP auth schemes are (RFC 9110 §11.1).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, key) = value.split_once([' ', '\t'])?;
    let key = key.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !key.is_empty()).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TEMPLATE_RULE;
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
        assert_eq!(
            (o.header_timeout, o.body_timeout, o.max_connections),
            (Duration::from_secs(30), Duration::from_secs(30), 1024)
        );
        // A list setting is split on commas, trimmed, and empty items are dropped.
        let o = HttpOptions::from_lookup("8080", |k| {
            (k == "MOLECULE_MCP_ALLOWED_HOSTS").then(|| "mcp.example.com, ,10.0.0.5,".to_string())
        })
        .unwrap();
        assert_eq!(o.allowed_hosts, ["mcp.example.com", "10.0.0.5"]);
        // A list that names nothing is blank: the loopback default, not "no host at all"
        // (which would refuse every request).
        let defaults = HttpOptions::from_lookup("8080", |_| None).unwrap();
        let o = HttpOptions::from_lookup("8080", |k| {
            k.starts_with("MOLECULE_MCP_ALLOWED_")
                .then(|| " , ".to_string())
        })
        .unwrap();
        assert_eq!(
            (o.allowed_hosts, o.allowed_origins),
            (defaults.allowed_hosts, defaults.allowed_origins)
        );
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
        assert_eq!(
            refused.unwrap_err().to_string(),
            format!("MOLECULE_MCP_TENANT_URL_TEMPLATE=\"https://example.com\": {TEMPLATE_RULE}")
        );
        let with_password = HttpOptions::from_lookup("127.0.0.1:0", |k| {
            (k == "MOLECULE_MCP_TENANT_URL_TEMPLATE")
                .then(|| "https://u:hunter22@{slug}.tenant.example.com".to_string())
        })
        .unwrap_err();
        assert_eq!(
            with_password.to_string(),
            ConfigError::UrlWithUserinfo {
                var: "MOLECULE_MCP_TENANT_URL_TEMPLATE".into()
            }
            .to_string()
        );
        assert!(!with_password.to_string().contains("hunter22"));
    }

    #[test]
    fn narrowing_comes_from_the_request_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(Remote::narrowing(&h), Ok(None));
        h.insert("x-mcp-readonly", HeaderValue::from_static("true"));
        h.insert(
            "x-mcp-toolsets",
            HeaderValue::from_static("Workspaces, audit"),
        );
        let s = Remote::narrowing(&h).unwrap().unwrap();
        assert!(s.read_only);
        assert_eq!(
            s.toolsets.unwrap().into_iter().collect::<Vec<_>>(),
            vec!["audit".to_string(), "workspaces".to_string()]
        );
    }

    #[test]
    fn the_dry_run_header_turns_on_only_and_fails_closed() {
        let mut h = HeaderMap::new();
        assert_eq!(Raised::from_headers(&h).unwrap(), Raised::default());
        h.insert("x-mcp-dry-run", "1".parse().unwrap());
        assert!(Raised::from_headers(&h).unwrap().dry_run);
        h.insert("x-mcp-confirm", "writes".parse().unwrap());
        assert_eq!(
            Raised::from_headers(&h).unwrap().confirm,
            Some(Confirm::Writes)
        );
        h.insert("x-mcp-confirm", "everything".parse().unwrap());
        assert_eq!(
            Raised::from_headers(&h).unwrap_err(),
            Refusal::BadHeader("X-MCP-Confirm", CONFIRM_RULE.to_string())
        );
        h.remove("x-mcp-confirm");
        h.insert("x-mcp-dry-run", "off".parse().unwrap());
        assert!(!Raised::from_headers(&h).unwrap().dry_run);
        h.insert("x-mcp-dry-run", "maybe".parse().unwrap());
        assert_eq!(
            Raised::from_headers(&h).unwrap_err(),
            Refusal::BadHeader("X-MCP-Dry-Run", BOOLEAN_RULE.to_string())
        );
        h.insert("x-mcp-dry-run", "1".parse().unwrap());
        h.append("x-mcp-dry-run", "1".parse().unwrap());
        assert!(matches!(
            Raised::from_headers(&h),
            Err(Refusal::BadHeader("X-MCP-Dry-Run", _))
        ));
    }
}
