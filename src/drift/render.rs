//! The report's formats: text (a verdict first, the summary line last), Markdown (the
//! same verdict first, for a job summary or a PR comment), JSON (the CI contract) and
//! GitHub workflow annotations (`file=`/`line=` on each finding whose place is known, so
//! they land on the lines a pull request changed).

use super::locate::FileLine;
use super::{ChangeFinding, LostShape, OverrideStatus, Report, ToolStatus};

/// Output formats of `molecule-mcp drift` (also its `--format` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// Plain text for a terminal.
    Text,
    /// Markdown for a job summary or a PR comment.
    Markdown,
    /// JSON (see the README for the contract).
    Json,
    /// GitHub Actions `::error`/`::warning`/`::notice` lines.
    Github,
}

/// Renders `report` in `format`.
pub fn render(report: &Report, format: ReportFormat) -> String {
    match format {
        ReportFormat::Text => plain_text(report),
        ReportFormat::Markdown => markdown(report),
        ReportFormat::Json => serde_json::to_string_pretty(report).unwrap_or_default() + "\n",
        ReportFormat::Github => github(report),
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

/// Why an upstream change an override already made breaks nothing here.
fn served(c: &ChangeFinding) -> String {
    match &c.served_by {
        Some(id) => format!(" (override {id} already serves this shape)"),
        None => String::new(),
    }
}

fn change_line(c: &ChangeFinding) -> String {
    format!(
        "{} {} at {}: {}{} [{}]",
        if c.breaking() {
            "BREAKING"
        } else {
            "non-breaking"
        },
        c.kind,
        c.pointer,
        c.detail,
        served(c),
        c.fingerprint
    )
}

/// A live shape an override keeps, as one line: the operation, what dropping the
/// override would change, and the tools that would show it.
fn lost_line(l: &LostShape) -> String {
    let tools = if l.tools.is_empty() {
        String::new()
    } else {
        format!(" (tools: {})", l.tools.join(", "))
    };
    format!(
        "{}: {} at {}: {}{tools} [{}]",
        l.operation_id, l.change.kind, l.change.pointer, l.change.detail, l.change.fingerprint
    )
}

/// What the lines under an override that does not apply are.
const LOST_HEADING: &str =
    "live shapes it keeps, lost if it were dropped (upstream did not change them):";

fn plain_text(r: &Report) -> String {
    let (label, sentence) = verdict_parts(r);
    let mut out = format!(
        "{label}: {sentence}\n\nDrift report for {}\n\n1. Overrides\n",
        r.candidate
    );
    for o in &r.overrides {
        out += &format!(
            "  [{}] {} ({}): {} [{}]\n",
            o.status, o.id, o.file, o.detail, o.fingerprint
        );
        if !o.lost_if_dropped.is_empty() {
            out += &format!("      {LOST_HEADING}\n");
        }
        for l in &o.lost_if_dropped {
            out += &format!("        {}\n", lost_line(l));
        }
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
    let ok = r
        .tools
        .iter()
        .filter(|t| t.status == ToolStatus::Ok)
        .count();
    out += &format!("  {ok} ok\n");
    for t in r.tools.iter().filter(|t| t.status != ToolStatus::Ok) {
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

/// A detail for a table cell: short ones as they are; long ones (a conflict's JSON values)
/// folded, the first clause as the summary.
fn md_detail(s: &str) -> String {
    const LONG: usize = 160;
    if s.chars().count() <= LONG {
        return md_escape(s);
    }
    let (head, body) = match s.split_once("; ") {
        Some((head, rest)) if head.chars().count() <= LONG => (head.to_string(), rest),
        _ => {
            let cut = s
                .char_indices()
                .take_while(|(i, _)| *i <= LONG - 20)
                .filter(|(_, c)| *c == ' ')
                .last()
                .map_or(0, |(i, _)| i);
            (format!("{}…", &s[..cut]), s)
        }
    };
    format!(
        "<details><summary>{}</summary>{}</details>",
        md_escape(&head),
        md_escape(body)
    )
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The report's verdict in one sentence, in Markdown: how bad, then what to do, most
/// urgent first.
pub fn verdict(r: &Report) -> String {
    let (label, sentence) = verdict_parts(r);
    format!("**{label}:** {sentence}")
}

/// The verdict's label (`Blocked`, `Breaking`, `Clean-up`, `No drift`) and its sentence.
fn verdict_parts(r: &Report) -> (&'static str, String) {
    let s = &r.summary;
    let non_breaking = s.non_breaking_changes;
    let mut actions = Vec::new();
    let mut add = |n: usize, one: &str, many: &str, what: &str| {
        if n > 0 {
            actions.push(format!("{what} {}", plural(n, one, many)));
        }
    };
    add(
        s.overrides_conflict,
        "conflicting override",
        "conflicting overrides",
        "rewrite or delete",
    );
    add(
        s.tools_missing_operation,
        "tool whose operation is gone",
        "tools whose operation is gone",
        "rebind or skip",
    );
    add(
        s.breaking_changes,
        "breaking change",
        "breaking changes",
        "review",
    );
    add(
        s.overrides_redundant,
        "redundant override",
        "redundant overrides",
        "delete",
    );
    add(
        s.unbound_operations,
        "new operation",
        "new operations",
        "bind or skip",
    );
    add(
        non_breaking,
        "non-breaking change",
        "non-breaking changes",
        "note",
    );
    let (label, tail) = if s.overrides_conflict + s.tools_missing_operation > 0 {
        ("Blocked", "; the build fails until then")
    } else if s.breaking_changes > 0 {
        (
            "Breaking",
            "; callers of the changed tools may need to change",
        )
    } else if actions.is_empty() {
        return (
            "No drift",
            "nothing to do; the spec, the overrides and the tool table agree.".to_string(),
        );
    } else {
        ("Clean-up", "; nothing breaks")
    };
    let list = match actions.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => actions.concat(),
    };
    let mut chars = list.chars();
    let list: String = chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default();
    (label, format!("{list}{tail}."))
}

fn markdown(r: &Report) -> String {
    let mut out = format!(
        "{}\n\nDrift report for `{}`. {}\n\n### Overrides\n\n| Override | Status | Detail | Fingerprint |\n|---|---|---|---|\n",
        verdict(r),
        r.candidate,
        summary_line(r)
    );
    for o in &r.overrides {
        out += &format!(
            "| `{}` | {} | {} | `{}` |\n",
            o.file,
            o.status,
            md_detail(&o.detail),
            o.fingerprint
        );
    }
    for o in r.overrides.iter().filter(|o| !o.lost_if_dropped.is_empty()) {
        out += &format!(
            "\n#### Live shapes `{}` keeps\n\nLost if it were dropped; upstream did not change them.\n\n\
             | Operation | Change | Where | Tools | Fingerprint |\n|---|---|---|---|---|\n",
            o.file
        );
        for l in &o.lost_if_dropped {
            let tools: Vec<String> = l.tools.iter().map(|t| format!("`{t}`")).collect();
            out += &format!(
                "| `{}` | {} | `{}`: {} | {} | `{}` |\n",
                l.operation_id,
                l.change.kind,
                l.change.pointer,
                md_detail(&l.change.detail),
                tools.join(", "),
                l.change.fingerprint
            );
        }
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
                if c.breaking() { "yes" } else { "no" },
                c.pointer,
                md_detail(&format!("{}{}", c.detail, served(c))),
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
    let not_ok: Vec<_> = r
        .tools
        .iter()
        .filter(|t| t.status != ToolStatus::Ok)
        .collect();
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
                    if c.breaking() { "yes" } else { "no" },
                    c.pointer,
                    md_detail(&c.detail),
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
    out
}

/// Escapes a workflow-command message (docs/drift-ci.md).
fn gh_escape(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow-command property value (`:` and `,` delimit properties).
fn gh_property(s: &str) -> String {
    gh_escape(s).replace(':', "%3A").replace(',', "%2C")
}

fn github(r: &Report) -> String {
    let mut out = String::new();
    let mut line = |level: &str, at: Option<&FileLine>, title: &str, message: String| {
        let mut properties = Vec::new();
        if let Some(at) = at {
            properties.push(format!("file={}", gh_property(&at.file)));
            if let Some(n) = at.line {
                properties.push(format!("line={n}"));
            }
        }
        properties.push(format!("title={}", gh_property(title)));
        out += &format!(
            "::{level} {}::{}\n",
            properties.join(","),
            gh_escape(&message)
        );
    };
    for o in &r.overrides {
        let level = match o.status {
            OverrideStatus::Conflict => "error",
            OverrideStatus::Redundant => "warning",
            OverrideStatus::Needed => continue,
        };
        line(
            level,
            o.location.as_ref(),
            &format!("override {}", o.status),
            format!("{}: {} [{}]", o.file, o.detail, o.fingerprint),
        );
        // One notice on the override's own line, beside the conflict: what it keeps is
        // why deleting it is not the obvious fix.
        if !o.lost_if_dropped.is_empty() {
            let lines: Vec<String> = o
                .lost_if_dropped
                .iter()
                .map(|l| format!("- {}", lost_line(l)))
                .collect();
            line(
                "notice",
                o.location.as_ref(),
                "live shapes the override keeps",
                format!(
                    "{}: {}\n{}",
                    o.file,
                    plural(o.lost_if_dropped.len(), "live shape", "live shapes")
                        + " upstream did not change would be lost if it were dropped:",
                    lines.join("\n")
                ),
            );
        }
    }
    for o in &r.operations.removed {
        line(
            "error",
            o.location.as_ref(),
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
            o.location.as_ref(),
            "operation added",
            format!(
                "{} {} {} [{}]",
                o.operation_id, o.method, o.path, o.fingerprint
            ),
        );
    }
    for o in &r.operations.changed {
        for c in &o.changes {
            let level = if c.breaking() { "error" } else { "notice" };
            line(
                level,
                c.location.as_ref(),
                "operation changed",
                format!("{}: {}", o.operation_id, change_line(c)),
            );
        }
    }
    for t in r.tools.iter().filter(|t| t.status != ToolStatus::Ok) {
        for c in &t.changes {
            let level = if t.status == ToolStatus::MissingOperation || c.breaking() {
                "error"
            } else {
                "warning"
            };
            line(
                level,
                c.location.as_ref(),
                &format!("tool {}", t.status),
                format!("{}: {}", t.name, change_line(c)),
            );
        }
    }
    for o in &r.unbound_operations {
        line(
            "warning",
            o.location.as_ref(),
            "unbound operation",
            format!(
                "{} {} {} has no tool [{}]",
                o.operation_id, o.method, o.path, o.fingerprint
            ),
        );
    }
    line("notice", None, "drift summary", summary_line(r));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_command_properties_and_messages_are_escaped() {
        assert_eq!(gh_escape("50% a:b,c\r\nd"), "50%25 a:b,c%0D%0Ad");
        assert_eq!(gh_property("C:\\x,y%\n"), "C%3A\\x%2Cy%25%0A");
    }

    #[test]
    fn long_details_fold_at_their_first_clause_and_short_ones_do_not() {
        assert_eq!(md_detail("a | b\nc"), "a \\| b c");
        let long = format!("op #0 failed; expected {}", "x".repeat(200));
        let folded = md_detail(&long);
        assert!(
            folded.starts_with("<details><summary>op #0 failed</summary>expected xxx"),
            "{folded}"
        );
        let no_clause = "word ".repeat(40);
        let folded = md_detail(&no_clause);
        assert!(
            folded.starts_with("<details><summary>word word"),
            "{folded}"
        );
        assert!(folded.contains("…</summary>"), "{folded}");
    }
}
