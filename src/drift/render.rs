//! The report's formats: text (summary line last), Markdown, JSON (the CI contract)
//! and GitHub workflow annotations.

use super::{ChangeFinding, Report};

/// Output formats of `molecule-mcp drift`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Plain text for a terminal.
    Text,
    /// Markdown for a PR comment.
    Markdown,
    /// JSON (see the README for the contract).
    Json,
    /// GitHub Actions `::error`/`::warning`/`::notice` lines.
    Github,
}

/// Renders `report` in `format`.
pub fn render(report: &Report, format: Format) -> String {
    match format {
        Format::Text => text(report),
        Format::Markdown => markdown(report),
        Format::Json => serde_json::to_string_pretty(report).unwrap_or_default() + "\n",
        Format::Github => github(report),
    }
}

/// The one-line summary.
pub fn summary_line(report: &Report) -> String {
    let s = &report.summary;
    format!(
        "Summary: overrides {} needed, {} redundant, {} conflict; operations {} added, {} removed, {} changed; \
         {} breaking; tools {} ok, {} missing_operation, {} schema_changed; {} unbound operations",
        s.overrides_needed,
        s.overrides_redundant,
        s.overrides_conflict,
        s.operations_added,
        s.operations_removed,
        s.operations_changed,
        s.breaking_changes,
        s.tools_ok,
        s.tools_missing_operation,
        s.tools_schema_changed,
        s.unbound_operations
    )
}

fn change_line(c: &ChangeFinding) -> String {
    format!(
        "{} {} at {}: {} [{}]",
        if c.breaking {
            "BREAKING"
        } else {
            "non-breaking"
        },
        c.kind,
        c.pointer,
        c.detail,
        c.fingerprint
    )
}

