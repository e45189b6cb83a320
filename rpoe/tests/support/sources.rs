//! The crate's own source files, for the tests that read the code itself
//! (where platform calls live, which door wheels go through, how `Ctx`'s
//! methods are grouped). Included with
//! `#[path = "support/sources.rs"] mod sources;`, apart from
//! `support/mod.rs`, so that these tests do not compile the kernel
//! helpers they never call.

use std::path::{Path, PathBuf};

/// Push every `.rs` file under `dir`, recursively, onto `out`.
pub fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}
