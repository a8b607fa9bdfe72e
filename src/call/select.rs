//! Tool selection: which tools a server lists and lets be called, from the operator's
//! selection (`--read-only`, `--toolsets`, `--tools`) narrowed by a caller's own (an
//! HTTP caller's headers), which can only take tools away.

use crate::config::Selection;
use crate::error::ToolError;
use crate::tools::Entry;
use crate::tools::table::Access;

/// Whether `entry` is admitted by the operator's `configured` selection and then by
/// the caller's `narrow` one; `Err` names the setting that excludes it.
pub(super) fn enabled(
    entry: &Entry,
    configured: &Selection,
    narrow: Option<&Selection>,
) -> Result<(), ToolError> {
    admitted(
        entry,
        configured,
        "read-only mode (--read-only / MOLECULE_MCP_READ_ONLY)",
        "the tool selection (--toolsets / --tools, MOLECULE_MCP_TOOLSETS / MOLECULE_MCP_TOOLS)",
    )?;
    match narrow {
        Some(selection) => admitted(
            entry,
            selection,
            "this request's X-MCP-Readonly header",
            "this request's X-MCP-Toolsets / X-MCP-Tools headers",
        ),
        None => Ok(()),
    }
}

/// Whether `selection` admits `entry`; `Err` names the setting that excludes it.
fn admitted(
    entry: &Entry,
    selection: &Selection,
    read_only: &str,
    chosen: &str,
) -> Result<(), ToolError> {
    let disabled = |reason: &str| ToolError::ToolDisabled {
        tool: entry.row.name.to_string(),
        reason: reason.to_string(),
    };
    if selection.read_only && entry.row.access != Access::Read {
        return Err(disabled(read_only));
    }
    let by_set = selection
        .toolsets
        .as_ref()
        .map(|s| s.contains(entry.row.toolset.name()));
    let by_name = selection.tools.as_ref().map(|s| s.contains(entry.row.name));
    match (by_set, by_name) {
        (None, None) | (Some(true), _) | (_, Some(true)) => Ok(()),
        _ => Err(disabled(chosen)),
    }
}
