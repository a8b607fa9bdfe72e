//! The spec documents as data: loading OpenAPI files, applying and classifying the
//! `overrides/` patches, and the operation inventory.
//!
//! This module is compiled twice: by `build.rs` (through `#[path]`) to patch the
//! vendored spec before generation, and by the crate, where the drift report and the
//! tool schemas reuse exactly the same code. It may therefore only depend on crates
//! that are both build- and normal dependencies (serde, serde_json, yaml_serde,
//! json-patch, thiserror).

pub mod inventory;
pub mod load;
pub mod overrides;
