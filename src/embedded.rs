//! The specs build.rs embeds (the vendored specs with the overrides applied, as JSON),
//! parsed once per process. A spec that does not parse is a broken build: it is reported
//! as an error naming the spec, never read as an empty document.

use crate::{Api, Operation};
use serde_json::Value;
use std::sync::OnceLock;

/// Which embedded spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmbeddedSpec {
    /// [`crate::PATCHED_MANAGEMENT_SPEC`].
    Management,
    /// [`crate::PATCHED_CP_SPEC`].
    ControlPlane,
}

impl EmbeddedSpec {
    /// How errors name it.
    pub fn name(self) -> &'static str {
        match self {
            EmbeddedSpec::Management => "management spec",
            EmbeddedSpec::ControlPlane => "cp-admin spec",
        }
    }

    /// Its JSON text.
    fn text(self) -> &'static str {
        match self {
            EmbeddedSpec::Management => crate::PATCHED_MANAGEMENT_SPEC,
            EmbeddedSpec::ControlPlane => crate::PATCHED_CP_SPEC,
        }
    }

    /// Parses its text.
    fn load(self) -> Result<Value, EmbeddedSpecError> {
        self.parse(self.text())
    }

    /// Parses `text` as this spec.
    fn parse(self, text: &str) -> Result<Value, EmbeddedSpecError> {
        serde_json::from_str(text).map_err(|e| EmbeddedSpecError {
            spec: self,
            reason: e.to_string(),
        })
    }
}

/// An embedded spec that is not valid JSON (a build problem).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("embedded {} is not valid JSON: {reason}", spec.name())]
pub struct EmbeddedSpecError {
    /// The spec that failed.
    pub spec: EmbeddedSpec,
    /// What the JSON parser said.
    pub reason: String,
}

/// Both embedded specs, parsed.
#[derive(Debug)]
pub struct Specs {
    /// The patched management (tenant) spec.
    pub management: Value,
    /// The patched control-plane spec.
    pub control_plane: Value,
}

impl Specs {
    /// The spec of `api`.
    pub fn of(&self, api: Api) -> &Value {
        match api {
            Api::Tenant => &self.management,
            Api::ControlPlane => &self.control_plane,
        }
    }
}

/// The embedded specs, parsed on first use.
pub fn specs() -> Result<&'static Specs, EmbeddedSpecError> {
    static SPECS: OnceLock<Result<Specs, EmbeddedSpecError>> = OnceLock::new();
    SPECS
        .get_or_init(|| {
            Ok(Specs {
                management: EmbeddedSpec::Management.load()?,
                control_plane: EmbeddedSpec::ControlPlane.load()?,
            })
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// The embedded spec that holds `op`.
pub fn spec_for(op: Operation) -> Result<&'static Value, EmbeddedSpecError> {
    Ok(specs()?.of(op.api()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_embedded_specs_parse_and_each_operation_is_in_the_spec_of_its_api() {
        let specs = specs().unwrap();
        for op in Operation::ALL {
            let doc = spec_for(*op).unwrap();
            let ids: Vec<String> = crate::spec::inventory::operations(doc)
                .into_iter()
                .map(|o| o.id)
                .collect();
            assert!(ids.iter().any(|id| id == op.operation_id()), "{op:?}");
            assert!(std::ptr::eq(doc, specs.of(op.api())));
        }
    }

    #[test]
    fn a_spec_that_does_not_parse_is_an_error_that_names_it() {
        let e = EmbeddedSpec::ControlPlane.parse("{").unwrap_err();
        assert_eq!(e.spec, EmbeddedSpec::ControlPlane);
        assert!(
            e.to_string()
                .starts_with("embedded cp-admin spec is not valid JSON: EOF while parsing"),
            "{e}"
        );
        let e = EmbeddedSpec::Management.parse("").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("embedded management spec is not valid JSON: "),
            "{e}"
        );
    }
}
