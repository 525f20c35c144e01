//! What the load bench reads off a run: latency percentiles and CPU time from `/proc`.

use std::time::Duration;

/// The `q` quantile (0..=1) of sorted samples, nearest rank.
pub fn percentile(sorted: &[u32], q: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Clock ticks per second of `/proc`'s CPU times (`getconf CLK_TCK`, 100 on Linux).
fn ticks_per_second() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100)
}

/// (parent pid, user + system ticks of all its threads) of a process.
fn stat(pid: u32) -> Option<(u32, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: fields follow the last ')'.
    let rest = text.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state(0) ppid(1) ... utime(11) stime(12).
    let ppid = f.get(1)?.parse().ok()?;
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some((ppid, utime + stime))
}

/// CPU time used so far by `pid` and its direct children (nginx's workers).
pub fn tree_cpu(pid: u32) -> Duration {
    let mut ticks = stat(pid).map_or(0, |(_, t)| t);
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(child) = e.file_name().to_str().and_then(|n| n.parse().ok()) else {
                continue;
            };
            if let Some((_, t)) = stat(child).filter(|(ppid, _)| *ppid == pid) {
                ticks += t;
            }
        }
    }
    Duration::from_secs_f64(ticks as f64 / ticks_per_second() as f64)
}

/// CPU time used so far by the whole machine (all cores, not idle or waiting).
pub fn machine_cpu() -> Duration {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let busy: u64 = text
        .lines()
        .next()
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .enumerate()
                // user nice system idle iowait irq softirq steal: skip idle (3) and iowait (4).
                .filter(|(i, _)| *i != 3 && *i != 4 && *i < 8)
                .filter_map(|(_, v)| v.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    Duration::from_secs_f64(busy as f64 / ticks_per_second() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let s: Vec<u32> = (1..=1000).collect();
        assert_eq!(percentile(&s, 0.5), 500);
        assert_eq!(percentile(&s, 0.99), 990);
        assert_eq!(percentile(&s, 0.999), 999);
        assert_eq!(percentile(&s, 1.0), 1000);
        assert_eq!(percentile(&[], 0.5), 0);
    }

    #[test]
    fn reads_this_process_cpu() {
        let spent = tree_cpu(std::process::id());
        assert!(spent < Duration::from_secs(3600));
        assert!(machine_cpu() > Duration::ZERO);
    }
}
