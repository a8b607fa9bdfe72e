//! Property tests: arbitrary JSON arguments for every tool never panic, and either
//! produce a request (only when the arguments fit the exact schema) or
//! INVALID_ARGUMENTS with no request at all.

use crate::common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestRunner};
use serde_json::{Map, Value, json};

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-5i64..200_000).prop_map(|n| json!(n)),
        (-1.0e6f64..1.0e6).prop_map(|f| json!(f)),
        prop::sample::select(vec![
            "", ".", "..", "a/b", "ws-1", "monthly", "merge", "byok", "x\r\ny", "ünï", "hourly"
        ])
        .prop_map(|s| json!(s)),
        "[a-z]{0,12}".prop_map(Value::String),
        Just(json!("n".repeat(120))),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "monthly",
                    "daily",
                    "yearly",
                    "name",
                    "x",
                    "config.yaml"
                ]),
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}

/// Half the cases: arguments drawn from the tool's own property names plus a stray
/// name now and then. The other half: a known-valid call (from the request cases)
/// with up to two arguments replaced or added, so both sides of the line are probed.
fn arguments(
    names: Vec<String>,
    valid: Vec<Map<String, Value>>,
) -> impl Strategy<Value = Map<String, Value>> {
    let mut keys = names;
    keys.push("unexpected".to_string());
    let random = prop::collection::btree_map(prop::sample::select(keys.clone()), value(), 0..5)
        .prop_map(|m| m.into_iter().collect::<Map<String, Value>>());
    let mutated = (
        prop::sample::select(valid),
        prop::collection::btree_map(prop::sample::select(keys), value(), 0..3),
    )
        .prop_map(|(mut base, changes)| {
            base.extend(changes);
            base
        });
    prop_oneof![random, mutated]
}

/// The spec's own request-body schema (not the tool's flattened one) for the tool's
/// operation with this method, compiled.
fn spec_body_schema(
    entry: &molecule_mcp::tools::Entry,
    method: &str,
) -> Option<jsonschema::Validator> {
    let plan = entry.derived.plans.iter().find(|p| p.method == method)?;
    let doc = molecule_mcp::embedded::spec_for(plan.operation).unwrap();
    let op = molecule_mcp::spec::inventory::operations(doc)
        .into_iter()
        .find(|o| o.id == plan.operation.operation_id())?;
    let node = doc.pointer(&op.pointer)?;
    let body = molecule_mcp::spec::inventory::deref(doc, node.get("requestBody")?);
    let schema = body.pointer("/content/application~1json/schema")?;
    Some(
        jsonschema::draft202012::new(&molecule_mcp::tools::json_schema::exact_schema(doc, schema))
            .unwrap(),
    )
}

#[test]
fn arbitrary_arguments_never_panic_and_never_send_an_invalid_request() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = runtime.block_on(ok_tenant());
    let engine = engine(full_config(&server.uri()));
    let sent_valid = std::cell::Cell::new(0usize);
    let refused = std::cell::Cell::new(0usize);
    for entry in &engine.catalog().entries {
        let names: Vec<String> = entry.derived.input["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        let valid: Vec<Map<String, Value>> = crate::calls::cases()
            .into_iter()
            .filter(|c| c.tool == entry.row.name)
            .map(|c| c.args.as_object().unwrap().clone())
            .collect();
        let validator = jsonschema::draft202012::new(entry.validation().unwrap()).unwrap();
        let mut runner = TestRunner::new(RunnerConfig {
            cases: 48,
            failure_persistence: None,
            ..RunnerConfig::default()
        });
        runner
            .run(&arguments(names, valid), |args| {
                let before = runtime.block_on(server.received_requests()).unwrap().len();
                let outcome = runtime.block_on(engine.call(entry, args.clone()));
                let after = runtime.block_on(server.received_requests()).unwrap().len();
                let valid = validator.is_valid(&Value::Object(args.clone()));
                match &outcome {
                    Err(e) if e.code() == "INVALID_ARGUMENTS" => {
                        prop_assert_eq!(after, before, "{}: refused but sent", entry.row.name);
                        refused.set(refused.get() + 1);
                    }
                    Err(e) if e.code() == "INTERNAL_ERROR" => {
                        prop_assert!(
                            false,
                            "{}: internal error {:?} for {:?}",
                            entry.row.name,
                            e,
                            args
                        );
                    }
                    _ => {
                        prop_assert!(
                            valid,
                            "{}: sent a request for invalid arguments {:?}",
                            entry.row.name,
                            args
                        );
                        prop_assert_eq!(
                            after,
                            before + 1,
                            "{}: one request per valid call",
                            entry.row.name
                        );
                        // Independent of the tool's own schema: the wire request itself.
                        let request = runtime
                            .block_on(server.received_requests())
                            .unwrap()
                            .pop()
                            .unwrap();
                        let segments: Vec<&str> = request.url.path().split('/').skip(1).collect();
                        prop_assert!(
                            segments
                                .iter()
                                .all(|s| !s.is_empty() && *s != "." && *s != ".."),
                            "{}: path {} has an empty or dot segment",
                            entry.row.name,
                            request.url.path()
                        );
                        if let Some(schema) = spec_body_schema(entry, request.method.as_str()) {
                            let body: Value = serde_json::from_slice(&request.body).unwrap();
                            prop_assert!(
                                schema.is_valid(&body),
                                "{}: sent body {} breaks the spec's request schema",
                                entry.row.name,
                                body
                            );
                        } else {
                            prop_assert!(
                                request.body.is_empty(),
                                "{}: a body where the spec has none",
                                entry.row.name
                            );
                        }
                        sent_valid.set(sent_valid.get() + 1);
                    }
                }
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{}: {e}", entry.row.name));
    }
    let (sent_valid, refused) = (sent_valid.get(), refused.get());
    assert!(
        sent_valid > 100 && refused > 100,
        "the generator covers both sides: {sent_valid} sent, {refused} refused"
    );
}
