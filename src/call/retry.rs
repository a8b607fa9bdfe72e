//! Retries: a failed GET is worth another attempt after 429, 502, 503, 504 or a
//! connection error (not a timeout), at most `MOLECULE_MCP_MAX_RETRIES` times, after
//! the host's `Retry-After` (seconds, capped at 10 s) or else an exponential backoff
//! with jitter: 250 ms × 2^(attempt−1) plus up to 250 ms.
//!
//! Written here rather than with a backoff crate: `backon` 1.6 adds jitter in
//! proportion to the current delay (its second wait is 500–1000 ms, this one's
//! 500–750 ms), and `exponential-backoff` 2.1 spreads a fraction of the delay either
//! way; neither has a fixed jitter window, and the schedule is pinned by tests.

use super::Outcome;
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
    pub(super) fn delay(&self, outcome: &Outcome) -> Option<Duration> {
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
                if !e.is_timeout() && (e.is_connect() || e.is_request()) =>
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
