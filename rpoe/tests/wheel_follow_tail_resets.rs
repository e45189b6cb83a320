//! The `FollowTail` wheel's resets on real files, with real short poll
//! intervals: truncation (also regrown past the old offset between polls
//! or before the first) and rotation (by rename, or replaced at once) —
//! a reset, then the new content read from its start. Appended lines,
//! seeking, errors and dropping the wheel are in `wheel_follow_tail.rs`.
//!
//! Each scenario is a script of file operations run by the session
//! itself, waiting for the events each operation must cause; a watchdog
//! thread bounds every run.

use std::fs::OpenOptions;

mod tail_support;
use tail_support::*;

#[test]
fn truncation_resets_and_rereads_from_the_start() {
    let tmp = TempPath::new("truncate");
    let p = tmp.path().to_path_buf();
    std::fs::write(&p, "old line\n").unwrap();
    let (p1, p2, p3) = (p.clone(), p.clone(), p.clone());
    let got = scenario(
        |b| b,
        &p,
        vec![
            act(
                move || append(&p1, b"new1\nnew2\n"),
                &["line new1", "line new2"],
            ),
            act(
                move || {
                    let f = OpenOptions::new().write(true).open(&p2).unwrap();
                    f.set_len(0).unwrap();
                    drop(f);
                    append(&p2, b"after\n");
                },
                &["reset", "line after"],
            ),
            act(move || append(&p3, b"more\n"), &["line more"]),
            Step::Wait(POLL * 5),
        ],
    );
    assert_eq!(
        got,
        lines(&["line new1", "line new2", "reset", "line after", "line more"])
    );
}

/// Issue 13, finding 13 (second half): a truncation followed by writes
/// that take the file past the old offset before the next poll used to
/// look like an append: the start of the new content was lost (reading
/// resumed in its middle). The truncation and rewrite here happen inside
/// the handler of the last line read, so always between two polls.
#[test]
fn truncation_then_regrowth_past_the_offset_between_polls_is_a_reset() {
    let tmp = TempPath::new("regrow");
    let p = tmp.path().to_path_buf();
    std::fs::write(&p, "old line\n").unwrap();
    let (p1, p2, p3) = (p.clone(), p.clone(), p.clone());
    let got = scenario(
        |b| b,
        &p,
        vec![
            act(
                move || append(&p1, b"new1\nnew2\n"),
                &["line new1", "line new2"],
            ),
            // Offset 19; the new content is longer than that.
            act(
                move || {
                    let f = OpenOptions::new().write(true).open(&p2).unwrap();
                    f.set_len(0).unwrap();
                    drop(f);
                    append(&p2, b"first after the truncation\nsecond\n");
                },
                &["reset", "line first after the truncation", "line second"],
            ),
            act(move || append(&p3, b"more\n"), &["line more"]),
            Step::Wait(POLL * 5),
        ],
    );
    assert_eq!(
        got,
        lines(&[
            "line new1",
            "line new2",
            "reset",
            "line first after the truncation",
            "line second",
            "line more"
        ])
    );
}

/// The same rewrite before the first poll: the bytes before the starting
/// offset are remembered when the wheel starts.
#[test]
fn truncation_then_regrowth_before_the_first_poll_is_a_reset() {
    let tmp = TempPath::new("regrow-start");
    let p = tmp.path().to_path_buf();
    std::fs::write(&p, "old\n").unwrap();
    let p1 = p.clone();
    let got = scenario(
        |b| b,
        &p,
        vec![
            // Runs in `_start`, right after the wheel started at offset 4.
            act(
                move || std::fs::write(&p1, "rewritten\n").unwrap(),
                &["reset", "line rewritten"],
            ),
            Step::Wait(POLL * 5),
        ],
    );
    assert_eq!(got, lines(&["reset", "line rewritten"]));
}

#[test]
fn rotation_by_rename_finishes_the_old_file_then_resets_to_the_new_one() {
    let tmp = TempPath::new("rotate");
    let p = tmp.path().to_path_buf();
    let rotated = tmp.rotated();
    std::fs::write(&p, "").unwrap();
    let (p1, p2, p3) = (p.clone(), p.clone(), p.clone());
    let got = scenario(
        |b| b,
        &p,
        vec![
            act(move || append(&p1, b"first\n"), &["line first"]),
            act(
                move || {
                    // The last words of the old file, then logrotate.
                    append(&p2, b"last of old\n");
                    std::fs::rename(&p2, &rotated).unwrap();
                },
                &["line last of old"],
            ),
            // The name leads nowhere for a while: the old file is kept.
            Step::Wait(POLL * 5),
            act(
                move || append(&p3, b"fresh 1\nfresh 2\n"),
                &["reset", "line fresh 1", "line fresh 2"],
            ),
            Step::Wait(POLL * 5),
        ],
    );
    assert_eq!(
        got,
        lines(&[
            "line first",
            "line last of old",
            "reset",
            "line fresh 1",
            "line fresh 2"
        ])
    );
}

#[test]
fn rotation_replaced_at_once_is_seen_as_a_reset() {
    let tmp = TempPath::new("replace");
    let p = tmp.path().to_path_buf();
    let rotated = tmp.rotated();
    std::fs::write(&p, "x\n").unwrap();
    let p1 = p.clone();
    let got = scenario(
        |b| b,
        &p,
        vec![
            act(
                move || {
                    std::fs::rename(&p1, &rotated).unwrap();
                    // Longer than what was read, so only the inode tells.
                    std::fs::write(&p1, "replacement line one\n").unwrap();
                },
                &["reset", "line replacement line one"],
            ),
            Step::Wait(POLL * 5),
        ],
    );
    assert_eq!(got, lines(&["reset", "line replacement line one"]));
}
