//! Reading a process's memory and CPU use from `/proc` (Linux only).

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Resident set size of `pid` in bytes (`VmRSS` of `/proc/PID/status`).
/// Panics if the process is gone.
pub fn rss_bytes(pid: u32) -> u64 {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {path} (process gone?): {e}"));
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .unwrap_or_else(|| panic!("no VmRSS in {path} (zombie?)"));
    let kb: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("bad VmRSS line {line:?}: {e}"));
    kb * 1024
}

/// User + system CPU time of `pid` in clock ticks (fields 14 and 15 of
/// `/proc/PID/stat`). Panics if the process is gone.
pub fn cpu_ticks(pid: u32) -> u64 {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {path} (process gone?): {e}"));
    // The command name (field 2) is in parentheses and may contain spaces.
    let after = &stat[stat.rfind(')').expect("')' in stat") + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // `after` starts at field 3 (state), so utime (14) is index 11, stime (15) index 12.
    let utime: u64 = fields[11].parse().expect("utime");
    let stime: u64 = fields[12].parse().expect("stime");
    utime + stime
}

/// Clock ticks per second (`getconf CLK_TCK`, 100 if that fails).
pub fn clock_ticks_per_sec() -> u64 {
    static TCK: OnceLock<u64> = OnceLock::new();
    *TCK.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .filter(|&t| t > 0)
            .unwrap_or(100)
    })
}

/// Fraction of one CPU that `pid` used over the next `window` (blocks for it).
pub fn cpu_fraction_over(pid: u32, window: Duration) -> f64 {
    let t0 = Instant::now();
    let c0 = cpu_ticks(pid);
    std::thread::sleep(window); // a measurement window, not synchronisation
    let c1 = cpu_ticks(pid);
    let secs = t0.elapsed().as_secs_f64();
    (c1.saturating_sub(c0)) as f64 / clock_ticks_per_sec() as f64 / secs
}
