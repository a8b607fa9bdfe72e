//! Trust boundaries at the wire (docs/security.md): every path argument stays one
//! path segment whatever the string, secrets never come back in any rendition or
//! half, every result is bounded, and the JSON-RPC edges neither stall nor end the
//! server.

use crate::common::*;
use molecule_mcp::call::Engine;
use molecule_mcp::tools::schema::Location;
use percent_encoding::percent_decode_str;
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestRunner};
use serde_json::json;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Strings made to look like structure (`\`, `/`, dots, `%`, `?`, `#`), and any string.
fn hostile_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[\\\\/.%?#;:@&=+ a-zA-Z0-9~_-]{0,14}",
        prop::sample::select(vec![
            "..\\",
            "..\\..\\..\\org",
            "..\\..\\..\\workspaces\\victim",
            "..%2f",
            "%2e%2e",
            ".%2e",
            "...",
            "\\",
            "a\\b",
            "é/ü",
            "..;",
            "\u{0}\n\r",
        ])
        .prop_map(str::to_string),
        any::<String>(),
    ]
}

/// The path template's segments with `{param}` placeholders, for an operation.
fn template(engine: &Engine, op: molecule_mcp::Operation) -> Vec<String> {
    let doc = molecule_mcp::tools::spec_for(op);
    let _ = engine;
    molecule_mcp::spec::inventory::operations(doc)
        .into_iter()
        .find(|o| o.id == op.operation_id())
        .map(|o| o.path.split('/').skip(1).map(str::to_string).collect())
        .unwrap()
}

#[test]
fn every_path_argument_of_every_tool_is_exactly_one_segment_on_the_wire() {
    let rt = runtime();
    let tenant = rt.block_on(RawTenant::start(|_| (200, b"{}".to_vec())));
    let engine = engine(full_config(&tenant.url));
    let probed = std::cell::Cell::new(0usize);
    for case in crate::calls::cases() {
        let entry = engine.catalog().get(case.tool).unwrap();
        for plan in &entry.derived.plans {
            let segments = template(&engine, plan.operation);
            for target in plan.targets.iter().filter(|t| t.location == Location::Path) {
                if case.args.get(&target.tool).is_none() {
                    continue; // filled from MOLECULE_ORG_ID, not from the caller
                }
                let mut runner = TestRunner::new(RunnerConfig {
                    cases: 40,
                    failure_persistence: None,
                    ..RunnerConfig::default()
                });
                runner
                    .run(&hostile_string(), |value| {
                        let mut args = case.args.as_object().unwrap().clone();
                        args.insert(target.tool.clone(), json!(value));
                        let outcome = rt.block_on(engine.call(entry, args));
                        let sent = tenant.taken();
                        if value.is_empty() || value == "." || value == ".." {
                            let e = outcome.expect_err("refused");
                            prop_assert_eq!(e.code(), "INVALID_ARGUMENTS");
                            prop_assert!(e.envelope()["detail"].as_str().unwrap().contains(&target.tool));
                            prop_assert!(sent.is_empty(), "refused but sent");
                            return Ok(());
                        }
                        // A header argument of the same call may refuse control characters.
                        if let Err(e) = &outcome {
                            prop_assert_ne!(e.code(), "INTERNAL_ERROR", "{:?}", e);
                        }
                        if sent.is_empty() {
                            prop_assert_eq!(outcome.unwrap_err().code(), "INVALID_ARGUMENTS");
                            return Ok(());
                        }
                        prop_assert_eq!(sent.len(), 1);
                        let raw = &sent[0].target;
                        let path = raw.split('?').next().unwrap();
                        let got: Vec<&str> = path.split('/').skip(1).collect();
                        // The argument is present, so the call routes to this plan.
                        prop_assert_eq!(got.len(), segments.len(), "{}: raw target {}", case.tool, raw);
                        for (seg, tpl) in got.iter().zip(&segments) {
                            if tpl == &format!("{{{}}}", target.spec) {
                                prop_assert!(
                                    seg.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)),
                                    "{}: segment {:?} carries a byte outside the unreserved set", case.tool, seg
                                );
                                let decoded = percent_decode_str(seg).decode_utf8().unwrap();
                                prop_assert_eq!(decoded.as_ref(), value.as_str());
                            } else if !tpl.starts_with('{') {
                                prop_assert_eq!(seg, tpl, "{}: raw target {}", case.tool, raw);
                            }
                        }
                        probed.set(probed.get() + 1);
                        Ok(())
                    })
                    .unwrap_or_else(|e| panic!("{} `{}`: {e}", case.tool, target.tool));
            }
        }
    }
    let probed = probed.get();
    assert!(probed > 500, "only {probed} wire requests checked");
}
