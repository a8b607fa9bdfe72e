//! The answer of an operation with no stateful handler in [`super::ops`]: the request
//! is checked against the spec (its exact body schema, its required query parameters
//! and headers), and the reply is the documented success status with a body built
//! from the response schema (its examples first). Binding a new spec operation to a
//! tool therefore never needs a sandbox edit for `--sandbox` to answer it.

use super::message::{Handled, Reply, Req};
use super::state::State;
use serde_json::Value;

/// Answers `req` from the operation's contract; the state is not touched.
pub(super) fn answer(_st: &mut State, req: &Req) -> Handled {
    if req.has_request_schema() {
        req.body("request body does not match the spec")?;
    }
    for (location, name) in req.required() {
        let given = match location.as_str() {
            "query" => req.query_param(name).is_some(),
            _ => req.header(name).is_some(),
        };
        if !given {
            return Err(Reply::error(
                400,
                format!("missing {location} parameter {name}"),
            ));
        }
    }
    let (status, body) = req.success();
    let mut body = body.clone();
    // Path parameters echo into the fields of the same name (`{id}` → `"id"`), so a
    // reply names what was asked for.
    if let Some(fields) = body.as_mut().and_then(Value::as_object_mut) {
        for (name, value) in req.params() {
            if let Some(Value::String(field)) = fields.get_mut(name) {
                *field = value.clone();
            }
        }
    }
    Ok(match body {
        Some(body) => Reply::json(status, body),
        None => Reply::bare(status),
    })
}

#[cfg(test)]
mod tests {
    use super::super::contract::contracts;
    use crate::Operation;

    /// Every operation of both specs can be answered from the spec alone, and the answer
    /// fits the spec's own response schema: binding any of them needs no handler.
    #[test]
    fn every_operations_answer_from_the_spec_fits_its_response_schema() {
        let contracts = contracts().unwrap();
        for op in Operation::ALL {
            let contract = &contracts[op];
            let (status, body) = &contract.success;
            assert!((200..300).contains(status), "{op:?}: {status}");
            let Some(body) = body else { continue };
            let validator = contract
                .response(*status)
                .unwrap_or_else(|| panic!("{op:?}: a body but no schema"));
            let errors = super::super::contract::errors(validator, body);
            assert!(
                errors.is_empty(),
                "{op:?}: {body} breaks the spec: {errors:?}"
            );
        }
    }

    /// A sample request fits the exact request schema, so a test can call any
    /// operation answered from the spec.
    #[test]
    fn every_operations_sample_request_fits_its_request_schema() {
        let contracts = contracts().unwrap();
        for op in Operation::ALL {
            let (Some(validator), Some(body)) =
                (&contracts[op].request, super::super::sample_request(*op))
            else {
                assert!(contracts[op].request.is_none(), "{op:?}: no sample");
                continue;
            };
            let errors = super::super::contract::errors(validator, &body);
            assert!(
                errors.is_empty(),
                "{op:?}: {body} breaks the spec: {errors:?}"
            );
        }
    }
}
