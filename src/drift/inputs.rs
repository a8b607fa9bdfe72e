//! The drift report's inputs: the candidate specs, the baselines and the overrides, each
//! file read once (its text parsed, and indexed for the lines annotations point at).

use super::locate::FileLines;
use crate::spec::load::{self, Loaded, SpecError};
use crate::spec::overrides::{self, Override, OverrideError};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The override files build.rs embeds, as `(file name, text)`.
mod override_files {
    include!(concat!(env!("OUT_DIR"), "/overrides_embedded.rs"));
}

/// The vendored management spec as written (before overrides).
pub const VENDORED_MANAGEMENT_SPEC: &str = include_str!("../../spec/management.yaml");
/// The vendored control-plane spec as written.
pub const VENDORED_CP_SPEC: &str = include_str!("../../spec/cp-admin.yaml");

/// The override files build.rs embeds, parsed, in application order.
pub fn embedded_overrides() -> Result<Vec<Override>, OverrideError> {
    override_files::OVERRIDES
        .iter()
        .map(|(file, text)| overrides::parse(file, text))
        .collect()
}

/// What to compare.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// Name of the candidate, for the report.
    pub candidate_name: String,
    /// The candidate management spec, as written upstream (unpatched).
    pub candidate: Value,
    /// The vendored management spec as written (unpatched): upstream's changes are the
    /// candidate against it.
    pub vendored: Value,
    /// The candidate CP spec (`--cp-spec`, or the embedded one: a self-check).
    pub candidate_cp: Value,
    /// The vendored spec with overrides applied (the baseline the binary was built from).
    pub baseline: Value,
    /// The embedded CP spec (the control-plane spec has no overrides).
    pub baseline_cp: Value,
    /// The overrides, in order.
    pub overrides: Vec<Override>,
    /// The files the findings point into.
    pub files: InputFiles,
}

/// The source files behind the inputs, for `file=`/`line=` in annotations.
#[derive(Debug, Clone, Default)]
pub struct InputFiles {
    /// The candidate management spec (`--spec` as given, or `spec/management.yaml`).
    pub candidate: FileLines,
    /// The candidate CP spec.
    pub candidate_cp: FileLines,
    /// The vendored management spec (where removed operations were).
    pub baseline: FileLines,
    /// The vendored CP spec.
    pub baseline_cp: FileLines,
    /// Each override's file, keyed by [`Override::file`].
    pub overrides: BTreeMap<String, FileLines>,
}

/// Why the drift inputs could not be read (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum DriftError {
    /// A spec file is unreadable, unparsable, not OpenAPI 3.0/3.1, or uses 3.1
    /// keywords with no 3.0 form where they matter.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// An override file is unreadable or invalid.
    #[error(transparent)]
    Override(#[from] OverrideError),
    /// An embedded spec is broken (a build problem).
    #[error(transparent)]
    Embedded(#[from] crate::embedded::EmbeddedSpecError),
}

fn warn_dropped(name: &str, loaded: &Loaded) {
    for note in &loaded.dropped {
        tracing::warn!(target: super::LOG_TARGET, "{name}: {note}");
    }
}

/// Reads the inputs: the candidate (default: the vendored spec, i.e. a self-check),
/// the CP candidate (default: the embedded CP spec) and the overrides (default: the
/// embedded ones). Candidates may be OpenAPI 3.0 or 3.1: they are normalised exactly as
/// build.rs normalises `spec/` (keywords dropped from response-only schemas are logged
/// as warnings on stderr), so a 3.1 document and its 3.0 rendering give one report.
pub fn load_inputs(
    spec: Option<&Path>,
    cp_spec: Option<&Path>,
    overrides_dir: Option<&Path>,
) -> Result<Inputs, DriftError> {
    let baseline = FileLines::new("spec/management.yaml", VENDORED_MANAGEMENT_SPEC);
    let baseline_cp = FileLines::new("spec/cp-admin.yaml", VENDORED_CP_SPEC);
    let vendored = load::parse("spec/management.yaml", VENDORED_MANAGEMENT_SPEC)?;
    let (candidate_name, candidate, candidate_source) = match spec {
        Some(path) => {
            let (loaded, source) = read_spec(path)?;
            (path.display().to_string(), loaded, source)
        }
        None => (
            "the vendored spec/management.yaml (self-check)".to_string(),
            vendored.clone(),
            baseline.clone(),
        ),
    };
    let embedded = crate::embedded::specs()?;
    let (candidate_cp, candidate_cp_source) = match cp_spec {
        Some(path) => {
            let (loaded, source) = read_spec(path)?;
            warn_dropped(&path.display().to_string(), &loaded);
            (loaded.doc, source)
        }
        None => (embedded.control_plane.clone(), baseline_cp.clone()),
    };
    warn_dropped(&candidate_name, &candidate);
    let (overrides, override_lines) = match overrides_dir {
        Some(dir) => read_overrides(dir)?,
        None => (
            embedded_overrides()?,
            override_files::OVERRIDES
                .iter()
                .map(|(file, text)| {
                    (
                        file.to_string(),
                        FileLines::new(format!("overrides/{file}"), text),
                    )
                })
                .collect(),
        ),
    };
    Ok(Inputs {
        candidate_name,
        candidate: candidate.doc,
        vendored: vendored.doc,
        candidate_cp,
        baseline: embedded.management.clone(),
        baseline_cp: embedded.control_plane.clone(),
        overrides,
        files: InputFiles {
            candidate: candidate_source,
            candidate_cp: candidate_cp_source,
            baseline,
            baseline_cp,
            overrides: override_lines,
        },
    })
}

/// Reads a spec file once: its text parsed and normalised, and indexed for annotations
/// (both named by `path` as given).
fn read_spec(path: &Path) -> Result<(Loaded, FileLines), DriftError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read {
        path: name.clone(),
        source,
    })?;
    let loaded = load::parse(&name, &text)?;
    Ok((loaded, FileLines::new(name, &text)))
}

/// Reads the override files of `dir` once each: the files [`overrides::load_dir`] reads,
/// in its order, parsed, and indexed for annotations by [`Override::file`].
fn read_overrides(dir: &Path) -> Result<(Vec<Override>, BTreeMap<String, FileLines>), DriftError> {
    let read_error = |path: &Path, source| OverrideError::Read {
        path: path.display().to_string(),
        source,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| read_error(dir, e))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| overrides::is_override_file(p))
        .collect();
    files.sort();
    let mut parsed = Vec::with_capacity(files.len());
    let mut lines = BTreeMap::new();
    for path in &files {
        let text = std::fs::read_to_string(path).map_err(|e| read_error(path, e))?;
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let ov = overrides::parse(&file, &text)?;
        lines.insert(file, FileLines::new(path.display().to_string(), &text));
        parsed.push(ov);
    }
    Ok((parsed, lines))
}
