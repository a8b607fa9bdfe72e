//! The packages hosts install from, and the deployment, agree with the crate: server.json
//! is valid against the vendored MCP Registry schema and names this crate, its version
//! and its image; the ownership markers the registry checks are where it looks; the
//! MCP Bundle's tool list is the served tool table; the image's and the Deployment's
//! commands parse as the server's; the pod's shutdown budget fits its grace period.
//! docs/deploy.md says why each of these is built the way it is.

use crate::readme::assert_server_args_parse;
use serde_json::Value;
use sha2::{Digest, Sha256};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// The MCP Registry's server.json schema, version 2025-12-11, as published. Moving to a
/// newer schema is a deliberate change: replace the file and this pin together.
const SCHEMA_SHA256: &str = "3fba09590c99f61735d234822279f4223fab9e300c0a81e81c91ab62a4114de0";
const SCHEMA_PATH: &str = "docs/registry/server.schema.json";

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{ROOT}/{path}")).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn json(path: &str) -> Value {
    serde_json::from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn yaml(path: &str) -> Value {
    yaml_serde::from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn server_json() -> Value {
    json("server.json")
}

/// The packages of server.json of one registry type.
fn package<'a>(server: &'a Value, registry_type: &str) -> &'a Value {
    server["packages"]
        .as_array()
        .expect("server.json has packages")
        .iter()
        .find(|p| p["registryType"] == registry_type)
        .unwrap_or_else(|| panic!("server.json has no {registry_type} package"))
}

