//! The generated clients (progenitor, built in `OUT_DIR` by build.rs), the one
//! path-segment encoder they call, and the caller whose credentials every request
//! carries: attached per request by the clients' hook, the bearer marked sensitive.

use crate::config::{Config, Secret};
use reqwest::header::{AUTHORIZATION, HeaderName, HeaderValue};
use std::time::Duration;

/// The tenant management client, generated from the patched `spec/management.yaml`.
#[allow(
    missing_docs,
    clippy::all,
    clippy::pedantic,
    clippy::unwrap_used,
    clippy::expect_used,
    unused
)]
pub mod tenant {
    include!(concat!(env!("OUT_DIR"), "/tenant_client.rs"));
}

/// The control-plane client, generated from `spec/cp-admin.yaml`.
#[allow(
    missing_docs,
    clippy::all,
    clippy::pedantic,
    clippy::unwrap_used,
    clippy::expect_used,
    unused
)]
pub mod cp {
    include!(concat!(env!("OUT_DIR"), "/cp_client.rs"));
}

/// The credentials and routing of one caller: from the environment for stdio and the
/// CLI, from the request's own headers for each HTTP caller (docs/remote.md). A call
/// runs inside [`as_caller`], and the generated clients' `pre` hook attaches these
/// headers to every request it sends, so the credentials of two concurrent callers can
/// never cross: there is no shared client state that holds one.
#[derive(Debug, Clone, PartialEq)]
pub struct Caller {
    /// Tenant base URL, without a trailing `/`.
    pub tenant_url: String,
    /// Org API Key → `Authorization: Bearer` (sensitive) on tenant requests.
    pub org_api_key: Option<Secret>,
    /// → `X-Molecule-Org-Id`.
    pub org_id: Option<String>,
    /// → `X-Molecule-Org-Slug`.
    pub org_slug: Option<String>,
    /// Control-plane base URL, without a trailing `/`.
    pub cp_url: String,
    /// CP admin token → `Authorization: Bearer` (sensitive) on control-plane requests.
    pub cp_token: Option<Secret>,
    /// Whether these came from an HTTP request's headers (so errors name the headers to
    /// send) rather than from the environment (so they name the variables).
    pub remote: bool,
}

impl Caller {
    /// The credentials this caller holds (the org key, the CP token): what every
    /// redactor of its results and log lines removes.
    pub fn secrets(&self) -> impl Iterator<Item = &str> {
        [&self.org_api_key, &self.cp_token]
            .into_iter()
            .flatten()
            .map(|s| s.expose())
    }

    /// The environment's caller (stdio, `call`).
    pub fn from_config(config: &Config) -> Self {
        Caller {
            tenant_url: config.tenant_url.clone(),
            org_api_key: config.org_api_key.clone(),
            org_id: config.org_id.clone(),
            org_slug: config.org_slug.clone(),
            cp_url: config.cp_url.clone(),
            cp_token: config.cp_token.clone(),
            remote: false,
        }
    }
}

tokio::task_local! {
    static CALLER: std::sync::Arc<Caller>;
}

/// Runs `call` as `caller`: every request the generated clients send inside it carries
/// that caller's credentials, and only those.
pub async fn as_caller<F: std::future::Future>(
    caller: std::sync::Arc<Caller>,
    call: F,
) -> F::Output {
    CALLER.scope(caller, call).await
}

