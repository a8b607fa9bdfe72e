//! The first step of a call: the arguments against the tool's exact schema, each
//! error naming the field and the rule.

use crate::error::ToolError;
use crate::tools::Entry;
use crate::tools::derive::Location;
use serde_json::Value;

/// Validates `args` against the exact schema; every error names the field and the rule.
/// Values are masked in messages, so a secret passed in the wrong place is not echoed.
pub fn validate(entry: &Entry, args: &Value) -> Result<(), ToolError> {
    let validator = entry.validator().map_err(ToolError::Internal)?;
    if validator.is_valid(args) {
        return Ok(());
    }
    let problems: Vec<String> = validator
        .iter_errors(args)
        .map(|e| {
            describe(
                entry,
                e.instance_path().as_str(),
                e.kind(),
                &e.masked().to_string(),
            )
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ToolError::InvalidArguments(problems))
    }
}

fn describe(
    entry: &Entry,
    pointer: &str,
    kind: &jsonschema::error::ValidationErrorKind,
    message: &str,
) -> String {
    use jsonschema::error::ValidationErrorKind as K;
    let field = pointer.trim_start_matches('/').replace('/', ".");
    let rule = match kind {
        K::Not { .. } if field_location(entry, &field) == Some(Location::Path) => {
            "must not be `.` or `..` (an id is exactly one path segment)".to_string()
        }
        K::Pattern { .. } if field_location(entry, &field) == Some(Location::Header) => {
            "must not contain control characters such as CR or LF (it is sent as a header)"
                .to_string()
        }
        // The validator's own message names two values and counts the rest; an agent
        // needs all of them (and whether `null` is one) to correct the call.
        K::Enum { options } => allowed_values(options),
        K::AnyOf { .. } | K::OneOfNotValid { .. } if field.is_empty() => {
            let names = entry.validation().map(one_of_required).unwrap_or_default();
            if names.is_empty() {
                message.to_string()
            } else {
                format!("{} is required", names.join(" or "))
            }
        }
        _ => message.to_string(),
    };
    if field.is_empty() {
        rule
    } else {
        format!("`{field}`: {rule}")
    }
}

/// "must be one of "a", "b" or null": every value of an enum, `null` last.
fn allowed_values(options: &Value) -> String {
    let values = options.as_array().map(Vec::as_slice).unwrap_or_default();
    let mut listed: Vec<String> = values
        .iter()
        .filter(|v| !v.is_null())
        .map(Value::to_string)
        .collect();
    if values.iter().any(Value::is_null) {
        listed.push("null".into());
    }
    match listed.split_last() {
        None => "no value is allowed".into(),
        Some((only, [])) => format!("must be {only}"),
        Some((last, rest)) => format!("must be one of {} or {last}", rest.join(", ")),
    }
}

fn field_location(entry: &Entry, field: &str) -> Option<Location> {
    entry
        .derived
        .plans
        .iter()
        .flat_map(|p| &p.targets)
        .find(|t| t.tool == field)
        .map(|t| t.location)
}

fn one_of_required(validation: &Value) -> Vec<String> {
    ["anyOf", "oneOf"]
        .iter()
        .filter_map(|k| validation.get(*k).and_then(Value::as_array))
        .flatten()
        .filter_map(|b| b.get("required").and_then(Value::as_array))
        .flatten()
        .filter_map(Value::as_str)
        .map(|s| format!("`{s}`"))
        .collect()
}
