//! Wheels and components use only the kernel's public API (issue 10, and
//! the design's invariant "Wheels and components use only the kernel's
//! public API"): no file under `src/wheel` or `src/component` may name a
//! crate-private kernel item or reach into `Ctx`'s fields.
//!
//! A textual check, so it can be fooled by an alias; it catches the way
//! the code actually drifted (by naming the items).

#[path = "support/sources.rs"]
mod sources;

use std::path::{Path, PathBuf};

use sources::rust_files;

/// Crate-private kernel items and `Ctx` fields.
const PRIVATE: &[&str] = &[
    "Core",
    "LocalOp",
    "LocalQueue",
    "KDelivery",
    "KPayload",
    "Target::Wheel",
    "WheelIo",
    "SessionKey",
    "ctx.core",
    "ctx.frame",
    "ctx.active",
    "ctx.payload",
];

/// Whether `word` occurs in `text` as a whole identifier (path).
fn names(text: &str, word: &str) -> bool {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        !before.is_some_and(ident) && !after.is_some_and(ident)
    })
}

/// The code of a file, without its comment lines (doc comments may
/// mention private items, to explain the door).
fn code_of(file: &Path) -> String {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn wheel_and_component_files(src: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    rust_files(&src.join("wheel"), &mut files);
    rust_files(&src.join("component"), &mut files);
    assert!(files.len() > 10, "found only {files:?}");
    files
}

#[test]
fn wheels_and_components_use_only_the_public_kernel_api() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut offences = Vec::new();
    for file in &wheel_and_component_files(&src) {
        let rel = file.strip_prefix(&src).unwrap().display().to_string();
        let code = code_of(file);
        let used: Vec<&str> = PRIVATE
            .iter()
            .copied()
            .filter(|w| names(&code, w))
            .collect();
        if !used.is_empty() {
            offences.push(format!("{rel}: {used:?}"));
        }
    }
    assert!(
        offences.is_empty(),
        "private kernel items used: {offences:#?}"
    );
}

/// The names `kernel/mod.rs` exports publicly: re-exported (`pub use`)
/// or defined there.
fn public_kernel_names(src: &Path) -> Vec<String> {
    let text = code_of(&src.join("kernel/mod.rs"));
    let mut out = Vec::new();
    for stmt in text.split(';') {
        let stmt = stmt.trim();
        let Some(rest) = stmt
            .rfind("pub use ")
            .map(|i| &stmt[i + "pub use ".len()..])
        else {
            continue;
        };
        // `a::b::{C, D as E}` or `a::B`: the names are the last segment
        // of each item, or what it is renamed to.
        let items = match rest.find('{') {
            Some(i) => rest[i + 1..].trim_end_matches('}').to_string(),
            None => rest.rsplit("::").next().unwrap().to_string(),
        };
        for item in items.split(',') {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let name = item.rsplit(" as ").next().unwrap();
            out.push(name.rsplit("::").next().unwrap().trim().to_string());
        }
    }
    // Items defined in `kernel/mod.rs` itself.
    for kw in [
        "pub struct ",
        "pub enum ",
        "pub trait ",
        "pub type ",
        "pub const ",
    ] {
        for (i, _) in text.match_indices(kw) {
            let rest = &text[i + kw.len()..];
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            out.push(rest[..end].to_string());
        }
    }
    out
}

/// Every kernel item a wheel or component imports (`crate::kernel::X`, or
/// `crate::kernel::{X, Y}`) is one the kernel exports publicly, so that
/// the same code would compile outside the crate with `rpoe::kernel::`.
#[test]
fn wheels_and_components_import_only_public_kernel_names() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let public = public_kernel_names(&src);
    for expected in ["Ctx", "EventSource", "SourceCtx", "SourceHandle", "IoMode"] {
        assert!(
            public.iter().any(|p| p == expected),
            "{expected} not in {public:?}"
        );
    }
    let mut offences = Vec::new();
    let mut seen = 0;
    for file in &wheel_and_component_files(&src) {
        let rel = file.strip_prefix(&src).unwrap().display().to_string();
        let code = code_of(file);
        for (i, _) in code.match_indices("crate::kernel::") {
            let rest = &code[i + "crate::kernel::".len()..];
            let names: Vec<String> = if let Some(list) = rest.strip_prefix('{') {
                let end = list.find('}').expect("unclosed import list");
                list[..end]
                    .split(',')
                    .map(|n| n.trim().to_string())
                    .filter(|n| !n.is_empty())
                    .collect()
            } else {
                let end = rest
                    .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                vec![rest[..end].to_string()]
            };
            for name in names {
                seen += 1;
                // Submodules of `kernel` are private; any path through one
                // (`crate::kernel::engine::...`) is refused here too.
                if !public.contains(&name) {
                    offences.push(format!("{rel}: crate::kernel::{name}"));
                }
            }
        }
    }
    assert!(seen > 10, "the scan found only {seen} kernel imports");
    assert!(
        offences.is_empty(),
        "not public kernel items: {offences:#?}"
    );
}
