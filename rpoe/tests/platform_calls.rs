//! All platform calls live in one private module, `src/os.rs` (issue 10):
//! no other file of the crate names `rustix`, `signal_hook`, `libc` or
//! `nix`, or uses `std::os::unix`'s file extension traits. Portable
//! `std::os` types (file descriptors, Unix sockets) may still be named
//! where the public API hands them out.

#[path = "support/sources.rs"]
mod sources;

use std::path::Path;

use sources::rust_files;

const PLATFORM: &[&str] = &[
    "rustix::",
    "signal_hook",
    "libc::",
    "nix::",
    "std::os::unix::fs",
    "std::os::unix::process",
];

/// Whether `word` starts an identifier path in `line` (so `nix::` is not
/// found in `unix::`).
fn names(line: &str, word: &str) -> bool {
    line.match_indices(word).any(|(i, _)| {
        !line[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

#[test]
fn platform_calls_live_only_in_the_os_module() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 30, "found only {files:?}");
    let os = src.join("os.rs");
    assert!(files.contains(&os), "src/os.rs is missing");
    let os_text = std::fs::read_to_string(&os).unwrap();
    assert!(
        os_text.contains("rustix::"),
        "the os module makes the calls"
    );
    let mut offences = Vec::new();
    for file in files.iter().filter(|f| **f != os) {
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for word in PLATFORM.iter().filter(|w| names(line, w)) {
                let rel = file.strip_prefix(&src).unwrap().display();
                offences.push(format!("{rel}:{}: {word}", n + 1));
            }
        }
    }
    assert!(
        offences.is_empty(),
        "platform calls outside src/os.rs: {offences:#?}"
    );
}

/// The module is private: its functions are not part of the public API.
#[test]
fn the_os_module_is_private() {
    let lib =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    assert!(
        lib.lines().any(|l| l.trim() == "mod os;"),
        "lib.rs declares `mod os;`"
    );
    assert!(
        lib.contains("compile_error!"),
        "other targets are refused clearly"
    );
}