/// Sets the headers `pick` chooses from the current caller on `request`; outside
/// [`as_caller`] nothing is set, so a request made by mistake goes out without
/// credentials (and fails closed). Also removes progenitor's `api-version` header.
#[allow(clippy::result_large_err)] // the error type is progenitor's hook's, not ours
fn attach<E>(
    request: &mut reqwest::Request,
    pick: impl Fn(&Caller) -> Vec<(HeaderName, String, bool)>,
) -> Result<(), progenitor_client::Error<E>> {
    let headers = CALLER.try_with(|c| pick(c)).unwrap_or_default();
    for (name, value, sensitive) in headers {
        let mut value = HeaderValue::try_from(value).map_err(|_| {
            progenitor_client::Error::InvalidRequest(format!("{name} cannot be sent as a header"))
        })?;
        value.set_sensitive(sensitive);
        request.headers_mut().insert(name, value);
    }
    // progenitor stamps `api-version: <info.version>`; the tenant knows no such header
    // and the TypeScript server never sent it, so the wire stays identical without it.
    request.headers_mut().remove("api-version");
    // The attempt's trace context, when tracing is on (docs/operations.md).
    crate::telemetry::inject(request.headers_mut());
    // Last: a dry run stops here with the request complete, and the audit log's
    // intent line is written before it leaves (src/outbound.rs).
    crate::outbound::before_send(request)
        .map_err(|stop| progenitor_client::Error::Custom(stop.to_string()))
}

/// The status a request was answered with, for the audit log (src/outbound.rs).
fn answered(result: &reqwest::Result<reqwest::Response>) {
    crate::outbound::after_send(result.as_ref().ok().map(|r| r.status().as_u16()));
}

impl progenitor_client::ClientHooks<()> for tenant::Client {
    async fn post<E>(
        &self,
        result: &reqwest::Result<reqwest::Response>,
        _info: &progenitor_client::OperationInfo,
    ) -> Result<(), progenitor_client::Error<E>> {
        answered(result);
        Ok(())
    }

    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        _info: &progenitor_client::OperationInfo,
    ) -> Result<(), progenitor_client::Error<E>> {
        attach(request, |c| {
            let mut h = Vec::new();
            if let Some(key) = &c.org_api_key {
                h.push((AUTHORIZATION, format!("Bearer {}", key.expose()), true));
            }
            if let Some(id) = &c.org_id {
                h.push((
                    HeaderName::from_static("x-molecule-org-id"),
                    id.clone(),
                    false,
                ));
            }
            if let Some(slug) = &c.org_slug {
                h.push((
                    HeaderName::from_static("x-molecule-org-slug"),
                    slug.clone(),
                    false,
                ));
            }
            h
        })
    }
}

/// The control plane gets the CP token only: never the org key or the org headers.
impl progenitor_client::ClientHooks<()> for cp::Client {
    async fn post<E>(
        &self,
        result: &reqwest::Result<reqwest::Response>,
        _info: &progenitor_client::OperationInfo,
    ) -> Result<(), progenitor_client::Error<E>> {
        answered(result);
        Ok(())
    }

    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        _info: &progenitor_client::OperationInfo,
    ) -> Result<(), progenitor_client::Error<E>> {
        attach(request, |c| {
            c.cp_token
                .iter()
                .map(|t| (AUTHORIZATION, format!("Bearer {}", t.expose()), true))
                .collect()
        })
    }
}

/// Every byte outside RFC 3986's unreserved set (`A–Z a–z 0–9 - . _ ~`) is
/// percent-encoded in a path segment.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The one encoder of every path parameter, tenant and control plane: build.rs rewrites
/// the generated clients to call it in place of progenitor's `encode_path`. Its output
/// is exactly one URL path segment whose percent-decoding is `value`, for every string
/// but `.` and `..` (which no encoding keeps a plain segment; the call pipeline refuses
/// them before the wire). `\`, `/`, `%`, `?`, `#`, control and non-ASCII characters
/// all leave as `%XX`, so no URL parser can read them as structure.
pub fn path_segment(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, SEGMENT).to_string()
}

/// Connect timeout for both hosts.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientBuildError {
    /// reqwest refused its configuration (e.g. no TLS provider).
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    /// rustls refused its configuration.
    #[error("cannot configure TLS: {0}")]
    Tls(#[from] rustls::Error),
}

