//! What the binary says and checks at start-up, before serving: a tool selection that
//! leaves no tool, and the stderr notes a person running the server in a terminal
//! needs (which tenant, which credential is missing, how to try it).

use crate::call::Engine;
use crate::config::{Config, DEFAULT_TENANT_URL, tenant_url_vars};
use std::fmt::Write as _;

/// Why the server does not start although the configuration parses.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StartupError {
    /// `--read-only`, `--toolsets` and `--tools` together leave nothing to serve.
    #[error(
        "the tool selection leaves no tool to serve ({0}); \
         `molecule-mcp tools --format markdown` shows each tool's toolset and access"
    )]
    NoTools(String),
}

/// Refuses a selection that leaves no tool, naming the settings that made it.
pub fn check_selection(engine: &Engine, config: &Config) -> Result<(), StartupError> {
    if engine.listed().next().is_some() {
        return Ok(());
    }
    let s = &config.selection;
    let mut parts = Vec::new();
    if s.read_only {
        parts.push("--read-only / MOLECULE_MCP_READ_ONLY keeps only read tools".to_string());
    }
    if let Some(sets) = &s.toolsets {
        parts.push(format!(
            "--toolsets / MOLECULE_MCP_TOOLSETS = {}",
            sets.iter().cloned().collect::<Vec<_>>().join(",")
        ));
    }
    if let Some(tools) = &s.tools {
        parts.push(format!(
            "--tools / MOLECULE_MCP_TOOLS = {}",
            tools.iter().cloned().collect::<Vec<_>>().join(",")
        ));
    }
    Err(StartupError::NoTools(parts.join("; ")))
}

/// The notes for stderr before serving: the tenant in use and where its URL comes
/// from, a missing key or org routing, and, when a person is at the terminal, what
/// the server is doing and how to try it.
pub fn notes(
    engine: &Engine,
    config: &Config,
    sandbox: bool,
    lookup: impl Fn(&str) -> Option<String>,
    terminal: bool,
) -> String {
    let mut out = String::new();
    let tools = engine.listed().count();
    let needs_tenant = engine
        .listed()
        .any(|e| e.row.route.operations()[0].api() == crate::Api::Tenant);
    if !sandbox && needs_tenant {
        let source = tenant_url_vars()
            .into_iter()
            .find(|v| lookup(v).is_some_and(|x| !x.trim().is_empty()));
        match source {
            Some(var) => {
                let _ = writeln!(
                    out,
                    "molecule-mcp: tenant {} (from {var})",
                    config.tenant_url
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "molecule-mcp: tenant {DEFAULT_TENANT_URL} (the default: MOLECULE_API_URL is not set)"
                );
            }
        }
        if config.org_api_key.is_none() {
            let _ = writeln!(
                out,
                "molecule-mcp: warning: MOLECULE_ORG_API_KEY is not set; every tenant tool will \
                 answer AUTH_ERROR. Set it, or try --sandbox."
            );
        }
        if config.org_id.is_none() && config.org_slug.is_none() {
            let _ = writeln!(
                out,
                "molecule-mcp: warning: neither MOLECULE_ORG_ID nor MOLECULE_ORG_SLUG is set; \
                 every tenant tool will answer AUTH_ERROR (the tenant routes by org)."
            );
        }
    }
    if terminal {
        let _ = writeln!(
            out,
            "molecule-mcp: serving {tools} tools over MCP on stdin/stdout. This end is for an MCP \
             host (Claude Code, Claude Desktop, Cursor, the MCP Inspector), not for typing; \
             Ctrl-D stops it.\n\
             To try one call from a shell: molecule-mcp call list_workspaces --sandbox\n\
             To look around interactively: npx @modelcontextprotocol/inspector -- <path to molecule-mcp> --sandbox\n\
             Host configuration and every variable: README.md."
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Selection;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn engine(vars: &[(&str, &str)], selection: Selection) -> (Engine, Config) {
        let mut c = Config::from_lookup(env(vars)).unwrap();
        c.selection = selection;
        (Engine::new(c.clone()).unwrap(), c)
    }

    #[test]
    fn a_selection_that_leaves_no_tool_is_refused_and_says_why() {
        let selection = Selection {
            read_only: true,
            toolsets: None,
            tools: Some(["set_org_secret".to_string()].into()),
        };
        let (e, c) = engine(&[], selection);
        let err = check_selection(&e, &c).unwrap_err().to_string();
        assert!(
            err.contains("leaves no tool")
                && err.contains("--read-only")
                && err.contains("set_org_secret"),
            "{err}"
        );
        let (e, c) = engine(&[], Selection::default());
        assert!(check_selection(&e, &c).is_ok());
    }

    #[test]
    fn start_up_names_the_default_tenant_and_the_missing_credentials() {
        let (e, c) = engine(&[], Selection::default());
        let text = notes(&e, &c, false, env(&[]), false);
        assert!(
            text.contains(
                "tenant http://localhost:8080 (the default: MOLECULE_API_URL is not set)"
            ),
            "{text}"
        );
        assert!(text.contains("MOLECULE_ORG_API_KEY is not set"), "{text}");
        assert!(text.contains("MOLECULE_ORG_SLUG is set"), "{text}");
        assert!(!text.contains("Ctrl-D"), "not a terminal: {text}");

        let vars = [
            ("MOLECULE_URL", "https://acme.example"),
            ("MOLECULE_ORG_API_KEY", "sk-1"),
            ("MOLECULE_ORG_SLUG", "acme"),
        ];
        let (e, c) = engine(&vars, Selection::default());
        let text = notes(&e, &c, false, env(&vars), true);
        assert!(
            text.contains("tenant https://acme.example (from MOLECULE_URL)"),
            "{text}"
        );
        assert!(
            !text.contains("warning") && !text.contains("sk-1"),
            "{text}"
        );
        let serving = format!("serving {} tools", crate::tools::table::TOOLS.len());
        assert!(
            text.contains(&serving) && text.contains("call list_workspaces --sandbox"),
            "{text}"
        );
    }

    #[test]
    fn the_sandbox_and_cp_only_selections_need_no_tenant_notes() {
        let (e, c) = engine(&[], Selection::default());
        assert_eq!(notes(&e, &c, true, env(&[]), false), "");
        let orgs_only = Selection {
            read_only: false,
            toolsets: Some(["orgs".to_string()].into()),
            tools: None,
        };
        let (e, c) = engine(&[], orgs_only);
        assert_eq!(notes(&e, &c, false, env(&[]), false), "");
    }
}
