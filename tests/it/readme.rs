//! The first ten minutes: the README's quick start runs as written, `call --help`'s
//! examples run, one-shot calls chain on the sandbox's documented ids, and the hints an
//! agent gets come back end to end (through `call` and through MCP on stdio).

use crate::driver::{BIN, Driver};
use molecule_mcp::sandbox::seed;
use serde_json::{Value, json};
use std::process::{Command, Output};

const README: &str = include_str!("../../README.md");
/// How the README names the binary; the test runs the debug build in its place.
const README_BIN: &str = "target/release/molecule-mcp";

fn quick_start() -> &'static str {
    let start = README
        .find("## Quick start")
        .expect("a Quick start section");
    let rest = &README[start..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
    &rest[..end]
}

/// One command as the README shows it, and the comment after it.
#[derive(Debug)]
struct Shown {
    command: String,
    comment: String,
}

/// Every command of the quick start: the lines of its `sh` blocks and the inline code
/// spans that are commands.
fn shown_commands() -> Vec<Shown> {
    let text = quick_start();
    let mut out = Vec::new();
    let mut in_sh = false;
    for line in text.lines() {
        match line.trim() {
            "```sh" => in_sh = true,
            "```" => in_sh = false,
            l if in_sh && !l.is_empty() => {
                let (command, comment) = match l.find("  # ") {
                    Some(i) => (l[..i].trim(), l[i + 4..].trim()),
                    None => (l, ""),
                };
                out.push(Shown {
                    command: command.to_string(),
                    comment: comment.to_string(),
                });
            }
            _ => {}
        }
    }
    for span in text.split('`').skip(1).step_by(2) {
        if ["npx ", "molecule-mcp ", README_BIN, "-- cargo run"]
            .iter()
            .any(|p| span.starts_with(p))
        {
            out.push(Shown {
                command: span.to_string(),
                comment: String::new(),
            });
        }
    }
    out
}

fn sh(command: &str) -> Output {
    let command = match command.strip_prefix("molecule-mcp ") {
        Some(rest) => format!("{BIN} {rest}"),
        None => command.replacen(README_BIN, BIN, 1),
    };
    Command::new("sh")
        .arg("-c")
        .arg(&command)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .unwrap()
}