/// The `KEY=value` lines of the kustomize base's config.env.
fn config_env() -> Vec<(String, String)> {
    read("deploy/k8s/config.env")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l.split_once('=').expect("KEY=value");
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn config_value(key: &str) -> String {
    config_env()
        .into_iter()
        .find(|(k, _)| k == key)
        .unwrap_or_else(|| panic!("deploy/k8s/config.env sets no {key}"))
        .1
}

/// The single container of the Deployment.
fn container() -> Value {
    let deployment = yaml("deploy/k8s/deployment.yaml");
    let containers = deployment["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("containers")
        .clone();
    assert_eq!(containers.len(), 1, "one container");
    containers[0].clone()
}

#[test]
fn the_vendored_registry_schema_is_the_pinned_one() {
    let digest = Sha256::digest(read(SCHEMA_PATH).as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        hex, SCHEMA_SHA256,
        "{SCHEMA_PATH} changed: a new schema is replaced together with its pin"
    );
}

#[test]
fn server_json_is_valid_against_the_registry_schema() {
    let schema = json(SCHEMA_PATH);
    assert_eq!(
        schema["$schema"], "http://json-schema.org/draft-07/schema#",
        "the schema's draft decides the validator below"
    );
    let validator = jsonschema::draft7::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the registry schema compiles");
    let server = server_json();
    let errors: Vec<String> = validator
        .iter_errors(&server)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "server.json: {errors:#?}");
    assert_eq!(
        server["$schema"], schema["$id"],
        "server.json names its schema"
    );
}

#[test]
fn server_json_names_this_crate_its_version_and_its_image() {
    let server = server_json();
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(server["version"], version, "server.json version");
    assert_eq!(
        server["description"],
        env!("CARGO_PKG_DESCRIPTION"),
        "server.json description"
    );
    let name = server["name"].as_str().unwrap();
    assert!(
        name.ends_with(&format!("/{}", env!("CARGO_PKG_NAME"))),
        "{name}"
    );
    // The repository server.json and the crate point to is the one the name's
    // namespace (io.github.<owner>) belongs to.
    let owner = name
        .strip_prefix("io.github.")
        .and_then(|n| n.split('/').next())
        .expect("an io.github.<owner>/ name");
    let repository = format!("https://github.com/{owner}/{}", env!("CARGO_PKG_NAME"));
    assert_eq!(server["repository"]["url"], repository);
    assert_eq!(
        env!("CARGO_PKG_REPOSITORY"),
        repository,
        "Cargo.toml repository"
    );

    let krate = package(&server, "cargo");
    assert_eq!(krate["identifier"], env!("CARGO_PKG_NAME"));
    assert_eq!(krate["version"], version);
    assert_eq!(krate["transport"]["type"], "stdio");

    // The image: the tag is the version, the repository the kustomize base deploys.
    let image = package(&server, "oci");
    assert_eq!(image["transport"]["type"], "stdio");
    let reference = image["identifier"].as_str().unwrap();
    let (repo, tag) = reference.rsplit_once(':').expect("an image tag");
    assert_eq!(tag, version, "{reference}");
    // The container registry wants the owner in lower case.
    let owner = owner.to_ascii_lowercase();
    assert_eq!(repo, format!("ghcr.io/{owner}/{}", env!("CARGO_PKG_NAME")));
    let kustomization = yaml("deploy/k8s/kustomization.yaml");
    let images = kustomization["images"].as_array().expect("images");
    assert_eq!(images.len(), 1);
    assert_eq!(images[0]["name"], repo, "kustomization.yaml image");
    assert_eq!(images[0]["newTag"], version, "kustomization.yaml tag");
    assert_eq!(container()["image"], repo, "deployment.yaml image");
    // The image's default command serves HTTP: a stdio host passes `serve`.
    let args: Vec<String> = image["packageArguments"]
        .as_array()
        .expect("packageArguments")
        .iter()
        .map(|a| a["value"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(args, ["serve"]);
    assert_server_args_parse(&args, "server.json oci packageArguments");

    for package in [krate, image] {
        let key = package["environmentVariables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == "MOLECULE_ORG_API_KEY")
            .expect("the key's variable");
        assert_eq!(
            (&key["isSecret"], &key["isRequired"]),
            (&Value::Bool(true), &Value::Bool(true))
        );
    }
}

#[test]
fn the_remote_takes_the_callers_key_as_a_secret_and_its_org() {
    let server = server_json();
    let remotes = server["remotes"].as_array().expect("remotes");
    assert_eq!(remotes.len(), 1);
    let remote = &remotes[0];
    assert_eq!(remote["type"], "streamable-http");
    assert!(
        remote["url"].as_str().unwrap().ends_with("/mcp"),
        "{remote}"
    );
    let headers = remote["headers"].as_array().expect("headers");
    let header = |name: &str| {
        headers
            .iter()
            .find(|h| h["name"] == name)
            .unwrap_or_else(|| panic!("no {name} header"))
    };
    let auth = header("Authorization");
    assert_eq!(auth["isSecret"], true, "{auth}");
    assert_eq!(auth["isRequired"], true, "{auth}");
    assert!(
        auth["value"].as_str().unwrap().starts_with("Bearer {"),
        "{auth}"
    );
    header("X-Molecule-Org-Id");
    header("X-Molecule-Org-Slug");
}

/// The ownership markers the MCP Registry checks: an `mcp-name:` line in the README the
/// crate is published with, and the OCI label on the image.
#[test]
fn the_ownership_markers_name_the_server() {
    let name = server_json()["name"].as_str().unwrap().to_string();
    let readme = read("README.md");
    assert!(
        readme
            .lines()
            .any(|l| l.trim() == format!("mcp-name: {name}")),
        "README.md has no line `mcp-name: {name}`"
    );
    let dockerfile = read("deploy/Dockerfile");
    assert!(
        dockerfile.contains(&format!("io.modelcontextprotocol.server.name=\"{name}\"")),
        "deploy/Dockerfile labels the image io.modelcontextprotocol.server.name=\"{name}\""
    );
}

/// The image's build stage copies everything the crate's package holds that the build
/// reads (Cargo.toml's `include`), so that `docker build` builds what `cargo package`
/// verified; a path added to the package and not to the image fails here.
#[test]
fn the_image_copies_every_path_the_package_builds_from() {
    let dockerfile = read("deploy/Dockerfile");
    let manifest = read("Cargo.toml");
    let include = manifest
        .split_once("\ninclude = [")
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(list, _)| list)
        .expect("Cargo.toml has an include list");
    let copied: Vec<&str> = dockerfile
        .lines()
        .filter_map(|l| l.strip_prefix("COPY "))
        .filter(|l| !l.starts_with("--from"))
        .flat_map(|l| {
            let mut words: Vec<&str> = l.split_whitespace().collect();
            words.pop(); // the destination
            words
        })
        .collect();
    let included: Vec<&str> = include
        .split('"')
        .skip(1)
        .step_by(2)
        .map(|path| path.trim_matches('/'))
        .collect();
    assert!(included.contains(&"src"), "{included:?}");
    for path in included {
        if path == "README.md" {
            continue; // read by `cargo package`, not by the build
        }
        assert!(
            copied.contains(&path),
            "deploy/Dockerfile copies no `{path}`, which Cargo.toml's include puts in the package \
             (COPY lines found: {copied:?})"
        );
    }
}

/// The image's default command and the Deployment's arguments are the server's own.
#[test]
fn the_image_and_deployment_commands_parse() {
    let dockerfile = read("deploy/Dockerfile");
    let exec_form = |instruction: &str| -> Vec<String> {
        let line = dockerfile
            .lines()
            .rfind(|l| l.starts_with(&format!("{instruction} ")))
            .unwrap_or_else(|| panic!("deploy/Dockerfile has no {instruction}"));
        serde_json::from_str(&line[instruction.len() + 1..])
            .unwrap_or_else(|e| panic!("{line}: exec form (no shell at runtime): {e}"))
    };
    assert_eq!(exec_form("ENTRYPOINT"), ["/usr/local/bin/molecule-mcp"]);
    let cmd = exec_form("CMD");
    assert_eq!(cmd, ["serve", "--http", "0.0.0.0:8080"]);
    assert_server_args_parse(&cmd, "deploy/Dockerfile CMD");

    let container = container();
    let args: Vec<String> = serde_json::from_value(container["args"].clone()).unwrap();
    assert_server_args_parse(&args, "deploy/k8s/deployment.yaml args");
    let port = |name: &str| {
        container["ports"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no {name} port"))["containerPort"]
            .as_u64()
            .unwrap()
    };
    assert!(
        args.last()
            .unwrap()
            .ends_with(&format!(":{}", port("http"))),
        "{args:?}"
    );
    // Beyond loopback the Host check needs the names callers use.
    assert!(!config_value("MOLECULE_MCP_ALLOWED_HOSTS").is_empty());
}

/// Metrics are scraped on the pod and never reachable through the Service.
#[test]
fn the_metrics_port_is_scraped_but_not_exposed() {
    let container = container();
    let metrics = container["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "metrics")
        .expect("a metrics port")["containerPort"]
        .as_u64()
        .unwrap();
    assert!(
        config_value("MOLECULE_MCP_METRICS").ends_with(&format!(":{metrics}")),
        "MOLECULE_MCP_METRICS listens on the metrics port"
    );
    let deployment = yaml("deploy/k8s/deployment.yaml");
    let annotations = &deployment["spec"]["template"]["metadata"]["annotations"];
    assert_eq!(annotations["prometheus.io/port"], metrics.to_string());
    let service = yaml("deploy/k8s/service.yaml");
    for port in service["spec"]["ports"].as_array().unwrap() {
        assert_ne!(port["targetPort"], "metrics", "{port}");
        assert_ne!(port["targetPort"].as_u64(), Some(metrics), "{port}");
        assert_ne!(port["port"].as_u64(), Some(metrics), "{port}");
    }
}

/// After SIGTERM the pod needs the preStop pause plus MOLECULE_MCP_SHUTDOWN_SECS; the
/// grace period must be longer, or the kubelet kills calls still in flight.
#[test]
fn the_grace_period_outlasts_the_shutdown() {
    let deployment = yaml("deploy/k8s/deployment.yaml");
    let spec = &deployment["spec"]["template"]["spec"];
    let grace = spec["terminationGracePeriodSeconds"].as_u64().unwrap();
    let shutdown: u64 = config_value("MOLECULE_MCP_SHUTDOWN_SECS").parse().unwrap();
    let pause = container()["lifecycle"]["preStop"]["sleep"]["seconds"]
        .as_u64()
        .unwrap_or(0);
    assert!(
        grace > pause + shutdown,
        "terminationGracePeriodSeconds {grace} <= preStop {pause} + shutdown {shutdown}"
    );
}

fn manifest() -> Value {
    json("deploy/mcpb/manifest.json")
}

/// The bundle lists exactly the tools the server serves, in table order, with the
/// descriptions an MCP host gets.
#[test]
fn the_bundle_lists_the_served_tools() {
    let engine = crate::common::engine(crate::common::config(&[]));
    let served: Vec<(String, String)> = engine
        .catalog()
        .entries
        .iter()
        .map(|e| {
            (
                e.tool.name.to_string(),
                e.tool
                    .description
                    .as_deref()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    let listed: Vec<(String, String)> = manifest()["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_string(),
                t["description"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        listed, served,
        "deploy/mcpb/manifest.json `tools` is stale: regenerate it from `molecule-mcp tools`"
    );
}

#[test]
fn the_bundle_runs_the_binary_with_the_users_credentials() {
    let m = manifest();
    assert_eq!(m["manifest_version"], "0.3");
    assert_eq!(m["name"], env!("CARGO_PKG_NAME"));
    assert_eq!(m["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(m["description"], env!("CARGO_PKG_DESCRIPTION"));
    let server = &m["server"];
    assert_eq!(server["type"], "binary");
    let entry = server["entry_point"].as_str().unwrap();
    assert_eq!(
        server["mcp_config"]["command"],
        format!("${{__dirname}}/{entry}"),
        "the command is the entry point inside the bundle"
    );
    assert!(entry.ends_with("/molecule-mcp"), "{entry}");
    let config = &m["user_config"];
    let env = &server["mcp_config"]["env"];
    for (var, field, sensitive) in [
        ("MOLECULE_ORG_API_KEY", "org_api_key", true),
        ("MOLECULE_ORG_ID", "org_id", false),
        ("MOLECULE_ORG_SLUG", "org_slug", false),
        ("MOLECULE_API_URL", "tenant_url", false),
    ] {
        assert_eq!(env[var], format!("${{user_config.{field}}}"), "{var}");
        assert_eq!(config[field]["type"], "string", "{field}");
        assert_eq!(
            config[field]["sensitive"].as_bool().unwrap_or(false),
            sensitive,
            "{field}"
        );
    }
    assert_eq!(config["org_api_key"]["required"], true);
    let args: Vec<String> = serde_json::from_value(server["mcp_config"]["args"].clone()).unwrap();
    assert_server_args_parse(&args, "deploy/mcpb/manifest.json args");
}
