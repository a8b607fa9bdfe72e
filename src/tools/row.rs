//! What a row of the tool table is: the types `src/tools/table.rs` is written in, and
//! the words shared by every row's arguments.
//!
//! This file is compiled twice: into the crate, and into build.rs (`#[path]`), which
//! reads the table with `syn` and derives every tool definition from these types at
//! build time (docs/architecture.md, "Build time"). So it names only `crate::Operation`,
//! which build.rs defines as an operation id and the crate as the generated enum.

use crate::Operation;

/// What calling a tool can do to the tenant. No default: every row decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reads only.
    Read,
    /// Creates state or changes it reversibly (another call undoes it).
    Write,
    /// Overwrites existing state: the previous value is lost (it can be set again, not
    /// recovered). Annotated `destructiveHint: true`, as MCP reserves `false` for
    /// additive updates.
    Replace,
    /// Removes state or a credential; cannot be undone.
    Destructive,
}

/// Tool groups (the spec tags, plus the control plane).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Toolset {
    /// Workspace lifecycle.
    Workspaces,
    /// Workspace and org secrets.
    Secrets,
    /// Budgets and LLM billing mode.
    Budget,
    /// Config and org templates.
    Templates,
    /// Org and workspace tokens.
    Tokens,
    /// Org plugin allowlist.
    Plugins,
    /// Bundle export and import.
    Bundles,
    /// Events and approvals.
    Audit,
    /// Control-plane admin (CP token).
    Orgs,
}

impl Toolset {
    /// Every toolset, in table order.
    pub const ALL: [Toolset; 9] = [
        Toolset::Workspaces,
        Toolset::Secrets,
        Toolset::Budget,
        Toolset::Templates,
        Toolset::Tokens,
        Toolset::Plugins,
        Toolset::Bundles,
        Toolset::Audit,
        Toolset::Orgs,
    ];

    /// The name used in flags and docs (the spec tag).
    pub fn name(self) -> &'static str {
        match self {
            Toolset::Workspaces => "workspaces",
            Toolset::Secrets => "secrets",
            Toolset::Budget => "budget",
            Toolset::Templates => "templates",
            Toolset::Tokens => "tokens",
            Toolset::Plugins => "plugins",
            Toolset::Bundles => "bundles",
            Toolset::Audit => "audit",
            Toolset::Orgs => "orgs",
        }
    }
}

/// Which operation a call goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Always this operation.
    One(Operation),
    /// `present` when the argument `arg` is given, else `absent` (`list_org_events`).
    ByPresence {
        /// The deciding tool argument.
        arg: &'static str,
        /// Operation when it is given.
        present: Operation,
        /// Operation when it is not.
        absent: Operation,
    },
}

impl Route {
    /// Every operation the route can reach.
    pub fn operations(self) -> Vec<Operation> {
        match self {
            Route::One(op) => vec![op],
            Route::ByPresence {
                present, absent, ..
            } => vec![absent, present],
        }
    }
}

/// How a spec name becomes a tool argument, where it is not the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgRule {
    /// The spec parameter or body field `spec` is the tool argument `tool`.
    Rename {
        /// Name in the spec (`id`, `X-Confirm-Name`).
        spec: &'static str,
        /// Name in the tool (`workspace_id`, `confirm_name`).
        tool: &'static str,
    },
    /// The whole request body is the tool argument of this name (`import_bundle`'s `bundle`).
    BodyAs(&'static str),
    /// The path parameter `spec`, exposed as `tool`, is optional: when omitted it is
    /// `MOLECULE_ORG_ID`, and without either the call is refused before any request.
    OrgIdFallback {
        /// Name in the spec.
        spec: &'static str,
        /// Name in the tool.
        tool: &'static str,
    },
    /// Advertised as a plain object (keeps `tools/list` small); still validated
    /// against the full spec schema.
    Opaque(&'static str),
    /// The tool argument `tool` is described by `text` instead of the spec's words
    /// (which speak of the HTTP API); wins over [`SHARED_ARGS`].
    Describe {
        /// Name in the tool.
        tool: &'static str,
        /// What the model reads.
        text: &'static str,
    },
}

/// An argument that means the same in every tool that has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedArg {
    /// Name in the tool.
    pub name: &'static str,
    /// What the model reads instead of the spec's words (an id says what it looks
    /// like and which tool lists it); `None` where each row words it itself.
    pub description: Option<&'static str>,
    /// Where a valid value comes from, in the words of the hints that name it.
    pub source: &'static str,
}

/// The arguments that mean the same in every tool: the one place their
/// description and their source are written.
pub const SHARED_ARGS: &[SharedArg] = &[
    SharedArg {
        name: "workspace_id",
        description: Some("UUID from list_workspaces."),
        source: "the `id` of a workspace from list_workspaces",
    },
    SharedArg {
        name: "org_id",
        description: Some("Org id (root workspace UUID); defaults to MOLECULE_ORG_ID."),
        source: "the org id (MOLECULE_ORG_ID; in list_workspaces, the id of the root \
                 workspace, the one with parent_id null)",
    },
    SharedArg {
        name: "id",
        description: None,
        source: "the `id` of a token from list_org_tokens",
    },
    SharedArg {
        name: "parent_id",
        description: Some("Parent UUID from list_workspaces."),
        source: "the `id` of a workspace from list_workspaces",
    },
];

/// Where a valid value of the id argument `arg` comes from, if it is a shared one.
pub fn arg_source(arg: &str) -> Option<&'static str> {
    SHARED_ARGS.iter().find(|a| a.name == arg).map(|a| a.source)
}

/// The description of tool argument `arg` of `row`, where the table words it.
pub fn arg_description(row: &ToolRow, arg: &str) -> Option<&'static str> {
    row.args
        .iter()
        .find_map(|r| match r {
            ArgRule::Describe { tool, text } if *tool == arg => Some(*text),
            _ => None,
        })
        .or_else(|| {
            SHARED_ARGS
                .iter()
                .find(|a| a.name == arg)
                .and_then(|a| a.description)
        })
}

/// One MCP tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToolRow {
    /// MCP tool name (the TypeScript server's).
    pub name: &'static str,
    /// Human title.
    pub title: &'static str,
    /// What it does, the credential it needs, and any danger.
    pub description: &'static str,
    /// The bound operation(s).
    pub route: Route,
    /// What calling it can do: read, write, replace or destroy.
    pub access: Access,
    /// Group.
    pub toolset: Toolset,
    /// Argument mappings where spec and tool names differ.
    pub args: &'static [ArgRule],
}

/// What the table decided for one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Served by this tool.
    Tool(&'static ToolRow),
    /// Deliberately not served, with the reason.
    Skipped(&'static str),
}
