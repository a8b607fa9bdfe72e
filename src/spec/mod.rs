//! The spec documents as data: loading OpenAPI files (3.0 or 3.1, normalised to the 3.0
//! subset), applying and classifying the `overrides/` patches, the operation inventory,
//! and the maintainer's to-do list when a new spec lands.
//!
//! This module is compiled twice: by `build.rs` (through `#[path]`) to patch the
//! vendored spec and read the tool table before generation, and by the crate, where the
//! drift report, the tests and the landing walkthrough reuse exactly the same code. It
//! may therefore only depend on crates that are both build- and normal dependencies
//! (serde, serde_json, yaml_serde, json-patch, thiserror, syn, proc-macro2, heck), and
//! of this crate only on `crate::Operation` and `crate::tools::row`, which build.rs
//! provides under the same names (docs/architecture.md, "Build time").

pub mod inventory;
pub mod landing;
pub mod load;
pub mod normalise;
pub mod overrides;
pub mod source;
pub mod text;