/// The HTTP client behind both APIs: `Content-Type: application/json`, no redirects
/// (a redirect would carry org headers to another origin), connect and whole-request
/// timeouts, TLS 1.2 or 1.3 checked against the platform's roots ([`PlatformRoots`]).
/// Credentials are per call (see [`Caller`]), never default headers.
pub fn http_client(timeout: Duration) -> Result<reqwest::Client, ClientBuildError> {
    install_tls_provider();
    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| std::sync::Arc::new(rustls::crypto::ring::default_provider()));
    let mut tls = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(std::sync::Arc::new(PlatformRoots::new(provider)))
        .with_no_client_auth();
    // What reqwest sets for a client that speaks HTTP/1.1 only.
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(reqwest::Client::builder()
        .default_headers(crate::outbound::default_headers())
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(timeout)
        .tls_backend_preconfigured(tls)
        .build()?)
}

/// The server-certificate check reqwest would build (rustls-platform-verifier: the
/// system's roots, `SSL_CERT_FILE`/`SSL_CERT_DIR` honoured), with the roots read when
/// the first TLS handshake needs them instead of when the client is built. Reading
/// them costs about 18 million instructions and 0.4 MiB, which a session that only
/// talks to `http://` hosts (the sandbox, a tenant on loopback) never pays
/// (docs/performance.md, "Start-up"). Every check is the platform verifier's own; a
/// failure to read the roots fails each handshake with the verifier's error.
#[derive(Debug)]
struct PlatformRoots {
    provider: std::sync::Arc<rustls::crypto::CryptoProvider>,
    verifier: std::sync::OnceLock<Result<rustls_platform_verifier::Verifier, rustls::Error>>,
}

impl PlatformRoots {
    fn new(provider: std::sync::Arc<rustls::crypto::CryptoProvider>) -> PlatformRoots {
        PlatformRoots {
            provider,
            verifier: std::sync::OnceLock::new(),
        }
    }

    fn verifier(&self) -> Result<&rustls_platform_verifier::Verifier, rustls::Error> {
        self.verifier
            .get_or_init(|| rustls_platform_verifier::Verifier::new(self.provider.clone()))
            .as_ref()
            .map_err(Clone::clone)
    }
}

impl rustls::client::danger::ServerCertVerifier for PlatformRoots {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        intermediates: &[rustls::pki_types::CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        self.verifier()?.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.verifier()?.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.verifier()?.verify_tls13_signature(message, cert, dss)
    }

    /// The platform verifier's answer, which is the provider's: no roots needed.
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The tenant client for one call of `caller` (cheap: the HTTP client is shared).
pub fn tenant_client(caller: &Caller, http: &reqwest::Client) -> tenant::Client {
    tenant::Client::new_with_client(&caller.tenant_url, http.clone())
}

/// The control-plane client for one call of `caller`.
pub fn cp_client(caller: &Caller, http: &reqwest::Client) -> cp::Client {
    cp::Client::new_with_client(&caller.cp_url, http.clone())
}

/// Installs ring as rustls' process-wide crypto provider (reqwest is built without
/// a default provider to keep aws-lc out of the build). Safe to call repeatedly.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[cfg(test)]
mod tests {
    use super::path_segment;

    #[test]
    fn path_segments_encode_everything_outside_the_unreserved_set() {
        assert_eq!(path_segment("ws-1.a_b~c"), "ws-1.a_b~c");
        assert_eq!(path_segment(r"..\..\org"), "..%5C..%5Corg");
        assert_eq!(path_segment("a/b?c#d%e f"), "a%2Fb%3Fc%23d%25e%20f");
        assert_eq!(path_segment("\u{0}\n\u{7f}é"), "%00%0A%7F%C3%A9");
        assert_eq!(
            path_segment("[x]|^`{}\"';:@&=+$,!*()"),
            "%5Bx%5D%7C%5E%60%7B%7D%22%27%3B%3A%40%26%3D%2B%24%2C%21%2A%28%29"
        );
    }
}
