//! Connection discipline (docs/remote.md, "Connections"): each accepted socket is served
//! by hyper's HTTP/1 connection with a header-read timeout — which hyper also applies
//! while a kept-alive connection waits for its next request, so it is the idle timeout
//! too — and the number of open connections is capped.
//!
//! At the cap, a new connection is not turned away while an old one sits idle or has
//! not finished its request head: the oldest such connection is closed to make room, so
//! sockets that send half a request line and stop can never lock a normal caller out.
//! Only when every open connection is busy with a request is the new one closed. The
//! same eviction frees a file descriptor when `accept` fails for want of one.

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// The open connections, oldest first.
#[derive(Debug)]
pub struct Connections {
    limit: usize,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    next: u64,
    by_age: BTreeMap<u64, Tracked>,
}

#[derive(Debug, Clone)]
struct Tracked {
    /// Requests being handled on the connection now.
    busy: Arc<AtomicUsize>,
    /// Cancelled to close the connection.
    close: CancellationToken,
}

/// One open connection's place; dropping it forgets the connection.
#[derive(Debug)]
pub struct Ticket {
    connections: Arc<Connections>,
    id: u64,
    tracked: Tracked,
}

/// While it lives, its connection is handling a request and is not evicted.
struct Busy(Arc<AtomicUsize>);

impl Busy {
    /// Marks one more request in progress on the connection whose count is `busy`.
    fn start(busy: &Arc<AtomicUsize>) -> Busy {
        busy.fetch_add(1, Ordering::AcqRel);
        Busy(busy.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Connections {
    /// At most `limit` connections open at once.
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(Connections {
            limit,
            open: Mutex::new(Open::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many connections are open.
    #[cfg(test)]
    fn count(&self) -> usize {
        self.lock().by_age.len()
    }

    /// Closes the oldest connection that is idle or still reading its request head;
    /// `false` when every open connection is busy.
    pub fn evict_one(&self) -> bool {
        let mut open = self.lock();
        evict_oldest_idle(&mut open)
    }

    /// A place for a new connection: at the cap, the oldest idle connection makes room;
    /// `None` when all are busy.
    pub fn admit(self: &Arc<Self>) -> Option<Ticket> {
        let mut open = self.lock();
        if open.by_age.len() >= self.limit && !evict_oldest_idle(&mut open) {
            return None;
        }
        let id = open.next;
        open.next += 1;
        let tracked = Tracked {
            busy: Arc::new(AtomicUsize::new(0)),
            close: CancellationToken::new(),
        };
        open.by_age.insert(id, tracked.clone());
        Some(Ticket {
            connections: self.clone(),
            id,
            tracked,
        })
    }
}

fn evict_oldest_idle(open: &mut Open) -> bool {
    let victim = open
        .by_age
        .iter()
        .find(|(_, t)| t.busy.load(Ordering::Acquire) == 0)
        .map(|(id, _)| *id);
    match victim.and_then(|id| open.by_age.remove(&id)) {
        Some(tracked) => {
            tracked.close.cancel();
            true
        }
        None => false,
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.connections.lock().by_age.remove(&self.id);
    }
}

/// The per-connection settings.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// The request head must arrive within this of the connection opening or of its
    /// previous response.
    pub header_timeout: Duration,
}

/// Serves one connection until it ends, is evicted, or (after `draining` is cancelled)
/// finishes its request in progress.
pub async fn serve(
    stream: TcpStream,
    ticket: Ticket,
    app: Router,
    settings: Settings,
    draining: CancellationToken,
) {
    let busy = ticket.tracked.busy.clone();
    let service =
        hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
            let guard = Busy::start(&busy);
            let app = app.clone();
            async move {
                let response = app.oneshot(request.map(axum::body::Body::new)).await;
                drop(guard);
                response
            }
        });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(settings.header_timeout)
        .keep_alive(true);
    let connection = http.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(e) = result {
                tracing::debug!("connection ended: {e}");
            }
        }
        () = ticket.tracked.close.cancelled() => {
            tracing::debug!("connection closed to make room for a new one");
        }
        () = draining.cancelled() => {
            // Finish what is in progress, then close (responses say `Connection: close`).
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
    drop(ticket);
}

/// Accepts connections until `stop` is cancelled, serving each on its own task. When the
/// process has no file descriptor left for a new socket, an idle connection is closed
/// to free one.
pub async fn accept(
    listener: TcpListener,
    connections: Arc<Connections>,
    app: Router,
    settings: Settings,
    draining: CancellationToken,
    stop: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stop.cancelled() => return,
        };
        match accepted {
            Ok((stream, _peer)) => {
                let Some(ticket) = connections.admit() else {
                    // Every open connection is busy with a request: closing this one is
                    // the only answer that costs nothing.
                    tracing::warn!(
                        "refused a connection: all {} open connections are busy \
                         (MOLECULE_MCP_MAX_CONNECTIONS)",
                        connections.limit
                    );
                    continue;
                };
                tokio::spawn(serve(
                    stream,
                    ticket,
                    app.clone(),
                    settings,
                    draining.clone(),
                ));
            }
            Err(e) => {
                let out_of_descriptors = matches!(e.raw_os_error(), Some(23 | 24));
                if out_of_descriptors && connections.evict_one() {
                    tracing::warn!("no file descriptor left: closed the oldest idle connection");
                } else {
                    tracing::warn!("accept failed: {e}");
                }
                // The evicted task needs a moment to close its socket; a persistent error
                // must not spin.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_the_cap_the_oldest_idle_connection_makes_room_and_busy_ones_are_kept() {
        let connections = Connections::new(2);
        let a = connections.admit().unwrap();
        let b = connections.admit().unwrap();
        a.tracked.busy.fetch_add(1, Ordering::AcqRel);
        let c = connections.admit().expect("b is idle and makes room");
        assert!(
            b.tracked.close.is_cancelled(),
            "the oldest idle one is closed"
        );
        assert!(!a.tracked.close.is_cancelled(), "a busy one is kept");
        assert_eq!(connections.count(), 2);
        c.tracked.busy.fetch_add(1, Ordering::AcqRel);
        assert!(connections.admit().is_none(), "all busy: no room");
        drop((a, b, c));
        assert_eq!(connections.count(), 0);
    }

    /// A connection is busy only while a request is in progress: once its request is
    /// answered it is idle again, and the first to make room at the cap.
    #[test]
    fn a_connection_is_evictable_again_once_its_request_is_answered() {
        let connections = Connections::new(1);
        let a = connections.admit().unwrap();
        let request = Busy::start(&a.tracked.busy);
        assert!(connections.admit().is_none(), "busy: no room");
        drop(request);
        assert!(connections.admit().is_some(), "idle again: it makes room");
        assert!(a.tracked.close.is_cancelled());
    }
}
