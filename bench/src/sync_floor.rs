//! The floor under fillsync: what one append of a WAL record's size followed by
//! `fdatasync` costs on this disk, with no database in the way. fillsync's single-thread
//! target is measured against it.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

/// Median time of `count` appends of `bytes` bytes to one file, each followed by
/// fdatasync.
pub fn append_fdatasync_median(
    dir: &Path,
    bytes: usize,
    count: usize,
) -> std::io::Result<Duration> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join("sync-floor.tmp");
    let record = vec![0x5au8; bytes];
    let mut file = std::fs::File::create(&path)?;
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        let start = Instant::now();
        file.write_all(&record)?;
        file.sync_data()?;
        times.push(start.elapsed());
    }
    drop(file);
    std::fs::remove_file(&path)?;
    times.sort_unstable();
    Ok(times.get(times.len() / 2).copied().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_a_positive_median_and_cleans_up() {
        let dir = std::env::temp_dir().join(format!("siltdb-sync-floor-{}", std::process::id()));
        let median = append_fdatasync_median(&dir, 130, 5).expect("measure");
        assert!(median > Duration::ZERO);
        assert!(!dir.join("sync-floor.tmp").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
