//! Remote MCP under load (`cargo bench --bench http`): the release binary serving
//! `serve --http`, 100 concurrent MCP clients (one keep-alive connection each) calling
//! `list_org_tokens` against a fast loopback tenant, all on this machine's 2 cores.
//! Prints calls/s, latency percentiles, the server's CPU per call and RSS;
//! BENCHMARKS.md records a run. Logging is as deployed (the access log on, stderr
//! drained by the bench). No assertions: the targets are read off the numbers.
//!
//! Then the memory bound (docs/remote.md, "Memory"): a second server with
//! `MOLECULE_MCP_MAX_CONCURRENT` = [`BOUND_CONCURRENT`] gets that many requests of the
//! maximum body size at once — first without a key (`[0,0,0,…]`), then with one, each
//! body holding as many JSON values as a request may (one per 32 bytes) inside a valid
//! `import_bundle` call — and its peak RSS is compared with concurrency × body limit.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark may panic on the unexpected

#[path = "common/mod.rs"]
mod common;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const BIN: &str = env!("CARGO_BIN_EXE_molecule-mcp");
const CLIENTS: usize = 100;
const WARM_UP: Duration = Duration::from_secs(2);
const MEASURE: Duration = Duration::from_secs(10);
const BODY: &str = r#"{"tokens":[{"id":"t-1","prefix":"mol_ab12","name":"ci","created_at":"2026-11-30T00:00:00Z"}],"count":1}"#;

/// One MCP client: a keep-alive connection sending `tools/call` POSTs, back to back
/// (`pace: None`, closed loop: capacity) or one every `pace` (open loop: latency at an
/// offered load, measured from each call's scheduled time, so a slow answer delays and
/// counts against the calls behind it).
async fn client(
    addr: String,
    key: String,
    stop: Arc<AtomicBool>,
    measuring: Arc<AtomicBool>,
    pace: Option<(Duration, Duration)>,
) -> Vec<u32> {
    let mut socket = TcpStream::connect(&addr).await.unwrap();
    socket.set_nodelay(true).unwrap();
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_org_tokens","arguments":{}}}"#;
    let request = format!(
        "POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\naccept: application/json, text/event-stream\r\nauthorization: Bearer {key}\r\nx-molecule-org-id: org-bench\r\nmcp-protocol-version: 2025-06-18\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut latencies = Vec::new();
    let mut buf = Vec::with_capacity(8192);
    let mut chunk = vec![0u8; 16384];
    // Each client's schedule starts at its own phase, so the offered load arrives
    // evenly instead of as 100 calls at once every period.
    let origin = tokio::time::Instant::now() + pace.map_or(Duration::ZERO, |(_, phase)| phase);
    let mut n: u32 = 0;
    while !stop.load(Ordering::Relaxed) {
        let started = match pace {
            Some((pace, _)) => {
                let at = origin + pace * n;
                tokio::time::sleep_until(at).await;
                at.into_std()
            }
            None => Instant::now(),
        };
        n += 1;
        socket.write_all(request.as_bytes()).await.unwrap();
        // Read one response: headers, then content-length bytes.
        buf.clear();
        let (head_end, length) = loop {
            let n = socket.read(&mut chunk).await.unwrap();
            assert!(n > 0, "the server closed the connection");
            buf.extend_from_slice(&chunk[..n]);
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                assert!(head.starts_with("http/1.1 200"), "{head}");
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map(|v| v.trim().parse().unwrap())
                    .expect("a content-length");
                break (end + 4, length);
            }
        };
        while buf.len() < head_end + length {
            let n = socket.read(&mut chunk).await.unwrap();
            assert!(n > 0);
            buf.extend_from_slice(&chunk[..n]);
        }
        let reply = std::str::from_utf8(&buf[head_end..head_end + length]).unwrap();
        assert!(reply.contains("\"isError\":false"), "{reply}");
        if measuring.load(Ordering::Relaxed) {
            latencies.push(started.elapsed().as_micros() as u32);
        }
    }
    latencies
}

fn status_kib(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .map(|v| {
            v.trim()
                .trim_end_matches(" kB")
                .trim()
                .parse::<f64>()
                .unwrap()
        })
        .unwrap()
}

/// The process's CPU time so far (user + system), from /proc.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

struct Run {
    calls_per_s: f64,
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
    server_cpu_us_per_call: f64,
}

