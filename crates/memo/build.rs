//! Tells `memo` where the built SPA (`web/dist`) is, as a clean absolute path.
//!
//! rust-embed canonicalizes its folder when `memo` is compiled and, in debug
//! builds, serves only files whose canonical path starts with it. A folder
//! written as `../../web/dist` that does not exist yet (the SPA is built
//! after the server, or not at all) stays un-canonicalized, `..` and all, and
//! no file would ever match it. A path without `..` matches either way.
//!
//! Once `web/dist` exists, a change in it rebuilds `memo`, so a release build
//! always embeds the SPA it was built beside.

use std::path::{Component, Path, PathBuf};

fn main() {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
    let manifest_dir = manifest_dir.unwrap_or_default();
    let dist = normalize(&manifest_dir.join("../../web/dist"));
    println!("cargo::rustc-env=MEMO_WEB_DIST={}", dist.display());
    println!("cargo::rerun-if-changed=build.rs");
    if dist.is_dir() {
        println!("cargo::rerun-if-changed={}", dist.display());
    }
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
