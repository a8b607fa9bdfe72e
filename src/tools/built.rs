//! The tool definitions build.rs derived from the table and the patched specs
//! (`OUT_DIR/tools.rs`): the rows in table order, and each row's schemas and call plans
//! as JSON. Serving reads these; it parses no spec (docs/architecture.md, "Build time").

use super::row::{Decision, ToolRow};
use crate::Operation;

/// The row that serves `op`. Only the generated [`TOOLS`] calls it, with the first
/// operation of each row build.rs read in the table, so the panic (a compile error:
/// this is evaluated in a `const`) cannot be reached by a table that builds.
const fn row(op: Operation) -> &'static ToolRow {
    match super::table::decide(op) {
        Decision::Tool(row) => row,
        Decision::Skipped(_) => panic!("build.rs listed a skipped operation as a tool"),
    }
}

include!(concat!(env!("OUT_DIR"), "/tools.rs"));

/// The name of the tool that serves `op`, for a text that names a tool (a hint's next
/// call), so that a tool's name is written in its row alone. Use it in a `const`:
/// naming an operation the table skips is then a compile error.
pub const fn tool_name(op: Operation) -> &'static str {
    match super::table::decide(op) {
        Decision::Tool(row) => row.name,
        Decision::Skipped(_) => panic!("no tool serves this operation"),
    }
}
