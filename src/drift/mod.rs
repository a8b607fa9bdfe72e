//! The drift report: what an upstream spec change means for this server.
//!
//! A candidate spec is analysed as if it replaced `spec/management.yaml`: the overrides
//! are applied to it (each `needed`, `redundant` or `conflict`); the operations section
//! is upstream's own changes (the vendored spec against the candidate, both as written);
//! every tool row is re-derived against the patched candidate; and operations the build
//! does not know (neither bound by a row nor skipped) are listed as unbound.
//!
//! The two comparisons are reconciled change by change: a change of the patched specs
//! that upstream did not make is the shadow of an override that no longer applies (the
//! live shape it keeps, lost if it were dropped), listed under that override and never
//! counted as an upstream change; an upstream change the patched specs do not show is
//! one an override already serves (not breaking for this server). A change shown by an
//! operation and by a tool counts once. Every finding carries a fingerprint that stays
//! the same across runs.
//!
//! `inputs` reads each file once ([`load_inputs`]); `analysis` makes the [`Report`]
//! ([`run`]), whose types are in `report`; [`render`] writes it in each format.

/// What drift's warnings are logged under, whichever of its files says them.
const LOG_TARGET: &str = module_path!();

mod analysis;
pub mod diff;
mod inputs;
pub mod locate;
pub mod render;
mod report;

pub use analysis::run;
pub use inputs::{
    DriftError, InputFiles, Inputs, VENDORED_CP_SPEC, VENDORED_MANAGEMENT_SPEC, embedded_overrides,
    load_inputs,
};
pub use report::{
    ChangeFinding, ChangedOperation, Counts, FailOn, LostShape, OperationRef, Operations,
    OverrideFinding, OverrideStatus, Report, ToolFinding, ToolStatus, fingerprint,
};
