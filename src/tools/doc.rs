//! Renderings of the catalogue for people and scripts: `molecule-mcp tools` and the
//! README tool table (a test keeps the README equal to [`tools_markdown`]).

use super::Entry;
use super::table::Access;
use serde_json::Value;

/// Every tool definition exactly as `tools/list` serves it, as a pretty JSON array.
pub fn tools_json<'a>(entries: impl Iterator<Item = &'a Entry>) -> String {
    let tools: Vec<&rmcp::model::Tool> = entries.map(|e| &e.tool).collect();
    serde_json::to_string_pretty(&tools).unwrap_or_default()
}

/// The Markdown tool table: one row per tool; required arguments plain, optional
/// ones with a trailing `?`.
pub fn tools_markdown<'a>(entries: impl Iterator<Item = &'a Entry>) -> String {
    let mut out = String::from(
        "| Tool | Toolset | Access | Arguments | Description |\n|---|---|---|---|---|\n",
    );
    for entry in entries {
        let input = &entry.derived.input;
        let required: Vec<&str> = input
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let args: Vec<String> = input
            .get("properties")
            .and_then(Value::as_object)
            .map(|p| {
                p.keys()
                    .map(|k| {
                        if required.contains(&k.as_str()) {
                            format!("`{k}`")
                        } else {
                            format!("`{k}`?")
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        let access = match entry.row.access {
            Access::Read => "read",
            Access::Write => "write",
            Access::Replace => "replace",
            Access::Destructive => "destructive",
        };
        out += &format!(
            "| `{}` | {} | {} | {} | {} |\n",
            entry.row.name,
            entry.row.toolset.name(),
            access,
            if args.is_empty() {
                "—".to_string()
            } else {
                args.join(", ")
            },
            entry.row.description.replace('|', "\\|"),
        );
    }
    out
}