async fn run(addr: &str, pid: u32, pace: Option<Duration>) -> Run {
    let stop = Arc::new(AtomicBool::new(false));
    let measuring = Arc::new(AtomicBool::new(false));
    // Ten keys: per-key concurrency (default 32) is not what is measured here.
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|i| {
            tokio::spawn(client(
                addr.to_string(),
                format!("sk-bench-key-{}", i % 10),
                stop.clone(),
                measuring.clone(),
                pace.map(|p| (p, p * i as u32 / CLIENTS as u32)),
            ))
        })
        .collect();
    tokio::time::sleep(WARM_UP).await;
    measuring.store(true, Ordering::Relaxed);
    let (started, cpu) = (Instant::now(), cpu_seconds(pid));
    tokio::time::sleep(MEASURE).await;
    measuring.store(false, Ordering::Relaxed);
    let (elapsed, cpu) = (started.elapsed(), cpu_seconds(pid) - cpu);
    stop.store(true, Ordering::Relaxed);
    let mut all: Vec<u32> = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort_unstable();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)] as f64 / 1000.0;
    Run {
        calls_per_s: all.len() as f64 / elapsed.as_secs_f64(),
        p50: pct(0.50),
        p90: pct(0.90),
        p99: pct(0.99),
        max: pct(1.0),
        server_cpu_us_per_call: cpu * 1e6 / all.len() as f64,
    }
}

/// Requests of the maximum body size in flight at once for the memory bound.
const BOUND_CONCURRENT: usize = 32;
/// The body limit for the memory bound (the default).
const BOUND_BODY: usize = 4 * 1024 * 1024;

/// Starts `bin` as `serve --http` with `env`; its pid, address and the task draining
/// its stderr.
async fn start(bin: &str, env: &[(&str, &str)]) -> (tokio::process::Child, u32, String) {
    let mut command = tokio::process::Command::new(bin);
    command
        .args(["serve", "--http", "127.0.0.1:0"])
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().unwrap();
    let pid = child.id().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next_line().await.unwrap().expect("a banner");
        if let Some(at) = line.find("Streamable HTTP at http://") {
            let rest = &line[at + "Streamable HTTP at http://".len()..];
            break rest[..rest.find('/').unwrap()].to_string();
        }
    };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, pid, addr)
}

