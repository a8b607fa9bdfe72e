//! What a person meets on the command line: exits, flags per subcommand, error texts
//! and the start-up notes on stderr.

use crate::driver::BIN;
use std::process::{Command, Output, Stdio};

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_clear()
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The output pipe is closed before the command writes: the end of its reader is a
/// normal end (`molecule-mcp tools | head -1`), not a panic.
fn closed_stdout(args: &[&str]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

#[test]
fn a_closed_stdout_is_a_normal_end() {
    // The sandbox start delays the write until the pipe is surely closed.
    for args in [
        &["call", "list_workspaces", "--sandbox"][..],
        &["tools"][..],
        &["drift"][..],
    ] {
        let out = closed_stdout(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert!(
            !stderr(&out).contains("panic"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

/// A closed pipe is a normal end, but any other write failure is not: a full disk is
/// an error that says what failed, never a silent success.
#[test]
fn a_failed_write_to_stdout_is_an_error() {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = Command::new(BIN)
        .arg("tools")
        .env_clear()
        .stdout(full)
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("writing to stdout"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn drift_lists_only_its_own_flags_and_tools_starts_no_sandbox() {
    let help = String::from_utf8(run(&["drift", "--help"]).stdout).unwrap();
    for flag in ["--sandbox", "--read-only", "--toolsets", "--tools"] {
        assert!(!help.contains(flag), "drift --help lists {flag}:\n{help}");
    }
    assert!(help.contains("--fail-on"), "{help}");
    for args in [&["tools", "--sandbox"][..], &["--sandbox", "tools"][..]] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!stderr(&out).contains("sandbox tenant at"), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    // Each serving flag alone, before `drift`, is refused.
    for flag in [
        &["--sandbox"][..],
        &["--read-only"][..],
        &["--toolsets", "tokens"][..],
        &["--tools", "get_workspace"][..],
    ] {
        let out = run(&[flag, &["drift"][..]].concat());
        assert_eq!(out.status.code(), Some(2), "{flag:?}");
        assert!(
            stderr(&out).contains("do not apply to `drift`"),
            "{flag:?}: {}",
            stderr(&out)
        );
    }
    // Serving flags keep working before a subcommand that takes them, and after it.
    let out = run(&["--read-only", "tools", "--toolsets", "tokens"]);
    let tools: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(tools.as_array().unwrap().len(), 1, "{tools}");
    let out = run(&["--sandbox", "call", "list_orgs"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn selection_errors_name_what_the_user_typed() {
    let out = run(&["--toolsets", "Workspaces", "tools", "--format", "markdown"]);
    assert!(
        out.status.success(),
        "names match in any case: {}",
        stderr(&out)
    );
    let out = run(&["tools", "--toolsets", "wallets"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--toolsets: unknown toolset `wallets`")
            && !stderr(&out).contains("MOLECULE_MCP_TOOLSETS"),
        "{}",
        stderr(&out)
    );
    let out = run(&["--read-only", "--tools", "set_org_secret"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("leaves no tool"), "{}", stderr(&out));
}

#[test]
fn an_unreadable_spec_is_said_once() {
    let out = run(&["drift", "--spec", "/nonexistent/management.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out).matches("No such file").count(),
        1,
        "{}",
        stderr(&out)
    );
}

#[test]
fn help_names_the_credentials_and_the_readme() {
    let help = String::from_utf8(run(&["--help"]).stdout).unwrap();
    for needle in [
        "MOLECULE_ORG_API_KEY",
        "MOLECULE_ORG_ID",
        "MOLECULE_API_URL",
        "CP_ADMIN_API_TOKEN",
        "README.md",
        "--sandbox",
    ] {
        assert!(help.contains(needle), "{needle}:\n{help}");
    }
    // The control plane's token is named with the tools the table routes there.
    assert!(
        help.contains("and, for list_orgs/get_org, CP_ADMIN_API_TOKEN."),
        "{help}"
    );
    assert!(
        help.contains("Control-plane admin bearer, for list_orgs and get_org."),
        "{help}"
    );
}

#[test]
fn serving_without_a_key_says_which_tenant_and_what_is_missing() {
    let out = run(&[]);
    let text = stderr(&out);
    assert!(
        text.contains("tenant http://localhost:8080 (the default: MOLECULE_API_URL is not set)"),
        "{text}"
    );
    assert!(
        text.contains("MOLECULE_ORG_API_KEY is not set")
            && text.contains("neither MOLECULE_ORG_ID nor MOLECULE_ORG_SLUG"),
        "{text}"
    );
    assert!(out.stdout.is_empty(), "stdout is the protocol's only");
}

fn run_with(env: &[(&str, &str)], args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn listed(out: &Output) -> Vec<String> {
    let tools: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(out)));
    tools
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

/// A flag wins over its variable, given before the subcommand or after it; a switch
/// takes the same words as a flag (`--read-only=off`) as it does as a variable.
#[test]
fn flags_win_over_their_variables() {
    let env = [("MOLECULE_MCP_TOOLSETS", "wallets")];
    for args in [
        &["--toolsets", "tokens", "tools"][..],
        &["tools", "--toolsets", "tokens"][..],
        &["--toolsets", "secrets", "tools", "--toolsets", "tokens"][..],
    ] {
        let out = run_with(&env, args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert!(
            listed(&out).contains(&"mint_org_token".to_string()),
            "{args:?}"
        );
    }
    let read_only = [
        ("MOLECULE_MCP_READ_ONLY", "1"),
        ("MOLECULE_MCP_TOOLSETS", "tokens"),
    ];
    assert_eq!(
        listed(&run_with(&read_only, &["tools"])),
        ["list_org_tokens"]
    );
    let out = run_with(&read_only, &["tools", "--read-only=off"]);
    assert!(listed(&out).contains(&"mint_org_token".to_string()));
    let out = run_with(
        &[("MOLECULE_MCP_READ_ONLY", "no")],
        &["--read-only", "tools"],
    );
    assert!(!listed(&out).contains(&"mint_org_token".to_string()));
}

/// A bad value stops start-up naming where it came from, the variable or the flag,
/// and the rule; nothing is served and nothing is sent.
#[test]
fn a_bad_value_is_blamed_on_the_variable_or_the_flag_it_came_from() {
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str], &'a str);
    let cases: [Case; 6] = [
        (
            &[("MOLECULE_MCP_TIMEOUT_SECS", "0")],
            &["call", "list_workspaces", "--sandbox"],
            "MOLECULE_MCP_TIMEOUT_SECS=\"0\": must be a whole number of at least 1",
        ),
        (
            &[],
            &[
                "call",
                "list_workspaces",
                "--sandbox",
                "--timeout-secs",
                "0",
            ],
            "--timeout-secs=\"0\": must be a whole number of at least 1",
        ),
        (
            &[("MOLECULE_MCP_DRY_RUN", "sometimes")],
            &[],
            "MOLECULE_MCP_DRY_RUN=\"sometimes\": must be 1/true/yes/on or 0/false/no/off",
        ),
        (
            &[("MOLECULE_MCP_CONFIRM", "everything")],
            &["serve"],
            "MOLECULE_MCP_CONFIRM=\"everything\": must be destructive, writes or off",
        ),
        (
            &[
                ("MOLECULE_MCP_HTTP", "127.0.0.1:0"),
                ("MOLECULE_MCP_MAX_BODY_BYTES", "lots"),
            ],
            &[],
            "MOLECULE_MCP_MAX_BODY_BYTES=\"lots\": must be a whole number of at least 1",
        ),
        (
            &[("MOLECULE_MCP_MODE", "legacy")],
            &["tools"],
            "MOLECULE_MCP_MODE=\"legacy\": this binary serves the management registry only",
        ),
    ];
    for (env, args, said) in cases {
        let out = run_with(env, args);
        assert_eq!(out.status.code(), Some(2), "{env:?} {args:?}");
        assert!(
            stderr(&out).starts_with(&format!("molecule-mcp: {said}")),
            "{env:?} {args:?}: {}",
            stderr(&out)
        );
        assert!(out.stdout.is_empty(), "{env:?} {args:?}");
    }
}

/// A command reads only the settings it uses: `drift` none, `tools` not the sandbox's
/// or the HTTP mode's, stdio serving not the HTTP mode's.
#[test]
fn a_command_reads_only_its_own_settings() {
    let bad = [
        ("MOLECULE_MCP_TIMEOUT_SECS", "0"),
        ("MOLECULE_MCP_READ_ONLY", "maybe"),
        ("MOLECULE_MCP_SANDBOX", "maybe"),
    ];
    let out = run_with(&bad, &["drift"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let http_only = [
        ("MOLECULE_MCP_SANDBOX", "maybe"),
        ("MOLECULE_MCP_MAX_BODY_BYTES", "lots"),
        ("MOLECULE_MCP_METRICS", "nowhere"),
    ];
    let out = run_with(&http_only, &["tools"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run_with(&http_only[1..], &["call", "list_workspaces", "--sandbox"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// A credential given as a flag is refused before anything is served, naming the
/// flag and its variable's rule, and never echoing the value.
#[test]
fn a_credential_on_the_command_line_is_refused_without_echoing_it() {
    for flag in ["--org-api-key", "--cp-admin-api-token", "--state-key"] {
        let value = "sk-argv-leak-0123456789abcdef0123456789";
        let out = run_with(&[], &["call", "list_workspaces", "--sandbox", flag, value]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{flag}: {err}");
        assert!(
            err.contains(flag) && err.contains("set its environment variable instead"),
            "{flag}: {err}"
        );
        assert!(!err.contains(value), "{flag}: {err}");
        assert!(out.stdout.is_empty(), "{flag}");
    }
}

/// Help lists each setting's variable, and never the value of a credential.
#[test]
fn help_never_shows_a_credential() {
    let env = [
        ("MOLECULE_ORG_API_KEY", "sk-help-leak-1"),
        ("CP_ADMIN_API_TOKEN", "cp-help-leak-2"),
        (
            "MOLECULE_MCP_STATE_KEY",
            "state-help-leak-3-0123456789abcdef",
        ),
        (
            "MOLECULE_API_URL",
            "https://u:url-help-leak-4@tenant.example.com",
        ),
    ];
    for args in [
        &["--help"][..],
        &["serve", "--help"][..],
        &["call", "--help"][..],
    ] {
        let out = run_with(&env, args);
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(
            help.contains("[env: MOLECULE_ORG_API_KEY]"),
            "{args:?}: {help}"
        );
        assert!(
            help.contains("MOLECULE_MCP_TIMEOUT_SECS"),
            "{args:?}: {help}"
        );
        assert!(!help.contains("help-leak"), "{args:?}: {help}");
    }
    let help = String::from_utf8(run(&["serve", "--help"]).stdout).unwrap();
    assert!(help.contains("[env: MOLECULE_MCP_HTTP"), "{help}");
}
