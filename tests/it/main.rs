//! One integration-test binary (one link) with a module per behaviour.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on the unexpected

mod agents;
mod architecture;
mod audit;
mod boundaries;
mod calls;
mod cli;
mod client;
mod common;
mod confirm_http;
mod drift;
mod driver;
mod dry_run;
mod e2e;
mod exposed;
mod http;
mod landing;
/// build.rs's choice of linker arguments, with its own tests.
#[allow(dead_code)]
#[path = "../../build/layout.rs"]
mod layout;
mod overrides;
mod packaging;
mod properties;
mod readme;
mod safety;
mod sandbox;
mod telemetry;
mod tls;
mod tools;