/// The server command after an Inspector's `--` parses: the same arguments with
/// `--help` appended exit 0 (an unknown flag would exit 2).
pub fn assert_server_args_parse<S: AsRef<std::ffi::OsStr> + std::fmt::Debug>(
    args: &[S],
    shown: &str,
) {
    let out = Command::new(BIN)
        .args(args)
        .arg("--help")
        .env_clear()
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{shown}: {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_quick_start_runs_as_written() {
    let commands = shown_commands();
    let mut ran = Vec::new();
    for Shown { command, comment } in &commands {
        let words: Vec<&str> = command.split_whitespace().collect();
        match words.as_slice() {
            // Building and testing are what `cargo test` and .ci/run do themselves.
            ["cargo", "build", "--release"] | ["cargo", "test"] => {}
            ["npx", package, "--", server @ ..] => {
                assert!(
                    package.starts_with("@modelcontextprotocol/inspector"),
                    "{command}"
                );
                match server {
                    [bin, args @ ..] if *bin == README_BIN => {
                        assert_server_args_parse(args, command)
                    }
                    other => panic!("{command}: an unexpected server command {other:?}"),
                }
                ran.push(command.clone());
            }
            ["npx", ..] => panic!(
                "{command}: the Inspector eats its first `--`; put one before the server command"
            ),
            // The front door: `cargo run --release -- <server args>` (the build itself is
            // what cargo test and .ci/run do; the arguments must parse as the server's).
            ["cargo", "run", "--release", "--", args @ ..] => {
                assert_server_args_parse(args, command);
                ran.push(command.clone());
            }
            ["--", "cargo", "run", "--", args @ ..] => {
                assert_server_args_parse(args, command);
                ran.push(command.clone());
            }
            _ if command.starts_with(README_BIN) || command.starts_with("molecule-mcp ") => {
                let out = sh(command);
                let expected = if comment.contains("exits 1") { 1 } else { 0 };
                assert_eq!(
                    out.status.code(),
                    Some(expected),
                    "{command}\n{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
                if let Some(said) = comment.split("says ").nth(1) {
                    let stdout = String::from_utf8_lossy(&out.stdout);
                    assert!(stdout.contains(said), "{command}: {stdout}");
                }
                ran.push(command.clone());
            }
            _ => panic!("the quick start shows `{command}`, which this test does not run"),
        }
    }
    assert!(
        ran.iter().any(|c| c.contains("call get_workspace --args"))
            && ran.iter().any(|c| c.starts_with("npx "))
            && ran.iter().any(|c| c == "cargo run --release -- --sandbox"),
        "the chained call and the Inspector command are run: {ran:?}"
    );
}

#[test]
fn the_readme_lists_every_fixed_sandbox_id() {
    for id in [
        seed::ROOT_WORKSPACE_ID,
        seed::RESEARCHER_WORKSPACE_ID,
        seed::WRITER_WORKSPACE_ID,
        seed::ORG_TOKEN_ID,
        seed::APPROVAL_ID,
        seed::ORG_SLUG,
    ] {
        assert!(quick_start().contains(&format!("`{id}`")), "{id}");
        assert!(seed::banner().contains(id), "{id}");
    }
}

#[test]
fn the_examples_of_call_help_run() {
    let out = Command::new(BIN).args(["call", "--help"]).output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    let examples: Vec<&str> = help
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("molecule-mcp call "))
        .collect();
    assert!(
        examples.iter().any(|e| e.contains("--args '{")),
        "an example with arguments: {help}"
    );
    for example in examples {
        let out = sh(example);
        assert!(
            out.status.success(),
            "{example}\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

/// One `call … --sandbox` in its own process: a fresh sandbox every time. Its stderr
/// holds no warning: the sandbox's replies fit the spec (it warns when one does not),
/// and a first call has nothing else to warn about.
fn call(tool: &str, args: Value) -> (Option<i32>, Value, String) {
    let out = Command::new(BIN)
        .args(["call", tool, "--args", &args.to_string(), "--sandbox"])
        .env_clear()
        .output()
        .unwrap();
    let value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !stderr.contains("WARN") && !stderr.contains("does not fit the spec"),
        "{tool}: {stderr}"
    );
    (out.status.code(), value, stderr)
}

#[test]
fn one_shot_calls_chain_on_the_documented_sandbox_ids() {
    let (code, listed, stderr) = call("list_workspaces", json!({}));
    assert_eq!(code, Some(0), "{stderr}");
    // A one-shot call prints no id banner (issue #23): the ids come from the README.
    assert!(!stderr.contains("Fixed sandbox ids"), "banner: {stderr}");
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap())
        .collect();
    let seeded = [
        (seed::ROOT_WORKSPACE_ID, "Acme HQ"),
        (seed::RESEARCHER_WORKSPACE_ID, "Researcher"),
        (seed::WRITER_WORKSPACE_ID, "Writer"),
    ];
    assert_eq!(ids, seeded.map(|(id, _)| id));
    // The next process knows the ids the previous one printed.
    for (id, name) in seeded {
        let (code, ws, _) = call("get_workspace", json!({ "workspace_id": id }));
        assert_eq!((code, &ws["name"]), (Some(0), &json!(name)), "{ws}");
    }
    let (_, tokens, _) = call("list_org_tokens", json!({}));
    assert_eq!(tokens["tokens"][0]["id"], seed::ORG_TOKEN_ID, "{tokens}");
    let (_, approvals, _) = call("list_pending_approvals", json!({}));
    assert_eq!(approvals[0]["id"], seed::APPROVAL_ID, "{approvals}");
    let (code, org, _) = call("get_org", json!({ "slug": seed::ORG_SLUG }));
    assert_eq!(
        (code, &org["id"]),
        (Some(0), &json!(seed::ROOT_WORKSPACE_ID))
    );
    let (code, _, _) = call(
        "get_org_plugin_allowlist",
        json!({ "org_id": seed::ROOT_WORKSPACE_ID }),
    );
    assert_eq!(code, Some(0));
}

#[test]
fn the_sandbox_answers_with_hints_in_the_tools_own_argument_names() {
    let root = json!({ "workspace_id": seed::ROOT_WORKSPACE_ID });
    let (code, paused, _) = call("pause_workspace", root.clone());
    assert_eq!(code, Some(1));
    assert!(
        paused["detail"].as_str().unwrap().contains("?cascade=true"),
        "the upstream text stays in detail: {paused}"
    );
    assert!(
        paused["hint"].as_str().unwrap().contains("cascade: true"),
        "{paused}"
    );
    let (_, deleted, _) = call("deprovision_workspace", root);
    assert!(
        deleted["hint"].as_str().unwrap().contains("confirm: true"),
        "{deleted}"
    );
    let (_, named, _) = call(
        "deprovision_workspace",
        json!({ "workspace_id": seed::ROOT_WORKSPACE_ID, "confirm_name": "HQ" }),
    );
    assert!(
        named["hint"]
            .as_str()
            .unwrap()
            .contains(r#"confirm_name: "Acme HQ""#),
        "{named}"
    );
    let (_, by_name, _) = call("get_workspace", json!({ "workspace_id": "Acme HQ" }));
    assert_eq!(by_name["status"], 400, "{by_name}");
    let hint = by_name["hint"].as_str().unwrap();
    assert!(
        hint.contains("UUID") && hint.contains("list_workspaces"),
        "{by_name}"
    );
}

#[tokio::test]
async fn an_mcp_host_gets_the_same_hint() {
    let mut d = Driver::start(&[], &["--sandbox"]).await;
    d.call(
        2,
        "pause_workspace",
        json!({ "workspace_id": seed::ROOT_WORKSPACE_ID }),
    )
    .await;
    let response = d.response(2).await;
    assert_eq!(response["result"]["isError"], true, "{response}");
    let envelope = crate::driver::result_json(&response);
    assert!(
        envelope["hint"]
            .as_str()
            .unwrap()
            .contains("pause_workspace again with cascade: true"),
        "{envelope}"
    );
    d.finish().await;
}

/// The mutation-testing habit stays written down: the README's development section
/// shows the command TESTING.md explains, and every mutant `.cargo/mutants.toml` skips
/// has its reason on the line above it (a silent exclusion would hide a weak test).
#[test]
fn the_mutation_command_is_documented_and_every_exclusion_has_a_reason() {
    let dev = &README[README
        .find("## Development")
        .expect("a Development section")..];
    let command = dev
        .split('`')
        .skip(1)
        .step_by(2)
        .find(|span| span.contains("cargo mutants"))
        .expect("the README's development section shows the mutation command");
    let testing = include_str!("../../TESTING.md");
    assert!(
        testing.lines().any(|l| l.trim() == command),
        "TESTING.md explains `{command}`"
    );
    let config = include_str!("../../.cargo/mutants.toml");
    let lines: Vec<&str> = config.lines().map(str::trim).collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with("exclude_re = ["))
        .expect("exclude_re");
    let end = start + lines[start..].iter().position(|l| *l == "]").unwrap();
    let mut excluded = 0;
    for i in start + 1..end {
        if lines[i].starts_with('\'') {
            excluded += 1;
            assert!(
                lines[i - 1].starts_with("# ") && lines[i - 1].len() > 12,
                "the exclusion {} has no reason above it",
                lines[i]
            );
        }
    }
    assert!(excluded > 0, "{config}");
}

/// The README section headed `heading`, up to the next `## `.
fn section(heading: &str) -> &'static str {
    let start = README
        .find(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("README has a {heading} section"));
    let rest = &README[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
    &rest[..end]
}

/// The lines of a section's `sh` blocks (list items indent them).
fn sh_lines(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut in_sh = false;
    for line in text.lines().map(str::trim) {
        match line {
            "```sh" => in_sh = true,
            "```" => in_sh = false,
            l if in_sh && !l.is_empty() => out.push(l),
            _ => {}
        }
    }
    out
}

/// Install and Deploy show commands that need a registry, a container engine or a
/// cluster, none of which a test has. Each is matched here to what runs it instead:
/// the same build, lint, render or script in .ci/run, or its server arguments parsed
/// by the real binary. A command nothing runs fails this test.
#[test]
fn the_install_and_deploy_commands_are_run_by_ci() {
    let ci = include_str!("../../.ci/run");
    let server: Value = serde_json::from_str(include_str!("../../server.json")).unwrap();
    let image = server["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["registryType"] == "oci")
        .unwrap()["identifier"]
        .as_str()
        .unwrap();
    // One line of .ci/run holds every one of `words`, outside a comment.
    let ci_runs = |command: &str, words: &[&str]| {
        assert!(
            ci.lines()
                .filter(|l| !l.trim_start().starts_with('#'))
                .any(|l| words.iter().all(|w| l.contains(w))),
            "the README shows `{command}`; no line of .ci/run runs {words:?}"
        );
    };
    let mut shown = Vec::new();
    for heading in ["## Install", "## Deploy"] {
        for command in sh_lines(section(heading)) {
            let words: Vec<&str> = command.split_whitespace().collect();
            match words.as_slice() {
                ["cargo", "build", "--release"] => {}
                // The verify build of `cargo package` is this build, from the package.
                ["cargo", "install", "--locked", name] => {
                    assert_eq!(*name, env!("CARGO_PKG_NAME"));
                    ci_runs(command, &["cargo package --locked"]);
                }
                ["docker", "build", "-f", file, "-t", _, "."] => {
                    ci_runs(command, &["hadolint", "--failure-threshold info", file]);
                }
                ["docker", "run", rest @ ..] => {
                    let at = rest
                        .iter()
                        .position(|w| w.contains('/') && w.contains(':'))
                        .unwrap_or_else(|| panic!("{command}: which image?"));
                    assert_eq!(rest[at], image, "{command}: server.json's image");
                    let rows = configuration_rows();
                    for pair in rest[..at].windows(2) {
                        if pair[0] == "-e" {
                            assert!(
                                rows.iter().any(|r| r.vars.iter().any(|v| v == pair[1])),
                                "{command}: {} is no variable of the Configuration table",
                                pair[1]
                            );
                        }
                    }
                    let args: Vec<&str> = rest[at + 1..].to_vec();
                    if !args.is_empty() {
                        assert_server_args_parse(&args, command);
                    }
                }
                ["kubectl", "apply", "-k", dir] => {
                    ci_runs(command, &["kubectl", " kustomize ", dir]);
                }
                ["bash", "scripts/pack-mcpb.sh", bin, _] => {
                    assert_eq!(*bin, README_BIN, "{command}");
                    ci_runs(command, &["bash scripts/pack-mcpb.sh"]);
                }
                _ => panic!("README shows `{command}`, which neither a test nor .ci/run runs"),
            }
            shown.push(command);
        }
    }
    assert!(
        shown.iter().any(|c| c.starts_with("kubectl apply"))
            && shown.iter().any(|c| c.starts_with("cargo install"))
            && shown.iter().any(|c| c.contains("pack-mcpb")),
        "{shown:?}"
    );
}

/// One row of the README's configuration table.
#[derive(Debug)]
struct Row {
    /// The variables its first cell names.
    vars: Vec<String>,
    /// The flags its first cell names (`--name`, without a value).
    flags: Vec<String>,
    /// Its Default cell.
    default: String,
}

/// The rows of the table under "## Configuration".
fn configuration_rows() -> Vec<Row> {
    section("## Configuration")
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|line| {
            // `| name | example | default | required | description |`
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let mut vars = Vec::new();
            let mut flags = Vec::new();
            for span in cells[1].split('`').skip(1).step_by(2) {
                for word in span.split_whitespace() {
                    if word.starts_with("--") {
                        flags.push(word.to_string());
                    // A variable has a `_`; a flag's value (`--confirm LEVEL`) has none.
                    } else if word.contains('_')
                        && word
                            .chars()
                            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
                    {
                        vars.push(word.to_string());
                    }
                }
            }
            Row {
                vars,
                flags,
                default: cells[3].to_string(),
            }
        })
        .collect()
}

/// The configuration table says what the declarations of the settings say: every
/// setting's variable has a row, its flag is in that row, and its default is the
/// row's; every variable and flag of the table is declared. The exceptions are the
/// variables another crate reads: `RUST_LOG` (tracing-subscriber's filter) and
/// `OTEL_*` (the OpenTelemetry SDK's own settings).
#[test]
fn the_configuration_table_is_the_declared_settings() {
    let rows = configuration_rows();
    let settings = molecule_mcp::config::settings_command();
    let mut vars = Vec::new();
    let mut flags = Vec::new();
    for arg in settings.get_arguments() {
        let Some(var) = arg.get_env().and_then(|v| v.to_str()) else {
            continue;
        };
        let flag = format!("--{}", arg.get_long().expect("every setting has a flag"));
        let row = rows
            .iter()
            .find(|r| r.vars.iter().any(|v| v == var))
            .unwrap_or_else(|| panic!("{var} ({flag}) has no row in the configuration table"));
        assert!(
            row.flags.contains(&flag),
            "the row of {var} names {:?}, not {flag}",
            row.flags
        );
        if !arg.is_hide_default_value_set() {
            let default = arg.get_default_values()[0].to_str().unwrap();
            let shown = match default {
                "false" => "off".to_string(),
                other => format!("`{other}`"),
            };
            assert!(
                row.default.contains(&shown),
                "{var}: the table's default is {:?}, the declared one {shown}",
                row.default
            );
        } else {
            assert!(
                !row.default.contains(char::is_numeric),
                "{var} has no default, but the table gives one: {:?}",
                row.default
            );
        }
        vars.push(var.to_string());
        flags.push(flag);
    }
    assert!(vars.len() >= 30, "{vars:?}");
    for row in &rows {
        for var in &row.vars {
            assert!(
                vars.contains(var) || var == "RUST_LOG" || var.starts_with("OTEL_"),
                "the table names {var}, which no setting declares"
            );
        }
        for flag in &row.flags {
            assert!(
                flags.contains(flag),
                "the table names {flag}, which no setting declares"
            );
        }
    }
}
