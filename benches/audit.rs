//! The cost of the audit log per write call (`cargo bench --bench audit`): the engine
//! in-process (no MCP transport), `pause_workspace` against a fast loopback tenant,
//! once without and once with `MOLECULE_MCP_AUDIT_LOG`, alternated call by call so both
//! see the same load. Prints the medians, the median of paired differences and the
//! bytes written per call; BENCHMARKS.md records a run. No assertions.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark may panic on the unexpected

#[path = "common/mod.rs"]
mod common;
use molecule_mcp::audit::AuditLog;
use molecule_mcp::call::Engine;
use molecule_mcp::config::Config;
use molecule_mcp::safety::Safety;
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;

const CALLS: usize = 5_000;
const WARM_UP: usize = 300;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn p99(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() * 99 / 100]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let url = common::tenant("{}").await;
    let config = Config::from_lookup(|k| match k {
        "MOLECULE_API_URL" => Some(url.clone()),
        "MOLECULE_ORG_API_KEY" => Some("sk-bench-0123456789".into()),
        "MOLECULE_ORG_ID" => Some("org-bench".into()),
        _ => None,
    })
    .unwrap();
    let path = std::env::temp_dir().join(format!(
        "molecule-mcp-bench-audit-{}.jsonl",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&path);
    let plain = Engine::new(config.clone()).unwrap();
    let audited = Engine::new(config).unwrap().with_safety(Safety {
        audit: Some(Arc::new(AuditLog::open(&path).unwrap())),
        ..Safety::default()
    });
    let entry = plain.catalog().get("pause_workspace").unwrap();
    let args = |i: usize| {
        json!({ "workspace_id": format!("ws-{i}"), "cascade": true })
            .as_object()
            .unwrap()
            .clone()
    };
    for i in 0..WARM_UP {
        plain.call(entry, args(i)).await.unwrap();
        audited.call(entry, args(i)).await.unwrap();
    }
    let before = std::fs::metadata(&path).unwrap().len();
    let (mut without, mut with, mut diff) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..CALLS {
        let t = Instant::now();
        plain.call(entry, args(i)).await.unwrap();
        let a = t.elapsed().as_secs_f64() * 1e6;
        let t = Instant::now();
        audited.call(entry, args(i)).await.unwrap();
        let b = t.elapsed().as_secs_f64() * 1e6;
        without.push(a);
        with.push(b);
        diff.push(b - a);
    }
    let bytes = std::fs::metadata(&path).unwrap().len() - before;
    println!("pause_workspace, {CALLS} calls each, alternated (µs):");
    println!(
        "  without audit log: median {:.1}, p99 {:.1}",
        median(&mut without),
        p99(&mut without)
    );
    println!(
        "  with audit log:    median {:.1}, p99 {:.1}",
        median(&mut with),
        p99(&mut with)
    );
    println!("  median of paired differences: {:.1}", median(&mut diff));
    println!("  bytes appended per call: {}", bytes / CALLS as u64);
    let _ = std::fs::remove_file(&path);
}
