//! Peak resident memory of this process, from /proc/self/status (`VmHWM`), and its
//! reset through /proc/self/clear_refs so each benchmark reports its own peak.

use std::fs;

/// Peak resident set size in KiB since start or the last [`reset_peak`]; `None` where
/// /proc is unavailable.
pub fn peak_kib() -> Option<u64> {
    status_field("VmHWM:")
}

/// Lowers the peak to the current RSS (Linux >= 4.0: writing "5" to clear_refs). Returns
/// false where that is not permitted; peaks then cover everything since start.
pub fn reset_peak() -> bool {
    fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn status_field(name: &str) -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    parse_field(&status, name)
}

fn parse_field(status: &str, name: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(name))?;
    line[name.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kib_fields_of_proc_status() {
        let status = "Name:\tx\nVmHWM:\t   12345 kB\nVmRSS:\t 678 kB\n";
        assert_eq!(parse_field(status, "VmHWM:"), Some(12345));
        assert_eq!(parse_field(status, "VmRSS:"), Some(678));
        assert_eq!(parse_field(status, "VmSwap:"), None);
    }

    #[test]
    fn peak_grows_with_touched_memory_and_resets() {
        let Some(before) = peak_kib() else { return }; // no /proc here
        let big = std::hint::black_box(vec![1u8; 64 << 20]);
        let during = peak_kib().unwrap_or(0);
        assert!(during >= before + 60 * 1024, "{before} -> {during}");
        drop(big);
        if reset_peak() {
            assert!(peak_kib().unwrap_or(u64::MAX) < during);
        }
    }
}
