//! The binary's code layout (docs/performance.md, "Code layout"): the functions a
//! session runs are placed together at link time, so that the kernel, which maps a
//! binary's code in 64 KiB blocks around each page first run, maps about 1.6 MiB of it
//! rather than nearly all of its 7 MiB.
//!
//! The list is `build/hot-functions.txt`, written by `python3 scripts/hot-functions.py`
//! from the functions callgrind saw run in a release build. It is handed to the linker
//! only where the linker is known to read it: rustc's own `rust-lld`, the default for
//! `x86_64-unknown-linux-gnu` since Rust 1.90, with no linker chosen by the user. Any
//! other build links as before. A name the build no longer has is skipped by the linker;
//! `scripts/hot-functions.py --check` says how much of the list still applies. The same
//! linker also packs the relative relocations (docs/performance.md, "Relocations").

use std::path::Path;

/// The list, relative to the crate root.
pub const HOT_FUNCTIONS: &str = "build/hot-functions.txt";

/// Prints the link arguments that order the binary's code and pack its relocations,
/// when the linker reads them.
pub fn link_args(root: &Path) {
    for variable in ["RUSTC_LINKER", "CARGO_ENCODED_RUSTFLAGS", "TARGET"] {
        println!("cargo:rerun-if-env-changed={variable}");
    }
    let env = |name: &str| std::env::var(name).unwrap_or_default();
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let version = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    if !uses_rust_lld(
        &env("TARGET"),
        &version,
        &env("RUSTC_LINKER"),
        &env("CARGO_ENCODED_RUSTFLAGS"),
    ) {
        return;
    }
    // Relative relocations as a bitmap (DT_RELR, glibc 2.36+; lld then requires
    // GLIBC_ABI_DT_RELR of the loader, so an older glibc refuses the binary by name):
    // 18,000 relocations of 24 bytes each are read at every start, then stay resident.
    println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    let list = root.join(HOT_FUNCTIONS);
    if !list.is_file() {
        return;
    }
    println!(
        "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
        list.display()
    );
    // The list names the symbols of one toolchain and lockfile; others are skipped.
    println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
}

/// Whether rustc links this build with its own `rust-lld`: the target whose default it
/// is (from Rust 1.90), and neither a linker nor linker flavour chosen by the user
/// (`RUSTC_LINKER` is set by Cargo when a linker is configured; `-Clinker=…`,
/// `-Clinker-features=…`, `-Clink-self-contained=…` and `-fuse-ld=…` in the flags).
fn uses_rust_lld(target: &str, rustc_version: &str, linker: &str, rustflags: &str) -> bool {
    let minor = rustc_version
        .strip_prefix("rustc 1.")
        .and_then(|rest| rest.split('.').next())
        .and_then(|minor| minor.parse::<u32>().ok());
    target == "x86_64-unknown-linux-gnu"
        && minor.is_some_and(|minor| minor >= 90)
        && linker.is_empty()
        && !["linker", "link-self-contained", "fuse-ld"]
            .iter()
            .any(|flag| rustflags.contains(flag))
}

#[cfg(test)]
mod tests {
    use super::uses_rust_lld;

    #[test]
    fn only_rustcs_own_lld_is_given_the_list() {
        let gnu = "x86_64-unknown-linux-gnu";
        assert!(uses_rust_lld(
            gnu,
            "rustc 1.95.0 (59807616e 2026-04-14)",
            "",
            ""
        ));
        assert!(uses_rust_lld(gnu, "rustc 1.90.0", "", "-Copt-level=3"));
        assert!(!uses_rust_lld(gnu, "rustc 1.89.0", "", ""));
        assert!(!uses_rust_lld(gnu, "", "", ""));
        assert!(!uses_rust_lld(
            "aarch64-unknown-linux-gnu",
            "rustc 1.95.0",
            "",
            ""
        ));
        assert!(!uses_rust_lld(
            "x86_64-unknown-linux-musl",
            "rustc 1.95.0",
            "",
            ""
        ));
        assert!(!uses_rust_lld(gnu, "rustc 1.95.0", "/usr/bin/clang", ""));
        for flags in [
            "-Clinker=clang",
            "-Clinker-features=-lld",
            "-Clink-self-contained=-linker",
            "-Clink-arg=-fuse-ld=mold",
        ] {
            assert!(!uses_rust_lld(gnu, "rustc 1.95.0", "", flags), "{flags}");
        }
    }
}
