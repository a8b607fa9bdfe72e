//! HTTPS to the tenant, through the real binary: the server certificate is checked
//! against the platform's roots (`SSL_CERT_FILE` here), which src/client.rs reads at
//! the first handshake rather than at start. A certificate the roots do not vouch for,
//! or one for another name, ends the call before any request (or key) is sent.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const BIN: &str = env!("CARGO_BIN_EXE_molecule-mcp");

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

/// An HTTPS tenant on 127.0.0.1 with `tests/fixtures/tls/server.pem` (for `localhost`):
/// answers every request with one workspace, records each request head and counts the
/// connections it accepted.
fn tls_tenant() -> (u16, Arc<Mutex<Vec<String>>>, Arc<AtomicUsize>) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(fixture("server.pem"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(fixture("server.key")).unwrap();
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let heads = Arc::new(Mutex::new(Vec::new()));
    let connections = Arc::new(AtomicUsize::new(0));
    let (log, accepted) = (heads.clone(), connections.clone());
    std::thread::spawn(move || {
        for socket in listener.incoming() {
            let Ok(socket) = socket else { return };
            accepted.fetch_add(1, Ordering::SeqCst);
            let Ok(connection) = rustls::ServerConnection::new(config.clone()) else {
                continue;
            };
            let mut stream = rustls::StreamOwned::new(connection, socket);
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                match stream.read(&mut byte) {
                    Ok(1) => head.push(byte[0]),
                    _ => break,
                }
            }
            if !head.ends_with(b"\r\n\r\n") {
                continue; // the handshake or the request did not complete
            }
            log.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&head).into_owned());
            let body = r#"[{"id":"0b6f3c1e-2d4a-4c3b-9f1e-7a6b5c4d3e2f","name":"alpha","status":"online","tier":2}]"#;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.flush();
            stream.conn.send_close_notify();
            let _ = stream.flush();
        }
    });
    (port, heads, connections)
}

/// `molecule-mcp call list_workspaces` against `url`, trusting the roots in `roots`.
fn call(url: &str, roots: &Path) -> (bool, String) {
    let out = std::process::Command::new(BIN)
        .args(["call", "list_workspaces"])
        .env_clear()
        .env("MOLECULE_API_URL", url)
        .env("MOLECULE_ORG_API_KEY", "sk-tls-test")
        .env("MOLECULE_ORG_ID", "org-tls")
        .env("SSL_CERT_FILE", roots)
        .env("SSL_CERT_DIR", "/nonexistent")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn a_tenant_whose_certificate_the_roots_vouch_for_is_called() {
    let (port, heads, _) = tls_tenant();
    let (ok, stdout) = call(&format!("https://localhost:{port}"), &fixture("ca.pem"));
    assert!(ok, "{stdout}");
    assert!(
        stdout.contains("0b6f3c1e-2d4a-4c3b-9f1e-7a6b5c4d3e2f"),
        "{stdout}"
    );
    let heads = heads.lock().unwrap().clone();
    assert_eq!(heads.len(), 1, "{heads:?}");
    let head = heads[0].to_ascii_lowercase();
    assert!(head.starts_with("get /workspaces http/1.1\r\n"), "{head}");
    assert!(
        head.contains("\r\nauthorization: bearer sk-tls-test\r\n"),
        "{head}"
    );
    assert!(
        head.contains("\r\nx-molecule-org-id: org-tls\r\n"),
        "{head}"
    );
}

/// A call to `url` trusting `roots` that TLS must refuse: an error result naming the
/// certificate, one connection (a refused certificate is not retried: it would be
/// refused again), and no request, so no key, ever sent.
fn refused(url: &str, roots: &Path, heads: &Mutex<Vec<String>>, connections: &AtomicUsize) {
    let (ok, stdout) = call(url, roots);
    assert!(!ok, "{stdout}");
    let result: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let detail = result["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("invalid peer certificate"), "{stdout}");
    assert_eq!(result.get("attempts"), None, "{stdout}");
    assert_eq!(connections.load(Ordering::SeqCst), 1, "{stdout}");
    assert_eq!(*heads.lock().unwrap(), Vec::<String>::new());
    assert!(!stdout.contains("sk-tls-test"), "{stdout}");
}

#[test]
fn a_certificate_from_another_authority_ends_the_call_before_any_request() {
    let (port, heads, connections) = tls_tenant();
    let url = format!("https://localhost:{port}");
    refused(&url, &fixture("stranger-ca.pem"), &heads, &connections);
}

#[test]
fn a_certificate_for_another_name_ends_the_call_before_any_request() {
    let (port, heads, connections) = tls_tenant();
    // The certificate names `localhost` only; 127.0.0.1 is not it.
    let url = format!("https://127.0.0.1:{port}");
    refused(&url, &fixture("ca.pem"), &heads, &connections);
}
