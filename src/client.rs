//! The generated clients (progenitor, built in `OUT_DIR` by build.rs) and their
//! construction: default headers with the bearer marked sensitive, no redirects,
//! connect and request timeouts.

use crate::config::{Config, Secret};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
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

/// progenitor stamps every request with `api-version: <info.version>`; the tenant
/// knows no such header and the TypeScript server never sent it, so it is removed
/// to keep the wire identical.
macro_rules! strip_api_version {
    ($client:ty) => {
        impl progenitor_client::ClientHooks<()> for $client {
            async fn pre<E>(
                &self,
                request: &mut reqwest::Request,
                _info: &progenitor_client::OperationInfo,
            ) -> Result<(), progenitor_client::Error<E>> {
                request.headers_mut().remove("api-version");
                Ok(())
            }
        }
    };
}
strip_api_version!(tenant::Client);
strip_api_version!(cp::Client);

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
    /// A configured value cannot be an HTTP header (checked earlier by [`Config`]).
    #[error("{0} cannot be sent as an HTTP header")]
    Header(&'static str),
    /// reqwest refused its configuration (e.g. no TLS provider).
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

fn bearer(secret: &Secret, var: &'static str) -> Result<HeaderValue, ClientBuildError> {
    let mut value = HeaderValue::try_from(format!("Bearer {}", secret.expose()))
        .map_err(|_| ClientBuildError::Header(var))?;
    value.set_sensitive(true);
    Ok(value)
}

fn plain(value: &str, var: &'static str) -> Result<HeaderValue, ClientBuildError> {
    HeaderValue::try_from(value).map_err(|_| ClientBuildError::Header(var))
}

fn http_client(headers: HeaderMap, timeout: Duration) -> Result<reqwest::Client, ClientBuildError> {
    Ok(reqwest::Client::builder()
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(timeout)
        .build()?)
}

/// The tenant client: `Authorization: Bearer $MOLECULE_ORG_API_KEY` (sensitive),
/// `X-Molecule-Org-Id` / `X-Molecule-Org-Slug` when set, `Content-Type: application/json`.
pub fn tenant_client(
    config: &Config,
    timeout: Duration,
) -> Result<tenant::Client, ClientBuildError> {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(key) = &config.org_api_key {
        headers.insert(AUTHORIZATION, bearer(key, "MOLECULE_ORG_API_KEY")?);
    }
    if let Some(id) = &config.org_id {
        headers.insert(
            HeaderName::from_static("x-molecule-org-id"),
            plain(id, "MOLECULE_ORG_ID")?,
        );
    }
    if let Some(slug) = &config.org_slug {
        headers.insert(
            HeaderName::from_static("x-molecule-org-slug"),
            plain(slug, "MOLECULE_ORG_SLUG")?,
        );
    }
    Ok(tenant::Client::new_with_client(
        &config.tenant_url,
        http_client(headers, timeout)?,
    ))
}

/// The control-plane client: `Authorization: Bearer $CP_ADMIN_API_TOKEN` (sensitive)
/// and `Content-Type: application/json`; never the org key or org headers.
pub fn cp_client(config: &Config, timeout: Duration) -> Result<cp::Client, ClientBuildError> {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(token) = &config.cp_token {
        headers.insert(AUTHORIZATION, bearer(token, "CP_ADMIN_API_TOKEN")?);
    }
    Ok(cp::Client::new_with_client(
        &config.cp_url,
        http_client(headers, timeout)?,
    ))
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
