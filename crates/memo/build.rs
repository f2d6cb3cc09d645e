//! Tells `memo` where the built SPA (`web/dist`) is, as a clean absolute path.
//!
//! rust-embed canonicalizes its folder when `memo` is compiled and, in debug
//! builds, serves only files whose canonical path starts with it. A folder
//! written as `../../web/dist` that does not exist yet (the SPA is built
//! after the server, or not at all) stays un-canonicalized, `..` and all, and
//! no file would ever match it. A path without `..` matches either way.
//!
//! `web/dist` is always watched, so a release build always embeds the SPA it
//! was built beside: `npm run build` after `cargo build` rebuilds `memo`.
//! Cargo can only watch a path that exists (a missing one would rerun this
//! script, and so recompile `memo`, on every build), so an empty `web/dist`
//! is created when there is none; Vite writes into it later. The folder's
//! own mtime changes when Vite adds or removes a file, and cargo compares the
//! newest mtime of everything under it.

use std::path::{Component, Path, PathBuf};

fn main() {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
    let manifest_dir = manifest_dir.unwrap_or_default();
    let dist = normalize(&manifest_dir.join("../../web/dist"));
    println!("cargo::rustc-env=MEMO_WEB_DIST={}", dist.display());
    println!("cargo::rerun-if-changed=build.rs");
    if let Err(err) = std::fs::create_dir_all(&dist) {
        // A read-only checkout: watching the missing folder still rebuilds
        // when it appears, at the price of rerunning this script each time.
        println!(
            "cargo::warning=could not create {} ({err}); memo will be rebuilt on every build until it exists",
            dist.display()
        );
    }
    println!("cargo::rerun-if-changed={}", dist.display());
}

/// Resolves `.` and `..` by their names alone (the folder may not exist).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}
