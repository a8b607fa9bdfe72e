//! The `overrides/` patches: one RFC 6902 JSON Patch per known-stale shape, whose
//! leading `test` ops assert the stale shape is still in the spec.
//!
//! Classification against a spec:
//! - **needed**: every `test` holds and every write applies (the stale shape is there;
//!   the patch writes the live one). Tests compare *shapes*: descriptions are ignored, so
//!   upstream rewording a description neither blocks the build nor hides a real change;
//! - **redundant**: a `test` fails, but every value the patch writes is already there
//!   (descriptions aside), so the spec holds the live shape — the file can be deleted;
//! - **conflict**: neither — the spec changed there in another way; a human must decide.

use serde::Deserialize;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// One override file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Override {
    /// Stable id, e.g. `001-llm-billing-mode`.
    pub id: String,
    /// One-line title.
    pub title: String,
    /// Why the vendored spec is wrong here.
    pub why: String,
    /// The live handler that is the source of truth.
    pub source: String,
    /// The upstream issue tracking the fix.
    pub upstream_issue: String,
    /// When the file can be deleted.
    pub delete_when: String,
    /// The RFC 6902 patch; its first ops are `test`s.
    pub patch: json_patch::Patch,
    /// The file name (set by the loader, not read from the file).
    #[serde(skip)]
    pub file: String,
}

/// Why the override files could not be used.
#[derive(Debug, thiserror::Error)]
pub enum OverrideError {
    /// The folder or a file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The folder or file.
        path: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A file is not a valid override.
    #[error("{file}: not a valid override: {message}")]
    Invalid {
        /// The file.
        file: String,
        /// What is wrong with it.
        message: String,
    },
}

/// What an override is, relative to one spec.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// Its tests pass: the stale shape is there and the patch corrects it.
    Needed,
    /// The spec already holds the live shape: delete the file.
    Redundant,
    /// The spec changed at the patched place in another way.
    Conflict(Box<Conflict>),
}

impl Status {
    /// `needed`, `redundant` or `conflict`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Needed => "needed",
            Status::Redundant => "redundant",
            Status::Conflict(_) => "conflict",
        }
    }
}

/// Where and how an override stopped applying.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    /// Zero-based index of the failing op in the patch.
    pub op_index: usize,
    /// The failing op's name (`test`, `replace`, ...).
    pub op: String,
    /// The JSON pointer it failed at.
    pub pointer: String,
    /// For a `test`: the value the override expected there.
    pub expected: Option<Value>,
    /// The value the spec holds there (`None`: nothing there).
    pub found: Option<Value>,
    /// The patch library's reason.
    pub reason: String,
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "op #{} (`{}`) at `{}` failed: {}",
            self.op_index, self.op, self.pointer, self.reason
        )?;
        // For a whole-schema `test`, point at the first place where the spec differs.
        let (pointer, expected, found) = match (&self.expected, &self.found) {
            (Some(e), Some(x)) => first_difference(e, x, &self.pointer).unwrap_or((
                self.pointer.clone(),
                Some(e),
                Some(x),
            )),
            (e, x) => (self.pointer.clone(), e.as_ref(), x.as_ref()),
        };
        if pointer != self.pointer {
            write!(f, "; first difference at `{pointer}`")?;
        }
        if let Some(expected) = expected {
            write!(f, "; expected {}", compact(expected))?;
        } else if self.expected.is_some() {
            write!(f, "; expected nothing there")?;
        }
        match found {
            Some(found) => write!(f, "; the spec has {}", compact(found)),
            None => write!(f, "; the spec has nothing there"),
        }
    }
}

/// The first pointer (under `base`) where `a` and `b` differ, with both values there.
fn first_difference<'a>(
    a: &'a Value,
    b: &'a Value,
    base: &str,
) -> Option<(String, Option<&'a Value>, Option<&'a Value>)> {
    if a == b {
        return None;
    }
    if let (Value::Object(x), Value::Object(y)) = (a, b) {
        let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
        for key in keys {
            let at = format!("{base}/{}", super::inventory::escape_token(key));
            match (x.get(key), y.get(key)) {
                (Some(p), Some(q)) => {
                    if let Some(found) = first_difference(p, q, &at) {
                        return Some(found);
                    }
                }
                (p, q) => return Some((at, p, q)),
            }
        }
    }
    Some((base.to_string(), Some(a), Some(b)))
}

fn compact(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 300 {
        format!("{}…", super::text::char_prefix(&s, 300))
    } else {
        s
    }
}

/// What deleting the override in `file` takes: the file and its row in the index. The
/// build's to-do list (`landing.rs`) and the drift report both say it in these words.
pub fn delete_instruction(file: &str) -> String {
    format!("overrides/{file} and its row in overrides/README.md")
}

/// Every `*.yaml`/`*.yml`/`*.json` file in `dir`, parsed, in file-name order.
pub fn load_dir(dir: &Path) -> Result<Vec<Override>, OverrideError> {
    let read_err = |path: &Path, source| OverrideError::Read {
        path: path.display().to_string(),
        source,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| read_err(dir, e))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| is_override_file(p))
        .collect();
    files.sort();
    files
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).map_err(|e| read_err(path, e))?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            parse(&name, &text)
        })
        .collect()
}

