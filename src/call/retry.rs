//! Retries: a failed GET is worth another attempt after 429, 502, 503, 504 or a
//! connection error (not a timeout, nor a TLS handshake refused: the same certificate
//! is refused again), at most `MOLECULE_MCP_MAX_RETRIES` times, after
//! the host's `Retry-After` (seconds, capped at 10 s) or else an exponential backoff
//! with jitter: 250 ms × 2^(attempt−1) plus up to 250 ms.
//!
//! Written here rather than with a backoff crate: `backon` 1.6 adds jitter in
//! proportion to the current delay (its second wait is 500–1000 ms, this one's
//! 500–750 ms), and `exponential-backoff` 2.1 spreads a fraction of the delay either
//! way; neither has a fixed jitter window, and the schedule is pinned by tests.

use super::AttemptResult;
use std::time::Duration;

/// The longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);

/// The attempts of one call so far, and whether it may be retried at all.
#[derive(Debug)]
pub(super) struct Retries {
    /// Only a GET is retried: it changes nothing upstream.
    retryable: bool,
    max_retries: u32,
    attempts: u32,
}

impl Retries {
    /// The first attempt of a call with HTTP `method`.
    pub(super) fn new(method: &str, max_retries: u32) -> Self {
        Retries {
            retryable: method == "GET",
            max_retries,
            attempts: 1,
        }
    }

    /// The attempts made, counting the one in progress.
    pub(super) fn attempts(&self) -> u32 {
        self.attempts
    }

    /// How long to wait before another attempt after `outcome`; `None` to stop.
    pub(super) fn delay(&self, outcome: &AttemptResult) -> Option<Duration> {
        if !self.retryable || self.attempts > self.max_retries {
            return None;
        }
        match outcome {
            Err(progenitor_client::Error::UnexpectedResponse(r))
                if matches!(r.status().as_u16(), 429 | 502 | 503 | 504) =>
            {
                let retry_after = r
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok());
                Some(match retry_after {
                    Some(seconds) => Duration::from_secs(seconds).min(MAX_RETRY_AFTER),
                    None => self.backoff(),
                })
            }
            Err(progenitor_client::Error::CommunicationError(e))
                if !e.is_timeout() && (e.is_connect() || e.is_request()) && !tls_refused(e) =>
            {
                Some(self.backoff())
            }
            _ => None,
        }
    }

    /// Counts the next attempt.
    pub(super) fn again(&mut self) {
        self.attempts += 1;
    }

    /// 250 ms × 2^(attempt−1), plus up to 250 ms of jitter.
    fn backoff(&self) -> Duration {
        use std::hash::{BuildHasher, Hasher};
        let jitter = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
            % 250;
        Duration::from_millis(250u64 * 2u64.pow(self.attempts - 1) + jitter)
    }
}

/// Whether TLS refused the connection (rustls' own error somewhere in the chain: an
/// untrusted or misnamed certificate, a handshake the peer cannot complete). Every
/// attempt would meet the same certificate, so another one only waits.
fn tls_refused(e: &reqwest::Error) -> bool {
    let mut link: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(error) = link {
        if is_rustls(error) {
            return true;
        }
        link = error.source();
    }
    false
}

/// Whether `error` is rustls' error, or an `io::Error` carrying it (hyper-rustls nests
/// it two `io::Error`s deep), which `source()` does not reach: an `io::Error`'s
/// `source()` is its payload's source, not the payload.
fn is_rustls(error: &(dyn std::error::Error + 'static)) -> bool {
    if error.is::<rustls::Error>() {
        true
    } else if let Some(io) = error.downcast_ref::<std::io::Error>() {
        io.get_ref().is_some_and(|payload| is_rustls(payload))
    } else {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The host's answer `status`, with `Retry-After: retry_after` when given.
    #[allow(clippy::result_large_err)] // the error type is progenitor's, as in `AttemptResult`
    fn answered(status: u16, retry_after: Option<&str>) -> AttemptResult {
        let mut response = axum::http::Response::builder().status(status);
        if let Some(value) = retry_after {
            response = response.header("retry-after", value);
        }
        let response = reqwest::Response::from(response.body("").unwrap());
        Err(progenitor_client::Error::UnexpectedResponse(response))
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_get_backs_off_250_ms_doubling_with_up_to_250_ms_of_jitter() {
        let mut retries = Retries::new("GET", 3);
        for (low, high) in [(250, 500), (500, 750), (1000, 1250)] {
            for _ in 0..50 {
                let delay = retries.delay(&answered(503, None)).unwrap();
                assert!(delay >= ms(low) && delay < ms(high), "{delay:?}");
            }
            retries.again();
        }
        assert_eq!(retries.attempts(), 4);
        assert_eq!(
            retries.delay(&answered(503, None)),
            None,
            "three retries made"
        );
    }

    #[test]
    fn only_429_and_the_gateway_statuses_are_retried() {
        let retries = Retries::new("GET", 2);
        for status in [429, 502, 503, 504] {
            assert!(retries.delay(&answered(status, None)).is_some(), "{status}");
        }
        for status in [400, 401, 404, 409, 500, 501] {
            assert_eq!(retries.delay(&answered(status, None)), None, "{status}");
        }
    }

    #[test]
    fn only_a_get_is_retried() {
        for method in ["POST", "PUT", "PATCH", "DELETE"] {
            let retries = Retries::new(method, 2);
            assert_eq!(retries.delay(&answered(503, None)), None, "{method}");
        }
    }

    #[test]
    fn retry_after_in_seconds_replaces_the_backoff_up_to_ten_seconds() {
        let retries = Retries::new("GET", 2);
        let after = |value| retries.delay(&answered(429, Some(value)));
        assert_eq!(after("0"), Some(Duration::ZERO));
        assert_eq!(after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(after("10"), Some(Duration::from_secs(10)));
        assert_eq!(after("3600"), Some(Duration::from_secs(10)));
        // An HTTP date or garbage: the backoff.
        for value in ["Wed, 21 Oct 2026 07:28:00 GMT", "soon", "-1"] {
            let delay = after(value).unwrap();
            assert!(delay >= ms(250) && delay < ms(500), "{value}: {delay:?}");
        }
    }

    #[test]
    fn no_retry_is_allowed_when_the_limit_is_zero() {
        let retries = Retries::new("GET", 0);
        assert_eq!(retries.delay(&answered(503, Some("0"))), None);
    }
}