/// Sends `body` on a fresh connection with `key` (or none) and returns the status.
async fn post_body(addr: &str, key: Option<&str>, body: &str) -> u16 {
    let mut socket = TcpStream::connect(addr).await.unwrap();
    let auth = key.map_or(String::new(), |k| {
        format!("authorization: Bearer {k}\r\nx-molecule-org-id: org-bench\r\n")
    });
    let head = format!(
        "POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\naccept: application/json, text/event-stream\r\n{auth}content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    // The server may answer (401) and close before the body is all sent: that is the
    // point, so a failed write is not an error here.
    if socket.write_all(head.as_bytes()).await.is_ok() {
        let _ = socket.write_all(body.as_bytes()).await;
    }
    let mut out = Vec::new();
    let _ = socket.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out)
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// The memory bound: peak RSS with [`BOUND_CONCURRENT`] maximum-size bodies in flight.
async fn memory_bound(bin: &str, tenant: &str) {
    let concurrent = BOUND_CONCURRENT.to_string();
    let (mut child, pid, addr) = start(
        bin,
        &[
            ("MOLECULE_API_URL", tenant),
            ("MOLECULE_MCP_MAX_CONCURRENT", &concurrent),
            ("MOLECULE_MCP_MAX_PER_CALLER", &concurrent),
        ],
    )
    .await;
    let product = (BOUND_CONCURRENT * BOUND_BODY) as f64 / 1024.0 / 1024.0;
    let idle = status_kib(pid, "VmHWM:") / 1024.0;
    // Without a key: two million values, never read.
    let zeros = format!("[{}0]", "0,".repeat(BOUND_BODY / 2 - 8));
    // With one: a valid call whose bundle holds as many values as a body may, each a
    // 29-character string (strings cost the most once parsed), filling the body.
    let values = BOUND_BODY / 32 - 16;
    let mut call = String::from(
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"import_bundle","arguments":{"bundle":{"x":["#,
    );
    for i in 0..values {
        if i > 0 {
            call.push(',');
        }
        call.push_str("\"abcdefghijklmnopqrstuvwxyz012\"");
    }
    call.push_str("]}}}}");
    assert!(call.len() <= BOUND_BODY, "{}", call.len());
    let mut rows = Vec::new();
    for (what, key, body) in [
        ("no key, `[0,0,…]`", None, &zeros),
        (
            "a key, the most values a body may hold",
            Some("sk-bench-bound"),
            &call,
        ),
    ] {
        let sends: Vec<_> = (0..BOUND_CONCURRENT)
            .map(|_| {
                let (addr, body) = (addr.clone(), body.clone());
                tokio::spawn(async move { post_body(&addr, key, &body).await })
            })
            .collect();
        let mut statuses = std::collections::BTreeMap::new();
        for s in sends {
            *statuses.entry(s.await.unwrap()).or_insert(0) += 1;
        }
        let peak = status_kib(pid, "VmHWM:") / 1024.0;
        rows.push((what, statuses, peak));
    }
    println!();
    println!(
        "Memory bound: {BOUND_CONCURRENT} requests × {} MiB body limit = {product:.0} MiB in flight; idle peak {idle:.1} MiB",
        BOUND_BODY / 1024 / 1024
    );
    println!(
        "| bodies | statuses | peak RSS (VmHWM) | (peak − idle) / (concurrency × body limit) |"
    );
    println!("|---|---|---|---|");
    for (what, statuses, peak) in rows {
        println!(
            "| {what} | {statuses:?} | {peak:.1} MiB | {:.2} |",
            (peak - idle) / product
        );
    }
    let _ = child.kill().await;
}

/// The two load runs against one server started with `env`, printed as a table.
async fn load(bin: &str, env: &[(&str, &str)], title: &str, pace: Duration) {
    let (mut child, pid, addr) = start(bin, env).await;
    let rss_idle = status_kib(pid, "VmRSS:") / 1024.0;
    let capacity = run(&addr, pid, None).await;
    // 100 clients, one call every `pace` each.
    let offered = run(&addr, pid, Some(pace)).await;
    let rss = status_kib(pid, "VmRSS:") / 1024.0;
    let hwm = status_kib(pid, "VmHWM:") / 1024.0;
    let rate = CLIENTS as f64 / pace.as_secs_f64();
    println!();
    println!("{title}");
    println!(
        "| measure ({CLIENTS} clients, {} s each, 2 cores shared by server, load and tenant) | closed loop (capacity) | open loop, {rate:.0} calls/s offered |",
        MEASURE.as_secs()
    );
    println!("|---|---|---|");
    println!(
        "| tool calls/s | {:.0} | {:.0} |",
        capacity.calls_per_s, offered.calls_per_s
    );
    for (name, a, b) in [
        ("latency p50", capacity.p50, offered.p50),
        ("latency p90", capacity.p90, offered.p90),
        ("latency p99", capacity.p99, offered.p99),
        ("latency max", capacity.max, offered.max),
    ] {
        println!("| {name} | {a:.2} ms | {b:.2} ms |");
    }
    println!(
        "| server CPU per call (user + system) | {:.0} µs | {:.0} µs |",
        capacity.server_cpu_us_per_call, offered.server_cpu_us_per_call
    );
    println!(
        "| server RSS idle / after both runs / peak (VmHWM) | {rss_idle:.1} / {rss:.1} / {hwm:.1} MiB | |"
    );
    let _ = child.kill().await;
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let tenant = common::tenant(BODY).await;
        // MOLECULE_MCP_BIN runs another build of the server (e.g. the `profiling`
        // profile, which keeps symbols for perf, or an older commit's release build).
        let bin = std::env::var("MOLECULE_MCP_BIN").unwrap_or_else(|_| BIN.to_string());
        // BENCH_PACE_MS: each client's interval in the open loop (default 10 ms: 10,000
        // calls/s offered); a slower machine is measured below its capacity with more.
        let pace = Duration::from_millis(
            std::env::var("BENCH_PACE_MS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(10),
        );
        let base = [
            ("MOLECULE_API_URL", tenant.as_str()),
            ("MOLECULE_MCP_MAX_IN_FLIGHT", "256"),
        ];
        load(&bin, &base, "Tracing off (no OTLP endpoint):", pace).await;
        // The same with every span exported to a loopback OTLP receiver.
        let (otlp, exports) = common::otlp_sink().await;
        let mut traced = base.to_vec();
        traced.push(("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.as_str()));
        load(
            &bin,
            &traced,
            "Tracing on (OTLP/HTTP to a loopback receiver):",
            pace,
        )
        .await;
        println!(
            "OTLP export requests received: {}",
            exports.load(std::sync::atomic::Ordering::Relaxed)
        );
        memory_bound(&bin, &tenant).await;
    });
}