/// True for the files [`load_dir`] reads.
pub fn is_override_file(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

/// Parses one override file's text.
pub fn parse(file: &str, text: &str) -> Result<Override, OverrideError> {
    let invalid = |message: String| OverrideError::Invalid {
        file: file.to_string(),
        message,
    };
    let mut ov: Override = yaml_serde::from_str(text).map_err(|e| invalid(e.to_string()))?;
    ov.file = file.to_string();
    match ov.patch.0.first() {
        Some(json_patch::PatchOperation::Test(_)) => Ok(ov),
        _ => Err(invalid(
            "the patch must start with a `test` op asserting the stale shape".to_string(),
        )),
    }
}

/// Classifies `ov` against `doc`; for a needed override also returns the patched doc.
pub fn classify(doc: &Value, ov: &Override) -> (Status, Option<Value>) {
    use json_patch::PatchOperation as P;
    // `test` ops compare shapes: a reworded description upstream is not a new shape,
    // and must not block the build.
    let failed_test = ov.patch.0.iter().enumerate().find_map(|(i, op)| match op {
        P::Test(t) => {
            let found = doc.pointer(t.path.as_str());
            (!found.is_some_and(|v| same_shape(v, &t.value))).then_some((i, t, found))
        }
        _ => None,
    });
    let conflict = match failed_test {
        None => {
            let writes: Vec<P> = ov
                .patch
                .0
                .iter()
                .filter(|op| !matches!(op, P::Test(_)))
                .cloned()
                .collect();
            let mut patched = doc.clone();
            match json_patch::patch(&mut patched, &writes) {
                Ok(()) => return (Status::Needed, Some(patched)),
                Err(err) => {
                    // Index in the override's own list, tests included.
                    let index = ov
                        .patch
                        .0
                        .iter()
                        .enumerate()
                        .filter(|(_, op)| !matches!(op, P::Test(_)))
                        .nth(err.operation)
                        .map(|(i, _)| i)
                        .unwrap_or(err.operation);
                    let pointer = err.path.as_str().to_string();
                    Conflict {
                        op_index: index,
                        op: ov
                            .patch
                            .0
                            .get(index)
                            .map(op_name)
                            .unwrap_or("?")
                            .to_string(),
                        found: doc.pointer(&pointer).cloned(),
                        pointer,
                        expected: None,
                        reason: err.kind.to_string(),
                    }
                }
            }
        }
        Some((index, test, found)) => Conflict {
            op_index: index,
            op: "test".into(),
            pointer: test.path.as_str().to_string(),
            expected: Some(test.value.clone()),
            found: found.cloned(),
            reason: "the spec no longer holds the stale shape this override corrects".into(),
        },
    };
    if already_live(doc, &ov.patch.0) {
        return (Status::Redundant, None);
    }
    (Status::Conflict(Box::new(conflict)), None)
}

/// Whether every value the patch writes is already in `doc` (descriptions aside:
/// wording is not shape), and everything it removes is already gone.
fn already_live(doc: &Value, patch: &[json_patch::PatchOperation]) -> bool {
    use json_patch::PatchOperation as P;
    patch.iter().all(|op| match op {
        P::Test(_) => true,
        P::Add(a) => doc
            .pointer(a.path.as_str())
            .is_some_and(|v| same_shape(v, &a.value)),
        P::Replace(r) => doc
            .pointer(r.path.as_str())
            .is_some_and(|v| same_shape(v, &r.value)),
        P::Remove(r) => doc.pointer(r.path.as_str()).is_none(),
        P::Move(_) | P::Copy(_) => false,
    })
}

/// Equality of two schemas ignoring every `description`.
pub fn same_shape(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys = |m: &serde_json::Map<String, Value>| {
                m.keys()
                    .filter(|k| *k != "description")
                    .cloned()
                    .collect::<std::collections::BTreeSet<_>>()
            };
            keys(x) == keys(y) && keys(x).iter().all(|k| same_shape(&x[k], &y[k]))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_shape(a, b))
        }
        _ => a == b,
    }
}

fn op_name(op: &json_patch::PatchOperation) -> &'static str {
    use json_patch::PatchOperation as P;
    match op {
        P::Add(_) => "add",
        P::Remove(_) => "remove",
        P::Replace(_) => "replace",
        P::Move(_) => "move",
        P::Copy(_) => "copy",
        P::Test(_) => "test",
    }
}

/// The result of applying a list of overrides in order.
#[derive(Debug, Clone)]
pub struct Applied {
    /// The spec with every needed override applied.
    pub doc: Value,
    /// Each override's status, in application order.
    pub statuses: Vec<(Override, Status)>,
}

impl Applied {
    /// The overrides that conflict, with their conflicts.
    pub fn conflicts(&self) -> impl Iterator<Item = (&Override, &Conflict)> {
        self.statuses.iter().filter_map(|(ov, st)| match st {
            Status::Conflict(c) => Some((ov, c.as_ref())),
            _ => None,
        })
    }

    /// The overrides whose live shape is already in the spec.
    pub fn redundant(&self) -> impl Iterator<Item = &Override> {
        self.statuses
            .iter()
            .filter(|(_, st)| *st == Status::Redundant)
            .map(|(ov, _)| ov)
    }
}

/// Applies each override in order; redundant and conflicting ones are skipped and
/// reported, so the caller decides whether that is fatal.
pub fn apply_all(doc: &Value, overrides: &[Override]) -> Applied {
    let mut current = doc.clone();
    let mut statuses = Vec::with_capacity(overrides.len());
    for ov in overrides {
        let (status, patched) = classify(&current, ov);
        if let Some(patched) = patched {
            current = patched;
        }
        statuses.push((ov.clone(), status));
    }
    Applied {
        doc: current,
        statuses,
    }
}
