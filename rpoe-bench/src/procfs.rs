//! What `/proc` tells about a server process and the machine (Linux).

use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// CPU time (user + system) a process has used so far, from fields 14 and
/// 15 of `/proc/PID/stat` (all its threads).
pub fn cpu_time(pid: u32) -> Result<Duration, String> {
    stat_cpu_time(&format!("/proc/{pid}/stat"))
}

/// CPU time the calling thread has used so far (`/proc/thread-self/stat`).
pub fn thread_cpu_time() -> Result<Duration, String> {
    stat_cpu_time("/proc/thread-self/stat")
}

fn stat_cpu_time(path: &str) -> Result<Duration, String> {
    let stat = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let after = stat
        .rfind(')')
        .map(|i| &stat[i + 1..])
        .ok_or_else(|| format!("{path}: no ')' in {stat:?}"))?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // `after` starts at field 3, so utime (14) is index 11, stime (15) 12.
    let tick = |i: usize| -> Result<u64, String> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| format!("{path}: bad field {}", i + 3))
    };
    let ticks = tick(11)? + tick(12)?;
    Ok(Duration::from_secs_f64(
        ticks as f64 / clock_ticks_per_sec() as f64,
    ))
}

/// Clock ticks per second of `/proc` times (`getconf CLK_TCK`; 100 if
/// that fails, the value on every common Linux).
pub fn clock_ticks_per_sec() -> u64 {
    static TCK: OnceLock<u64> = OnceLock::new();
    *TCK.get_or_init(|| {
        command_output("getconf", &["CLK_TCK"])
            .and_then(|s| s.parse().ok())
            .filter(|&t| t > 0)
            .unwrap_or(100)
    })
}

/// Resident memory of a process in bytes (`VmRSS` of `/proc/PID/status`).
pub fn rss_bytes(pid: u32) -> Result<u64, String> {
    status_kb(pid, "VmRSS:").map(|kb| kb * 1024)
}

/// The CPUs a process may run on (`Cpus_allowed_list`), e.g. `0` or `0-1`.
pub fn cpus_allowed(pid: u32) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .map(|v| v.trim().to_string())
}

fn status_kb(pid: u32, key: &str) -> Result<u64, String> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .ok_or_else(|| format!("{path}: no {key} (process gone or a zombie?)"))?;
    line.trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .map_err(|e| format!("{path}: bad {key} line {line:?}: {e}"))
}

/// Busy and total jiffies of all CPUs together (the `cpu` line of
/// `/proc/stat`; idle and iowait count as not busy).
fn cpu_jiffies() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

/// CPU time all CPUs together have been busy so far (`/proc/stat`).
pub fn machine_busy_time() -> Option<Duration> {
    let (busy, _) = cpu_jiffies()?;
    Some(Duration::from_secs_f64(
        busy as f64 / clock_ticks_per_sec() as f64,
    ))
}

/// Fraction of the whole machine (all CPUs) that was busy over the next
/// `window`; blocks for it. `None` when `/proc/stat` cannot be read.
pub fn machine_busy_over(window: Duration) -> Option<f64> {
    let (b0, t0) = cpu_jiffies()?;
    std::thread::sleep(window); // a measurement window, not synchronisation
    let (b1, t1) = cpu_jiffies()?;
    if t1 <= t0 {
        return Some(0.0);
    }
    Some((b1 - b0) as f64 / (t1 - t0) as f64)
}

/// One-line descriptions of the machine, for reports.
#[derive(Debug, Clone)]
pub struct Machine {
    /// CPU model name.
    pub cpu: String,
    /// CPUs this process may use.
    pub cores: usize,
    /// Total memory.
    pub memory: String,
    /// Kernel release.
    pub kernel: String,
    /// When the report was made (UTC).
    pub date: String,
    /// The Rust compiler, if found.
    pub rustc: String,
    /// The workspace's git commit, `-dirty` if it has changes.
    pub commit: String,
}

impl Machine {
    /// Describe this machine now.
    pub fn describe() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_string())
            .unwrap_or_else(|| "unknown CPU".into());
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let memory = status_like_kb("/proc/meminfo", "MemTotal:")
            .map(|kb| format!("{:.1} GiB", kb as f64 / (1024.0 * 1024.0)))
            .unwrap_or_else(|| "unknown".into());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| format!("Linux {}", s.trim()))
            .unwrap_or_else(|_| "unknown".into());
        let date = command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"])
            .unwrap_or_else(|| "unknown date".into());
        let rustc = command_output("rustc", &["-V"]).unwrap_or_else(|| "unknown".into());
        let commit = command_output("git", &["rev-parse", "--short", "HEAD"])
            .map(|c| {
                let dirty = command_output("git", &["status", "--porcelain"])
                    .is_some_and(|s| !s.is_empty());
                if dirty {
                    format!("{c}-dirty")
                } else {
                    c
                }
            })
            .unwrap_or_else(|| "unknown".into());
        Machine {
            cpu,
            cores,
            memory,
            kernel,
            date,
            rustc,
            commit,
        }
    }
}

fn status_like_kb(path: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    let v = text.lines().find_map(|l| l.strip_prefix(key))?;
    v.trim().trim_end_matches("kB").trim().parse().ok()
}

/// A command's trimmed stdout, if it ran and succeeded.
pub fn command_output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let me = std::process::id();
        assert!(rss_bytes(me).unwrap() > 0);
        assert!(cpu_time(me).is_ok());
        assert!(cpus_allowed(me).is_some());
        assert!(thread_cpu_time().is_ok());
        assert!(machine_busy_time().is_some());
    }

    #[test]
    fn a_missing_process_is_an_error_not_a_panic() {
        assert!(cpu_time(u32::MAX).is_err());
        assert!(rss_bytes(u32::MAX).is_err());
    }
}
