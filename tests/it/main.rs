//! One integration-test binary (one link) with a module per behaviour.

mod calls;
mod client;
mod common;
mod e2e;
mod overrides;
mod tools;
