//! Dry run (docs/safety.md): a call that is not a read is validated and built exactly
//! as a real one, through the generated client, and stopped in the clients' `pre` hook
//! (src/outbound.rs) with the request complete. The answer is that request, read from
//! the `reqwest::Request` itself, so the plan cannot differ from what a real call sends.
//!
//! It is an error result with the code `DRY_RUN`: a tool with an `outputSchema` must
//! return matching `structuredContent` on success, and a plan is not the tool's output.

use crate::redact::{MARK, Redactor};
use serde_json::{Map, Value, json};

/// The request a call would have sent: what the clients built, before sending.
#[derive(Clone, PartialEq)]
pub struct Plan {
    /// `GET`, `POST`, …
    pub method: String,
    /// The URL as encoded on the wire.
    pub url: String,
    /// Its path, as encoded on the wire.
    pub path: String,
    /// Its query, decoded, in order.
    pub query: Vec<(String, String)>,
    /// Header names and values, credentials as `[redacted]`, in order; the HTTP
    /// client's default headers included.
    pub headers: Vec<(String, String)>,
    /// The body: JSON when it parses, else text; `None` without one.
    pub body: Option<Value>,
}

/// The values are the caller's: a Debug rendition names only the method and path.
impl std::fmt::Debug for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Plan({} {})", self.method, self.path)
    }
}

impl Plan {
    /// The plan of `request`, with `defaults` (the HTTP client's default headers, added
    /// when sent) where the request has no header of that name, and every known secret
    /// of the call (`redactor`) removed.
    pub fn of(
        request: &reqwest::Request,
        defaults: &reqwest::header::HeaderMap,
        redactor: &Redactor,
    ) -> Plan {
        let url = request.url();
        let mut headers: Vec<(String, String)> = Vec::new();
        let own = request.headers();
        let shown = |value: &reqwest::header::HeaderValue| {
            if value.is_sensitive() {
                MARK.to_string()
            } else {
                let mut text = String::from_utf8_lossy(value.as_bytes()).into_owned();
                redactor.text(&mut text);
                text
            }
        };
        for (name, value) in own {
            headers.push((name.as_str().to_string(), shown(value)));
        }
        for (name, value) in defaults {
            if !own.contains_key(name) {
                headers.push((name.as_str().to_string(), shown(value)));
            }
        }
        let body = request.body().and_then(|b| b.as_bytes()).map(|bytes| {
            let mut value = serde_json::from_slice::<Value>(bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()));
            redactor.value(&mut value);
            value
        });
        let mut plan = Plan {
            method: request.method().as_str().to_string(),
            url: url.as_str().to_string(),
            path: url.path().to_string(),
            query: url
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
            headers,
            body,
        };
        plan.redact(redactor);
        plan
    }

    /// Removes known secrets from every text the plan holds.
    pub fn redact(&mut self, r: &Redactor) {
        r.text(&mut self.url);
        r.text(&mut self.path);
        for (k, v) in self.query.iter_mut().chain(self.headers.iter_mut()) {
            r.text(k);
            r.text(v);
        }
        if let Some(body) = &mut self.body {
            r.value(body);
        }
    }

    /// The request as JSON: `{method, url, path, query, headers, body}`.
    pub fn request(&self) -> Value {
        let pairs = |list: &[(String, String)]| {
            Value::Object(
                list.iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect::<Map<String, Value>>(),
            )
        };
        json!({
            "method": self.method,
            "url": self.url,
            "path": self.path,
            "query": pairs(&self.query),
            "headers": pairs(&self.headers),
            "body": self.body,
        })
    }

    /// The `detail` of the `DRY_RUN` envelope.
    pub fn detail(&self) -> Value {
        json!({
            "message": "Dry run (MOLECULE_MCP_DRY_RUN / --dry-run / X-MCP-Dry-Run): the arguments \
                        are valid and nothing was sent. `request` is exactly what this call would \
                        have sent; credentials are shown as [redacted].",
            "request": self.request(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_shows_the_wire_form_and_hides_credentials_and_secrets() {
        crate::client::install_tls_provider();
        let client = reqwest::Client::new();
        let mut auth = reqwest::header::HeaderValue::from_static("Bearer sk-key-123456");
        auth.set_sensitive(true);
        let request = client
            .post("http://t.example/workspaces/a%2Fb/secrets?x=1&y=a%20b")
            .header(reqwest::header::AUTHORIZATION, auth)
            .header("x-molecule-org-id", "org-1")
            .body(r#"{"key":"K","value":"hunter2-secret"}"#)
            .build()
            .unwrap();
        let mut defaults = reqwest::header::HeaderMap::new();
        defaults.insert(
            reqwest::header::CONTENT_TYPE,
            reqwest::header::HeaderValue::from_static("application/json"),
        );
        let plan = Plan::of(&request, &defaults, &Redactor::new(["hunter2-secret"]));
        assert_eq!(
            plan.request(),
            json!({
                "method": "POST",
                "url": "http://t.example/workspaces/a%2Fb/secrets?x=1&y=a%20b",
                "path": "/workspaces/a%2Fb/secrets",
                "query": {"x": "1", "y": "a b"},
                "headers": {
                    "authorization": "[redacted]",
                    "x-molecule-org-id": "org-1",
                    "content-type": "application/json"
                },
                "body": {"key": "K", "value": "[redacted]"}
            })
        );
        assert_eq!(format!("{plan:?}"), "Plan(POST /workspaces/a%2Fb/secrets)");
    }
}