fn text(r: &Report) -> String {
    let mut out = format!("Drift report for {}\n\n1. Overrides\n", r.candidate);
    for o in &r.overrides {
        out += &format!(
            "  [{}] {} ({}): {} [{}]\n",
            o.status, o.id, o.file, o.detail, o.fingerprint
        );
    }
    out += "\n2. Operations\n";
    if r.operations.added.is_empty()
        && r.operations.removed.is_empty()
        && r.operations.changed.is_empty()
    {
        out += "  no changes\n";
    }
    for o in &r.operations.added {
        out += &format!(
            "  + added {} {} {} [{}]\n",
            o.operation_id, o.method, o.path, o.fingerprint
        );
    }
    for o in &r.operations.removed {
        out += &format!(
            "  - removed (BREAKING) {} {} {} [{}]\n",
            o.operation_id, o.method, o.path, o.fingerprint
        );
    }
    for o in &r.operations.changed {
        out += &format!("  ~ changed {} {} {}\n", o.operation_id, o.method, o.path);
        for c in &o.changes {
            out += &format!("      {}\n", change_line(c));
        }
    }
    out += "\n3. Tools\n";
    let ok = r.tools.iter().filter(|t| t.status == "ok").count();
    out += &format!("  {ok} ok\n");
    for t in r.tools.iter().filter(|t| t.status != "ok") {
        out += &format!(
            "  [{}] {} ({}) [{}]\n",
            t.status, t.name, t.operation_id, t.fingerprint
        );
        for c in &t.changes {
            out += &format!("      {}\n", change_line(c));
        }
    }
    out += "\n4. Unbound operations\n";
    if r.unbound_operations.is_empty() {
        out += "  none\n";
    }
    for o in &r.unbound_operations {
        out += &format!(
            "  {} {} {} [{}]\n",
            o.operation_id, o.method, o.path, o.fingerprint
        );
    }
    out += &format!("\n{}\n", summary_line(r));
    out
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn markdown(r: &Report) -> String {
    let mut out = format!(
        "## Drift report for `{}`\n\n### Overrides\n\n| Override | Status | Detail | Fingerprint |\n|---|---|---|---|\n",
        r.candidate
    );
    for o in &r.overrides {
        out += &format!(
            "| `{}` | {} | {} | `{}` |\n",
            o.file,
            o.status,
            md_escape(&o.detail),
            o.fingerprint
        );
    }
    out += "\n### Operations\n\n";
    let mut rows = Vec::new();
    for o in &r.operations.added {
        rows.push(format!(
            "| added | `{}` | `{} {}` | | | `{}` |",
            o.operation_id, o.method, o.path, o.fingerprint
        ));
    }
    for o in &r.operations.removed {
        rows.push(format!(
            "| removed | `{}` | `{} {}` | yes | | `{}` |",
            o.operation_id, o.method, o.path, o.fingerprint
        ));
    }
    for o in &r.operations.changed {
        for c in &o.changes {
            rows.push(format!(
                "| {} | `{}` | `{} {}` | {} | `{}`: {} | `{}` |",
                c.kind,
                o.operation_id,
                o.method,
                o.path,
                if c.breaking { "yes" } else { "no" },
                c.pointer,
                md_escape(&c.detail),
                c.fingerprint
            ));
        }
    }
    if rows.is_empty() {
        out += "No changes.\n";
    } else {
        out += "| Change | Operation | Route | Breaking | Where | Fingerprint |\n|---|---|---|---|---|---|\n";
        out += &(rows.join("\n") + "\n");
    }
    out += "\n### Tools\n\n";
    let not_ok: Vec<_> = r.tools.iter().filter(|t| t.status != "ok").collect();
    out += &format!(
        "{} of {} tools ok.\n",
        r.tools.len() - not_ok.len(),
        r.tools.len()
    );
    if !not_ok.is_empty() {
        out += "\n| Tool | Status | Change | Breaking | Where | Fingerprint |\n|---|---|---|---|---|---|\n";
        for t in not_ok {
            for c in &t.changes {
                out += &format!(
                    "| `{}` | {} | {} | {} | `{}`: {} | `{}` |\n",
                    t.name,
                    t.status,
                    c.kind,
                    if c.breaking { "yes" } else { "no" },
                    c.pointer,
                    md_escape(&c.detail),
                    c.fingerprint
                );
            }
        }
    }
    out += "\n### Unbound operations\n\n";
    if r.unbound_operations.is_empty() {
        out += "None.\n";
    }
    for o in &r.unbound_operations {
        out += &format!(
            "- `{}` `{} {}` (`{}`)\n",
            o.operation_id, o.method, o.path, o.fingerprint
        );
    }
    out += &format!("\n**{}**\n", summary_line(r));
    out
}

fn gh_escape(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn github(r: &Report) -> String {
    let mut out = String::new();
    let mut line = |level: &str, title: &str, message: String| {
        out += &format!(
            "::{level} title={}::{}\n",
            gh_escape(title),
            gh_escape(&message)
        );
    };
    for o in &r.overrides {
        match o.status {
            "conflict" => line(
                "error",
                "override conflict",
                format!("{}: {} [{}]", o.file, o.detail, o.fingerprint),
            ),
            "redundant" => line(
                "warning",
                "override redundant",
                format!("{}: {} [{}]", o.file, o.detail, o.fingerprint),
            ),
            _ => {}
        }
    }
    for o in &r.operations.removed {
        line(
            "error",
            "operation removed",
            format!(
                "{} {} {} [{}]",
                o.operation_id, o.method, o.path, o.fingerprint
            ),
        );
    }
    for o in &r.operations.added {
        line(
            "notice",
            "operation added",
            format!(
                "{} {} {} [{}]",
                o.operation_id, o.method, o.path, o.fingerprint
            ),
        );
    }
    for o in &r.operations.changed {
        for c in &o.changes {
            let level = if c.breaking { "error" } else { "notice" };
            line(
                level,
                "operation changed",
                format!("{}: {}", o.operation_id, change_line(c)),
            );
        }
    }
    for t in r.tools.iter().filter(|t| t.status != "ok") {
        for c in &t.changes {
            let level = if t.status == "missing_operation" || c.breaking {
                "error"
            } else {
                "warning"
            };
            line(
                level,
                &format!("tool {}", t.status),
                format!("{}: {}", t.name, change_line(c)),
            );
        }
    }
    for o in &r.unbound_operations {
        line(
            "warning",
            "unbound operation",
            format!(
                "{} {} {} has no tool [{}]",
                o.operation_id, o.method, o.path, o.fingerprint
            ),
        );
    }
    line("notice", "drift summary", summary_line(r));
    out
}
