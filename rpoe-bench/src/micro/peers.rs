//! The dispatch figures beside rpoe's peers (issue 12): rpoe's time per
//! event over tokio's (unbounded mpsc on a current-thread runtime) and
//! over actix's (`ctx.notify`, `do_send`), each against the issue's
//! target — "`yield` and `post` per event ≤ 1.25× tokio's unbounded mpsc
//! and ≤ 1.0× actix, with a small `Copy` argument and with none".
//!
//! Ratios here are rpoe ÷ peer (time per event), so below the target is
//! better — the other way round from the main table's *speed*, because the
//! issue states these targets so. All figures come from one `cargo bench`
//! run, side by side.

use std::fmt::Write;
use std::path::Path;

use super::{figure, ns};

/// One workload: rpoe's benchmark and its two peers'.
struct PeerRow {
    what: &'static str,
    rpoe: &'static str,
    tokio: &'static str,
    actix: &'static str,
}

/// Most rpoe ÷ tokio time per event (issue 12).
const TOKIO_TARGET: f64 = 1.25;
/// Most rpoe ÷ actix time per event (issue 12).
const ACTIX_TARGET: f64 = 1.0;

const ROWS: [PeerRow; 4] = [
    PeerRow {
        what: "yield to itself, no argument",
        rpoe: "dispatch/rpoe_yield/64",
        tokio: "dispatch/tokio_self_send/64",
        actix: "dispatch/actix_notify/64",
    },
    PeerRow {
        what: "yield to itself, `u64` argument",
        rpoe: "dispatch/rpoe_yield_u64/64",
        tokio: "dispatch/tokio_self_send_u64/64",
        actix: "dispatch/actix_notify_u64/64",
    },
    PeerRow {
        what: "post between two sessions, no argument",
        rpoe: "dispatch/rpoe_post_pair/64",
        tokio: "dispatch/tokio_pair/64",
        actix: "dispatch/actix_pair/64",
    },
    PeerRow {
        what: "post between two sessions, `u64` argument",
        rpoe: "dispatch/rpoe_post_pair_u64/64",
        tokio: "dispatch/tokio_pair_u64/64",
        actix: "dispatch/actix_pair_u64/64",
    },
];

/// rpoe ÷ peer and whether it is within `target`, as table cells.
fn ratio_cells(rpoe: Option<f64>, peer: Option<f64>, target: f64) -> (String, &'static str) {
    match (rpoe, peer) {
        (Some(r), Some(p)) if p > 0.0 => {
            let q = r / p;
            (
                format!("{q:.2}×"),
                if q <= target { "met" } else { "**not met**" },
            )
        }
        _ => ("—".into(), "not run"),
    }
}

/// Append the peers' section to `o`.
pub fn section(o: &mut String, dir: &Path) {
    let _ = writeln!(
        o,
        "\n## Dispatch beside tokio and actix (issue 12)\n\n\
         64 events in flight, 100,000 per iteration, per event. tokio: one task sending \
         itself over an unbounded mpsc (`yield`), two tasks over two channels (`post`), \
         current-thread runtime. actix: `ctx.notify` to itself (`yield`), two actors \
         `do_send`ing (`post`). Ratios are rpoe's time over the peer's: the targets are \
         rpoe ≤ {TOKIO_TARGET}× tokio and ≤ {ACTIX_TARGET}× actix.\n\n\
         | workload | rpoe | tokio | actix | rpoe ÷ tokio | ≤ {TOKIO_TARGET}× | rpoe ÷ actix | ≤ {ACTIX_TARGET}× |\n\
         |---|---:|---:|---:|---:|---|---:|---|"
    );
    for r in &ROWS {
        let at = |id: &str| figure(dir, id).map(|f| f.ns_per_element);
        let (rp, tk, ax) = (at(r.rpoe), at(r.tokio), at(r.actix));
        let (vs_tokio, tokio_status) = ratio_cells(rp, tk, TOKIO_TARGET);
        let (vs_actix, actix_status) = ratio_cells(rp, ax, ACTIX_TARGET);
        let cell = |v: Option<f64>| v.map_or("—".into(), ns);
        let _ = writeln!(
            o,
            "| {} (`{}`) | {} | {} | {} | {vs_tokio} | {tokio_status} | {vs_actix} | {actix_status} |",
            r.what,
            r.rpoe,
            cell(rp),
            cell(tk),
            cell(ax),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_against_targets() {
        assert_eq!(
            ratio_cells(Some(20.0), Some(16.0), TOKIO_TARGET),
            ("1.25×".to_string(), "met")
        );
        assert_eq!(
            ratio_cells(Some(80.0), Some(16.0), TOKIO_TARGET),
            ("5.00×".to_string(), "**not met**")
        );
        assert_eq!(ratio_cells(None, Some(1.0), 1.0).1, "not run");
    }
}
